"""Aaren vs attention as ETTh1 forecasters (96 → 96): test error, and inference memory while streaming.

Paper: Feng, Tung, Hajimirsadeghi, Ahmed, Bengio & Mori, "Attention as an RNN", 2024,
https://arxiv.org/abs/2405.13956.

Claims checked: on time-series forecasting (the paper's ETT experiments follow the Time Series
Library, with the Transformer's attention replaced by Aaren) Aaren is comparable to the Transformer,
here: test MSE within 5 % of the attention counterpart's; and Aaren's inference memory is constant in
the number of observations read, where attention's KV cache grows with it.

Set-up here (CPU scale, shortened from the paper's):

- The ``aaren/etth1_96`` recipe, as ``recur-timeseries fit`` builds it (``tools/repro/_ltsf.py``):
  ETTh1 from the data root in the long-term-forecasting protocol (12/4/4-month splits, z-scored with
  training statistics, all 7 variables in and out, input 96, horizon 96), the
  :class:`recur_timeseries.models.aaren.AarenForecaster` at the recipe's size (D = 64, 2 blocks, 4
  heads, feed-forward 2×D, dropout 0.1; TSLib: D = 512, 2 encoder + 1 decoder layers) trained by
  :class:`recur_timeseries.task.ForecastModule` (AdamW, lr 1e-3, 100 warm-up steps then cosine,
  batch 32), once with ``layer="aaren"`` and once with ``layer="attention"`` (causal, rotary),
  nothing else changed; ``--epochs`` epochs (default 3, the recipe 10; ``--quick``: 150 steps),
  validated after each, the weights of the lowest validation MSE tested, one thread. Reference errors
  from the same test run: repeat-last, seasonal naive (one day back) and least squares.
- Memory: each trained model reads a stream of the test split plus its continuation (the series
  repeated) with ``prefill`` up to T − 1 observations and one ``step``; the bytes of the state
  (:func:`recur_timeseries.models.aaren.state_nbytes`) at T = 96, 1024, 4096 (batch 1), and the
  step's forecast against ``forward`` on the same T observations as a check.
- Verdicts: MSE(aaren) ≤ 1.05 × MSE(attention); aaren's state the same at every T while attention's
  grows in proportion to T.

Outputs under ``--out`` (default ``runs/repro/aaren_forecast``): ``forecast.csv`` (arm, seed, val/test
MSE and MAE, CPU seconds), ``memory.csv``, ``aaren_forecast.png`` (test MSE per arm with the references,
state bytes against T), ``claims.csv``.

.. code-block:: bash

    RECUR_DATA=../shared/data .venv/bin/python tools/repro/aaren_forecast.py          # about 2 min
    RECUR_DATA=../shared/data .venv/bin/python tools/repro/aaren_forecast.py --quick  # 150 steps per arm
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from pathlib import Path

import torch
from _ltsf import BASELINE_LABELS, BASELINES, from_recipe, train_and_test
from torch import Tensor

from recur_core.repro import (
    Claim,
    invoked_command,
    outcome,
    repro_parser,
    write_claims,
    write_rows,
)
from recur_timeseries.datamodules import ForecastData
from recur_timeseries.models.aaren import AarenForecaster, state_nbytes

PAPER = "Feng et al. 2024, Attention as an RNN (Aaren)"
ARMS = ("aaren", "attention")
INPUT_LEN = HORIZON = 96
RECIPE = "aaren/etth1_96"
BATCH = 32
MEMORY_LENGTHS = (96, 1024, 4096)
MSE_RATIO = 1.05


def train_arm(layer: str, dataset: str, epochs: int | None, steps: int | None) -> tuple[dict, ForecastData]:
    """Fit the ``aaren/etth1_96`` recipe with ``layer`` as its mixer; test the best validation weights."""
    module, data, _ = from_recipe(RECIPE, dataset, "M", INPUT_LEN, HORIZON, BATCH, {"layer": layer})
    start = time.process_time()
    result = train_and_test(module, data, epochs=epochs, steps=steps, val_every=steps)
    row = {
        "arm": layer,
        "val_mse": result["val_mse"],
        "test_mse": result["test/mse"],
        "test_mae": result["test/mae"],
        "cpu_seconds": time.process_time() - start,
        "val_curve": [value for _, value in result["curve"]],
        "model": module.net,
        "references": {BASELINE_LABELS[b]: result[f"test/mse_{b}"] for b in BASELINES},
    }
    return row, data


@torch.no_grad()
def memory_after(model: AarenForecaster, stream: Tensor, length: int) -> tuple[int, float]:
    """State bytes after ``length`` observations of ``stream`` [T, C] (prefill T − 1, then one step), and the
    step's max deviation from ``forward`` on the same observations."""
    model.eval()
    x = stream[:length][None]
    _, state = model.prefill(x[:, :-1])
    forecast, state = model.step(x[:, -1], state)
    return state_nbytes(state), float((forecast - model(x)).abs().max())


