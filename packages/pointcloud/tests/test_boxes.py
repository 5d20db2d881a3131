"""Rotated-box overlaps against closed forms and a Monte-Carlo estimate."""

import math

import pytest
import torch

from recur_pointcloud.boxes import bev_corners, boxes3d_iou, boxes_bev_iou, rotated_intersection_area


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_closed_forms(dtype):
    box = torch.tensor([[1.0, 2.0, 4.0, 2.0, 0.3]], dtype=dtype)
    torch.testing.assert_close(boxes_bev_iou(box, box), torch.ones(1, 1, dtype=dtype))
    # shifted by s along its own length: IoU = (4 - s) / (4 + s)
    s = 1.0
    shifted = box + torch.tensor([[s * math.cos(0.3), s * math.sin(0.3), 0, 0, 0]], dtype=dtype)
    torch.testing.assert_close(boxes_bev_iou(box, shifted), torch.tensor([[3 / 5]], dtype=dtype))
    # a unit square and the same square turned 45 degrees overlap in a regular octagon of area 2 (sqrt 2 - 1)
    square = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0]], dtype=dtype)
    turned = torch.tensor([[0.0, 0.0, 1.0, 1.0, math.pi / 4]], dtype=dtype)
    torch.testing.assert_close(rotated_intersection_area(square, turned), torch.tensor([2 * (2**0.5 - 1)], dtype=dtype))
    # a half turn is the same rectangle
    torch.testing.assert_close(
        boxes_bev_iou(box, box + torch.tensor([[0, 0, 0, 0, math.pi]], dtype=dtype)), torch.ones(1, 1, dtype=dtype)
    )
    far = torch.tensor([[9.0, 9.0, 1.0, 1.0, 0.2]], dtype=dtype)
    assert boxes_bev_iou(box, far).item() == 0.0


def test_corners_turn_counter_clockwise():
    corners = bev_corners(torch.tensor([[0.0, 0.0, 2.0, 1.0, math.pi / 2]], dtype=torch.float64))[0]
    # the length now runs along y
    torch.testing.assert_close(corners[:, 1].abs().max(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(corners[:, 0].abs().max(), torch.tensor(0.5, dtype=torch.float64))


def test_area_matches_monte_carlo_and_is_symmetric():
    generator = torch.Generator().manual_seed(0)
    scale, shift = torch.tensor([3.0, 3.0, 3.0, 2.0, 6.3]), torch.tensor([0.0, 0.0, 0.5, 0.5, 0.0])
    a = (torch.rand(30, 5, generator=generator) * scale + shift).double()
    b = (torch.rand(30, 5, generator=generator) * scale + shift).double()
    area = rotated_intersection_area(a, b)
    torch.testing.assert_close(area, rotated_intersection_area(b, a))
    points = torch.rand(100_000, 2, generator=generator, dtype=torch.float64) * 8 - 2.5

    def inside(box):
        offset = points - box[:2]
        cos, sin = box[4].cos(), box[4].sin()
        along, across = offset[:, 0] * cos + offset[:, 1] * sin, -offset[:, 0] * sin + offset[:, 1] * cos
        return (along.abs() <= box[2] / 2) & (across.abs() <= box[3] / 2)

    estimate = torch.stack([(inside(x) & inside(y)).double().mean() * 64 for x, y in zip(a, b)])
    # the standard error of each estimate is below 0.025 here
    assert (estimate - area).abs().max() < 0.1


def test_3d_iou_multiplies_the_vertical_overlap():
    box = torch.tensor([[5.0, 1.0, -1.0, 4.0, 2.0, 1.5, 0.7]], dtype=torch.float64)
    lifted = box + torch.tensor([[0, 0, 0.5, 0, 0, 0, 0]], dtype=torch.float64)
    # the same footprint, 1.0 of 1.5 m shared: 1.0 / (1.5 + 1.5 - 1.0)
    torch.testing.assert_close(boxes3d_iou(box, lifted), torch.tensor([[0.5]], dtype=torch.float64))
    assert boxes3d_iou(box, box + torch.tensor([[0, 0, 2.0, 0, 0, 0, 0]], dtype=torch.float64)).item() == 0.0
    assert boxes3d_iou(box, box[:0]).shape == (1, 0)
