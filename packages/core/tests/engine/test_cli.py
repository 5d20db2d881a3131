"""CLI smoke runs: recipes, overrides, run folders, checkpoints, resume after a kill, 2-process DDP."""

import csv
import dataclasses
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from recur_core.engine import SequenceRegressionTask, SequenceTask, run_cli
from recur_core.engine.cli import explicit_model_options
from recur_core.models import SequenceModel
from recur_core.recipes import find_recipe, list_recipes


def _run_dirs(runs: Path, recipe: str) -> list[Path]:
    return sorted((runs / "core" / recipe).iterdir())


def _plain(value):
    """``value`` as YAML would hold it: tuples as lists, in dicts and lists too."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _held(obj, key: str, parsed):
    """The value of option ``key`` in the instantiated DataModule ``obj``: a split size, or the attribute of
    that name; the parsed config's value (``parsed``) where ``obj`` keeps neither."""
    if key in ("num_train", "num_val", "num_test") and hasattr(obj, "num_samples"):
        return obj.num_samples[key.removeprefix("num_")]
    value = getattr(obj, key, None)
    return parsed if value is None or callable(value) else value


def _assert_data_holds(obj, section: dict, parsed, where: str) -> None:
    """``obj`` is an instance of the section's ``class_path`` holding every ``init_args`` value the YAML sets."""
    assert type(obj).__name__ == section["class_path"].rsplit(".", 1)[1], (where, type(obj))
    for key, value in section.get("init_args", {}).items():
        held = _held(obj, key, parsed.init_args[key])
        if isinstance(value, dict) and "class_path" in value:
            _assert_data_holds(held, value, parsed.init_args[key], f"{where}.{key}")
        else:
            assert _plain(held) == value, f"{where}.{key}: the YAML sets {value!r}, the object holds {held!r}"


# the task options that reach the SequenceModel under another name
NET_OPTION = {"num_classes": "output_dim", "num_outputs": "output_dim"}


def _assert_model_holds(model, section: dict) -> None:
    """The module is the section's class, built with every option the YAML sets; where it wraps a
    SequenceModel, the network was built with them too (its config and its number of blocks)."""
    assert type(model).__name__ == section["class_path"].rsplit(".", 1)[1], type(model)
    options = section.get("init_args", {})
    for key, value in options.items():
        assert _plain(model.hparams[key]) == value, f"model.{key}: {model.hparams[key]!r} != {value!r}"
    net = getattr(model, "net", None)
    if isinstance(net, SequenceModel):
        built = {f.name for f in dataclasses.fields(net.config)}
        for key, value in options.items():
            if NET_OPTION.get(key, key) in built:
                assert _plain(getattr(net.config, NET_OPTION.get(key, key))) == value, f"model.net.{key}"
        assert len(net.blocks) == net.config.n_layers


@pytest.mark.parametrize("recipe", sorted(list_recipes()))
def test_every_shipped_recipe_instantiates(recipe, runs_dir):
    path = find_recipe(recipe)[1]
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith("# recur-") and f"--config {recipe}" in first_line, first_line
    member = path.parent.parent.parent.name.removeprefix("recur-")
    required = re.findall(r"(--[\w.]+) <", first_line)
    if required:
        # a recipe whose command names an option it cannot run without (a checkpoint to attack): without
        # it, building the recipe must fail with a message that names the option
        with pytest.raises(Exception, match=re.escape(required[0])):
            run_cli(member, ["--config", recipe], run=False)
        return
    cli = run_cli(member, ["--config", recipe], run=False)
    config = yaml.safe_load(path.read_text())
    _assert_model_holds(cli.model, config["model"])
    _assert_data_holds(cli.datamodule, config["data"], cli.config.data, "data")
    for key, value in config.get("trainer", {}).items():
        if key == "callbacks":
            names = [type(c).__name__ for c in cli.trainer.callbacks]
            assert all(c["class_path"].rsplit(".", 1)[1] in names for c in value), names
        else:
            assert _plain(getattr(cli.trainer, key)) == value, f"trainer.{key}"


