"""CLI smoke runs: recipes, overrides, run folders, checkpoints, resume after a kill, 2-process DDP."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from recur_core.engine import SequenceTask, run_cli
from recur_core.recipes import find_recipe, list_recipes

TINY = [
    "--model.d_model",
    "16",
    "--model.n_layers",
    "1",
    "--data.num_train",
    "256",
    "--data.num_val",
    "64",
    "--data.num_test",
    "64",
    "--data.batch_size",
    "64",
    "--data.train_lengths",
    "[3, 8]",
    "--data.test_lengths",
    "[8, 12]",
]


def _run_dirs(runs: Path, recipe: str) -> list[Path]:
    return sorted((runs / "core" / recipe).iterdir())


@pytest.mark.parametrize("recipe", sorted(list_recipes()))
def test_every_shipped_recipe_instantiates(recipe, runs_dir):
    path = find_recipe(recipe)[1]
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith("# recur-") and f"--config {recipe}" in first_line, first_line
    cli = run_cli(path.parent.parent.parent.name.removeprefix("recur-"), ["--config", recipe], run=False)
    assert cli.model is not None and cli.datamodule is not None and cli.trainer is not None


def test_fit_writes_the_run_folder_and_overrides_apply(runs_dir):
    cli = run_cli(
        "core", ["fit", "--config", "parity/lstm", "--model.layer", "gru", "--trainer.max_epochs", "2", *TINY]
    )
    assert isinstance(cli.model, SequenceTask) and cli.model.hparams.layer == "gru"
    (run,) = _run_dirs(runs_dir, "parity/lstm")
    for name in ("config.yaml", "metrics.csv", "metrics.png", "checkpoints/last.ckpt", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["init_args"]["layer"] == "gru"
    epochs = {row["epoch"] for row in csv.DictReader((run / "metrics.csv").open())}
    assert epochs == {"0", "1"}


def test_unknown_recipe_lists_the_shipped_ones(runs_dir):
    with pytest.raises(ValueError, match="parity/lstm"):
        run_cli("core", ["fit", "--config", "parity/lsmt"])


def test_resume_without_a_previous_run_says_what_to_do(runs_dir):
    with pytest.raises(FileNotFoundError, match="run fit with this recipe first"):
        run_cli("core", ["fit", "--config", "parity/gru", "--ckpt_path", "last"])


def test_model_and_data_disagreement_is_explained(runs_dir):
    with pytest.raises(ValueError, match=r"model.vocab_size = 5 but the data has vocab_size = 3"):
        run_cli(
            "core", ["fit", "--config", "parity/lstm", "--model.vocab_size", "5", "--trainer.max_epochs", "1", *TINY]
        )


def test_validate_and_test_from_a_checkpoint(runs_dir):
    run_cli("core", ["fit", "--config", "parity/elman", "--trainer.max_epochs", "1", *TINY])
    (run,) = _run_dirs(runs_dir, "parity/elman")
    best = run / "checkpoints" / "best.ckpt"
    cli = run_cli("core", ["test", "--config", "parity/elman", "--ckpt_path", str(best), *TINY])
    assert "test/acc" in cli.trainer.callback_metrics


def _cli(*args: str, env: dict) -> list[str]:
    # the console script itself: Lightning's DDP launcher re-runs sys.argv in each worker
    return [str(Path(sys.executable).parent / "recur-core"), *args]


def test_two_process_ddp_fit_on_cpu(runs_dir):
    env = {**os.environ, "RECUR_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("RECUR_RUN_DIR", None)
    args = [
        "fit",
        "--config",
        "parity/lstm",
        *TINY,
        "--trainer.max_epochs",
        "2",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
    ]
    out = subprocess.run(_cli(*args, env=env), env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = _run_dirs(runs_dir, "parity/lstm")
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    # two processes share each epoch's 4 batches of 64: 2 optimizer steps per epoch, not 4
    assert last["epoch"] == 1 and last["global_step"] == 4
