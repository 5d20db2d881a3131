"""Figures of the planning tasks, written as PNGs."""

from __future__ import annotations

import numpy as np

# --- online prediction (PV-RNN) ---------------------------------------------------------------------------------


def plot_online_predictions(path, sequence, predictions, generated=None, title: str = ""):
    """Online predictions against the truth; optionally the prior's free generation beside the data.

    Args:
        path: the PNG written.
        sequence: the observed sequence [T, D] (the first two dimensions are drawn).
        predictions: ``{name: [S, H, D]}``, entry t made after x_t; the 1-step and the H-step
            predictions are drawn at the times they predict.
        generated: a free generation from the prior [T', D] (drawn as a path in the first two dimensions).
        title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sequence = np.asarray(sequence)
    dims = min(2, sequence.shape[1])
    panels = dims + (generated is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    for k in range(dims):
        ax = axes[0, k]
        ax.plot(np.arange(len(sequence)), sequence[:, k], color="black", lw=1.5, label="truth")
        for name, pred in predictions.items():
            pred = np.asarray(pred)
            horizon = pred.shape[1]
            times = np.arange(pred.shape[0])
            ax.plot(times + 1, pred[:, 0, k], lw=1, label=f"{name} 1-step")
            ax.plot(times + horizon, pred[:, -1, k], lw=1, ls="--", label=f"{name} {horizon}-step")
        ax.set_xlabel("step")
        ax.set_ylabel(f"x[{k}]")
    axes[0, 0].legend(fontsize=7)
    if generated is not None:
        ax = axes[0, -1]
        generated = np.asarray(generated)
        ax.plot(sequence[:, 0], sequence[:, 1 % sequence.shape[1]], color="black", lw=1, label="a sequence")
        ax.plot(generated[:, 0], generated[:, 1 % generated.shape[1]], lw=1, label="prior generation")
        ax.set_title("free generation from the prior", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
