"""The geometric detector: the plain baseline LION's test prints beside it, with nothing to train.

What a learned LiDAR detector must beat at the least: the points that stand off the ground, clustered in
the bird's-eye view, each cluster given an oriented box of its class's mean size. Per frame:

1. **Ground**: the lowest point of every ``ground_cell`` x ``ground_cell`` m column of the cloud; a plane
   :math:`z = a x + b y + c` fitted to those minima by least squares, starting flat at their median and
   refitted ``ground_iterations`` times on the minima within ``ground_tolerance`` m of the last plane (a
   column whose lowest point lies on an object, the ground shadowed behind it, falls out). The points between
   ``min_height`` and ``max_height`` m above the plane are the objects' points.
2. **Clusters**: their BEV cells (``cell`` m) grouped into 8-connected components
   (``scipy.ndimage.label``); a cluster of fewer than ``min_points`` points is dropped.
3. **Rectangle**: the minimum-area rectangle of each cluster's BEV points over ``angles`` headings in
   ``[0, pi/2)`` (the extents of the points projected on each pair of axes).
4. **Class**: the class of smallest mean footprint whose mean length and width hold the rectangle's long and
   short side with ``slack`` m to spare; a cluster no class holds (a wall, two cars merged) is dropped.
5. **Box**: the class's mean size (KITTI's, as the anchors of
   :data:`~recur_pointcloud.models.anchor_head.KITTI_ANCHORS`), its length along the rectangle's long side
   (along the side nearer the line of sight when the long side could be the width: a car seen from behind),
   placed flush with the rectangle's sides that face the sensor (the far sides are not seen), standing on
   the ground plane.
6. **Score**: the cluster's number of points.

Every step but the ground fit is one vectorised pass over all clusters of the frame.

Shapes: ``points [N, 4]`` (x, y, z, reflectance; LiDAR frame, the sensor at the origin) -> ``boxes [D, 7]``
(x, y, z of the centre, length, width, height, heading), ``scores [D]``, ``labels [D]`` (indices into
``classes``), as :meth:`~recur_pointcloud.models.detector.VoxelDetector.detect` returns them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from recur_pointcloud.models.anchor_head import KITTI_ANCHORS

__all__ = ["GeometricDetector", "fit_ground_plane", "fit_rectangles"]

MEAN_SIZES = {anchor.name: anchor.size for anchor in KITTI_ANCHORS}


def fit_ground_plane(points: np.ndarray, cell: float = 2.0, tolerance: float = 0.3, iterations: int = 3) -> np.ndarray:
    """``(a, b, c)`` of the ground plane ``z = a x + b y + c`` under ``points [N, >=3]`` (module docstring, step 1).

    With fewer than three columns near the plane, the plane stays flat at the median of the column minima.
    """
    if len(points) == 0:
        return np.zeros(3)
    columns = np.floor(points[:, :2] / cell).astype(np.int64)
    _, column = np.unique(columns, axis=0, return_inverse=True)
    column = column.reshape(-1)
    # the lowest point of each column: sort by (column, z) and take each column's first
    order = np.lexsort((points[:, 2], column))
    first = order[np.r_[True, column[order][1:] != column[order][:-1]]]
    lowest = points[first, :3].astype(np.float64)
    plane = np.array([0.0, 0.0, float(np.median(lowest[:, 2]))])
    design = np.c_[lowest[:, :2], np.ones(len(lowest))]
    for _ in range(iterations):
        near = np.abs(lowest[:, 2] - design @ plane) < tolerance
        if near.sum() < 3:
            break
        plane = np.linalg.lstsq(design[near], lowest[near, 2], rcond=None)[0]
    return plane


def fit_rectangles(
    xy: np.ndarray, cluster: np.ndarray, count: int, angles: int = 90, criterion: str = "closeness"
) -> tuple[np.ndarray, ...]:
    r"""Per cluster, the bounding rectangle of its BEV points at the best of ``angles`` headings in ``[0, pi/2)``.

    ``criterion``: ``"area"`` takes the smallest rectangle; ``"closeness"`` (Zhang et al., "Efficient L-shape
    fitting for vehicle detection using laser scanners", IV 2017) the one whose sides the points lie closest to,
    :math:`\sum_p 1 / \max(d_p, 0.01)` with :math:`d_p` the point's distance to the nearest side. A car seen
    at an angle shows two sides and part of its roof, a right triangle whose smallest rectangles include the one
    along its hypotenuse; the closeness criterion prefers the one along the two sides.

    Args:
        xy: ``[P, 2]`` points; cluster: ``[P]`` their cluster in ``0 .. count - 1`` (every cluster non-empty).

    Returns:
        ``heading [K]`` of the rectangle's first axis, and ``low [K, 2]``, ``high [K, 2]``: the extents of the
        points along that axis and the one at +90 degrees (in the rotated frame).
    """
    if criterion not in ("area", "closeness"):
        raise ValueError(f"criterion must be 'area' or 'closeness', got {criterion!r}")
    theta = np.arange(angles) * (math.pi / 2 / angles)
    cos, sin = np.cos(theta), np.sin(theta)
    order = np.argsort(cluster, kind="stable")
    sorted_cluster = cluster[order]
    x, y = xy[order, 0:1], xy[order, 1:2]
    u, v = x * cos + y * sin, -x * sin + y * cos  # [P, A]
    starts = np.searchsorted(sorted_cluster, np.arange(count))
    u0, u1 = np.minimum.reduceat(u, starts), np.maximum.reduceat(u, starts)
    v0, v1 = np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts)
    if criterion == "area":
        best = ((u1 - u0) * (v1 - v0)).argmin(axis=1)
    else:
        c = sorted_cluster
        side = np.minimum(np.minimum(u - u0[c], u1[c] - u), np.minimum(v - v0[c], v1[c] - v))
        best = np.add.reduceat(1.0 / np.maximum(side, 0.01), starts).argmax(axis=1)
    rows = np.arange(count)
    low = np.stack([u0[rows, best], v0[rows, best]], axis=1)
    high = np.stack([u1[rows, best], v1[rows, best]], axis=1)
    return theta[best], low, high


def _place(low: np.ndarray, high: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Centres along one axis of boxes of extent ``size`` flush with the observed ``[low, high]``'s side that
    faces the sensor (coordinate 0); centred where the observation is as long as the box or straddles 0."""
    centred = (high - low >= size) | ((low <= 0) & (high >= 0))
    return np.where(centred, (low + high) / 2, np.where(low > 0, low + size / 2, high - size / 2))


class GeometricDetector:
    """Ground removal, BEV clustering and a mean-size box per cluster (module docstring): no parameters.

    Args:
        classes: the class names detected (labels index them); each needs a KITTI mean size
            (``Car``, ``Pedestrian``, ``Cyclist``).
        point_range: ``(x0, y0, z0, x1, y1, z1)``: the points read (LiDAR frame).
        cell: the BEV cell of the clustering, metres.
        min_points: the fewest points a cluster needs.
        min_height, max_height: the band above the ground plane whose points are objects', metres.
        slack: how much a cluster's rectangle may exceed its class's mean length and width, metres.
        angles: the headings tried for the minimum-area rectangle, in ``[0, pi/2)``.
        ground_cell, ground_tolerance, ground_iterations: the ground fit (:func:`fit_ground_plane`).
    """

    def __init__(
        self,
        classes: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
        point_range: Sequence[float] = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0),
        cell: float = 0.3,
        min_points: int = 5,
        min_height: float = 0.25,
        max_height: float = 2.5,
        slack: float = 0.4,
        angles: int = 90,
        criterion: str = "closeness",
        ground_cell: float = 2.0,
        ground_tolerance: float = 0.3,
        ground_iterations: int = 3,
    ) -> None:
        unknown = [name for name in classes if name not in MEAN_SIZES]
        if unknown:
            raise ValueError(
                f"no mean size for classes {unknown}; the geometric detector knows {', '.join(MEAN_SIZES)}"
            )
        if len(point_range) != 6 or cell <= 0 or min_points < 1 or not 0 <= min_height < max_height or angles < 1:
            raise ValueError(
                "need a 6-value point_range, cell > 0, min_points >= 1, 0 <= min_height < max_height and angles >= 1, "
                f"got {point_range}, {cell}, {min_points}, {min_height}, {max_height}, {angles}"
            )
        self.classes, self.point_range = tuple(classes), tuple(float(v) for v in point_range)
        self.cell, self.min_points, self.slack, self.angles = cell, min_points, slack, angles
        self.criterion = criterion
        self.min_height, self.max_height = min_height, max_height
        self.ground = dict(cell=ground_cell, tolerance=ground_tolerance, iterations=ground_iterations)
        self._sizes = np.array([MEAN_SIZES[name] for name in self.classes], dtype=np.float64)

    def detect(self, points: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        """Per cloud ``[N_i, 4]``: ``boxes [D, 7]``, ``scores [D]``, ``labels [D]`` (float32, float32, int64)."""
        return [self.detect_frame(cloud) for cloud in points]

    def detect_frame(self, points: Tensor | np.ndarray) -> dict[str, Tensor]:
        """The detections of one cloud ``[N, >=3]`` (see :meth:`detect`)."""
        cloud = points.detach().cpu().numpy() if isinstance(points, Tensor) else np.asarray(points)
        x0, y0, z0, x1, y1, z1 = self.point_range
        inside = (cloud[:, 0] >= x0) & (cloud[:, 0] < x1) & (cloud[:, 1] >= y0) & (cloud[:, 1] < y1)
        cloud = cloud[inside & (cloud[:, 2] >= z0) & (cloud[:, 2] < z1), :3].astype(np.float64)
        plane = fit_ground_plane(cloud, **self.ground)
        height = cloud[:, 2] - (cloud[:, 0] * plane[0] + cloud[:, 1] * plane[1] + plane[2])
        above = cloud[(height > self.min_height) & (height < self.max_height)]
        empty = {
            "boxes": torch.zeros(0, 7),
            "scores": torch.zeros(0),
            "labels": torch.zeros(0, dtype=torch.int64),
        }
        if len(above) == 0:
            return empty
        from scipy import ndimage

        ny, nx = math.ceil((y1 - y0) / self.cell), math.ceil((x1 - x0) / self.cell)
        iy = np.clip(((above[:, 1] - y0) / self.cell).astype(np.int64), 0, ny - 1)
        ix = np.clip(((above[:, 0] - x0) / self.cell).astype(np.int64), 0, nx - 1)
        occupied = np.zeros((ny, nx), dtype=bool)
        occupied[iy, ix] = True
        components, _ = ndimage.label(occupied, structure=np.ones((3, 3), dtype=bool))
        counts = np.bincount(components[iy, ix])
        counts[0] = 0
        clusters = np.flatnonzero(counts >= self.min_points)
        if len(clusters) == 0:
            return empty
        lookup = np.full(len(counts), -1)
        lookup[clusters] = np.arange(len(clusters))
        cluster = lookup[components[iy, ix]]
        kept = cluster >= 0
        heading, low, high = fit_rectangles(above[kept, :2], cluster[kept], len(clusters), self.angles, self.criterion)
        # the long side first: swap the axes where the second is longer (the heading turns by 90 degrees)
        swap = (high[:, 1] - low[:, 1]) > (high[:, 0] - low[:, 0])
        heading = np.where(swap, heading + math.pi / 2, heading)
        # the rotated frame turned by +90 degrees: (u, v) -> (v, -u)
        low, high = (
            np.where(swap[:, None], np.stack([low[:, 1], -high[:, 0]], 1), low),
            np.where(swap[:, None], np.stack([high[:, 1], -low[:, 0]], 1), high),
        )
        long, short = high[:, 0] - low[:, 0], high[:, 1] - low[:, 1]
        # every class whose mean length and width hold the rectangle and whose width is not far longer than its
        # long side: [K, C]; one cluster can be a candidate of several classes (a car's back, a cyclist's side)
        sizes = self._sizes[None]
        fits = (
            (long[:, None] <= sizes[..., 0] + self.slack)
            & (short[:, None] <= sizes[..., 1] + self.slack)
            & (long[:, None] >= sizes[..., 1] - self.slack)
        )
        cluster_of, label = fits.nonzero()
        heading, low, high, long = heading[cluster_of], low[cluster_of], high[cluster_of], long[cluster_of]
        size = self._sizes[label]
        # a long side short enough to be the width: the length goes along the side nearer the line of sight
        middle = (low + high) / 2
        centre_xy = np.stack(
            [
                middle[:, 0] * np.cos(heading) - middle[:, 1] * np.sin(heading),
                middle[:, 0] * np.sin(heading) + middle[:, 1] * np.cos(heading),
            ],
            axis=1,
        )
        sight = np.abs(np.cos(heading - np.arctan2(centre_xy[:, 1], centre_xy[:, 0])))
        turn = (long <= size[:, 1] + self.slack) & (sight < math.sqrt(0.5))
        heading = np.where(turn, heading + math.pi / 2, heading)
        low, high = (
            np.where(turn[:, None], np.stack([low[:, 1], -high[:, 0]], 1), low),
            np.where(turn[:, None], np.stack([high[:, 1], -low[:, 0]], 1), high),
        )
        u = _place(low[:, 0], high[:, 0], size[:, 0])
        v = _place(low[:, 1], high[:, 1], size[:, 1])
        cx, cy = u * np.cos(heading) - v * np.sin(heading), u * np.sin(heading) + v * np.cos(heading)
        cz = cx * plane[0] + cy * plane[1] + plane[2] + size[:, 2] / 2
        heading = heading - np.floor(heading / (2 * math.pi) + 0.5) * 2 * math.pi
        boxes = np.concatenate([np.stack([cx, cy, cz], 1), size, heading[:, None]], axis=1)
        return {
            "boxes": torch.as_tensor(boxes, dtype=torch.float32),
            "scores": torch.as_tensor(counts[clusters][cluster_of], dtype=torch.float32),
            "labels": torch.as_tensor(label, dtype=torch.int64),
        }
