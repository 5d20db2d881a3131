"""Streaming forecasts: the cost of one new observation after T, Aaren against attention with a KV cache.

    .venv/bin/python tools/bench/aaren_stream.py --threads 1                 # T = 256, 1024, 4096; ~1 min
    .venv/bin/python tools/bench/aaren_stream.py --threads 1 --lengths 256 4096 16384

Both candidates are :class:`recur_timeseries.models.aaren.AarenForecaster` of the same size (the
``aaren/etth1_96`` recipe's: C = 7, H = 96, D = 64, 2 blocks, 4 heads), one with ``layer="aaren"``
(the paper's forecaster) and one with ``layer="attention"`` (the Transformer counterpart: causal
softmax attention, its state a KV cache). For every T the model reads T observations in parallel
(``prefill``), then a run is :data:`STEPS_PER_RUN` calls of ``step`` from that state (batch 1, no
grad): one new observation and the full H × C forecast each. Runs are interleaved across all
candidates and timed until their median settles (``_stable_timing.py``).

Printed per T: ms per step and state bytes of each arm, attention / Aaren (time), and per arm the
step time at T over the step time at the smallest T (flat: ~1). The paper's claim, checked here:
Aaren's cost and memory per new token do not grow with T (goal: time ratio <= 1.25 from the smallest to
the largest T and the same bytes), while attention's KV cache grows in proportion to T.
"""

from __future__ import annotations

import argparse
import sys

import torch
from _stable_timing import Settle, stable_times

from recur_timeseries.models.aaren import AarenForecaster, state_nbytes

ARMS = ("aaren", "attention")
STEPS_PER_RUN = 10
FLAT_GOAL = 1.25


def forecaster(layer: str, args: argparse.Namespace) -> AarenForecaster:
    torch.manual_seed(0)
    model = AarenForecaster(
        input_len=96,
        horizon=args.horizon,
        channels=args.channels,
        d_model=args.d_model,
        num_layers=args.layers,
        num_heads=args.heads,
        layer=layer,
    )
    return model.eval()


def stepper(model: AarenForecaster, state, x_t: torch.Tensor):
    def run() -> None:
        with torch.no_grad():
            for _ in range(STEPS_PER_RUN):
                model.step(x_t, state)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096], help="observations read first")
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--time-cap", type=float, default=4.0, help="seconds of timed runs per candidate")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    lengths = sorted(args.lengths)
    models = {arm: forecaster(arm, args) for arm in ARMS}
    series = torch.randn(1, lengths[-1] + 1, args.channels, generator=torch.Generator().manual_seed(0))
    x_t = series[:, -1]
    timers, nbytes = {}, {}
    with torch.no_grad():
        for arm, model in models.items():
            for length in lengths:
                _, state = model.prefill(series[:, :length])
                nbytes[arm, length] = state_nbytes(state)
                timers[f"{arm} {length}"] = stepper(model, state, x_t)
    settle = Settle(time_cap=args.time_cap, max_repeats=40)
    timings = stable_times(timers, settle)
    ms = {key: timings[f"{key[0]} {key[1]}"].median / STEPS_PER_RUN * 1e3 for key in nbytes}
    spread = {key: timings[f"{key[0]} {key[1]}"].spread for key in nbytes}

    print(
        f"one step (new observation -> {args.horizon}x{args.channels} forecast), batch 1, D {args.d_model}, "
        f"{args.layers} blocks, {args.heads} heads, {torch.get_num_threads()} thread(s); "
        f"median of {STEPS_PER_RUN}-step runs [IQR %]"
    )
    header = f"{'T':>7}" + "".join(f"{a + ' ms':>18}{a + ' bytes':>18}" for a in ARMS) + f"{'attn/aaren':>12}"
    print(header)
    for length in lengths:
        cells = "".join(
            f"{f'{ms[a, length]:.3f} [{100 * spread[a, length]:.0f}]':>18}{nbytes[a, length]:>18}" for a in ARMS
        )
        print(f"{length:>7}{cells}{ms['attention', length] / ms['aaren', length]:>12.2f}")
    first, last = lengths[0], lengths[-1]
    growth = {a: ms[a, last] / ms[a, first] for a in ARMS}
    print(
        f"step time T={last} / T={first}: "
        + ", ".join(f"{a} {growth[a]:.2f}x" for a in ARMS)
        + f"; state bytes T={last} / T={first}: "
        + ", ".join(f"{a} {nbytes[a, last] / nbytes[a, first]:.1f}x" for a in ARMS)
    )
    flat = growth["aaren"] <= FLAT_GOAL and nbytes["aaren", last] == nbytes["aaren", first]
    print(
        f"goal: Aaren flat in T (time <= {FLAT_GOAL}x, same bytes) -> {'met' if flat else 'MISSED'}; "
        f"attention's state grew {nbytes['attention', last] / nbytes['attention', first]:.1f}x for "
        f"{last / first:.0f}x the observations"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
