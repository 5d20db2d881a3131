"""Shared pieces of the diagnostic tasks: a dataset of token sequences, padding, a DataModule base.

Every task generates a whole split at once with torch ops on a seeded ``torch.Generator`` and
stores it as right-padded tensors in a :class:`SequenceDataset`. The DataLoader's
:func:`collate` pads each batch only to its own longest sequence and returns the batch format
the engine's ``SequenceTask`` consumes:

.. code-block:: python

    batch = {
        "inputs": LongTensor [B, T],         # token ids, right-padded with pad_id
        "targets": LongTensor [B] or [B, T], # one label per sequence, or per token (-100 = no loss)
        "lengths": LongTensor [B],           # true lengths, 1..T
    }

Two variants add to it. A :class:`NextSymbolDataset` (RegBench, Reber) adds ``"legal"``
[B, T, V] bool, the symbols that may legally follow each position (``SequenceTask`` ignores the
key; :mod:`recur_core.tasks.metrics` scores with it). A :class:`FeatureSequenceDataset` (adding)
holds real-valued inputs ``[B, T, F]`` and one float target per sequence ``[B]``, for the
engine's ``SequenceRegressionTask``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from functools import partial, wraps
from typing import Literal, ParamSpec, TypeVar

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from recur_core.engine.datamodule import Split, SplitDataModule

__all__ = [
    "IGNORE_INDEX",
    "PAD_ID",
    "FeatureSequenceDataset",
    "LengthRangeDataModule",
    "NextSymbolDataset",
    "SequenceDataset",
    "Split",
    "TaskDataModule",
    "check_length_range",
    "collate",
    "draw_distinct",
    "id_dtype",
    "single_threaded",
    "split_generator",
    "uniform_lengths",
]

# Token id 0 is padding in every task's vocabulary; tasks number their own symbols from 1.
PAD_ID = 0
# Per-token targets at positions that carry no loss (cross_entropy's default ignore_index).
IGNORE_INDEX = -100

_SPLIT_INDEX = {"train": 0, "val": 1, "test": 2, "shuffle": 3}
# Row block of the dense distinct-draw path, so that [rows, width] random scores stay ~16 MB.
_MAX_SCORES = 1 << 22


_P = ParamSpec("_P")
_R = TypeVar("_R")


def single_threaded(generate: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a function with one intra-op thread, restoring the thread count after.

    Data generators are many short tensor ops; extra threads cost more in synchronisation than they
    save, and many times more on a machine whose cores are busy with other work. Metrics that solve
    batched linear systems use it too (torch 2.14.1's MKL batched LU hangs after ``set_num_threads``).
    """

    @wraps(generate)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return generate(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


def split_generator(seed: int, split: str) -> torch.Generator:
    """A ``torch.Generator`` for one split, seeded from ``(seed, split)``.

    ``split`` is ``"train"``, ``"val"``, ``"test"``, or ``"shuffle"`` (the training order). The
    streams are independent, so changing the size of one split never changes another, and seed
    ``s``'s validation set is not seed ``s + 1``'s training set.
    """
    if split not in _SPLIT_INDEX:
        raise ValueError(f"split must be one of {', '.join(_SPLIT_INDEX)}, got {split!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    state = np.random.SeedSequence([seed, _SPLIT_INDEX[split]]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def check_length_range(name: str, lengths: tuple[int, int], minimum: int = 1, why: str = "") -> tuple[int, int]:
    """Validate an inclusive ``(lo, hi)`` length range; returns it as a tuple of ints.

    ``minimum`` is the smallest allowed lower bound and ``why`` (``"the shortest ... string"``)
    says where it comes from in the error message.
    """
    if len(lengths) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi) of inclusive lengths, got {lengths!r}")
    lo, hi = (int(v) for v in lengths)
    if lo > hi:
        raise ValueError(f"{name} must be in order (lo <= hi), got {name}={lengths!r}; write ({hi}, {lo})")
    if lo < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(
            f"{name} lower bound must be at least {minimum}{reason}, got {name}={lengths!r}; "
            f"use e.g. ({minimum}, {max(hi, minimum)})"
        )
    return lo, hi


def uniform_lengths(num_samples: int, lengths: tuple[int, int], generator: torch.Generator) -> Tensor:
    """``num_samples`` lengths drawn uniformly from the inclusive range ``lengths``."""
    lo, hi = lengths
    return torch.randint(lo, hi + 1, (num_samples,), generator=generator)


def id_dtype(vocab_size: int) -> torch.dtype:
    """The smallest signed integer dtype that holds ids ``0..vocab_size-1`` and ``IGNORE_INDEX``."""
    if vocab_size <= torch.iinfo(torch.int8).max:
        return torch.int8
    if vocab_size <= torch.iinfo(torch.int16).max:
        return torch.int16
    return torch.int64


def draw_distinct(high: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """[N, count] integers, row ``i`` distinct draws from ``0..high[i]-1`` in uniformly random order.

    Rejection while repeats are rare (``count**2 <= 2 * min(high)``: draw with replacement, redraw
    the rows with a repeat); otherwise the ``count`` largest of ``max(high)`` uniform scores per
    row, with the scores past ``high[i]`` pushed below every valid one. Needs ``high >= count``.
    """
    num_rows = high.shape[0]
    if num_rows == 0:
        return torch.empty(0, count, dtype=torch.long)
    if int(high.min()) < count:
        raise ValueError(f"cannot draw {count} distinct values below {int(high.min())}")
    high = high.long()
    if count * count <= 2 * int(high.min()):
        draws = (torch.rand(num_rows, count, generator=generator, dtype=torch.float64) * high[:, None]).long()
        rows = torch.arange(num_rows)
        while rows.numel():
            ordered = draws[rows].sort(dim=1).values
            rows = rows[(ordered[:, 1:] == ordered[:, :-1]).any(dim=1)]
            redrawn = torch.rand(rows.numel(), count, generator=generator, dtype=torch.float64)
            draws[rows] = (redrawn * high[rows, None]).long()
        return draws
    width = int(high.max())
    rows_per_block = max(1, _MAX_SCORES // width)
    blocks = []
    for start in range(0, num_rows, rows_per_block):
        block_high = high[start : start + rows_per_block]
        scores = torch.rand(block_high.shape[0], width, generator=generator)
        scores.masked_fill_(torch.arange(width) >= block_high[:, None], -1.0)
        blocks.append(scores.topk(count, dim=1).indices)
    return torch.cat(blocks)


class SequenceDataset(Dataset):
    """Map-style dataset over pre-generated, right-padded token sequences.

    Args:
        inputs: token ids [N, T], right-padded (padding positions are never read). Any integer
            dtype; a compact one (int8, int16) saves memory, and items come out as int64.
        targets: one label per sequence [N], or per-token labels [N, T].
        lengths: true lengths [N], each in 1..T.

    Item ``i`` is ``{"inputs": [L], "targets": [] or [L]}`` with ``L = lengths[i]``: the sequence
    without its padding, which :func:`collate` pads again to the longest one in the batch.
    """

    def __init__(self, inputs: Tensor, targets: Tensor, lengths: Tensor) -> None:
        if inputs.dim() != 2 or inputs.is_floating_point():
            raise ValueError(f"inputs must be integer token ids [N, T], got {inputs.dtype} {tuple(inputs.shape)}")
        num, seq_len = inputs.shape
        if lengths.shape != (num,):
            raise ValueError(f"lengths must have shape [N] = [{num}], got {tuple(lengths.shape)}")
        if targets.is_floating_point():
            raise ValueError(f"targets must be integer class ids, got {targets.dtype}")
        if targets.shape not in ((num,), (num, seq_len)):
            raise ValueError(f"targets must have shape [N] or [N, T] = [{num}, {seq_len}], got {tuple(targets.shape)}")
        if num and (int(lengths.min()) < 1 or int(lengths.max()) > seq_len):
            raise ValueError(f"lengths must lie in 1..T = 1..{seq_len}")
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths.long()

    @property
    def per_token(self) -> bool:
        """Whether the targets are per token ([N, T]) rather than per sequence ([N])."""
        return self.targets.dim() == 2

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        length = int(self.lengths[index])
        targets = self.targets[index, :length] if self.per_token else self.targets[index]
        return {"inputs": self.inputs[index, :length].long(), "targets": targets.long()}


class NextSymbolDataset(SequenceDataset):
    """A :class:`SequenceDataset` of next-symbol prediction that also knows every legal next symbol.

    Storing a [N, T, V] mask would cost ``V`` bytes per token; instead each sequence keeps the
    automaton state it is in after each position, and each item looks its mask up in a small
    per-sequence table of legal symbols per state.

    Args:
        inputs, targets, lengths: as for :class:`SequenceDataset` (targets per token).
        states: [N, T] automaton state after reading each input position (padding: any valid state).
        legal_table: [N, S, V] bool, ``legal_table[i, s, v]`` = symbol id ``v`` may follow state ``s``
            of sequence ``i``'s automaton. A shared grammar can pass ``table.expand(N, S, V)``.

    Item ``i`` adds ``"legal": [L, V]`` bool; a position with no legal symbol is not scored.
    """

    def __init__(self, inputs: Tensor, targets: Tensor, lengths: Tensor, states: Tensor, legal_table: Tensor) -> None:
        super().__init__(inputs, targets, lengths)
        num = inputs.shape[0]
        if states.shape != inputs.shape:
            raise ValueError(f"states must have the shape of inputs {tuple(inputs.shape)}, got {tuple(states.shape)}")
        if legal_table.dim() != 3 or legal_table.shape[0] != num or legal_table.dtype != torch.bool:
            raise ValueError(
                f"legal_table must be bool [N, S, V] with N = {num}, got {legal_table.dtype} {tuple(legal_table.shape)}"
            )
        self.states = states
        self.legal_table = legal_table

    def legal(self, index: int) -> Tensor:
        """[L, V] bool: the legal next symbols at each position of sequence ``index``."""
        length = int(self.lengths[index])
        return self.legal_table[index][self.states[index, :length].long()]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {**super().__getitem__(index), "legal": self.legal(index)}


class FeatureSequenceDataset(Dataset):
    """Map-style dataset over real-valued feature sequences with one float target each (regression).

    Args:
        inputs: features [N, T, F], right-padded (padding positions are never read).
        targets: one regression target per sequence [N].
        lengths: true lengths [N], each in 1..T.

    Item ``i`` is ``{"inputs": [L, F] float32, "targets": [] float32}``; :func:`collate` pads the
    features with zeros.
    """

    def __init__(self, inputs: Tensor, targets: Tensor, lengths: Tensor) -> None:
        if inputs.dim() != 3 or not inputs.is_floating_point():
            raise ValueError(f"inputs must be float features [N, T, F], got {inputs.dtype} {tuple(inputs.shape)}")
        num, seq_len, _ = inputs.shape
        if lengths.shape != (num,):
            raise ValueError(f"lengths must have shape [N] = [{num}], got {tuple(lengths.shape)}")
        if targets.shape != (num,) or not targets.is_floating_point():
            raise ValueError(f"targets must be float [N] = [{num}], got {targets.dtype} {tuple(targets.shape)}")
        if num and (int(lengths.min()) < 1 or int(lengths.max()) > seq_len):
            raise ValueError(f"lengths must lie in 1..T = 1..{seq_len}")
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths.long()

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        length = int(self.lengths[index])
        return {"inputs": self.inputs[index, :length].float(), "targets": self.targets[index].float()}


def collate(samples: list[dict[str, Tensor]], pad_id: int = PAD_ID) -> dict[str, Tensor]:
    """Right-pad a list of dataset items into one batch.

    Inputs are padded with ``pad_id`` and per-token targets with ``IGNORE_INDEX``, both to the
    longest sequence in the batch. Any other per-position key (``"legal"`` [L_i, V]) is padded
    with zeros (``False``).

    Shapes:
        item inputs [L_i] (or [L_i, F]), targets [] or [L_i] -> inputs [B, T] (or [B, T, F]),
        targets [B] or [B, T], lengths [B], with ``T = max_i L_i``.
    """
    inputs = [s["inputs"] for s in samples]
    targets = [s["targets"] for s in samples]
    if targets[0].dim() == 0:
        batch_targets = torch.stack(targets)
    else:
        batch_targets = pad_sequence(targets, batch_first=True, padding_value=IGNORE_INDEX)
    extras = {
        key: pad_sequence([s[key] for s in samples], batch_first=True)
        for key in samples[0]
        if key not in ("inputs", "targets")
    }
    return {
        "inputs": pad_sequence(inputs, batch_first=True, padding_value=pad_id),
        "targets": batch_targets,
        "lengths": torch.tensor([len(x) for x in inputs], dtype=torch.long),
        **extras,
    }


class TaskDataModule(SplitDataModule):
    """Base DataModule of a generated task: three seeded splits, padded batches.

    A subclass sets ``vocab_size``, ``num_classes`` and ``readout`` (``"last"``: one label per
    sequence; ``"token"``: a label per position) in its ``__init__`` and implements
    :meth:`generate`. Each split is generated once, on first use, from :func:`split_generator`;
    the training set is reshuffled every epoch (:class:`~recur_core.engine.EpochShuffle`).

    Args:
        num_train: training sequences.
        num_val: validation sequences.
        num_test: test sequences.
        batch_size, num_workers, seed: see :class:`~recur_core.engine.SplitDataModule`.
    """

    vocab_size: int
    num_classes: int
    readout: Literal["last", "token"]
    pad_id: int = PAD_ID
    ignore_index: int = IGNORE_INDEX

    def __init__(
        self, *, num_train: int, num_val: int, num_test: int, batch_size: int, num_workers: int = 0, seed: int = 0
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.num_samples = {"train": num_train, "val": num_val, "test": num_test}

    @abc.abstractmethod
    def generate(
        self, split: Split, num_samples: int, generator: torch.Generator
    ) -> SequenceDataset | FeatureSequenceDataset:
        """Generate ``num_samples`` sequences of ``split`` from ``generator``."""

    def make_dataset(self, split: Split) -> SequenceDataset | FeatureSequenceDataset:
        return self.generate(split, self.num_samples[split], split_generator(self.seed, split))

    def collate_fn(self) -> Callable[[list[dict[str, Tensor]]], dict[str, Tensor]]:
        return partial(collate, pad_id=self.pad_id)


class LengthRangeDataModule(TaskDataModule):
    """A :class:`TaskDataModule` with one length range for training and another for testing.

    Length generalization is then one flag: ``test_lengths`` (and ``val_on``, which range
    validation uses). What a length counts is each task's own (its docstring says).

    Args:
        train_lengths: inclusive ``(lo, hi)`` lengths of the training sequences.
        test_lengths: inclusive ``(lo, hi)`` lengths of the test sequences.
        val_on: ``"test_lengths"`` (so ``val/acc`` measures length generalization) or
            ``"train_lengths"`` (in-distribution validation).
        num_train, num_val, num_test, batch_size, num_workers, seed: see :class:`TaskDataModule`.
        min_length: the shortest valid sequence of the task; ``why`` says why, in the error.
    """

    def __init__(
        self,
        *,
        train_lengths: tuple[int, int],
        test_lengths: tuple[int, int],
        val_on: Literal["test_lengths", "train_lengths"],
        num_train: int,
        num_val: int,
        num_test: int,
        batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
        min_length: int = 1,
        why: str = "",
    ) -> None:
        super().__init__(
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        self.train_lengths = check_length_range("train_lengths", train_lengths, min_length, why)
        self.test_lengths = check_length_range("test_lengths", test_lengths, min_length, why)
        if val_on not in ("test_lengths", "train_lengths"):
            raise ValueError(f"val_on must be 'test_lengths' or 'train_lengths', got {val_on!r}")
        self.val_on = val_on

    def split_lengths(self, split: Split) -> tuple[int, int]:
        """The inclusive length range of ``split``."""
        if split == "train" or (split == "val" and self.val_on == "train_lengths"):
            return self.train_lengths
        return self.test_lengths