@pytest.mark.parametrize("recipe", sorted(list_recipes("core")))
def test_core_recipe_data_feeds_its_model(recipe, runs_dir, one_thread):
    data = yaml.safe_load(find_recipe(recipe)[1].read_text())["data"]["init_args"]
    # the core tasks are generated: shrink each split (of the wrapped data, for ReadTwiceData) to 8 examples
    prefix, sizes = ("--data.data.", data["data"]["init_args"]) if "data" in data else ("--data.", data)
    small = {"num_train": "8", "num_val": "8", "num_test": "8", "batch_size": "4"}
    overrides = [a for key, value in small.items() if key in sizes for a in (prefix + key, value)]
    cli = run_cli("core", ["--config", recipe, *overrides], run=False)
    cli.datamodule.setup("fit")
    batch = next(iter(cli.datamodule.train_dataloader()))
    model = cli.model
    targets = batch.get("targets")
    if type(model) is SequenceTask:
        # a score for each of the data's classes at every target: [B] or [B, T] targets, one more axis out
        out = model(batch["inputs"], batch.get("lengths"))
        assert out.shape == (*targets.shape, cli.datamodule.num_classes), (out.shape, targets.shape)
    elif type(model) is SequenceRegressionTask:
        out = model(batch["inputs"], batch.get("lengths"))
        outputs = model.hparams.num_outputs
        assert out.shape == (len(targets), outputs) and targets.numel() == len(targets) * outputs, (
            out.shape,
            targets.shape,
        )
    loss = model.training_step(batch, 0)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_fit_writes_the_run_folder_and_overrides_apply(runs_dir, tiny):
    cli = run_cli(
        "core", ["fit", "--config", "parity/lstm", "--model.layer", "gru", "--trainer.max_epochs", "2", *tiny]
    )
    assert isinstance(cli.model, SequenceTask) and cli.model.hparams.layer == "gru"
    (run,) = _run_dirs(runs_dir, "parity/lstm")
    for name in ("config.yaml", "metrics.csv", "metrics.png", "checkpoints/last.ckpt", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["init_args"]["layer"] == "gru"
    epochs = {row["epoch"] for row in csv.DictReader((run / "metrics.csv").open())}
    assert epochs == {"0", "1"}


def test_a_recipe_sets_its_step_checkpoint_interval(runs_dir, tmp_path):
    from recur_core.engine.callbacks import LastCheckpoint

    recipe = yaml.safe_load(find_recipe("parity/lstm")[1].read_text()) | {"checkpoint_every_n_steps": 25}
    (tmp_path / "long_epochs.yaml").write_text(yaml.safe_dump(recipe))
    for extra, every in (([], 25), (["--checkpoint_every_n_steps", "5"], 5)):  # the command line still wins
        cli = run_cli("core", ["--config", str(tmp_path / "long_epochs.yaml"), *extra], run=False)
        (last,) = [c for c in cli.trainer.callbacks if isinstance(c, LastCheckpoint)]
        assert last.every_n_train_steps == every
    cli = run_cli("core", ["--config", "parity/lstm"], run=False)
    (last,) = [c for c in cli.trainer.callbacks if isinstance(c, LastCheckpoint)]
    assert last.every_n_train_steps == 100


def test_unknown_recipe_lists_the_shipped_ones(runs_dir):
    with pytest.raises(ValueError, match="parity/lstm"):
        run_cli("core", ["fit", "--config", "parity/lsmt"])


def test_resume_without_a_previous_run_says_what_to_do(runs_dir):
    with pytest.raises(FileNotFoundError, match="run fit with this recipe first"):
        run_cli("core", ["fit", "--config", "parity/gru", "--ckpt_path", "last"])


def test_model_and_data_disagreement_is_explained(runs_dir, tiny):
    with pytest.raises(ValueError, match=r"model.vocab_size = 5 but the data has vocab_size = 3"):
        run_cli(
            "core", ["fit", "--config", "parity/lstm", "--model.vocab_size", "5", "--trainer.max_epochs", "1", *tiny]
        )


def test_validate_and_test_from_a_checkpoint(runs_dir, tiny):
    run_cli("core", ["fit", "--config", "parity/elman", "--trainer.max_epochs", "1", *tiny])
    (run,) = _run_dirs(runs_dir, "parity/elman")
    best = run / "checkpoints" / "best.ckpt"
    cli = run_cli("core", ["test", "--config", "parity/elman", "--ckpt_path", str(best), *tiny])
    assert "test/acc" in cli.trainer.callback_metrics


def test_command_line_model_options_win_over_the_checkpoints(runs_dir, tiny):
    run_cli("core", ["fit", "--config", "parity/elman", "--trainer.max_epochs", "1", "--model.lr", "0.01", *tiny])
    (run,) = _run_dirs(runs_dir, "parity/elman")
    best = str(run / "checkpoints" / "best.ckpt")
    # the checkpoint's options replace the recipe's, the command line's replace the checkpoint's
    cli = run_cli("core", ["test", "--config", "parity/elman", "--ckpt_path", best, *tiny])
    assert cli.model.hparams.lr == 0.01
    cli = run_cli("core", ["test", "--config", "parity/elman", "--ckpt_path", best, "--model.lr=5e-1", *tiny])
    assert cli.model.hparams.lr == 0.5
    # an option the weights cannot take is the checkpoint's error, not a silent change
    with pytest.raises(RuntimeError, match="size mismatch"):
        run_cli("core", ["test", "--config", "parity/elman", "--ckpt_path", best, *tiny, "--model.d_model", "7"])


def test_explicit_model_options_are_the_model_options_of_the_command_line():
    args = ["test", "--model.beam_size", "5", "--model.init_args.combine=mean", "--model.kwargs.flag", "true"]
    args += ["--model.class_path", "x.Y", "--data.seed", "1", "--model.lr", "1e-3", "--model.beam_size", "4"]
    assert explicit_model_options(args) == ["beam_size", "combine", "kwargs.flag", "lr"]


def _cli(*args: str, env: dict) -> list[str]:
    # the console script itself: Lightning's DDP launcher re-runs sys.argv in each worker
    return [str(Path(sys.executable).parent / "recur-core"), *args]


def _fit_args(tiny: list[str], batch_size: int) -> list[str]:
    """Fit parity/lstm for 3 epochs of 128 sequences, every step logged."""
    args = ["fit", "--config", "parity/lstm", *tiny, "--data.num_val", "50", "--data.batch_size", str(batch_size)]
    return [*args, "--trainer.max_epochs", "3", "--trainer.log_every_n_steps", "1", "--trainer.accelerator", "cpu"]


def _clean_env(runs: Path) -> dict[str, str]:
    env = {**os.environ, "RECUR_RUNS": str(runs), "PYTHONUNBUFFERED": "1"}
    for name in [name for name in env if name.startswith(("SLURM_", "TORCHELASTIC_"))] + ["RECUR_RUN_DIR"]:
        env.pop(name, None)
    return env


def _fit_processes(runs: Path, tiny: list[str], processes: int, batch_size: int) -> Path:
    """The run folder of a fit in ``processes`` CPU processes (Lightning's DDP launcher when 2)."""
    env = _clean_env(runs)
    args = [*_fit_args(tiny, batch_size), "--trainer.devices", str(processes)]
    args += ["--trainer.strategy", "ddp"] if processes > 1 else []
    out = subprocess.run(_cli(*args, env=env), env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = _run_dirs(runs, "parity/lstm")
    return run


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _logged(run: Path, name: str) -> list[float]:
    with open(run / "metrics.csv") as file:
        return [float(row[name]) for row in csv.DictReader(file) if row.get(name)]


def test_two_ddp_processes_compute_what_one_process_computes(tmp_path, tiny):
    # global batch 64 in one process; 32 in each of two (gloo): the same items per step (RankShard)
    one = _fit_processes(tmp_path / "one", tiny, processes=1, batch_size=64)
    two = _fit_processes(tmp_path / "two", tiny, processes=2, batch_size=32)
    steps = _logged(one, "train/loss_step")
    assert len(steps) == 6  # 128 sequences: 2 steps an epoch, 3 epochs
    torch.testing.assert_close(_logged(two, "train/loss_step"), steps, rtol=1e-5, atol=1e-6)
    # 50 validation sequences: 25 per process, none repeated to even the shards out, reduced exactly
    torch.testing.assert_close(_logged(two, "val/loss"), _logged(one, "val/loss"), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_logged(two, "val/acc"), _logged(one, "val/acc"), rtol=0, atol=1e-6)
    final = [torch.load(run / "checkpoints" / "last.ckpt", weights_only=False) for run in (one, two)]
    assert final[0]["global_step"] == final[1]["global_step"] == 6
    for name, weight in final[0]["state_dict"].items():
        torch.testing.assert_close(final[1]["state_dict"][name], weight, rtol=1e-5, atol=1e-6, msg=name)


def test_two_torchrun_nodes_on_loopback_compute_what_one_process_computes(tmp_path, tiny):
    # the multi-node launch of docs/distributed.md: 2 "nodes" x 1 process, rendezvous on 127.0.0.1
    one = _fit_processes(tmp_path / "one", tiny, processes=1, batch_size=64)
    env, port = _clean_env(tmp_path / "nodes"), _free_port()
    torchrun = [str(Path(sys.executable).parent / "torchrun"), "--nnodes", "2", "--nproc-per-node", "1"]
    torchrun += ["--rdzv-id", "loopback", "--master-addr", "127.0.0.1", "--master-port", str(port)]
    cli = [*_cli(*_fit_args(tiny, 32), env=env), "--trainer.num_nodes", "2", "--trainer.devices", "1"]
    cli += ["--trainer.strategy", "ddp"]
    nodes = [
        subprocess.Popen([*torchrun, "--node-rank", str(rank), "--no-python", *cli], env=env, stderr=subprocess.PIPE)
        for rank in (0, 1)
    ]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err.decode()[-3000:]
    # both nodes wrote into the one folder named by the rendezvous id
    (run,) = _run_dirs(tmp_path / "nodes", "parity/lstm")
    assert run.name == "torchrun-loopback"
    torch.testing.assert_close(_logged(run, "train/loss_step"), _logged(one, "train/loss_step"), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_logged(run, "val/loss"), _logged(one, "val/loss"), rtol=1e-5, atol=1e-6)


def test_two_slurm_tasks_on_loopback_compute_what_one_process_computes(tmp_path, tiny):
    # what `srun --nodes 2 --ntasks-per-node 1 recur-core fit ...` gives each task, on this machine
    one = _fit_processes(tmp_path / "one", tiny, processes=1, batch_size=64)
    env = _clean_env(tmp_path / "slurm")
    env |= {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "recur", "SLURM_NTASKS": "2", "SLURM_NNODES": "2"}
    env |= {"SLURM_NTASKS_PER_NODE": "1", "SLURM_NODELIST": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    cli = [*_cli(*_fit_args(tiny, 32), env=env), "--trainer.num_nodes", "2", "--trainer.devices", "1"]
    cli += ["--trainer.strategy", "ddp"]
    tasks = [
        subprocess.Popen(
            cli, env={**env, "SLURM_PROCID": rank, "SLURM_NODEID": rank, "SLURM_LOCALID": "0"}, stderr=subprocess.PIPE
        )
        for rank in ("0", "1")
    ]
    for task in tasks:
        _, err = task.communicate(timeout=300)
        assert task.returncode == 0, err.decode()[-3000:]
    (run,) = _run_dirs(tmp_path / "slurm", "parity/lstm")
    assert run.name == "slurm-4242"
    torch.testing.assert_close(_logged(run, "train/loss_step"), _logged(one, "train/loss_step"), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_logged(run, "val/loss"), _logged(one, "val/loss"), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_ddp_fit_stopped_mid_epoch_resumes_exactly(tmp_path, tiny):
    whole = _fit_processes(tmp_path / "whole", tiny, processes=2, batch_size=32)
    env = _clean_env(tmp_path / "cut")
    args = [*_fit_args(tiny, 32), "--trainer.devices", "2", "--trainer.strategy", "ddp"]
    for extra in (["--trainer.max_steps", "3"], ["--ckpt_path", "last"]):  # stopped in epoch 1 of 3, resumed
        out = subprocess.run(_cli(*args, *extra, env=env), env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    (resumed,) = _run_dirs(tmp_path / "cut", "parity/lstm")
    final = [torch.load(run / "checkpoints" / "last.ckpt", weights_only=False) for run in (whole, resumed)]
    assert final[0]["global_step"] == final[1]["global_step"] == 6
    for name, weight in final[0]["state_dict"].items():
        torch.testing.assert_close(final[1]["state_dict"][name], weight, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(_logged(resumed, "train/loss_step"), _logged(whole, "train/loss_step"), rtol=0, atol=0)
