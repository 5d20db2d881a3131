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
from recur_core.registry import get_model
from recur_core.techniques.dynamics_metrics import (
    hellinger_spectrum_distance,
    prediction_error,
    state_space_divergence,
)
from recur_core.techniques.teacher_forcing import adaptive_alpha, jacobian_growth
from recur_timeseries.datamodules import ForecastData, LagWindowData, ReconstructionData
from recur_timeseries.metrics import mae, mse, skill_score, stpe
from recur_timeseries.models.arnet import ARNet, estimated_sparsity, regularization_weight
from recur_timeseries.models.baselines import baseline_forecasts, forecast_baselines
from recur_timeseries.plots import plot_ar_fit, plot_attractor, plot_forecasts

__all__ = ["ARNetModule", "ForecastModule", "ReconstructionModule"]


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


class ForecastModule(RecurModule):
    """Multivariate long-term forecasting: any registered forecaster trained on (x [B, L, C] → y [B, H, C]) windows.

    The model is chosen by name (``dlinear``, ``linear``, ``seq2seq``, ``tpgn``, …) and built as
    ``get_model(model, input_len=L, horizon=H, channels=C, **model_kwargs)`` into ``self.net``;
    ``setup`` checks L, H and C against the DataModule (a
    :class:`~recur_timeseries.datamodules.ForecastData`). Trained on MSE (the LTSF benchmarks') or
    MAE; logs ``train/loss``, ``val/mse``, ``val/mae`` (``val/mse`` picks the best checkpoint) and
    ``test/mse``, ``test/mae``, all in the data's z-scored units, averaged over every window,
    step and channel (the LTSF papers' numbers).

    Every test run also scores, on the same test windows and in the same units, the baselines of
    :func:`~recur_timeseries.models.baselines.forecast_baselines`: ``repeat_last``,
    ``seasonal_naive`` (one day back; where the data has a season no longer than the window) and
    ``least_squares`` (the closed-form optimum of one linear map L → H shared across channels,
    fitted on the training windows), as ``test/mse_<name>``, ``test/mae_<name>``, ``test/rmse_<name>``
    and ``test/skill_<name>`` = 1 − MSE_model / MSE_baseline; ``test/rmse`` is the model's RMSE
    over all test values (ReGENN's paper reports MAE and RMSE).

    Args:
        model: registered forecaster name.
        model_kwargs: its own options (``{"layer": "gla"}`` for ``seq2seq``, …).
        input_len, horizon, channels: L, H, C; must equal the DataModule's.
        loss: ``"mse"`` or ``"mae"``.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
        lr_decay: multiply the learning rate by this factor after every epoch (lr · decay^epoch, TPGN's
            official schedule is 0.9); in (0, 1]; needs ``scheduler="constant"`` and no warmup. None: off.
    """

    monitor = "val/mse"
    monitor_mode = "min"

    def __init__(
        self,
        model: str = "dlinear",
        model_kwargs: dict[str, Any] | None = None,
        input_len: int = 96,
        horizon: int = 96,
        channels: int = 7,
        loss: Literal["mse", "mae"] = "mse",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "cosine",
        lr_decay: float | None = None,
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if loss not in ("mse", "mae"):
            raise ValueError(f"loss must be 'mse' or 'mae', got {loss!r}")
        if lr_decay is not None and not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1] (the factor per epoch; 0.9 in TPGN's recipe), got {lr_decay}")
        if lr_decay is not None and (scheduler != "constant" or warmup_steps):
            raise ValueError(
                "lr_decay is a schedule of its own: set --model.scheduler constant and --model.warmup_steps 0 "
                f"(got scheduler={scheduler!r}, warmup_steps={warmup_steps})"
            )
        self.save_hyperparameters()
        self.net = get_model(model, input_len=input_len, horizon=horizon, channels=channels, **(model_kwargs or {}))

    def configure_optimizers(self) -> Any:
        """The base's optimizer; with ``lr_decay``, lr · decay^epoch stepped at the end of every epoch."""
        optimizer = super().configure_optimizers()
        decay = self.hparams.lr_decay
        if decay is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: decay**epoch)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("input_len", "horizon", "channels"))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _loss(self, prediction: Tensor, targets: Tensor) -> Tensor:
        if self.hparams.loss == "mae":
            return F.l1_loss(prediction, targets)
        return F.mse_loss(prediction, targets)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = self._loss(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def on_train_epoch_end(self) -> None:
        """Tell a model that builds state while training (ReGENN's first-epoch graph) that an epoch ended."""
        hook = getattr(self.net, "on_train_epoch_end", None)
        if callable(hook):
            hook(self.current_epoch)

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        x, y = batch
        prediction = self(x)
        logged = {"on_step": False, "on_epoch": True, "batch_size": len(x), "sync_dist": True}
        self.log(f"{stage}/mse", mse(prediction, y), prog_bar=True, **logged)
        self.log(f"{stage}/mae", mae(prediction, y), **logged)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_baselines()

    def _forecast(self, inputs: Tensor, chunk: int = 512) -> Tensor:
        """The model's forecasts of many windows, in chunks, on the CPU in float64."""
        with torch.no_grad():
            return torch.cat(
                [self(inputs[i : i + chunk].to(self.device)).double().cpu() for i in range(0, len(inputs), chunk)]
            )

    def _log_baselines(self, chunk: int = 512) -> None:
        """Score the baselines on the DataModule's test windows (once per test run), beside the model.

        Errors are summed chunk by chunk (a long ETTm test split at H = 720 has ~80 M target
        values), and the model's own error is recomputed on the same windows in one pass, since
        the epoch mean of ``test/mse`` is aggregated only after this hook.
        """
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, ForecastData):
            return
        train, test = data.dataset("train"), data.dataset("test")
        baselines = forecast_baselines(train, test)
        squared = dict.fromkeys(["model", *baselines], 0.0)
        absolute = dict.fromkeys(squared, 0.0)
        for start in range(0, len(test), chunk):
            x, y = test.inputs[start : start + chunk], test.targets[start : start + chunk].double()
            forecasts = {"model": self._forecast(x), **{name: f(x) for name, f in baselines.items()}}
            for name, forecast in forecasts.items():
                squared[name] += float((forecast - y).square().sum())
                absolute[name] += float((forecast - y).abs().sum())
        count = test.targets.numel()
        model_mse = squared["model"] / count
        self.log("test/rmse", model_mse**0.5)
        for name in baselines:
            self.log(f"test/mse_{name}", squared[name] / count)
            self.log(f"test/mae_{name}", absolute[name] / count)
            self.log(f"test/rmse_{name}", (squared[name] / count) ** 0.5)
            self.log(f"test/skill_{name}", skill_score(model_mse, squared[name] / count))

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Forecasts [B, H, C] of a batch's inputs, in the data's z-scored units."""
        return self(batch[0])

    def on_fit_plots(self, run_dir: Path) -> None:
        """``forecasts.png``: the model and the naive forecasts against the truth on four test windows."""
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, ForecastData):
            return
        test = data.dataset("test")
        shown = torch.linspace(0, len(test) - 1, min(4, len(test))).long()
        inputs, truth = test.inputs[shown], test.targets[shown]
        baselines = forecast_baselines(data.dataset("train"), test)
        forecasts = {self.hparams.model: self._forecast(inputs).numpy()}
        forecasts.update(
            {name: baselines[name](inputs).numpy() for name in ("repeat_last", "seasonal_naive") if name in baselines}
        )
        plot_forecasts(
            run_dir / "forecasts.png",
            inputs.numpy(),
            truth.numpy(),
            forecasts,
            title=f"{self.hparams.model}, {data.input_len} → {data.horizon}, {type(data).__name__} test, last channel",
        )


class ReconstructionModule(RecurModule):
    r"""Dynamical-systems reconstruction: a latent model trained by generalized teacher forcing, judged by its free run.

    Paper: Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
    Dynamics", ICML 2023, https://arxiv.org/abs/2306.04406 (official code ``DurstewitzLab/GTF-shPLRNN``).
    Each training sequence x [B, T, N] is run from the latent of :math:`x_0` with the observed latents
    pulled to the data before every step, :math:`\tilde z_t = (1 - \alpha) z_t + \alpha x_t`
    (:func:`recur_core.techniques.teacher_forcing.gtf_rollout`); the loss is the MSE of the *unforced*
    predictions against :math:`x_{1..T-1}` (``train/loss``, ``train/alpha``). α is fixed (``"gtf"``) or
    adaptive (``"agtf"``: every ``alpha_every`` steps from the Jacobians along the batch,
    :func:`~recur_core.techniques.teacher_forcing.adaptive_alpha`). The optimizer is the official
    recipe's RAdam with L2 ``weight_decay`` and the learning rate decaying exponentially from ``lr``
    to ``lr_end`` over training. The official defaults (``settings/defaults.json``) start aGTF at
    α = 1 and train 250,000 steps of batch 16 at 1e-3 → 1e-6; the ``plrnn/*`` recipes are shortened
    for CPU (a fixed α = 0.2, a few thousand steps of batch 64 at 5e-3 → 1e-4) and say so.

    Validation and test run the model free from the first point of the held-out trajectory for
    its whole length and log, from :mod:`recur_core.techniques.dynamics_metrics`: ``dstsp``
    (:math:`D_{stsp}`, state-space KL of 30-bin histograms, on the first ``dstsp_dims`` dimensions:
    a 30-bin histogram in more than 3 dimensions is too large), ``dh`` (:math:`D_H`, Hellinger
    distance of smoothed power spectra) and ``pe<n>`` (the ``pe_steps``-step prediction error from
    every point). ``test`` also logs what the data itself scores, to read the model's numbers
    against: ``test/dstsp_data`` and ``test/dh_data`` compare the validation trajectory (another
    stretch of the same system) with the test one, and ``test/pe<n>_repeat_last`` is the
    prediction error of holding the last value.

    Args:
        model: the registered latent model (default ``plrnn_reconstructor``).
        model_kwargs: its options (``latent_dim``, ``hidden_dim``, ``layer``, ...).
        channels: observed dimensions N; must equal the DataModule's.
        forcing: ``"gtf"`` (fixed α) or ``"agtf"`` (adaptive, starting at ``alpha``).
        alpha: the forcing strength in [0, 1].
        alpha_every: optimizer steps between aGTF estimates (5 in the official code).
        pe_steps: the prediction-error horizon (20 in the paper).
        dstsp_dims: leading dimensions D_stsp is computed on.
        lr, lr_end: the learning rate's start and end (1e-3 → 1e-6 in the official recipe).
        weight_decay: RAdam's L2 penalty (none in the official defaults).

    Shapes:
        batch inputs [B, T, N]; ``forward(x0 [K, N], steps)`` -> the free run [K, steps, N].
    """

    monitor = "val/dstsp"
    monitor_mode = "min"

    def __init__(
        self,
        model: str = "plrnn_reconstructor",
        model_kwargs: dict[str, Any] | None = None,
        channels: int = 3,
        forcing: Literal["gtf", "agtf"] = "gtf",
        alpha: float = 0.1,
        alpha_every: int = 5,
        pe_steps: int = 20,
        dstsp_dims: int = 3,
        lr: float = 1e-3,
        lr_end: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay)
        if forcing not in ("gtf", "agtf"):
            raise ValueError(f"forcing must be 'gtf' (fixed alpha) or 'agtf' (adaptive), got {forcing!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] (0 = free run, 1 = classic teacher forcing), got {alpha}")
        if min(alpha_every, pe_steps, dstsp_dims) < 1:
            raise ValueError(
                f"alpha_every, pe_steps and dstsp_dims must be >= 1, got {alpha_every}, {pe_steps}, {dstsp_dims}"
            )
        if not 0 < lr_end <= lr:
            raise ValueError(f"lr_end must be in (0, lr = {lr}], got {lr_end}")
        self.save_hyperparameters()
        self.net = get_model(model, channels=channels, **(model_kwargs or {}))
        self.register_buffer("alpha", torch.tensor(float(alpha)))

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("channels",))

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.RAdam(
            (p for p in self.parameters() if p.requires_grad), lr=self.lr, weight_decay=self.weight_decay
        )
        if self.hparams.lr_end == self.lr:
            return optimizer
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _lr_decay(self, step: int) -> float:
        """``(lr_end / lr) ** (step / total)``: exponential decay to ``lr_end`` at the fit's last step.

        The fit's length is read only once training runs: read in ``configure_optimizers`` it would load
        the training data before Lightning restores a checkpoint, and a resumed run would restart its epoch.
        """
        if step == 0:
            return 1.0
        total = float(self.trainer.estimated_stepping_batches)
        if not 0 < total < float("inf"):
            return 1.0
        return (self.hparams.lr_end / self.lr) ** (step / total)

    def forward(self, x0: Tensor, steps: int) -> Tensor:
        return self.net.generate(x0, steps)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x = batch["inputs"]
        latents, applied = self.net.rollout(x, self.alpha)
        loss = F.mse_loss(self.net.observe(latents), x[:, 1:])
        if self.hparams.forcing == "agtf" and self.global_step % self.hparams.alpha_every == 0:
            with torch.no_grad():
                growth = float(jacobian_growth(self.net, applied).max())
            self.alpha.fill_(adaptive_alpha(float(self.alpha), growth))
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=x.shape[0])
        self.log("train/alpha", self.alpha, on_step=True, on_epoch=False, batch_size=x.shape[0])
        return loss

    def scores(self, true: Tensor, generated: Tensor) -> dict[str, Tensor]:
        """D_stsp (first ``dstsp_dims`` dimensions) and D_H of ``generated`` against ``true``, both [B, T, N]."""
        dims = self.hparams.dstsp_dims
        return {
            "dstsp": state_space_divergence(true[..., :dims], generated[..., :dims]).float(),
            "dh": hellinger_spectrum_distance(true, generated).float(),
        }

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        x = batch["inputs"]
        steps = self.hparams.pe_steps
        if x.shape[1] <= steps:
            raise ValueError(
                f"the held-out trajectory has {x.shape[1]} points, too few for pe_steps = {steps}; "
                "lower --model.pe_steps or lengthen it (--data.eval_len)"
            )
        generated = self.net.generate(x[:, 0], x.shape[1] - 1)
        logged = {"on_step": False, "on_epoch": True, "batch_size": x.shape[0], "sync_dist": True}
        for name, value in self.scores(x[:, 1:], generated).items():
            self.log(f"{stage}/{name}", value, prog_bar=name == "dstsp", **logged)
        self.log(f"{stage}/pe{steps}", prediction_error(self.net.forecast, x, steps), **logged)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        """The data's own scores: validation vs test trajectory, and repeat-last's prediction error."""
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, ReconstructionData):
            return
        test, other = data.dataset("test").trajectories, data.dataset("val").trajectories
        length = min(test.shape[1], other.shape[1])
        for name, value in self.scores(test[:, 1:length], other[:, 1:length]).items():
            self.log(f"test/{name}_data", value)
        steps = self.hparams.pe_steps
        self.log(f"test/pe{steps}_repeat_last", (test[:, steps:] - test[:, :-steps]).square().mean())

    def on_fit_plots(self, run_dir: Path) -> None:
        """``attractor.png``: the held-out validation trajectory beside the model's free run from its first point."""
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, ReconstructionData):
            return
        true = data.dataset("val").trajectories[0]
        generated = self.net.generate(true[None, 0].to(self.device), true.shape[0] - 1)[0].cpu()
        plot_attractor(
            run_dir / "attractor.png",
            true[1:].numpy(),
            generated.numpy(),
            names=data.series().names,
            title=f"{type(self.net).__name__} on {data.dataset_name} (held-out validation trajectory)",
        )
