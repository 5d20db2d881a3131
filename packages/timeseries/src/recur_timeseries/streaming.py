"""Streaming forecasts: feed a series one observation at a time through a model's ``step`` and watch its memory.

A forecaster with ``init_state(batch)`` and ``step(x_t [B, C], state) -> (forecast [B, H, C], state)``
(:class:`~recur_timeseries.models.aaren.AarenForecaster`) forecasts after every new observation
from all observations so far. For Aaren the state is a fixed set of tensors, so the bytes it holds
are the same after 10 observations and after 10,000; with ``layer="attention"`` the state is a KV
cache that grows by one slot per observation.

:class:`StreamForecasts` is the Lightning callback behind
``recur-timeseries predict --config aaren/generated --ckpt_path last``: before the predict loop it
streams the DataModule's test series and prints, every ``every`` observations, the state's bytes,
the process's peak resident memory (and the step's peak CUDA memory on a GPU), the time per step,
and the running MSE of the forecasts beside repeat-last's; it writes ``stream.csv`` to the run folder.
It does nothing in fit, validate or test.
"""

from __future__ import annotations

import csv
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from recur_timeseries.models.aaren import state_nbytes

__all__ = ["StreamForecasts", "StreamRecord", "stream_forecasts"]


@dataclass
class StreamRecord:
    """One line of a stream: after ``step`` observations (1-based)."""

    step: int
    state_bytes: int
    peak_rss_bytes: int
    peak_cuda_bytes: int
    ms_per_step: float
    mse: float
    mse_repeat_last: float


def _peak_rss_bytes() -> int:
    # ru_maxrss is the process's high-water mark, in kilobytes on Linux (bytes on macOS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@torch.no_grad()
def stream_forecasts(
    net: nn.Module, values: np.ndarray | Tensor, every: int = 100, max_steps: int | None = None
) -> Iterator[StreamRecord]:
    """Stream ``values`` [T, C] through ``net.step`` (batch 1); yield a :class:`StreamRecord` every ``every`` steps.

    The forecast after observation t is scored on the next H observations where they exist in ``values``;
    ``mse`` and ``mse_repeat_last`` are running means over the scored steps so far (nan before the first).
    """
    if not (callable(getattr(net, "step", None)) and callable(getattr(net, "init_state", None))):
        raise ValueError(f"{type(net).__name__} has no step()/init_state(): streaming needs a causal model (aaren)")
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    param = next(net.parameters())
    series = torch.as_tensor(np.asarray(values), dtype=param.dtype, device=param.device)
    if series.dim() != 2:
        raise ValueError(f"a stream is a [T, C] table, got shape {tuple(series.shape)}")
    steps = len(series) if max_steps is None else min(max_steps, len(series))
    cuda = series.is_cuda
    state = net.init_state(1, device=series.device, dtype=series.dtype)
    sq_err = sq_err_last = 0.0
    scored = 0
    started, peak_cuda, since = time.perf_counter(), 0, 0
    for t in range(steps):
        since += 1
        if cuda:
            torch.cuda.reset_peak_memory_stats(series.device)
        forecast, state = net.step(series[t][None], state)
        if cuda:
            peak_cuda = max(peak_cuda, torch.cuda.max_memory_allocated(series.device))
        horizon = forecast.shape[1]
        if t + horizon < len(series):
            truth = series[t + 1 : t + 1 + horizon]
            sq_err += float((forecast[0] - truth).pow(2).mean())
            sq_err_last += float((series[t] - truth).pow(2).mean())
            scored += 1
        if (t + 1) % every == 0 or t + 1 == steps:
            elapsed = time.perf_counter() - started
            yield StreamRecord(
                step=t + 1,
                state_bytes=state_nbytes(state),
                peak_rss_bytes=_peak_rss_bytes(),
                peak_cuda_bytes=peak_cuda,
                ms_per_step=1000 * elapsed / since,
                mse=sq_err / scored if scored else float("nan"),
                mse_repeat_last=sq_err_last / scored if scored else float("nan"),
            )
            started, peak_cuda, since = time.perf_counter(), 0, 0


class StreamForecasts(L.Callback):
    """In ``predict``: stream the test series through ``pl_module.net.step`` and print memory per step.

    Args:
        every: print a line every this many observations (default 500).
        max_steps: stop after this many observations (default: the whole test split).
        split: the DataModule split streamed (default ``"test"``; its ``values`` [T, C]).
    """

    def __init__(self, every: int = 500, max_steps: int | None = None, split: str = "test") -> None:
        if every < 1:
            raise ValueError(f"StreamForecasts.every must be at least 1, got {every}")
        self.every, self.max_steps, self.split = every, max_steps, split

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        net = getattr(pl_module, "net", pl_module)
        data = trainer.datamodule
        values = getattr(data.dataset(self.split), "values", None) if data is not None else None
        if values is None:
            raise ValueError(
                f"StreamForecasts needs a DataModule whose {self.split!r} dataset has values [T, C] (ForecastData)"
            )
        was_training = net.training
        net.eval()
        records = []
        if trainer.is_global_zero:
            print(f"stream  {type(net).__name__} ({getattr(net, 'layer', '?')}) over the {self.split} split, batch 1")
            print(f"{'step':>7} {'state B':>10} {'peak RSS MB':>11} {'ms/step':>8} {'mse':>8} {'repeat-last':>11}")
        for record in stream_forecasts(net, values, self.every, self.max_steps):
            records.append(record)
            if trainer.is_global_zero:
                cuda = f"  peak CUDA {record.peak_cuda_bytes} B" if record.peak_cuda_bytes else ""
                print(
                    f"{record.step:>7} {record.state_bytes:>10} {record.peak_rss_bytes / 2**20:>11.1f} "
                    f"{record.ms_per_step:>8.3f} {record.mse:>8.4f} {record.mse_repeat_last:>11.4f}{cuda}",
                    flush=True,
                )
        net.train(was_training)
        root = trainer.default_root_dir
        if trainer.is_global_zero and root is not None and records:
            path = Path(root) / "stream.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(asdict(records[0])))
                writer.writeheader()
                writer.writerows(asdict(r) for r in records)
            print(f"wrote {path}")
