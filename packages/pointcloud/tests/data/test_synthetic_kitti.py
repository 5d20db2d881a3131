"""The synthetic LiDAR scenes: the ray caster, the sensor effects, and KITTI files the real reader and metric read."""

import numpy as np
import pytest

from recur_pointcloud.data.kitti import KittiObject
from recur_pointcloud.data.synthetic_kitti import (
    SENSOR_HEIGHT,
    cast_rays,
    sample_boxes,
    scan_scene,
    write_synthetic_kitti,
)
from recur_pointcloud.metrics.kitti_ap import kitti_eval


def car_at(x, y, heading=0.0):
    return np.array([x, y, -SENSOR_HEIGHT + 0.75, 4.0, 1.6, 1.5, heading])


def test_rays_hit_the_nearest_surface():
    # slightly down (the sensor is 1.73 m up, a car 1.5 m high): 0.4 m lower 8 m ahead, 0.9 m at 18 m
    slope = np.hypot(1.0, 0.05)
    ahead = np.array([[1.0, 0.0, -0.05]]) / slope
    down = np.array([[1.0, 0.0, -1.0]]) / np.sqrt(2)
    # the near face of a car 10 m ahead (4 m long) is 8 m away; a car behind it is not reached first
    distance, hit, reaches = cast_rays(np.concatenate([ahead, down]), np.stack([car_at(10, 0), car_at(20, 0)]))
    assert distance[0] == pytest.approx(8.0 * slope) and hit[0] == 0 and reaches[0].tolist() == [True, True]
    # 45 degrees down: the ground at 1.73 m below, sqrt(2) * 1.73 away
    assert distance[1] == pytest.approx(np.sqrt(2) * SENSOR_HEIGHT) and hit[1] == -1
    # turned 90 degrees, the car shows its 1.6 m side: near face 9.2 m ahead
    distance, _, _ = cast_rays(ahead, car_at(10, 0, np.pi / 2)[None])
    assert distance[0] == pytest.approx(9.2 * slope)
    # level, the ray passes over the car; nothing above the horizon
    distance, hit, _ = cast_rays(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), car_at(10, 0)[None])
    assert np.isinf(distance).all() and (hit == -2).all()


def test_occlusion_dropout_and_noise():
    rng = np.random.default_rng(0)
    boxes = np.stack([car_at(10, 0), car_at(25, 0.3), car_at(15, 12)])
    points, hit, visible = scan_scene(rng, boxes)
    # the car hidden behind the first is mostly shadowed; the one to the side is in full view
    assert visible[0] == 1.0 and visible[2] == 1.0 and visible[1] < 0.4
    on_car = points[hit == 0]
    assert len(on_car) > 100 and (np.abs(on_car[:, 1]) < 0.8 + 0.05).all() and (on_car[:, 0] > 7.9).all()
    ground = points[hit == -1]
    # ranges carry 2 cm of noise along the ray: ground heights stay within a few cm of the plane
    assert np.abs(ground[:, 2] + SENSOR_HEIGHT).max() < 0.1
    # more returns are lost far away than near
    near = np.hypot(ground[:, 0], ground[:, 1]) < 20
    assert len(points) < 64 * 1024 and near.sum() > (~near).sum()


def test_boxes_stand_on_the_ground_apart():
    boxes, names = sample_boxes(np.random.default_rng(1), {"Car": 8, "Pedestrian": 3, "Cyclist": 2}, (4, -25, 60, 25))
    assert len(boxes) == len(names) >= 10
    np.testing.assert_allclose(boxes[:, 2] - boxes[:, 5] / 2, -SENSOR_HEIGHT)
    gaps = np.linalg.norm(boxes[:, None, :2] - boxes[None, :, :2], axis=-1) + np.eye(len(boxes)) * 1e3
    assert gaps.min() > 1.0


def test_written_scenes_are_read_by_the_real_reader_and_scored_by_the_real_metric(tmp_path):
    root = write_synthetic_kitti(tmp_path / "kitti", frames=6, val_fraction=0.5, columns=512, seed=3)
    # the same arguments reuse the folder
    assert write_synthetic_kitti(tmp_path / "kitti", frames=6, val_fraction=0.5, columns=512, seed=3) == root
    train, val = KittiObject(root, split="train"), KittiObject(root, split="val")
    assert train.frame_ids == ["000000", "000001", "000002"] and val.frame_ids == ["000003", "000004", "000005"]
    frame = train[0]
    assert frame["points"].shape[1] == 4 and len(frame["points"]) > 500 and frame["image_size"] == (375, 1242)
    assert len(frame["boxes"]) >= 1 and set(frame["objects"].name) <= {"Car", "Pedestrian", "Cyclist"}
    # every labelled box is ahead, and its LiDAR box sits on the ground
    boxes = frame["boxes"].numpy()
    assert (boxes[:, 0] > 0).all()
    np.testing.assert_allclose(boxes[:, 2] - boxes[:, 5] / 2, -SENSOR_HEIGHT, atol=0.02)
    truth = [train[i]["objects"] for i in range(3)]
    found = []
    for objects in truth:
        copy = objects.select(np.arange(len(objects)))
        copy.score = np.linspace(0.9, 0.5, len(copy))
        found.append(copy)
    result = kitti_eval(truth, found, classes=["Car"], metrics=["3d"])
    # a handful of cars: the official sampling caps AP_R40 at (n - 1) / 40 for n < 41 counted cars
    counted = sum(
        ((o.name == "Car") & (o.occluded <= 1) & (o.truncated <= 0.3) & (o.bbox[:, 3] - o.bbox[:, 1] > 25)).sum()
        for o in truth
    )
    assert result["Car_3d_moderate_R40"] == pytest.approx(100 * (counted - 1) / 40)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="frames >= 2"):
        write_synthetic_kitti(tmp_path / "a", frames=1)
    with pytest.raises(ValueError, match="cars must be"):
        write_synthetic_kitti(tmp_path / "b", frames=4, cars=(3, 1))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "other.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        write_synthetic_kitti(tmp_path / "c", frames=4)
