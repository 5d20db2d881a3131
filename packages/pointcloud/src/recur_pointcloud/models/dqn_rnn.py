"""3DCNN-DQN-RNN (Liu et al., ICCV 2017, https://arxiv.org/abs/1707.06783): the networks of the scene parser.

A 3D CNN reads a voxelised "eye window" of a room; a DQN moves and scales that window to find the regions
of one class at a time; a residual RNN labels the points inside the window from their raw attributes plus
the CNN's features. There is no official code (the first author's notes hold only a draft), so the
sizes, the voxel channels and the RNN's inputs below are recur's choices, stated where they are made.

Reads bottom-up: the room and window geometry (:func:`normalise_room`, :func:`voxelize_windows`), the
3D CNN (:class:`Window3DCNN`), the residual RNN labeller (:class:`ResidualRNNLabeller`), the Q-network
(:class:`EyeWindowQNetwork`), and the whole parser (:class:`DQNRNN`). The gymnasium environment and the
DQN that trains the Q-network are in :mod:`recur_pointcloud.eye_window`; the pipeline, its baselines and
the metrics in :mod:`recur_pointcloud.parsing`.

Coordinates: a room's xyz is scaled per axis to ``[0, 1]`` (:func:`normalise_room`); a window is
``(cx, cy, cz, sx, sy, sz)`` in those coordinates (centre and full size), so the whole room is
``(0.5, 0.5, 0.5, 1, 1, 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.models.sequence_model import SequenceModel
from recur_core.registry import register_model

__all__ = [
    "DQNRNN",
    "NUM_ACTIONS",
    "POINT_FEATURES",
    "VOXEL_CHANNELS",
    "WHOLE_ROOM",
    "WINDOW_ACTIONS",
    "DQNRNNOutput",
    "EyeWindowQNetwork",
    "ResidualRNNLabeller",
    "Window3DCNN",
    "WindowCNNOutput",
    "WindowPoints",
    "normalise_room",
    "point_features",
    "voxelize_windows",
    "window_offsets",
]

# occupancy, mean colour (r, g, b in [0, 1]), mean room-normalised position (x, y, z): without the position a
# window's voxels do not know where in the room they are (a floor and a ceiling look alike in a thin window)
VOXEL_CHANNELS = 7
# per point: position in the window (x, y, z in [-1, 1]), position in the room ([0, 1]), colour ([0, 1])
POINT_FEATURES = 9
# the eye window's actions (recur's choice: the paper names moving and scaling, not the set)
WINDOW_ACTIONS = ("+x", "-x", "+y", "-y", "+z", "-z", "grow", "shrink", "stop")
NUM_ACTIONS = len(WINDOW_ACTIONS)

WHOLE_ROOM = (0.5, 0.5, 0.5, 1.0, 1.0, 1.0)


# ----- rooms and windows ---------------------------------------------------------------------------------------


def normalise_room(points: Tensor) -> Tensor:
    """A room's points ``[N, 6]`` (x y z in metres, r g b in 0..255) -> ``[N, 6]`` with xyz scaled per axis to
    ``[0, 1]`` over the room's bounding box and rgb to ``[0, 1]``."""
    if points.dim() != 2 or points.shape[1] != 6 or points.shape[0] == 0:
        raise ValueError(f"expected a non-empty room of points [N, 6] (x y z r g b), got {tuple(points.shape)}")
    xyz = points[:, :3].float()
    low, high = xyz.min(0).values, xyz.max(0).values
    scaled = (xyz - low) / (high - low).clamp_min(1e-6)
    return torch.cat([scaled, points[:, 3:].float() / 255.0], 1)


class WindowPoints(NamedTuple):
    """The points of a room that fall in each of W windows, as (window, point) pairs.

    Attributes:
        voxels: ``[W, VOXEL_CHANNELS, G, G, G]`` the windows' CNN inputs (channels as ``VOXEL_CHANNELS`` says).
        window: ``[M]`` the window of each pair.
        point: ``[M]`` the room point of each pair.
        voxel: ``[M]`` the flat voxel index ``(z * G + y) * G + x`` of the point in its window.
        local: ``[M, 3]`` the point's position in its window, ``[-1, 1]`` per axis.
        order: ``[M]`` a permutation of the pairs that sorts them by window, then along the window's scan
            order (voxel index, z slowest, x fastest), then by point index: the sequences the RNN reads.
    """

    voxels: Tensor
    window: Tensor
    point: Tensor
    voxel: Tensor
    local: Tensor
    order: Tensor


