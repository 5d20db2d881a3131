"""Online prediction: stream sequences one observation at a time through a model's online predictor.

A predictor (``model.online_predictor(horizon, ...)``: PV-RNN's error regression,
:class:`~recur_planning.models.pvrnn.OnlineErrorRegression`, or the baselines'
:class:`~recur_planning.models.baselines.RecurrentPredictor`) takes one observation x_t [B, D] and
returns its prediction of x_{t+1..t+H} [B, H, D]. :func:`stream_predictions` runs it over whole
sequences (batched over sequences, sequential in time); :mod:`recur_planning.metrics` scores the result.

:class:`StreamPredictions` is the Lightning callback behind
``recur-planning predict --config pvrnn/default --ckpt_path last``: before the predict loop it streams
the DataModule's test sequences one at a time (batch 1, as a robot would) and prints, every ``every``
steps, the milliseconds per online step and the running prediction MSE beside repeat-last's; it writes
``stream.csv`` to the run folder. It does nothing in fit, validate or test.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

__all__ = ["StreamPredictions", "StreamRecord", "stream_predictions"]


def stream_predictions(predictor, sequences: Tensor, horizon: int, steps: int | None = None) -> Tensor:
    """Predictions [B, steps, H, D] of ``sequences`` [B, T, D]: entry t is the prediction after x_t.

    The predictor is reset first; its ``horizon`` must equal ``horizon``.
    """
    if sequences.dim() != 3:
        raise ValueError(f"sequences must be [B, T, D], got shape {tuple(sequences.shape)}")
    steps = sequences.shape[1] if steps is None else min(steps, sequences.shape[1])
    predictor.reset()
    out = []
    for t in range(steps):
        prediction = predictor.step(sequences[:, t])
        if prediction.shape[1] != horizon:
            raise ValueError(f"the predictor predicts {prediction.shape[1]} steps, expected horizon {horizon}")
        out.append(prediction.detach())
    return torch.stack(out, 1)


@dataclass
class StreamRecord:
    """One line of a stream: after ``step`` observations of sequence ``sequence``."""

    sequence: int
    step: int
    ms_per_step: float
    mse: float
    mse_repeat_last: float


class StreamPredictions(L.Callback):
    """In ``predict``: stream the test sequences through the model's online predictor, batch 1.

    Args:
        every: print a line every this many steps.
        max_sequences: stream at most this many test sequences (default 2).
        split: the DataModule split streamed (its ``values`` [N, T, D]).
    """

    def __init__(self, every: int = 10, max_sequences: int = 2, split: str = "test") -> None:
        if every < 1 or max_sequences < 1:
            raise ValueError(f"every and max_sequences must be at least 1, got {every}, {max_sequences}")
        self.every, self.max_sequences, self.split = every, max_sequences, split

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        data = trainer.datamodule
        values = getattr(data.dataset(self.split), "values", None) if data is not None else None
        if values is None or not hasattr(pl_module, "online_predictor"):
            raise ValueError(
                "StreamPredictions needs a PredictiveCodingModule and a DataModule whose "
                f"{self.split!r} dataset has values [N, T, D] (TrajectoryData)"
            )
        predictor = pl_module.online_predictor()
        horizon = pl_module.hparams.horizon
        records = []
        if trainer.is_global_zero:
            print(
                f"stream  {pl_module.hparams.model} over the {self.split} split, one sequence at a time, H = {horizon}"
            )
            print(f"{'seq':>4} {'step':>5} {'ms/step':>9} {'mse':>8} {'repeat-last':>11}")
        for n, sequence in enumerate(values[: self.max_sequences].to(pl_module.device)):
            predictor.reset()
            squared = squared_last = 0.0
            scored, started, since = 0, time.perf_counter(), 0
            for t in range(len(sequence)):
                prediction = predictor.step(sequence[t])
                since += 1
                if t + horizon < len(sequence):
                    truth = sequence[t + 1 : t + 1 + horizon]
                    squared += float((prediction - truth).square().mean())
                    squared_last += float((sequence[t] - truth).square().mean())
                    scored += 1
                if (t + 1) % self.every == 0 or t + 1 == len(sequence):
                    record = StreamRecord(
                        sequence=n,
                        step=t + 1,
                        ms_per_step=1000 * (time.perf_counter() - started) / since,
                        mse=squared / scored if scored else float("nan"),
                        mse_repeat_last=squared_last / scored if scored else float("nan"),
                    )
                    records.append(record)
                    started, since = time.perf_counter(), 0
                    if trainer.is_global_zero:
                        print(
                            f"{n:>4} {record.step:>5} {record.ms_per_step:>9.2f} {record.mse:>8.4f} "
                            f"{record.mse_repeat_last:>11.4f}",
                            flush=True,
                        )
        root = trainer.default_root_dir
        if trainer.is_global_zero and root is not None and records:
            path = Path(root) / "stream.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(asdict(records[0])))
                writer.writeheader()
                writer.writerows(asdict(r) for r in records)
            print(f"wrote {path}")
