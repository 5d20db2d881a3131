"""Repro: a shallow PLRNN trained with generalized teacher forcing reconstructs Lorenz-63 (recur-timeseries).

Paper: Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics", ICML 2023, https://arxiv.org/abs/2306.04406 (official code DurstewitzLab/GTF-shPLRNN).

Claim: a clipped shallow PLRNN trained with GTF reconstructs chaotic dynamics from a noisy measured
trajectory: its free run, started from one point, has the state-space geometry (D_stsp) and the
power spectrum (D_H) of the system, close to what another stretch of the true system scores.

Set-up: the application in recur-timeseries, as ``recur-timeseries fit --config plrnn/lorenz63``
runs it (:class:`recur_timeseries.datamodules.ReconstructionData` +
:class:`recur_timeseries.task.ReconstructionModule`, model ``plrnn_reconstructor``), trained for a
fixed number of steps through the engine's trainer: one z-scored Lorenz-63 trajectory (RK4, ``--dt``)
with 5% observation noise cut into ``--seq-len``-step sequences, batch 64, RAdam with the learning
rate decaying exponentially from ``--lr`` to ``--lr-end``, fixed alpha, gradient norm clipped at 10
(the recipe's settings; shortened for CPU from the official M = 3, H = 50, dt = 0.01, 200-step
sequences, batch 16, 250000 steps, lr 1e-3 -> 1e-6). The test trajectory is clean and held out; the
model runs free from its first point for its whole length. References in the same units: "data" =
the held-out validation trajectory (another stretch of the system) scored against the test one, the
floor at this length; "untrained" = the same model before training; PE(20) beside repeat-last.

The reconstruction counts as reproduced when the trained model's D_stsp is at most twice the data's
own plus 1 nat (the histogram KL of two finite stretches is not 0) and its D_H at most twice the
data's plus 0.1; "partly" when one of the two holds.

Commands (single thread):

    python tools/repro/plrnn_reconstruction.py          # the recipe's settings
    python tools/repro/plrnn_reconstruction.py --quick  # 200 steps, a smoke test (no reconstruction)

Writes ``results.csv``, ``curve.csv``, ``plrnn_reconstruction.png`` and ``claims.csv`` into ``--out``.
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch

from recur_core.engine import quiet_trainer
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_core.techniques.dynamics_metrics import prediction_error
from recur_timeseries.datamodules import ReconstructionData
from recur_timeseries.plots import plot_attractor
from recur_timeseries.task import ReconstructionModule

PAPER = "Hess et al. 2023, Generalized Teacher Forcing for Learning Chaotic Dynamics"


def parse_args() -> argparse.Namespace:
    parser = repro_parser(__doc__, "runs/repro/plrnn_reconstruction", quick_help="200 training steps")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default 3000, quick 200)")
    parser.add_argument("--dt", type=float, default=0.05, help="sampling step of the Lorenz system")
    parser.add_argument("--seq-len", type=int, default=50, help="training sequence length")
    parser.add_argument("--alpha", type=float, default=0.2, help="GTF forcing strength")
    parser.add_argument("--latent", type=int, default=16, help="latent dimension M (the first 3 observed)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units H")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3, help="first learning rate")
    parser.add_argument("--lr-end", type=float, default=1e-4, help="last learning rate (exponential decay)")
    parser.add_argument("--eval-len", type=int, default=10000, help="held-out trajectory length")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


class LossCurve(L.Callback):
    """Records the training loss and alpha after every optimizer step."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.rows.append({"step": trainer.global_step, "loss": float(outputs["loss"]), "alpha": float(module.alpha)})


