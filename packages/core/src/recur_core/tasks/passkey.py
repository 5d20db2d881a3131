"""Passkey retrieval: a key of k digits hidden at a chosen depth of a long filler context.

Mohtashami & Jaggi, "Landmark Attention", 2023, https://arxiv.org/abs/2305.16300 introduced the
test for language models; Chen et al., "Stuffed Mamba: State Collapse and State Capacity of
RNN-Based Long-Context Modeling", 2024, https://arxiv.org/abs/2410.07145 use it to measure a
recurrent state's capacity: the longest context at which the key is still retrieved grows with
the state size. Training on short contexts and testing on long ones (``test_lengths``), at each
depth, is that probe.

Vocabulary (``vocab_size = 13 + num_filler_symbols``)::

    0                          padding
    1                          key marker ("the pass key is")
    2                          query marker ("what is the pass key?")
    3 .. 12                    the digits 0 .. 9
    13 .. 12+num_filler_symbols filler symbols

Layout of a sequence of length ``L`` with ``k = key_digits`` and context ``C = L - k``::

    position   0 ... p-1 | p    p+1 .. p+k | p+k+1 ... C-1 | C      C+1 ... L-1
    inputs     filler    | KEY  d1 ... dk  | filler        | QUERY  d1 ... d(k-1)
    targets    -100 .............................................. | d1     d2 ... dk

The key block starts at ``p = round(depth * (C - k - 1))``, ``depth`` uniform in its range
(0: the start of the context, 1: just before the query). The answer is scored as a language
model would be: at the query marker the first digit, then each next digit given the previous
ones; the key is retrieved when all k are right. Filler:

- ``"repeat"``: the filler symbols in a fixed cycle, by position (the repeated-sentence filler
  of the language-model test); the key block interrupts it.
- ``"markov"``: an order-``markov_order`` Markov stream: each symbol is uniform over
  ``markov_branching`` successors of the previous ``markov_order`` symbols, from a table drawn
  once from ``filler_seed`` (the same in every split).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

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

__all__ = ["PasskeyData", "check_markov_args", "generate_passkey", "markov_successors"]

KEY_ID = 1
QUERY_ID = 2
DIGIT_OFFSET = 3  # id of the digit 0
FILLER_OFFSET = 13  # id of the first filler symbol
Filler = Literal["repeat", "markov"]
# Largest Markov context table (num_filler_symbols ** markov_order rows).
_MAX_CONTEXTS = 1 << 20


def check_markov_args(num_symbols: int, order: int, branching: int) -> None:
    """Validate a Markov filler: its order, successors per context and context-table size."""
    if order < 1:
        raise ValueError(f"markov_order must be at least 1, got {order}")
    if not 1 <= branching <= num_symbols:
        raise ValueError(f"markov_branching must lie in 1..num_filler_symbols = 1..{num_symbols}, got {branching}")
    contexts = num_symbols**order
    if contexts > _MAX_CONTEXTS:
        raise ValueError(
            f"num_filler_symbols ** markov_order = {num_symbols}**{order} = {contexts} contexts is too many; "
            f"keep it at most {_MAX_CONTEXTS} (fewer symbols or a lower order)"
        )


def markov_successors(num_symbols: int, order: int, branching: int, seed: int) -> Tensor:
    """[num_symbols**order, branching] distinct successors of every context of ``order`` symbols.

    Context ``c`` is the base-``num_symbols`` number of the last ``order`` symbols, oldest first.
    """
    check_markov_args(num_symbols, order, branching)
    scores = torch.rand(num_symbols**order, num_symbols, generator=torch.Generator().manual_seed(seed))
    return scores.topk(branching, dim=1).indices


def _check_args(
    key_digits: int, depth: tuple[float, float], filler: str, num_filler_symbols: int
) -> tuple[float, float]:
    if key_digits < 1:
        raise ValueError(f"key_digits must be at least 1, got {key_digits}")
    if len(depth) != 2 or not 0.0 <= depth[0] <= depth[1] <= 1.0:
        raise ValueError(f"depth must be a range (lo, hi) with 0 <= lo <= hi <= 1, got {depth!r}; e.g. (0.0, 1.0)")
    if filler not in ("repeat", "markov"):
        raise ValueError(f"filler must be 'repeat' or 'markov', got {filler!r}")
    if num_filler_symbols < 1:
        raise ValueError(f"num_filler_symbols must be at least 1, got {num_filler_symbols}")
    return float(depth[0]), float(depth[1])


def _markov_stream(
    num_samples: int, length: int, num_symbols: int, order: int, successors: Tensor, generator: torch.Generator
) -> Tensor:
    """[N, length] Markov filler (symbol indices 0..num_symbols-1) on the table of :func:`markov_successors`.

    The walk runs on contexts, each step one lookup in a table (context, choice) -> next context;
    the symbol just drawn is the next context's last base-``num_symbols`` digit.
    """
    contexts, branching = successors.shape
    # Row r = context * branching; next_row[r + choice] is the row of the next context.
    following = (torch.arange(contexts)[:, None] * num_symbols + successors) % contexts
    next_row = (following * branching).reshape(-1)
    symbol_of_row = torch.arange(contexts * branching) // branching % num_symbols
    stream = torch.empty(length, num_samples, dtype=id_dtype(num_symbols))
    head = torch.randint(0, num_symbols, (min(order, length), num_samples), generator=generator)
    stream[: head.shape[0]] = head
    choices = torch.randint(0, branching, (length, num_samples), generator=generator, dtype=torch.int8)
    row = (head * num_symbols ** torch.arange(head.shape[0] - 1, -1, -1)[:, None]).sum(0) * branching
    # Sampling a Markov chain is sequential: each step needs the context just reached.
    for t in range(order, length):
        row = next_row[row + choices[t]]
        stream[t] = symbol_of_row[row]
    return stream.T


@single_threaded
def generate_passkey(
    num_samples: int,
    lengths: tuple[int, int],
    generator: torch.Generator,
    key_digits: int = 5,
    depth: tuple[float, float] = (0.0, 1.0),
    filler: Filler = "repeat",
    num_filler_symbols: int = 16,
    markov_order: int = 2,
    markov_branching: int = 2,
    filler_seed: int = 0,
) -> SequenceDataset:
    """Passkey sequences in the layout of this module's docstring, all drawn at once.

    Args:
        num_samples: number of sequences N.
        lengths: inclusive ``(lo, hi)`` range of sequence lengths (context plus the ``k``
            answer positions); needs ``lo >= 2 * key_digits + 1``.
        generator: the seeded source of every random draw.
        key_digits: k, digits of the key (each uniform in 0..9).
        depth: range of the key's relative position in the context, uniform within it.
        filler: ``"repeat"`` or ``"markov"`` (see the module docstring).
        num_filler_symbols: filler vocabulary size (and the period of ``"repeat"``).
        markov_order, markov_branching, filler_seed: the Markov filler's order, successors per
            context, and the seed of its successor table.

    Shapes:
        inputs [N, hi], targets [N, hi] (key digits from the query marker on, ``-100`` elsewhere), lengths [N].
    """
    depth = _check_args(key_digits, depth, filler, num_filler_symbols)
    k = key_digits
    lo, hi = check_length_range("lengths", lengths, 2 * k + 1, f"key marker, {k} digits, query, {k - 1} digits")
    seq_lengths = uniform_lengths(num_samples, (lo, hi), generator)
    context = seq_lengths - k
    depths = depth[0] + (depth[1] - depth[0]) * torch.rand(num_samples, generator=generator, dtype=torch.float64)
    start = torch.round(depths * (context - k - 1)).long()
    key = DIGIT_OFFSET + torch.randint(0, 10, (num_samples, k), generator=generator)

    dtype = id_dtype(FILLER_OFFSET + num_filler_symbols)
    if filler == "repeat":
        cycle = (torch.arange(hi) % num_filler_symbols).to(dtype)
        inputs = (cycle + FILLER_OFFSET).expand(num_samples, hi).clone()
    else:
        successors = markov_successors(num_filler_symbols, markov_order, markov_branching, filler_seed)
        stream = _markov_stream(num_samples, hi, num_filler_symbols, markov_order, successors, generator)
        inputs = stream.to(dtype) + FILLER_OFFSET
    key = key.to(dtype)
    inputs.scatter_(1, start[:, None], KEY_ID)
    inputs.scatter_(1, start[:, None] + 1 + torch.arange(k), key)
    answer = context[:, None] + torch.arange(k)
    inputs.scatter_(1, answer[:, :1], QUERY_ID)
    inputs.scatter_(1, answer[:, 1:], key[:, :-1])
    inputs.masked_fill_(torch.arange(hi) >= seq_lengths[:, None], PAD_ID)
    targets = torch.full((num_samples, hi), IGNORE_INDEX, dtype=dtype)
    targets.scatter_(1, answer, key)
    return SequenceDataset(inputs, targets, seq_lengths)


class PasskeyData(LengthRangeDataModule):
    """Passkey retrieval: train on short contexts, test on long ones, at any depth.

    Papers: Mohtashami & Jaggi, https://arxiv.org/abs/2305.16300; Chen et al., Stuffed Mamba,
    https://arxiv.org/abs/2410.07145 (5-digit keys, accuracy against context length and state
    size). Layout, filler and vocabulary in :mod:`recur_core.tasks.passkey`;
    ``readout = "token"``, ``num_classes = vocab_size``. To measure accuracy at one depth and
    context length, set ``depth=(d, d)`` and ``test_lengths=(L, L)``.

    Args:
        key_digits: k, digits of the key.
        depth: range of the key's relative position in the context, ``0 <= lo <= hi <= 1``.
        filler: ``"repeat"`` (a fixed cycle of filler symbols) or ``"markov"`` (a Markov stream).
        num_filler_symbols: filler vocabulary size.
        markov_order, markov_branching, filler_seed: the Markov filler (ignored by ``"repeat"``).
        train_lengths: inclusive ``(lo, hi)`` sequence lengths for training; ``lo >= 2 * key_digits + 1``.
        test_lengths: inclusive ``(lo, hi)`` sequence lengths for testing.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T], lengths [B].
    """

    def __init__(
        self,
        key_digits: int = 5,
        depth: tuple[float, float] = (0.0, 1.0),
        filler: Filler = "repeat",
        num_filler_symbols: int = 16,
        markov_order: int = 2,
        markov_branching: int = 2,
        filler_seed: int = 0,
        train_lengths: tuple[int, int] = (64, 256),
        test_lengths: tuple[int, int] = (256, 1024),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        num_train: int = 20_000,
        num_val: int = 1_000,
        num_test: int = 1_000,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        depth = _check_args(key_digits, depth, filler, num_filler_symbols)
        if filler == "markov":
            check_markov_args(num_filler_symbols, markov_order, markov_branching)
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
            min_length=2 * key_digits + 1,
            why=f"key marker, {key_digits} digits, query marker and {key_digits - 1} answer digits",
        )
        self.save_hyperparameters()
        self.depth = depth
        self.key_digits = key_digits
        self.filler = filler
        self.num_filler_symbols = num_filler_symbols
        self.markov = (markov_order, markov_branching, filler_seed)
        self.vocab_size = FILLER_OFFSET + num_filler_symbols
        self.num_classes = self.vocab_size
        self.readout = "token"

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        return generate_passkey(
            num_samples,
            self.split_lengths(split),
            generator,
            self.key_digits,
            self.depth,
            self.filler,
            self.num_filler_symbols,
            *self.markov,
        )
