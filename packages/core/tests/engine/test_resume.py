"""``--ckpt_path last`` continues a fit exactly as if it had not stopped: per-step losses (dropout on, so the
random states matter) and validation equal an uninterrupted run of the same seed, each step logged once."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from recur_core.engine import run_cli

STEPS_PER_EPOCH = 100
# dropout draws from torch's global generator: a resume that lost the random states would differ
ARGS = [
    "fit",
    "--config",
    "parity/lstm",
    "--model.d_model",
    "16",
    "--model.n_layers",
    "1",
    "--model.dropout",
    "0.2",
    "--data.num_train",
    str(32 * STEPS_PER_EPOCH),
    "--data.num_val",
    "64",
    "--data.num_test",
    "64",
    "--data.batch_size",
    "32",
    "--data.train_lengths",
    "[3, 40]",
    "--data.test_lengths",
    "[8, 12]",
    "--trainer.max_epochs",
    "2",
    "--trainer.log_every_n_steps",
    "1",
]


def _env(runs: Path) -> dict[str, str]:
    env = {**os.environ, "RECUR_RUNS": str(runs), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("RECUR_RUN_DIR", None)
    return env


def _default_sigint() -> None:
    # as at a terminal: a test run from a background job inherits SIGINT ignored, and Ctrl-C would not arrive
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _recur_core(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "recur-core"), *args]


def _steps(metrics: Path) -> list[tuple[int, float]]:
    rows = csv.DictReader(metrics.open())
    return [(int(r["step"]), float(r["train/loss_step"])) for r in rows if r["train/loss_step"]]


def _validations(metrics: Path) -> dict[int, float]:
    return {int(r["epoch"]): float(r["val/loss"]) for r in csv.DictReader(metrics.open()) if r["val/loss"]}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """metrics.csv of the run that never stopped."""
    runs = tmp_path_factory.mktemp("uninterrupted")
    out = subprocess.run(_recur_core(*ARGS), env=_env(runs), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (metrics,) = runs.glob("core/parity/lstm/*/metrics.csv")
    assert [s for s, _ in _steps(metrics)] == list(range(2 * STEPS_PER_EPOCH))
    return metrics


@pytest.mark.parametrize(
    ("every", "stop", "where"),
    [
        ("7", signal.SIGKILL, "mid-epoch"),  # kill -9 after a step checkpoint
        ("0", signal.SIGKILL, "epoch end"),  # kill -9 after the first epoch's checkpoint
        ("7", signal.SIGINT, "mid-epoch"),  # Ctrl-C: writes last.ckpt at the step it stops
    ],
    ids=["sigkill-mid-epoch", "sigkill-after-epoch", "ctrl-c-mid-epoch"],
)
def test_stopped_fit_resumes_exactly(every, stop, where, uninterrupted, tmp_path):
    runs = tmp_path / "runs"
    args = [*ARGS, "--checkpoint_every_n_steps", every]
    proc = subprocess.Popen(
        _recur_core(*args),
        env=_env(runs),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )
    deadline = time.time() + 120
    while not (found := list(runs.glob("core/parity/lstm/*/checkpoints/last.ckpt"))) and time.time() < deadline:
        time.sleep(0.02)
    assert found and proc.poll() is None, "no last.ckpt while the fit ran"
    os.killpg(proc.pid, stop)
    stderr = proc.communicate(timeout=120)[1]
    (last,) = found
    checkpoint = torch.load(last, weights_only=False)
    step = checkpoint["global_step"]
    # what makes the resume exact: the training loader's position and the global random states
    (loader,) = checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert loader["_num_yielded"] == step
    assert {"torch", "numpy", "python"} <= checkpoint["callbacks"]["RandomStates"].keys()
    if where == "mid-epoch":
        assert 0 < step < STEPS_PER_EPOCH, f"stopped at step {step}, not mid-epoch"
    else:
        assert step == STEPS_PER_EPOCH
    if stop == signal.SIGINT:
        assert f"stopped at step {step}; continue with --ckpt_path last" in stderr

    out = subprocess.run(
        _recur_core(*args, "--ckpt_path", "last"), env=_env(runs), capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"resumed at step {step} from {last}" in out.stdout
    (run,) = runs.glob("core/parity/lstm/*")
    resumed, reference = _steps(run / "metrics.csv"), _steps(uninterrupted)
    assert [s for s, _ in resumed] == [s for s, _ in reference], "each step logged exactly once"
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in reference], rel=1e-5, abs=1e-6)
    assert _validations(run / "metrics.csv") == pytest.approx(_validations(uninterrupted), rel=1e-5)


def _losses(run_dir: Path) -> list[float]:
    return [loss for _, loss in _steps(run_dir / "metrics.csv")]


def test_a_fit_stopped_by_max_steps_continues_with_more_steps(runs_dir, one_thread):
    """The same as one run to the larger max_steps (this recipe's schedule does not depend on it)."""
    small = ["--data.num_train", "320", "--data.num_val", "32", "--checkpoint_every_n_steps", "4"]
    args = [*ARGS, *small, "--trainer.max_epochs", "-1"]
    first = run_cli("core", [*args, "--trainer.max_steps", "6"])
    assert torch.load(first.run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 6
    resumed = run_cli("core", [*args, "--trainer.max_steps", "14", "--ckpt_path", "last"])
    assert resumed.run_dir == first.run_dir
    straight = run_cli("core", [*args, "--trainer.max_steps", "14"])
    assert len(_losses(straight.run_dir)) == 14
    assert _losses(resumed.run_dir) == pytest.approx(_losses(straight.run_dir), rel=1e-5, abs=1e-6)
