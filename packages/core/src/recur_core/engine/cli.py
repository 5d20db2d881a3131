"""The console scripts ``recur-<member>``: LightningCLI with recipes, run folders, exact resume and one-line errors.

.. code-block:: bash

    recur-core fit --config parity/lstm --model.layer gru     # a shipped recipe + dotted overrides
    recur-core fit --config my_run.yaml                        # any YAML file
    recur-core fit --config parity/lstm --ckpt_path last       # resume the latest run of this recipe
    recur-core test --config parity/lstm --ckpt_path runs/core/parity/lstm/<stamp>/checkpoints/best.ckpt

Each run writes ``runs/<member>/<recipe>/<timestamp>/``: ``config.yaml`` as resolved, ``metrics.csv``,
TensorBoard events under ``tensorboard/``, ``checkpoints/last.ckpt`` and ``checkpoints/best.ckpt``
(written atomically), and ``metrics.png``. ``RECUR_RUNS`` moves the ``runs`` root.
``checkpoints/last.ckpt`` is refreshed every ``--checkpoint_every_n_steps`` optimizer steps, at the
end of every epoch, when training stops and on Ctrl-C; ``--ckpt_path last`` continues from it
exactly as if the run had not stopped (see :class:`~recur_core.engine.callbacks.LastCheckpoint`).
With ``--ckpt_path`` the model is built with the options saved in the checkpoint (the network that
was trained), and the ``--model.<option>`` values given on the command line on top of them (a
test-time choice such as a decoder's beam width).

A fit prints one line per epoch (a progress bar on a terminal) and nothing else: Lightning's
informational messages are silenced by logger level and its known harmless warnings by message.

**User errors.** :func:`console_main` reports a user's mistake as one line,
``recur-<member>: error: <message>``, and exits with status 2; ``RECUR_DEBUG=1`` shows the
traceback instead. A mistake is:

- any command-line or config parse error (jsonargparse's ``ArgumentError``), and an unreadable or
  malformed ``--config`` / ``--ckpt_path`` file;
- a missing or unreadable path (``FileNotFoundError``, ``NotADirectoryError``, ``IsADirectoryError``,
  ``PermissionError``) and a data file its reader rejects (:class:`~recur_core.data.DataFileError`) at any
  time, a data file opened lazily included, also when a DataLoader worker re-raised it;
- before the first batch of the run starts (building the model and data from the config,
  ``DataModule.setup`` reading data, restoring the checkpoint): ``ValueError``, ``TypeError``,
  ``LookupError``, Lightning's ``MisconfigurationException``, and a checkpoint whose weights do not fit
  the model (``RuntimeError: Error(s) in loading state_dict``). Constructors reject settings
  with these.

Everything else, and any ``ValueError`` / ``TypeError`` raised once batches run, is a bug and keeps its
traceback. A wrapped exception (jsonargparse wraps constructor errors) is judged by the outermost
exception of its chain raised outside jsonargparse, so an ``AttributeError`` in a constructor stays a
traceback.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse.typing import NonNegativeInt
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from recur_core.data.root import DataFileError
from recur_core.engine.callbacks import LastCheckpoint, MetricPlots, PlainProgress, RandomStates
from recur_core.engine.module import RecurModule
from recur_core.engine.trainer import quiet_lightning
from recur_core.recipes import find_recipe

__all__ = ["RecurCLI", "console_main", "explicit_model_options", "read_checkpoint", "run_cli"]

_SUBCOMMANDS = ("fit", "validate", "test", "predict")
_RUN_DIR_ENV = "RECUR_RUN_DIR"
# --ckpt_path values Lightning resolves itself; "last" is resolved here, to the latest run of the recipe
_LIGHTNING_CKPT_NAMES = ("best", "hpc", "registry")
_DEFAULT_CHECKPOINT_EVERY_N_STEPS = 100


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


def read_checkpoint(path: str | Path, option: str = "--ckpt_path") -> dict[str, Any]:
    """The recur (Lightning) checkpoint at ``path``, memory-mapped and loaded as Lightning will (``weights_only``).

    ``option`` names the command-line option the path came from, for the one-line errors.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a Lightning checkpoint (``not a recur checkpoint: <path>``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{option} {path}: no such file")
    not_ours = ValueError(f"{option} {path}: not a recur checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as err:
        # torch raises RuntimeError, UnpicklingError, EOFError, ... depending on how the file is not one
        raise not_ours from err
    if not isinstance(checkpoint, dict) or not {"state_dict", "global_step"} <= checkpoint.keys():
        raise not_ours
    return checkpoint


def _forget_metrics_after(metrics_file: Path, resumed_step: int) -> None:
    """Drop ``metrics.csv`` rows logged at or after ``resumed_step``: what the killed run did after its
    last checkpoint, which the resumed run trains and logs again."""
    if not metrics_file.is_file():
        return
    with metrics_file.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], [r for r in reader if int(float(r["step"])) < resumed_step]
    with metrics_file.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _launcher_job_id() -> str | None:
    """The name an external multi-process launcher gives every process of one job, or None:
    torchrun's ``--rdzv-id`` (``TORCHELASTIC_RUN_ID``) or SLURM's job id when the job has several tasks."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "none")
    if run_id != "none":
        return f"torchrun-{run_id}"
    job, tasks = os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_NTASKS", "1")
    if job and tasks.isdigit() and int(tasks) > 1:
        return f"slurm-{job}"
    return None


def _new_run_dir(runs: Path, recipe: str) -> Path:
    """A new ``runs/<recipe>/<stamp>`` folder; every process of a torchrun or SLURM job takes the job's
    ``runs/<recipe>/<launcher>-<id>`` instead (its processes, possibly on several nodes, cannot agree on a time)."""
    job = _launcher_job_id()
    if job is not None:
        return runs / recipe / job
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir, n = runs / recipe / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = runs / recipe / f"{stamp}-{n}"
    return run_dir


def _check_config(path: Path) -> None:
    """Fail early, in one sentence, on a recipe file that is not a YAML mapping."""
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(f"--config {path}: malformed YAML: {problem}{where}") from err
    if content is not None and not isinstance(content, dict):
        raise ValueError(
            f"--config {path}: a recipe is a YAML mapping (model:, data:, trainer:), not a {type(content).__name__}"
        )


def _prepare(member: str, args: list[str]) -> tuple[list[str], Path]:
    """Resolve ``--config`` recipe names to paths, check ``--ckpt_path``, and pick the run folder
    (``runs/<member>/<recipe>/<stamp>``, or the resumed run's folder for ``--ckpt_path last``)."""
    args = list(args)
    recipe = "default"
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            recipe, path = find_recipe(args[i + 1], member)
            _check_config(path)
            args[i + 1] = str(path)
        elif arg.startswith("--config="):
            recipe, path = find_recipe(arg.split("=", 1)[1], member)
            _check_config(path)
            args[i] = f"--config={path}"
    runs = Path(os.environ.get("RECUR_RUNS", "runs")) / member
    inherited = os.environ.get(_RUN_DIR_ENV)
    # processes started by Lightning's DDP launcher inherit the folder chosen by rank zero
    if inherited and "LOCAL_RANK" in os.environ:
        return args, Path(inherited)
    ckpt = _option(args, "--ckpt_path")
    if ckpt is not None and ckpt[1] == "last":
        last = _latest_checkpoint(runs, recipe)
        checkpoint = read_checkpoint(last)
        _set_option(args, ckpt[0], "--ckpt_path", str(last))
        run_dir = last.parent.parent
        if args and args[0] == "fit":
            _forget_metrics_after(run_dir / "metrics.csv", checkpoint["global_step"])
    else:
        if ckpt is not None and ckpt[1] not in _LIGHTNING_CKPT_NAMES:
            read_checkpoint(Path(ckpt[1]))
        run_dir = _new_run_dir(runs, recipe)
    os.environ[_RUN_DIR_ENV] = str(run_dir)
    return args, run_dir


class _FirstBatch(L.Callback):
    """Marks an exception raised once the run's batches started, so :func:`console_main` keeps its traceback."""

    def __init__(self) -> None:
        self.started = False

    def on_train_batch_start(self, *args: Any) -> None:
        self.started = True

    def on_validation_batch_start(self, *args: Any) -> None:
        self.started = True

    def on_test_batch_start(self, *args: Any) -> None:
        self.started = True

    def on_predict_batch_start(self, *args: Any) -> None:
        self.started = True

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if self.started:
            exception._recur_during_run = True  # type: ignore[attr-defined]


class RecurCLI(LightningCLI):
    """LightningCLI that adds ``checkpoints/best.ckpt`` (by the module's ``monitor``), ``checkpoints/last.ckpt``
    (:class:`LastCheckpoint`, every ``--checkpoint_every_n_steps`` steps) and the global random states in every
    checkpoint (:class:`RandomStates`)."""

    def __init__(self, run_dir: Path, **kwargs: Any) -> None:
        self.run_dir = run_dir
        args = kwargs.get("args")
        self.model_options = explicit_model_options(sys.argv[1:] if args is None else args)
        super().__init__(**kwargs)

    def _parse_ckpt_path(self) -> None:
        """Lightning replaces the model's options by those saved in the ``--ckpt_path`` checkpoint, so that the
        network built is the one trained; that dropped the ``--model.<option>`` values given on the command line
        without a word. They are applied again on top, as the command line parsed them (an architecture option
        that disagrees with the weights then fails to load, one line)."""
        subcommand = self.config.get("subcommand")
        if not subcommand or not self.model_options or not self.config[subcommand].get("ckpt_path"):
            super()._parse_ckpt_path()
            return
        given = {key: _lookup(self.config[subcommand].model.init_args, key) for key in self.model_options}
        super()._parse_ckpt_path()
        model = self.config[subcommand].model
        overrides: dict[str, Any] = {}
        for dotted, value in given.items():
            top, *path = dotted.split(".")
            if not path:
                overrides[top] = value
                continue
            # --model.encoder_kwargs.global_max true: one key of a dict option, the rest as the checkpoint has it
            if top not in overrides:
                overrides[top] = _plain(model.init_args.get(top)) or {}
            node = overrides[top]
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        model_config = {"class_path": model.class_path, "init_args": overrides}
        self.config = self.parser.parse_object({subcommand: {"model": model_config}}, self.config)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--checkpoint_every_n_steps",
            type=NonNegativeInt,
            default=_DEFAULT_CHECKPOINT_EVERY_N_STEPS,
            help="refresh checkpoints/last.ckpt every this many optimizer steps (0: only at the end of each epoch)",
        )

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand in ("validate", "test"):
            # PlainProgress prints the metrics in one line; --verbose true brings Lightning's table back
            parser.set_defaults(verbose=False)
        return parser

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[L.Callback]) -> L.Trainer:
        folder = self.run_dir / "checkpoints"
        best = ModelCheckpoint(
            dirpath=folder,
            filename="best",
            monitor=getattr(self.model, "monitor", None),
            mode=getattr(self.model, "monitor_mode", "min"),
            save_on_train_epoch_end=True,
        )
        every = self._get(self.config, "checkpoint_every_n_steps", _DEFAULT_CHECKPOINT_EVERY_N_STEPS)
        last = LastCheckpoint(folder, every_n_train_steps=every)
        return super()._instantiate_trainer(config, [*callbacks, _FirstBatch(), RandomStates(), best, last])


