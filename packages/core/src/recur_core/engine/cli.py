"""The console scripts ``recur-<member>``: LightningCLI with recipes, run folders and resume.

.. code-block:: bash

    recur-core fit --config parity/lstm --model.layer gru     # a shipped recipe + dotted overrides
    recur-core fit --config my_run.yaml                        # any YAML file
    recur-core fit --config parity/lstm --ckpt_path last       # resume the latest run of this recipe
    recur-core test --config parity/lstm --ckpt_path runs/parity/lstm/<stamp>/checkpoints/best.ckpt

Each run writes ``runs/<recipe>/<timestamp>/``: ``config.yaml`` as resolved, ``metrics.csv``,
TensorBoard events under ``tensorboard/``, ``checkpoints/last.ckpt`` and ``checkpoints/best.ckpt``
(written atomically), and ``metrics.png``. ``RECUR_RUNS`` moves the ``runs`` root.
"""

from __future__ import annotations

import csv
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from recur_core.engine.callbacks import MetricPlots, PlainProgress
from recur_core.engine.module import RecurModule
from recur_core.recipes import find_recipe

__all__ = ["RecurCLI", "run_cli"]

_SUBCOMMANDS = ("fit", "validate", "test", "predict")
_RUN_DIR_ENV = "RECUR_RUN_DIR"


def _option(args: list[str], name: str) -> tuple[int, str] | None:
    """Index and value of ``--name value`` or ``--name=value`` in ``args`` (the last one wins)."""
    found = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            found = (i, args[i + 1])
        elif arg.startswith(name + "="):
            found = (i, arg.split("=", 1)[1])
    return found


def _set_option(args: list[str], index: int, name: str, value: str) -> None:
    if args[index] == name:
        args[index + 1] = value
    else:
        args[index] = f"{name}={value}"


def _latest_checkpoint(runs: Path, recipe: str) -> Path:
    candidates = sorted((runs / recipe).glob("*/checkpoints/last.ckpt"))
    if not candidates:
        raise FileNotFoundError(
            f"--ckpt_path last: no {runs / recipe}/<timestamp>/checkpoints/last.ckpt to resume from; "
            "run fit with this recipe first, or pass a checkpoint path"
        )
    return candidates[-1]


def _forget_metrics_after(metrics_file: Path, checkpoint: Path) -> None:
    """Drop ``metrics.csv`` rows logged after ``checkpoint`` was written: the killed run's lost
    partial epoch, which the resumed run trains and logs again."""
    if not metrics_file.is_file():
        return
    resumed_step = torch.load(checkpoint, map_location="cpu", weights_only=False)["global_step"]
    with metrics_file.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], [r for r in reader if int(float(r["step"])) < resumed_step]
    with metrics_file.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _new_run_dir(runs: Path, recipe: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir, n = runs / recipe / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = runs / recipe / f"{stamp}-{n}"
    return run_dir


def _prepare(member: str, args: list[str]) -> tuple[list[str], Path]:
    """Resolve ``--config`` recipe names to paths and pick the run folder (reused by --ckpt_path last)."""
    args = list(args)
    recipe = "default"
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            recipe, path = find_recipe(args[i + 1], member)
            args[i + 1] = str(path)
        elif arg.startswith("--config="):
            recipe, path = find_recipe(arg.split("=", 1)[1], member)
            args[i] = f"--config={path}"
    runs = Path(os.environ.get("RECUR_RUNS", "runs"))
    inherited = os.environ.get(_RUN_DIR_ENV)
    # processes started by Lightning's DDP launcher inherit the folder chosen by rank zero
    if inherited and "LOCAL_RANK" in os.environ:
        return args, Path(inherited)
    ckpt = _option(args, "--ckpt_path")
    if ckpt is not None and ckpt[1] == "last":
        last = _latest_checkpoint(runs, recipe)
        _set_option(args, ckpt[0], "--ckpt_path", str(last))
        run_dir = last.parent.parent
        _forget_metrics_after(run_dir / "metrics.csv", last)
    else:
        run_dir = _new_run_dir(runs, recipe)
    os.environ[_RUN_DIR_ENV] = str(run_dir)
    return args, run_dir


class RecurCLI(LightningCLI):
    """LightningCLI that adds ``checkpoints/best.ckpt`` (by the module's ``monitor``) and ``checkpoints/last.ckpt``."""

    def __init__(self, run_dir: Path, **kwargs: Any) -> None:
        self.run_dir = run_dir
        super().__init__(**kwargs)

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[L.Callback]) -> L.Trainer:
        folder = self.run_dir / "checkpoints"
        # two callbacks: Lightning only refreshes save_last when a top-k checkpoint was written
        best = ModelCheckpoint(
            dirpath=folder,
            filename="best",
            monitor=getattr(self.model, "monitor", None),
            mode=getattr(self.model, "monitor_mode", "min"),
            save_on_train_epoch_end=True,
        )
        last = ModelCheckpoint(dirpath=folder, filename="last", save_on_train_epoch_end=True)
        return super()._instantiate_trainer(config, [*callbacks, best, last])


def run_cli(member: str, args: list[str] | None = None, run: bool = True) -> RecurCLI:
    """Entry point of ``recur-<member>``: parse ``args`` (default ``sys.argv[1:]``) and run the subcommand.

    With ``run=False`` there is no subcommand: the config is parsed and the model, data and
    trainer are instantiated (``cli.model``, ``cli.datamodule``, ``cli.trainer``) but nothing runs.
    """
    from_argv = args is None
    args, run_dir = _prepare(member, sys.argv[1:] if from_argv else args)
    if from_argv:
        # DDP's launcher re-runs sys.argv in each worker: give them the resolved recipe and checkpoint
        sys.argv[1:] = args
    interactive = sys.stdout.isatty()
    callbacks: list[L.Callback] = [MetricPlots(run_dir)]
    if not interactive:
        callbacks.append(PlainProgress())
    loggers = [
        {
            "class_path": "recur_core.engine.ResumableCSVLogger",
            "init_args": {"save_dir": str(run_dir), "name": "", "version": ""},
        },
        {
            "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
            "init_args": {"save_dir": str(run_dir), "name": "tensorboard", "version": "", "default_hp_metric": False},
        },
    ]
    trainer_defaults = {
        "default_root_dir": str(run_dir),
        "logger": loggers,
        "callbacks": callbacks,
        "plugins": [{"class_path": "recur_core.engine.AtomicCheckpointIO"}],
        "enable_progress_bar": interactive,
    }
    return RecurCLI(
        run_dir,
        model_class=RecurModule,
        datamodule_class=L.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults=trainer_defaults,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=None if from_argv else args,
        auto_configure_optimizers=False,
        run=run,
    )
