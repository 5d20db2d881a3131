"""The one DataModule base every member builds on: named splits, built once, seeded resumable loaders.

A member's DataModule holds its options and implements :meth:`SplitDataModule.make_dataset`;
everything else — which splits a stage needs, caching each split, the four dataloaders, the
seeded shuffle of the training split and the collate function — is here once:

.. code-block:: python

    class ETTData(SplitDataModule):
        def __init__(self, dataset: str = "ETTh1", p: int = 24, *, batch_size: int = 256, **loader) -> None:
            super().__init__(batch_size=batch_size, **loader)
            ...

        def make_dataset(self, split: Split) -> Dataset:
            return ETTDataset(...)

The loaders are torchdata ``StatefulDataLoader`` s: Lightning stores the training loader's
position in every checkpoint. The training order of epoch ``e`` is a pure function of
``(seed, e)`` (:class:`EpochShuffle`; Lightning sets the epoch), so a run resumed from a
checkpoint taken mid-epoch sees the same batches in the same order as one that never stopped.

Under DDP each process reads its share of that same order (:class:`RankShard`): items ``rank``,
``rank + W``, ... So a step of W processes with batch ``B / W`` sees exactly the items one process
with batch ``B`` sees, and the evaluation splits are read once each, without Lightning's padding.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset, DistributedSampler, Sampler
from torchdata.stateful_dataloader import StatefulDataLoader

__all__ = ["STAGE_SPLITS", "EpochShuffle", "RankShard", "Split", "SplitDataModule"]

Split = Literal["train", "val", "test"]

# The splits each Lightning stage reads; setup(None) builds all three.
STAGE_SPLITS: dict[str, tuple[Split, ...]] = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("test",),
}


class EpochShuffle(Sampler):
    """The training order of each epoch, drawn from ``(seed, epoch)`` alone.

    Nothing carries over from one epoch to the next, so a loader rebuilt after a restart, told the
    epoch (Lightning calls :meth:`set_epoch` before each epoch), yields that epoch's order again.
    Without :meth:`set_epoch`, each pass read to its end moves on to the next epoch.

    With ``with_epoch`` every index comes tagged as ``(epoch, index)``: the sampler runs in the main
    process, so a dataset that draws random numbers per item (negative samples, augmentations) can
    seed them from ``(seed, epoch, index)`` and draw the same in any worker and after any restart.

    Args:
        size: number of items.
        seed: the orders of every epoch follow from it.
        shuffle: a new random order every epoch; False keeps ``0 .. size - 1``.
        with_epoch: yield ``(epoch, index)`` pairs instead of indices.
    """

    def __init__(self, size: int, seed: int, shuffle: bool = True, with_epoch: bool = False) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.with_epoch = with_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self, epoch: int) -> list[int]:
        """The order of ``range(size)`` used in ``epoch``."""
        if not self.shuffle:
            return list(range(self.size))
        state = np.random.SeedSequence([self.seed, epoch]).generate_state(1, dtype=np.uint64)[0]
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(int(state))).tolist()

    def __iter__(self) -> Iterator[int | tuple[int, int]]:
        epoch = self.epoch
        order = self.order(epoch)
        yield from ((epoch, index) for index in order) if self.with_epoch else order
        # only an epoch read to its end moves on: loaders create iterators they never use
        self.epoch = epoch + 1

    def __len__(self) -> int:
        return self.size


class RankShard(DistributedSampler):
    """One process's share of an order under DDP: the items at positions ``rank, rank + W, ...``.

    Unlike Lightning's ``DistributedSampler`` / ``DistributedSamplerWrapper`` (which this replaces:
    Lightning leaves a loader whose sampler is a ``DistributedSampler`` alone), nothing is padded with
    repeats and the order is not reshuffled, so ``W`` processes with batch ``B / W`` see per step exactly
    the items one process with batch ``B`` sees, and an evaluation split is scored once per item.
    With ``even`` (training) the last ``size mod W`` items of each epoch are dropped so that every
    process takes the same number of steps (DDP's gradient all-reduce needs that). An order shorter
    than ``W`` is refused: a process with nothing to read would stall the others' collective calls.

    Args:
        order: the full order (an :class:`EpochShuffle`, or ``range(size)`` for an evaluation split).
        rank: this process's rank.
        world_size: number of processes ``W``.
        even: drop the tail so every rank gets ``size // W`` items.
    """

    def __init__(self, order: Sampler | Iterable, rank: int, world_size: int, even: bool) -> None:
        # DistributedSampler.__init__ is not called: it wants a dataset and a process group, neither needed
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        if len(order) < world_size:
            # a process with nothing to read would log nothing, and the others would wait for it forever
            raise ValueError(
                f"a split of {len(order)} items (or batches) cannot be shared by {world_size} processes: each needs "
                "at least one; use fewer processes (--trainer.devices, --trainer.num_nodes) or a smaller batch size"
            )
        self.order = order
        self.rank = rank
        self.num_replicas = world_size
        self.even = even

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.order, "set_epoch"):
            self.order.set_epoch(epoch)

    def __iter__(self) -> Iterator[Any]:
        size = len(self.order)
        stop = size - size % self.num_replicas if self.even else size
        items = iter(self.order)
        yield from itertools.islice(items, self.rank, stop, self.num_replicas)
        # read the order to its end, so an EpochShuffle without set_epoch moves on as it does alone
        for _ in items:
            pass

    def __len__(self) -> int:
        size = len(self.order)
        if self.even:
            return size // self.num_replicas
        return len(range(self.rank, size, self.num_replicas))


class SplitDataModule(LightningDataModule, abc.ABC):
    """Base DataModule: ``train`` / ``val`` / ``test`` datasets made on first use, seeded resumable loaders.

    Subclasses implement :meth:`make_dataset` and may override :meth:`collate_fn` (default:
    PyTorch's collation). The training split is reshuffled every epoch when ``shuffle``
    (:class:`EpochShuffle`); the others keep their order. ``predict`` reads the test split.
    A subclass whose training items draw random numbers sets ``epoch_indexed = True``: its
    training dataset is then indexed with ``(epoch, index)`` (see :class:`EpochShuffle`).

    Args:
        batch_size: items per batch; ``None`` hands each dataset item over as it is (an item
            that is already a batch, e.g. one window of graph snapshots).
        num_workers: loader worker processes (0 = the main process).
        seed: seeds the training order (and, in subclasses that generate data, the data).
            Each loader also gets its own generator from it, so loading never draws from
            torch's global random state (which a resumed run restores).
        shuffle: reshuffle the training split every epoch.
    """

    epoch_indexed: bool = False

    def __init__(self, *, batch_size: int | None, num_workers: int = 0, seed: int = 0, shuffle: bool = True) -> None:
        super().__init__()
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be 0 (main process) or more, got {num_workers}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.shuffle = shuffle
        self.datasets: dict[Split, Dataset] = {}

    @abc.abstractmethod
    def make_dataset(self, split: Split) -> Dataset:
        """Read or generate ``split``; called once per split."""

    def collate_fn(self) -> Callable[[list[Any]], Any] | None:
        """How items become a batch (None: PyTorch's default collation)."""
        return None

    def dataset(self, split: Split) -> Dataset:
        """The ``split`` dataset, made on first use."""
        if split not in self.datasets:
            self.datasets[split] = self.make_dataset(split)
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        for split in STAGE_SPLITS.get(stage, ("train", "val", "test")):
            self.dataset(split)

    def current_epoch(self) -> int:
        """The epoch a training sampler built now must start at (0 outside a fit).

        A run resumed mid-epoch builds its training loader (and fast-forwards it to the checkpoint's
        batch) before Lightning calls ``set_epoch``, so the sampler takes the restored loops' epoch here.
        """
        return self.trainer.current_epoch if self.trainer is not None else 0

    def loader(self, split: Split) -> StatefulDataLoader:
        """A resumable loader over ``split``; only the training split is shuffled (or epoch-indexed).
        Under DDP the loader reads this process's :class:`RankShard`."""
        dataset = self.dataset(split)
        sampler = None
        if split == "train":
            sampler = EpochShuffle(len(dataset), self.seed, self.shuffle, self.epoch_indexed)
            sampler.set_epoch(self.current_epoch())
        if self.trainer is not None and self.trainer.world_size > 1:
            order = sampler if sampler is not None else range(len(dataset))
            sampler = RankShard(order, self.trainer.global_rank, self.trainer.world_size, even=split == "train")
        return StatefulDataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn(),
            generator=torch.Generator().manual_seed(self.seed),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> StatefulDataLoader:
        return self.loader("train")

    def val_dataloader(self) -> StatefulDataLoader:
        return self.loader("val")

    def test_dataloader(self) -> StatefulDataLoader:
        return self.loader("test")

    def predict_dataloader(self) -> StatefulDataLoader:
        return self.loader("test")
