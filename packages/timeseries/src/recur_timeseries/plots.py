"""Figures: AR fits, forecasts of windows, attractors, and skill against repeat-last per setting."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["plot_ar_fit", "plot_attractor", "plot_forecasts", "plot_skill"]


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


def plot_forecasts(
    path: str | Path,
    inputs: np.ndarray,
    truth: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    channel: int = -1,
    title: str = "",
) -> Path:
    """Write one panel per window: the input, then the true future against each forecast, for one channel.

    Args:
        path: the PNG to write (parent folders are created).
        inputs: windows' inputs [W, L, C].
        truth: their true futures [W, H, C].
        forecasts: label -> forecasts [W, H, C] of the same windows (e.g. the model and repeat-last).
        channel: the channel drawn (default the last, ETT's target ``OT``).
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inputs, truth = np.asarray(inputs), np.asarray(truth)
    if inputs.ndim != 3 or truth.ndim != 3 or len(inputs) != len(truth) or len(inputs) == 0:
        raise ValueError(
            f"expected inputs [W, L, C] and truth [W, H, C] for the same W >= 1 windows, "
            f"got {inputs.shape} and {truth.shape}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    windows, length, horizon = len(inputs), inputs.shape[1], truth.shape[1]
    fig, axes = plt.subplots(windows, 1, figsize=(10, 2.4 * windows), squeeze=False)
    past, future = np.arange(-length, 0), np.arange(horizon)
    for w, ax in enumerate(axes[:, 0]):
        ax.plot(past, inputs[w, :, channel], color="gray", linewidth=1.0, label="input")
        ax.plot(future, truth[w, :, channel], color="black", linewidth=1.2, label="truth")
        for label, values in forecasts.items():
            ax.plot(future, np.asarray(values)[w, :, channel], linewidth=1.0, alpha=0.85, label=label)
        ax.axvline(-0.5, color="gray", linewidth=0.6, linestyle=":")
        ax.set_ylabel(f"window {w}")
    axes[0, 0].legend(fontsize=8, ncol=len(forecasts) + 2)
    axes[-1, 0].set_xlabel("steps after the window's end")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_attractor(
    path: str | Path,
    true: np.ndarray,
    generated: np.ndarray,
    names: tuple[str, ...] | None = None,
    title: str = "",
    shown: int = 1000,
) -> Path:
    """Write the attractor of a trajectory beside a model's free run, and both time courses.

    Panels: the data's and the model's states (3-D over the first three dimensions; 2-D for two;
    the series against itself one step later for one), then the first ``shown`` steps of the
    first dimension of both. Diverged (non-finite) model states are left out.

    Args:
        path: the PNG to write (parent folders are created).
        true: the data [T, N].
        generated: the model's free run [T', N] from the data's first point.
        names: the N dimensions' names (default x1..xN).
        title: figure title.
        shown: steps drawn in the time-course panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true, generated = np.asarray(true, dtype=float), np.asarray(generated, dtype=float)
    if true.ndim != 2 or generated.ndim != 2 or true.shape[1] != generated.shape[1]:
        raise ValueError(f"true and generated must be [T, N] with the same N, got {true.shape} and {generated.shape}")
    dims = true.shape[1]
    names = tuple(names) if names else tuple(f"x{i + 1}" for i in range(dims))
    generated = generated[np.isfinite(generated).all(1)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(15, 4.6))
    spread = np.abs(true).max() * 1.5
    for index, (label, points, color) in enumerate((("data", true, "black"), ("model (free run)", generated, "C1"))):
        points = np.clip(points, -spread, spread)
        if dims >= 3:
            ax = fig.add_subplot(1, 3, index + 1, projection="3d")
            ax.plot(points[:, 0], points[:, 1], points[:, 2], lw=0.3, color=color)
            ax.set_zlabel(names[2])
        else:
            ax = fig.add_subplot(1, 3, index + 1)
            x, y = (points[:-1, 0], points[1:, 0]) if dims == 1 else (points[:, 0], points[:, 1])
            ax.plot(x, y, lw=0.3, color=color)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1] if dims > 1 else f"{names[0]} one step later")
        ax.set_title(label)
    ax = fig.add_subplot(1, 3, 3)
    ax.plot(true[:shown, 0], color="black", lw=1.0, label="data")
    ax.plot(generated[:shown, 0], color="C1", lw=1.0, label="model (free run)")
    ax.set_xlabel("step")
    ax.set_ylabel(names[0])
    ax.set_title("time course")
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_skill(
    path: str | Path,
    settings: list[str],
    mse: Mapping[str, list[float]],
    reference: list[float],
    title: str = "",
) -> Path:
    """Write a grouped bar chart of each method's skill against a reference, 1 − MSE / MSE_reference, per setting.

    Args:
        path: the PNG to write (parent folders are created).
        settings: the x-axis labels, one per setting.
        mse: method label -> its MSE in each setting (NaN where it did not run).
        reference: the reference's MSE in each setting (repeat-last).
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axis = plt.subplots(figsize=(max(6, 1.5 * len(settings) + 2), 4))
    width = 0.8 / len(mse)
    for k, (label, errors) in enumerate(mse.items()):
        skill = 1 - np.asarray(errors, dtype=float) / np.asarray(reference, dtype=float)
        axis.bar(np.arange(len(settings)) + (k - (len(mse) - 1) / 2) * width, skill, width, label=label)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(settings)), settings, fontsize=8)
    axis.set_ylabel("skill vs repeat-last: 1 - MSE / MSE_last")
    axis.set_ylim(bottom=max(axis.get_ylim()[0], -0.5))
    if title:
        axis.set_title(title)
    axis.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
