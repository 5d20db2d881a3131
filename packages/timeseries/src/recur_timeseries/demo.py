"""``recur demo timeseries``: AR-Net beside Classic-AR, and the long-horizon forecasters beside the naive forecasts.

1. The AR-Net paper's sparse case (Triebe et al. 2019, https://arxiv.org/abs/1911.12436): 1000
   samples of the AR(3) process [0.2, 0.3, -0.5] fitted with p = 20 lags; AR-Net uses the sparsity
   prior with the order guess p_data = 3. sTPE scores the recovered coefficients.
2. Yearly sunspot numbers (statsmodels' copy), z-scored, p = 12, no prior; the last 15 % of years
   are the test split.

3. The embedded multivariate series (7 channels, hourly, daily and weekly seasons; the default of
   the ``tpgn/``, ``dlinear/`` and ``seq2seq/`` recipes), shortened: 96 hours → the next 24, DLinear,
   TPGN and a GLA seq2seq forecaster trained for a fixed number of steps, scored on the test split
   beside repeat-last, seasonal naive and the least-squares linear forecaster.

AR-Net is trained by the same :class:`~recur_timeseries.task.ARNetModule` and DataModules as the
CLI, with a Lightning Trainer (its fit time includes Lightning's per-epoch overhead); Classic-AR is
least squares on the same training windows. Errors are on the test split. :func:`main` prints a
table and writes ``runs/demo/arnet_<series>.png`` (``RECUR_RUNS`` moves ``runs``).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

import lightning as L
import torch

from recur_core.engine import quiet_trainer
from recur_timeseries.datamodules import ARProcessData, GeneratedForecastData, LagWindowData, SunspotsData
from recur_timeseries.metrics import mae, mse, stpe
from recur_timeseries.models.baselines import ClassicAR
from recur_timeseries.plots import plot_ar_fit
from recur_timeseries.task import ARNetModule, ForecastModule

__all__ = ["main", "run_demo", "run_forecast_demo"]

MODELS = ("AR-Net", "Classic-AR")
# the forecasters of part 3: name -> (registered model, its options)
FORECASTERS = {
    "DLinear": ("dlinear", {}),
    "TPGN": ("tpgn", {"d_model": 8, "norm": True}),
    "seq2seq GLA": ("seq2seq", {"layer": "gla", "d_model": 32}),
}
BASELINES = {"repeat_last": "repeat-last", "seasonal_naive": "seasonal naive", "least_squares": "least squares"}


def _compare(name: str, module: ARNetModule, data: LagWindowData, epochs: int, out: Path | None) -> dict[str, dict]:
    """Fit AR-Net (``epochs``, no validation) and Classic-AR on ``data``'s training windows; score both on test."""
    trainer = quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0, limit_val_batches=0)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    arnet_seconds = time.perf_counter() - start
    module.eval()

    train, test = data.dataset("train"), data.dataset("test")
    start = time.perf_counter()
    classic = ClassicAR.fit(train.lags.double().numpy(), train.targets.double().numpy())
    classic_seconds = time.perf_counter() - start

    truth = test.targets[:, 0].numpy()
    with torch.no_grad():
        forecasts = {"AR-Net": module(test.lags)[:, 0].numpy(), "Classic-AR": classic.predict(test.lags.numpy())[:, 0]}
    coefficients = {"AR-Net": module.net.coefficients[0].detach().numpy(), "Classic-AR": classic.coefficients[0]}
    seconds = {"AR-Net": arnet_seconds, "Classic-AR": classic_seconds}
    true = data.true_coefficients
    if out is not None:
        shown = slice(0, min(150, len(truth)))
        plot_ar_fit(
            out / f"arnet_{name}.png",
            truth[shown],
            {k: v[shown] for k, v in forecasts.items()},
            coefficients,
            true,
            title=f"{name}: p = {data.p}, test split",
        )
    return {
        model: {
            "mse": float(mse(forecasts[model], truth)),
            "mae": float(mae(forecasts[model], truth)),
            "stpe": None if true is None else stpe(coefficients[model], true),
            "seconds": seconds[model],
        }
        for model in MODELS
    }


