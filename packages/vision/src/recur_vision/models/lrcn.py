r"""LRCN for activity recognition: a per-frame CNN, a recurrent head, a softmax at every timestep.

Donahue et al., "Long-term Recurrent Convolutional Networks for Visual Recognition and
Description", CVPR 2015 / TPAMI 2017, https://arxiv.org/abs/1411.4389. The official Caffe code
(``LisaAnne/lisa-caffe-public``, branch ``lstm_video_deploy``,
``examples/LRCN_activity_recognition/train_test_lstm_RGB.prototxt``) defines the network:

.. math::
    \phi_t = \mathrm{drop}_{0.9}(\mathrm{ReLU}(W_6\, \mathrm{CNN}(x_t))), \quad
    h_t = \mathrm{LSTM}_{256}(\phi_t, h_{t-1}), \quad
    p_t = \mathrm{softmax}(W_8\, \mathrm{drop}_{0.5}(h_t))

trained with a softmax loss at every timestep t of a 16-frame clip; a clip's score is the mean of
its ``p_t`` and a video's the mean over its clips. The paper's recipe has two stages: a
single-frame network (the same CNN and fc6, then a classifier; :class:`SingleFrame`) is trained
first, and LRCN's CNN and fc6 start from its weights (``init_from`` of
:class:`~recur_vision.task.VideoClassificationModule`).

Reads bottom-up: the frame CNNs (a small one for CPUs, the CaffeNet-like stack of the prototxt,
any torchvision classifier by name, all randomly initialised: nothing is downloaded), the frame
encoder (CNN + fc6), then the two models and their builders.

Deviations, on purpose:

- the recurrence is any core layer (``layer``, ``lstm`` by default). A core layer maps width D to
  D, so fc6 is first projected to ``hidden`` (256) by a linear map; the prototxt's LSTM reads
  fc6 directly (its input weights are then a rank-256 factorisation of Caffe's);
- the default CNN is :func:`small_cnn` (three conv-BN-ReLU blocks; ``cnn_channels`` sets their
  widths, 16/32/64 in the recipes on 28 x 28 crops) and fc6 has 512 units, so that the model
  trains on a CPU in minutes; ``backbone="caffenet"`` with
  ``fc6_dim=4096`` is the prototxt's network (227 x 227 crops). Both pool the last feature map to
  a small grid before fc6 (as torchvision's AlexNet), so fc6 still sees *where* things are, which
  motion classes need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recur_core.registry import build_layer, register_model

__all__ = [
    "LRCN",
    "FrameEncoder",
    "SingleFrame",
    "caffenet_cnn",
    "frame_cnn",
    "lrcn",
    "lrcn_single_frame",
    "small_cnn",
    "torchvision_cnn",
]


# ---------------------------------------------------------------------------------------------
# frame CNNs: images [N, 3, H, W] -> features [N, F]


def small_cnn(channels: tuple[int, ...] = (32, 64, 128), grid: int = 4) -> tuple[nn.Module, int]:
    """A small torchvision-style CNN for CPUs: ``len(channels)`` blocks of conv3x3/2-BN-ReLU, then a ``grid`` pool.

    Returns the module (``[N, 3, H, W] -> [N, channels[-1] * grid**2]``) and its feature width.
    """
    layers: list[nn.Module] = []
    width = 3
    for out in channels:
        layers += [
            nn.Conv2d(width, out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU(inplace=True),
        ]
        width = out
    layers += [nn.AdaptiveAvgPool2d(grid), nn.Flatten()]
    return nn.Sequential(*layers), width * grid * grid


def caffenet_cnn(grid: int = 6) -> tuple[nn.Module, int]:
    """conv1-pool5 of LRCN's prototxt (CaffeNet with LRCN's widths): ``[N, 3, H, W] -> [N, 384 * grid**2]``.

    conv1 96@7x7/2, max-pool 3/2, LRN(5, 1e-4, 0.75); conv2 384@5x5/2 (2 groups), max-pool 3/2, LRN;
    conv3 512@3x3; conv4 512@3x3 (2 groups); conv5 384@3x3 (2 groups); max-pool 3/2, each conv
    followed by ReLU; Caffe's pooling rounds up (``ceil_mode``). A 227 x 227 crop gives pool5 6 x 6,
    which the adaptive pool to ``grid`` = 6 leaves unchanged; smaller frames (>= 67 px) work too.
    """

    def conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0, groups: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups), nn.ReLU(inplace=True)]

    def pool() -> nn.Module:
        return nn.MaxPool2d(3, stride=2, ceil_mode=True)

    layers = [
        *conv(3, 96, 7, stride=2),
        pool(),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75),
        *conv(96, 384, 5, stride=2, groups=2),
        pool(),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75),
        *conv(384, 512, 3, pad=1),
        *conv(512, 512, 3, pad=1, groups=2),
        *conv(512, 384, 3, pad=1, groups=2),
        pool(),
        nn.AdaptiveAvgPool2d(grid),
        nn.Flatten(),
    ]
    return nn.Sequential(*layers), 384 * grid * grid


def torchvision_cnn(name: str) -> tuple[nn.Module, int]:
    """Any torchvision classifier by name (``resnet18``, ``mobilenet_v3_small``, ...), randomly initialised,
    with its last linear layer replaced by the identity: ``[N, 3, H, W] -> [N, F]`` (F its pooled width).

    Most of these end in a global average pool, so their features do not say where things are.
    """
    import torchvision

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(
            f"unknown backbone {name!r}; use 'small', 'caffenet' or a torchvision classifier such as resnet18 "
            "(torchvision.models.list_models())"
        )
    kwargs: dict[str, Any] = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)
    model = torchvision.models.get_model(name, **kwargs)
    last = None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = module_name
    if last is None:
        raise ValueError(
            f"backbone {name!r} has no final linear layer to remove; choose another torchvision classifier"
        )
    parent_name, _, child = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    width = getattr(parent, child).in_features
    setattr(parent, child, nn.Identity())
    return model, width


def frame_cnn(backbone: str = "small", channels: tuple[int, ...] | None = None) -> tuple[nn.Module, int]:
    """The frame CNN named ``backbone``: ``"small"``, ``"caffenet"`` or a torchvision classifier; and its width.

    ``channels`` sets the widths of the small CNN's blocks (default ``(32, 64, 128)``); other backbones take none.
    """
    if channels is not None and backbone != "small":
        raise ValueError(f"cnn_channels sets the 'small' backbone's widths; backbone {backbone!r} takes none")
    if backbone == "small":
        return small_cnn(tuple(channels)) if channels is not None else small_cnn()
    if backbone == "caffenet":
        return caffenet_cnn()
    return torchvision_cnn(backbone)


class FrameEncoder(nn.Module):
    """CNN then fc6 (linear, ReLU, dropout): images ``[N, 3, H, W]`` -> ``[N, fc6_dim]``.

    The part of LRCN that the single-frame network trains first and LRCN starts from.

    Args:
        backbone: see :func:`frame_cnn`.
        fc6_dim: width of fc6 (4096 in the prototxt).
        fc6_dropout: dropout after fc6 (0.9 in the prototxt).
        cnn_channels: the small CNN's block widths (None: ``(32, 64, 128)``).
    """

    def __init__(
        self,
        backbone: str = "small",
        fc6_dim: int = 512,
        fc6_dropout: float = 0.9,
        cnn_channels: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if fc6_dim < 1 or not 0.0 <= fc6_dropout < 1.0:
            raise ValueError(f"fc6_dim must be >= 1 and fc6_dropout in [0, 1), got {fc6_dim} and {fc6_dropout}")
        if cnn_channels is not None and (len(cnn_channels) == 0 or min(cnn_channels) < 1):
            raise ValueError(f"cnn_channels must be positive widths such as [16, 32, 64], got {cnn_channels}")
        self.backbone = backbone
        self.cnn, self.cnn_dim = frame_cnn(backbone, cnn_channels)
        self.fc6 = nn.Linear(self.cnn_dim, fc6_dim)
        self.dropout = nn.Dropout(fc6_dropout)
        self.out_dim = fc6_dim

    def forward(self, images: Tensor) -> Tensor:
        return self.dropout(torch.relu(self.fc6(self.cnn(images))))


def _check_clip(clip: Tensor) -> None:
    if clip.dim() != 5 or clip.shape[2] != 3:
        raise ValueError(f"expected clips [B, T, 3, H, W], got {tuple(clip.shape)}")


def _frames(encoder: FrameEncoder, clip: Tensor) -> Tensor:
    """``[B, T, 3, H, W]`` -> per-frame fc6 ``[B, T, fc6_dim]`` (the CNN sees all B * T frames at once)."""
    batch, steps = clip.shape[:2]
    return encoder(clip.flatten(0, 1)).view(batch, steps, -1)


# ---------------------------------------------------------------------------------------------
# the models


@dataclass
class LRCNConfig:
    num_classes: int = 13  # 101 for UCF101; 13 for the generated videos
    backbone: str = "small"  # the frame CNN: "small", "caffenet" or a torchvision classifier
    fc6_dim: int = 512  # 4096 in the prototxt
    fc6_dropout: float = 0.9  # as the prototxt
    hidden: int = 256  # the LSTM's units, as the prototxt
    dropout: float = 0.5  # after the recurrence, as the prototxt
    layer: str = "lstm"  # any core layer
    layer_kwargs: dict | None = None
    cnn_channels: tuple[int, ...] | None = None  # the small CNN's widths (None: 32, 64, 128)


class LRCN(nn.Module):
    """LRCN activity recognition (see the module docstring): per-frame logits of a clip.

    Args:
        num_classes: classes C.
        backbone, fc6_dim, fc6_dropout, cnn_channels: the :class:`FrameEncoder`.
        hidden: width of the recurrence (256).
        dropout: dropout on its outputs (0.5).
        layer, layer_kwargs: the recurrence, ``build_layer(layer, d_model=hidden, **layer_kwargs)``.

    Shapes:
        clip ``[B, T, 3, H, W]`` -> logits ``[B, T, C]``, one softmax per timestep; the clip score
        is ``logits.softmax(-1).mean(1)``.
    """

    def __init__(self, config: LRCNConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = FrameEncoder(config.backbone, config.fc6_dim, config.fc6_dropout, config.cnn_channels)
        self.proj = nn.Linear(config.fc6_dim, config.hidden)
        self.layer = build_layer(config.layer, d_model=config.hidden, **(config.layer_kwargs or {}))
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden, config.num_classes)

    def forward(self, clip: Tensor) -> Tensor:
        _check_clip(clip)
        hidden, _ = self.layer(self.proj(_frames(self.encoder, clip)))
        return self.classifier(self.dropout(hidden))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """A clip batch ``[batch_size, 4, 3, 64, 64]`` (the frame CNNs accept other sizes too)."""
        side = 96 if self.config.backbone == "caffenet" else 64
        return (torch.randn(batch_size, 4, 3, side, side),)


class SingleFrame(nn.Module):
    """LRCN's single-frame network, its first stage and its baseline: each frame classified on its own.

    The same :class:`FrameEncoder` as :class:`LRCN`, then a linear classifier. Trained on every frame
    of a clip with its video's label; a clip's (and a video's) score is the mean of its frames'
    softmax, so the order of frames cannot matter.

    Shapes:
        clip ``[B, T, 3, H, W]`` -> logits ``[B, T, C]``.
    """

    def __init__(
        self,
        num_classes: int = 13,
        backbone: str = "small",
        fc6_dim: int = 512,
        fc6_dropout: float = 0.9,
        cnn_channels: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.encoder = FrameEncoder(backbone, fc6_dim, fc6_dropout, cnn_channels)
        self.classifier = nn.Linear(fc6_dim, num_classes)

    def forward(self, clip: Tensor) -> Tensor:
        _check_clip(clip)
        return self.classifier(_frames(self.encoder, clip))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        side = 96 if self.backbone == "caffenet" else 64
        return (torch.randn(batch_size, 4, 3, side, side),)


@register_model("lrcn")
def lrcn(
    num_classes: int = 13,
    backbone: str = "small",
    fc6_dim: int = 512,
    fc6_dropout: float = 0.9,
    hidden: int = 256,
    dropout: float = 0.5,
    layer: str = "lstm",
    layer_kwargs: dict | None = None,
    cnn_channels: tuple[int, ...] | None = None,
) -> LRCN:
    """LRCN for activity recognition (:class:`LRCN`); ``backbone="caffenet", fc6_dim=4096`` is the prototxt's."""
    channels = tuple(cnn_channels) if cnn_channels is not None else None
    return LRCN(LRCNConfig(num_classes, backbone, fc6_dim, fc6_dropout, hidden, dropout, layer, layer_kwargs, channels))


@register_model("lrcn_single_frame")
def lrcn_single_frame(
    num_classes: int = 13,
    backbone: str = "small",
    fc6_dim: int = 512,
    fc6_dropout: float = 0.9,
    cnn_channels: tuple[int, ...] | None = None,
) -> SingleFrame:
    """LRCN's single-frame network (:class:`SingleFrame`): stage one of the recipe and the baseline."""
    channels = tuple(cnn_channels) if cnn_channels is not None else None
    return SingleFrame(num_classes, backbone, fc6_dim, fc6_dropout, channels)
