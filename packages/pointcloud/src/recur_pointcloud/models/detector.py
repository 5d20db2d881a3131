"""LION's KITTI detector (Liu et al., NeurIPS 2024): SECOND with the LION backbone, and its baseline without it.

As the official ``second_with_lion_*_64dim.yaml`` (OpenPCDet's ``SECONDNet``)::

    points -> voxelize -> VFE -> LIONBackbone -> HeightCompression (BEV) -> BaseBEVBackbone -> AnchorHeadSingle

- **Voxels** (:func:`~recur_pointcloud.voxels.voxelize`): the mean point of every occupied voxel.
- **VFE** (``vfe``): ``"points"`` is the official ``DynamicVoxelVFE`` (:class:`PointVoxelFeatureEncoder`):
  every point's absolute x y z and reflectance (``USE_ABSLOTE_XYZ``), its offset from the mean of its
  voxel's points and from the voxel's centre run through PFN layers (Linear, BatchNorm, ReLU; 64, 64
  channels as ``NUM_FILTERS``; a layer before the last keeps half its width per point and appends the
  voxel's max), max-pooled per voxel. ``"mean"`` (:class:`VoxelFeatureEncoder`) averages the points first
  (OpenPCDet's ``MeanVFE``) and runs the MLP on the mean point and its offset from the voxel's centre: cheaper,
  but the points' spread inside a voxel is lost.
- **Backbone** (``backbone="lion"``): :class:`~recur_pointcloud.models.lion.LIONBackbone`, whose group
  operator is any core layer (``layer``, default ``mamba``); ``backbone="none"`` skips it: the baseline
  is the same detector without the recurrent 3D backbone.
- **BEV** (:func:`scatter_to_bev`, ``HeightCompression``): the sparse voxels scattered into a dense
  ``[B, C, Z, Y, X]`` grid whose channels and heights are stacked into ``C * Z`` BEV channels.
- **2D backbone** (:class:`BEVBackbone`, ``BaseBEVBackbone``): per level a strided 3x3 convolution and
  ``layer_nums`` more, each with BatchNorm (eps 1e-3, momentum 0.01) and ReLU; each level upsampled
  back by a transposed convolution and the levels concatenated.
- **Head**: :class:`~recur_pointcloud.models.anchor_head.AnchorHead` on the BEV map (anchors at
  feature-map stride 1, LION's one-stride design).

The defaults are the official KITTI sizes; the recipes scale the range, voxel size and widths down by options.

Shapes: ``points`` a list of ``[N_i, 4]`` (x, y, z, reflectance) -> ``cls [B, Y, X, A * K]``,
``box [B, Y, X, A * 7]``, ``dir [B, Y, X, A * 2]`` (``A`` anchors per cell, ``K`` classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core.registry import register_model
from recur_pointcloud.models.anchor_head import KITTI_ANCHORS, AnchorHead
from recur_pointcloud.voxels import grid_size_of, point_voxels, voxel_mean, voxelize

__all__ = [
    "BEVBackbone",
    "PointVoxelFeatureEncoder",
    "VoxelDetector",
    "VoxelFeatureEncoder",
    "lion",
    "lion_no_backbone",
    "scatter_to_bev",
]

KITTI_RANGE = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0)
KITTI_VOXEL = (0.2, 0.2, 0.125)


def scatter_to_bev(features: Tensor, coords: Tensor, batch_size: int, grid_size: Sequence[int]) -> Tensor:
    """Sparse voxel features ``[N, C]`` at ``coords [N, 4]`` (batch, z, y, x) -> BEV ``[B, C * Z, Y, X]``.

    OpenPCDet's ``HeightCompression``: the dense grid ``[B, C, Z, Y, X]`` (zero where no voxel is)
    viewed with channels and heights merged, channel ``c * Z + z``.
    """
    nx, ny, nz = grid_size
    # written channel-first, so that merging channels and heights is a view, not a copy of the grid
    dense = features.new_zeros(batch_size, features.shape[1], nz, ny, nx)
    dense[coords[:, 0], :, coords[:, 1], coords[:, 2], coords[:, 3]] = features
    return dense.view(batch_size, features.shape[1] * nz, ny, nx)


class VoxelFeatureEncoder(nn.Module):
    """Per-voxel MLP on the mean point and its offset from the voxel centre: ``[N, 4]`` -> ``[N, channels[-1]]``.

    Args:
        point_range, voxel_size: the grid (for the voxel centres).
        channels: widths of the Linear + BatchNorm + ReLU layers (official: 64, 64).
    """

    def __init__(self, point_range: Sequence[float], voxel_size: Sequence[float], channels: Sequence[int] = (64, 64)):
        super().__init__()
        self.register_buffer("low", torch.tensor(point_range[:3], dtype=torch.float32), persistent=False)
        self.register_buffer("size", torch.tensor(voxel_size, dtype=torch.float32), persistent=False)
        layers, width = [], 7
        for out in channels:
            layers += [nn.Linear(width, out, bias=False), nn.BatchNorm1d(out, eps=1e-3, momentum=0.01), nn.ReLU()]
            width = out
        self.mlp = nn.Sequential(*layers)
        self.out_channels = width

    def forward(self, features: Tensor, coords: Tensor) -> Tensor:
        # coords are (batch, z, y, x); the centre of cell (x, y, z)
        centre = self.low + (coords[:, [3, 2, 1]].to(features.dtype) + 0.5) * self.size
        return self.mlp(torch.cat([features, features[:, :3] - centre], dim=1))


class PointVoxelFeatureEncoder(nn.Module):
    """OpenPCDet's ``DynamicVoxelVFE``: PFN layers on every point, max-pooled per voxel.

    Each point's feature is ``(x, y, z, r, p - mean_v, p - centre_v)`` (10 values: the point, its offset from
    the mean of the points of its voxel ``v`` and from ``v``'s centre). A layer is Linear (no bias),
    BatchNorm (eps 1e-3, momentum 0.01) and ReLU (``PFNLayerV2``); a layer before the last outputs half its
    width per point and appends its voxel's max over those, the last layer's voxel max is the voxel feature.

    Args:
        point_range, voxel_size: the grid.
        channels: the layers' widths (official: 64, 64).

    Shapes: ``points`` a list of ``[N_i, 4]`` -> ``features [N, channels[-1]]``, ``coords [N, 4]`` (batch, z, y, x).
    """

    def __init__(self, point_range: Sequence[float], voxel_size: Sequence[float], channels: Sequence[int] = (64, 64)):
        super().__init__()
        if any(c < 2 or c % 2 for c in channels[:-1]):
            raise ValueError(f"vfe_channels before the last must be even (half per point, half the max): {channels}")
        self.point_range, self.voxel_size = tuple(point_range), tuple(voxel_size)
        self.register_buffer("low", torch.tensor(point_range[:3], dtype=torch.float32), persistent=False)
        self.register_buffer("size", torch.tensor(voxel_size, dtype=torch.float32), persistent=False)
        self.layers, width = nn.ModuleList(), 10
        for i, out in enumerate(channels):
            per_point = out if i == len(channels) - 1 else out // 2
            linear = nn.Linear(width, per_point, bias=False)
            self.layers.append(nn.Sequential(linear, nn.BatchNorm1d(per_point, eps=1e-3, momentum=0.01), nn.ReLU()))
            width = out
        self.out_channels = width

    def forward(self, points: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        kept, inverse, coords, _ = point_voxels(points, self.point_range, self.voxel_size)
        mean = voxel_mean(kept[:, :3], inverse, len(coords))
        centre = self.low + (coords[:, [3, 2, 1]].to(kept.dtype) + 0.5) * self.size
        x = torch.cat([kept, kept[:, :3] - mean[inverse], kept[:, :3] - centre[inverse]], dim=1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            # ReLU outputs are >= 0 and every voxel holds a point: the max over its points, zeros elsewhere unused
            pooled = x.new_zeros(len(coords), x.shape[1]).scatter_reduce(
                0, inverse[:, None].expand_as(x), x, "amax", include_self=False
            )
            x = pooled if i == len(self.layers) - 1 else torch.cat([x, pooled[inverse]], dim=1)
        return x, coords


def _conv_bn_relu(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01), nn.ReLU()]


class BEVBackbone(nn.Module):
    """SECOND's BaseBEVBackbone: ``[B, C_in, Y, X]`` -> ``[B, sum(upsample_filters), Y', X']``.

    Level ``i`` applies a 3x3 convolution of stride ``layer_strides[i]`` to ``num_filters[i]`` channels
    and ``layer_nums[i]`` 3x3 convolutions more; its output is upsampled by a transposed convolution
    of stride ``upsample_strides[i]`` to ``upsample_filters[i]`` channels; the levels are concatenated
    (cropped to the first level's size where an odd map made a strided level round up).
    Official (KITTI): layer_nums (5, 5), strides (1, 2), filters (128, 256), upsample (1, 2), (256, 256).
    """

    def __init__(
        self,
        in_channels: int,
        layer_nums: Sequence[int] = (5, 5),
        layer_strides: Sequence[int] = (1, 2),
        num_filters: Sequence[int] = (128, 256),
        upsample_strides: Sequence[int] = (1, 2),
        upsample_filters: Sequence[int] = (256, 256),
    ) -> None:
        super().__init__()
        lengths = {len(layer_nums), len(layer_strides), len(num_filters), len(upsample_strides), len(upsample_filters)}
        if len(lengths) != 1:
            raise ValueError("the BEV backbone's layer_nums, strides, filters and upsample lists must have one length")
        if min(layer_strides) < 1 or min(upsample_strides) < 1:
            raise ValueError(f"BEV strides must be >= 1, got {list(layer_strides)} and {list(upsample_strides)}")
        self.blocks, self.deblocks = nn.ModuleList(), nn.ModuleList()
        width = in_channels
        for count, stride, filters, up, up_filters in zip(
            layer_nums, layer_strides, num_filters, upsample_strides, upsample_filters
        ):
            # OpenPCDet pads with a ZeroPad2d before this convolution; padding inside it gives the same map
            # without a padded copy of it, and the Identity keeps the modules' indices (checkpoints load)
            conv = nn.Conv2d(width, filters, 3, stride, padding=1, bias=False)
            layers = [nn.Identity(), *_conv_bn_relu(conv, filters)]
            for _ in range(count):
                layers += _conv_bn_relu(nn.Conv2d(filters, filters, 3, padding=1, bias=False), filters)
            self.blocks.append(nn.Sequential(*layers))
            self.deblocks.append(
                nn.Sequential(*_conv_bn_relu(nn.ConvTranspose2d(filters, up_filters, up, up, bias=False), up_filters))
            )
            width = filters
        self.out_channels = sum(upsample_filters)

    def forward(self, bev: Tensor) -> Tensor:
        ups = []
        for block, deblock in zip(self.blocks, self.deblocks):
            bev = block(bev)
            ups.append(deblock(bev))
        height, width = ups[0].shape[-2:]
        return torch.cat([up[..., :height, :width] for up in ups], dim=1)


class VoxelDetector(nn.Module):
    """SECOND with the LION backbone (``backbone="lion"``) or without a 3D backbone (``"none"``, the baseline).

    Args:
        backbone: ``"lion"`` or ``"none"``.
        layer: the core layer LION's groups run through (any registered sequence layer; default ``mamba``).
        layer_kwargs: options of that layer.
        backbone_kwargs: further :class:`~recur_pointcloud.models.lion.LIONBackbone` options (blocks,
            window shapes, group sizes, ...).
        point_range: (x0, y0, z0, x1, y1, z1) of the voxel grid and the anchors (KITTI: 0, -40, -3, 70.4, 40, 1).
        voxel_size: (sx, sy, sz) (KITTI: 0.2, 0.2, 0.125).
        vfe: ``"mean"`` (:class:`VoxelFeatureEncoder`, the points averaged per voxel first) or ``"points"``
            (:class:`PointVoxelFeatureEncoder`, the official ``DynamicVoxelVFE`` on every point).
        vfe_channels: widths of the VFE's layers (64, 64).
        dim: LION's width (64).
        bev_layer_nums, bev_layer_strides, bev_filters, bev_upsample_strides, bev_upsample_filters:
            :class:`BEVBackbone` (KITTI: (5, 5), (1, 2), (128, 256), (1, 2), (256, 256)).
        classes: detected classes, each with KITTI's anchors (Car, Pedestrian, Cyclist).
        head_kwargs: further :class:`~recur_pointcloud.models.anchor_head.AnchorHead` options (NMS, loss weights).
    """

    def __init__(
        self,
        backbone: Literal["lion", "none"] = "lion",
        layer: str = "mamba",
        layer_kwargs: dict[str, Any] | None = None,
        backbone_kwargs: dict[str, Any] | None = None,
        point_range: Sequence[float] = KITTI_RANGE,
        voxel_size: Sequence[float] = KITTI_VOXEL,
        vfe: Literal["mean", "points"] = "mean",
        vfe_channels: Sequence[int] = (64, 64),
        dim: int = 64,
        bev_layer_nums: Sequence[int] = (5, 5),
        bev_layer_strides: Sequence[int] = (1, 2),
        bev_filters: Sequence[int] = (128, 256),
        bev_upsample_strides: Sequence[int] = (1, 2),
        bev_upsample_filters: Sequence[int] = (256, 256),
        classes: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
        head_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        known = {a.name: a for a in KITTI_ANCHORS}
        unknown = [c for c in classes if c not in known]
        if unknown or not classes:
            raise ValueError(f"classes must be a non-empty subset of {', '.join(known)}, got {list(classes)}")
        if backbone not in ("lion", "none"):
            raise ValueError(f"backbone must be 'lion' or 'none', got {backbone!r}")
        if vfe not in ("mean", "points"):
            raise ValueError(f"vfe must be 'mean' (points averaged per voxel) or 'points' (every point), got {vfe!r}")
        self.classes = tuple(classes)
        self.point_range = tuple(float(v) for v in point_range)
        self.voxel_size = tuple(float(v) for v in voxel_size)
        self.grid_size = grid_size_of(self.point_range, self.voxel_size)
        self.vfe_mode = vfe
        encoder = PointVoxelFeatureEncoder if vfe == "points" else VoxelFeatureEncoder
        self.vfe = encoder(self.point_range, self.voxel_size, vfe_channels)
        if backbone == "lion":
            from recur_pointcloud.models.lion import LIONBackbone

            self.backbone = LIONBackbone(
                self.vfe.out_channels,
                self.grid_size,
                dim=dim,
                layer=layer,
                layer_kwargs=layer_kwargs,
                **(backbone_kwargs or {}),
            )
            self.bev_grid = tuple(self.backbone.out_grid_size)
            voxel_channels = self.backbone.out_channels
        else:
            self.backbone = None
            self.bev_grid = self.grid_size
            voxel_channels = self.vfe.out_channels
        self.bev_backbone = BEVBackbone(
            voxel_channels * self.bev_grid[2],
            bev_layer_nums,
            bev_layer_strides,
            bev_filters,
            bev_upsample_strides,
            bev_upsample_filters,
        )
        # the head's map is the first level's output, upsampled (LION: stride 1, the BEV grid itself)
        stride, up = bev_layer_strides[0], bev_upsample_strides[0]
        feature_size = (-(-self.bev_grid[0] // stride) * up, -(-self.bev_grid[1] // stride) * up)
        self.head = AnchorHead(
            self.bev_backbone.out_channels,
            self.point_range,
            feature_size,
            classes=[known[c] for c in self.classes],
            **(head_kwargs or {}),
        )

    def forward(self, points: Sequence[Tensor]) -> dict[str, Tensor]:
        """Per-anchor predictions for a batch of point clouds (a list of ``[N_i, 4]``); see :class:`AnchorHead`."""
        if self.vfe_mode == "points":
            features, coords = self.vfe(points)
        else:
            features, coords, _ = voxelize(points, self.point_range, self.voxel_size)
            features = self.vfe(features, coords)
        if self.backbone is not None:
            features, coords = self.backbone(features, coords, len(points))
        bev = scatter_to_bev(features, coords, len(points), self.bev_grid)
        return self.head(self.bev_backbone(bev))

    def loss(self, preds: dict[str, Tensor], boxes: Sequence[Tensor], labels: Sequence[Tensor]) -> dict[str, Tensor]:
        """The head's losses against ground-truth LiDAR ``boxes [M_i, 7]`` and class indices ``labels [M_i]``."""
        return self.head.loss(preds, boxes, labels)

    def detect(self, preds: dict[str, Tensor]) -> list[dict[str, Tensor]]:
        """Per sample ``boxes [D, 7]``, ``scores [D]``, ``labels [D]`` (indices into :attr:`classes`) after NMS."""
        return self.head.detect(preds)

    def example_input(self, batch_size: int) -> tuple[list[Tensor]]:
        """A batch of ``batch_size`` random clouds of 300 points inside the point range."""
        low, high = torch.tensor(self.point_range[:3]), torch.tensor(self.point_range[3:])
        return (
            [torch.cat([low + torch.rand(300, 3) * (high - low), torch.rand(300, 1)], 1) for _ in range(batch_size)],
        )


@register_model()
def lion(**kwargs: Any) -> VoxelDetector:
    """LION's KITTI detector: SECOND with the LION backbone (``layer`` picks the group operator, default ``mamba``)."""
    return VoxelDetector(backbone="lion", **kwargs)


@register_model()
def lion_no_backbone(**kwargs: Any) -> VoxelDetector:
    """The same detector without the LION backbone: voxels -> VFE -> BEV -> 2D backbone -> anchor head."""
    return VoxelDetector(backbone="none", **kwargs)
