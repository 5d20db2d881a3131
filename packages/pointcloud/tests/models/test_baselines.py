"""The geometric detector on hand-made scenes whose boxes are known: a flat or sloped ground grid and the faces
of boxes that a sensor at the origin sees, sampled every 10 cm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recur_pointcloud.boxes import boxes3d_iou
from recur_pointcloud.models.baselines import GeometricDetector, fit_ground_plane, fit_rectangles

RANGE = (0.0, -20.0, -3.0, 40.0, 20.0, 1.0)
GROUND = -1.73


def ground(slope: tuple[float, float] = (0.0, 0.0), step: float = 0.5) -> np.ndarray:
    x, y = np.meshgrid(np.arange(0.5, 40.0, step), np.arange(-19.5, 20.0, step), indexing="ij")
    x, y = x.ravel(), y.ravel()
    return np.stack([x, y, GROUND + slope[0] * x + slope[1] * y, np.full_like(x, 0.2)], 1)


def visible_faces(box: np.ndarray, step: float = 0.1, roof: bool = True) -> np.ndarray:
    """Points on the sides (and roof) of LiDAR ``box`` (x, y, z, l, w, h, heading) that face the origin."""
    cx, cy, cz, length, width, height, heading = box
    points = []
    c, s = math.cos(heading), math.sin(heading)
    for axis, half, span in ((0, length / 2, width), (1, width / 2, length)):
        for sign in (-1.0, 1.0):
            normal = np.array([c, s]) if axis == 0 else np.array([-s, c])
            centre = np.array([cx, cy]) + sign * half * normal
            if np.dot(sign * normal, centre) >= 0:  # the face looks away from the sensor
                continue
            t, z = np.meshgrid(np.arange(-span / 2, span / 2, step), np.arange(-height / 2, height / 2, step))
            along = np.array([-s, c]) if axis == 0 else np.array([c, s])
            xy = centre + t.reshape(-1, 1) * along
            points.append(np.c_[xy, cz + z.reshape(-1, 1), np.full((xy.shape[0], 1), 0.5)])
    if roof:
        a, b = np.meshgrid(np.arange(-length / 2, length / 2, 2 * step), np.arange(-width / 2, width / 2, 2 * step))
        a, b = a.ravel(), b.ravel()
        xy = np.c_[cx + a * c - b * s, cy + a * s + b * c]
        points.append(np.c_[xy, np.full(len(xy), cz + height / 2), np.full(len(xy), 0.5)])
    return np.concatenate(points)


def car(x: float, y: float, heading: float) -> np.ndarray:
    return np.array([x, y, GROUND + 0.78, 3.9, 1.6, 1.56, heading])


def scene(*boxes: np.ndarray, slope=(0.0, 0.0)) -> torch.Tensor:
    cloud = [ground(slope)] + [visible_faces(box) for box in boxes]
    return torch.as_tensor(np.concatenate(cloud), dtype=torch.float32)


@pytest.mark.parametrize("heading", [0.0, 0.5, -1.0, 1.4])
def test_a_car_seen_at_an_angle_is_found_with_its_box(heading):
    truth = car(15.0, 4.0, heading)
    found = GeometricDetector(point_range=RANGE).detect([scene(truth)])[0]
    cars = found["boxes"][found["labels"] == 0]
    assert len(cars) == 1
    assert boxes3d_iou(cars.double(), torch.as_tensor(truth)[None]).item() > 0.9
    turn = (cars[0, 6].item() - heading + math.pi / 2) % math.pi - math.pi / 2
    assert abs(turn) < math.radians(3)


def test_a_car_seen_from_behind_gets_its_length_along_the_line_of_sight():
    truth = car(20.0, 0.0, 0.0)  # only the back (1.6 m across the line of sight) and the roof are seen
    cloud = torch.as_tensor(np.concatenate([ground(), visible_faces(truth, roof=False)]), dtype=torch.float32)
    found = GeometricDetector(point_range=RANGE).detect_frame(cloud)
    cars = found["boxes"][found["labels"] == 0]
    assert len(cars) == 1
    assert abs(math.sin(cars[0, 6].item())) < 0.05  # heading along x (either way)
    assert boxes3d_iou(cars.double(), torch.as_tensor(truth)[None]).item() > 0.8


def test_the_classes_follow_the_footprint_and_scores_count_points():
    pedestrian = np.array([10.0, -3.0, GROUND + 0.865, 0.8, 0.6, 1.73, 0.3])
    truth = car(25.0, 6.0, 0.8)
    found = GeometricDetector(point_range=RANGE).detect_frame(scene(truth, pedestrian))
    # a pedestrian's column is too small for a car's (it could be a cyclist's end); the car's too long for the others
    near = torch.linalg.norm(found["boxes"][:, :2] - torch.tensor([10.0, -3.0]), dim=1) < 1.0
    assert sorted(found["labels"][near].tolist()) == [1, 2] and found["labels"][~near].tolist() == [0]
    ped = found["boxes"][found["labels"] == 1]
    assert len(ped) == 1 and torch.allclose(ped[0, 3:6], torch.tensor([0.8, 0.6, 1.73]))
    assert torch.linalg.norm(ped[0, :2] - torch.tensor([10.0, -3.0])) < 0.3
    assert found["scores"][found["labels"] == 0].item() > found["scores"][found["labels"] == 1].item()


def test_a_sloped_ground_is_fitted_and_removed():
    slope = (0.02, -0.01)
    plane = fit_ground_plane(ground(slope))
    assert np.allclose(plane, [slope[0], slope[1], GROUND], atol=1e-6)
    truth = car(20.0, -5.0, 0.3)
    truth[2] += slope[0] * 20.0 + slope[1] * -5.0
    found = GeometricDetector(point_range=RANGE).detect_frame(scene(truth, slope=slope))
    cars = found["boxes"][found["labels"] == 0]
    assert len(cars) == 1 and boxes3d_iou(cars.double(), torch.as_tensor(truth)[None]).item() > 0.85


def test_nothing_but_ground_or_no_points_detects_nothing():
    detector = GeometricDetector(point_range=RANGE)
    for cloud in (torch.as_tensor(ground(), dtype=torch.float32), torch.zeros(0, 4)):
        found = detector.detect_frame(cloud)
        assert found["boxes"].shape == (0, 7) and found["scores"].shape == (0,) and found["labels"].shape == (0,)


def test_the_closeness_criterion_fits_an_l_shape_with_a_roof_where_the_smallest_area_may_not():
    truth = car(12.0, 3.0, 0.6)
    xy = visible_faces(truth)[:, :2]
    cluster = np.zeros(len(xy), dtype=np.int64)
    heading, low, high = fit_rectangles(xy, cluster, 1, angles=90, criterion="closeness")
    turn = (heading[0] - 0.6 + math.pi / 4) % (math.pi / 2) - math.pi / 4
    assert abs(turn) < math.radians(2)
    assert np.allclose(sorted(high[0] - low[0]), [1.6, 3.9], atol=0.15)
    with pytest.raises(ValueError, match="criterion must be"):
        fit_rectangles(xy, cluster, 1, criterion="pca")


def test_unknown_classes_and_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match="no mean size for classes \\['Van'\\]"):
        GeometricDetector(classes=("Car", "Van"))
    with pytest.raises(ValueError, match="cell > 0"):
        GeometricDetector(cell=0.0)