def explicit_model_options(args: list[str]) -> list[str]:
    """The options a command line gives the model, ``--model.<option> <value>`` or ``--model.<option>=<value>``:
    ``["option", ...]`` in order, without ``init_args.`` (a dotted option keeps its dots); the model's class
    (``class_path``) is not an option here."""
    options = []
    for token in args:
        if token.startswith("--model."):
            key = token.removeprefix("--model.").partition("=")[0].removeprefix("init_args.")
            if key.split(".")[0] not in ("class_path", "dict_kwargs") and key not in options:
                options.append(key)
    return options


def _plain(value: Any) -> Any:
    """A deep copy of a parsed option, namespaces as dicts."""
    return copy.deepcopy(value.as_dict() if hasattr(value, "as_dict") else value)


def _lookup(options: Any, dotted: str) -> Any:
    """The value of a dotted option in parsed ``options`` (namespaces and dicts)."""
    for key in dotted.split("."):
        options = options[key]
    return _plain(options)


def run_cli(member: str, args: list[str] | None = None, run: bool = True) -> RecurCLI:
    """Entry point of ``recur-<member>``: parse ``args`` (default ``sys.argv[1:]``) and run the subcommand.

    With ``run=False`` there is no subcommand: the config is parsed and the model, data and
    trainer are instantiated (``cli.model``, ``cli.datamodule``, ``cli.trainer``) but nothing runs.
    Errors are raised as they are; :func:`console_main` turns a user's mistake into one line.
    """
    quiet_lightning()
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
        "enable_model_summary": False,
        # recur's DataModules shard every split themselves under DDP (RankShard: no padding, the one-process
        # order), which Lightning's DistributedSampler injection would undo (and cannot do for a batch sampler)
        "use_distributed_sampler": False,
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
        parser_kwargs={"exit_on_error": False},
        args=None if from_argv else args,
        auto_configure_optimizers=False,
        run=run,
    )


