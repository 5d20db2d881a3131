"""The copy task: remember a few symbols through a long blank delay, then reproduce them.

Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997; the form here is
Arjovsky et al., "Unitary Evolution Recurrent Neural Networks", ICML 2016,
https://arxiv.org/abs/1511.06464 (10 symbols from 8, a delay of T). Unlike selective copying
(:mod:`recur_core.tasks.selective_copy`) the symbols always come first, so only the delay
varies — a pure test of how long the state keeps information.

Vocabulary (``vocab_size = 3 + num_symbols``)::

    0                   padding
    1                   blank
    2                   delimiter (start of the output)
    3 .. num_symbols+2  data symbols

Layout of a sequence of length ``L`` with ``M = num_tokens`` (delay ``L - 2M``)::

    position   0 .. M-1 | M ...... L-M-2 | L-M-1     | L-M ...... L-1
    inputs     symbols  | blanks         | delimiter | blanks
    targets    -100 ...............................  | the M symbols

Arjovsky et al. also train the blank outputs before the delimiter; here only the copy carries
loss, so accuracy is the accuracy of the copy.
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
    id_dtype,
    single_threaded,
    uniform_lengths,
)

__all__ = ["CopyData", "generate_copy"]

BLANK_ID = 1
DELIMITER_ID = 2
SYMBOL_OFFSET = 3  # id of the first data symbol


def _check_args(num_tokens: int, num_symbols: int) -> None:
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be at least 1, got {num_tokens}")
    if num_symbols < 2:
        raise ValueError(f"num_symbols must be at least 2, got {num_symbols}")


@single_threaded
def generate_copy(
    num_samples: int,
    lengths: tuple[int, int],
    generator: torch.Generator,
    num_tokens: int = 10,
    num_symbols: int = 8,
) -> SequenceDataset:
    """Copy-task sequences in the layout of this module's docstring, all drawn at once.

    Args:
        num_samples: number of sequences N.
        lengths: inclusive ``(lo, hi)`` range of sequence lengths; needs ``lo >= 2 * num_tokens + 1``.
        generator: the seeded source of every random draw.
        num_tokens: M, symbols to copy.
        num_symbols: data symbols they are drawn from (uniformly, repeats allowed).

    Shapes:
        inputs [N, hi], targets [N, hi] (symbols at the last M positions, ``-100`` elsewhere), lengths [N].
    """
    _check_args(num_tokens, num_symbols)
    lo, hi = check_length_range("lengths", lengths, 2 * num_tokens + 1, f"{num_tokens} symbols, delimiter, outputs")
    seq_lengths = uniform_lengths(num_samples, (lo, hi), generator)
    tokens = SYMBOL_OFFSET + torch.randint(0, num_symbols, (num_samples, num_tokens), generator=generator)
    outputs = (seq_lengths - num_tokens)[:, None] + torch.arange(num_tokens)

    inputs = torch.full((num_samples, hi), BLANK_ID)
    inputs[:, :num_tokens] = tokens
    inputs.scatter_(1, outputs[:, :1] - 1, DELIMITER_ID)
    inputs.masked_fill_(torch.arange(hi) >= seq_lengths[:, None], PAD_ID)
    targets = torch.full((num_samples, hi), IGNORE_INDEX)
    targets.scatter_(1, outputs, tokens)
    dtype = id_dtype(SYMBOL_OFFSET + num_symbols)
    return SequenceDataset(inputs.to(dtype), targets.to(dtype), seq_lengths)


class CopyData(LengthRangeDataModule):
    """The copy task, trained with some delays and tested with longer ones.

    Paper: Arjovsky et al., ICML 2016, https://arxiv.org/abs/1511.06464 (10 symbols from 8).
    Layout and vocabulary in :mod:`recur_core.tasks.copy`; ``readout = "token"``,
    ``num_classes = vocab_size``.

    Args:
        num_tokens: M, symbols to copy per sequence.
        num_symbols: data symbols.
        train_lengths: inclusive ``(lo, hi)`` sequence lengths for training (delay ``L - 2M``);
            ``lo >= 2 * num_tokens + 1``.
        test_lengths: inclusive ``(lo, hi)`` sequence lengths for testing.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T], lengths [B].
    """

    def __init__(
        self,
        num_tokens: int = 10,
        num_symbols: int = 8,
        train_lengths: tuple[int, int] = (60, 120),
        test_lengths: tuple[int, int] = (120, 520),
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
            min_length=2 * num_tokens + 1,
            why=f"{num_tokens} symbols, the delimiter and {num_tokens} outputs",
        )
        self.save_hyperparameters()
        self.num_tokens = num_tokens
        self.num_symbols = num_symbols
        self.vocab_size = SYMBOL_OFFSET + num_symbols
        self.num_classes = self.vocab_size
        self.readout = "token"

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        return generate_copy(num_samples, self.split_lengths(split), generator, self.num_tokens, self.num_symbols)
