"""Aaren vs attention as ETTh1 forecasters (96 → 96): test error, and inference memory while streaming.

Paper: Feng, Tung, Hajimirsadeghi, Ahmed, Bengio & Mori, "Attention as an RNN", 2024,
https://arxiv.org/abs/2405.13956.

Claims checked: on time-series forecasting (the paper's ETT experiments follow the Time Series
Library, with the Transformer's attention replaced by Aaren) Aaren is comparable to the Transformer,
here: test MSE within 5 % of the attention counterpart's; and Aaren's inference memory is constant in
the number of observations read, where attention's KV cache grows with it.

Set-up here (CPU scale, shortened from the paper's):

- Data: ETTh1 from the data root (``$RECUR_DATA/ETT-small/ETTh1.csv``), the long-term-forecasting
  protocol (:func:`recur_timeseries.data.ett.ett_forecast_windows`: 12/4/4-month splits, z-scored
  with training statistics, all 7 variables in and out, input 96, horizon 96); every window of each
  split (``--stride`` n trains on every n-th training window only).
- Models: :class:`recur_timeseries.models.aaren.AarenForecaster` (the ``aaren/etth1_96`` recipe's
  size: D = 64, 2 blocks, 4 heads, feed-forward 2×D, dropout 0.1; TSLib: D = 512, 2 encoder + 1
  decoder layers), ``layer="aaren"`` vs ``layer="attention"`` (causal, rotary), nothing else changed.
- Training, the same for both arms: AdamW (weight decay 0), lr 1e-3 with 10 % warm-up then cosine,
  batch 32, ``--epochs`` epochs (default 3; TSLib: up to 10 with early stopping at lr 1e-4), gradient
  clipping at 1, one thread; the weights of the epoch with the lowest validation MSE are tested.
  Reference errors on the same test windows: repeat-last and seasonal naive (one day back).
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

    RECUR_DATA=../shared/data .venv/bin/python tools/repro/aaren_forecast.py          # 1.7 CPU-min
    RECUR_DATA=../shared/data .venv/bin/python tools/repro/aaren_forecast.py --quick  # 1 epoch, every 8th window
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.data import data_root
from recur_core.repro import (
    Claim,
    invoked_command,
    outcome,
    repro_parser,
    shuffled_batches,
    train_adamw,
    write_claims,
    write_rows,
)
from recur_timeseries.data.ett import ett_forecast_windows
from recur_timeseries.models.aaren import AarenForecaster, state_nbytes

PAPER = "Feng et al. 2024, Attention as an RNN (Aaren)"
ARMS = ("aaren", "attention")
INPUT_LEN = HORIZON = 96
MODEL = {"d_model": 64, "num_layers": 2, "num_heads": 4, "mlp_ratio": 2.0, "dropout": 0.1}
MEMORY_LENGTHS = (96, 1024, 4096)
MSE_RATIO = 1.05


@torch.no_grad()
def evaluate(model: AarenForecaster, inputs: Tensor, targets: Tensor, batch: int = 256) -> tuple[float, float]:
    """Test-set MSE and MAE over every window (z-units)."""
    model.eval()
    sq = ab = 0.0
    for i in range(0, len(inputs), batch):
        error = model(inputs[i : i + batch]) - targets[i : i + batch]
        sq += float(error.double().pow(2).sum())
        ab += float(error.double().abs().sum())
    return sq / targets.numel(), ab / targets.numel()


def train_arm(layer: str, windows: dict, epochs: int, stride: int, lr: float, batch: int, seed: int) -> dict:
    """Train one arm epoch by epoch; keep the weights of the best validation epoch; test them."""
    torch.manual_seed(seed)
    model = AarenForecaster(INPUT_LEN, HORIZON, windows["train"].channels, layer=layer, **MODEL)
    x, y = windows["train"].inputs[::stride], windows["train"].targets[::stride]
    generator = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(len(x) / batch)
    val_x, val_y = windows["val"].inputs, windows["val"].targets
    curve: list[float] = []
    best, best_state = math.inf, None
    start = time.process_time()

    def validate() -> None:
        nonlocal best, best_state
        val_mse, _ = evaluate(model, val_x, val_y)
        model.train()
        curve.append(val_mse)
        if val_mse < best:
            best, best_state = val_mse, {k: v.clone() for k, v in model.state_dict().items()}

    def batches():
        # one cosine schedule over all epochs; validate at each epoch boundary, before the next epoch's first batch
        for step, idx in enumerate(shuffled_batches(len(x), batch, epochs, generator)):
            if step and step % per_epoch == 0:
                validate()
            yield idx

    train_adamw(model, batches(), lambda idx: F.mse_loss(model(x[idx]), y[idx]), epochs * per_epoch, lr, 0.0)
    validate()  # the last epoch
    model.load_state_dict(best_state)
    test_mse, test_mae = evaluate(model, windows["test"].inputs, windows["test"].targets)
    return {
        "model": model,
        "arm": layer,
        "seed": seed,
        "val_mse": best,
        "val_curve": curve,
        "test_mse": test_mse,
        "test_mae": test_mae,
        "cpu_seconds": time.process_time() - start,
    }


@torch.no_grad()
def memory_after(model: AarenForecaster, stream: Tensor, length: int) -> tuple[int, float]:
    """State bytes after ``length`` observations of ``stream`` [T, C] (prefill T − 1, then one step), and the
    step's max deviation from ``forward`` on the same observations."""
    model.eval()
    x = stream[:length][None]
    _, state = model.prefill(x[:, :-1])
    forecast, state = model.step(x[:, -1], state)
    return state_nbytes(state), float((forecast - model(x)).abs().max())


