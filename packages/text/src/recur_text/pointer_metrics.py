"""Scores of pointer sequences on the geometric tasks, and the heuristic baselines they are compared with.

Each function takes one instance: ``points`` [n, 2] (numpy) and pointer sequences as lists of 1-based
indices without the end symbol.

- :func:`exact_sequence`: the sequence equals the label (TSP tours compared in canonical form: from
  point 1, the direction with the lower second index, as the labels are written).
- :func:`hull_coverage`: area of the polygon the predicted sequence draws / area of the true hull (the
  paper's "area coverage"; a polygon that crosses itself scores its shoelace area, below its cover).
- :func:`tour_ratio`: closed length of the predicted tour / of the label tour (optimal for n <= 10);
  an invalid tour (not a permutation of 1..n) scores ``inf`` and is counted by the task.
- :func:`triangle_coverage`: fraction of the true Delaunay triangles among the predicted triples.

Baselines: :func:`extreme_points_hull` (the points extreme in x and y, counter-clockwise: the Akl-Toussaint
quadrilateral), nearest-neighbour tours (:func:`recur_text.data.geometry.nearest_neighbour_tour`) and
:func:`fan_triangulation` (the hull fanned from its first vertex, interior points ignored).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recur_text.data.geometry import canonical_tour, polygon_area, tour_length

__all__ = [
    "exact_sequence",
    "extreme_points_hull",
    "fan_triangulation",
    "hull_coverage",
    "tour_ratio",
    "triangle_coverage",
    "valid_tour",
]


def valid_tour(tour: Sequence[int], n: int) -> bool:
    """Whether ``tour`` visits each of the points 1..n exactly once."""
    return sorted(tour) == list(range(1, n + 1))


def exact_sequence(predicted: Sequence[int], label: Sequence[int], task: str, n: int) -> bool:
    """Whether ``predicted`` is the label (TSP: as a closed tour in canonical form)."""
    if task == "tsp":
        if not valid_tour(predicted, n):
            return False
        canonical = canonical_tour(np.asarray(predicted)[None] - 1)[0] + 1
        return canonical.tolist() == list(label)
    return list(predicted) == list(label)


def hull_coverage(points: np.ndarray, predicted: Sequence[int], label: Sequence[int]) -> float:
    """Area drawn by ``predicted`` over the true hull's area (0 below three points)."""
    truth = polygon_area(points[np.asarray(label) - 1])
    if len(predicted) < 3 or truth == 0:
        return 0.0
    return polygon_area(points[np.asarray(predicted) - 1]) / truth


def tour_ratio(points: np.ndarray, predicted: Sequence[int], label: Sequence[int]) -> float:
    """Closed length of ``predicted`` over the label tour's (``inf`` if not a permutation)."""
    if not valid_tour(predicted, len(points)):
        return float("inf")
    lengths = tour_length(np.stack([points, points]), np.stack([np.asarray(predicted), np.asarray(label)]) - 1)
    return float(lengths[0] / lengths[1])


def triangle_coverage(predicted: Sequence[int], label: Sequence[int]) -> float:
    """Fraction of the label's triangles (triples) that appear, as sets, among the predicted triples."""
    truth = {tuple(sorted(label[i : i + 3])) for i in range(0, len(label) - 2, 3)}
    found = {tuple(sorted(predicted[i : i + 3])) for i in range(0, len(predicted) - 2, 3)}
    return len(truth & found) / len(truth) if truth else 0.0


def extreme_points_hull(points: np.ndarray) -> list[int]:
    """The points with the least and greatest x and y (deduplicated), counter-clockwise from the lowest index."""
    extremes = np.unique([points[:, 0].argmin(), points[:, 1].argmin(), points[:, 0].argmax(), points[:, 1].argmax()])
    centre = points[extremes].mean(0)
    angles = np.arctan2(points[extremes, 1] - centre[1], points[extremes, 0] - centre[0])
    ordered = extremes[np.argsort(angles)]
    ordered = np.roll(ordered, -int(np.argmin(ordered)))
    return [int(i) + 1 for i in ordered]


def fan_triangulation(hull: Sequence[int]) -> list[int]:
    """Triangles (first, h_i, h_{i+1}) of a counter-clockwise hull, each sorted, in lexicographic order, flattened."""
    triangles = sorted(tuple(sorted((hull[0], hull[i], hull[i + 1]))) for i in range(1, len(hull) - 1))
    return [v for t in triangles for v in t]
