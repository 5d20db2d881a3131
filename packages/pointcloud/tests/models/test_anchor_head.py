"""SECOND's anchor head: anchors, the residual coder, target assignment, decoding, rotated NMS on hand-built boxes."""

import math

import torch

from recur_pointcloud.models.anchor_head import (
    AnchorHead,
    assign_targets,
    decode_boxes,
    encode_boxes,
    generate_anchors,
    rotated_nms,
)

# anchors every metre over x 0..8, y -4..4
RANGE = (0.0, -4.0, -3.0, 8.0, 4.0, 1.0)
FEATURES = (9, 9)


def _index(x: int, y: int, cls: int, rot: int) -> int:
    """The flat anchor index of the cell at (x, y) metres (feature map [Y, X, class, rotation])."""
    return ((y + 4) * FEATURES[0] + x) * 6 + cls * 2 + rot


def test_anchors_sit_on_the_grid_at_their_class_height():
    anchors = generate_anchors(RANGE, FEATURES)
    assert anchors.shape == (9, 9, 3, 2, 7)
    car = anchors[4, 3, 0, 1]  # y = 0, x = 3, Car, 1.57
    torch.testing.assert_close(car, torch.tensor([3.0, 0.0, -1.78 + 0.78, 3.9, 1.6, 1.56, 1.57]))
    torch.testing.assert_close(anchors[0, 0, 2, 0, :3], torch.tensor([0.0, -4.0, -0.6 + 1.73 / 2]))


def test_the_residual_coder_round_trips_exactly():
    generator = torch.Generator().manual_seed(0)
    anchors = generate_anchors(RANGE, FEATURES).reshape(-1, 7).double()
    boxes = anchors + torch.randn(anchors.shape, generator=generator, dtype=torch.float64) * 0.3
    boxes[:, 3:6] = boxes[:, 3:6].abs() + 0.1
    torch.testing.assert_close(decode_boxes(encode_boxes(boxes, anchors), anchors), boxes, rtol=0, atol=1e-12)
    # the code of an anchor on itself is zero
    assert encode_boxes(anchors, anchors).abs().max() == 0


def test_assignment_thresholds_and_the_forced_best_anchor():
    anchors = generate_anchors(RANGE, FEATURES)
    car = torch.tensor([[4.0, 0.0, -1.0, 3.9, 1.6, 1.56, 0.0]])
    labels, targets = assign_targets(anchors, car, torch.tensor([0]))
    assert labels[_index(4, 0, 0, 0)] == 1 and targets[_index(4, 0, 0, 0)].abs().max() < 1e-6
    assert labels[_index(5, 0, 0, 0)] == -1  # nearest-BEV IoU 0.59: between 0.45 and 0.6
    assert labels[_index(6, 0, 0, 0)] == 0  # IoU 0.32
    assert labels[_index(4, 0, 0, 1)] == 0  # the turned anchor: IoU 0.26
    assert (labels.view(9, 9, 3, 2)[:, :, 1:] == 0).all()  # no pedestrian or cyclist: all background
    assert (labels > 0).sum() == 1
    # a small car meets no anchor at 0.6, but its best anchor (IoU 0.46) is forced positive
    small = torch.tensor([[4.0, 0.0, -1.0, 2.4, 1.2, 1.5, 0.0]])
    labels, targets = assign_targets(anchors, small, torch.tensor([0]))
    assert labels[_index(4, 0, 0, 0)] == 1 and (labels > 0).sum() == 1
    torch.testing.assert_close(
        decode_boxes(targets[_index(4, 0, 0, 0)], anchors.reshape(-1, 7)[_index(4, 0, 0, 0)]), small[0]
    )
    assert labels[_index(3, 0, 0, 0)] == 0  # IoU 0.39


def _perfect_predictions(head: AnchorHead, boxes: torch.Tensor, classes: torch.Tensor) -> dict:
    labels, codes = head.targets([boxes], [classes])
    cells = head.anchors.shape[:2]
    logits = torch.full((1, labels.shape[1], 3), -20.0)
    positive = labels[0] > 0
    logits[0, positive, labels[0, positive] - 1] = 20.0
    heading = codes[0, :, 6] + head.anchors.reshape(-1, 7)[:, 6]
    bins = (torch.remainder(heading - head.dir_offset, 2 * math.pi) >= math.pi).long()
    direction = torch.nn.functional.one_hot(bins, 2).float()[None] * 10
    return {
        "cls": logits.view(1, *cells, -1),
        "box": codes.view(1, *cells, -1),
        "dir": direction.view(1, *cells, -1),
    }


