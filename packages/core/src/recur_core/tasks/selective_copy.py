"""Selective copying: recall the few tokens scattered in a long noisy sequence, in order.

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
https://arxiv.org/abs/2312.00752, §3.1 and §4.1 (Figure 2). The classic copy task
(:mod:`recur_core.tasks.copy`) keeps the tokens at fixed positions, which a time-invariant
filter solves; here they sit at random positions, so the model must select by content what to
keep. The paper: 16 tokens from a 16-symbol vocabulary (data symbols, blank, marker) in 4096
positions.

Vocabulary (``vocab_size = 3 + num_symbols``)::

    0                   padding
    1                   blank (the noise between the tokens)
    2                   marker (the output section)
    3 .. num_symbols+2  data symbols

Layout of a sequence of length ``L`` with ``M = num_tokens``::

    position   0 ........................... L-M-1 | L-M .......... L-1
    inputs     blanks, with the M tokens at M random | M markers
               distinct positions
    targets    -100 everywhere                       | the M tokens, in order of position

The tokens are uniform over the data symbols (repeats allowed) and their positions a uniformly
random M-subset of the first ``L - M`` positions.
"""

from __future__ import annotations

from typing import Literal

import torch

from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    LengthRangeDataModule,
    SequenceDataset,
    Split,
    check_length_range,
    draw_distinct,
    id_dtype,
    single_threaded,
    uniform_lengths,
)

__all__ = ["SelectiveCopyData", "generate_selective_copy"]

BLANK_ID = 1
MARKER_ID = 2
SYMBOL_OFFSET = 3  # id of the first data symbol


def _check_args(num_tokens: int, num_symbols: int) -> None:
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be at least 1, got {num_tokens}")
    if num_symbols < 2:
        raise ValueError(f"num_symbols must be at least 2, got {num_symbols}")


@single_threaded
def generate_selective_copy(
    num_samples: int,
    lengths: tuple[int, int],
    generator: torch.Generator,
    num_tokens: int = 16,
    num_symbols: int = 14,
) -> SequenceDataset:
    """Selective-copy sequences in the layout of this module's docstring, all drawn at once.

    Args:
        num_samples: number of sequences N.
        lengths: inclusive ``(lo, hi)`` range of sequence lengths (context plus the M output
            positions); needs ``lo >= 2 * num_tokens``.
        generator: the seeded source of every random draw.
        num_tokens: M, tokens to copy.
        num_symbols: data symbols the tokens are drawn from.

    Shapes:
        inputs [N, hi], targets [N, hi] (tokens at the last M positions, ``-100`` elsewhere), lengths [N].
    """
    _check_args(num_tokens, num_symbols)
    lo, hi = check_length_range("lengths", lengths, 2 * num_tokens, f"{num_tokens} tokens among as many positions")
    seq_lengths = uniform_lengths(num_samples, (lo, hi), generator)
    context = seq_lengths - num_tokens
    tokens = SYMBOL_OFFSET + torch.randint(0, num_symbols, (num_samples, num_tokens), generator=generator)
    where = draw_distinct(context, num_tokens, generator).sort(dim=1).values
    outputs = context[:, None] + torch.arange(num_tokens)

    inputs = torch.full((num_samples, hi), BLANK_ID)
    inputs.scatter_(1, where, tokens)
    inputs.scatter_(1, outputs, MARKER_ID)
    inputs.masked_fill_(torch.arange(hi) >= seq_lengths[:, None], PAD_ID)
    targets = torch.full((num_samples, hi), IGNORE_INDEX)
    targets.scatter_(1, outputs, tokens)
    dtype = id_dtype(SYMBOL_OFFSET + num_symbols)
    return SequenceDataset(inputs.to(dtype), targets.to(dtype), seq_lengths)


class SelectiveCopyData(LengthRangeDataModule):
    """Selective copying, trained at some lengths and tested at others.

    Paper: Gu & Dao, Mamba, https://arxiv.org/abs/2312.00752 §4.1 (16 tokens, 16-symbol
    vocabulary, length 4096). Layout and vocabulary in :mod:`recur_core.tasks.selective_copy`;
    ``readout = "token"``, ``num_classes = vocab_size``.

    Args:
        num_tokens: M, tokens to copy per sequence.
        num_symbols: data symbols (the default 14, with blank and marker, is the paper's 16).
        train_lengths: inclusive ``(lo, hi)`` sequence lengths for training; ``lo >= 2 * num_tokens``.
        test_lengths: inclusive ``(lo, hi)`` sequence lengths for testing.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T], lengths [B].
    """

    def __init__(
        self,
        num_tokens: int = 16,
        num_symbols: int = 14,
        train_lengths: tuple[int, int] = (128, 256),
        test_lengths: tuple[int, int] = (256, 1024),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        num_train: int = 20_000,
        num_val: int = 1_000,
        num_test: int = 1_000,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        _check_args(num_tokens, num_symbols)
        super().__init__(
            train_lengths=train_lengths,
            test_lengths=test_lengths,
            val_on=val_on,
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            min_length=2 * num_tokens,
            why=f"{num_tokens} tokens among as many positions, then {num_tokens} outputs",
        )
        self.save_hyperparameters()
        self.num_tokens = num_tokens
        self.num_symbols = num_symbols
        self.vocab_size = SYMBOL_OFFSET + num_symbols
        self.num_classes = self.vocab_size
        self.readout = "token"

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        lengths = self.split_lengths(split)
        return generate_selective_copy(num_samples, lengths, generator, self.num_tokens, self.num_symbols)
