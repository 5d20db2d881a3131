"""The lag-window DataModules: one series cut into (p lags → next ``n_forecasts`` values) windows per split.

Each is a :class:`~recur_core.engine.SplitDataModule` (splits made once, seeded resumable loaders)
that holds its options and implements ``make_dataset(split)``; ``recur-timeseries fit --config
arnet/ar3_sparse`` pairs one with :class:`~recur_timeseries.task.ARNetModule`.

Batches are ``(lags [B, p], targets [B, n_forecasts])``, lag 1 (the most recent value) in column 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recur_core.data import dataset_file
from recur_core.engine import Split, SplitDataModule
from recur_timeseries.data import PAPER_SPARSE_AR3, ARProcessDataset, ETTDataset, SunspotsDataset

__all__ = ["ETT_DATASETS", "ARProcessData", "ETTData", "LagWindowData", "SunspotsData"]

# the four files of ETT-small: two transformers, hourly (h) and every 15 minutes (m)
ETT_DATASETS: tuple[str, ...] = ("ETTh1", "ETTh2", "ETTm1", "ETTm2")


class LagWindowData(SplitDataModule):
    """Base of the DataModules over :class:`~recur_timeseries.data.LagWindows` splits.

    A subclass implements ``make_dataset(split)``, returning that split's ``LagWindows``; the base
    builds each split once and reshuffles the training windows every epoch in an order drawn from
    ``(seed, epoch)``.

    Args:
        p: number of lags.
        n_forecasts: targets per window.
        batch_size: windows per batch.
        num_workers: DataLoader worker processes (0 = the main process).
        seed: seeds the training order (and, in subclasses that simulate, the data).

    Attributes:
        true_coefficients: the generating AR coefficients [k] when known, else None (scored by sTPE).
    """

    true_coefficients: np.ndarray | None = None

    def __init__(
        self, *, p: int, n_forecasts: int = 1, batch_size: int = 64, num_workers: int = 0, seed: int = 0
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if p < 1 or n_forecasts < 1:
            raise ValueError(f"p and n_forecasts must be at least 1, got p={p}, n_forecasts={n_forecasts}")
        self.p = p
        self.n_forecasts = n_forecasts


class ARProcessData(LagWindowData):
    """Simulated AR process (default the paper's sparse AR(3)); train, val and test are independent draws.

    Args:
        coefficients: true φ_1 … φ_k, lag 1 first.
        n_train, n_val, n_test: windows per split (the paper's small-data setting has 1000 training samples).
        p, n_forecasts, batch_size, num_workers: see :class:`LagWindowData`.
        noise_std: σ of the innovations.
        burn_in: simulated steps dropped before each split's series.
        seed: each split's innovations come from their own stream derived from (seed, split).
    """

    def __init__(
        self,
        coefficients: Sequence[float] = PAPER_SPARSE_AR3,
        n_train: int = 1000,
        n_val: int = 1000,
        n_test: int = 1000,
        p: int = 20,
        n_forecasts: int = 1,
        noise_std: float = 1.0,
        burn_in: int = 1000,
        batch_size: int = 50,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(p=p, n_forecasts=n_forecasts, batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.coefficients = tuple(float(c) for c in coefficients)
        self.true_coefficients = np.asarray(self.coefficients)
        self.num_samples = {"train": n_train, "val": n_val, "test": n_test}
        self.noise_std = noise_std
        self.burn_in = burn_in

    def make_dataset(self, split: Split) -> ARProcessDataset:
        index = ("train", "val", "test").index(split)
        split_seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1, dtype=np.uint64)[0])
        return ARProcessDataset(
            self.coefficients,
            n_samples=self.num_samples[split],
            p=self.p,
            n_forecasts=self.n_forecasts,
            noise_std=self.noise_std,
            burn_in=self.burn_in,
            seed=split_seed,
        )


class SunspotsData(LagWindowData):
    """Yearly sunspot numbers 1700–2008 (bundled with statsmodels), split in time and z-scored with training statistics.

    Args:
        p, n_forecasts, batch_size, num_workers, seed: see :class:`LagWindowData`.
        val_fraction, test_fraction: shares of the series held out at its end (test last).
    """

    def __init__(
        self,
        p: int = 12,
        n_forecasts: int = 1,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(p=p, n_forecasts=n_forecasts, batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def make_dataset(self, split: Split) -> SunspotsDataset:
        return SunspotsDataset(
            self.p,
            n_forecasts=self.n_forecasts,
            split=split,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
        )


class ETTData(LagWindowData):
    """One variable (default the oil temperature ``OT``) of an ETT dataset from the data root, in the standard splits.

    The CSV is ``<root>/ETT-small/<dataset>.csv`` (catalogue entry ``ett``; ``recur data fetch ett``
    downloads it), found through :func:`recur_core.data.dataset_file`. It is read at ``setup``, so a
    recipe instantiates without it; a missing file is the one-line
    ``dataset 'ETTh1' not found under <root>/ETT-small: run 'recur data fetch ett' or set RECUR_DATA``.
    The standard splits are 12/4/4 months of 30 days: 8640/2880/2880 rows for the hourly ETTh files and
    four times as many for the 15-minute ETTm files (the reader infers the rate from the dates).

    Args:
        dataset: ``ETTh1``, ``ETTh2`` (hourly), ``ETTm1`` or ``ETTm2`` (every 15 minutes).
        root: the data root, the folder that holds ``ETT-small/``; None: ``$RECUR_DATA``, else the
            user cache (:func:`recur_core.data.data_root`).
        target: the variable to forecast.
        splits: (train, val, test) row counts; default the standard 12/4/4 months.
        p, n_forecasts, batch_size, num_workers, seed: see :class:`LagWindowData`.
    """

    def __init__(
        self,
        dataset: str = "ETTh1",
        root: str | None = None,
        target: str = "OT",
        splits: tuple[int, int, int] | None = None,
        p: int = 24,
        n_forecasts: int = 1,
        batch_size: int = 256,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(p=p, n_forecasts=n_forecasts, batch_size=batch_size, num_workers=num_workers, seed=seed)
        if dataset not in ETT_DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(ETT_DATASETS)}, got {dataset!r}")
        # not self.dataset: that is the base's split accessor
        self.dataset_name = dataset
        self.root = root
        self.target = target
        self.splits = splits

    def make_dataset(self, split: Split) -> ETTDataset:
        path = dataset_file("ett", f"{self.dataset_name}.csv", self.root, label=self.dataset_name)
        return ETTDataset(
            path, self.p, n_forecasts=self.n_forecasts, split=split, target=self.target, splits=self.splits
        )
