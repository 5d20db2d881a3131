"""Vectorised numpy drawing shared by the generated videos and the generated caption scenes.

Shapes are drawn as anti-aliased coverage maps from a signed distance: for a pixel grid and a
batch of poses (centre, radius, angle), :func:`shape_alpha` returns the fraction of each pixel the
shape covers, ``clip(0.5 - d, 0, 1)`` with ``d`` the (approximate) signed distance in pixels to
the shape's edge. Everything is broadcast over a leading batch axis (frames of a video), so a
whole video is drawn without a Python loop over frames or pixels.

Coordinates are image coordinates: ``x`` to the right, ``y`` down, in pixels. An angle ``a``
rotates the shape by ``a`` radians clockwise on screen (because ``y`` points down).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SHAPES", "composite", "shape_alpha", "smooth_noise", "textured_background"]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "ellipse", "plus")

_SQRT3 = np.float32(np.sqrt(3.0))


def _unit_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance to ``shape`` of radius 1 at the origin, in units of the radius (negative inside)."""
    if shape == "circle":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "square":
        # a square whose inscribed circle has radius 0.85, so its area is close to the circle's
        return np.maximum(np.abs(u), np.abs(v)) - 0.85
    if shape == "triangle":
        # equilateral around its centroid, apex up (-y) at angle 0: circumradius 1, inradius 0.5;
        # the largest projection on the three outward edge normals
        d_base = v
        d_right = (_SQRT3 * u - v) / 2.0
        d_left = (-_SQRT3 * u - v) / 2.0
        return np.maximum(np.maximum(d_base, d_right), d_left) - 0.5
    if shape == "ellipse":
        # axes 1 and 0.5; the distance is approximate (exact on the axes), enough for anti-aliasing
        return np.sqrt(u * u + 4.0 * v * v) - 1.0
    if shape == "plus":
        bar_h = np.maximum(np.abs(u), np.abs(v) / 0.35) - 1.0
        bar_v = np.maximum(np.abs(u) / 0.35, np.abs(v)) - 1.0
        return np.minimum(bar_h, bar_v)
    raise ValueError(f"unknown shape {shape!r}; valid shapes: {', '.join(SHAPES)}")


def shape_alpha(
    shape: str,
    xs: np.ndarray,
    ys: np.ndarray,
    cx: np.ndarray | float,
    cy: np.ndarray | float,
    radius: np.ndarray | float,
    angle: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Anti-aliased coverage of ``shape`` on a pixel grid, for a batch of poses.

    Args:
        shape: one of :data:`SHAPES`.
        xs, ys: pixel-centre coordinates, broadcastable to ``[H, W]`` (``np.meshgrid`` of ``arange + 0.5``).
        cx, cy: centres in pixels, scalars or ``[N]`` (one per frame).
        radius: the shape's radius in pixels (circumradius; the square's half side is 0.85 of it).
        angle: rotation in radians, clockwise on screen.

    Returns:
        float32 ``[N, H, W]`` (``[H, W]`` when every pose argument is a scalar), values in [0, 1].
    """
    cx, cy, radius, angle = (np.asarray(a, dtype=np.float32) for a in (cx, cy, radius, angle))
    scalar = cx.ndim == cy.ndim == radius.ndim == angle.ndim == 0
    cx, cy, radius, angle = (np.atleast_1d(a)[:, None, None] for a in (cx, cy, radius, angle))
    dx = xs - cx
    dy = ys - cy
    cos, sin = np.cos(angle), np.sin(angle)
    # rotate the pixel offsets by -angle: the shape appears rotated by +angle
    u = (cos * dx + sin * dy) / radius
    v = (-sin * dx + cos * dy) / radius
    alpha = np.clip(0.5 - _unit_distance(shape, u, v) * radius, 0.0, 1.0).astype(np.float32, copy=False)
    return alpha[0] if scalar else alpha


def composite(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``image * (1 - alpha) + colour * alpha`` in place, broadcasting ``alpha`` [..., H, W] over RGB.

    Only the rows and columns that some frame's shape touches are blended (a small window for small shapes).
    """
    covered = alpha.reshape(-1, *alpha.shape[-2:]).max(axis=0)
    rows, cols = np.flatnonzero(covered.max(axis=1)), np.flatnonzero(covered.max(axis=0))
    if rows.size == 0:
        return image
    window = (..., slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    region = image[(*window, slice(None))]
    region += alpha[window][..., None] * (np.asarray(colour, dtype=np.float32) - region)
    return image


def _interpolation_matrix(n: int, cell: float) -> np.ndarray:
    """``[n, n // cell + 2]`` weights of linear interpolation from a grid with one knot every ``cell`` pixels."""
    position = np.arange(n, dtype=np.float32) / cell
    low = position.astype(np.int64)
    weights = np.zeros((n, int(n / cell) + 2), dtype=np.float32)
    weights[np.arange(n), low] = 1.0 - (position - low)
    weights[np.arange(n), low + 1] = position - low
    return weights


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float, channels: int = 1) -> np.ndarray:
    """Smooth noise: a coarse standard-normal grid (a knot every ``cell`` pixels) interpolated bilinearly.

    Returns:
        float32 ``[height, width, channels]``.
    """
    rows, cols = _interpolation_matrix(height, cell), _interpolation_matrix(width, cell)
    coarse = rng.normal(size=(rows.shape[1], cols.shape[1], channels)).astype(np.float32)
    return np.einsum("hi,ijc,wj->hwc", rows, coarse, cols, optimize=True)


def textured_background(rng: np.random.Generator, height: int, width: int, contrast: float = 0.25) -> np.ndarray:
    """A random coloured texture: a base colour, three oriented sinusoidal gratings and smooth noise.

    Returns:
        float32 ``[height, width, 3]`` in [0, 1].
    """
    ys, xs = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    base = rng.uniform(0.25, 0.75, size=3).astype(np.float32)
    waves = np.empty((3, height, width), dtype=np.float32)
    for k in range(3):
        theta = rng.uniform(0.0, np.pi)
        frequency = 2 * np.pi / rng.uniform(4.0, 16.0)
        phase = rng.uniform(0.0, 2 * np.pi)
        # sin(a x + b y + p) as two outer products, so no [H, W] trigonometry
        along_x, along_y = frequency * np.cos(theta) * xs, frequency * np.sin(theta) * ys + phase
        waves[k] = np.outer(np.cos(along_y), np.sin(along_x)) + np.outer(np.sin(along_y), np.cos(along_x))
    tints = rng.uniform(-1.0, 1.0, size=(3, 3)).astype(np.float32)
    texture = np.tensordot(waves, tints, axes=(0, 0)) / 3.0
    noise = smooth_noise(rng, height, width, cell=8.0, channels=3)
    return np.clip(base + contrast * (texture + 0.5 * noise), 0.0, 1.0).astype(np.float32)