def window_offsets(xyz: Tensor, windows: Tensor) -> tuple[Tensor, Tensor]:
    """Each point's position in each window, ``[W, N, 3]`` in ``[-1, 1]`` inside, and whether it is inside
    ``[W, N]`` (with a 1e-5 margin, so that tiles of the room leave no point out to rounding).

    Shapes: xyz ``[N, 3]``, windows ``[W, 6]``."""
    offset = (xyz[None] - windows[:, None, :3]) / (windows[:, None, 3:] / 2)
    return offset, (offset.abs() <= 1 + 1e-5).all(-1)


def voxelize_windows(room: Tensor, windows: Tensor, grid: int = 16) -> WindowPoints:
    """Voxelise windows of a normalised room (:func:`normalise_room`) in one batched pass.

    A point is in a window when ``centre - size / 2 <= xyz <= centre + size / 2`` on every axis. Each window
    is cut into ``grid``³ voxels; a voxel's channels are its occupancy (1 when it holds a point), the mean
    colour and the mean room position of its points (0 when empty).

    Shapes:
        room ``[N, 6]``, windows ``[W, 6]`` (centre xyz, size xyz) -> :class:`WindowPoints` with M pairs.
    """
    if windows.dim() != 2 or windows.shape[1] != 6:
        raise ValueError(f"expected windows [W, 6] (centre xyz, size xyz), got {tuple(windows.shape)}")
    offset, inside = window_offsets(room[:, :3], windows)
    window, point = inside.nonzero(as_tuple=True)
    local = offset[window, point]
    cell = ((local + 1) / 2 * grid).long().clamp_(0, grid - 1)
    voxel = (cell[:, 2] * grid + cell[:, 1]) * grid + cell[:, 0]
    flat = window * grid**3 + voxel
    count = torch.zeros(windows.shape[0] * grid**3, dtype=room.dtype).index_add_(
        0, flat, torch.ones_like(flat, dtype=room.dtype)
    )
    sums = torch.zeros(windows.shape[0] * grid**3, 6, dtype=room.dtype).index_add_(0, flat, room[point])
    occupied = (count > 0).to(room.dtype)
    means = sums / count.clamp_min(1)[:, None]
    channels = torch.cat([occupied[:, None], means[:, 3:], means[:, :3]], 1)
    voxels = channels.view(windows.shape[0], grid, grid, grid, VOXEL_CHANNELS).permute(0, 4, 1, 2, 3).contiguous()
    # one stable sort on (window, voxel) keys keeps the points of a voxel in index order
    order = torch.sort(flat, stable=True).indices
    return WindowPoints(voxels, window, point, voxel, local, order)


def point_features(room: Tensor, pairs: WindowPoints) -> Tensor:
    """Each pair's RNN input ``[M, POINT_FEATURES]``: position in the window, position in the room, colour."""
    return torch.cat([pairs.local, room[pairs.point]], 1)


# ----- the 3D CNN ----------------------------------------------------------------------------------------------


class WindowCNNOutput(NamedTuple):
    """:class:`Window3DCNN`'s outputs: ``feature [B, feature_dim]`` (the window), ``voxel_features
    [B, width, G, G, G]`` and ``voxel_logits [B, num_classes, G, G, G]`` (each voxel)."""

    feature: Tensor
    voxel_features: Tensor
    voxel_logits: Tensor


def _conv_block(in_channels: int, out_channels: int, stride: int, norm: bool) -> nn.Sequential:
    def normalised(channels: int) -> list[nn.Module]:
        return [nn.GroupNorm(math.gcd(8, channels), channels)] if norm else []

    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=1),
        *normalised(out_channels),
        nn.ReLU(),
        nn.Conv3d(out_channels, out_channels, 3, padding=1),
        *normalised(out_channels),
        nn.ReLU(),
    )


