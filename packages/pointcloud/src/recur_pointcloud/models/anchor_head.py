"""SECOND's single anchor head (Yan et al., Sensors 2018) as OpenPCDet's ``AnchorHeadSingle``.

It is the dense head of LION's KITTI model (``second_with_lion_*_64dim.yaml``).

Every cell of the bird's-eye-view (BEV) feature map carries, per class, one anchor box of the class's
mean size at the class's ground height, in two headings (0 and 1.57 rad). Three 1x1 convolutions
predict, per anchor, the class logits, a residual box code and a 2-bin direction logit.

- **Anchors** (``AnchorGenerator``, ``align_center=False``): the centres run over the point range's
  x and y in ``F - 1`` equal steps (``F`` feature cells along the axis), the bottom at the class's
  ``anchor_bottom_height``, the z centre half the height above.
- **Box coder** (``ResidualCoder``): with the anchor's BEV diagonal ``d = sqrt(dx_a^2 + dy_a^2)``,

  .. math::

     t_x = (x_g - x_a) / d, \\; t_y = (y_g - y_a) / d, \\; t_z = (z_g - z_a) / dz_a, \\;
     t_{dx} = \\log(dx_g / dx_a), \\; \\ldots, \\; t_\\theta = \\theta_g - \\theta_a.

- **Targets** (``AxisAlignedTargetAssigner``, ``MATCH_HEIGHT: False``): per class, the anchors of that
  class against the ground truths of that class by the IoU of their nearest axis-aligned BEV boxes
  (a box turned by more than 45 degrees swaps length and width). An anchor is positive when its best
  IoU reaches the class's matched threshold, or when it is a ground truth's best anchor; negative
  below the unmatched threshold; ignored in between.
- **Loss**: sigmoid focal loss (alpha 0.25, gamma 2) on the classes (background: all zeros),
  smooth-L1 (beta 1/9) on the box code with the angle term as ``sin(a - b)`` split into
  ``sin(a) cos(b)`` and ``cos(a) sin(b)`` (``add_sin_difference``), and cross-entropy on the direction
  bin of ``limit_period(theta_g - 0.78539, 0, 2 pi)`` (2 bins); each normalised by the sample's
  positives and averaged over the batch, weighted 1 / 2 / 0.2.
- **Decoding**: the box code decoded on its anchor, the heading put into the predicted direction bin
  (``theta = limit_period(theta - offset, 0, pi) + offset + pi * bin``), score = the best class's
  sigmoid; class-agnostic NMS on the rotated BEV IoU (score > 0.1, 4096 boxes before NMS, IoU 0.01, 500 after).

Shapes: BEV features ``[B, C, Y, X]``; per anchor (``A`` per cell = classes x headings, anchors
ordered by y, x, class, heading): ``cls [B, Y, X, A * K]``, ``box [B, Y, X, A * 7]``,
``dir [B, Y, X, A * 2]``; boxes are LiDAR ``(x, y, z, dx, dy, dz, heading)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import box_iou, sigmoid_focal_loss

from recur_pointcloud.boxes import rotated_intersection_area

__all__ = [
    "KITTI_ANCHORS",
    "AnchorClass",
    "AnchorHead",
    "assign_targets",
    "decode_boxes",
    "encode_boxes",
    "generate_anchors",
    "limit_period",
    "nearest_bev_boxes",
    "rotated_nms",
]


@dataclass(frozen=True)
class AnchorClass:
    """One class's anchors and its assignment thresholds (an entry of ``ANCHOR_GENERATOR_CONFIG``)."""

    name: str
    size: tuple[float, float, float]  # dx (length), dy (width), dz (height)
    bottom_height: float
    matched_threshold: float
    unmatched_threshold: float


# OpenPCDet / LION's KITTI configuration
KITTI_ANCHORS = (
    AnchorClass("Car", (3.9, 1.6, 1.56), -1.78, 0.6, 0.45),
    AnchorClass("Pedestrian", (0.8, 0.6, 1.73), -0.6, 0.5, 0.35),
    AnchorClass("Cyclist", (1.76, 0.6, 1.73), -0.6, 0.5, 0.35),
)
ROTATIONS = (0.0, 1.57)