def scores(task: ReconstructionModule, data: ReconstructionData) -> dict[str, float]:
    """D_stsp, D_H and PE(20) of the model's free run on the test trajectory."""
    test = data.dataset("test").trajectories
    with torch.no_grad():
        generated = task.net.generate(test[:, 0], test.shape[1] - 1)
        values = {name: float(v) for name, v in task.scores(test[:, 1:], generated).items()}
        values["pe20"] = float(prediction_error(task.net.forecast, test, 20))
    return values


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    steps = args.steps or (200 if args.quick else 3000)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    data = ReconstructionData(
        "lorenz63",
        seq_len=args.seq_len,
        stride=1,
        train_len=20000,
        eval_len=args.eval_len,
        noise=0.05,
        dt=args.dt,
        batch_size=args.batch,
        seed=args.seed,
    )
    data.setup()
    torch.manual_seed(args.seed)
    task = ReconstructionModule(
        model_kwargs={"latent_dim": args.latent, "hidden_dim": args.hidden},
        channels=3,
        forcing="gtf",
        alpha=args.alpha,
        lr=args.lr,
        lr_end=args.lr_end,
    )
    untrained = scores(task, data)
    curve = LossCurve()
    trainer = quiet_trainer(
        max_steps=steps,
        limit_val_batches=0,
        gradient_clip_val=10.0,
        callbacks=[curve],
        default_root_dir=out,
    )
    fit_started = time.time()
    trainer.fit(task, datamodule=data)
    trained_seconds = time.time() - fit_started
    trained = scores(task, data)
    test, val = data.dataset("test").trajectories, data.dataset("val").trajectories
    length = min(test.shape[1], val.shape[1])
    reference = {name: float(v) for name, v in task.scores(test[:, 1:length], val[:, 1:length]).items()}
    reference["pe20"] = float((test[:, 20:] - test[:, :-20]).square().mean())
    rows = [
        {"method": "shPLRNN + GTF (trained)", **trained},
        {"method": "shPLRNN (untrained)", **untrained},
        {"method": "data (val vs test; PE: repeat-last)", **reference},
    ]
    write_rows(out / "results.csv", rows, digits=4)
    write_rows(out / "curve.csv", curve.rows, digits=5)
    with torch.no_grad():
        generated = task.net.generate(test[:, 0], test.shape[1] - 1)[0]
    plot_attractor(
        out / "plrnn_reconstruction.png",
        test[0, 1:].numpy(),
        generated.numpy(),
        names=data.series().names,
        title=f"Lorenz-63 (dt={args.dt}): held-out test trajectory vs shPLRNN+GTF free run after {steps} steps",
    )

    print(f"\nLorenz-63, dt={args.dt}, sequences of {args.seq_len}, {steps} steps; free run {test.shape[1] - 1} steps")
    print(f"{'':38} {'D_stsp':>8} {'D_H':>7} {'PE(20)':>8}")
    for r in rows:
        print(f"{r['method']:38} {r['dstsp']:8.3f} {r['dh']:7.3f} {r['pe20']:8.4f}")
    near_dstsp = trained["dstsp"] <= 2 * reference["dstsp"] + 1.0
    near_dh = trained["dh"] <= 2 * reference["dh"] + 0.1
    print(f"\nverdict: D_stsp near the data's: {near_dstsp}; D_H near the data's: {near_dh}")
    print(f"training {trained_seconds:.0f}s, total {time.time() - started:.0f}s")
    write_claims(
        out,
        [
            Claim(
                paper=PAPER,
                claim="a shPLRNN trained with GTF reconstructs a chaotic attractor: free-run D_stsp, D_H near the data",
                measured=(
                    f"Lorenz-63 dt={args.dt}, {steps} steps ({trained_seconds:.0f} s, 1 thread): D_stsp / D_H / PE(20) "
                    f"trained {trained['dstsp']:.2f} / {trained['dh']:.3f} / {trained['pe20']:.3f}, untrained "
                    f"{untrained['dstsp']:.2f} / {untrained['dh']:.3f}, data {reference['dstsp']:.2f} / "
                    f"{reference['dh']:.3f} (PE(20) repeat-last {reference['pe20']:.3f})"
                ),
                reproduced=outcome(int(near_dstsp) + int(near_dh), 2),
                command=invoked_command(),
            )
        ],
    )


if __name__ == "__main__":
    main()
