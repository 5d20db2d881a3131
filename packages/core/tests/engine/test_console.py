"""``recur-<member>`` for a person at a terminal: a mistake is one line on stderr (exit 2), a bug keeps its
traceback, and a fit prints its epoch lines and nothing else."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from torch._utils import ExceptionWrapper

from recur_core.data import DataFileError
from recur_core.engine import SequenceTask, console_main
from recur_core.tasks.base import TaskDataModule


def _one_line_error(capsys, member: str, args: list[str]) -> str:
    """Run ``recur-<member> args`` in-process; return the message of its single ``error:`` line."""
    with pytest.raises(SystemExit) as exited:
        console_main(member, args)
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    prefix = f"recur-{member}: error: "
    assert len(lines) == 1 and lines[0].startswith(prefix), lines
    return lines[0].removeprefix(prefix)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--config", "missing.yaml"], "--config 'missing.yaml' is neither a YAML file nor a shipped recipe"),
        (["fit", "--config", "parity/lsmt"], "recipes: adding/attention, adding/lstm, "),
        (["fit", "--config", "parity/lstm", "--model.layer", "nope"], "unknown layer 'nope'; valid names: "),
        (["fit", "--config", "parity/lstm", "--trainer.max_epochs", "abc"], "--trainer.max_epochs: expected int"),
        (
            ["fit", "--config", "parity/lstm", "--model.nope", "3"],
            "unknown option --model.nope of recur_core.engine.SequenceTask",
        ),
        (["fit", "--config", "parity/lstm", "--trainer.nope", "3"], "unrecognized arguments: --trainer.nope 3"),
        (["fit", "--config", "parity/lstm", "--data.batch_size", "0"], "batch_size must be at least 1, got 0"),
        (["fit", "--config", "parity/lstm", "--ckpt_path", "last"], "run fit with this recipe first"),
        (["fit", "--config", "parity/lstm", "--ckpt_path", "/no/such.ckpt"], "--ckpt_path /no/such.ckpt: no such file"),
        (["fitt", "--config", "parity/lstm"], "invalid choice: 'fitt'"),
        (
            [
                "fit",
                "--config",
                "parity/lstm",
                "--model.vocab_size",
                "5",
                "--data.num_train",
                "8",
                "--data.num_val",
                "8",
            ],
            "model.vocab_size = 5 but the data has vocab_size = 3",
        ),
    ],
    ids=[
        "missing-yaml",
        "unknown-recipe",
        "unknown-layer",
        "bad-value",
        "unknown-model-option",
        "unknown-trainer-option",
        "out-of-range",
        "no-run-to-resume",
        "missing-checkpoint",
        "unknown-subcommand",
        "model-data-mismatch",
    ],
)
def test_a_mistake_is_one_line(args, message, capsys, runs_dir):
    assert message in _one_line_error(capsys, "core", args)


@pytest.mark.parametrize(
    ("content", "message"),
    [("model: [1, 2\n  trainer: {\n", "malformed YAML: "), ("- 1\n- 2\n", "a recipe is a YAML mapping")],
    ids=["malformed", "not-a-mapping"],
)
def test_a_broken_recipe_file_is_one_line(content, message, tmp_path, capsys, runs_dir):
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    assert f"--config {path}: {message}" in _one_line_error(capsys, "core", ["fit", "--config", str(path)])


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path, capsys, runs_dir):
    path = tmp_path / "weights.ckpt"
    path.write_bytes(os.urandom(4096))
    args = ["test", "--config", "parity/lstm", "--ckpt_path", str(path)]
    assert _one_line_error(capsys, "core", args) == f"--ckpt_path {path}: not a recur checkpoint"


def test_a_missing_dataset_is_one_line(monkeypatch, capsys, runs_dir, tiny):
    message = "dataset 'parity' not found under /data: run 'recur data fetch parity'"

    def missing(self, split):
        raise FileNotFoundError(message)

    monkeypatch.setattr(TaskDataModule, "make_dataset", missing)
    args = ["fit", "--config", "parity/lstm", "--trainer.max_epochs", "1", *tiny]
    assert _one_line_error(capsys, "core", args) == message
    # the run that never started leaves no folder behind
    assert not (runs_dir / "core").exists()  # no empty run folder, nor the folders made for it


def test_a_missing_data_file_of_a_member_is_one_line(capsys, runs_dir):
    pytest.importorskip("recur_timeseries")
    args = ["fit", "--config", "arnet/etth1", "--data.root", "/nonexistent", "--trainer.max_epochs", "1"]
    assert "not found under /nonexistent" in _one_line_error(capsys, "timeseries", args)


def test_an_unknown_model_name_is_one_line(capsys, runs_dir):
    pytest.importorskip("recur_graph")
    args = ["fit", "--config", "evolvegcn/sbm_link_pred", "--model.model", "nope"]
    assert "unknown model 'nope'" in _one_line_error(capsys, "graph", args)


@pytest.mark.parametrize("in_worker", [False, True], ids=["main-process", "loader-worker"])
def test_a_bad_data_file_found_mid_run_is_one_line(in_worker, monkeypatch, capsys, runs_dir, tiny):
    message = "clip.mp4: not a video PyAV can decode (invalid data); re-encode it or remove it from the split"

    def reads_a_bad_file(self, batch, batch_idx):
        try:
            raise DataFileError(message)
        except DataFileError:
            if not in_worker:
                raise
            # as a DataLoader worker's error reaches the main process: its whole traceback is the message
            ExceptionWrapper(where="in DataLoader worker process 0").reraise()

    monkeypatch.setattr(SequenceTask, "training_step", reads_a_bad_file)
    args = ["fit", "--config", "parity/lstm", "--trainer.max_epochs", "1", *tiny]
    assert _one_line_error(capsys, "core", args) == message


def test_a_bug_keeps_its_traceback(monkeypatch, runs_dir, tiny):
    def broken_step(self, batch, batch_idx):
        raise ValueError("a bug in training_step")

    monkeypatch.setattr(SequenceTask, "training_step", broken_step)
    with pytest.raises(ValueError, match="a bug in training_step"):
        console_main("core", ["fit", "--config", "parity/lstm", "--trainer.max_epochs", "1", *tiny])


def test_a_bug_in_a_constructor_keeps_its_traceback(monkeypatch, runs_dir):
    def broken_build(*args, **kwargs):
        raise AttributeError("a bug while building the layer")

    monkeypatch.setattr(importlib.import_module("recur_core.models.sequence_model"), "build_layer", broken_build)
    with pytest.raises(ValueError) as raised:
        console_main("core", ["fit", "--config", "parity/lstm"])
    assert "a bug while building the layer" in str(raised.value)


def test_recur_debug_shows_the_traceback(monkeypatch, runs_dir):
    monkeypatch.setenv("RECUR_DEBUG", "1")
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        console_main("core", ["fit", "--config", "parity/lstm", "--model.layer", "nope"])


def _recur_core(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "recur-core"), *args]


def _env(runs: Path) -> dict[str, str]:
    env = {**os.environ, "RECUR_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    env.pop("RECUR_RUN_DIR", None)
    env.pop("RECUR_DEBUG", None)
    return env


def test_the_console_script_prints_no_traceback(tmp_path):
    out = subprocess.run(
        _recur_core("fit", "--config", "parity/lstm", "--model.layer", "nope"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("recur-core: error: unknown layer 'nope'; valid names: ")
    assert len(out.stderr.splitlines()) == 1 and out.stdout == ""


def test_fit_and_test_print_only_their_result_lines(tmp_path, tiny):
    """Piped (no terminal): one line per epoch, then the test line; no tips, accelerator lines or warnings."""
    env = _env(tmp_path)
    fit = subprocess.run(
        _recur_core("fit", "--config", "parity/lstm", "--trainer.max_epochs", "2", *tiny),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    lines = (fit.stdout + fit.stderr).splitlines()
    assert len(lines) == 2 and all(re.match(rf"epoch {i}  step {2 * (i + 1)}  ", line) for i, line in enumerate(lines))
    test = subprocess.run(
        _recur_core("test", "--config", "parity/lstm", "--ckpt_path", "last", *tiny),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert test.returncode == 0, test.stderr[-3000:]
    assert (test.stdout + test.stderr).splitlines() == [test.stdout.strip()]
    assert test.stdout.startswith("test  test/acc ")