def limit_period(value: Tensor, offset: float = 0.5, period: float = math.pi) -> Tensor:
    """``value`` moved by whole periods into ``[-offset * period, (1 - offset) * period)``."""
    return value - torch.floor(value / period + offset) * period


def generate_anchors(
    point_range: Sequence[float],
    feature_size: tuple[int, int],
    classes: Sequence[AnchorClass] = KITTI_ANCHORS,
    rotations: Sequence[float] = ROTATIONS,
) -> Tensor:
    """Anchors ``[Y, X, len(classes), len(rotations), 7]`` over a BEV map of ``feature_size`` = (X, Y) cells."""
    nx, ny = feature_size
    xs = torch.linspace(point_range[0], point_range[3], nx) if nx > 1 else torch.tensor([float(point_range[0])])
    ys = torch.linspace(point_range[1], point_range[4], ny) if ny > 1 else torch.tensor([float(point_range[1])])
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    size = torch.tensor([c.size for c in classes])
    z = torch.tensor([c.bottom_height for c in classes]) + size[:, 2] / 2
    shape = (ny, nx, len(classes), len(rotations))
    return torch.stack(
        [
            x[:, :, None, None].expand(shape),
            y[:, :, None, None].expand(shape),
            z[None, None, :, None].expand(shape),
            size[None, None, :, None, 0].expand(shape),
            size[None, None, :, None, 1].expand(shape),
            size[None, None, :, None, 2].expand(shape),
            torch.tensor(rotations)[None, None, None, :].expand(shape),
        ],
        dim=-1,
    )


def encode_boxes(boxes: Tensor, anchors: Tensor) -> Tensor:
    """The residual code ``[..., 7]`` of ``boxes`` on ``anchors`` (both ``[..., 7]``)."""
    xa, ya, za, dxa, dya, dza, ra = anchors.unbind(-1)
    xg, yg, zg, dxg, dyg, dzg, rg = boxes.unbind(-1)
    dxa, dya, dza = dxa.clamp_min(1e-5), dya.clamp_min(1e-5), dza.clamp_min(1e-5)
    dxg, dyg, dzg = dxg.clamp_min(1e-5), dyg.clamp_min(1e-5), dzg.clamp_min(1e-5)
    diagonal = torch.sqrt(dxa**2 + dya**2)
    return torch.stack(
        [
            (xg - xa) / diagonal,
            (yg - ya) / diagonal,
            (zg - za) / dza,
            torch.log(dxg / dxa),
            torch.log(dyg / dya),
            torch.log(dzg / dza),
            rg - ra,
        ],
        dim=-1,
    )


def decode_boxes(codes: Tensor, anchors: Tensor) -> Tensor:
    """Boxes ``[..., 7]`` from residual ``codes`` on ``anchors`` (the inverse of :func:`encode_boxes`)."""
    xa, ya, za, dxa, dya, dza, ra = anchors.unbind(-1)
    xt, yt, zt, dxt, dyt, dzt, rt = codes.unbind(-1)
    diagonal = torch.sqrt(dxa**2 + dya**2)
    return torch.stack(
        [
            xt * diagonal + xa,
            yt * diagonal + ya,
            zt * dza + za,
            torch.exp(dxt) * dxa,
            torch.exp(dyt) * dya,
            torch.exp(dzt) * dza,
            rt + ra,
        ],
        dim=-1,
    )


def nearest_bev_boxes(boxes: Tensor) -> Tensor:
    """The axis-aligned BEV rectangles ``[N, 4]`` (x1, y1, x2, y2) nearest to LiDAR ``boxes [N, 7]``.

    A heading within 45 degrees of the y axis swaps the box's length and width (``boxes3d_nearest_bev_iou``).
    """
    turned = limit_period(boxes[:, 6], 0.5, math.pi).abs() >= math.pi / 4
    dims = torch.where(turned[:, None], boxes[:, [4, 3]], boxes[:, [3, 4]])
    return torch.cat([boxes[:, :2] - dims / 2, boxes[:, :2] + dims / 2], dim=1)