def _plot(path: Path, rows: list[dict], refs: dict[str, float], memory: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mse, ax_mem) = plt.subplots(1, 2, figsize=(9, 3.6))
    names = [*ARMS, *refs]
    values = [next(r["test_mse"] for r in rows if r["arm"] == a) for a in ARMS] + list(refs.values())
    ax_mse.bar(names, values, color=["C0", "C1", "0.6", "0.75"])
    ax_mse.set_title(f"ETTh1 {INPUT_LEN}→{HORIZON} (M): test MSE")
    ax_mse.tick_params(axis="x", labelsize=8)
    for arm, color in zip(ARMS, ("C0", "C1")):
        ax_mem.plot(MEMORY_LENGTHS, [memory[arm, t] for t in MEMORY_LENGTHS], marker="o", color=color, label=arm)
    ax_mem.set_xscale("log", base=2)
    ax_mem.set_yscale("log")
    ax_mem.set_xlabel("observations read")
    ax_mem.set_title("inference state (bytes, batch 1)")
    ax_mem.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/aaren_forecast", quick_help="150 optimizer steps per arm")
    parser.add_argument("--dataset", default="ETTh1", help="ETT file under $RECUR_DATA/ETT-small (default ETTh1)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per arm (default 3; the recipe: 10)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs, steps = (None, 150) if args.quick else (args.epochs, None)
    budget = f"{steps} steps" if steps else f"{epochs} epoch(s)"
    print(f"{args.dataset} {INPUT_LEN}->{HORIZON} M, recipe {RECIPE}, {budget} per arm", flush=True)

    results = []
    for arm in ARMS:
        try:
            result, data = train_arm(arm, args.dataset, epochs, steps)
        except FileNotFoundError as err:  # the dataset is not under the data root: one line says how to get it
            raise SystemExit(f"aaren_forecast: {err}") from None
        results.append(result)
        curve = " ".join(f"{v:.4f}" for v in result["val_curve"])
        print(
            f"  {arm:<9} val MSE per pass {curve}; test MSE {result['test_mse']:.4f} MAE {result['test_mae']:.4f} "
            f"({result['cpu_seconds']:.0f} CPU s)",
            flush=True,
        )
    refs = results[0]["references"]
    columns = ["arm", "val_mse", "test_mse", "test_mae", "cpu_seconds"]
    write_rows(args.out / "forecast.csv", results, columns, digits=5)

    # a stream longer than the test split: the test split, then the series again from the start of training
    stream = torch.cat([torch.as_tensor(data.dataset(s).values, dtype=torch.float32) for s in ("test", "train")])
    memory, deviation = {}, 0.0
    for result in results:
        for length in MEMORY_LENGTHS:
            memory[result["arm"], length], dev = memory_after(result["model"], stream, length)
            deviation = max(deviation, dev)
    write_rows(
        args.out / "memory.csv",
        [{"arm": a, "observations": t, "state_bytes": memory[a, t]} for a in ARMS for t in MEMORY_LENGTHS],
    )
    _plot(args.out / "aaren_forecast.png", results, refs, memory)

    by_arm = {r["arm"]: r for r in results}
    print(f"\n{'':<16}{'test MSE':>10}{'test MAE':>10}")
    for arm in ARMS:
        print(f"{arm:<16}{by_arm[arm]['test_mse']:>10.4f}{by_arm[arm]['test_mae']:>10.4f}")
    for name, value in refs.items():
        print(f"{name:<16}{value:>10.4f}")
    print("\ninference state after T observations (batch 1), bytes")
    print(f"{'arm':<10} " + " ".join(f"{f'T={t}':>10}" for t in MEMORY_LENGTHS))
    for arm in ARMS:
        print(f"{arm:<10} " + " ".join(f"{memory[arm, t]:>10}" for t in MEMORY_LENGTHS))
    print(f"  step vs forward on the same observations: max deviation {deviation:.1e}")

    mse_a, mse_t = by_arm["aaren"]["test_mse"], by_arm["attention"]["test_mse"]
    mse_ok = mse_a <= MSE_RATIO * mse_t
    aaren_bytes = [memory["aaren", t] for t in MEMORY_LENGTHS]
    attention_bytes = [memory["attention", t] for t in MEMORY_LENGTHS]
    growth = attention_bytes[-1] / attention_bytes[0]
    memory_ok = len(set(aaren_bytes)) == 1 and growth >= 0.9 * MEMORY_LENGTHS[-1] / MEMORY_LENGTHS[0]
    print("\nverdicts")
    print(f"  test MSE aaren {mse_a:.4f} <= {MSE_RATIO} x attention {mse_t:.4f} -> {'held' if mse_ok else 'NOT held'}")
    print(
        f"  state bytes aaren {aaren_bytes} (constant), attention {attention_bytes} (x{growth:.1f}) -> "
        f"{'held' if memory_ok else 'NOT held'}"
    )

    setting = f"{args.dataset} {INPUT_LEN}->{HORIZON} (M), recipe {RECIPE} (D 64, 2 blocks), {budget} per arm"
    command = invoked_command()
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="Aaren forecasts as well as the Transformer (attention) on ETT",
                measured=f"{setting}: test MSE aaren {mse_a:.4f} (MAE {by_arm['aaren']['test_mae']:.4f}), attention "
                f"{mse_t:.4f} (MAE {by_arm['attention']['test_mae']:.4f}), ratio {mse_a / mse_t:.3f}; repeat-last "
                f"{refs['repeat-last']:.4f}, seasonal naive {refs['seasonal naive']:.4f}, least squares "
                f"{refs['least squares']:.4f}",
                reproduced=outcome(int(mse_ok), 1),
                command=command,
            ),
            Claim(
                paper=PAPER,
                claim="Aaren's inference memory is constant in the number of observations, unlike attention's KV cache",
                measured="state bytes after "
                + "/".join(map(str, MEMORY_LENGTHS))
                + f" observations (batch 1): aaren {'/'.join(map(str, aaren_bytes))}, attention "
                + "/".join(map(str, attention_bytes)),
                reproduced="yes" if memory_ok else "no",
                command=command,
            ),
        ],
    )
    written = ", ".join(str(args.out / name) for name in ("forecast.csv", "memory.csv", "aaren_forecast.png"))
    print(f"\nwrote {written}, claims.csv")


if __name__ == "__main__":
    main()
