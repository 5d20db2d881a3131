"""Planar point sets with exact combinatorial labels for pointer networks: convex hull, Delaunay, TSP.

Vinyals, Fortunato & Jaitly, "Pointer Networks", NeurIPS 2015, https://arxiv.org/abs/1506.03134: points
uniform in the unit square; the label is a sequence of input indices. Here index 0 is the *end* symbol and
``1..n`` are the points, so a label reads as in the paper (which numbers points from 1):

- ``convex_hull``: the hull's vertices counter-clockwise, starting at the lowest index, then end
  (``scipy.spatial.ConvexHull``, whose 2-D vertices are counter-clockwise).
- ``delaunay``: the Delaunay triangles (``scipy.spatial.Delaunay``), each as its three indices in increasing
  order, the triangles in lexicographic order, flattened, then end.
- ``tsp``: the shortest closed tour, starting at point 1, in the direction whose second point has the lower
  index, then end. Exact by Held-Karp dynamic programming for ``n <= exact_up_to`` (10 by default), vectorised
  over every instance of one size; beyond it the tour is 2-opt from the nearest-neighbour tour (a heuristic;
  ``PointSets.exact`` says which).

Every split is drawn from ``(seed, split)`` (:func:`~recur_text.data.translation.split_rng`). Labels come
from scipy (C) per instance or from batched numpy, never from a per-point Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy.spatial import ConvexHull, Delaunay
from torch import Tensor
from torch.utils.data import Dataset

from recur_text.data.translation import split_rng

__all__ = [
    "END",
    "POINTER_TASKS",
    "PointSets",
    "canonical_tour",
    "delaunay_labels",
    "generate_points",
    "held_karp",
    "hull_labels",
    "nearest_neighbour_tour",
    "polygon_area",
    "tour_length",
    "two_opt",
]

END = 0
POINTER_TASKS = ("convex_hull", "delaunay", "tsp")
IGNORE_INDEX = -100


@dataclass(eq=False)
class PointSets(Dataset):
    """Point sets and their pointer labels.

    Args:
        points: [N, n_max, 2] coordinates (zeros after ``lengths``).
        lengths: [N] points per set.
        targets: [N, L] pointer labels (1..n the points, 0 the end; -100 after the end).
        target_lengths: [N] label lengths, the end included.
        exact: [N] bool, whether the label is exact (False only for TSP tours beyond ``exact_up_to``).

    Item ``i`` is ``{"points": [n_i, 2], "targets": [L_i]}``.
    """

    points: Tensor
    lengths: Tensor
    targets: Tensor
    target_lengths: Tensor
    exact: Tensor

    def __len__(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {
            "points": self.points[index, : int(self.lengths[index])],
            "targets": self.targets[index, : int(self.target_lengths[index])].long(),
        }


# ----- exact labels ------------------------------------------------------------------------------------


def hull_labels(points: np.ndarray) -> list[int]:
    """Hull vertices of ``points`` [n, 2] counter-clockwise from the lowest index, 1-based, then END."""
    vertices = ConvexHull(points).vertices
    start = int(np.argmin(vertices))
    return [int(v) + 1 for v in np.roll(vertices, -start)] + [END]


def delaunay_labels(points: np.ndarray) -> list[int]:
    """Delaunay triangles of ``points`` [n, 2], 1-based, each sorted, in lexicographic order, flattened, then END."""
    triangles = np.sort(Delaunay(points).simplices, axis=1) + 1
    triangles = triangles[np.lexsort(triangles.T[::-1])]
    return [int(v) for v in triangles.reshape(-1)] + [END]


def _distances(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[:, :, None] - points[:, None, :], axis=-1)


def held_karp(points: np.ndarray) -> np.ndarray:
    """Shortest closed tours of ``points`` [B, n, 2] by dynamic programming over subsets.

    Returns [B, n] city orders (0-based, from city 0).

    ``cost[S, j]``: the shortest path from city 0 through the cities of ``S`` (a subset of 1..n-1) ending at
    ``j`` in ``S``; ``cost[S, j] = min_k cost[S - j, k] + d[k, j]``. O(2^n n^2) per instance, all instances of
    the batch at once.
    """
    batch, n = points.shape[:2]
    if n <= 3:
        return np.tile(np.arange(n), (batch, 1))
    d = _distances(points)
    m = n - 1  # cities 1..n-1 are bits 0..m-1
    full = 1 << m
    cost = np.full((batch, full, m), np.inf)
    parent = np.zeros((batch, full, m), dtype=np.int8)
    cost[:, 1 << np.arange(m), np.arange(m)] = d[:, 0, 1:]
    inner = d[:, 1:, 1:]  # [B, k, j]
    bits = 1 << np.arange(m)
    for subset in range(1, full):
        members = (subset & bits) != 0
        if members.sum() < 2:
            continue
        # every j of the subset: min over k of cost[subset - j, k] + d[k, j]
        for j in np.flatnonzero(members):
            rest = subset ^ (1 << j)
            total = cost[:, rest, :] + inner[:, :, j]
            total[:, ~((rest & bits) != 0)] = np.inf
            best = total.argmin(1)
            parent[:, subset, j] = best
            cost[:, subset, j] = total[np.arange(batch), best]
    closing = cost[:, full - 1, :] + d[:, 1:, 0]
    last = closing.argmin(1)
    tours = np.zeros((batch, n), dtype=np.int64)
    subset = np.full(batch, full - 1)
    rows = np.arange(batch)
    for position in range(n - 1, 0, -1):
        tours[:, position] = last + 1
        previous = parent[rows, subset, last].astype(np.int64)
        subset = subset ^ (1 << last)
        last = previous
    return tours


def nearest_neighbour_tour(points: np.ndarray) -> np.ndarray:
    """Greedy tours [B, n] (0-based) from city 0, always to the nearest unvisited city; batched."""
    batch, n = points.shape[:2]
    d = _distances(points)
    visited = np.zeros((batch, n), dtype=bool)
    tours = np.zeros((batch, n), dtype=np.int64)
    rows = np.arange(batch)
    visited[:, 0] = True
    for position in range(1, n):
        here = np.where(visited, np.inf, d[rows, tours[:, position - 1]])
        tours[:, position] = here.argmin(1)
        visited[rows, tours[:, position]] = True
    return tours


def tour_length(points: np.ndarray, tours: np.ndarray) -> np.ndarray:
    """Closed-tour lengths [B] of ``tours`` [B, n] (0-based) over ``points`` [B, n, 2]."""
    ordered = np.take_along_axis(points, tours[..., None], axis=1)
    return np.linalg.norm(ordered - np.roll(ordered, -1, axis=1), axis=-1).sum(1)


def two_opt(points: np.ndarray, tours: np.ndarray, max_rounds: int = 1000) -> np.ndarray:
    """Improve ``tours`` [B, n] by 2-opt until no move shortens any tour: every round reverses, in each
    tour, the segment whose reversal shortens it most (all pairs (i, j) evaluated at once, batched)."""
    batch, n = tours.shape
    if n < 4:
        return tours
    tours = tours.copy()
    rows = np.arange(batch)
    d = _distances(points)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # reversing everything between the two ends changes nothing
    i, j = i[keep], j[keep]
    positions = np.arange(n)
    for _ in range(max_rounds):
        a, b = tours[:, i], tours[:, i + 1]
        c, e = tours[:, j], tours[:, (j + 1) % n]
        gain = d[rows[:, None], a, b] + d[rows[:, None], c, e] - d[rows[:, None], a, c] - d[rows[:, None], b, e]
        best = gain.argmax(1)
        improving = gain[rows, best] > 1e-10
        if not improving.any():
            break
        lo, hi = i[best][:, None], j[best][:, None]
        inside = (positions > lo) & (positions <= hi) & improving[:, None]
        index = np.where(inside, lo + 1 + hi - positions, positions)
        tours = np.take_along_axis(tours, index, axis=1)
    return tours


def canonical_tour(tours: np.ndarray) -> np.ndarray:
    """Tours [B, n] rotated to start at city 0 and turned so that the second city is below the last."""
    start = (tours == 0).argmax(1)
    n = tours.shape[1]
    rotated = np.take_along_axis(tours, (start[:, None] + np.arange(n)) % n, axis=1)
    flip = rotated[:, 1] > rotated[:, -1]
    flipped = np.concatenate([rotated[:, :1], rotated[:, 1:][:, ::-1]], axis=1)
    return np.where(flip[:, None], flipped, rotated)


def polygon_area(points: np.ndarray) -> float:
    """Area of the polygon with vertices ``points`` [k, 2] in order (shoelace, absolute); 0 below 3 vertices."""
    if len(points) < 3:
        return 0.0
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


# ----- generation --------------------------------------------------------------------------------------


def _tsp_labels(points: np.ndarray, exact_up_to: int) -> tuple[np.ndarray, bool]:
    """Canonical tours [B, n] (0-based) of ``points`` [B, n, 2] all of one size, and whether exact."""
    n = points.shape[1]
    if n <= exact_up_to:
        return canonical_tour(held_karp(points)), True
    return canonical_tour(two_opt(points, nearest_neighbour_tour(points))), False


def generate_points(
    task: Literal["convex_hull", "delaunay", "tsp"],
    num_samples: int,
    sizes: tuple[int, int],
    seed: int = 0,
    split: str = "train",
    exact_up_to: int = 10,
) -> PointSets:
    """``num_samples`` uniform point sets of ``sizes`` (inclusive range of n) with the ``task``'s labels.

    Args:
        task: ``"convex_hull"``, ``"delaunay"`` or ``"tsp"``.
        num_samples: point sets.
        sizes: inclusive range of points per set, drawn uniformly (at least 3; 4 for delaunay).
        seed, split: the stream they are drawn from.
        exact_up_to: TSP: Held-Karp up to this many points, 2-opt beyond (Held-Karp costs 2^n n^2).
    """
    if task not in POINTER_TASKS:
        raise ValueError(f"task must be one of {', '.join(POINTER_TASKS)}, got {task!r}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    lo, hi = (int(v) for v in sizes)
    smallest = 4 if task == "delaunay" else 3
    if not smallest <= lo <= hi:
        raise ValueError(
            f"sizes must be an inclusive range (lo, hi) with {smallest} <= lo <= hi for {task}, got {sizes!r}"
        )
    if task == "tsp" and exact_up_to > 13:
        raise ValueError(f"exact_up_to must be at most 13 (Held-Karp memory grows as 2^n n), got {exact_up_to}")
    rng = split_rng(seed, split)
    n_per = rng.integers(lo, hi + 1, num_samples)
    coords = rng.random((num_samples, hi, 2))
    labels: list[list[int]] = [[] for _ in range(num_samples)]
    exact = np.ones(num_samples, dtype=bool)
    if task == "tsp":
        for n in np.unique(n_per):
            rows = np.flatnonzero(n_per == n)
            tours, is_exact = _tsp_labels(coords[rows, :n], exact_up_to)
            exact[rows] = is_exact
            for row, tour in zip(rows, tours + 1):
                labels[row] = [*tour.tolist(), END]
    else:
        label = hull_labels if task == "convex_hull" else delaunay_labels
        for row in range(num_samples):
            labels[row] = label(coords[row, : n_per[row]])
    coords[np.arange(hi)[None] >= n_per[:, None]] = 0.0
    target_lengths = np.array([len(t) for t in labels])
    targets = np.full((num_samples, target_lengths.max()), IGNORE_INDEX, dtype=np.int64)
    for row, t in enumerate(labels):
        targets[row, : len(t)] = t
    return PointSets(
        torch.from_numpy(coords).float(),
        torch.from_numpy(n_per).long(),
        torch.from_numpy(targets),
        torch.from_numpy(target_lengths).long(),
        torch.from_numpy(exact),
    )