def run_demo(
    n_samples: int = 1000, ar_epochs: int = 25, sunspots_epochs: int = 60, out: Path | None = None
) -> dict[str, dict[str, dict]]:
    """Fit AR-Net and Classic-AR on the sparse AR(3) process and on sunspots; score each on its test split.

    Args:
        n_samples: windows in each split of the AR(3) process (the paper's small-data case: 1000).
        ar_epochs, sunspots_epochs: AR-Net's training epochs on each series.
        out: folder for ``arnet_<series>.png`` (forecasts and weights per lag); None writes no figures.

    Returns:
        ``{series: {model: {"mse", "mae", "stpe", "seconds"}}}`` for series ``ar3_sparse`` and
        ``sunspots`` and models ``AR-Net`` and ``Classic-AR``; ``stpe`` is None where the true
        coefficients are unknown (sunspots); ``seconds`` is the fit time.
    """
    L.seed_everything(0, verbose=False)
    ar3 = ARProcessData(n_train=n_samples, n_val=n_samples, n_test=n_samples, p=20, batch_size=25)
    sunspots = SunspotsData(p=12, batch_size=32)
    return {
        "ar3_sparse": _compare(
            "ar3_sparse", ARNetModule(p=20, p_data=3, lambda_scale=0.1, lr=3e-3), ar3, ar_epochs, out
        ),
        "sunspots": _compare("sunspots", ARNetModule(p=12, lr=1e-2), sunspots, sunspots_epochs, out),
    }


def run_forecast_demo(steps: int = 150, n_train: int = 2400, horizon: int = 24) -> dict[str, dict[str, float]]:
    """Fit each of :data:`FORECASTERS` for ``steps`` steps on the embedded series; test MSE / MAE beside the baselines.

    Args:
        steps: optimizer steps per forecaster (batch 32, lr 3e-3, cosine decay).
        n_train: training rows of the generated series (validation and test: a third of it each).
        horizon: steps forecast from 96 steps of input.

    Returns:
        ``{name: {"mse", "mae", "seconds"}}`` for each forecaster, then each baseline of
        :func:`~recur_timeseries.models.baselines.forecast_baselines` (``seconds`` 0).
    """
    results: dict[str, dict[str, float]] = {}
    for name, (model, options) in FORECASTERS.items():
        L.seed_everything(0, verbose=False)
        data = GeneratedForecastData(
            horizon=horizon, n_train=n_train, n_val=n_train // 3, n_test=n_train // 3, batch_size=32
        )
        module = ForecastModule(model, options, input_len=96, horizon=horizon, channels=7, lr=3e-3)
        trainer = quiet_trainer(max_steps=steps, num_sanity_val_steps=0, limit_val_batches=0)
        start = time.perf_counter()
        trainer.fit(module, datamodule=data)
        seconds = time.perf_counter() - start
        scores = trainer.test(module, datamodule=data, verbose=False)[0]
        results[name] = {"mse": scores["test/mse"], "mae": scores["test/mae"], "seconds": seconds}
    # every forecaster was tested on the same windows: the last test run's baselines are everyone's
    for key, label in BASELINES.items():
        results[label] = {"mse": scores[f"test/mse_{key}"], "mae": scores[f"test/mae_{key}"], "seconds": 0.0}
    return results


def main() -> None:
    out = Path(os.environ.get("RECUR_RUNS", "runs")) / "demo"
    # the table below is the demo's output; Lightning's device and tip lines, and the deprecation
    # warnings Lightning and torchdata raise inside their own code, would bury it
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(lightning|torchdata)\.")
        results = run_demo(out=out)
        forecasts = run_forecast_demo()

    print(f"{'series':<12} {'model':<11} {'test MSE':>9} {'test MAE':>9} {'sTPE':>6} {'fit s':>7}")
    for series, rows in results.items():
        for model, r in rows.items():
            stpe_text = "-" if r["stpe"] is None else f"{r['stpe']:.1f}"
            print(f"{series:<12} {model:<11} {r['mse']:>9.4f} {r['mae']:>9.4f} {stpe_text:>6} {r['seconds']:>7.2f}")
    print("errors in the series' units for ar3_sparse (noise variance 1), in training z-units for sunspots")
    print(f"figures: {out / 'arnet_ar3_sparse.png'}, {out / 'arnet_sunspots.png'}")
    print("\ngenerated 7-channel hourly series, 96 -> 24 steps, test split (z-units)")
    print(f"{'forecaster':<16} {'test MSE':>9} {'test MAE':>9} {'fit s':>7}")
    for name, r in forecasts.items():
        print(f"{name:<16} {r['mse']:>9.4f} {r['mae']:>9.4f} {r['seconds']:>7.2f}")
