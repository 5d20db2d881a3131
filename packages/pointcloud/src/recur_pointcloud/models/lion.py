r"""LION: a 3D sparse backbone whose voxels are mixed by a linear RNN over large groups of voxels.

Liu, Zou, Dong, Zhou, Yang, Sun, Li, Bai, Wang, "LION: Linear Group RNN for 3D Object Detection in
Point Clouds", NeurIPS 2024, https://arxiv.org/abs/2407.18232. Follows the official code
(``happinesslz/LION``: ``pcdet/models/backbones_3d/lion_backbone_one_stride.py``, the backbone of
``tools/cfgs/kitti_models/second_with_lion_mamba_64dim.yaml``) where it and the paper differ.

Coordinates are ``[batch, z, y, x]`` (OpenPCDet / spconv) and a spatial shape is ``(Z, Y, X)``; a grid
size or a window shape is ``(X, Y, Z)`` as OpenPCDet writes them. Read bottom-up:

1. **Window partition and serialisation** (:func:`window_groups`, the official ``FlattenedWindowMapping``,
   ``win_version='v2'``). The grid is cut into windows of ``(wx, wy, wz)`` voxels; on shifted layers every
   coordinate first moves by half a window. Each voxel gets a sort key: for direction ``"x"`` the window
   index ``(batch, window_x, window_y, window_z)`` (batch slowest), then the position inside the window
   ``(x, y, z)`` in raster order (the serpentine order of the official ``win_version='v1'`` is used by no
   config); for ``"y"`` the same with x and y swapped. The voxels sorted by key form one sequence per
   sample, in which each window is a contiguous run; the sequence is cut into groups of ``group_size``
   voxels. A sample's last group is padded at its end and the core layer gets ``lengths``, so padding is
   never read (the official code fills it with copies of earlier voxels). Groups never span two samples,
   but a group may span several windows (as the official code: groups are cut from the sorted sequence).
2. :class:`LIONLayer`: for each direction (``"x"`` then ``"y"``) the groups go as a batch of sequences
   ``[G, group_size, D]`` through a core layer, pre-norm residual: :math:`x \leftarrow x + f(\mathrm{LN}(x))`;
   with ``bidirectional=True, post_norm=True`` the official form (below).
3. :class:`PositionEmbedding`: an MLP on the voxel's xyz normalised to :math:`[-\pi, \pi]` over the grid,
   added before every encoder layer.
4. :class:`VoxelMerge` (the official ``PatchMerging3DV3``): the 3D spatial feature descriptor
   ``SubMConv3d(3) → LayerNorm → GELU``, optionally voxel generation (:func:`generate_voxels`), then voxels
   in the same ``down_scale`` cell are summed and layer-normed. Up-merging (``PatchExpanding3D``) adds a
   merged voxel's feature back onto each voxel it came from.
5. :class:`LIONBlock`: an encoder of ``depth`` (LIONLayer, down-merge by 2 along x, y, z) levels and a
   decoder of ``depth`` (LIONLayer, up-merge, LayerNorm) levels; the second encoder layer and the second
   decoder layer of a block use shifted windows.
6. :class:`LIONBackbone`: ``len(depths)`` blocks each followed by a down-merge along z only (with voxel
   generation), then one LIONLayer on the output grid. X and Y keep the input resolution (LION's
   one-stride design); Z shrinks by 2 per block.

Deviations, on purpose:

- The official backbone takes the VFE's features at its own width D. Here features of another width
  ``in_channels`` are first mapped to D by ``Linear → LayerNorm → GELU`` (the official file's ``MLPBlock``),
  so that the backbone can also take the raw voxel means; at ``in_channels == D`` they enter as they are.
- The group operator is any registered core layer (``layer``, ``layer_kwargs``); the default ``mamba``
  has the official d_state 16, d_conv 4, expand 2; the official ``drop_path`` 0.2 is not applied. Every
  operator runs causally over its group in the pre-norm form :math:`x + f(\mathrm{LN}(x))` (no
  feed-forward) by default. The official Mamba ``Block`` is post-norm (``post_norm=True``:
  :math:`x + \mathrm{LN}(f(x))`) and its Mamba runs a second selective scan over the reversed group
  (its own convolution, Δ, A, B, C and D; in- and out-projections shared), summing the two; the official
  RetNet and RWKV blocks add a feed-forward sub-layer of their own. ``bidirectional=True`` wraps a
  causal core layer in the core's ``bidirectional`` layer (two full copies merged by a linear map) and
  ``post_norm=True`` gives the official residual form. Not the default: at CPU scale the official form
  did not measure better (``tools/repro/lion.py --official-block``: mamba 21.0, gla 14.1 Car 3D AP_R40
  vs 22.3, 28.9 causal pre-norm; ``lion/synthetic`` at batch 1 for 15 epochs: best 17.6 vs the baseline's
  39.3), and single runs at this scale differ by more than 10 AP from one seed to another.
- ``layer="identity"`` is an ablation, not a LION: every LIONLayer keeps its windows, groups and norms
  but mixes no voxels (:class:`IdentityOperator`), so voxels meet only in the descriptor's 3 × 3 × 3
  convolution and the merges.
- Defaults are scaled to CPU: two blocks of depth 2 (official four), groups of 1024 and 512 voxels (the
  official 4096, 2048, 1024, 512 divided by 4). Windows are 13 × 13 × (the block's z extent), as the
  official. On two synthetic LiDAR sweeps at KITTI's grid (18300 voxels, 352 × 400 × 32) the default
  backbone with ``mamba`` took 2.7 s forward (no grad) and 9.5 s forward + backward on one thread.
- Voxel generation picks the top ``generation_ratio`` of voxels per sample by their *mean feature*
  (the official ``features.mean(-1)``, signed) and adds the four diagonal neighbours (x ± 1, y ± 1),
  clamped to the grid, as the official code; new voxels that already exist are dropped (the official
  code keeps them as zero-feature duplicates, which the following sum-merge makes the same).

Shapes: ``features [N, C_in]``, ``coords [N, 4]`` int64 ``(batch, z, y, x)`` ->
``features [M, D]``, ``coords [M, 4]`` on the grid ``(X, Y, ceil(Z / 2^blocks))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core import build_layer

__all__ = [
    "IdentityOperator",
    "LIONBackbone",
    "LIONBlock",
    "LIONLayer",
    "PositionEmbedding",
    "VoxelMerge",
    "WindowGroups",
    "generate_voxels",
    "merge_voxels",
    "window_groups",
    "window_sort_keys",
]

SpatialShape = tuple[int, int, int]  # (Z, Y, X), as spconv


def window_sort_keys(
    coords: Tensor, spatial_shape: SpatialShape, window_shape: Sequence[int], shift: bool, direction: str
) -> tuple[Tensor, Tensor]:
    """The serialisation key of every voxel and the index of its window (``get_window_coors_shift_v2``).

    Args:
        coords: ``[N, 4]`` int64 (batch, z, y, x).
        spatial_shape: (Z, Y, X) of the grid.
        window_shape: (wx, wy, wz) voxels per window.
        shift: move every coordinate by half a window first (the alternate layers' shifted windows).
        direction: ``"x"``: windows ordered by x, then y, then z, and inside a window voxels by x, then
            y, then z; ``"y"``: the same with x and y swapped.

    Returns:
        ``key [N]`` int64 (unique per voxel, sample-major) and ``window [N]`` int64 (the window's index,
        sample-major), both ordered so that sorting by ``key`` sorts by ``window`` too.
    """
    if direction not in ("x", "y"):
        raise ValueError(f"direction must be 'x' or 'y', got {direction!r}")
    wx, wy, wz = window_shape
    size_z, size_y, size_x = spatial_shape
    # one window more per axis than the grid needs, for the shifted windows
    num_x, num_y, num_z = math.ceil(size_x / wx) + 1, math.ceil(size_y / wy) + 1, math.ceil(size_z / wz) + 1
    offset = (wx // 2, wy // 2, wz // 2) if shift else (0, 0, 0)
    x, y, z = coords[:, 3] + offset[0], coords[:, 2] + offset[1], coords[:, 1] + offset[2]
    sample = coords[:, 0] * (num_x * num_y * num_z)
    if direction == "x":
        window = sample + ((x // wx) * num_y + y // wy) * num_z + z // wz
        inside = ((x % wx) * wy + y % wy) * wz + z % wz
    else:
        window = sample + ((y // wy) * num_x + x // wx) * num_z + z // wz
        inside = ((y % wy) * wx + x % wx) * wz + z % wz
    return window * (wx * wy * wz) + inside, window


@dataclass(frozen=True)
class WindowGroups:
    """Where each voxel sits in the padded batch of groups ``[G, group_size, D]``.

    Attributes:
        order: ``[N]`` the voxel at each position of the serialised sequence (all samples, one after another).
        voxel_slot: ``[N]`` the row of voxel i in the flattened buffer ``[G * group_size]``.
        lengths: ``[G]`` valid voxels per group (``group_size`` except a sample's last group).
        group_size: voxels per group.
    """

    order: Tensor
    voxel_slot: Tensor
    lengths: Tensor
    group_size: int

    def group(self, features: Tensor) -> Tensor:
        """``[N, D]`` -> ``[G, group_size, D]``, padding zero."""
        buffer = features.new_zeros(len(self.lengths) * self.group_size, features.shape[1])
        return buffer.index_copy(0, self.voxel_slot, features).view(-1, self.group_size, features.shape[1])

    def ungroup(self, grouped: Tensor) -> Tensor:
        """``[G, group_size, D]`` -> ``[N, D]`` in the voxels' order (the inverse of :meth:`group`)."""
        return grouped.reshape(-1, grouped.shape[-1])[self.voxel_slot]


def window_groups(
    coords: Tensor,
    batch_size: int,
    spatial_shape: SpatialShape,
    window_shape: Sequence[int],
    group_size: int,
    shift: bool,
    direction: str,
) -> WindowGroups:
    """Sort the voxels window by window (:func:`window_sort_keys`) and cut each sample into groups.

    A sample of n voxels fills ``ceil(n / group_size)`` groups; its sequence position p goes to row
    ``start_padded[b] + p`` of the buffer, so the padding sits at the end of the sample's last group.
    """
    key, _ = window_sort_keys(coords, spatial_shape, window_shape, shift, direction)
    order = torch.argsort(key)
    batch = coords[order, 0]
    counts = torch.bincount(coords[:, 0], minlength=batch_size)
    padded = (counts + group_size - 1) // group_size * group_size
    start = torch.cumsum(counts, 0) - counts
    start_padded = torch.cumsum(padded, 0) - padded
    slot = start_padded[batch] + torch.arange(len(order), device=coords.device) - start[batch]
    voxel_slot = torch.empty_like(slot).index_copy_(0, order, slot)
    valid = torch.zeros(int(padded.sum()), dtype=torch.long, device=coords.device).index_fill_(0, slot, 1)
    return WindowGroups(order, voxel_slot, valid.view(-1, group_size).sum(1), group_size)


class IdentityOperator(nn.Module):
    r"""The group operator left out, an ablation (``layer="identity"``): :math:`f(x) = x`, no parameters.

    A :class:`LIONLayer` then mixes no voxels: each voxel keeps only its residual and norm,
    :math:`x + \mathrm{LN}(x)` per direction (pre- and post-norm alike); windows, groups, merges, the descriptor
    and voxel generation stay as they are.

    Shapes:
        x [G, group_size, D] -> ([G, group_size, D], None).
    """

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, None]:
        return x, None


def build_operator(layer: str, dim: int, layer_kwargs: dict | None, bidirectional: bool) -> nn.Module:
    """The group operator: the core layer ``layer``, run forwards and backwards when ``bidirectional``.

    A causal layer is wrapped in the core's ``bidirectional`` layer (one copy over the group, one over
    its reverse, merged by a linear map), as the official LION Mamba scans every group both ways; a
    layer that is not causal already reads the whole group and is used as it is. ``"identity"``
    (not a core layer) is :class:`IdentityOperator`, the ablation without a group operator.
    """
    if layer == "identity":
        return IdentityOperator()
    operator = build_layer(layer, dim, **(layer_kwargs or {}))
    if bidirectional and getattr(operator, "causal", True):
        operator = build_layer("bidirectional", dim, layer=layer, **(layer_kwargs or {}))
    return operator


class LIONLayer(nn.Module):
    r"""Voxels mixed group by group by a core layer, once per direction (the official ``LIONLayer``).

    For each direction d, with the groups of :func:`window_groups` as a batch of sequences (right-padding
    passed as ``lengths``): pre-norm (default),
    :math:`x \leftarrow x + \mathrm{ungroup}(f_d(\mathrm{LN}_d(\mathrm{group}_d(x))))`; or post-norm as the
    official Mamba ``Block`` (``post_norm=True``),
    :math:`x \leftarrow x + \mathrm{LN}_d(\mathrm{ungroup}(f_d(\mathrm{group}_d(x))))`.

    Args:
        dim: feature width D.
        window_shape: (wx, wy, wz) voxels per window.
        group_size: voxels per group (the sequence length the operator sees).
        shift: shifted windows (half a window).
        layer: registered core layer name (the group operator).
        layer_kwargs: its extra arguments.
        directions: serialisation of each sub-layer in turn (official ``["x", "y"]``).
        bidirectional: scan each group forwards and backwards (:func:`build_operator`; official True).
        post_norm: normalise the operator's output (official) instead of its input.

    Shapes:
        features [N, D], coords [N, 4] -> [N, D].
    """

    def __init__(
        self,
        dim: int,
        window_shape: Sequence[int],
        group_size: int,
        shift: bool = False,
        layer: str = "mamba",
        layer_kwargs: dict | None = None,
        directions: Sequence[str] = ("x", "y"),
        bidirectional: bool = False,
        post_norm: bool = False,
    ) -> None:
        super().__init__()
        if group_size < 1 or len(window_shape) != 3 or min(window_shape) < 1:
            raise ValueError(
                f"need group_size >= 1 and a window (wx, wy, wz) of positive sizes, got {group_size} and "
                f"{list(window_shape)}"
            )
        for direction in directions:
            if direction not in ("x", "y"):
                raise ValueError(f"directions must be 'x' or 'y', got {list(directions)}")
        self.window_shape = tuple(window_shape)
        self.group_size = group_size
        self.shift = shift
        self.directions = tuple(directions)
        self.post_norm = post_norm
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in directions)
        self.operators = nn.ModuleList(build_operator(layer, dim, layer_kwargs, bidirectional) for _ in directions)

    def forward(self, features: Tensor, coords: Tensor, spatial_shape: SpatialShape, batch_size: int) -> Tensor:
        for direction, norm, operator in zip(self.directions, self.norms, self.operators):
            groups = window_groups(
                coords, batch_size, spatial_shape, self.window_shape, self.group_size, self.shift, direction
            )
            if self.post_norm:
                mixed, _ = operator(groups.group(features), lengths=groups.lengths)
                features = features + norm(groups.ungroup(mixed))
            else:
                mixed, _ = operator(norm(groups.group(features)), lengths=groups.lengths)
                features = features + groups.ungroup(mixed)
        return features