class Window3DCNN(nn.Module):
    """The 3D CNN on a voxelised window: a window feature vector and per-voxel class logits.

    Three blocks of two 3×3×3 convolutions (``width``, ``2 width``, ``4 width`` channels; the second and
    third halve the grid), each followed by a GroupNorm and a ReLU (without the norm the CNN trained far
    slower on the synthetic rooms: after 20 epochs its test mIoU was 0.36-0.43 against 0.52-0.63 with it, and
    its features did not help the RNN). The window feature is the third block averaged over the grid, through a linear
    layer and a ReLU. Per-voxel features concatenate the three blocks (the coarser ones upsampled to the
    grid, nearest) through a 1×1×1 convolution and a ReLU; a 1×1×1 convolution makes them class logits,
    which label every point of a voxel in the CNN-only baseline. (The paper's CNN sizes are not given;
    these are recur's.)

    Args:
        num_classes: semantic classes.
        in_channels: voxel channels (``VOXEL_CHANNELS``).
        width: channels of the first block.
        feature_dim: size of the window feature.
        grid: voxels per axis of the input (a multiple of 4).
        norm: a GroupNorm (up to 8 groups) after every convolution of the blocks (False: none, an ablation).

    Shapes:
        voxels ``[B, in_channels, G, G, G]`` -> :class:`WindowCNNOutput`.
    """

    def __init__(
        self,
        num_classes: int = 13,
        in_channels: int = VOXEL_CHANNELS,
        width: int = 16,
        feature_dim: int = 64,
        grid: int = 16,
        norm: bool = True,
    ) -> None:
        super().__init__()
        if grid < 4 or grid % 4:
            raise ValueError(f"grid must be a multiple of 4 (two halvings), got {grid}")
        self.num_classes, self.in_channels, self.width, self.feature_dim, self.grid = (
            num_classes,
            in_channels,
            width,
            feature_dim,
            grid,
        )
        self.blocks = nn.ModuleList(
            [
                _conv_block(in_channels, width, 1, norm),
                _conv_block(width, 2 * width, 2, norm),
                _conv_block(2 * width, 4 * width, 2, norm),
            ]
        )
        self.feature = nn.Sequential(nn.Linear(4 * width, feature_dim), nn.ReLU())
        self.voxel_features = nn.Sequential(nn.Conv3d(7 * width, width, 1), nn.ReLU())
        self.classifier = nn.Conv3d(width, num_classes, 1)

    def forward(self, voxels: Tensor) -> WindowCNNOutput:
        expected = (self.in_channels, self.grid, self.grid, self.grid)
        if voxels.dim() != 5 or tuple(voxels.shape[1:]) != expected:
            raise ValueError(f"expected voxels [B, {', '.join(map(str, expected))}], got {tuple(voxels.shape)}")
        maps, h = [], voxels
        for block in self.blocks:
            h = block(h)
            maps.append(h)
        feature = self.feature(h.mean((2, 3, 4)))
        full = [maps[0], *(F.interpolate(m, size=maps[0].shape[2:], mode="nearest") for m in maps[1:])]
        voxel_features = self.voxel_features(torch.cat(full, 1))
        return WindowCNNOutput(feature, voxel_features, self.classifier(voxel_features))

    def evidence(self, voxels: Tensor) -> Tensor:
        """What the eye window's Q-network sees of a window ``[B, evidence_dim]``: the window feature and
        the CNN's class probabilities averaged over the occupied voxels of each octant (2×2×2) of the window,
        so the Q-network learns where in the window a class lies (recur's choice of "3D-CNN evidence")."""
        out = self(voxels)
        occupied = voxels[:, :1]
        probabilities = out.voxel_logits.softmax(1) * occupied
        octants = F.avg_pool3d(probabilities, self.grid // 2) / F.avg_pool3d(occupied, self.grid // 2).clamp_min(1e-6)
        return torch.cat([out.feature, octants.flatten(1)], 1)

    @property
    def evidence_dim(self) -> int:
        return self.feature_dim + 8 * self.num_classes

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        occupied = (torch.rand(batch_size, 1, self.grid, self.grid, self.grid) < 0.2).float()
        return (torch.cat([occupied, occupied * torch.rand(batch_size, self.in_channels - 1, *occupied.shape[2:])], 1),)


# ----- the residual RNN labeller -------------------------------------------------------------------------------


class ResidualRNNLabeller(nn.Module):
    """The residual RNN that labels a window's points, read as a sequence along the window's scan order.

    Each point's input is its raw attributes (``POINT_FEATURES``: position in the window and in the room,
    colour) concatenated with the window's CNN feature (``window_feature_dim``) and the CNN's features of
    the point's voxel (``voxel_feature_dim``); both 0 makes the RNN-only baseline. The CNN features pass a
    LayerNorm whose gain starts at 0.1, so that at first their ~80 dimensions weigh about as much as the 9 raw
    attributes (as they came, or at unit scale, they drowned the attributes out: the RNN with them trained
    slower than the RNN without them; recur's choice, the paper gives no detail). The stack is core's
    :class:`~recur_core.models.SequenceModel`: a linear stem, ``n_layers`` pre-norm residual blocks
    ``h + layer(norm(h))`` of any core layer (``lstm`` default: the paper's stacked LSTM with residual
    connections; ``mlp_ratio`` 0 leaves the blocks without MLPs), a norm and a linear head.

    Args:
        num_classes: semantic classes.
        window_feature_dim: size of the CNN's window feature (0: none).
        voxel_feature_dim: size of the CNN's per-voxel features (0: none).
        d_model: width of the residual stream.
        n_layers: residual blocks.
        layer: any registered core layer name.
        layer_kwargs: passed to the layer.
        mlp_ratio: MLP width per block over ``d_model`` (0: no MLP, the paper's plain residual LSTM stack).

    Shapes:
        points ``[B, T, POINT_FEATURES]``, lengths ``[B]``, window_feature ``[B, window_feature_dim]``,
        voxel_features ``[B, T, voxel_feature_dim]`` -> logits ``[B, T, num_classes]``.
    """

    def __init__(
        self,
        num_classes: int = 13,
        window_feature_dim: int = 64,
        voxel_feature_dim: int = 16,
        d_model: int = 64,
        n_layers: int = 2,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        mlp_ratio: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_feature_dim, self.voxel_feature_dim = window_feature_dim, voxel_feature_dim
        cnn_dim = window_feature_dim + voxel_feature_dim
        self.cnn_norm = nn.LayerNorm(cnn_dim) if cnn_dim else None
        if self.cnn_norm is not None:
            nn.init.constant_(self.cnn_norm.weight, 0.1)
        self.rnn = SequenceModel(
            layer=layer,
            d_model=d_model,
            n_layers=n_layers,
            input_dim=POINT_FEATURES + window_feature_dim + voxel_feature_dim,
            output_dim=num_classes,
            readout="token",
            mlp_ratio=mlp_ratio,
            layer_kwargs=dict(layer_kwargs or {}),
        )

    @property
    def uses_cnn(self) -> bool:
        return self.window_feature_dim + self.voxel_feature_dim > 0

    def forward(
        self,
        points: Tensor,
        lengths: Tensor | None = None,
        window_feature: Tensor | None = None,
        voxel_features: Tensor | None = None,
    ) -> Tensor:
        if self.cnn_norm is None:
            return self.rnn(points, lengths=lengths)
        cnn = []
        if self.window_feature_dim:
            cnn.append(window_feature[:, None].expand(-1, points.shape[1], -1))
        if self.voxel_feature_dim:
            cnn.append(voxel_features)
        return self.rnn(torch.cat([points, self.cnn_norm(torch.cat(cnn, -1))], -1), lengths=lengths)

    def example_input(self, batch_size: int = 2, seq_len: int = 10) -> tuple[Tensor, ...]:
        return (
            torch.rand(batch_size, seq_len, POINT_FEATURES),
            torch.full((batch_size,), seq_len),
            torch.rand(batch_size, self.window_feature_dim),
            torch.rand(batch_size, seq_len, self.voxel_feature_dim),
        )


# ----- the Q-network -------------------------------------------------------------------------------------------


class EyeWindowQNetwork(nn.Module):
    """Q-values of the eye window's actions (``WINDOW_ACTIONS``) from the CNN's evidence and the window state.

    An MLP on ``[evidence, window (centre, size), one-hot target class]`` with ``hidden`` units in two
    ReLU layers; one network serves every target class (the class is an input), so one DQN learns the
    paper's class-wise searches.

    Shapes:
        evidence ``[B, evidence_dim]`` (:meth:`Window3DCNN.evidence`), window ``[B, 6]``, target ``[B]`` int
        -> Q ``[B, NUM_ACTIONS]``.
    """

    def __init__(self, evidence_dim: int, num_classes: int = 13, hidden: int = 128) -> None:
        super().__init__()
        self.evidence_dim, self.num_classes = evidence_dim, num_classes
        self.mlp = nn.Sequential(
            nn.Linear(evidence_dim + 6 + num_classes, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, NUM_ACTIONS),
        )

    def forward(self, evidence: Tensor, window: Tensor, target: Tensor) -> Tensor:
        target = F.one_hot(target.long(), self.num_classes).to(evidence.dtype)
        return self.mlp(torch.cat([evidence, window.to(evidence.dtype), target], 1))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, ...]:
        return (
            torch.rand(batch_size, self.evidence_dim),
            torch.rand(batch_size, 6),
            torch.randint(0, self.num_classes, (batch_size,)),
        )


# ----- the parser ----------------------------------------------------------------------------------------------


@dataclass
class DQNRNNConfig:
    num_classes: int = 13  # S3DIS's 13 classes
    grid: int = 16  # voxels per window axis
    cnn_width: int = 16  # channels of the CNN's first block
    cnn_norm: bool = True  # GroupNorm in the CNN's blocks
    feature_dim: int = 64  # the CNN's window feature
    d_model: int = 64  # the RNN's width
    n_layers: int = 2  # the RNN's residual blocks
    layer: str = "lstm"  # the RNN's core layer (the paper: LSTM)
    layer_kwargs: dict[str, Any] | None = None
    mlp_ratio: float = 0.0  # MLPs in the RNN's blocks (0: none)
    q_hidden: int = 128  # the Q-network's hidden units


class DQNRNNOutput(NamedTuple):
    """:class:`DQNRNN`'s outputs for B windows: ``voxel_logits [B, K, G, G, G]``, ``point_logits [B, T, K]``
    and ``q_values [B, NUM_ACTIONS]``."""

    voxel_logits: Tensor
    point_logits: Tensor
    q_values: Tensor


class DQNRNN(nn.Module):
    """3DCNN-DQN-RNN's networks: the window CNN, the residual RNN labeller on its features and the eye
    window's Q-network on its evidence (see the module docstring; the keyword arguments are
    :class:`DQNRNNConfig`'s).

    :meth:`forward` runs all three on a batch of windows, one point sequence each; the pipeline in
    :mod:`recur_pointcloud.parsing` calls the parts (``cnn``, ``labeller``, ``q_network``) itself.

    Shapes:
        voxels ``[B, VOXEL_CHANNELS, G, G, G]``, windows ``[B, 6]``, targets ``[B]``, points
        ``[B, T, POINT_FEATURES]``, point_voxels ``[B, T]`` (flat voxel index of each point), lengths ``[B]``
        -> :class:`DQNRNNOutput`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = DQNRNNConfig(**kwargs)
        self.cnn = Window3DCNN(
            cfg.num_classes, width=cfg.cnn_width, feature_dim=cfg.feature_dim, grid=cfg.grid, norm=cfg.cnn_norm
        )
        self.labeller = ResidualRNNLabeller(
            cfg.num_classes,
            cfg.feature_dim,
            cfg.cnn_width,
            cfg.d_model,
            cfg.n_layers,
            cfg.layer,
            cfg.layer_kwargs,
            cfg.mlp_ratio,
        )
        self.q_network = EyeWindowQNetwork(self.cnn.evidence_dim, cfg.num_classes, cfg.q_hidden)

    def forward(
        self, voxels: Tensor, windows: Tensor, targets: Tensor, points: Tensor, point_voxels: Tensor, lengths: Tensor
    ) -> DQNRNNOutput:
        out = self.cnn(voxels)
        per_voxel = out.voxel_features.flatten(2).transpose(1, 2)  # [B, G³, width]
        voxel_features = per_voxel.gather(1, point_voxels[..., None].expand(-1, -1, per_voxel.shape[-1]))
        point_logits = self.labeller(points, lengths, out.feature, voxel_features)
        q_values = self.q_network(self.cnn.evidence(voxels), windows, targets)
        return DQNRNNOutput(out.voxel_logits, point_logits, q_values)

    def example_input(self, batch_size: int = 2, seq_len: int = 10) -> tuple[Tensor, ...]:
        (voxels,) = self.cnn.example_input(batch_size)
        grid = self.config.grid
        return (
            voxels,
            torch.rand(batch_size, 6),
            torch.randint(0, self.config.num_classes, (batch_size,)),
            torch.rand(batch_size, seq_len, POINT_FEATURES),
            torch.randint(0, grid**3, (batch_size, seq_len)),
            torch.full((batch_size,), seq_len),
        )


@register_model("dqn_rnn")
def dqn_rnn(**kwargs: Any) -> DQNRNN:
    """:class:`DQNRNN`: 3DCNN-DQN-RNN's window CNN, residual RNN labeller and eye-window Q-network."""
    return DQNRNN(**kwargs)


@register_model("cnn3d_window")
def cnn3d_window(**kwargs: Any) -> Window3DCNN:
    """:class:`Window3DCNN`: the 3D CNN on a voxelised window (the CNN-only baseline labels voxels with it)."""
    return Window3DCNN(**kwargs)


@register_model("dqn_rnn_labeller")
def dqn_rnn_labeller(**kwargs: Any) -> ResidualRNNLabeller:
    """:class:`ResidualRNNLabeller`; ``window_feature_dim=0, voxel_feature_dim=0`` is the RNN-only baseline."""
    return ResidualRNNLabeller(**kwargs)


@register_model("eye_window_qnet")
def eye_window_qnet(evidence_dim: int = 64 + 8 * 13, **kwargs: Any) -> EyeWindowQNetwork:
    """:class:`EyeWindowQNetwork` (default evidence size: the default :class:`Window3DCNN`'s)."""
    return EyeWindowQNetwork(evidence_dim, **kwargs)
