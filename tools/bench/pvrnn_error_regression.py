"""PV-RNN's error regression: the time of one online step against the window W, beside a robot loop's budget.

    .venv/bin/python tools/bench/pvrnn_error_regression.py --threads 1                  # W = 5, 10, 20, 40; ~1 min
    .venv/bin/python tools/bench/pvrnn_error_regression.py --threads 1 --iterations 20 --windows 10 40

One online step of :class:`recur_planning.models.pvrnn.OnlineErrorRegression` (batch 1, as a robot reads
its sensors): the new observation slides the window, Adam runs ``--iterations`` iterations on the window's
adaptive vectors (each a forward and a backward pass over W steps with the weights frozen), then the prior
predicts ``--horizon`` steps. The model is the ``pvrnn/default`` recipe's size (two MTRNN levels, 40 + 20
units, z 4 + 2; weights as initialised: the time does not depend on their values). The references, timed in
the same interleaved runs (``_stable_timing.py``): W = 10 (the derivative code's window) and plain prior
generation of the same ``--horizon`` steps from the state (what the model costs without error regression).

Printed per W: ms per online step [IQR %], the ratio to W = 10, the ratio to prior generation, and whether
the step fits the budget of a ``--budget-hz`` control loop (default 50 Hz = 20 ms, Reacher-v5's dt). The
paper's point is that error regression's cost grows with the window (linear in W × N) and, unlike a
recognition network, is paid at every step; the ratios show how much.
"""

from __future__ import annotations

import argparse
import sys

import torch
from _stable_timing import Settle, stable_times

from recur_planning.models.pvrnn import PVRNN, OnlineErrorRegression


def online_step(model: PVRNN, window: int, iterations: int, horizon: int, stream: torch.Tensor):
    """A callable that runs one online step from a stream already ``window`` steps in (state kept per run)."""
    predictor = OnlineErrorRegression(model, horizon=horizon, window=window, iterations=iterations, sample=False)
    for t in range(window):
        predictor.step(stream[t])
    saved = (predictor.observed, predictor.last, predictor.start_state, predictor.first)
    x_t = stream[window]

    def run() -> None:
        predictor.observed, predictor.last, predictor.start_state, predictor.first = saved
        predictor.step(x_t)

    return run


def prior_step(model: PVRNN, horizon: int):
    state = model.init_state(1)

    def run() -> None:
        with torch.no_grad():
            model.rollout(None, horizon, state=state, first=False, sample=False)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, nargs="+", default=[5, 10, 20, 40], help="error-regression windows W")
    parser.add_argument("--iterations", type=int, default=50, help="Adam iterations per step (N)")
    parser.add_argument("--horizon", type=int, default=10, help="steps predicted after each observation")
    parser.add_argument("--budget-hz", type=float, default=50.0, help="control-loop rate the step must keep up with")
    parser.add_argument("--time-cap", type=float, default=6.0, help="seconds of timed runs per candidate")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    windows = sorted(set(args.windows) | {10})
    torch.manual_seed(0)
    model = PVRNN(input_dim=2, num_sequences=1, seq_len=max(windows) + 1).eval()
    phase = torch.linspace(0, 6.28 * max(windows) / 25, max(windows) + 1)
    stream = 0.8 * torch.stack([torch.sin(phase), torch.cos(phase)], -1)
    timers = {f"W={w}": online_step(model, w, args.iterations, args.horizon, stream) for w in windows}
    timers["prior"] = prior_step(model, args.horizon)
    timings = stable_times(timers, Settle(time_cap=args.time_cap, max_repeats=30))
    ms = {name: t.median * 1e3 for name, t in timings.items()}
    budget = 1e3 / args.budget_hz

    print(
        f"one online step (batch 1): error regression N = {args.iterations} over W steps, then {args.horizon} prior "
        f"steps; PV-RNN 40+20 units, {torch.get_num_threads()} thread(s); budget {budget:.0f} ms "
        f"({args.budget_hz:g} Hz)"
    )
    print(f"{'':>8}{'ms/step [IQR %]':>18}{'/ W=10':>9}{'/ prior':>10}{'in budget':>11}")
    for name in [f"W={w}" for w in windows] + ["prior"]:
        cell = f"{ms[name]:.2f} [{100 * timings[name].spread:.0f}]"
        fits = "yes" if ms[name] <= budget else "no"
        print(f"{name:>8}{cell:>18}{ms[name] / ms['W=10']:>9.2f}{ms[name] / ms['prior']:>10.1f}{fits:>11}")
    first, last = windows[0], windows[-1]
    growth = ms[f"W={last}"] / ms[f"W={first}"]
    print(
        f"W={last} / W={first}: {growth:.2f}x for {last / first:.0f}x the window; "
        f"largest W within {budget:.0f} ms: "
        + (str(max((w for w in windows if ms[f"W={w}"] <= budget), default="none")))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