class PositionEmbedding(nn.Module):
    r"""Learned absolute position embedding (the official ``PositionEmbeddingLearned`` and ``get_pos_embed``).

    :math:`p = (x - X/2, y - Y/2, z - Z/2) / (X, Y, Z) \cdot 2\pi`, then
    ``Linear(3, D) → BatchNorm1d → ReLU → Linear(D, D)``.

    Shapes:
        coords [N, 4], spatial_shape (Z, Y, X) -> [N, D].
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, coords: Tensor, spatial_shape: SpatialShape) -> Tensor:
        dtype = self.mlp[0].weight.dtype
        extent = torch.tensor(spatial_shape[::-1], dtype=dtype, device=coords.device)  # (X, Y, Z)
        xyz = coords[:, [3, 2, 1]].to(dtype)
        return self.mlp((xyz - extent / 2) / extent * (2 * math.pi))


def generate_voxels(features: Tensor, coords: Tensor, spatial_shape: SpatialShape, ratio: float, batch_size: int):
    """Voxel generation: zero-feature voxels beside the most active voxels (the official ``diffusion``).

    In each sample the ``int(ratio * n)`` voxels with the largest mean feature get their four diagonal
    x/y neighbours ``(x ± 1, y ± 1, z)``, clamped to the grid; neighbours that already exist (or repeat)
    are dropped.

    Returns:
        ``features [N + K, D]`` (the K new rows zero) and ``coords [N + K, 4]``, the originals first.
    """
    if ratio <= 0 or len(coords) == 0:
        return features, coords
    # rank of each voxel within its sample by mean feature, largest first
    by_score = torch.argsort(features.detach().mean(-1), descending=True, stable=True)
    order = by_score[torch.argsort(coords[by_score, 0], stable=True)]
    counts = torch.bincount(coords[:, 0], minlength=batch_size)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=coords.device) - start[coords[order, 0]]
    chosen = coords[order[rank < (counts * ratio).long()[coords[order, 0]]]]
    size_z, size_y, size_x = spatial_shape
    steps = torch.tensor([[-1, 1], [1, 1], [-1, -1], [1, -1]], device=coords.device)  # (dx, dy)
    candidates = chosen.repeat(4, 1)
    candidates[:, 3] = (candidates[:, 3] + steps[:, 0].repeat_interleave(len(chosen))).clamp(0, size_x - 1)
    candidates[:, 2] = (candidates[:, 2] + steps[:, 1].repeat_interleave(len(chosen))).clamp(0, size_y - 1)

    def linear(c: Tensor) -> Tensor:
        return ((c[:, 0] * size_z + c[:, 1]) * size_y + c[:, 2]) * size_x + c[:, 3]

    new_keys = torch.unique(linear(candidates))
    new_keys = new_keys[~torch.isin(new_keys, linear(coords))]
    new_coords = torch.stack(
        [
            new_keys // (size_z * size_y * size_x),
            new_keys // (size_y * size_x) % size_z,
            new_keys // size_x % size_y,
            new_keys % size_x,
        ],
        dim=1,
    )
    return torch.cat([features, features.new_zeros(len(new_keys), features.shape[1])]), torch.cat([coords, new_coords])


def merge_voxels(
    features: Tensor, coords: Tensor, spatial_shape: SpatialShape, down_scale: Sequence[int]
) -> tuple[Tensor, Tensor, SpatialShape, Tensor]:
    """Sum the voxels that fall into the same ``down_scale`` = (sx, sy, sz) cell.

    Returns:
        ``merged [M, D]``, ``coords [M, 4]`` sorted by (batch, z, y, x), the new spatial shape
        ``ceil((Z, Y, X) / (sz, sy, sx))``, and ``inverse [N]`` (the merged row of each input voxel).
    """
    sx, sy, sz = down_scale
    shape = (math.ceil(spatial_shape[0] / sz), math.ceil(spatial_shape[1] / sy), math.ceil(spatial_shape[2] / sx))
    cell = torch.stack([coords[:, 0], coords[:, 1] // sz, coords[:, 2] // sy, coords[:, 3] // sx], dim=1)
    keys = ((cell[:, 0] * shape[0] + cell[:, 1]) * shape[1] + cell[:, 2]) * shape[2] + cell[:, 3]
    unique_keys, inverse = torch.unique(keys, return_inverse=True)
    merged = features.new_zeros(len(unique_keys), features.shape[1]).index_add(0, inverse, features)
    merged_coords = torch.stack(
        [
            unique_keys // (shape[0] * shape[1] * shape[2]),
            unique_keys // (shape[1] * shape[2]) % shape[0],
            unique_keys // shape[2] % shape[1],
            unique_keys % shape[2],
        ],
        dim=1,
    )
    return merged, merged_coords, shape, inverse


class VoxelMerge(nn.Module):
    """3D spatial feature descriptor, optional voxel generation, then a down-merge (``PatchMerging3DV3``).

    ``SubMConv3d(D, D, 3) → LayerNorm → GELU`` (spconv, ``ConvAlgo.Native`` so it runs on CPU), then
    :func:`generate_voxels` with ``generation_ratio`` (0: none), then :func:`merge_voxels` and a LayerNorm.

    Shapes:
        features [N, D], coords [N, 4] -> features [M, D], coords [M, 4], shape, inverse [N + K].
    """

    def __init__(self, dim: int, down_scale: Sequence[int], generation_ratio: float = 0.0) -> None:
        super().__init__()
        import spconv.pytorch as spconv
        from spconv.core import ConvAlgo

        self.descriptor = spconv.SubMConv3d(dim, dim, 3, padding=1, bias=False, algo=ConvAlgo.Native)
        self.descriptor_norm = nn.LayerNorm(dim)
        self.norm = nn.LayerNorm(dim)
        self.down_scale = tuple(down_scale)
        self.generation_ratio = generation_ratio

    def forward(self, features: Tensor, coords: Tensor, spatial_shape: SpatialShape, batch_size: int):
        import spconv.pytorch as spconv

        sparse = spconv.SparseConvTensor(features, coords.int(), list(spatial_shape), batch_size)
        features = F.gelu(self.descriptor_norm(self.descriptor(sparse).features))
        features, coords = generate_voxels(features, coords, spatial_shape, self.generation_ratio, batch_size)
        merged, merged_coords, shape, inverse = merge_voxels(features, coords, spatial_shape, self.down_scale)
        return self.norm(merged), merged_coords, shape, inverse


class LIONBlock(nn.Module):
    """An encoder-decoder of LIONLayers over a voxel pyramid (the official ``LIONBlock``).

    Encoder level i: add the position embedding, :class:`LIONLayer`, keep the result, down-merge by
    ``(2, 2, 2)`` (:class:`VoxelMerge`, no generation). Decoder level i (deepest first): LIONLayer,
    add each merged voxel's feature onto the voxels it came from (``PatchExpanding3D``), LayerNorm.
    With ``shift``, the i-th encoder layer and the i-th decoder layer (decoders run deepest level first)
    use shifted windows when i is odd (official: ``[False, SHIFT]`` for depth 2).

    Args:
        dim: feature width D.
        depth: pyramid levels (official 2).
        window_shape: (wx, wy, wz), the same at every level.
        group_size: voxels per group.
        shift: shift the windows of the odd-numbered encoder and decoder layers.
        layer, layer_kwargs: the group operator (a registered core layer).
        bidirectional, post_norm: see :class:`LIONLayer`.
        position_embedding: add :class:`PositionEmbedding` before each encoder layer (official True).

    Shapes:
        features [N, D], coords [N, 4] -> [N, D] (same voxels, same order).
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        window_shape: Sequence[int],
        group_size: int,
        shift: bool = True,
        layer: str = "mamba",
        layer_kwargs: dict | None = None,
        bidirectional: bool = False,
        post_norm: bool = False,
        position_embedding: bool = True,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"a LION block needs depth >= 1, got {depth}")

        def lion_layer(level: int) -> LIONLayer:
            shifted = shift and level % 2 == 1
            directions = ("x", "y")
            return LIONLayer(
                dim, window_shape, group_size, shifted, layer, layer_kwargs, directions, bidirectional, post_norm
            )

        self.encoder = nn.ModuleList(lion_layer(i) for i in range(depth))
        self.position = nn.ModuleList(PositionEmbedding(dim) for _ in range(depth)) if position_embedding else None
        self.down = nn.ModuleList(VoxelMerge(dim, (2, 2, 2)) for _ in range(depth))
        self.decoder = nn.ModuleList(lion_layer(i) for i in range(depth))
        self.decoder_norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(depth))

    def forward(self, features: Tensor, coords: Tensor, spatial_shape: SpatialShape, batch_size: int) -> Tensor:
        skips = []
        for level, (encode, down) in enumerate(zip(self.encoder, self.down)):
            if self.position is not None:
                features = features + self.position[level](coords, spatial_shape)
            features = encode(features, coords, spatial_shape, batch_size)
            merged, merged_coords, merged_shape, inverse = down(features, coords, spatial_shape, batch_size)
            skips.append((features, coords, spatial_shape, inverse))
            features, coords, spatial_shape = merged, merged_coords, merged_shape
        for decode, norm, (skip, skip_coords, skip_shape, inverse) in zip(
            self.decoder, self.decoder_norms, reversed(skips)
        ):
            features = decode(features, coords, spatial_shape, batch_size)
            features = norm(skip + features[inverse])
            coords, spatial_shape = skip_coords, skip_shape
        return features