def assign_targets(
    anchors: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    classes: Sequence[AnchorClass] = KITTI_ANCHORS,
) -> tuple[Tensor, Tensor]:
    """Anchor labels and box codes for one sample (OpenPCDet's ``AxisAlignedTargetAssigner``).

    Args:
        anchors: ``[Y, X, K, R, 7]`` from :func:`generate_anchors` (``K`` classes).
        gt_boxes: ``[M, 7]`` ground-truth LiDAR boxes.
        gt_labels: ``[M]`` their class indices (0-based, into ``classes``).
        classes: the anchor classes with their matched / unmatched IoU thresholds.

    Returns:
        ``labels [Y * X * K * R]`` (1 + class for a positive, 0 background, -1 ignored) and
        ``box_targets [Y * X * K * R, 7]`` (the code of the matched box; zero elsewhere), in the anchors' order.
    """
    ny, nx, n_classes, n_rot, _ = anchors.shape
    labels = torch.full((ny, nx, n_classes, n_rot), -1, dtype=torch.long, device=anchors.device)
    targets = torch.zeros(ny, nx, n_classes, n_rot, 7, dtype=anchors.dtype, device=anchors.device)
    for k, anchor_class in enumerate(classes):
        class_anchors = anchors[:, :, k].reshape(-1, 7)
        class_labels = torch.full((len(class_anchors),), -1, dtype=torch.long, device=anchors.device)
        boxes = gt_boxes[gt_labels == k]
        if len(boxes) == 0:
            labels[:, :, k] = 0
            continue
        overlap = box_iou(nearest_bev_boxes(class_anchors), nearest_bev_boxes(boxes))
        best_value, best_gt = overlap.max(dim=1)
        gt_best = overlap.max(dim=0).values
        # a ground truth that meets no anchor forces none
        gt_best = torch.where(gt_best == 0, torch.full_like(gt_best, -1), gt_best)
        forced = (overlap == gt_best[None, :]).any(dim=1)
        positive = forced | (best_value >= anchor_class.matched_threshold)
        class_labels[positive] = k + 1
        class_targets = torch.zeros_like(class_anchors)
        class_targets[positive] = encode_boxes(boxes[best_gt[positive]], class_anchors[positive])
        class_labels[(best_value < anchor_class.unmatched_threshold) & ~forced] = 0
        labels[:, :, k] = class_labels.view(ny, nx, n_rot)
        targets[:, :, k] = class_targets.view(ny, nx, n_rot, 7)
    return labels.view(-1), targets.view(-1, 7)


