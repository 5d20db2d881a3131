"""Figures for AR fits: a stretch of one-step forecasts against the truth, and the coefficients per lag."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["plot_ar_fit"]


def plot_ar_fit(
    path: str | Path,
    truth: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    coefficients: Mapping[str, np.ndarray],
    true_coefficients: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Write a two-panel PNG: forecasts vs truth (left), coefficient per lag (right).

    Args:
        path: the PNG to write (parent folders are created).
        truth: observed values [N].
        forecasts: label -> forecasts [N] of the same points (e.g. ``{"AR-Net": ..., "Classic-AR": ...}``).
        coefficients: label -> fitted coefficients [p], lag 1 first.
        true_coefficients: the process's coefficients [k], lag 1 first, when known.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    steps = np.arange(len(truth))
    left.plot(steps, truth, color="black", linewidth=1.2, label="truth")
    for label, values in forecasts.items():
        left.plot(steps, values, linewidth=1.0, alpha=0.85, label=label)
    left.set_xlabel("time step")
    left.set_title("one-step forecasts")
    left.legend(fontsize=8)

    order = max([len(c) for c in coefficients.values()] + [0 if true_coefficients is None else len(true_coefficients)])
    lags = np.arange(1, order + 1)
    series = dict(coefficients)
    if true_coefficients is not None:
        series = {
            "true": np.pad(np.asarray(true_coefficients, dtype=float), (0, order - len(true_coefficients))),
            **series,
        }
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        right.bar(lags[: len(values)] + (i - (len(series) - 1) / 2) * width, values, width=width, label=label)
    right.axhline(0, color="gray", linewidth=0.6)
    right.set_xlabel("lag")
    right.set_title("AR coefficients")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
