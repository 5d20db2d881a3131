"""Figures of recur_vision: pure functions that write PNGs.

- :func:`plot_captions`: images with their reference and generated captions side by side.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

__all__ = ["plot_captions"]


def plot_captions(
    images: Sequence, captions: Sequence[dict[str, str]], path: str | Path, columns: int = 4, title: str = ""
) -> Path:
    """A grid of images, each above its captions (``{"reference": ..., "greedy": ..., ...}``, one line each).

    Args:
        images: ``[3, H, W]`` tensors or ``[H, W, 3]`` arrays in [0, 1].
        captions: per image, a label -> caption mapping, printed in its order.
        path: the PNG to write.
        columns: images per row.
        title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if len(images) != len(captions) or not images:
        raise ValueError(f"give one caption mapping per image, got {len(images)} images and {len(captions)} mappings")
    rows = -(-len(images) // columns)
    lines = max(len(c) for c in captions)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, (2.6 + 0.42 * lines) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, labelled in zip(axes.flat, images, captions):
        array = np.asarray(image.permute(1, 2, 0) if hasattr(image, "permute") else image, dtype=np.float32)
        ax.imshow(np.clip(array, 0.0, 1.0))
        text = "\n".join(textwrap.shorten(f"{label}: {caption}", 60) for label, caption in labelled.items())
        ax.set_title(text, fontsize=7, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
