"""Engine plumbing shared by every CLI: atomic and resumable checkpoints, random states, progress lines, plots."""

from __future__ import annotations

import csv
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = [
    "AtomicCheckpointIO",
    "LastCheckpoint",
    "MetricPlots",
    "PlainProgress",
    "RandomStates",
    "ResumableCSVLogger",
    "plot_metrics",
    "read_metrics",
]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in the same folder, then renames it into place.

    A run killed mid-write leaves the previous checkpoint intact, never a truncated one.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own, opened like any new file (mkstemp's would be private to the owner)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "xb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _format(metrics: dict[str, Any]) -> str:
    """Epoch-level values only (``loss_epoch`` shown as ``loss``; per-step values dropped), to 5 significant
    digits: a model and its baselines often differ in the fourth."""
    shown = {k: v for k, v in metrics.items() if not k.endswith("_step") and k + "_epoch" not in metrics}
    return "  ".join(f"{k.removesuffix('_epoch')} {float(v):.5g}" for k, v in sorted(shown.items()))


class PlainProgress(L.Callback):
    """One log line per epoch, for logs and pipes where a progress bar would be noise."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a run resumed mid-epoch starts without on_train_epoch_start
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            seconds = time.perf_counter() - self._start
            metrics = {k: v for k, v in trainer.callback_metrics.items() if v.numel() == 1}
            print(
                f"epoch {trainer.current_epoch}  step {trainer.global_step}  {_format(metrics)}  ({seconds:.1f}s)",
                flush=True,
            )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # during fit the epoch line shows validation; the validate subcommand has only this line
        if trainer.state.fn == "validate" and trainer.is_global_zero:
            print(f"validate  {_format({k: v for k, v in trainer.callback_metrics.items() if k.startswith('val')})}")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            print(f"test  {_format({k: v for k, v in trainer.callback_metrics.items() if k.startswith('test')})}")


class LastCheckpoint(Checkpoint):
    """Keeps ``<dirpath>/last.ckpt`` the state to resume from, so that ``--ckpt_path last`` continues a fit
    exactly as if it had not stopped.

    It is written every ``every_n_train_steps`` optimizer steps, at the end of every epoch, when training
    stops before its epoch ends (``max_steps``, ``max_time``) and on Ctrl-C, always between two batches,
    where Lightning resumes mid-epoch (the training loader's position travels in the checkpoint).

    Lightning hands a step's metrics to the loggers only after ``on_train_batch_end`` (and an epoch's
    after ``on_train_epoch_end``), where checkpoints are written. So each checkpoint goes to
    ``.last.ckpt.next`` first and replaces ``last.ckpt`` at the next hook, once the loggers have
    flushed: whenever the run is killed, ``metrics.csv`` holds every step up to ``last.ckpt``'s.

    Ctrl-C (SIGINT) during a fit asks for a stop: training runs to the end of the current step,
    writes ``last.ckpt`` and raises ``KeyboardInterrupt``; a second Ctrl-C stops at once.

    Args:
        dirpath: the run's ``checkpoints`` folder.
        every_n_train_steps: optimizer steps between two checkpoints; 0 writes only at the ends of epochs.
    """

    def __init__(self, dirpath: str | Path, every_n_train_steps: int = 100) -> None:
        if every_n_train_steps < 0:
            raise ValueError(f"every_n_train_steps must be 0 (epoch ends only) or more, got {every_n_train_steps}")
        self.path = Path(dirpath) / "last.ckpt"
        self.every_n_train_steps = every_n_train_steps
        self._next = self.path.with_name(".last.ckpt.next")
        self._pending = False
        self._written_step = -1
        self._interrupted = False
        self._stopping = False
        self._previous_handler: Any = None

    # ----- writing: to .last.ckpt.next, moved into place once the loggers have this step's metrics
    def _write(self, trainer: L.Trainer) -> None:
        trainer.save_checkpoint(self._next)
        self._pending = True
        self._written_step = trainer.global_step

    def _commit(self, trainer: L.Trainer) -> None:
        if not self._pending:
            return
        self._pending = False
        for logger in trainer.loggers:
            logger.save()
        if trainer.is_global_zero:
            os.replace(self._next, self.path)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        # every rank stops at the same step, however the signal reached them
        self._stopping = self._stopping or trainer.strategy.reduce_boolean_decision(self._interrupted, all=False)
        step = trainer.global_step
        if trainer.fast_dev_run or step == self._written_step:
            return
        due = self.every_n_train_steps > 0 and step % self.every_n_train_steps == 0
        ending = trainer.should_stop or 0 < trainer.max_steps <= step
        if due or ending or self._stopping:
            self._write(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._commit(trainer)
        self._stop_if_asked(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._commit(trainer)
            self._stop_if_asked(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._commit(trainer)
        self._stopping = self._stopping or trainer.strategy.reduce_boolean_decision(self._interrupted, all=False)
        self._stop_if_asked(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._commit(trainer)
        if trainer.fast_dev_run:
            return
        # an epoch cut short by max_steps was written at its last step; one that ran to its end
        # is written again after its validation
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch or self._written_step != trainer.global_step:
            self._write(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._commit(trainer)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._written_step = checkpoint["global_step"]
        if trainer.state.fn == "fit" and trainer.is_global_zero:
            print(f"resumed at step {checkpoint['global_step']} from {trainer.ckpt_path}")

    # ----- Ctrl-C
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._rank_zero = trainer.is_global_zero
        # only the main thread may set handlers; a SIGINT the shell ignores (background jobs) stays ignored
        main = threading.current_thread() is threading.main_thread()
        if stage == "fit" and main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._interrupted:
            self._restore_handler()
            raise KeyboardInterrupt
        self._interrupted = True
        if self._rank_zero:
            print("Ctrl-C: stopping after this step to write last.ckpt (Ctrl-C again to stop now)", file=sys.stderr)

    def _restore_handler(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def _stop_if_asked(self, trainer: L.Trainer) -> None:
        if self._stopping and not self._pending and self._written_step == trainer.global_step:
            self._restore_handler()
            if trainer.is_global_zero:
                print(
                    f"stopped at step {trainer.global_step}; continue with --ckpt_path last ({self.path})",
                    file=sys.stderr,
                )
            raise KeyboardInterrupt

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_handler()
        # the pending checkpoint's metrics may not have reached metrics.csv: keep the previous last.ckpt
        if self._pending and trainer.is_global_zero:
            self._next.unlink(missing_ok=True)
        self._pending = False

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore_handler()


def _capture_random_states() -> dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {**numpy_state, "state": {**numpy_state["state"], "key": numpy_state["state"]["key"].tolist()}},
        "python": random.getstate(),
    }
    # a run that never touched CUDA has no CUDA generator state worth keeping (and asking would start CUDA)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_random_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    key = np.asarray(numpy_state["state"]["key"], dtype=np.uint32)
    np.random.set_state({**numpy_state, "state": {**numpy_state["state"], "key": key}})
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available() and torch.cuda.device_count() == len(states["cuda"]):
        torch.cuda.set_rng_state_all(states["cuda"])


class RandomStates(L.Callback):
    """Saves the global random generators in every checkpoint and puts them back when a fit resumes.

    Torch's (CPU, and CUDA's when used), numpy's global generator and Python's ``random``: dropout
    masks, noise and any other draw after the resume are those of the run that never stopped. They
    are put back at the first training hook after the restore (``on_train_epoch_start``, or
    ``on_train_batch_start`` when resuming mid-epoch), so that nothing Lightning does in between
    (building loaders, moving the model) can shift them. Under DDP the checkpoint holds rank zero's
    states, which every rank gets back: ranks seeded alike draw alike.
    """

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return _capture_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = state_dict

    def _restore(self) -> None:
        if self._to_restore is not None:
            _restore_random_states(self._to_restore)
            self._to_restore = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._restore()


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Keep an existing metrics.csv and its columns: a resumed run appends instead of deleting it."""
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = sorted(next(csv.reader(f), []))


