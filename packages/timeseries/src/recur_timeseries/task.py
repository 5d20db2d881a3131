"""AR-Net's training task: the LightningModule that fits :class:`~recur_timeseries.models.arnet.ARNet` to lag windows.

``recur-timeseries fit --config arnet/ar3_sparse`` pairs it with a DataModule from
:mod:`recur_timeseries.datamodules`; the model itself stays a plain ``nn.Module`` in ``self.net``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.engine import RecurModule, check_data_matches
from recur_timeseries.datamodules import LagWindowData
from recur_timeseries.metrics import mae, mse, skill_score, stpe
from recur_timeseries.models.arnet import ARNet, estimated_sparsity, regularization_weight
from recur_timeseries.models.baselines import baseline_forecasts
from recur_timeseries.plots import plot_ar_fit

__all__ = ["ARNetModule"]


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

    Every test run also scores the baselines of
    :func:`~recur_timeseries.models.baselines.baseline_forecasts` on the same test windows, in the
    same (z-scored) units: ``test/mse_<name>``, ``test/mae_<name>`` and ``test/skill_<name>`` =
    1 − MSE_model / MSE_baseline (:func:`~recur_timeseries.metrics.skill_score`) for ``repeat_last``,
    ``seasonal_naive`` (where the data has a season) and ``classic_ar`` (least squares of the same
    order on the training split).

    Optimizers: AdamW on mini-batches (the paper trains with Adam), or full-batch L-BFGS
    (``optimizer="lbfgs"``, with a DataModule ``batch_size`` that holds the whole training split).
    Without the regularizer the objective is a linear least-squares problem; on long smooth series
    (ETT) its lags are so correlated that Adam creeps along the flat directions for many epochs,
    while L-BFGS's curvature estimate reaches the least-squares optimum in a few hundred iterations.

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
            cosine decay lets the weights settle at zero at the end of training. With L-BFGS,
            ``lr`` is the first step length a strong-Wolfe line search tries (1 is usual), and the
            schedule must be ``constant`` with no warmup or weight decay.
        optimizer: ``"adamw"`` or ``"lbfgs"`` (full batch; see above).
        lbfgs_max_iter: L-BFGS iterations per optimizer step (one step per batch).
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
        optimizer: Literal["adamw", "lbfgs"] = "adamw",
        lbfgs_max_iter: int = 20,
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if sparsity is not None and p_data is not None:
            raise ValueError(f"give sparsity or p_data, not both (got sparsity={sparsity}, p_data={p_data})")
        if loss not in ("mse", "huber"):
            raise ValueError(f"loss must be 'mse' or 'huber', got {loss!r}")
        if optimizer not in ("adamw", "lbfgs"):
            raise ValueError(f"optimizer must be 'adamw' or 'lbfgs', got {optimizer!r}")
        if optimizer == "lbfgs" and (scheduler != "constant" or warmup_steps or weight_decay):
            raise ValueError(
                "L-BFGS takes its step length from a line search: set --model.scheduler constant, "
                f"--model.warmup_steps 0 and --model.weight_decay 0 (got {scheduler!r}, {warmup_steps}, {weight_decay})"
            )
        if lbfgs_max_iter < 1:
            raise ValueError(f"lbfgs_max_iter must be at least 1, got {lbfgs_max_iter}")
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
        check_data_matches(self, ("p", "n_forecasts"))

    def configure_optimizers(self) -> Any:
        if self.hparams.optimizer == "adamw":
            return super().configure_optimizers()
        return torch.optim.LBFGS(
            self.parameters(),
            lr=self.lr,
            max_iter=self.hparams.lbfgs_max_iter,
            history_size=20,
            line_search_fn="strong_wolfe",
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
        self._log_baselines()

    def _log_baselines(self) -> None:
        """Score the baselines on the DataModule's test windows (once per test run), beside the model."""
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, LagWindowData):
            return
        train, test = data.dataset("train"), data.dataset("test")
        targets = test.targets.double()
        # the epoch mean of test/mse is aggregated only after this hook, so the skill scores use
        # the model's error over all test windows in one pass (the same windows, in one batch)
        with torch.no_grad():
            model_mse = float(mse(self(test.lags.to(self.device)).double().cpu(), targets))
        for name, forecast in baseline_forecasts(train, test).items():
            error = float(mse(forecast, targets))
            self.log(f"test/mse_{name}", error)
            self.log(f"test/mae_{name}", float(mae(forecast, targets)))
            self.log(f"test/skill_{name}", skill_score(model_mse, error))

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
