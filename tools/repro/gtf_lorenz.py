"""Repro 11: generalized teacher forcing vs sparse teacher forcing vs BPTT, a PLRNN on Lorenz-63.

Paper: Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics", ICML 2023, https://arxiv.org/abs/2306.04406.

Claim: training a piecewise-linear RNN with (adaptive) generalized teacher forcing — the latent is
pulled towards the data before every step, z~ = (1 - alpha) z + alpha x, with alpha from the
Jacobians (aGTF) — reconstructs chaotic attractors better (lower state-space divergence D_stsp and
spectral distance D_H of free-running trajectories) than sparse teacher forcing or BPTT, and keeps
the gradients bounded where those of BPTT through the free run explode.

Set-up: Lorenz-63 (RK4, ``dt`` below), standardised, 5% Gaussian observation noise on the training
windows; a clipped shallow PLRNN (``plrnn`` layer, identity observation, M latents, H hidden units)
trained by :class:`recur_core.techniques.teacher_forcing.GTFTask` in a plain RAdam loop (lr 1e-3,
batch 16, gradient norm clipped at 10, the raw norm is recorded) under four forcings:

- aGTF: adaptive alpha (estimated every 5 steps from the batch's Jacobians, starting at 0);
- GTF: fixed alpha (``--alpha``);
- STF: sparse teacher forcing, the observed latents replaced by the data every ``--interval`` steps;
- BPTT: the free run from the first point, alpha = 0.

Each model then runs free from the first point of a clean test trajectory for as many steps as the
trajectory has; D_stsp (30 bins per dimension, KL) and D_H (smoothed spectra, Hellinger) compare it
with the trajectory, PE(20) is the 20-step prediction error from every test point. A second clean
trajectory scored against the test one gives the floor of both measures at this length ("data").

Commands (single thread, on a 2-core machine shared with other jobs):

    python tools/repro/gtf_lorenz.py           # 600 steps per forcing, 20000-step free runs: measured 6.2-8.2 min
    python tools/repro/gtf_lorenz.py --quick   # 100 steps per forcing, 5000-step free runs: measured 1.6 min

The quick run is a smoke test: after 100 steps no model has learned the system (all D_stsp about
13, D_H 0.32-0.36), so its verdicts say little. A forcing counts as best only when it is at least 5%
lower than STF and BPTT (one seed only). Both runtimes were measured with a load average of about
12 on the 2 cores (the script got a quarter of one core), so an idle machine should need about a
quarter of that.

Measured (full run): D_stsp / D_H aGTF 10.8 / 0.61, GTF(0.2) 12.5 / 0.78, STF(5) 13.5 / 0.76, BPTT
14.6 / 0.35, two clean trajectories 0.18 / 0.07; max raw gradient norm BPTT 123 vs aGTF 4.6. 600
steps are far from the paper's 250,000: no model's free run is on the attractor yet (D_stsp near
10 or above, against the floor of 0.18), aGTF is only the least bad by D_stsp (its free run fills a
one-winged band, GTF(0.2) and STF settle on limit cycles), and BPTT, whose free run falls onto a
fixed point, scores the lowest D_H (the z-scored decaying transient has a low-frequency spectrum,
as Lorenz-63 has). The gradient claim holds; the reconstruction claim only partly.

Re-measured (full run, 2026-12-03, 34 s wall on a quiet machine) after the training loader became
one loader whose epochs each get a new order (it was rebuilt every epoch, so every epoch replayed
the first order): D_stsp / D_H aGTF 13.2 / 0.85, GTF(0.2) 13.0 / 0.83, STF(5) 13.7 / 0.76, BPTT
14.6 / 0.34; max gradient norm BPTT 72.4 vs aGTF 4.7. With one seed the D_stsp ranking moves with
the batch order (aGTF was 10.8 before), so it says little at 600 steps; the gradient claim holds.

Writes ``results.csv``, ``curves.csv``, ``gtf_lorenz.png`` and ``claims.csv`` into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_core.tasks.lorenz import Lorenz63Data
from recur_core.techniques.dynamics_metrics import (
    hellinger_spectrum_distance,
    prediction_error,
    state_space_divergence,
)
from recur_core.techniques.teacher_forcing import GTFTask, free_run

PAPER = "Hess et al. 2023, Generalized Teacher Forcing for Learning Chaotic Dynamics"
CLIP = 10.0


def parse_args() -> argparse.Namespace:
    parser = repro_parser(
        __doc__, "runs/repro/gtf_lorenz", quick_help="100 training steps per forcing, 5000-step free runs"
    )
    parser.add_argument("--steps", type=int, default=None, help="training steps per forcing (default 600, quick 100)")
    parser.add_argument("--seq-len", type=int, default=50, help="training window length")
    parser.add_argument("--dt", type=float, default=0.05, help="sampling step of the Lorenz system")
    parser.add_argument("--alpha", type=float, default=0.2, help="fixed alpha of GTF")
    parser.add_argument("--interval", type=int, default=5, help="forcing interval of STF")
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--eval-len", type=int, default=None, help="test trajectory and free run (20000, quick 5000)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def train(name: str, forcing: str, alpha: float, data: Lorenz63Data, args: argparse.Namespace, steps: int):
    """Train one forcing for ``steps`` steps; returns the task and its curves."""
    torch.manual_seed(args.seed)
    task = GTFTask(
        forcing=forcing,
        alpha=alpha,
        interval=args.interval,
        layer_kwargs={"latent_dim": args.latent, "hidden_dim": args.hidden},
    )
    optimizer = torch.optim.RAdam(task.parameters(), lr=1e-3)
    # one loader for the whole run: each pass over it is a new epoch in a new order
    loader = data.train_dataloader()
    curves, batches = [], iter(())
    for step in range(steps):
        batch = next(batches, None)
        if batch is None:
            batches = iter(loader)
            batch = next(batches)
        loss, applied = task.loss(batch["inputs"])
        optimizer.zero_grad()
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(task.parameters(), CLIP))
        if math.isfinite(norm):
            optimizer.step()
        if forcing == "agtf" and step % task.alpha_every == 0:
            task.update_alpha(applied.detach())
        curves.append(
            {"method": name, "step": step, "loss": loss.item(), "grad_norm": norm, "alpha": float(task.alpha)}
        )
    return task, curves


@torch.no_grad()
def evaluate(generated: torch.Tensor, test: torch.Tensor) -> dict[str, float]:
    return {
        "dstsp": float(state_space_divergence(test, generated)),
        "dh": float(hellinger_spectrum_distance(test, generated)),
    }


def plot(path: Path, test: torch.Tensor, runs: dict[str, torch.Tensor], curves: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 8))
    panels = [("data (test)", test), *runs.items()]
    for ax, (name, trajectory) in zip(axes.flat, panels, strict=False):
        points = trajectory.clamp(-5, 5)
        ax.plot(points[:, 0], points[:, 2], lw=0.3)
        ax.set_title(name)
        ax.set_xlabel("x (standardised)")
        ax.set_ylabel("z")
    ax = axes.flat[-1]
    for name in runs:
        norms = [c["grad_norm"] for c in curves if c["method"] == name]
        ax.semilogy(norms, lw=0.6, label=name)
    ax.axhline(CLIP, color="k", ls="--", lw=0.6, label="clip")
    ax.set_xlabel("training step")
    ax.set_ylabel("raw gradient norm")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    steps = args.steps or (100 if args.quick else 600)
    args.eval_len = args.eval_len or (5000 if args.quick else 20000)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    data = Lorenz63Data(
        seq_len=args.seq_len,
        eval_len=args.eval_len,
        num_train=1024,
        num_val=1,
        num_test=1,
        noise=0.05,
        dt=args.dt,
        batch_size=16,
        seed=args.seed,
    )
    data.setup()
    test = data.dataset("test").trajectories[0]
    other = data.dataset("val").trajectories[0]
    methods = [
        ("aGTF", "agtf", 0.0),
        (f"GTF a={args.alpha}", "gtf", args.alpha),
        (f"STF tau={args.interval}", "sparse", 0.0),
        ("BPTT", "free", 0.0),
    ]
    rows = [{"method": "data", **evaluate(other, test), "pe20": float("nan"), "grad_max": float("nan")}]
    rows[0].update(grad_median=float("nan"), clipped=float("nan"), alpha=float("nan"), loss=float("nan"), seconds=0.0)
    curves, runs = [], {}
    for name, forcing, alpha in methods:
        begin = time.time()
        task, curve = train(name, forcing, alpha, data, args, steps)
        curves += curve
        with torch.no_grad():
            generated = free_run(task.net, test[None, 0], test.shape[0] - 1)[0]
            pe = float(prediction_error(task.forecast, test, 20))
        runs[name] = torch.cat([test[:1], generated])
        norms = torch.tensor([c["grad_norm"] for c in curve])
        tail = [c["loss"] for c in curve[-max(1, steps // 10) :]]
        rows.append(
            {
                "method": name,
                **evaluate(runs[name], test),
                "pe20": pe,
                "grad_max": float(norms.nan_to_num(float("inf")).max()),
                "grad_median": float(norms.nanmedian()),
                "clipped": float((~(norms <= CLIP)).float().mean()),
                "alpha": float(task.alpha),
                "loss": sum(tail) / len(tail),
                "seconds": time.time() - begin,
            }
        )
        print(f"{name}: {time.time() - begin:.0f}s", flush=True)

    write_rows(out / "results.csv", rows)
    write_rows(out / "curves.csv", curves)
    plot(out / "gtf_lorenz.png", test, runs, curves)

    columns = ("D_stsp", 7), ("D_H", 6), ("PE(20)", 7), ("grad max", 9), ("median", 7), ("clipped", 8), ("alpha", 6)
    header = f"{'method':<12} " + " ".join(f"{name:>{width}}" for name, width in columns)
    print(f"\nLorenz-63, dt={args.dt}, windows of {args.seq_len}, {steps} steps each; free run {args.eval_len} steps")
    print(header)
    for r in rows:
        print(
            f"{r['method']:<12} {r['dstsp']:7.3f} {r['dh']:6.3f} {r['pe20']:7.3f} {r['grad_max']:9.3g} "
            f"{r['grad_median']:7.3g} {r['clipped']:8.2f} {r['alpha']:6.3f}"
        )

    by_name = {r["method"]: r for r in rows}
    gtf = [by_name[name] for name, forcing, _ in methods if forcing in ("gtf", "agtf")]
    others = [by_name[name] for name, forcing, _ in methods if forcing in ("sparse", "free")]
    best_gtf_dstsp = min(r["dstsp"] for r in gtf)
    best_gtf_dh = min(r["dh"] for r in gtf)
    # one seed: a margin under 5% is not counted as a win
    held_quality = int(best_gtf_dstsp < 0.95 * min(r["dstsp"] for r in others)) + int(
        best_gtf_dh < 0.95 * min(r["dh"] for r in others)
    )
    bptt, agtf = by_name["BPTT"], by_name["aGTF"]
    ratio = bptt["grad_max"] / agtf["grad_max"]
    exploded = bptt["grad_max"] > CLIP and ratio >= 10
    print(f"\nverdict: GTF lowest D_stsp and D_H (by >= 5%): {held_quality}/2 held")
    print(f"verdict: BPTT max gradient norm {bptt['grad_max']:.3g} vs aGTF {agtf['grad_max']:.3g} ({ratio:.3g}x)")
    print(f"total {time.time() - started:.0f}s")

    measured = ", ".join(f"{r['method']} {r['dstsp']:.2f}/{r['dh']:.3f}" for r in rows)
    write_claims(
        out,
        [
            Claim(
                paper=PAPER,
                claim="(a)GTF reconstructs chaotic attractors best: lowest D_stsp and D_H of free runs vs STF and BPTT",
                measured=f"D_stsp/D_H on Lorenz-63 after {steps} steps: {measured}",
                reproduced=outcome(held_quality, 2),
                command=invoked_command(),
            ),
            Claim(
                paper=PAPER,
                claim="BPTT through the free run of a chaotic system has exploding gradients; GTF bounds them",
                measured=(
                    f"max raw gradient norm BPTT {bptt['grad_max']:.3g} (clipped on {bptt['clipped']:.0%} of steps) "
                    f"vs aGTF {agtf['grad_max']:.3g} ({agtf['clipped']:.0%}), windows of {args.seq_len} steps"
                ),
                reproduced="yes" if exploded else "no",
                command=invoked_command(),
            ),
        ],
    )


if __name__ == "__main__":
    main()