class ResumableCSVLogger(CSVLogger):
    """CSVLogger that appends to ``metrics.csv`` when a resumed run logs into the same folder."""

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def read_metrics(path: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Epoch-level series from a Lightning ``metrics.csv``: name -> [(epoch, value), ...]."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if not row.get("epoch"):
                continue
            for key, value in row.items():
                if key in ("epoch", "step") or key.endswith("_step") or value in ("", None):
                    continue
                series[key.removesuffix("_epoch")].append((int(float(row["epoch"])), float(value)))
    return dict(series)


class MetricPlots(L.Callback):
    """After fit, plots every epoch-level metric in ``metrics.csv`` (resumed epochs included) into
    ``<run_dir>/metrics.png``, then lets the module add its own figures (``on_fit_plots``)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                logger.save()
                metrics_file = Path(logger.log_dir) / "metrics.csv"
                if metrics_file.is_file():
                    plot_metrics(read_metrics(metrics_file), self.run_dir / "metrics.png")
        hook = getattr(pl_module, "on_fit_plots", None)
        if hook is not None:
            hook(self.run_dir)


def plot_metrics(series: dict[str, list[tuple[int, float]]], path: Path) -> None:
    """One panel per metric name (``loss``, ``acc``, ...), one line per stage (train, val)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k.split("/", 1)[-1] for k in series})
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, points in sorted(series.items()):
            if key.split("/", 1)[-1] == name:
                epochs, values = zip(*points)
                ax.plot(epochs, values, marker="o", label=key.split("/", 1)[0])
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
