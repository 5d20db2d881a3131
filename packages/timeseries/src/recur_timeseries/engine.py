"""The Lightning side of recur_timeseries: AR-Net's training module and the lag-window DataModules.

``recur-timeseries fit --config arnet/ar3_sparse`` puts these together; the model itself
(:class:`~recur_timeseries.models.arnet.ARNet`) stays a plain ``nn.Module`` in ``self.net``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader

from recur_core.engine import RecurModule
from recur_timeseries.data import PAPER_SPARSE_AR3, ARProcessDataset, ETTDataset, LagWindows, SunspotsDataset
from recur_timeseries.metrics import mae, mse, stpe
from recur_timeseries.models.arnet import ARNet, estimated_sparsity, regularization_weight
from recur_timeseries.plots import plot_ar_fit

__all__ = ["ARNetModule", "ARProcessData", "ETTData", "LagWindowData", "SunspotsData"]

Split = Literal["train", "val", "test"]


class ARNetModule(RecurModule):
    """AR-Net (Triebe et al. 2019, https://arxiv.org/abs/1911.12436) trained on L(θ) + λ_t · R(θ).

    L is MSE (the paper) or Huber (the reference code's default); R is
    :func:`~recur_timeseries.models.arnet.sparsity_penalty`; λ_t ramps quadratically from 0 to
    λ(s) = c_λ (1/s − 1) between ``ramp_start`` and ``ramp_end`` (fractions of all optimizer steps,
    so the trainer needs a finite ``max_epochs`` or ``max_steps``). The regularizer is on when the
    expected sparsity is given, either as ``sparsity`` = s = p_data / p or as ``p_data``, the
    order you believe the data has.

    Batches are ``(lags [B, p], targets [B, n_forecasts])``. Logs ``train/loss`` (the full
    objective), ``train/lambda``, ``val/loss``, ``val/mse``, ``val/mae`` (and ``test/...``), and
    ``val/stpe`` of the one-step weights when the DataModule has ``true_coefficients``.

    Args:
        p: number of lags; must equal the DataModule's.
        n_forecasts: values predicted at once; must equal the DataModule's.
        bias: learn an intercept.
        c1, c2: constants of the regularizer (3 and 3 in the paper).
        sparsity: expected s = p_data / p in (0, 1]; None with ``p_data`` None switches R off.
        p_data: expected order of the data; sets s = p_data / p (give this or ``sparsity``).
        lambda_scale: c_λ. The paper suggests √L̂/100 ≈ 0.01 for unit-variance noise; with 1000
            samples 0.1 recovers sparse coefficients better (``tools/repro/arnet.py``).
        ramp_start, ramp_end: the λ ramp, as fractions of training.
        loss: ``"mse"`` or ``"huber"`` (δ = 1).
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`;
            cosine decay lets the weights settle at zero at the end of training.
    """

    monitor = "val/loss"
    monitor_mode = "min"

    def __init__(
        self,
        p: int = 20,
        n_forecasts: int = 1,
        bias: bool = True,
        c1: float = 3.0,
        c2: float = 3.0,
        sparsity: float | None = None,
        p_data: int | None = None,
        lambda_scale: float = 0.01,
        ramp_start: float = 0.0,
        ramp_end: float = 0.5,
        loss: Literal["mse", "huber"] = "mse",
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "cosine",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if sparsity is not None and p_data is not None:
            raise ValueError(f"give sparsity or p_data, not both (got sparsity={sparsity}, p_data={p_data})")
        if loss not in ("mse", "huber"):
            raise ValueError(f"loss must be 'mse' or 'huber', got {loss!r}")
        self.save_hyperparameters()
        self.net = ARNet(p=p, n_forecasts=n_forecasts, bias=bias, c1=c1, c2=c2)
        self.sparsity = estimated_sparsity(p_data, p) if p_data is not None else sparsity
        # validates sparsity now rather than at the first step
        self.regularization_weight(1.0)

    def regularization_weight(self, progress: float | None = None) -> float:
        """λ_t at ``progress`` (default: this step's share of all training steps); 0 without a sparsity."""
        if self.sparsity is None:
            return 0.0
        if progress is None:
            total = float(self.trainer.estimated_stepping_batches)
            progress = self.global_step / total if 0 < total < float("inf") else 0.0
        hp = self.hparams
        return regularization_weight(progress, self.sparsity, hp.lambda_scale, hp.ramp_start, hp.ramp_end)

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        for name in ("p", "n_forecasts"):
            mine, theirs = self.hparams[name], getattr(data, name, None)
            if theirs is not None and theirs != mine:
                raise ValueError(
                    f"model.{name} = {mine} but the data has {name} = {theirs}; "
                    f"set --model.{name} {theirs} (or --data.{name} {mine})"
                )

    def forward(self, lags: Tensor) -> Tensor:
        return self.net(lags)

    def _loss(self, prediction: Tensor, targets: Tensor) -> Tensor:
        if self.hparams.loss == "huber":
            return F.huber_loss(prediction, targets, delta=1.0)
        return F.mse_loss(prediction, targets)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        lags, targets = batch
        weight = self.regularization_weight()
        loss = self._loss(self(lags), targets)
        if weight > 0:
            loss = loss + weight * self.net.regularizer()
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(lags))
        self.log("train/lambda", weight, on_step=False, on_epoch=True, batch_size=len(lags))
        return loss

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        lags, targets = batch
        prediction = self(lags)
        logged = {"on_step": False, "on_epoch": True, "batch_size": len(lags), "sync_dist": True}
        self.log(f"{stage}/loss", self._loss(prediction, targets), prog_bar=True, **logged)
        self.log(f"{stage}/mse", mse(prediction, targets), **logged)
        self.log(f"{stage}/mae", mae(prediction, targets), **logged)

    def _log_stpe(self, stage: str) -> None:
        true = getattr(getattr(self.trainer, "datamodule", None), "true_coefficients", None)
        if true is not None:
            self.log(f"{stage}/stpe", stpe(self.net.coefficients[0], true), prog_bar=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_stpe("val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_stpe("test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self(batch[0])

    def on_fit_plots(self, run_dir: Path) -> None:
        """``arnet.png``: one-step forecasts on the first 200 validation windows, and the weights per lag."""
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, LagWindowData):
            return
        windows = data.dataset("val")
        shown = slice(0, min(200, len(windows)))
        with torch.no_grad():
            forecast = self(windows.lags[shown].to(self.device))[:, 0].cpu().numpy()
        plot_ar_fit(
            run_dir / "arnet.png",
            truth=windows.targets[shown, 0].numpy(),
            forecasts={"AR-Net": forecast},
            coefficients={"AR-Net": self.net.coefficients[0].detach().cpu().numpy()},
            true_coefficients=data.true_coefficients,
            title=f"AR-Net, p = {self.hparams.p}, on {type(data).__name__} (validation)",
        )


class LagWindowData(L.LightningDataModule, abc.ABC):
    """Base DataModule over :class:`~recur_timeseries.data.LagWindows` splits.

    Batches are ``(lags [B, p], targets [B, n_forecasts])``.

    A subclass implements :meth:`make_dataset`; each split is built once, on first use. Training
    batches are reshuffled every epoch from a generator seeded with ``seed``.

    Args:
        p: number of lags.
        n_forecasts: targets per window.
        batch_size: windows per batch.
        num_workers: DataLoader worker processes (0 = the main process).
        seed: seeds the training order (and, in subclasses that simulate, the data).

    Attributes:
        true_coefficients: the generating AR coefficients [k] when known, else None.
    """

    true_coefficients: np.ndarray | None = None

    def __init__(self, p: int, n_forecasts: int = 1, batch_size: int = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        if p < 1 or n_forecasts < 1 or batch_size < 1:
            raise ValueError(f"p, n_forecasts and batch_size must be positive, got {p}, {n_forecasts}, {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be 0 (main process) or more, got {num_workers}")
        self.p = p
        self.n_forecasts = n_forecasts
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.datasets: dict[str, LagWindows] = {}

    @abc.abstractmethod
    def make_dataset(self, split: Split) -> LagWindows:
        """Build the windows of ``split``."""

    def dataset(self, split: Split) -> LagWindows:
        """The windows of ``split``, built on first use."""
        if split not in self.datasets:
            self.datasets[split] = self.make_dataset(split)
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
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
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
        super().__init__(p, n_forecasts, batch_size, num_workers, seed)
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
            self.num_samples[split],
            self.p,
            self.n_forecasts,
            self.noise_std,
            self.burn_in,
            split_seed,
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
        super().__init__(p, n_forecasts, batch_size, num_workers, seed)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def make_dataset(self, split: Split) -> SunspotsDataset:
        return SunspotsDataset(self.p, self.n_forecasts, split, self.val_fraction, self.test_fraction)


class ETTData(LagWindowData):
    """One ETT variable (default the oil temperature ``OT``) from a real ETT CSV, with the standard splits.

    The file is read at ``setup``, so a recipe instantiates without it; a missing file is a
    ``FileNotFoundError`` that says where ETT files go.

    Args:
        path: the CSV, e.g. ``../shared/data/ETT-small/ETTh1.csv`` (relative to the working directory).
        target: the variable to forecast.
        splits: (train, val, test) row counts; default the standard 12/4/4 months.
        p, n_forecasts, batch_size, num_workers, seed: see :class:`LagWindowData`.
    """

    def __init__(
        self,
        path: str = "../shared/data/ETT-small/ETTh1.csv",
        target: str = "OT",
        splits: tuple[int, int, int] | None = None,
        p: int = 24,
        n_forecasts: int = 1,
        batch_size: int = 256,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(p, n_forecasts, batch_size, num_workers, seed)
        self.path = path
        self.target = target
        self.splits = splits

    def make_dataset(self, split: Split) -> ETTDataset:
        return ETTDataset(self.path, self.p, self.n_forecasts, split, self.target, self.splits)
