"""ReGENN on chickenpox: the graph-evolution forecaster against per-variable AR and an LSTM forecaster.

Paper: Spadon, Hong, Brandoli, Matwin, Rodrigues-Jr & Sun (2022), "Pay Attention to Evolution: Time
Series Forecasting with Deep Graph-Evolution Learning", IEEE TPAMI, https://arxiv.org/abs/2008.12833;
official code https://github.com/gabrielspadon/ReGENN.

Claim checked (paraphrased): on multivariate epidemic series ReGENN forecasts better (lower MAE,
RMSE, MSLE) than statistical baselines and recurrent networks; its headline is +64.87 % over the
statistical and ensemble baselines on JHU SARS-CoV-2 cases of 188 countries. That data set is not
in the snapshot, so this script uses the closest one that is: PyTorch Geometric Temporal's weekly
chickenpox cases of 20 Hungarian counties (521 weeks).

Set-up. Data: :class:`recur_timeseries.datamodules.GraphSeriesData` (``regenn/chickenpox``): 12
weeks in, 4 out, chronological 70/10/20 split, every county divided by its largest absolute training
value (the official per-variable maximum). The file stores each county z-scored, so values are
negative below average: MSLE (for counts) is undefined here and is not reported, and ReGENN's output
is linear instead of the official ReLU. Models, each trained with the official recipe where it
applies (MAE loss, Adam 1e-3, batch 32, gradient-norm clip 10, dropout 0.1) for ``--epochs`` epochs,
keeping the epoch of lowest validation MAE (the official early stopping, shortened), over
``--seeds`` seeds: ReGENN (``regenn``, LSTM gate and sequencer, AR branch, the co-occurrence graph
built in the first epoch) and the LSTM forecaster (the foundation's ``seq2seq`` with ``layer=lstm``,
d_model 64). Per-variable AR: :class:`recur_timeseries.models.baselines.PerVariableAR`, one least-squares
map 12 → 4 per county. Repeat-last for reference. Errors: test MAE and RMSE in normalised units,
mean ± standard deviation over seeds. The claim holds where ReGENN's mean test MAE is the lowest of
the three.

Outputs under ``--out`` (default ``runs/repro/regenn``): ``results.csv`` (one row per model and
seed), ``regenn.png`` (test MAE per model), ``claims.csv``.

.. code-block:: bash

    RECUR_DATA=../shared/data .venv/bin/python tools/repro/regenn.py          # 3 seeds x 80 epochs, about 6 min
    RECUR_DATA=../shared/data .venv/bin/python tools/repro/regenn.py --quick  # 1 seed x 15 epochs
"""

from __future__ import annotations

import os

# one thread for torch and numpy's BLAS; set before numpy and torch load
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from recur_core import get_model
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_timeseries.data.forecasting import ForecastWindows
from recur_timeseries.datamodules import GraphSeriesData
from recur_timeseries.metrics import mae, rmse
from recur_timeseries.models.baselines import PerVariableAR, forecast_repeat_last

PAPER = "Spadon et al. 2022, ReGENN"
INPUT_LEN, HORIZON, CHANNELS = 12, 4, 20
NEURAL = {
    "regenn": ("regenn", {"layer": "lstm", "dropout": 0.1, "autoregression": True, "output": "identity"}),
    "lstm": ("seq2seq", {"layer": "lstm", "d_model": 64, "dropout": 0.1}),
}
LABELS = {"regenn": "ReGENN", "per_variable_ar": "per-variable AR", "lstm": "LSTM", "repeat_last": "repeat-last"}


