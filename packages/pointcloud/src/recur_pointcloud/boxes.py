"""Rotated-box geometry: corners, the overlap of two rotated rectangles, BEV and 3D IoU.

A bird's-eye-view (BEV) box is ``(cx, cy, length, width, angle)``: a rectangle of side ``length``
along the direction at ``angle`` (counter-clockwise from the x axis) and ``width`` across it. Its
corners are ``c + R(angle) (±length/2, ±width/2)`` with ``R(a) = [[cos a, -sin a], [sin a, cos a]]``.
A LiDAR box is OpenPCDet's ``(x, y, z, dx, dy, dz, heading)``: centre, size along the heading, across
it and up, heading counter-clockwise from x about z.

The overlap of two convex polygons is the convex polygon spanned by the corners of each that lie
inside the other and the crossings of their edges; its area is the shoelace formula over those
points sorted by angle around their mean. This is how OpenPCDet's ``rotate_iou`` (the KITTI
evaluation) computes it, one pair per GPU thread; here every pair is one row of a batched tensor
computation (24 candidate points per pair, the invalid ones masked), with no Python loop over pairs.

Shapes: ``[P, 5]`` aligned pairs -> ``[P]``; ``[N, 5]`` x ``[M, 5]`` -> ``[N, M]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["bev_corners", "boxes3d_iou", "boxes_bev_iou", "rotated_intersection_area"]


def bev_corners(boxes: Tensor) -> Tensor:
    """Corners ``[..., 4, 2]`` (counter-clockwise) of BEV boxes ``[..., 5]`` = (cx, cy, length, width, angle)."""
    half_l, half_w = boxes[..., 2:3] / 2, boxes[..., 3:4] / 2
    # corner offsets in the box frame: (+l, +w), (-l, +w), (-l, -w), (+l, -w) halves
    local_x = torch.cat([half_l, -half_l, -half_l, half_l], dim=-1)
    local_y = torch.cat([half_w, half_w, -half_w, -half_w], dim=-1)
    cos, sin = boxes[..., 4:5].cos(), boxes[..., 4:5].sin()
    x = boxes[..., 0:1] + cos * local_x - sin * local_y
    y = boxes[..., 1:2] + sin * local_x + cos * local_y
    return torch.stack([x, y], dim=-1)


def _cross(a: Tensor, b: Tensor) -> Tensor:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _inside(points: Tensor, boxes: Tensor, tol: Tensor) -> Tensor:
    """Whether ``points [P, K, 2]`` lie in BEV ``boxes [P, 5]`` (within ``tol [P, 1]`` of an edge): ``[P, K]``."""
    offset = points - boxes[:, None, 0:2]
    cos, sin = boxes[:, None, 4].cos(), boxes[:, None, 4].sin()
    along = offset[..., 0] * cos + offset[..., 1] * sin
    across = -offset[..., 0] * sin + offset[..., 1] * cos
    return (along.abs() <= boxes[:, None, 2] / 2 + tol) & (across.abs() <= boxes[:, None, 3] / 2 + tol)


def rotated_intersection_area(a: Tensor, b: Tensor) -> Tensor:
    """Area of the overlap of BEV boxes ``a[p]`` and ``b[p]``, for aligned pairs ``[P, 5]`` -> ``[P]``."""
    if a.shape != b.shape or a.shape[-1] != 5 or a.dim() != 2:
        raise ValueError(f"give two [P, 5] tensors of BEV boxes, got {tuple(a.shape)} and {tuple(b.shape)}")
    # tolerance for corners on an edge (identical or touching boxes), relative to the boxes' size
    scale = torch.cat([a[:, 2:4], b[:, 2:4]], dim=1).abs().amax(dim=1, keepdim=True).clamp_min(1.0)
    tol = (1e-6 if a.dtype == torch.float32 else 1e-10) * scale
    corners_a, corners_b = bev_corners(a), bev_corners(b)
    inside_a, inside_b = _inside(corners_a, b, tol), _inside(corners_b, a, tol)
    # edge i of a (a_i -> a_{i+1}) against edge j of b: a_i + t r_i = b_j + u s_j with t, u in [0, 1]
    start_a, start_b = corners_a[:, :, None, :], corners_b[:, None, :, :]
    r = (corners_a.roll(-1, dims=1) - corners_a)[:, :, None, :]
    s = (corners_b.roll(-1, dims=1) - corners_b)[:, None, :, :]
    denom = _cross(r, s)
    parallel = denom.abs() <= 1e-12 * scale[:, :, None] ** 2
    safe = torch.where(parallel, torch.ones_like(denom), denom)
    t = _cross(start_b - start_a, s) / safe
    u = _cross(start_b - start_a, r) / safe
    eps = 1e-9
    crossing = ~parallel & (t >= -eps) & (t <= 1 + eps) & (u >= -eps) & (u <= 1 + eps)
    crossings = (start_a + t[..., None] * r).flatten(1, 2)
    points = torch.cat([corners_a, corners_b, crossings], dim=1)
    valid = torch.cat([inside_a, inside_b, crossing.flatten(1, 2)], dim=1)
    count = valid.sum(dim=1)
    weights = valid.to(points.dtype)[..., None]
    centre = (points * weights).sum(dim=1) / count.clamp_min(1)[:, None].to(points.dtype)
    rel = points - centre[:, None, :]
    angle = torch.atan2(rel[..., 1], rel[..., 0]).masked_fill(~valid, float("inf"))
    order = angle.argsort(dim=1)
    rel = rel.gather(1, order[..., None].expand_as(rel))
    # invalid points sort last; repeating the first valid point in their place adds zero area
    valid_sorted = valid.gather(1, order)
    rel = torch.where(valid_sorted[..., None], rel, rel[:, :1, :])
    area = 0.5 * _cross(rel, rel.roll(-1, dims=1)).sum(dim=1).abs()
    return torch.where(count >= 3, area, torch.zeros_like(area))


def _pairwise(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Every pair of rows of ``a [N, C]`` and ``b [M, C]``, as aligned ``[N * M, C]`` tensors."""
    n, m, c = len(a), len(b), a.shape[-1]
    return a[:, None, :].expand(n, m, c).reshape(n * m, c), b[None, :, :].expand(n, m, c).reshape(n * m, c)