def references(windows: dict) -> dict[str, float]:
    test = windows["test"]
    last = test.inputs[:, -1:].expand_as(test.targets)
    period = test.period or 24
    season = test.inputs[:, -period:].repeat(1, math.ceil(HORIZON / period), 1)[:, :HORIZON]
    return {
        "repeat-last": float((last - test.targets).double().pow(2).mean()),
        "seasonal naive": float((season - test.targets).double().pow(2).mean()),
    }


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
    parser = repro_parser(__doc__, "runs/repro/aaren_forecast", quick_help="one epoch on every 8th training window")
    parser.add_argument("--dataset", default="ETTh1", help="ETT file under $RECUR_DATA/ETT-small (default ETTh1)")
    parser.add_argument("--epochs", type=int, help="epochs per arm (default 3, --quick 1)")
    parser.add_argument("--stride", type=int, help="train on every n-th training window (default 1, --quick 8)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate, both arms")
    parser.add_argument("--batch", type=int, default=32, help="training windows per step")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = data_root() / "ETT-small" / f"{args.dataset}.csv"
    if not path.is_file():
        raise SystemExit(
            f"aaren_forecast: no {path}; set RECUR_DATA to the folder holding ETT-small/{args.dataset}.csv"
        )
    epochs = args.epochs or (1 if args.quick else 3)
    stride = args.stride or (8 if args.quick else 1)
    windows = ett_forecast_windows(path, INPUT_LEN, HORIZON)
    refs = references(windows)
    print(
        f"{args.dataset} {INPUT_LEN}->{HORIZON} M: {len(windows['train'].inputs[::stride])} training windows "
        f"(every {stride}), {epochs} epoch(s), batch {args.batch}, lr {args.lr}, {MODEL}",
        flush=True,
    )

    results = []
    for arm in ARMS:
        result = train_arm(arm, windows, epochs, stride, args.lr, args.batch, args.seed)
        results.append(result)
        curve = " ".join(f"{v:.4f}" for v in result["val_curve"])
        print(
            f"  {arm:<9} val MSE per epoch {curve}; test MSE {result['test_mse']:.4f} MAE {result['test_mae']:.4f} "
            f"({result['cpu_seconds']:.0f} CPU s)",
            flush=True,
        )
    columns = ["arm", "seed", "val_mse", "test_mse", "test_mae", "cpu_seconds"]
    write_rows(args.out / "forecast.csv", results, columns, digits=5)

    # a stream longer than the test split: the test split, then the series again from the start of training
    stream = torch.cat([torch.as_tensor(windows[s].values, dtype=torch.float32) for s in ("test", "train")])
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

    setting = (
        f"{args.dataset} {INPUT_LEN}->{HORIZON} (M), D {MODEL['d_model']}, {MODEL['num_layers']} blocks, "
        f"{epochs} epoch(s) on {'every' if stride == 1 else f'every {stride}th'} training window, seed {args.seed}"
    )
    command = invoked_command()
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="Aaren forecasts as well as the Transformer (attention) on ETT",
                measured=f"{setting}: test MSE aaren {mse_a:.4f} (MAE {by_arm['aaren']['test_mae']:.4f}), attention "
                f"{mse_t:.4f} (MAE {by_arm['attention']['test_mae']:.4f}), ratio {mse_a / mse_t:.3f}; repeat-last "
                f"{refs['repeat-last']:.4f}, seasonal naive {refs['seasonal naive']:.4f}",
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