def test_a_perfect_prediction_decodes_to_the_ground_truth_with_its_heading():
    head = AnchorHead(8, RANGE, FEATURES)
    truth = torch.tensor([[4.0, 0.0, -1.0, 3.9, 1.6, 1.56, 2.5], [1.0, 3.0, -0.8, 0.8, 0.6, 1.7, -2.0]])
    preds = _perfect_predictions(head, truth, torch.tensor([0, 1]))
    [detections] = head.detect(preds)
    assert detections["labels"].tolist() == [0, 1]
    boxes = detections["boxes"]
    torch.testing.assert_close(boxes[:, :6], truth[:, :6], rtol=0, atol=1e-5)
    turn = torch.remainder(boxes[:, 6] - truth[:, 6] + math.pi, 2 * math.pi) - math.pi
    assert turn.abs().max() < 1e-5
    losses = head.loss(preds, [truth], [torch.tensor([0, 1])])
    assert losses["box"] < 1e-6 and losses["dir"] < 1e-3 and losses["cls"] < 1e-3


def test_the_loss_trains_every_output_and_takes_empty_frames():
    torch.manual_seed(0)
    head = AnchorHead(8, RANGE, FEATURES)
    preds = head(torch.randn(2, 8, 9, 9))
    assert preds["cls"].shape == (2, 9, 9, 18) and preds["box"].shape == (2, 9, 9, 42)
    truth = [torch.tensor([[4.0, 0.0, -1.0, 3.9, 1.6, 1.56, 0.3]]), torch.zeros(0, 7)]
    losses = head.loss(preds, truth, [torch.tensor([0]), torch.zeros(0, dtype=torch.long)])
    losses["total"].backward()
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in head.parameters())


def test_rotated_nms_keeps_and_suppresses():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0],
            [0.3, 0.0, 0.0, 4.0, 2.0, 1.5, 0.1],  # overlaps the first: suppressed
            [10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0],  # far away: kept
            [10.0, 0.0, 0.0, 4.0, 0.5, 1.5, math.pi / 2],  # crosses the third: suppressed
            # two thin diagonal boxes side by side: their enclosing rectangles overlap, they do not
            [20.0, 0.0, 0.0, 4.0, 0.5, 1.5, math.pi / 4],
            [20.7, -0.7, 0.0, 4.0, 0.5, 1.5, math.pi / 4],
        ]
    )
    scores = torch.tensor([0.9, 0.95, 0.8, 0.7, 0.6, 0.5])
    assert rotated_nms(boxes, scores, 0.01).tolist() == [1, 2, 4, 5]
    assert rotated_nms(boxes[:0], scores[:0], 0.01).tolist() == []


def test_the_head_and_its_loss_equal_their_plain_forms_in_float64():
    """The head's fused matrix product equals its three 1x1 convolutions, and the box and direction losses
    computed on the positive anchors equal their sums over every anchor weighted by positive / positives."""
    torch.manual_seed(0)
    head = AnchorHead(8, RANGE, FEATURES).double()
    bev = torch.randn(2, 8, 9, 9, dtype=torch.float64)
    preds = head(bev)
    for key, conv in (("cls", head.conv_cls), ("box", head.conv_box), ("dir", head.conv_dir)):
        plain = torch.nn.functional.conv2d(bev, conv.weight, conv.bias).permute(0, 2, 3, 1)
        torch.testing.assert_close(preds[key], plain, rtol=0, atol=1e-12)
    cars = torch.tensor([[4.0, 0.0, -1.0, 3.9, 1.6, 1.56, 0.3], [1.0, 3.0, -0.8, 0.8, 0.6, 1.7, -2.0]])
    truth = [cars.double(), torch.zeros(0, 7, dtype=torch.float64)]
    labels = [torch.tensor([0, 1]), torch.zeros(0, dtype=torch.long)]
    losses = head.loss(preds, truth, labels)
    # every anchor, weighted by positive / positives per sample
    target_labels, targets = head.targets(truth, labels)
    weights = (target_labels > 0).double() / (target_labels > 0).sum(1, keepdim=True).clamp_min(1)
    codes = preds["box"].reshape(2, -1, 7)
    codes = torch.cat([codes[..., :6], codes[..., 6:].sin() * targets[..., 6:].cos()], -1)
    goal = torch.cat([targets[..., :6], preds["box"].reshape(2, -1, 7)[..., 6:].cos() * targets[..., 6:].sin()], -1)
    box = (torch.nn.functional.smooth_l1_loss(codes, goal, beta=1 / 9, reduction="none") * weights[..., None]).sum() / 2
    heading = targets[..., 6] + head.anchors.reshape(1, -1, 7)[..., 6]
    bins = (torch.remainder(heading - head.dir_offset, 2 * math.pi) >= math.pi).long()
    ce = torch.nn.functional.cross_entropy(preds["dir"].reshape(2, -1, 2).transpose(1, 2), bins, reduction="none")
    direction = (ce * weights).sum() / 2
    torch.testing.assert_close(losses["box"], box, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(losses["dir"], direction, rtol=1e-12, atol=1e-12)
    fast = torch.autograd.grad(2 * losses["box"] + 0.2 * losses["dir"], list(head.parameters()), retain_graph=True)
    plain = torch.autograd.grad(2 * box + 0.2 * direction, list(head.parameters()))
    for a, b in zip(fast, plain):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
