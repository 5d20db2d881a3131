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