def boxes_bev_iou(a: Tensor, b: Tensor) -> Tensor:
    """Rotated IoU ``[N, M]`` of BEV boxes ``a [N, 5]`` and ``b [M, 5]`` (cx, cy, length, width, angle)."""
    pa, pb = _pairwise(a, b)
    inter = rotated_intersection_area(pa, pb).view(len(a), len(b))
    area_a, area_b = a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / union.clamp_min(torch.finfo(union.dtype).tiny)


def boxes3d_iou(a: Tensor, b: Tensor) -> Tensor:
    """3D IoU ``[N, M]`` of LiDAR boxes ``a [N, 7]`` and ``b [M, 7]`` (x, y, z, dx, dy, dz, heading; z the centre).

    The overlap is the rotated BEV overlap times the overlap of the vertical extents ``z ± dz/2``.
    """
    pa, pb = _pairwise(a, b)
    bev = rotated_intersection_area(pa[:, [0, 1, 3, 4, 6]], pb[:, [0, 1, 3, 4, 6]]).view(len(a), len(b))
    top = torch.minimum((a[:, 2] + a[:, 5] / 2)[:, None], (b[:, 2] + b[:, 5] / 2)[None, :])
    bottom = torch.maximum((a[:, 2] - a[:, 5] / 2)[:, None], (b[:, 2] - b[:, 5] / 2)[None, :])
    inter = bev * (top - bottom).clamp_min(0)
    volume_a, volume_b = a[:, 3] * a[:, 4] * a[:, 5], b[:, 3] * b[:, 4] * b[:, 5]
    union = volume_a[:, None] + volume_b[None, :] - inter
    return inter / union.clamp_min(torch.finfo(union.dtype).tiny)
