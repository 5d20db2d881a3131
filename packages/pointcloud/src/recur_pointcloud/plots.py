"""Figures of recur_pointcloud: pure functions that write PNGs.

- :func:`plot_kitti_frame`: a KITTI frame's 3D boxes drawn onto its camera image, beside a
  bird's-eye view of the points with the same boxes (ground truth green, detections red).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from recur_pointcloud.boxes import bev_corners
from recur_pointcloud.data.kitti import KittiCalib, KittiObjects, box_corners_camera, boxes_camera_to_lidar

__all__ = ["plot_kitti_frame"]

# corner pairs of a box's 12 edges (corners 0-3 the bottom face, 4-7 the top, as box_corners_camera)
_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def _draw_on_image(ax, objects: KittiObjects, calib: KittiCalib, colour: str) -> None:
    corners = box_corners_camera(objects.location, objects.dimensions, objects.rotation_y)
    for box in corners:
        # a box behind the camera has no image
        if (box[:, 2] <= 0.1).any():
            continue
        pixels, _ = calib.rect_to_image(box)
        for a, b in _EDGES:
            ax.plot(pixels[[a, b], 0], pixels[[a, b], 1], color=colour, linewidth=1)


def _draw_bev(ax, objects: KittiObjects, calib: KittiCalib, colour: str) -> None:
    boxes = boxes_camera_to_lidar(objects, calib)
    corners = bev_corners(torch.from_numpy(boxes[:, [0, 1, 3, 4, 6]])).numpy()
    for box, lidar in zip(corners, boxes):
        closed = np.concatenate([box, box[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color=colour, linewidth=1)
        # the heading: from the centre to the middle of the front edge
        front = (box[0] + box[3]) / 2
        ax.plot([lidar[0], front[0]], [lidar[1], front[1]], color=colour, linewidth=1)


def plot_kitti_frame(
    image: np.ndarray,
    points: np.ndarray,
    calib: KittiCalib,
    truth: KittiObjects,
    path: str | os.PathLike,
    detections: KittiObjects | None = None,
    bev_range: tuple[float, float, float, float] = (0.0, -40.0, 70.4, 40.0),
    title: str = "",
) -> Path:
    """Write a PNG: the frame's boxes projected onto ``image``, and a bird's-eye view of ``points`` with the boxes.

    Args:
        image: ``[H, W, 3]`` uint8 or float in [0, 1], the frame's ``image_2``.
        points: ``[N, >=3]`` LiDAR points.
        calib: the frame's calibration.
        truth: the ground-truth labels (DontCare is skipped), drawn green.
        path: the PNG to write.
        detections: detections to draw in red.
        bev_range: (x_min, y_min, x_max, y_max) of the bird's-eye view, metres.
        title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [(truth.select(truth.name != "DontCare"), "lime")]
    if detections is not None:
        sets.append((detections, "red"))
    x0, y0, x1, y1 = bev_range
    ratios = [image.shape[1] / image.shape[0], (x1 - x0) / (y1 - y0)]
    fig, (ax_image, ax_bev) = plt.subplots(1, 2, figsize=(4.2 * sum(ratios), 4.8), gridspec_kw={"width_ratios": ratios})
    ax_image.imshow(image)
    ax_image.set_xlim(0, image.shape[1])
    ax_image.set_ylim(image.shape[0], 0)
    ax_image.axis("off")
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    ax_bev.scatter(points[inside, 0], points[inside, 1], s=0.05, c="0.3", rasterized=True)
    for objects, colour in sets:
        if len(objects):
            _draw_on_image(ax_image, objects, calib, colour)
            _draw_bev(ax_bev, objects, calib, colour)
    ax_bev.set_xlim(x0, x1)
    ax_bev.set_ylim(y0, y1)
    ax_bev.set_aspect("equal")
    ax_bev.set_xlabel("x (m, forward)")
    ax_bev.set_ylabel("y (m, left)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
