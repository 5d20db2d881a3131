"""Voxelisation of LiDAR points: every point falls into a cell of a regular 3D grid; a voxel is an occupied cell.

As OpenPCDet's dynamic voxelisation (``DynamicVoxelVFE`` reads points by voxel, ``MeanVFE`` averages them):
the grid spans ``point_range = (x0, y0, z0, x1, y1, z1)`` in cells of ``voxel_size = (sx, sy, sz)``, so
it has ``grid_size = round((x1 - x0) / sx), ...`` cells along x, y and z. A point ``p`` lies in cell
``floor((p - (x0, y0, z0)) / voxel_size)``; points outside the grid are dropped. The feature of a voxel
is the mean of its points' ``(x, y, z, reflectance)``.

Vectorised for a whole batch at once: each point's cell is linearised as
``((b * Z + z) * Y + y) * X + x``, ``torch.unique`` finds the occupied cells (sorted, so voxels come
ordered by batch, then z, y, x), and the means are a scatter-add over the inverse index.

Shapes: points ``[N_i, 4]`` per sample -> features ``[N, 4]``, coords ``[N, 4]`` int64 (batch, z, y, x).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["grid_size_of", "point_voxels", "voxel_mean", "voxelize"]


def grid_size_of(point_range: Sequence[float], voxel_size: Sequence[float]) -> tuple[int, int, int]:
    """Cells ``(X, Y, Z)`` of the grid over ``point_range`` (x0, y0, z0, x1, y1, z1) with ``voxel_size`` (sx, sy, sz).

    Raises:
        ValueError: a range that is empty along an axis, or a voxel size that is not positive.
    """
    if len(point_range) != 6 or len(voxel_size) != 3:
        raise ValueError(
            f"point_range must be (x0, y0, z0, x1, y1, z1) and voxel_size (sx, sy, sz), got {list(point_range)} "
            f"and {list(voxel_size)}"
        )
    if min(voxel_size) <= 0 or any(point_range[i + 3] <= point_range[i] for i in range(3)):
        raise ValueError(
            f"need x0 < x1, y0 < y1, z0 < z1 and positive voxel sizes, got point_range {list(point_range)} and "
            f"voxel_size {list(voxel_size)}"
        )
    return tuple(round((point_range[i + 3] - point_range[i]) / voxel_size[i]) for i in range(3))


def voxelize(
    points: Sequence[Tensor], point_range: Sequence[float], voxel_size: Sequence[float]
) -> tuple[Tensor, Tensor, tuple[int, int, int]]:
    """The occupied voxels of a batch of point clouds and the mean of the points in each.

    Args:
        points: one ``[N_i, 4]`` tensor (x, y, z, reflectance) per sample; an empty cloud gives no voxels.
        point_range: (x0, y0, z0, x1, y1, z1) of the grid, metres.
        voxel_size: (sx, sy, sz) of a cell, metres.

    Returns:
        ``features [N, 4]`` (the mean point of each voxel), ``coords [N, 4]`` int64 (batch, z, y, x),
        sorted by batch, z, y, x, and ``grid_size`` (X, Y, Z).

    Raises:
        ValueError: a point tensor that is not ``[N_i, 4]``, or a bad range / voxel size (:func:`grid_size_of`).
    """
    kept, inverse, coords, grid = point_voxels(points, point_range, voxel_size)
    return voxel_mean(kept, inverse, len(coords)), coords, grid


def voxel_mean(values: Tensor, inverse: Tensor, voxels: int) -> Tensor:
    """The mean ``[voxels, C]`` of the rows of ``values [P, C]`` per voxel, ``inverse [P]`` naming each row's voxel."""
    counts = values.new_zeros(voxels).index_add_(0, inverse, values.new_ones(len(values)))
    return values.new_zeros(voxels, values.shape[1]).index_add_(0, inverse, values) / counts.clamp_min(1)[:, None]


def point_voxels(
    points: Sequence[Tensor], point_range: Sequence[float], voxel_size: Sequence[float]
) -> tuple[Tensor, Tensor, Tensor, tuple[int, int, int]]:
    """The points of a batch that fall inside the grid and the voxel each lies in (dynamic voxelisation).

    Args: as :func:`voxelize`.

    Returns:
        ``kept [P, 4]`` (the points inside the grid, samples concatenated), ``inverse [P]`` int64 (each
        point's voxel, an index into ``coords``), ``coords [N, 4]`` int64 (batch, z, y, x; sorted) and
        ``grid_size`` (X, Y, Z).

    Raises:
        ValueError: as :func:`voxelize`.
    """
    grid = grid_size_of(point_range, voxel_size)
    for i, cloud in enumerate(points):
        if cloud.dim() != 2 or cloud.shape[1] != 4:
            raise ValueError(f"points[{i}] must be [N, 4] (x, y, z, reflectance), got shape {tuple(cloud.shape)}")
    device = points[0].device if len(points) else torch.device("cpu")
    dtype = points[0].dtype if len(points) else torch.float32
    if not len(points):
        empty = torch.zeros(0, dtype=torch.long)
        return torch.zeros(0, 4, dtype=dtype), empty, torch.zeros(0, 4, dtype=torch.long), grid
    everything = torch.cat(list(points))
    batch = torch.repeat_interleave(
        torch.arange(len(points), device=device), torch.tensor([len(c) for c in points], device=device)
    )
    low = torch.tensor(point_range[:3], dtype=everything.dtype, device=device)
    size = torch.tensor(voxel_size, dtype=everything.dtype, device=device)
    cell = torch.floor((everything[:, :3] - low) / size).long()
    inside = ((cell >= 0) & (cell < torch.tensor(grid, device=device))).all(dim=1)
    cell, batch, kept = cell[inside], batch[inside], everything[inside]
    nx, ny, nz = grid
    linear = ((batch * nz + cell[:, 2]) * ny + cell[:, 1]) * nx + cell[:, 0]
    occupied, inverse = torch.unique(linear, return_inverse=True)
    x = occupied % nx
    y = occupied // nx % ny
    z = occupied // (nx * ny) % nz
    b = occupied // (nx * ny * nz)
    return kept, inverse, torch.stack([b, z, y, x], dim=1), grid