# ----- one-line errors -----------------------------------------------------------------------------------

# missing or unreadable paths the user named: a mistake whenever they happen
_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
# settings a constructor, DataModule.setup or the checkpoint restore rejected: a mistake before batches run
_SETTING_ERRORS = (ValueError, TypeError, LookupError, MisconfigurationException)


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and the exceptions it was raised from (``__cause__``, else ``__context__``), outermost first."""
    chain: list[BaseException] = []
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    return chain


def _raised_in_jsonargparse(err: BaseException) -> bool:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("jsonargparse")


_WORKER_PREFIX = re.compile(r"^Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback")
_EXCEPTION_NAME = re.compile(r"^[\w.]+: ")


def _without_worker_traceback(text: str) -> str:
    """The original message of an error a DataLoader worker re-raised (its text is the worker's whole traceback)."""
    if not _WORKER_PREFIX.match(text):
        return text
    last = text.strip().splitlines()[-1]
    return _EXCEPTION_NAME.sub("", last, count=1)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


_TYPE_NAME = re.compile(r"<class '(?:builtins\.)?([\w.]+)'>")


def _type_names(text: str) -> str:
    """``<class 'int'>`` -> ``int``, ``NoneType`` -> ``None``, ``typing.Literal[...]`` -> ``one of ...``."""
    text = _TYPE_NAME.sub(r"\1", text).replace("NoneType", "None")
    return re.sub(r"typing\.Literal\[(.*?)\]", r"one of \1", text)


def _argument_message(err: BaseException) -> str:
    """One line for a jsonargparse parse error: the option it is about and why, without the usage block."""
    keys: list[str] = []
    class_path = None
    subtypes = None
    for e in _chain(err):
        text = str(e).strip()
        first = text.splitlines()[0] if text else ""
        if match := re.match(r'Parser key "([^"]+)":', first):
            if not keys or keys[-1] != match[1]:
                keys.append(match[1])
                subtypes = None
        elif match := re.match(r"Problem with given class_path '([^']+)':", first):
            class_path = match[1]
        elif first.startswith("Does not validate against any of the Union subtypes"):
            found = re.search(r"^Subtypes: \[(.*)\]$", text, re.MULTILINE)
            subtypes = _type_names(found[1]).split(", ") if found else None
    innermost = _chain(err)[-1]
    reason = _one_line(str(innermost))
    option = "--" + ".".join(keys) if keys else ""
    if (match := re.fullmatch(r"Option '(\w+)' is not accepted", reason)) and keys and class_path:
        return f"unknown option {option}.{match[1]} of {class_path}; list them with: --{keys[0]}.help {class_path}"
    if match := re.fullmatch(r"Expected a (.+?)\. Got value: (.*)", reason):
        wanted = " or ".join(subtypes) if subtypes else _type_names(match[1])
        reason = f"expected {wanted}, got {match[2]!r}"
    elif isinstance(innermost, ImportError | AttributeError) and class_path:
        reason = f"cannot import {class_path}: {reason}"
    else:
        reason = _type_names(reason)
    return f"{option}: {reason}" if option else reason


def _user_error(err: BaseException) -> str | None:
    """The one-line message for a user's mistake, or None when ``err`` is a bug (see the module docstring)."""
    if isinstance(err, argparse.ArgumentError):
        return _argument_message(err)
    own = next((e for e in _chain(err) if not _raised_in_jsonargparse(e)), err)
    during_run = getattr(err, "_recur_during_run", False)
    if isinstance(own, (*_PATH_ERRORS, DataFileError)):
        if isinstance(own, OSError) and own.strerror and own.filename:
            return f"{own.strerror}: {own.filename}"
        return _one_line(_without_worker_traceback(str(own)))
    if during_run:
        return None
    if isinstance(own, RuntimeError) and str(own).startswith("Error(s) in loading state_dict"):
        return "the checkpoint does not fit this model: " + _one_line("\n".join(str(own).splitlines()[:2]))
    if isinstance(own, _SETTING_ERRORS):
        message = str(own.args[0]) if isinstance(own, KeyError) and own.args else str(own)
        return _one_line(message)
    return None


def _debug() -> bool:
    return os.environ.get("RECUR_DEBUG", "") not in ("", "0")


def console_main(member: str, args: list[str] | None = None) -> None:
    """``recur-<member>``: :func:`run_cli` on ``args`` (default ``sys.argv[1:]``) for people at a terminal.

    A user's mistake prints ``recur-<member>: error: <message>`` on stderr and exits with status 2;
    with ``RECUR_DEBUG=1`` it raises as :func:`run_cli` does. Ctrl-C outside training exits with 130.
    """
    try:
        run_cli(member, args)
    except KeyboardInterrupt:
        if _debug():
            raise
        raise SystemExit(130) from None
    except Exception as err:
        message = _user_error(err)
        if message is None or _debug():
            raise
        _remove_if_empty(os.environ.get(_RUN_DIR_ENV))
        print(f"recur-{member}: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None


def _remove_if_empty(run_dir: str | None) -> None:
    """Remove a run folder that a failed start left with nothing in it but TensorBoard's empty event file,
    and the ``runs/<member>/<recipe>`` folders above it that this leaves empty."""
    if run_dir is None or not Path(run_dir).is_dir():
        return
    run = Path(run_dir)
    if any(path.is_file() for path in run.rglob("*") if "tensorboard" not in path.parts):
        return
    shutil.rmtree(run)
    # <runs>/<member>/<recipe family>/<variant>/<stamp>: at most three parents were made for this run
    for parent in list(run.parents)[:3]:
        try:
            parent.rmdir()
        except OSError:  # not empty (other runs), or not ours to remove
            break