class LIONBackbone(nn.Module):
    """The LION one-stride 3D backbone (``LION3DBackboneOneStride``) with any core layer as its group operator.

    Per block: :class:`LIONBlock` and a down-merge along z by 2 with voxel generation (:class:`VoxelMerge`);
    then one :class:`LIONLayer` on the output grid (official window 13 × 13 × 2, groups of 256). Input
    features of a width other than D are first mapped to D by ``Linear → LayerNorm → GELU``.

    Args:
        in_channels: C_in of the input voxel features (4 for the mean point x, y, z, r).
        grid_size: (X, Y, Z) voxels of the input grid, as OpenPCDet.
        dim: feature width D (official 64).
        layer: registered core layer name of the group operator (official: Mamba); ``"identity"``: none
            (:class:`IdentityOperator`, an ablation).
        layer_kwargs: its extra arguments.
        depths: pyramid levels of each block; one block per entry (official ``(2, 2, 2, 2)``).
        window_shapes: (wx, wy, wz) per block; ``None``: 13 × 13 × the block's z extent (official
            ``[13, 13, 32]`` … ``[13, 13, 4]`` on KITTI's 32 z cells).
        group_sizes: voxels per group in each block (official ``(4096, 2048, 1024, 512)``).
        shift: shifted windows on the odd levels of each block (official True).
        generation_ratio: the fraction of voxels per sample that voxel generation expands before each
            z down-merge (official ``DIFF_SCALE`` 0.2; 0 turns it off).
        out_window_shape: (wx, wy, wz) of the last LIONLayer (official 13 × 13 × 2).
        out_group_size: voxels per group of the last LIONLayer (official 256).
        bidirectional: scan every group forwards and backwards (official: the LION Mamba's two scans).
        post_norm: ``x + LN(f(x))`` (official Mamba ``Block``) instead of ``x + f(LN(x))``.
        position_embedding: the learned position embedding before each encoder layer (official True).

    Attributes:
        out_grid_size: (X, Y, Z') of the output grid, ``Z' = ceil(Z / 2^len(depths))``.
        out_channels: D.

    Shapes:
        features [N, C_in], coords [N, 4] int64 (batch, z, y, x) -> features [M, D], coords [M, 4] int64,
        sorted by (batch, z, y, x). M may exceed N (voxel generation).
    """

    def __init__(
        self,
        in_channels: int,
        grid_size: tuple[int, int, int],
        dim: int = 64,
        layer: str = "mamba",
        layer_kwargs: dict | None = None,
        depths: Sequence[int] = (2, 2),
        window_shapes: Sequence[Sequence[int]] | None = None,
        group_sizes: Sequence[int] = (1024, 512),
        shift: bool = True,
        generation_ratio: float = 0.2,
        out_window_shape: Sequence[int] = (13, 13, 2),
        out_group_size: int = 256,
        bidirectional: bool = False,
        post_norm: bool = False,
        position_embedding: bool = True,
    ) -> None:
        super().__init__()
        if len(grid_size) != 3 or min(grid_size) < 1:
            raise ValueError(f"grid_size must be (X, Y, Z) of positive sizes, got {list(grid_size)}")
        if len(group_sizes) != len(depths) or (window_shapes is not None and len(window_shapes) != len(depths)):
            raise ValueError(
                f"one group size (and window shape) per block: depths {list(depths)}, group_sizes "
                f"{list(group_sizes)}, window_shapes {window_shapes}"
            )
        if not 0 <= generation_ratio <= 1:
            raise ValueError(f"generation_ratio must lie in [0, 1], got {generation_ratio}")
        size_x, size_y, size_z = grid_size
        self.spatial_shape = (size_z, size_y, size_x)
        z_extents = [math.ceil(size_z / 2**i) for i in range(len(depths) + 1)]
        if window_shapes is None:
            window_shapes = [(13, 13, z) for z in z_extents[:-1]]
        self.in_channels = in_channels
        self.out_channels = dim
        self.out_grid_size = (size_x, size_y, z_extents[-1])
        self.embed = (
            nn.Identity()
            if in_channels == dim
            else nn.Sequential(nn.Linear(in_channels, dim), nn.LayerNorm(dim), nn.GELU())
        )
        self.blocks = nn.ModuleList(
            LIONBlock(
                dim, depth, window, group, shift, layer, layer_kwargs, bidirectional, post_norm, position_embedding
            )
            for depth, window, group in zip(depths, window_shapes, group_sizes)
        )
        self.z_merges = nn.ModuleList(VoxelMerge(dim, (1, 1, 2), generation_ratio) for _ in depths)
        self.out_layer = LIONLayer(
            dim, out_window_shape, out_group_size, shift, layer, layer_kwargs, ("x", "y"), bidirectional, post_norm
        )

    def forward(self, features: Tensor, coords: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
        self._check_input(features, coords, batch_size)
        coords = coords.long()
        shape = self.spatial_shape
        features = self.embed(features)
        for block, z_merge in zip(self.blocks, self.z_merges):
            features = block(features, coords, shape, batch_size)
            features, coords, shape, _ = z_merge(features, coords, shape, batch_size)
        return self.out_layer(features, coords, shape, batch_size), coords

    def _check_input(self, features: Tensor, coords: Tensor, batch_size: int) -> None:
        if features.dim() != 2 or features.shape[1] != self.in_channels or len(features) == 0:
            raise ValueError(f"LIONBackbone expects features [N >= 1, {self.in_channels}], got {tuple(features.shape)}")
        if coords.shape != (len(features), 4) or coords.is_floating_point():
            raise ValueError(
                f"coords must be an integer [N, 4] = [{len(features)}, 4] tensor, got {tuple(coords.shape)}"
            )
        high = torch.tensor([batch_size, *self.spatial_shape], device=coords.device)
        if bool((coords < 0).any()) or bool((coords >= high).any()):
            raise ValueError(
                f"coords (batch, z, y, x) must lie below (batch_size, Z, Y, X) = {tuple(high.tolist())}; "
                "voxelise with this backbone's grid_size"
            )