def train(name: str, windows: dict[str, ForecastWindows], epochs: int, seed: int) -> tuple[torch.nn.Module, int]:
    """Fit one neural model with the official recipe; return it at its best validation epoch."""
    torch.manual_seed(seed)
    builder, kwargs = NEURAL[name]
    model = get_model(builder, input_len=INPUT_LEN, horizon=HORIZON, channels=CHANNELS, **kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_set, val = windows["train"], windows["val"]
    generator = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch = float("inf"), None, -1
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(train_set), generator=generator).split(32):
            loss = F.l1_loss(model(train_set.inputs[batch]), train_set.targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
        if hasattr(model, "on_train_epoch_end"):
            model.on_train_epoch_end(epoch)  # ReGENN: the co-occurrence graph is fixed after epoch 0
        model.eval()
        with torch.no_grad():
            error = float(mae(model(val.inputs), val.targets))
        if error < best:
            best, best_state, best_epoch = error, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return model.eval(), best_epoch


def scores(forecast: torch.Tensor, test: ForecastWindows) -> dict[str, float]:
    targets = test.targets.double()
    return {"mae": float(mae(forecast.double(), targets)), "rmse": float(rmse(forecast.double(), targets))}


def _plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["model"] for r in rows))
    means = [np.mean([r["mae"] for r in rows if r["model"] == n]) for n in names]
    stds = [np.std([r["mae"] for r in rows if r["model"] == n]) for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([LABELS[n] for n in names], means, yerr=stds, color=["C3" if n == "regenn" else "C0" for n in names])
    ax.set_ylabel("test MAE (normalised)")
    ax.set_title(f"chickenpox, {INPUT_LEN} → {HORIZON} weeks (mean ± sd over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/regenn", "1 seed x 15 epochs")
    parser.add_argument("--epochs", type=int, default=80, help="training epochs of each neural model")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds of each neural model")
    args = parser.parse_args()
    epochs, seeds = (15, 1) if args.quick else (args.epochs, args.seeds)
    torch.set_num_threads(1)
    data = GraphSeriesData(dataset="chickenpox", input_len=INPUT_LEN, horizon=HORIZON, normalization="max")
    windows = {split: data.dataset(split) for split in ("train", "val", "test")}
    test = windows["test"]
    print(f"chickenpox: {len(windows['train'])} / {len(windows['val'])} / {len(test)} windows", flush=True)
    rows = []
    ar = PerVariableAR.fit(windows["train"].inputs, windows["train"].targets)
    for name, forecast in (
        ("repeat_last", forecast_repeat_last(test.inputs, HORIZON)),
        ("per_variable_ar", ar.predict(test.inputs)),
    ):
        rows.append({"model": name, "seed": "", "best_epoch": "", "seconds": 0.0, **scores(forecast, test)})
    for name in NEURAL:
        for seed in range(seeds):
            start = time.perf_counter()
            model, best_epoch = train(name, windows, epochs, seed)
            with torch.no_grad():
                row = scores(model(test.inputs), test)
            seconds = round(time.perf_counter() - start, 1)
            rows.append({"model": name, "seed": seed, "best_epoch": best_epoch, "seconds": seconds, **row})
            print(
                f"  {LABELS[name]} seed {seed}: MAE {row['mae']:.4f} RMSE {row['rmse']:.4f} ({seconds} s)", flush=True
            )
    out = args.out
    write_rows(out / "results.csv", rows, digits=5)
    _plot(out / "regenn.png", rows)
    mean = {n: float(np.mean([r["mae"] for r in rows if r["model"] == n])) for n in LABELS}
    mean_rmse = {n: float(np.mean([r["rmse"] for r in rows if r["model"] == n])) for n in LABELS}
    for n in LABELS:
        print(f"{LABELS[n]:>16}: test MAE {mean[n]:.4f}  RMSE {mean_rmse[n]:.4f}")
    rivals = ("per_variable_ar", "lstm")
    # a win needs a 1 % lower MAE: the seeds' spread is about that, so a smaller gap is a tie
    held = sum(mean["regenn"] < 0.99 * mean[r] for r in rivals)
    measured = (
        f"chickenpox {INPUT_LEN}->{HORIZON} weeks, test MAE / RMSE (normalised, mean of {seeds} seed(s), "
        f"{epochs} epochs): ReGENN {mean['regenn']:.4f} / {mean_rmse['regenn']:.4f}, per-variable AR "
        f"{mean['per_variable_ar']:.4f} / {mean_rmse['per_variable_ar']:.4f}, LSTM {mean['lstm']:.4f} / "
        f"{mean_rmse['lstm']:.4f}, repeat-last {mean['repeat_last']:.4f} / {mean_rmse['repeat_last']:.4f}; "
        f"MSLE not defined on this z-scored file; a win needs a 1 % lower MAE"
    )
    claim = Claim(
        paper=PAPER,
        claim="ReGENN forecasts multivariate epidemic series better than statistical (AR) and recurrent (LSTM) "
        "baselines (headline: +64.87% over statistical and ensemble baselines on JHU SARS-CoV-2, 188 countries)",
        measured=measured,
        reproduced=outcome(held, len(rivals)),
        command=invoked_command(),
    )
    print(f"claims: {write_claims(out, [claim])}")


if __name__ == "__main__":
    main()
