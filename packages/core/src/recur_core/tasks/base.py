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
"""

from __future__ import annotations

import abc
from functools import partial
from typing import Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "IGNORE_INDEX",
    "PAD_ID",
    "SequenceDataset",
    "Split",
    "TaskDataModule",
    "check_length_range",
    "collate",
    "split_generator",
]

# Token id 0 is padding in every task's vocabulary; tasks number their own symbols from 1.
PAD_ID = 0
# Per-token targets at positions that carry no loss (cross_entropy's default ignore_index).
IGNORE_INDEX = -100

Split = Literal["train", "val", "test"]
_SPLIT_INDEX = {"train": 0, "val": 1, "test": 2, "shuffle": 3}


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


def check_length_range(name: str, lengths: tuple[int, int]) -> tuple[int, int]:
    """Validate an inclusive ``(lo, hi)`` length range; returns it as a tuple of ints."""
    if len(lengths) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi) of inclusive lengths, got {lengths!r}")
    lo, hi = (int(v) for v in lengths)
    if lo < 1:
        raise ValueError(f"{name} lower bound must be at least 1, got {name}={lengths!r}")
    if lo > hi:
        raise ValueError(f"{name} must be in order (lo <= hi), got {name}={lengths!r}; write ({hi}, {lo})")
    return lo, hi


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


def collate(samples: list[dict[str, Tensor]], pad_id: int = PAD_ID) -> dict[str, Tensor]:
    """Right-pad a list of :class:`SequenceDataset` items into one batch.

    Inputs are padded with ``pad_id`` and per-token targets with ``IGNORE_INDEX``, both to the
    longest sequence in the batch.

    Shapes:
        item inputs [L_i], targets [] or [L_i] -> inputs [B, T], targets [B] or [B, T], lengths [B]
        with ``T = max_i L_i``.
    """
    inputs = [s["inputs"] for s in samples]
    targets = [s["targets"] for s in samples]
    if targets[0].dim() == 0:
        batch_targets = torch.stack(targets)
    else:
        batch_targets = pad_sequence(targets, batch_first=True, padding_value=IGNORE_INDEX)
    return {
        "inputs": pad_sequence(inputs, batch_first=True, padding_value=pad_id),
        "targets": batch_targets,
        "lengths": torch.tensor([len(x) for x in inputs], dtype=torch.long),
    }


class TaskDataModule(LightningDataModule, abc.ABC):
    """Base DataModule of a generated task: three seeded splits, padded batches.

    A subclass sets ``vocab_size``, ``num_classes`` and ``readout`` (``"last"``: one label per
    sequence; ``"token"``: a label per position) in its ``__init__`` and implements
    :meth:`generate`. Splits are generated in :meth:`setup`, once each, from
    :func:`split_generator`; the training set is reshuffled every epoch from its own seeded stream.

    Args:
        num_train: training sequences.
        num_val: validation sequences.
        num_test: test sequences.
        batch_size: sequences per batch.
        num_workers: DataLoader worker processes (0 = load in the main process).
        seed: makes every split, and the training order, reproducible.
    """

    vocab_size: int
    num_classes: int
    readout: Literal["last", "token"]
    pad_id: int = PAD_ID
    ignore_index: int = IGNORE_INDEX

    def __init__(
        self,
        num_train: int,
        num_val: int,
        num_test: int,
        batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be 0 (main process) or more, got {num_workers}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.num_samples = {"train": num_train, "val": num_val, "test": num_test}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.datasets: dict[str, SequenceDataset] = {}

    @abc.abstractmethod
    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        """Generate ``num_samples`` sequences of ``split`` from ``generator``."""

    def dataset(self, split: Split) -> SequenceDataset:
        """The generated ``split``, generating it on first use."""
        if split not in self.datasets:
            generator = split_generator(self.seed, split)
            self.datasets[split] = self.generate(split, self.num_samples[split], generator)
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in splits.get(stage, ("train", "val", "test")):
            self.dataset(split)

    def _loader(self, split: Split, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=partial(collate, pad_id=self.pad_id),
            generator=split_generator(self.seed, "shuffle") if shuffle else None,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
