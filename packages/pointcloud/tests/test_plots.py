"""The check figure: a real KITTI frame's boxes drawn onto its image and in bird's-eye view."""

import numpy as np
from PIL import Image

from recur_pointcloud.data.kitti import KittiCalib, KittiObject, KittiObjects
from recur_pointcloud.plots import plot_kitti_frame


def test_boxes_drawn_onto_a_real_frame(dataset_root, tmp_path):
    root = dataset_root("kitti_object", "training/velodyne/000001.bin", "training/image_2/000001.png")
    frames = KittiObject(root, split=None, fov_only=False)
    frame = frames[1]
    image = np.asarray(Image.open(frames.image_path(1)))
    truth = frame["objects"]
    detections = truth.select(truth.name == "Car")
    detections.location = detections.location + np.array([0.5, 0.0, 0.5])
    path = plot_kitti_frame(
        image,
        frame["points"].numpy(),
        frame["calib"],
        truth,
        tmp_path / "frame.png",
        detections=detections,
        title="000001",
    )
    with Image.open(path) as figure:
        drawn = np.asarray(figure.convert("RGB")).astype(int)
    # green (truth) and red (detection) strokes are on the figure
    green = (drawn[..., 1] > 200) & (drawn[..., 0] < 80) & (drawn[..., 2] < 80)
    red = (drawn[..., 0] > 200) & (drawn[..., 1] < 60) & (drawn[..., 2] < 60)
    assert green.sum() > 100 and red.sum() > 50


def test_an_empty_frame_still_draws(tmp_path):
    projection = np.array([[100.0, 0, 50, 0], [0, 100.0, 25, 0], [0, 0, 1, 0]])
    to_camera = np.array([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]])
    calib = KittiCalib(P=np.stack([projection] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=to_camera)
    points = np.random.default_rng(0).normal(size=(100, 4)) * [10, 10, 1, 1]
    path = plot_kitti_frame(np.zeros((50, 100, 3)), points, calib, KittiObjects.empty(), tmp_path / "x.png")
    assert path.stat().st_size > 0
