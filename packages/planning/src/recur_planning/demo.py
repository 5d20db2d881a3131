"""``recur demo planning``: GRNet recognises goals in a generated blocks world; PV-RNN predicts patterns online.

1. **GRNet** (Chiari et al. 2023): the embedded blocks domain (no data file) — random reachable goals
   solved by pyperplan, observed at 10–100%, train GRNet (LSTM encoder) for a few epochs, then pick the
   true goal among 6 candidates in benchmark-style problems, beside a uniform pick and the landmark
   recognizer (Pereira et al. 2017), with seconds per problem.
2. **PV-RNN** (Ahmadi & Tani 2019): learn Lissajous primitives, then predict new sequences 10 steps ahead
   online by error regression, beside repeat-last.

About 45 s on one thread.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
import warnings

import lightning as L
import torch

from recur_core.engine import quiet_trainer
from recur_planning.datamodules import GoalRecognitionData, TrajectoryData
from recur_planning.task import GoalRecognitionModule, PredictiveCodingModule

__all__ = ["main", "run_demo", "run_grnet_demo", "run_pvrnn_demo"]


def run_grnet_demo(train_goals: int = 300, epochs: int = 12) -> dict[str, float]:
    """Train GRNet on the embedded blocks domain and test it beside the baselines.

    Returns:
        the test metrics (``test/acc``, ``test/acc_random``, ``test/acc_landmark``, seconds per problem, ...)
        and ``fit_seconds``.
    """
    L.seed_everything(0, verbose=False)
    with tempfile.TemporaryDirectory() as cache:
        data = GoalRecognitionData(domain="embedded", train_goals=train_goals, plans_cache=cache, batch_size=64)
        task = GoalRecognitionModule(
            model_kwargs={"embedding_dim": 64, "hidden_size": 64}, baselines=["landmark"], lr=0.01
        )
        trainer = quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0, check_val_every_n_epoch=epochs)
        start = time.perf_counter()
        trainer.fit(task, data)
        fit_seconds = time.perf_counter() - start
        scores = {k: float(v) for k, v in trainer.test(task, data, verbose=False)[0].items()}
    return {**scores, "fit_seconds": fit_seconds}


def run_pvrnn_demo(steps: int = 120, iterations: int = 20) -> dict[str, float]:
    """Train PV-RNN on Lissajous primitives and score online error-regression prediction on new sequences.

    Returns:
        ``test/pred_mse``, ``test/pred_mse_repeat_last``, ``test/skill_repeat_last`` and ``fit_seconds``.
    """
    L.seed_everything(0, verbose=False)
    data = TrajectoryData(source="lissajous", num_train=16, num_val=4, num_test=4, length=60, batch_size=8)
    task = PredictiveCodingModule(
        model_kwargs={"d_sizes": [40, 20], "z_sizes": [4, 2], "taus": [2.0, 8.0], "w": [0.01, 0.01]},
        horizon=10,
        eval_start=10,
        iterations=iterations,
        lr=0.003,
    )
    trainer = quiet_trainer(max_steps=steps, num_sanity_val_steps=0, limit_val_batches=0)
    start = time.perf_counter()
    trainer.fit(task, data)
    fit_seconds = time.perf_counter() - start
    scores = {k: float(v) for k, v in trainer.test(task, data, verbose=False)[0].items()}
    return {**scores, "fit_seconds": fit_seconds}


def run_demo() -> dict[str, dict[str, float]]:
    """Both parts: ``{"grnet": ..., "pvrnn": ...}``."""
    return {"grnet": run_grnet_demo(), "pvrnn": run_pvrnn_demo()}


def main() -> None:
    """Print the demo's tables."""
    # small models: two threads on a shared 2-core machine mostly wait for each other
    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # the planner's progress bars (stderr) would bury the table; errors still raise
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.filterwarnings("ignore", module=r"(lightning|torchdata)\.")
        results = run_demo()
    grnet, pvrnn = results["grnet"], results["pvrnn"]
    levels = sorted(
        int(k.rsplit("_", 1)[1]) for k in grnet if k.startswith("test/acc_") and k[-1].isdigit() and k.count("_") == 1
    )
    print("GRNet on the embedded blocks domain: accuracy of the chosen goal (6 candidates) per observability")
    print(f"{'recognizer':<12} " + " ".join(f"{f'{p}%':>6}" for p in levels) + f" {'all':>6} {'s/problem':>10}")
    rows = (("GRNet", "", "test/seconds_per_problem"), ("landmark", "_landmark", "test/seconds_per_problem_landmark"))
    for name, suffix, seconds in rows:
        per_level = " ".join(f"{grnet.get(f'test/acc{suffix}_{p}', float('nan')):>6.2f}" for p in levels)
        print(f"{name:<12} {per_level} {grnet[f'test/acc{suffix}']:>6.2f} {grnet.get(seconds, float('nan')):>10.4f}")
    print(f"{'random pick':<12} {' ' * (7 * len(levels))}{grnet['test/acc_random']:>6.2f}")
    print(f"(GRNet fit {grnet['fit_seconds']:.0f} s)")
    print("\nPV-RNN on new Lissajous sequences: MSE of the next 10 steps, predicted online by error regression")
    print(f"{'predictor':<12} {'MSE':>8}")
    print(f"{'PV-RNN':<12} {pvrnn['test/pred_mse']:>8.4f}")
    print(f"{'repeat-last':<12} {pvrnn['test/pred_mse_repeat_last']:>8.4f}")
    print(f"(PV-RNN fit {pvrnn['fit_seconds']:.0f} s; skill vs repeat-last {pvrnn['test/skill_repeat_last']:.2f})")