def rotated_nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS on the rotated BEV IoU of LiDAR ``boxes [N, 7]``: the kept indices, best score first.

    A box is dropped when its BEV IoU with a kept, higher-scoring box exceeds ``iou_threshold``
    (OpenPCDet's ``nms_gpu``). Rotated overlaps are computed only for pairs whose enclosing
    axis-aligned rectangles meet; the greedy pass then walks the score order once.
    """
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    n = len(boxes)
    if n == 0:
        return order
    bev = boxes[:, [0, 1, 3, 4, 6]]
    # the enclosing axis-aligned rectangle of a rotated box: half-extents |l cos| + |w sin| etc.
    cos, sin = bev[:, 4].cos().abs(), bev[:, 4].sin().abs()
    half = torch.stack([bev[:, 2] * cos + bev[:, 3] * sin, bev[:, 2] * sin + bev[:, 3] * cos], dim=1) / 2
    enclosing = torch.cat([bev[:, :2] - half, bev[:, :2] + half], dim=1)
    meets = torch.triu(box_iou(enclosing, enclosing) > 0, diagonal=1)
    first, second = meets.nonzero(as_tuple=True)
    overlapping = np.zeros((n, n), dtype=bool)
    if len(first):
        a, b = bev[first], bev[second]
        inter = rotated_intersection_area(a, b)
        iou = inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter).clamp_min(1e-12)
        hit = (iou > iou_threshold).cpu().numpy()
        overlapping[first.cpu().numpy()[hit], second.cpu().numpy()[hit]] = True
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    for i in range(n):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlapping[i]
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


class AnchorHead(nn.Module):
    """SECOND's anchor head (OpenPCDet ``AnchorHeadSingle`` with ``AnchorHeadTemplate``'s loss and decoding).

    Args:
        in_channels: channels of the BEV features.
        point_range: (x0, y0, z0, x1, y1, z1) the anchors span.
        feature_size: (X, Y) cells of the BEV map.
        classes: the anchor classes (default: KITTI's Car, Pedestrian, Cyclist).
        rotations: anchor headings.
        dir_offset, num_dir_bins: the direction classifier's offset and bins (0.78539, 2).
        focal_alpha, focal_gamma: the classification loss (0.25, 2).
        loss_weights: (classification, box, direction) = (1, 2, 0.2).
        score_threshold, nms_pre_max, nms_threshold, nms_post_max: post-processing (0.1, 4096, 0.01, 500).
    """

    def __init__(
        self,
        in_channels: int,
        point_range: Sequence[float],
        feature_size: tuple[int, int],
        classes: Sequence[AnchorClass] = KITTI_ANCHORS,
        rotations: Sequence[float] = ROTATIONS,
        dir_offset: float = 0.78539,
        num_dir_bins: int = 2,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        loss_weights: tuple[float, float, float] = (1.0, 2.0, 0.2),
        score_threshold: float = 0.1,
        nms_pre_max: int = 4096,
        nms_threshold: float = 0.01,
        nms_post_max: int = 500,
    ) -> None:
        super().__init__()
        self.classes = tuple(classes)
        self.num_classes = len(self.classes)
        self.dir_offset, self.num_dir_bins = dir_offset, num_dir_bins
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        self.loss_weights = tuple(loss_weights)
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        self.nms_pre_max, self.nms_post_max = nms_pre_max, nms_post_max
        self.register_buffer(
            "anchors", generate_anchors(point_range, feature_size, classes, rotations), persistent=False
        )
        anchors_per_cell = self.num_classes * len(rotations)
        self.anchors_per_cell = anchors_per_cell
        self.conv_cls = nn.Conv2d(in_channels, anchors_per_cell * self.num_classes, 1)
        self.conv_box = nn.Conv2d(in_channels, anchors_per_cell * 7, 1)
        self.conv_dir = nn.Conv2d(in_channels, anchors_per_cell * num_dir_bins, 1)
        # OpenPCDet's init: a 1% prior on every class, tiny box codes
        nn.init.constant_(self.conv_cls.bias, -math.log((1 - 0.01) / 0.01))
        nn.init.normal_(self.conv_box.weight, mean=0.0, std=0.001)

    def forward(self, bev: Tensor) -> dict[str, Tensor]:
        """Per-anchor ``cls``, ``box``, ``dir`` (``[B, Y, X, A * .]``) from BEV features ``[B, C, Y, X]``.

        The three 1x1 convolutions run as one matrix product on the channels-last map (the same weights and
        outputs): at batch < 16 on one CPU thread PyTorch sends a 1x1 convolution to its slow path
        (``_slow_conv2d``), whose backward zero-fills and fills a gradient of the whole map.
        """
        convs = (self.conv_cls, self.conv_box, self.conv_dir)
        weight = torch.cat([conv.weight.flatten(1) for conv in convs])
        bias = torch.cat([conv.bias for conv in convs])
        out = F.linear(bev.permute(0, 2, 3, 1), weight, bias)
        cls, box, direction = out.split([conv.out_channels for conv in convs], dim=-1)
        return {"cls": cls, "box": box, "dir": direction}

    def targets(self, gt_boxes: Sequence[Tensor], gt_labels: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Labels ``[B, A_total]`` and box codes ``[B, A_total, 7]`` of a batch (:func:`assign_targets` per sample)."""
        pairs = [assign_targets(self.anchors, b, lab, self.classes) for b, lab in zip(gt_boxes, gt_labels)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def loss(
        self, preds: dict[str, Tensor], gt_boxes: Sequence[Tensor], gt_labels: Sequence[Tensor]
    ) -> dict[str, Tensor]:
        """``cls``, ``box``, ``dir`` and weighted ``total`` losses for a batch with ground truths per sample."""
        batch = preds["cls"].shape[0]
        labels, box_targets = self.targets(gt_boxes, gt_labels)
        positives = labels > 0
        normaliser = positives.sum(dim=1, keepdim=True).clamp_min(1).to(box_targets.dtype)
        # classification: cared-about anchors (not ignored), one-hot without the background column
        cls_weights = (labels >= 0).to(box_targets.dtype) / normaliser
        one_hot = F.one_hot(labels.clamp_min(0), self.num_classes + 1)[..., 1:].to(box_targets.dtype)
        logits = preds["cls"].reshape(batch, -1, self.num_classes)
        focal = sigmoid_focal_loss(logits, one_hot, alpha=self.focal_alpha, gamma=self.focal_gamma, reduction="none")
        cls_loss = (focal * cls_weights[..., None]).sum() / batch
        # box and direction losses weigh the positive anchors only: computed on those alone
        sample, anchor = positives.nonzero(as_tuple=True)
        box_weights = (1 / normaliser[:, 0])[sample]
        box_targets = box_targets[sample, anchor]
        # box: smooth-L1 on the codes with the angle as sin(a - b)
        codes = preds["box"].reshape(batch, -1, 7)[sample, anchor]
        pred_angle, target_angle = codes[:, 6:7], box_targets[:, 6:7]
        codes = torch.cat([codes[:, :6], torch.sin(pred_angle) * torch.cos(target_angle)], dim=-1)
        targets = torch.cat([box_targets[:, :6], torch.cos(pred_angle) * torch.sin(target_angle)], dim=-1)
        smooth = F.smooth_l1_loss(codes, targets, beta=1 / 9, reduction="none")
        box_loss = (smooth * box_weights[:, None]).sum() / batch
        # direction: the bin of the target heading
        heading = box_targets[:, 6] + self.anchors.reshape(-1, 7)[anchor, 6]
        period = 2 * math.pi / self.num_dir_bins
        bins = torch.floor(limit_period(heading - self.dir_offset, 0, 2 * math.pi) / period).long()
        bins = bins.clamp(0, self.num_dir_bins - 1)
        dir_logits = preds["dir"].reshape(batch, -1, self.num_dir_bins)[sample, anchor]
        ce = F.cross_entropy(dir_logits, bins, reduction="none")
        dir_loss = (ce * box_weights).sum() / batch
        w_cls, w_box, w_dir = self.loss_weights
        total = w_cls * cls_loss + w_box * box_loss + w_dir * dir_loss
        return {"cls": cls_loss, "box": box_loss, "dir": dir_loss, "total": total}

    def decode(self, preds: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Boxes ``[B, A_total, 7]`` (heading in the predicted direction bin) and class logits ``[B, A_total, K]``."""
        batch = preds["cls"].shape[0]
        anchors = self.anchors.reshape(1, -1, 7)
        boxes = decode_boxes(preds["box"].reshape(batch, -1, 7), anchors)
        direction = preds["dir"].reshape(batch, -1, self.num_dir_bins).argmax(dim=-1)
        period = 2 * math.pi / self.num_dir_bins
        heading = limit_period(boxes[..., 6] - self.dir_offset, 0.0, period)
        boxes = torch.cat([boxes[..., :6], (heading + self.dir_offset + period * direction)[..., None]], dim=-1)
        return boxes, preds["cls"].reshape(batch, -1, self.num_classes)

    @torch.no_grad()
    def detect(self, preds: dict[str, Tensor]) -> list[dict[str, Tensor]]:
        """Per sample, the detections after class-agnostic rotated NMS: ``boxes [D, 7]``, ``scores``, ``labels [D]``."""
        boxes, logits = self.decode(preds)
        scores, labels = logits.sigmoid().max(dim=-1)
        detections = []
        for sample_boxes, sample_scores, sample_labels in zip(boxes, scores, labels):
            kept = (sample_scores >= self.score_threshold).nonzero(as_tuple=True)[0]
            kept = kept[sample_scores[kept].argsort(descending=True)[: self.nms_pre_max]]
            chosen = kept[rotated_nms(sample_boxes[kept], sample_scores[kept], self.nms_threshold)][: self.nms_post_max]
            detections.append(
                {"boxes": sample_boxes[chosen], "scores": sample_scores[chosen], "labels": sample_labels[chosen]}
            )
        return detections
