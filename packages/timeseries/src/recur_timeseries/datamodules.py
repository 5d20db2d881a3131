"""The lag-window DataModules: one series cut into (p lags → next ``n_forecasts`` values) windows per split.

Each is a :class:`~recur_core.engine.SplitDataModule` (splits made once, seeded resumable loaders)
that holds its options and implements ``make_dataset(split)``; ``recur-timeseries fit --config
arnet/ar3_sparse`` pairs one with :class:`~recur_timeseries.task.ARNetModule`.

Batches are ``(lags [B, p], targets [B, n_forecasts])``, lag 1 (the most recent value) in column 0.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Literal

import numpy as np

from recur_core.data import dataset_file
from recur_core.engine import Split, SplitDataModule
from recur_timeseries.data import (
    ETT_HEADER,
    GENERATED_SPLITS,
    PAPER_SPARSE_AR3,
    ARProcessDataset,
    ETTDataset,
    ForecastWindows,
    SunspotsDataset,
    ett_forecast_windows,
    generated_forecast_windows,
)
from recur_timeseries.data.dynamical import (
    GENERATED_SYSTEMS,
    ReconstructionSeries,
    TrajectoryDataset,
    TrajectoryWindows,
    ett_trajectories,
    generated_trajectories,
)
from recur_timeseries.data.graph_diffusion import generate_graph_diffusion
from recur_timeseries.data.pyg_temporal import (
    PYG_TEMPORAL_DATASETS,
    GraphSeries,
    graph_forecast_windows,
    load_pyg_temporal,
)

__all__ = [
    "ETT_DATASETS",
    "ARProcessData",
    "ETTData",
    "ETTForecastData",
    "ForecastData",
    "GeneratedForecastData",
    "GraphSeriesData",
    "LagWindowData",
    "ReconstructionData",
    "SunspotsData",
]

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


# --- multivariate long-term forecasting: (input [B, L, C], target [B, H, C]) batches -------------------------


class ForecastData(SplitDataModule):
    """Base of the long-term-forecasting DataModules: every split is a :class:`~recur_timeseries.data.ForecastWindows`.

    A subclass implements :meth:`make_windows`, which returns all three splits at once (one file
    read, one set of training statistics); the base hands them out per split, builds the loaders
    and reshuffles the training windows every epoch in an order drawn from ``(seed, epoch)``.
    Batches are ``(x [B, input_len, channels], y [B, horizon, channels])``, z-scored with training
    statistics.

    Args:
        input_len: L, rows each window shows the model.
        horizon: H, rows it forecasts.
        channels: C, variables in and out.
        period: the season in rows (one day) for the seasonal-naive baseline, or None.
        batch_size, num_workers, seed: see :class:`~recur_core.engine.SplitDataModule`.
    """

    def __init__(
        self,
        *,
        input_len: int,
        horizon: int,
        channels: int,
        period: int | None,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if min(input_len, horizon, channels) < 1:
            raise ValueError(
                f"input_len, horizon and channels must be at least 1, got input_len={input_len}, "
                f"horizon={horizon}, channels={channels}"
            )
        self.input_len = input_len
        self.horizon = horizon
        self.channels = channels
        self.period = period
        self._windows: dict[str, ForecastWindows] | None = None

    @abc.abstractmethod
    def make_windows(self) -> dict[str, ForecastWindows]:
        """Read or generate the ``train``, ``val`` and ``test`` windows; called once."""

    def make_dataset(self, split: Split) -> ForecastWindows:
        if self._windows is None:
            self._windows = self.make_windows()
        return self._windows[split]


def _check_features(features: str) -> None:
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' (all variables in and out) or 'S' (only the target), got {features!r}")


class ETTForecastData(ForecastData):
    """An ETT file in the standard long-term-forecasting protocol, or ``dataset="generated"``: the embedded series.

    ``<root>/ETT-small/<dataset>.csv`` (catalogue entry ``ett``; ``recur data fetch ett``) is read at
    ``setup`` by :func:`~recur_timeseries.data.ett.ett_forecast_windows`: 12/4/4-month splits
    (8640/2880/2880 rows hourly, ×4 for the 15-minute ETTm files), val and test borrowing the
    ``input_len`` rows before them (the borders of Informer/Autoformer/DLinear's ``Dataset_ETT_*``),
    z-scored with training statistics. A recipe names the dataset, so the same recipe runs on any of
    the four files with ``--data.dataset ETTm2``.

    ``dataset="generated"`` needs no file: :func:`~recur_timeseries.data.generate_multiseasonal`
    with ETTh1's shape (7 channels named as ETT's, hourly, 8640/2880/2880 rows, a daily season of 24
    rows; ``features="S"`` keeps the channel at ``target``'s place), seeded by ``seed``. It is what
    makes every ETT recipe run on a fresh clone: ``recur-timeseries fit --config tpgn/etth1_96
    --data.dataset generated``.

    Args:
        dataset: ``ETTh1``, ``ETTh2`` (hourly), ``ETTm1``, ``ETTm2`` (15 minutes) or ``generated``.
        root: the data root (the folder that holds ``ETT-small/``); None: ``$RECUR_DATA``, else the user cache.
        features: ``"M"``: all 7 variables in, all 7 out; ``"S"``: only ``target``.
        target: the variable of ``features="S"`` (default the oil temperature ``OT``).
        input_len, horizon: L and H (the LTSF settings: 96 → 96/192/336/720).
        splits: (train, val, test) row counts; default the standard 12/4/4 months.
        batch_size, num_workers, seed: see :class:`ForecastData`.
    """

    def __init__(
        self,
        dataset: str = "ETTh1",
        root: str | None = None,
        features: Literal["M", "S"] = "M",
        target: str = "OT",
        input_len: int = 96,
        horizon: int = 96,
        splits: tuple[int, int, int] | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        if dataset not in (*ETT_DATASETS, "generated"):
            raise ValueError(f"dataset must be one of {', '.join(ETT_DATASETS)} or generated, got {dataset!r}")
        _check_features(features)
        if target not in ETT_HEADER[1:]:
            raise ValueError(f"target must be one of the ETT variables {', '.join(ETT_HEADER[1:])}, got {target!r}")
        period = 96 if dataset.startswith("ETTm") else 24
        super().__init__(
            input_len=input_len,
            horizon=horizon,
            channels=len(ETT_HEADER) - 1 if features == "M" else 1,
            period=period,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        # not self.dataset: that is the base's split accessor
        self.dataset_name = dataset
        self.root = root
        self.features = features
        self.target = target
        self.splits = splits

    def make_windows(self) -> dict[str, ForecastWindows]:
        if self.dataset_name == "generated":
            return generated_forecast_windows(
                self.input_len,
                self.horizon,
                features=self.features,
                splits=self.splits or GENERATED_SPLITS,
                channels=len(ETT_HEADER) - 1,
                period=self.period,
                target_channel=ETT_HEADER[1:].index(self.target),
                seed=self.seed,
            )
        path = dataset_file("ett", f"{self.dataset_name}.csv", self.root, label=self.dataset_name)
        return ett_forecast_windows(
            path, self.input_len, self.horizon, features=self.features, target=self.target, splits=self.splits
        )


class GeneratedForecastData(ForecastData):
    """The embedded multivariate series (:func:`~recur_timeseries.data.generate_multiseasonal`), split like ETT.

    Daily and weekly seasons, drift and cross-channel persistent noise, seeded by ``seed``; train /
    val / test are consecutive stretches (val and test borrow ``input_len`` rows of context),
    z-scored with training statistics.

    Args:
        channels: C, variables generated (7, as ETT).
        period: rows per day (24: hourly).
        features: ``"M"``: all channels; ``"S"``: the last one only.
        n_train, n_val, n_test: rows per split (default ETTh1's 8640 / 2880 / 2880).
        input_len, horizon, batch_size, num_workers, seed: see :class:`ForecastData`.
    """

    def __init__(
        self,
        input_len: int = 96,
        horizon: int = 96,
        channels: int = 7,
        period: int = 24,
        features: Literal["M", "S"] = "M",
        n_train: int = GENERATED_SPLITS[0],
        n_val: int = GENERATED_SPLITS[1],
        n_test: int = GENERATED_SPLITS[2],
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        _check_features(features)
        super().__init__(
            input_len=input_len,
            horizon=horizon,
            channels=channels if features == "M" else 1,
            period=period,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        self.generated_channels = channels
        self.features = features
        self.splits = (n_train, n_val, n_test)

    def make_windows(self) -> dict[str, ForecastWindows]:
        return generated_forecast_windows(
            self.input_len,
            self.horizon,
            features=self.features,
            splits=self.splits,
            channels=self.generated_channels,
            period=self.period,
            seed=self.seed,
        )


class ReconstructionData(SplitDataModule):
    """Trajectories of a dynamical system to reconstruct: Lorenz-63, Lorenz-96 (generated) or an ETT variable.

    Set-up of Hess et al. 2023 (https://arxiv.org/abs/2306.04406, :mod:`recur_timeseries.data.dynamical`):
    one z-scored training trajectory (with observation noise for the generated systems) cut into
    ``seq_len``-step sequences, ``stride`` apart, and a clean held-out trajectory each for
    validation and test, scored by the model's free run
    (:class:`~recur_timeseries.task.ReconstructionModule`). An ETT dataset is read from
    ``<root>/ETT-small/<dataset>.csv`` at ``setup`` (standard 12/4/4-month splits) and optionally
    delay-embedded, so that its attractor has ``embedding_dim`` dimensions.

    Args:
        dataset: ``"lorenz63"``, ``"lorenz96"`` or an ETT file (``ETTh1``, ``ETTh2``, ``ETTm1``, ``ETTm2``).
        root: the data root holding ``ETT-small/`` (None: ``$RECUR_DATA``); ETT only.
        seq_len: steps per training sequence (200 in the paper's runs).
        stride: steps between the starts of training sequences.
        train_len, eval_len: points of the generated training and held-out trajectories.
        noise: observation noise of the generated training trajectory, in standard deviations.
        dt: sampling step of the generated systems.
        lorenz96_n, lorenz96_forcing: Lorenz-96's N variables and forcing F.
        target: the ETT variable (default the oil temperature ``OT``).
        embedding_dim, embedding_delay: fixed-delay embedding of the ETT variable (1: none).
        batch_size, num_workers, seed: see :class:`~recur_core.engine.SplitDataModule`.

    Attributes:
        channels: observed dimensions N of the trajectories (the model's ``channels``).

    Shapes:
        batch inputs [B, seq_len, N] (train); [1, T_eval, N] (val, test).
    """

    def __init__(
        self,
        dataset: str = "lorenz63",
        root: str | None = None,
        seq_len: int = 200,
        stride: int = 1,
        train_len: int = 20000,
        eval_len: int = 10000,
        noise: float = 0.05,
        dt: float = 0.01,
        lorenz96_n: int = 10,
        lorenz96_forcing: float = 8.0,
        target: str = "OT",
        embedding_dim: int = 1,
        embedding_delay: int = 1,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        known = (*GENERATED_SYSTEMS, *ETT_DATASETS)
        if dataset not in known:
            raise ValueError(f"dataset must be one of {', '.join(known)}, got {dataset!r}")
        if seq_len < 2 or stride < 1:
            raise ValueError(f"seq_len must be at least 2 and stride at least 1, got {seq_len}, {stride}")
        if dataset in GENERATED_SYSTEMS and seq_len > train_len:
            raise ValueError(
                f"seq_len {seq_len} is longer than the training trajectory (train_len {train_len}); "
                "lower --data.seq_len or raise --data.train_len"
            )
        if eval_len < 2:
            raise ValueError(f"eval_len must be at least 2, got {eval_len}")
        if embedding_dim < 1 or embedding_delay < 1:
            raise ValueError(
                f"embedding_dim and embedding_delay must be at least 1, got {embedding_dim}, {embedding_delay}"
            )
        # not self.dataset: that is the base's split accessor
        self.dataset_name, self.root = dataset, root
        self.seq_len, self.stride, self.train_len, self.eval_len = seq_len, stride, train_len, eval_len
        self.noise, self.dt, self.lorenz96_n, self.lorenz96_forcing = noise, dt, lorenz96_n, lorenz96_forcing
        self.target, self.embedding_dim, self.embedding_delay = target, embedding_dim, embedding_delay
        self.channels = {"lorenz63": 3, "lorenz96": lorenz96_n}.get(dataset, embedding_dim)
        self._series: ReconstructionSeries | None = None

    def series(self) -> ReconstructionSeries:
        """The train / val / test trajectories, generated or read once."""
        if self._series is None:
            if self.dataset_name in GENERATED_SYSTEMS:
                self._series = generated_trajectories(
                    self.dataset_name,
                    train_len=self.train_len,
                    eval_len=self.eval_len,
                    noise=self.noise,
                    dt=self.dt,
                    n=self.lorenz96_n,
                    forcing=self.lorenz96_forcing,
                    seed=self.seed,
                )
            else:
                path = dataset_file("ett", f"{self.dataset_name}.csv", self.root, label=self.dataset_name)
                self._series = ett_trajectories(path, self.target, self.embedding_dim, self.embedding_delay)
        return self._series

    def make_dataset(self, split: Split) -> TrajectoryDataset:
        trajectory = getattr(self.series(), split)
        if split == "train":
            return TrajectoryWindows(trajectory, self.seq_len, self.stride)
        return TrajectoryDataset(trajectory[None])


# --- graph series (ReGENN): PyG-Temporal JSONs or a generated diffusion, (x [B, L, N], y [B, H, N]) batches ---

# nodes (variables) and season in steps of each graph series; england_covid's 129 NUTS3 regions are the
# count its loader documents (the file is not in the shared snapshot)
GRAPH_SERIES: dict[str, tuple[int, int | None]] = {
    "diffusion": (20, 20),
    "chickenpox": (20, 52),
    "pedalme": (15, None),
    "montevideo_bus": (675, 24),
    "england_covid": (129, 7),
    "twitter_tennis_rg17": (1000, None),
    "twitter_tennis_uo17": (1000, None),
}


class GraphSeriesData(ForecastData):
    """A spatio-temporal graph signal as a multivariate series: one variable per node, split in time.

    ``dataset`` names a PyTorch Geometric Temporal JSON (read by
    :mod:`recur_timeseries.data.pyg_temporal` from ``<root>/pytorch_geometric_temporal``, catalogue
    entry ``pyg-temporal``; ``recur data fetch pyg-temporal`` downloads them) or ``"diffusion"``, the
    embedded default: :func:`~recur_timeseries.data.graph_diffusion.generate_graph_diffusion`, a
    seasonal diffusion on a random sparse graph (needs no file). The T steps are cut chronologically
    into train / val / test shares, val and test borrowing ``input_len`` rows of context, and
    normalised with training statistics (:func:`~recur_timeseries.data.pyg_temporal.graph_forecast_windows`):
    ``"max"`` (ReGENN's per-variable maximum) or ``"zscore"``. The graph itself is kept on
    :attr:`graph` after setup (ReGENN learns its own from co-occurrences; it does not read it).

    Args:
        dataset: ``diffusion`` or one of ``chickenpox``, ``pedalme``, ``montevideo_bus``,
            ``england_covid``, ``twitter_tennis_rg17``, ``twitter_tennis_uo17``.
        root: the data root; None: ``$RECUR_DATA``, else the user cache.
        input_len, horizon: window and forecast steps.
        normalization: ``"max"`` or ``"zscore"``.
        splits: (train, val, test) shares of the steps.
        channels: the nodes the data must have (default the dataset's known count); a file with
            another count is an error that says which ``--data.channels`` / ``--model.channels`` fit.
        num_nodes, steps: the generated diffusion's size (``dataset="diffusion"`` only; ``channels``
            follows ``num_nodes``).
        batch_size, num_workers, seed: see :class:`ForecastData`; ``seed`` also seeds the diffusion.
    """

    def __init__(
        self,
        dataset: str = "diffusion",
        root: str | None = None,
        input_len: int = 20,
        horizon: int = 5,
        normalization: Literal["max", "zscore"] = "max",
        splits: tuple[float, float, float] = (0.7, 0.1, 0.2),
        channels: int | None = None,
        num_nodes: int = 20,
        steps: int = 1000,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        if dataset not in GRAPH_SERIES:
            raise ValueError(f"dataset must be one of {', '.join(GRAPH_SERIES)}, got {dataset!r}")
        if normalization not in ("max", "zscore"):
            raise ValueError(f"normalization must be 'max' or 'zscore', got {normalization!r}")
        known, period = GRAPH_SERIES[dataset]
        if dataset == "diffusion":
            known = num_nodes
        super().__init__(
            input_len=input_len,
            horizon=horizon,
            channels=known if channels is None else channels,
            period=period,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        self.dataset_name = dataset
        self.root = root
        self.normalization = normalization
        self.splits = tuple(splits)
        self.num_nodes = num_nodes
        self.steps = steps
        self.graph: GraphSeries | None = None

    def load_series(self) -> GraphSeries:
        """The whole series, generated or read (not normalised)."""
        if self.dataset_name == "diffusion":
            return generate_graph_diffusion(
                num_nodes=self.num_nodes, steps=self.steps, period=self.period or 20, seed=self.seed
            )
        return load_pyg_temporal(self.dataset_name, self.root)

    def make_windows(self) -> dict[str, ForecastWindows]:
        series = self.load_series()
        if series.num_nodes != self.channels:
            file = PYG_TEMPORAL_DATASETS.get(self.dataset_name, ("",))[0] or self.dataset_name
            raise ValueError(
                f"{file} has {series.num_nodes} nodes but channels = {self.channels}; set --data.channels "
                f"{series.num_nodes} --model.channels {series.num_nodes}"
            )
        self.graph = series
        return graph_forecast_windows(
            series, self.input_len, self.horizon, self.splits, self.normalization, period=self.period
        )
