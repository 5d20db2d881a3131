"""Engine plumbing shared by every CLI: atomic checkpoints, plain progress lines, metric plots."""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ["AtomicCheckpointIO", "MetricPlots", "PlainProgress", "ResumableCSVLogger", "plot_metrics", "read_metrics"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in the same folder, then renames it into place.

    A run killed mid-write leaves the previous checkpoint intact, never a truncated one.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _format(metrics: dict[str, Any]) -> str:
    """Epoch-level values only: ``loss_epoch`` is shown as ``loss``; per-step values are dropped."""
    shown = {k: v for k, v in metrics.items() if not k.endswith("_step") and k + "_epoch" not in metrics}
    return "  ".join(f"{k.removesuffix('_epoch')} {float(v):.4g}" for k, v in sorted(shown.items()))


class PlainProgress(L.Callback):
    """One log line per epoch, for logs and pipes where a progress bar would be noise."""

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

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            print(f"test  {_format({k: v for k, v in trainer.callback_metrics.items() if k.startswith('test')})}")


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
