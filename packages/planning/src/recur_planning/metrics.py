"""Scores of the planning tasks: goal-recognition accuracy per observability level, prediction errors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# --- goal recognition (GRNet and the recognizers) ------------------------------------------------------------


def mean_per_level(values: Sequence[float], levels: Sequence[int]) -> dict[int, float]:
    """The mean of ``values`` over the problems of each observability level (percent), levels ascending.

    Example: ``mean_per_level([1, 0, 1], [10, 10, 30]) == {10: 0.5, 30: 1.0}``.
    """
    values, levels = np.asarray(values, dtype=np.float64), np.asarray(levels)
    if values.shape != levels.shape or values.ndim != 1:
        raise ValueError(f"values and levels must be vectors of one length, got {values.shape} and {levels.shape}")
    return {int(level): float(values[levels == level].mean()) for level in np.unique(levels)}


def recognition_accuracy(correct: Sequence[bool], levels: Sequence[int]) -> dict[str, float]:
    """Goal-recognition accuracy over all problems (``"acc"``) and per observability level (``"acc_<obs%>"``).

    A problem is correct when the chosen candidate equals the true goal (the benchmark's and the
    official GRNet notebook's ``accuracy_score``).
    """
    if len(correct) == 0:
        raise ValueError("no problems to score")
    scores = {"acc": float(np.mean(np.asarray(correct, dtype=np.float64)))}
    scores.update({f"acc_{level}": value for level, value in mean_per_level(correct, levels).items()})
    return scores


def random_pick_accuracy(num_correct: Sequence[int], num_candidates: Sequence[int]) -> np.ndarray:
    """Per problem, the expected accuracy of a uniform pick among the candidates: correct candidates / candidates.

    More than one candidate is correct when the benchmark lists the true goal twice.
    """
    right, total = np.asarray(num_correct, dtype=np.float64), np.asarray(num_candidates, dtype=np.float64)
    if (total < 1).any() or (right < 0).any() or (right > total).any():
        raise ValueError("each problem needs at least one candidate and 0..candidates correct ones")
    return right / total


# --- online prediction (PV-RNN and its baselines) ------------------------------------------------------------


def online_prediction_mse(predictions, sequences, start: int = 0):
    """MSE of online predictions: ``predictions`` [B, S, H, D] (entry t made after x_t) against ``sequences`` [B, T, D].

    Scored are the steps t = ``start`` .. T-H-1 (those whose next H steps exist), averaged over the
    steps, the horizon, the dimensions and the sequences. Tensors or arrays; returns a float.
    """
    predictions, sequences = np.asarray(predictions, dtype=np.float64), np.asarray(sequences, dtype=np.float64)
    if predictions.ndim != 4 or sequences.ndim != 3 or predictions.shape[0] != sequences.shape[0]:
        raise ValueError(
            f"predictions must be [B, S, H, D] and sequences [B, T, D] of one batch, got {predictions.shape}, "
            f"{sequences.shape}"
        )
    horizon, length = predictions.shape[2], sequences.shape[1]
    stop = min(predictions.shape[1], length - horizon)
    if stop <= start:
        raise ValueError(f"no step to score: start {start}, horizon {horizon}, {length} steps; lower start or horizon")
    offsets = np.arange(start, stop)[:, None] + np.arange(1, horizon + 1)[None]
    truth = sequences[:, offsets]
    return float(((predictions[:, start:stop] - truth) ** 2).mean())


def repeat_last_predictions(sequences, horizon: int):
    """The repeat-last forecast in the layout of :func:`online_prediction_mse`: [B, T, H, D], x_t repeated."""
    sequences = np.asarray(sequences, dtype=np.float64)
    return np.repeat(sequences[:, :, None], horizon, axis=2)
