"""The KITTI object reader on the real frames under the data root and on tiny files written here."""

import numpy as np
import pytest

from recur_core.data import get_dataset
from recur_core.data.root import DatasetNotFoundError
from recur_pointcloud.data.kitti import (
    KittiCalib,
    KittiObject,
    KittiObjects,
    boxes_camera_to_lidar,
    boxes_lidar_to_camera,
    crop_points_to_range,
    field_of_view_mask,
    image_boxes,
    read_calib,
    read_label,
    read_points,
    write_calib,
    write_label,
    write_points,
)

FRAME_FILES = [
    f"training/{kind}/00000{i}.{ext}"
    for i in (0, 1)
    for kind, ext in (("velodyne", "bin"), ("label_2", "txt"), ("calib", "txt"), ("image_2", "png"))
]


@pytest.fixture
def kitti(dataset_root):
    return dataset_root("kitti_object", *FRAME_FILES)


def simple_calib() -> KittiCalib:
    """A camera at the LiDAR's origin looking along LiDAR x (camera x = -y, y = -z, z = x), f = 100 px."""
    projection = np.array([[100.0, 0, 50, 0], [0, 100.0, 25, 0], [0, 0, 1, 0]])
    to_camera = np.array([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]])
    return KittiCalib(P=np.stack([projection] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=to_camera)


def car(location, dimensions=(1.5, 1.6, 4.0), rotation_y=0.0, name="Car", score=-1.0) -> KittiObjects:
    return KittiObjects(
        name=np.array([name], dtype=object),
        truncated=[0.0],
        occluded=[0],
        alpha=[0.0],
        bbox=[[10.0, 10.0, 60.0, 60.0]],
        dimensions=[dimensions],
        location=[location],
        rotation_y=[rotation_y],
        score=[score],
    )


def write_tree(root, frames=("000000", "000001"), split=("train", ["000000", "000001"])):
    from PIL import Image

    for kind in ("velodyne", "label_2", "calib", "image_2"):
        (root / "training" / kind).mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        points = np.array(
            [[10.0, 0.0, -1.0, 0.5], [10.0, 5.0, 0.0, 0.1], [-5.0, 0.0, 0.0, 0.2], [12.0, 0.5, -0.5, 0.9]]
        )
        write_points(root / "training/velodyne" / f"{frame}.bin", points + i)
        write_label(root / "training/label_2" / f"{frame}.txt", car([0.0, 1.0, 10.0 + i], rotation_y=0.1))
        write_calib(root / "training/calib" / f"{frame}.txt", simple_calib())
        Image.new("RGB", (100, 50)).save(root / "training/image_2" / f"{frame}.png")
    if split is not None:
        (root / "ImageSets").mkdir(exist_ok=True)
        (root / "ImageSets" / f"{split[0]}.txt").write_text("".join(f + "\n" for f in split[1]))
    return root


def test_the_catalogue_entries():
    kitti = get_dataset("kitti_object")
    assert kitti.folder == "kitti_object" and "training/velodyne" in kitti.paths and kitti.manual
    assert "ImageSets/train.txt" in kitti.paths
    assert get_dataset("s3dis").manual


def test_real_frames(kitti):
    frames = KittiObject(kitti, split=None, fov_only=False)
    assert frames.frame_ids == ["000000", "000001"]
    first, second = frames[0], frames[1]
    # 1,846,144 and 1,924,288 bytes of 16-byte points
    assert first["points"].shape == (115_384, 4) and second["points"].shape == (120_268, 4)
    assert first["image_size"] == (370, 1224) and second["image_size"] == (375, 1242)
    labels = second["objects"]
    assert list(labels.name) == ["Truck", "Car", "Cyclist"] + ["DontCare"] * 4
    np.testing.assert_allclose(labels.dimensions[1], [1.67, 1.87, 3.69])
    np.testing.assert_allclose(labels.location[1], [-16.53, 2.39, 58.49])
    assert second["labels"].tolist() == [0, 2] and second["boxes"].shape == (2, 7)
    # the car 58.5 m ahead and 16.5 m to the left, half a metre above the LiDAR's ground: x forward, y left
    x, y, z, dx, dy, dz, heading = second["boxes"][0].tolist()
    assert 58 < x < 60 and 16 < y < 17.5 and -1.5 < z < 0 and (dx, dy, dz) == pytest.approx((3.69, 1.87, 1.67))
    assert heading == pytest.approx(-(1.57 + np.pi / 2), abs=1e-6)
    calib = second["calib"]
    assert calib.P.shape == (4, 3, 4) and calib.R0_rect.shape == (3, 3)


def test_projected_boxes_match_the_labelled_image_boxes(kitti):
    frames = KittiObject(kitti, split=None)
    for i in range(2):
        frame = frames[i]
        objects = frame["objects"].select(frame["objects"].name != "DontCare")
        # the labels' 2D boxes were drawn by hand around the visible object: a few pixels from the projection
        assert np.abs(image_boxes(objects, frame["calib"], frame["image_size"]) - objects.bbox).max() < 15


def test_camera_lidar_round_trip_on_real_calibration(kitti):
    calib = read_calib(kitti / "training/calib/000000.txt")
    objects = read_label(kitti / "training/label_2/000001.txt").select(slice(0, 3))
    objects.rotation_y = np.array([0.3, -2.0, 3.0])
    location, dimensions, rotation_y = boxes_lidar_to_camera(boxes_camera_to_lidar(objects, calib), calib)
    np.testing.assert_allclose(location, objects.location, atol=1e-9)
    np.testing.assert_allclose(dimensions, objects.dimensions)
    np.testing.assert_allclose(rotation_y, objects.rotation_y, atol=1e-12)
    points = np.random.default_rng(0).normal(size=(50, 3)) * 10
    np.testing.assert_allclose(calib.rect_to_lidar(calib.lidar_to_rect(points)), points, atol=1e-9)


def test_field_of_view_and_range_on_real_points(kitti):
    frames = KittiObject(kitti, split=None, fov_only=False)
    frame = frames[0]
    points = frame["points"].numpy()
    seen = field_of_view_mask(points, frame["calib"], frame["image_size"])
    # the camera sees a forward wedge of the 360-degree scan
    assert 0.1 < seen.mean() < 0.4 and (points[seen, 0] > 0).all()
    cropped = KittiObject(kitti, split=None, point_range=(0, -40, -3, 70.4, 40, 1))[0]["points"].numpy()
    assert len(cropped) <= seen.sum() and (cropped[:, 0] >= 0).all() and (np.abs(cropped[:, 1]) <= 40).all()


def test_tiny_tree_with_a_split(tmp_path):
    frames = KittiObject(write_tree(tmp_path), split="train", fov_only=True)
    assert len(frames) == 2
    frame = frames[1]
    # only the two points ahead inside the 100x50 image survive the field-of-view filter (the third is behind)
    assert frame["points"].shape == (2, 4)
    # camera (0, 1, 11) bottom centre, 1.5 m high: LiDAR centre (11, 0, -1 + 0.75)
    np.testing.assert_allclose(frame["boxes"][0, :3].numpy(), [11.0, 0.0, -0.25], atol=1e-6)
    np.testing.assert_allclose(frame["boxes"][0, 6].item(), -(0.1 + np.pi / 2), atol=1e-6)


def test_files_round_trip(tmp_path):
    objects = car([1.234, 1.5, 20.0], rotation_y=-0.5, score=0.87)
    write_label(tmp_path / "result.txt", objects, with_score=True)
    read = read_label(tmp_path / "result.txt")
    np.testing.assert_allclose(read.location, [[1.23, 1.5, 20.0]])
    np.testing.assert_allclose(read.score, [0.87])
    write_label(tmp_path / "truth.txt", objects)
    assert len((tmp_path / "truth.txt").read_text().split()) == 15 and read_label(tmp_path / "truth.txt").score[0] == -1
    write_calib(tmp_path / "calib.txt", simple_calib())
    np.testing.assert_allclose(read_calib(tmp_path / "calib.txt").Tr_velo_to_cam, simple_calib().Tr_velo_to_cam)
    points = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_points(tmp_path / "p.bin", points)
    np.testing.assert_array_equal(read_points(tmp_path / "p.bin"), points)
    assert len(read_label(write_label(tmp_path / "none.txt", KittiObjects.empty()) or tmp_path / "none.txt")) == 0
    # x and y only, as OpenPCDet: the second point's z = 6 is outside (-1, 1) and kept
    np.testing.assert_array_equal(crop_points_to_range(points, (0, 0, -1, 5, 5, 1)), points[:2])


def _one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_bad_files_are_one_line_errors(tmp_path):
    (tmp_path / "odd.bin").write_bytes(b"\0" * 20)
    with pytest.raises(ValueError) as error:
        read_points(tmp_path / "odd.bin")
    _one_line(error, "20 bytes", "multiple of 16")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(ValueError) as error:
        read_points(tmp_path / "empty.bin")
    _one_line(error, "empty point cloud")
    (tmp_path / "label.txt").write_text("Car 0.00 0 -1.5 1 2 3 4 1.5 1.6 3.9 1 2 10\n")
    with pytest.raises(ValueError) as error:
        read_label(tmp_path / "label.txt")
    _one_line(error, "line 1", "14 fields", "15")
    write_calib(tmp_path / "calib.txt", simple_calib())
    text = (tmp_path / "calib.txt").read_text().splitlines()
    (tmp_path / "calib.txt").write_text("\n".join(line for line in text if not line.startswith("Tr_velo_to_cam")))
    with pytest.raises(ValueError) as error:
        read_calib(tmp_path / "calib.txt")
    _one_line(error, "no Tr_velo_to_cam")


def test_missing_frames_and_splits_are_one_line_errors(tmp_path, monkeypatch):
    root = write_tree(tmp_path / "kitti", split=("val", ["000000", "000007"]))
    with pytest.raises(FileNotFoundError) as error:
        KittiObject(root, split="val")
    _one_line(error, "ImageSets/val.txt lists frame 000007", "000007.bin does not exist")
    with pytest.raises(FileNotFoundError) as error:
        KittiObject(root, split="train")
    _one_line(error, "no split file", "recur data fetch kitti_object")
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as error:
        KittiObject()
    _one_line(error, "kitti_object", "data_object_velodyne.zip")
