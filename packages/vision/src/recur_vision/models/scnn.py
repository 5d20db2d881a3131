r"""SCNN lane detection: a dilated VGG16 (or ResNet), a neck, spatial message passing, two heads.

Pan et al., "Spatial As Deep: Spatial CNN for Traffic Scene Understanding", AAAI 2018,
https://arxiv.org/abs/1712.06080. The official Torch code (``XingangPan/SCNN``,
``experiments/models/SCNN-gen.lua``) defines what is followed here:

- **backbone**: VGG16 with batch normalisation, its last two max-pools removed and the conv5 block
  dilated by 2, so the features keep 1/8 of the input resolution (BN, because the official code
  edits module 43 of its ``vgg.t7``: VGG16-BN's 44 feature modules less the two pools, plus the
  head). ResNet-18/34 are options (layer3 and layer4 dilated instead of strided, as torchvision's
  ``replace_stride_with_dilation``);
  ``"vir"`` (:class:`ViRBackbone`) is a retention backbone instead of a CNN (issue 16: ViR, Hatamizadeh et
  al. 2023, as the image branch of lane segmentation): its patch tokens (patch 8) reshaped to the map;
- **neck**: conv 3x3 dilation 4 to 1024 channels, BN, ReLU, conv 1x1 to 128, BN, ReLU
  (128 x 36 x 100 for a 288 x 800 input);
- **SCNN DULR**: four sequential passes over the 128-channel map, down, up, right, left. A pass splits
  the map into slices (rows for down/up, columns for right/left) and updates them in order, each from
  the one it has just updated:

  .. math::
      X'_1 = X_1, \qquad X'_i = X_i + \mathrm{ReLU}(w * X'_{i-1}), \quad i = 2..n

  with :math:`w` a C x C x 9 kernel along the slice (1 x 9 for rows, 9 x 1 for columns), no bias, one
  kernel per direction, initialised :math:`\mathcal{N}(0, \sqrt{2 / (9 \cdot C^2 \cdot 5)})`. Every slice
  but the first of its pass is updated, so the up pass updates row 0 and the left pass column 0
  (lanedet's loops ``range(H - 2, 0, -1)`` skip them; the official code does not);
- **heads**: segmentation Dropout2d(0.1), 1x1 conv to 5 classes (background + 4 lanes), x8 bilinear
  upsampling; existence: softmax over the 5 classes at 1/8 resolution, 2x2 average pool, FC to 128,
  ReLU, FC to 4, sigmoid. The first FC's input size (4500 at 288 x 800) follows from the input size.
  The model returns logits; the loss and the post-processing apply the softmax and the sigmoid;
- **loss**: cross-entropy with class weights [0.4, 1, 1, 1, 1] plus 0.1 x binary cross-entropy of the
  existence (:func:`scnn_loss`);
- **post-processing** (``tools/prob2lines/getLane.m``): a lane is kept if its existence > 0.5; at each
  sampled image row the argmax column of its probability map is a point if the probability > 0.3; a
  lane with fewer than 2 points is dropped (:func:`decode_lanes`).

``message_passing`` chooses the module between the neck and the heads: ``"scnn"`` (DULR),
``"none"`` (the paper's baseline without it) or ``"conv"`` (:class:`ParallelSpatialConv`: the same four
kernels, the same parameter count, applied to the whole map at once, so nothing propagates further
than 4 pixels per kernel: the control that separates message passing from extra parameters).

The DULR passes are vectorised over the batch and the channels (one ``conv1d`` per slice); the order of
the slices stays sequential, as the update rule requires. :func:`dulr_reference` is the same rule
written slice by slice, image by image, tap by tap: the ground truth for the tests and the baseline of
the benchmark.

Deviations, on purpose: the backbone is randomly initialised (no ImageNet weights can be downloaded
here); ``width`` scales VGG16's channels for CPU-sized models (1.0 is the paper's); the registered
builder's defaults are small (the paper's network is ``scnn(width=1.0, neck_channels=1024,
channels=128, input_size=(288, 800))``).

Reads bottom-up: backbones, the message passing modules and their reference, the model, the loss,
the post-processing, the builder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet18, resnet34, vgg

from recur_core.registry import register_model
from recur_vision.models.vir import vir

__all__ = [
    "BACKBONES",
    "MESSAGE_PASSING",
    "SCNN",
    "LaneLoss",
    "ParallelSpatialConv",
    "SCNNConfig",
    "SCNNOutput",
    "SpatialMessagePassing",
    "ViRBackbone",
    "decode_lanes",
    "dulr_reference",
    "lanes_from_probabilities",
    "lanes_to_points",
    "resnet_backbone",
    "scnn",
    "scnn_loss",
    "vgg16_backbone",
]

BACKBONES = ("vgg16_bn", "resnet18", "resnet34", "vir")
MESSAGE_PASSING = ("scnn", "none", "conv")
# the official class weights: background 0.4, each lane 1
CLASS_WEIGHTS = (0.4, 1.0, 1.0, 1.0, 1.0)
# every backbone here keeps 1/8 of the input resolution
STRIDE = 8


# ---------------------------------------------------------------------------------------------
# backbones: images [B, 3, H, W] -> features [B, F, H/8, W/8]


def vgg16_backbone(width: float = 1.0) -> tuple[nn.Sequential, int]:
    """torchvision's VGG16-BN feature layers without pool4 and pool5, with conv5 dilated by 2.

    ``width`` scales every channel count (1.0: 64 ... 512, the paper's). Initialised as torchvision
    initialises VGG (Kaiming normal, fan-out; BN weight 1, bias 0); no weights are downloaded.
    Returns the module and its output channels.
    """
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    config = [c if c == "M" else max(1, round(c * width)) for c in vgg.cfgs["D"]]
    features = vgg.make_layers(config, batch_norm=True)
    pools = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
    conv5 = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d) and i > pools[3]]
    layers = list(features)
    for i in conv5:
        layers[i] = _dilated(layers[i], dilation=2, stride=1)
    layers = [m for i, m in enumerate(layers) if i not in pools[3:]]
    for m in layers:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers), config[-2]


def resnet_backbone(depth: int = 18) -> tuple[nn.Sequential, int]:
    """torchvision's ResNet-18/34 (``weights=None``) to layer4, layers 3 and 4 dilated instead of strided.

    The dilations follow torchvision's ``replace_stride_with_dilation=[False, True, True]``: the first
    block of a layer keeps the previous dilation, the others take 2 (layer3) and 4 (layer4). Returns the
    module and its output channels (512).
    """
    builders = {18: resnet18, 34: resnet34}
    if depth not in builders:
        raise ValueError(f"ResNet depth must be 18 or 34, got {depth}")
    net = builders[depth](weights=None)
    for layer, dilation in ((net.layer3, 2), (net.layer4, 4)):
        for index, block in enumerate(layer):
            first = dilation // 2 if index == 0 else dilation
            block.conv1 = _dilated(block.conv1, first, stride=1)
            block.conv2 = _dilated(block.conv2, first, stride=1)
            if block.downsample is not None:
                block.downsample[0] = _dilated(block.downsample[0], 1, stride=1)
    stem = (net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
    return nn.Sequential(*stem), 512


class ViRBackbone(nn.Module):
    """ViR (:class:`recur_vision.models.vir.ViR`, patch 8, no class token) as a lane backbone: its tokens as a map.

    The patches (raster order, learned positions) are followed by the same patches reversed (ViR's
    ``bidirectional`` mode) and run through causal retention; the token of patch p in the reversed half has
    read every patch (the whole forward half, then the reversed patches up to p), so the map is that half's
    final LayerNorm put back in raster order. A forward pass alone would leave each row blind to the rows
    below it. Retention carries information along the whole sequence, so the lane network built on it has
    no message passing of its own (``message_passing="none"``: SCNN-free lane segmentation).

    Args:
        input_size: ``(H, W)``, multiples of 8: the position table's grid is ``(H/8, W/8)``.
        size: ViR size (:data:`recur_vision.models.vir.SIZES`; ``"mini"`` is width 64, depth 2, 4 heads).

    Shapes:
        images ``[B, 3, H, W]`` -> ``[B, D, H/8, W/8]``.
    """

    def __init__(self, input_size: tuple[int, int], size: str = "mini") -> None:
        super().__init__()
        self.grid = (input_size[0] // STRIDE, input_size[1] // STRIDE)
        self.vir = vir(0, size, STRIDE, tuple(input_size), bidirectional=True, pool="avg")
        self.out_channels = self.vir.config.width

    def forward(self, images: Tensor) -> Tensor:
        patches = self.grid[0] * self.grid[1]
        tokens = self.vir.features(images)[:, patches:].flip(1)
        return tokens.transpose(1, 2).unflatten(2, self.grid)


def _dilated(conv: nn.Conv2d, dilation: int, stride: int) -> nn.Conv2d:
    """A copy of ``conv`` (weights included) with the given dilation and stride, padded to keep the size."""
    padding = tuple(dilation * (k // 2) for k in conv.kernel_size)
    new = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        bias=conv.bias is not None,
    )
    new.load_state_dict(conv.state_dict())
    return new


def _backbone(config: SCNNConfig) -> tuple[nn.Module, int]:
    name, width = config.backbone, config.width
    if name == "vgg16_bn":
        return vgg16_backbone(width)
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)}")
    if width != 1.0:
        raise ValueError(f"width = {width} scales the VGG16 channels only; pass width=1.0 with backbone={name!r}")
    if name == "vir":
        backbone = ViRBackbone(config.input_size, config.vir_size)
        return backbone, backbone.out_channels
    return resnet_backbone(int(name.removeprefix("resnet")))


# ---------------------------------------------------------------------------------------------
# message passing: [B, C, H, W] -> [B, C, H, W]


def _propagate(x: Tensor, weight: Tensor, reverse: bool) -> Tensor:
    """One pass along the rows of ``x`` [B, C, H, W]: X'_i = X_i + ReLU(w * X'_{i-1}), w [C, C, k] along W."""
    rows = list(x.unbind(2))
    if reverse:
        rows.reverse()
    out = [rows[0]]
    for row in rows[1:]:
        out.append(row + F.relu(F.conv1d(out[-1], weight, padding=weight.shape[-1] // 2)))
    if reverse:
        out.reverse()
    return torch.stack(out, 2)


class SpatialMessagePassing(nn.Module):
    r"""SCNN's DULR message passing: sequential passes down, up, right and left (module docstring).

    Args:
        channels: C, the channels of the map (128 in the paper).
        kernel_width: width of each kernel along its slice (9 in the paper; odd).

    Shapes:
        x ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int = 128, kernel_width: int = 9) -> None:
        super().__init__()
        if kernel_width < 1 or kernel_width % 2 == 0:
            raise ValueError(f"kernel_width must be a positive odd number, got {kernel_width}")
        self.channels = channels
        pad = kernel_width // 2
        # down/up convolve along a row (1 x k), right/left along a column (k x 1), as the Torch code
        self.down = nn.Conv2d(channels, channels, (1, kernel_width), padding=(0, pad), bias=False)
        self.up = nn.Conv2d(channels, channels, (1, kernel_width), padding=(0, pad), bias=False)
        self.right = nn.Conv2d(channels, channels, (kernel_width, 1), padding=(pad, 0), bias=False)
        self.left = nn.Conv2d(channels, channels, (kernel_width, 1), padding=(pad, 0), bias=False)
        std = math.sqrt(2.0 / (kernel_width * channels * channels * 5))
        for conv in self.convs():
            nn.init.normal_(conv.weight, 0.0, std)

    def convs(self) -> tuple[nn.Conv2d, nn.Conv2d, nn.Conv2d, nn.Conv2d]:
        """The four kernels in pass order: down, up, right, left."""
        return self.down, self.up, self.right, self.left

    def kernels(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The four kernels as ``[C, C, k]`` along their slice, in pass order (down, up, right, left)."""
        return (
            self.down.weight[:, :, 0],
            self.up.weight[:, :, 0],
            self.right.weight[..., 0],
            self.left.weight[..., 0],
        )

    def forward(self, x: Tensor) -> Tensor:
        _check_map(x, self.channels)
        down, up, right, left = self.kernels()
        x = _propagate(_propagate(x, down, reverse=False), up, reverse=True)
        # columns are the rows of the transposed map
        x = x.transpose(2, 3)
        x = _propagate(_propagate(x, right, reverse=False), left, reverse=True)
        return x.transpose(2, 3)


class ParallelSpatialConv(nn.Module):
    r"""The ``"conv"`` baseline: SCNN's four kernels applied to the whole map at once.

    .. math:: X \leftarrow X + \mathrm{ReLU}(w_d * X), \text{ then } w_u, w_r, w_l

    The same kernel shapes (1 x k twice, k x 1 twice) and parameter count as
    :class:`SpatialMessagePassing`, and the same residual ReLU, but every slice reads the previous
    *input* rather than its updated neighbour, so information moves at most k/2 pixels per kernel.

    Shapes:
        x ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int = 128, kernel_width: int = 9) -> None:
        super().__init__()
        self.channels = channels
        # SCNN's four kernels with their initialisation, in pass order
        self.convs = nn.ModuleList(SpatialMessagePassing(channels, kernel_width).convs())

    def forward(self, x: Tensor) -> Tensor:
        _check_map(x, self.channels)
        for conv in self.convs:
            x = x + F.relu(conv(x))
        return x


