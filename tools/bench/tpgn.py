"""TPGN training cost against a same-width LSTM and attention forecaster, at input lengths 168 and 720.

    nice -n 10 .venv/bin/python tools/bench/tpgn.py --threads 1              # L = 168, 720; H = 168; ~1-2 min
    nice -n 10 .venv/bin/python tools/bench/tpgn.py --threads 1 --lengths 168 336 720 1440

The paper (Jia et al., NeurIPS 2024, §4.4) claims TPGN trains faster and lighter than RNN and attention
forecasters on long windows: its PGN runs along R = L / 24 rows with an O(1) path, so the work per
window grows like L but the sequential depth like √L. Every candidate here gets the same windows
(batch 32, C channels, H = 168) and one "run" is :data:`STEPS_PER_RUN` training steps (forward,
MSE, backward, Adam), so ms per step × (windows / 32) is the time of an epoch:

- ``tpgn``: :class:`recur_timeseries.models.tpgn.TPGN` with the core ``pgn`` layer (one per channel,
  the official per-channel weights), width ``--d-model``;
- ``lstm`` / ``attention``: the registered ``seq2seq`` forecaster
  (:class:`recur_timeseries.models.baselines.Seq2SeqForecaster`), one residual block of the core ``lstm``
  or causal softmax ``attention`` layer of the same width over the L steps, a direct head to H × C.

Runs are interleaved across all candidates and timed until their median settles (``_stable_timing.py``).
Printed per L: ms per step, ms per ETTh1 epoch (8640 − L − H + 1 training windows), parameters, and
the ratios LSTM / TPGN and attention / TPGN (> 1: TPGN cheaper); then each model's growth from the
shortest to the longest L.
"""

from __future__ import annotations

import argparse
import sys

import torch
from _stable_timing import Settle, stable_times

from recur_core import get_model

STEPS_PER_RUN = 3
ETTH1_TRAIN_ROWS = 8640


def build(arm: str, input_len: int, args: argparse.Namespace) -> torch.nn.Module:
    torch.manual_seed(0)
    sizes = dict(input_len=input_len, horizon=args.horizon, channels=args.channels)
    if arm == "tpgn":
        return get_model("tpgn", d_model=args.d_model, **sizes)
    layer_kwargs = {"num_heads": args.heads} if arm == "attention" else None
    return get_model("seq2seq", layer=arm, layer_kwargs=layer_kwargs, d_model=args.d_model, **sizes)


def trainer(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        for _ in range(STEPS_PER_RUN):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[168, 720], help="input lengths L (multiples of 24)")
    parser.add_argument("--horizon", type=int, default=168)
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=16, help="width of every model")
    parser.add_argument("--heads", type=int, default=4, help="attention heads")
    parser.add_argument("--time-cap", type=float, default=5.0, help="seconds of timed runs per candidate")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    lengths, arms = sorted(args.lengths), ("tpgn", "lstm", "attention")
    generator = torch.Generator().manual_seed(0)
    candidates, params = {}, {}
    for length in lengths:
        x = torch.randn(args.batch, length, args.channels, generator=generator)
        y = torch.randn(args.batch, args.horizon, args.channels, generator=generator)
        for arm in arms:
            model = build(arm, length, args)
            params[arm, length] = sum(p.numel() for p in model.parameters())
            candidates[arm, length] = trainer(model, x, y)
    settle = Settle(max_repeats=15, time_cap=args.time_cap)
    timings = stable_times(candidates, settle)
    step = {key: timing.median / STEPS_PER_RUN for key, timing in timings.items()}

    print(
        f"training step (forward, MSE, backward, Adam): B={args.batch} C={args.channels} H={args.horizon} "
        f"d_model={args.d_model}, {torch.get_num_threads()} threads; median of settled runs"
    )
    print(f"{'L':>6}{'model':>11}{'params':>9}{'ms/step':>10}{'s/epoch':>9}{'spread':>8}{'x TPGN':>8}")
    for length in lengths:
        steps_per_epoch = (ETTH1_TRAIN_ROWS - length - args.horizon + 1) // args.batch
        for arm in arms:
            seconds, spread = step[arm, length], timings[arm, length].spread
            ratio = seconds / step["tpgn", length]
            print(
                f"{length:>6}{arm:>11}{params[arm, length]:>9}{seconds * 1e3:>10.2f}"
                f"{seconds * steps_per_epoch:>9.1f}{spread:>8.0%}{ratio:>8.2f}"
            )
    first, last = lengths[0], lengths[-1]
    growth = ", ".join(f"{arm} {step[arm, last] / step[arm, first]:.2f}x" for arm in arms)
    print(f"step time at L={last} over L={first} (L grows {last / first:.2f}x): {growth}")
    slower = [arm for arm in arms[1:] for length in lengths if step[arm, length] < step["tpgn", length]]
    verdict = "TPGN cheapest at every L" if not slower else f"TPGN slower than {', '.join(sorted(set(slower)))}"
    print(f"claim (TPGN trains faster than LSTM and attention forecasters): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
