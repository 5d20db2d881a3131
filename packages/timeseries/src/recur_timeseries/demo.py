"""``recur demo`` for recur_timeseries: AR-Net beside Classic-AR on two embedded series.

1. The AR-Net paper's sparse case (Triebe et al. 2019, https://arxiv.org/abs/1911.12436): 1000
   samples of the AR(3) process [0.2, 0.3, -0.5] fitted with p = 20 lags; AR-Net uses the sparsity
   prior with the order guess p_data = 3. sTPE scores the recovered coefficients.
2. Yearly sunspot numbers (statsmodels' copy), z-scored, p = 12, no prior; the last 15 % of years
   are the test split.

AR-Net is trained by the same :class:`~recur_timeseries.engine.ARNetModule` as the CLI, with the
Lightning Trainer (its fit time includes Lightning's per-epoch overhead); Classic-AR is least
squares on the same training windows. Errors are on the test split. Prints a table and writes
``runs/demo/arnet_<series>.png`` (``RECUR_RUNS`` moves ``runs``).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import lightning as L
import torch

from recur_timeseries.baselines import ClassicAR
from recur_timeseries.engine import ARNetModule, ARProcessData, LagWindowData, SunspotsData
from recur_timeseries.metrics import mae, mse, stpe
from recur_timeseries.plots import plot_ar_fit

__all__ = ["main"]


def _fit_arnet(module: ARNetModule, data: LagWindowData, epochs: int) -> tuple[ARNetModule, float]:
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    return module.eval(), time.perf_counter() - start


def _compare(name: str, module: ARNetModule, data: LagWindowData, epochs: int, out: Path) -> list[dict]:
    module, arnet_seconds = _fit_arnet(module, data, epochs)
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
    shown = slice(0, min(150, len(truth)))
    plot_ar_fit(
        out / f"arnet_{name}.png",
        truth[shown],
        {k: v[shown] for k, v in forecasts.items()},
        coefficients,
        true,
        title=f"{name}: p = {data.p}, test split",
    )
    return [
        {
            "series": name,
            "model": model,
            "mse": float(mse(forecasts[model], truth)),
            "mae": float(mae(forecasts[model], truth)),
            "stpe": None if true is None else stpe(coefficients[model], true),
            "seconds": seconds[model],
        }
        for model in ("AR-Net", "Classic-AR")
    ]


def main() -> None:
    out = Path(os.environ.get("RECUR_RUNS", "runs")) / "demo"
    # the table below is the demo's output; Lightning's device and tip lines would bury it
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(0, verbose=False)
    rows = _compare(
        "ar3_sparse",
        ARNetModule(p=20, p_data=3, lambda_scale=0.1, lr=3e-3),
        ARProcessData(n_train=1000, n_val=1000, n_test=1000, p=20, batch_size=25),
        epochs=25,
        out=out,
    )
    rows += _compare("sunspots", ARNetModule(p=12, lr=1e-2), SunspotsData(p=12, batch_size=32), epochs=60, out=out)

    print(f"{'series':<12} {'model':<11} {'test MSE':>9} {'test MAE':>9} {'sTPE':>6} {'fit s':>7}")
    for r in rows:
        stpe_text = "-" if r["stpe"] is None else f"{r['stpe']:.1f}"
        print(
            f"{r['series']:<12} {r['model']:<11} {r['mse']:>9.4f} {r['mae']:>9.4f} {stpe_text:>6} {r['seconds']:>7.2f}"
        )
    print("errors in the series' units for ar3_sparse (noise variance 1), in training z-units for sunspots")
    print(f"figures: {out / 'arnet_ar3_sparse.png'}, {out / 'arnet_sunspots.png'}")