def dulr_reference(x: Tensor, down: Tensor, up: Tensor, right: Tensor, left: Tensor) -> Tensor:
    """DULR message passing written out: image by image, slice by slice, kernel tap by tap.

    The ground truth of :class:`SpatialMessagePassing` (same rule, no batched convolution) and the
    unvectorised baseline of its benchmark. Kernels are ``[C, C, k]`` along their slice.

    Shapes:
        x ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """
    images = []
    for image in x.unbind(0):
        image = _reference_pass(_reference_pass(image, down, reverse=False), up, reverse=True)
        image = _reference_pass(_reference_pass(image.transpose(1, 2), right, False), left, True)
        images.append(image.transpose(1, 2))
    return torch.stack(images)


def _reference_pass(image: Tensor, weight: Tensor, reverse: bool) -> Tensor:
    height, width = image.shape[1:]
    taps = weight.shape[-1]
    order = range(height - 1, -1, -1) if reverse else range(height)
    updated: dict[int, Tensor] = {}
    previous = None
    for i in order:
        if previous is None:
            updated[i] = image[:, i]
        else:
            padded = F.pad(updated[previous], (taps // 2, taps // 2))
            message = sum(weight[:, :, t] @ padded[:, t : t + width] for t in range(taps))
            updated[i] = image[:, i] + torch.clamp(message, min=0)
        previous = i
    return torch.stack([updated[i] for i in range(height)], 1)


def _check_map(x: Tensor, channels: int) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != channels:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"message passing expects a feature map [B, {channels}, H, W], got {shape}")


# ---------------------------------------------------------------------------------------------
# the model


@dataclass
class SCNNConfig:
    """SCNN's options; the defaults are the paper's network (VGG16-BN, 288 x 800 inputs)."""

    num_lanes: int = 4  # lane classes besides background, and existence outputs
    backbone: str = "vgg16_bn"  # or "resnet18", "resnet34", "vir"
    width: float = 1.0  # multiplier of VGG16's channels (VGG only)
    neck_channels: int = 1024  # the dilated 3x3 conv of the neck
    channels: int = 128  # the map that message passing and the heads see
    message_passing: str = "scnn"  # "scnn" (DULR), "none" or "conv" (the baselines)
    kernel_width: int = 9  # SCNN's kernel width along a slice
    input_size: tuple[int, int] = (288, 800)  # (H, W): fixes the existence head's first FC
    dropout: float = 0.1  # Dropout2d before the segmentation classifier
    existence_hidden: int = 128  # the existence head's hidden FC
    vir_size: str = "mini"  # the ViR size with backbone="vir"


class SCNNOutput(NamedTuple):
    """SCNN's outputs, both logits: softmax over ``segmentation``'s classes, sigmoid of ``existence``.

    Shapes:
        segmentation ``[B, num_lanes + 1, H, W]`` (class 0 = background); existence ``[B, num_lanes]``.
    """

    segmentation: Tensor
    existence: Tensor


class SCNN(nn.Module):
    """SCNN (module docstring): backbone, neck, message passing, segmentation and existence heads.

    Shapes:
        images ``[B, 3, H, W]`` with ``(H, W) = input_size`` (multiples of 8) -> :class:`SCNNOutput`.
    """

    def __init__(self, config: SCNNConfig) -> None:
        super().__init__()
        height, width = config.input_size
        if height % STRIDE or width % STRIDE or height < 2 * STRIDE or width < 2 * STRIDE:
            raise ValueError(f"input_size {config.input_size} must be multiples of 8, each at least 16")
        if config.message_passing not in MESSAGE_PASSING:
            raise ValueError(f"unknown message_passing {config.message_passing!r}; valid: {', '.join(MESSAGE_PASSING)}")
        if config.num_lanes < 1:
            raise ValueError(f"num_lanes must be at least 1, got {config.num_lanes}")
        self.config = config
        self.backbone, features = _backbone(config)
        self.neck = nn.Sequential(
            nn.Conv2d(features, config.neck_channels, 3, padding=4, dilation=4, bias=False),
            nn.BatchNorm2d(config.neck_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(config.neck_channels, config.channels, 1, bias=False),
            nn.BatchNorm2d(config.channels),
            nn.ReLU(inplace=True),
        )
        if config.message_passing == "scnn":
            self.message_passing = SpatialMessagePassing(config.channels, config.kernel_width)
        elif config.message_passing == "conv":
            self.message_passing = ParallelSpatialConv(config.channels, config.kernel_width)
        else:
            self.message_passing = nn.Identity()
        classes = config.num_lanes + 1
        self.classifier = nn.Sequential(nn.Dropout2d(config.dropout), nn.Conv2d(config.channels, classes, 1))
        pooled = classes * (height // STRIDE // 2) * (width // STRIDE // 2)
        self.existence = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pooled, config.existence_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.existence_hidden, config.num_lanes),
        )

    def forward(self, images: Tensor) -> SCNNOutput:
        self._check_images(images)
        features = self.message_passing(self.neck(self.backbone(images)))
        logits = self.classifier(features)
        existence = self.existence(F.avg_pool2d(logits.softmax(1), 2))
        segmentation = F.interpolate(logits, scale_factor=STRIDE, mode="bilinear", align_corners=True)
        return SCNNOutput(segmentation, existence)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Images ``[batch_size, 3, *input_size]``."""
        return (torch.randn(batch_size, 3, *self.config.input_size),)

    def _check_images(self, images: Tensor) -> None:
        expected = (3, *self.config.input_size)
        if not isinstance(images, Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != expected:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(
                f"SCNN expects images [B, {', '.join(map(str, expected))}], got {shape}; "
                f"resize them or build the model with input_size=(H, W)"
            )


# ---------------------------------------------------------------------------------------------
# loss


class LaneLoss(NamedTuple):
    """The total loss and its two terms (the existence term before its 0.1 weight)."""

    total: Tensor
    segmentation: Tensor
    existence: Tensor


def scnn_loss(
    output: SCNNOutput,
    masks: Tensor,
    existence: Tensor,
    class_weights: Sequence[float] | None = CLASS_WEIGHTS,
    existence_weight: float = 0.1,
    ignore_index: int = 255,
) -> LaneLoss:
    """SCNN's loss: weighted cross-entropy of the segmentation + ``existence_weight`` x BCE of the existence.

    Args:
        output: the model's :class:`SCNNOutput` (logits).
        masks: lane ids ``[B, H, W]`` (0 = background, 1..num_lanes; ``ignore_index`` is skipped).
        existence: ``[B, num_lanes]``, 1 where the lane is present.
        class_weights: cross-entropy weights per class ([0.4, 1, 1, 1, 1]; ``None`` = equal).
        existence_weight: weight of the existence term (0.1).
        ignore_index: mask value the cross-entropy skips.
    """
    classes = output.segmentation.shape[1]
    if masks.shape != (output.segmentation.shape[0], *output.segmentation.shape[2:]):
        raise ValueError(
            f"masks must be [B, H, W] = {[output.segmentation.shape[0], *output.segmentation.shape[2:]]}, "
            f"got {list(masks.shape)}"
        )
    if existence.shape != output.existence.shape:
        raise ValueError(f"existence must be [B, lanes] = {list(output.existence.shape)}, got {list(existence.shape)}")
    weight = None
    if class_weights is not None:
        if len(class_weights) != classes:
            raise ValueError(f"class_weights has {len(class_weights)} entries for {classes} classes")
        weight = torch.tensor(class_weights, dtype=output.segmentation.dtype, device=output.segmentation.device)
    segmentation = F.cross_entropy(output.segmentation, masks.long(), weight=weight, ignore_index=ignore_index)
    exist = F.binary_cross_entropy_with_logits(output.existence, existence.to(output.existence.dtype))
    return LaneLoss(segmentation + existence_weight * exist, segmentation, exist)


# ---------------------------------------------------------------------------------------------
# post-processing


def lanes_from_probabilities(
    probabilities: Tensor,
    existence: Tensor,
    rows: Sequence[int],
    image_size: tuple[int, int],
    crop_top: int = 0,
    prob_threshold: float = 0.3,
    exist_threshold: float = 0.5,
    min_points: int = 2,
    zero_based: bool = False,
) -> list[list[int]]:
    """One image's lanes from its lane probability maps, as the official ``getLane.m``.

    A lane is kept if its existence > ``exist_threshold``. Each image row y in ``rows`` is read from
    map row ``round((y - crop_top) * h / (H - crop_top)) - 1`` (the official 1-based rounding, made
    0-based; clamped to the map); the argmax column c is a point if its probability >
    ``prob_threshold``, at image x = ``round((c + 1) * W / w) - 1`` (getLane's
    ``uint16(id * W / w) - 1`` with its 1-based column ``id = c + 1``; halves round up as MATLAB's). A
    lane with fewer than ``min_points`` points is dropped. The rows are returned as given: getLane writes
    CULane's points at ``y - 1`` (:func:`lanes_to_points` with ``row_offset=-1``).

    ``zero_based=True`` is for 0-based rows such as TuSimple's ``h_samples``: map row
    ``floor((y - crop_top) * h / (H - crop_top))`` and x = ``floor(c * W / w)``, as the SCNN PyTorch
    port's ``getLane_tusimple`` (harryhan618/SCNN_Pytorch). getLane's formula read on 0-based rows lands
    one map row above the row's pixels whenever h / H is well below 1 (at 72 / 288, 4 image rows up).

    Args:
        probabilities: ``[num_lanes + 1, h, w]`` softmax of the segmentation (class 0 = background), at
            any resolution of the network input.
        existence: ``[num_lanes]`` probabilities.
        rows: image rows to sample (TuSimple's ``h_samples``; CULane's 590 - 20 i, i = 0..17).
        image_size: ``(H, W)`` of the original image (720 x 1280 TuSimple, 590 x 1640 CULane).
        crop_top: rows cut off the top of the image before it was resized to the network input.

    Returns:
        one list per kept lane (in lane-id order): x at each of ``rows``, -2 where there is no point
        (TuSimple's ``lanes`` form; :func:`lanes_to_points` gives CULane's).
    """
    if probabilities.dim() != 3 or existence.shape != (probabilities.shape[0] - 1,):
        raise ValueError(
            f"expected probabilities [lanes + 1, h, w] and existence [lanes], got "
            f"{list(probabilities.shape)} and {list(existence.shape)}"
        )
    height, width = image_size
    if not 0 <= crop_top < height:
        raise ValueError(f"crop_top must lie in 0..{height - 1} (the image height), got {crop_top}")
    map_height, map_width = probabilities.shape[1:]
    rows = [int(y) for y in rows]
    scale = map_height / (height - crop_top)
    if zero_based:
        nearest = [math.floor((y - crop_top) * scale) for y in rows]
    else:
        nearest = [math.floor((y - crop_top) * scale + 0.5) - 1 for y in rows]
    map_rows = torch.tensor([min(max(r, 0), map_height - 1) for r in nearest], dtype=torch.long)
    values, columns = probabilities[1:, map_rows].detach().float().max(-1)
    if zero_based:
        xs = torch.floor(columns.double() * width / map_width).long()
    else:
        xs = torch.floor((columns.double() + 1) * width / map_width + 0.5).long() - 1
    found = (values > prob_threshold) & torch.tensor([y >= crop_top for y in rows], dtype=torch.bool)
    lanes = []
    for lane in range(existence.shape[0]):
        if existence[lane] > exist_threshold and int(found[lane].sum()) >= min_points:
            lanes.append(torch.where(found[lane], xs[lane], -2).tolist())
    return lanes


def lanes_to_points(lanes: list[list[int]], rows: Sequence[int], row_offset: int = 0) -> list[list[tuple[int, int]]]:
    """TuSimple-form lanes (x per row, -2 = none) to CULane point lists ``[(x, y + row_offset), ...]`` per lane.

    The official CULane output (``getLane.m``) samples rows ``590 - 20 i`` and writes them as ``y - 1``:
    ``row_offset=-1``.
    """
    points = []
    for lane in lanes:
        if len(lane) != len(rows):
            raise ValueError(f"a lane has {len(lane)} x values for {len(rows)} rows")
        points.append([(x, int(y) + row_offset) for x, y in zip(lane, rows) if x >= 0])
    return points


def decode_lanes(
    output: SCNNOutput,
    rows: Sequence[int],
    image_size: tuple[int, int],
    crop_top: int = 0,
    prob_threshold: float = 0.3,
    exist_threshold: float = 0.5,
    min_points: int = 2,
    zero_based: bool = False,
) -> list[list[list[int]]]:
    """:func:`lanes_from_probabilities` for every image of a batch of model outputs (logits)."""
    probabilities = output.segmentation.detach().softmax(1)
    existence = output.existence.detach().sigmoid()
    return [
        lanes_from_probabilities(
            p, e, rows, image_size, crop_top, prob_threshold, exist_threshold, min_points, zero_based
        )
        for p, e in zip(probabilities, existence)
    ]


# ---------------------------------------------------------------------------------------------
# builder


@register_model("scnn")
def scnn(
    num_lanes: int = 4,
    backbone: str = "vgg16_bn",
    width: float = 0.125,
    neck_channels: int = 128,
    channels: int = 32,
    message_passing: str = "scnn",
    kernel_width: int = 9,
    input_size: tuple[int, int] = (64, 160),
    dropout: float = 0.1,
    existence_hidden: int = 128,
    vir_size: str = "mini",
) -> SCNN:
    """SCNN (:class:`SCNN`), small by default for CPUs.

    The paper's network is ``scnn(width=1.0, neck_channels=1024, channels=128, input_size=(288, 800))``;
    ``message_passing="none"`` / ``"conv"`` are its baselines; ResNet and ViR backbones need ``width=1.0``;
    ``backbone="vir", width=1.0, message_passing="none"`` is the SCNN-free lane network on a ViR of ``vir_size``.
    """
    return SCNN(
        SCNNConfig(
            num_lanes,
            backbone,
            width,
            neck_channels,
            channels,
            message_passing,
            kernel_width,
            tuple(input_size),
            dropout,
            existence_hidden,
            vir_size,
        )
    )
