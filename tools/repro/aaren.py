"""Aaren (attention as an RNN) vs softmax attention: accuracy, forecasting error and inference memory.

Paper: Feng, Tung, Hajimirsadeghi, Ahmed, Bengio & Mori, "Attention as an RNN", 2024,
https://arxiv.org/abs/2405.13956.

Claims checked: Aaren, softmax attention of a learned query over every prefix computed as an RNN
(a parallel prefix scan in training, an O(1) update per token at inference), is comparable to a
Transformer on time-series classification and forecasting (here: accuracy within 2 points, MSE
within 25%), and its inference state is constant in the sequence length, where attention's KV cache
grows linearly.

Set-up here (CPU scale):

- Classification: sklearn's digits (1,797 images of 8×8, pixel values / 16) read as 8 rows of 8
  pixels (T = 8, 8 features per step); a fixed split of 1,297 training and 500 test images.
- Forecasting: sinusoid mixtures generated here, each series
  :math:`x_t = \\sum_{j=1}^{3} a_j \\sin(2\\pi f_j t + \\varphi_j) + 0.05\\,\\epsilon_t` with
  :math:`a_j \\sim U(0.2, 1)`, :math:`f_j \\sim U(1/48, 1/6)`, :math:`\\varphi_j \\sim U(0, 2\\pi)`;
  64 steps are read and, at every step, the next 8 values are predicted (trained on the steps after
  the first 16, so every step gives a training signal); the score is the MSE of the forecast from the
  last step, the usual 64-in, 8-out window. 2,048 training and 512 test series. Reference MSEs:
  predicting zero, and repeating the last value.
- Models: :class:`recur_core.models.SequenceModel`, 2 blocks, d = 32, 4 heads, MLP ratio 2, readout
  from the last step (digits) or every step (forecasting); ``aaren`` vs ``attention`` (causal, rotary
  positions), nothing else changed.
- Training: the same for both arms: AdamW (weight decay 0.01), lr 3e-3 with 10% warm-up then cosine,
  batch 64, the same number of epochs; plain loop, one thread; 2 seeds (1 with ``--quick``).
- Memory: the trained forecasting models read T − 1 random steps with ``forward`` and one more with
  ``step``; the bytes of the returned state (:func:`recur_core.layers.base.flatten_state`, every
  block) are reported for T = 256, 1024 and 4096 (batch 1), with the step's agreement with
  ``forward`` on the same T tokens as a check.
- Verdicts: |accuracy(aaren) − accuracy(attention)| ≤ 2 points and MSE(aaren) ≤ 1.25 × MSE(attention)
  (means over seeds); memory: aaren's state the same at every T, attention's growing in proportion.

Outputs under ``--out`` (default ``runs/repro/aaren``): ``tasks.csv`` (arm, seed, digits accuracy,
forecasting MSE, training CPU seconds), ``memory.csv`` (arm, T, state bytes), ``aaren.png`` (accuracy, MSE and
state bytes against T), ``claims.csv``; a table and the verdicts are printed.

.. code-block:: bash

    .venv/bin/python tools/repro/aaren.py           # 6.9 CPU-min, one thread (7.1 min wall beside one other job)
    .venv/bin/python tools/repro/aaren.py --quick   # 1.6 min CPU, one thread (26 min wall on a busy machine)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.layers.base import flatten_state
from recur_core.models import SequenceModel
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

PAPER = "Feng et al. 2024, Attention as an RNN (Aaren)"
ARMS = ("aaren", "attention")
D_MODEL = 32
HEADS = 4
NUM_TRAIN_DIGITS = 1297
NUM_TRAIN_SERIES = 2048
CONTEXT, HORIZON, WARMUP = 64, 8, 16
MEMORY_LENGTHS = (256, 1024, 4096)
ACC_TOL, MSE_RATIO = 0.02, 1.25


def build(layer: str, input_dim: int, output_dim: int, readout: str = "last") -> SequenceModel:
    """Two blocks of ``layer`` with a linear stem and a head on the last step (or on every step)."""
    return SequenceModel(
        layer=layer,
        d_model=D_MODEL,
        n_layers=2,
        input_dim=input_dim,
        output_dim=output_dim,
        readout=readout,
        layer_kwargs={"num_heads": HEADS},
    )


def digits_rows(seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Digits as [N, 8, 8] sequences of pixel rows, split into train and test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    train, test = perm[:NUM_TRAIN_DIGITS], perm[NUM_TRAIN_DIGITS:]
    return images[train], labels[train], images[test], labels[test]


def sinusoid_mixtures(num: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Series of three random sinusoids plus noise: inputs [num, CONTEXT, 1] and, for every step t, the
    next HORIZON values, targets [num, CONTEXT, HORIZON]."""
    t = torch.arange(CONTEXT + HORIZON, dtype=torch.float32)
    amplitude = 0.2 + 0.8 * torch.rand(num, 3, 1, generator=generator)
    frequency = 1 / 48 + (1 / 6 - 1 / 48) * torch.rand(num, 3, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(num, 3, 1, generator=generator)
    series = (amplitude * torch.sin(2 * math.pi * frequency * t + phase)).sum(1)
    series = series + 0.05 * torch.randn(series.shape, generator=generator)
    return series[:, :CONTEXT, None], series.unfold(1, HORIZON, 1)[:, 1 : CONTEXT + 1]


def forecast_loss(predicted: Tensor, targets: Tensor) -> Tensor:
    """MSE of the forecasts from every step after the first WARMUP ones."""
    return F.mse_loss(predicted[:, WARMUP:], targets[:, WARMUP:])


def train(
    model: SequenceModel, x: Tensor, y: Tensor, loss_fn: Callable, epochs: int, batch: int, lr: float, seed: int
) -> None:
    """AdamW over shuffled mini-batches, 10% warm-up then cosine decay, gradient clipping at 1."""
    batches = shuffled_batches(len(x), batch, epochs, torch.Generator().manual_seed(seed))
    steps = epochs * math.ceil(len(x) / batch)
    train_adamw(model, batches, lambda idx: loss_fn(model(x[idx]), y[idx]), steps, lr, weight_decay=0.01)


@torch.no_grad()
def state_bytes(model: SequenceModel, seq_len: int) -> tuple[int, float]:
    """Bytes of the state after ``seq_len`` tokens (forward over T − 1, then one ``step``), and the step's
    max deviation from ``forward`` over the same T tokens."""
    model.eval()
    x = torch.randn(1, seq_len, 1, generator=torch.Generator().manual_seed(seq_len))
    _, states = model(x[:, :-1], return_state=True)
    y_step, states = model.step(x[:, -1], states)
    y_full = model(x)
    deviation = (y_step - (y_full[:, -1] if y_full.dim() == 3 else y_full)).abs().max().item()
    return sum(t.numel() * t.element_size() for s in states for t in flatten_state(s)), deviation


def _plot(path: Path, mean: dict[str, dict[str, float]], memory: dict[tuple[str, int], int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_mse, ax_mem) = plt.subplots(1, 3, figsize=(11, 3.6))
    colors = ["C0", "C1"]
    ax_acc.bar(ARMS, [mean[a]["digits_acc"] for a in ARMS], color=colors)
    ax_acc.set_ylim(min(mean[a]["digits_acc"] for a in ARMS) - 0.05, 1.0)
    ax_acc.set_title("digits (8 rows of 8): accuracy")
    ax_mse.bar(ARMS, [mean[a]["forecast_mse"] for a in ARMS], color=colors)
    ax_mse.set_title(f"sinusoid forecasting: MSE ({CONTEXT} in, {HORIZON} out)")
    for arm, color in zip(ARMS, colors):
        ax_mem.plot(MEMORY_LENGTHS, [memory[arm, t] for t in MEMORY_LENGTHS], marker="o", color=color, label=arm)
    ax_mem.set_xscale("log", base=2)
    ax_mem.set_yscale("log")
    ax_mem.set_xlabel("tokens read")
    ax_mem.set_title("inference state (bytes)")
    ax_mem.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/aaren", quick_help="fewer epochs and one seed")
    parser.add_argument("--epochs", type=int, help="epochs per task and arm (default 30, --quick 12)")
    parser.add_argument("--seeds", type=int, help="seeds per arm (default 2, --quick 1)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate, every arm")
    parser.add_argument("--batch", type=int, default=64, help="training sequences per step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs or (12 if args.quick else 30)
    seeds = range(args.seeds or (1 if args.quick else 2))
    digits = digits_rows()
    x_fc, y_fc = sinusoid_mixtures(NUM_TRAIN_SERIES, torch.Generator().manual_seed(0))
    x_fc_test, y_fc_test = sinusoid_mixtures(512, torch.Generator().manual_seed(1))
    reference = {
        "zero": y_fc_test[:, -1].pow(2).mean().item(),
        "last value": (y_fc_test[:, -1] - x_fc_test[:, -1]).pow(2).mean().item(),
    }
    print(f"{epochs} epochs x batch {args.batch} per task, lr {args.lr}, d {D_MODEL}, seeds {list(seeds)}")

    rows, forecasters = [], {}
    for seed in seeds:
        for arm in ARMS:
            start = time.process_time()
            torch.manual_seed(seed)
            classifier = build(arm, 8, 10)
            train(classifier, digits[0], digits[1], F.cross_entropy, epochs, args.batch, args.lr, seed)
            classifier.eval()
            with torch.no_grad():
                acc = (classifier(digits[2]).argmax(-1) == digits[3]).float().mean().item()
            torch.manual_seed(seed)
            forecaster = build(arm, 1, HORIZON, readout="token")
            train(forecaster, x_fc, y_fc, forecast_loss, epochs, args.batch, args.lr, seed)
            forecaster.eval()
            with torch.no_grad():
                mse = F.mse_loss(forecaster(x_fc_test)[:, -1], y_fc_test[:, -1]).item()
            forecasters[arm] = forecaster
            seconds = time.process_time() - start
            rows.append({"arm": arm, "seed": seed, "digits_acc": acc, "forecast_mse": mse, "cpu_seconds": seconds})
            print(
                f"  {arm:<9} seed {seed}: digits {acc:.3f}  forecast MSE {mse:.4f}  ({seconds:.0f} CPU s)", flush=True
            )

    columns = ["arm", "seed", "digits_acc", "forecast_mse", "cpu_seconds"]
    write_rows(args.out / "tasks.csv", rows, columns, digits=5)
    mean = {a: {k: statistics.fmean(r[k] for r in rows if r["arm"] == a) for k in columns[2:]} for a in ARMS}

    memory, deviation = {}, 0.0
    for arm in ARMS:
        for seq_len in MEMORY_LENGTHS:
            memory[arm, seq_len], dev = state_bytes(forecasters[arm], seq_len)
            deviation = max(deviation, dev)
    write_rows(
        args.out / "memory.csv",
        [{"arm": arm, "tokens": t, "state_bytes": memory[arm, t]} for arm in ARMS for t in MEMORY_LENGTHS],
    )
    _plot(args.out / "aaren.png", mean, memory)

    print(f"\nmean over {len(seeds)} seed(s)")
    print(f"{'arm':<10} {'digits acc':>10} {'forecast MSE':>13} {'CPU s':>8}")
    for a in ARMS:
        m = mean[a]
        print(f"{a:<10} {m['digits_acc']:>10.3f} {m['forecast_mse']:>13.4f} {m['cpu_seconds']:>8.0f}")
    print("  forecast references: " + ", ".join(f"{k} {v:.4f}" for k, v in reference.items()))
    print("\ninference state after T tokens (batch 1, both blocks), bytes")
    print(f"{'arm':<10} " + " ".join(f"{f'T={t}':>10}" for t in MEMORY_LENGTHS))
    for arm in ARMS:
        print(f"{arm:<10} " + " ".join(f"{memory[arm, t]:>10}" for t in MEMORY_LENGTHS))
    print(f"  step vs forward on the same tokens: max deviation {deviation:.1e}")

    acc_a, acc_t = mean["aaren"]["digits_acc"], mean["attention"]["digits_acc"]
    mse_a, mse_t = mean["aaren"]["forecast_mse"], mean["attention"]["forecast_mse"]
    task_checks = {
        f"digits accuracy aaren {acc_a:.1%} vs attention {acc_t:.1%} (within {ACC_TOL:.0%})": abs(acc_a - acc_t)
        <= ACC_TOL,
        f"forecast MSE aaren {mse_a:.4f} <= {MSE_RATIO} x attention {mse_t:.4f}": mse_a <= MSE_RATIO * mse_t,
    }
    aaren_bytes = [memory["aaren", t] for t in MEMORY_LENGTHS]
    attention_bytes = [memory["attention", t] for t in MEMORY_LENGTHS]
    growth = attention_bytes[-1] / attention_bytes[0]
    memory_ok = len(set(aaren_bytes)) == 1 and growth >= 0.9 * MEMORY_LENGTHS[-1] / MEMORY_LENGTHS[0]
    print("\nverdicts")
    for text, ok in task_checks.items():
        print(f"  {text} -> {'held' if ok else 'NOT held'}")
    print(
        f"  state bytes aaren {aaren_bytes} (constant), attention {attention_bytes} (x{growth:.1f} for "
        f"x{MEMORY_LENGTHS[-1] // MEMORY_LENGTHS[0]} tokens) -> {'held' if memory_ok else 'NOT held'}"
    )

    setting = f"d {D_MODEL}, 2 blocks, {epochs} epochs, {len(seeds)} seed(s)"
    command = invoked_command()
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="Aaren is comparable to a Transformer on time-series classification and forecasting",
                measured=f"{setting}: digits (8 rows of 8) accuracy aaren {acc_a:.1%}, attention {acc_t:.1%}; "
                f"sinusoid forecasting ({CONTEXT} in, {HORIZON} out) MSE aaren {mse_a:.4f}, attention {mse_t:.4f} "
                f"(last-value baseline {reference['last value']:.4f}); "
                f"{sum(task_checks.values())} of {len(task_checks)} checks hold",
                reproduced=outcome(sum(task_checks.values()), len(task_checks)),
                command=command,
            ),
            Claim(
                paper=PAPER,
                claim="Aaren's inference memory is constant in the number of tokens, unlike attention's KV cache",
                measured="state bytes after "
                + "/".join(str(t) for t in MEMORY_LENGTHS)
                + f" tokens (batch 1, 2 blocks): aaren {'/'.join(map(str, aaren_bytes))}, attention "
                + "/".join(map(str, attention_bytes)),
                reproduced="yes" if memory_ok else "no",
                command=command,
            ),
        ],
    )
    print(f"\nwrote {args.out / 'tasks.csv'}, {args.out / 'memory.csv'}, {args.out / 'aaren.png'}, claims.csv")


if __name__ == "__main__":
    main()
