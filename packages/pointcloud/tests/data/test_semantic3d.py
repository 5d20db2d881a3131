"""The Semantic3D reader: tiny scans written here, chunked reading, the voxel grid, one-line errors, the real set."""

import numpy as np
import pytest
import torch

from recur_core.data.root import DatasetNotFoundError
from recur_pointcloud.data.semantic3d import SEMANTIC3D_CLASSES, Semantic3DScans, read_scan, voxel_subsample

# x y z intensity r g b, as the scans store them
POINTS = np.array(
    [
        [0.10, 0.10, 0.10, -1200, 10, 20, 30],
        [0.30, 0.20, 0.40, -1000, 30, 40, 50],
        [0.45, 0.05, 0.20, -800, 50, 60, 70],
        [1.20, 0.10, 0.10, 500, 200, 200, 200],
        [1.60, 0.30, 0.30, 700, 100, 100, 100],
    ]
)
LABELS = np.array([2, 2, 0, 5, 8])


def write_scan(folder, name="scan", points=POINTS, labels=LABELS):
    folder.mkdir(parents=True, exist_ok=True)
    np.savetxt(folder / f"{name}.txt", points, fmt="%.3f %.3f %.3f %d %d %d %d")
    if labels is not None:
        np.savetxt(folder / f"{name}.labels", labels, fmt="%d")
    return folder / f"{name}.txt"


def test_points_and_labels_in_chunks(tmp_path):
    path = write_scan(tmp_path)
    points, labels = read_scan(path)
    assert points.dtype == np.float32 and points.shape == (5, 7) and labels.dtype == np.int64
    np.testing.assert_allclose(points, POINTS, rtol=1e-6)
    np.testing.assert_array_equal(labels, LABELS)
    # runs of 2 lines read the same scan; max_points reads the head of both files
    for chunk in (1, 2, 3):
        again, again_labels = read_scan(path, chunk_rows=chunk)
        np.testing.assert_array_equal(again, points)
        np.testing.assert_array_equal(again_labels, labels)
    head, head_labels = read_scan(path, max_points=3, chunk_rows=2)
    np.testing.assert_array_equal(head, points[:3])
    np.testing.assert_array_equal(head_labels, labels[:3])
    assert len(SEMANTIC3D_CLASSES) == 9 and SEMANTIC3D_CLASSES[8] == "cars"


def test_voxel_grid_keeps_means_and_majority_labels(tmp_path):
    # 0.5 m voxels: the first three points share voxel (0, 0, 0); the last two have voxels of their own
    points, labels = voxel_subsample(POINTS, LABELS, 0.5)
    assert points.shape == (3, 7)
    np.testing.assert_allclose(points[0], POINTS[:3].mean(0))
    np.testing.assert_array_equal(labels, [2, 5, 8])
    # a tie goes to the smaller label; 1 m voxels: (0, 0, 0) holds labels 2, 2, 0 and (1, 0, 0) holds 5, 8
    _, coarse = voxel_subsample(POINTS, LABELS, 1.0)
    np.testing.assert_array_equal(coarse, [2, 5])
    # reading in runs merges the runs' voxels: the same result for any chunk size
    path = write_scan(tmp_path)
    for chunk in (1, 2, 5):
        read, read_labels = read_scan(path, voxel_size=0.5, chunk_rows=chunk)
        np.testing.assert_allclose(read, points, rtol=1e-5)
        np.testing.assert_array_equal(read_labels, labels)


def test_dataset_of_scans(tmp_path):
    write_scan(tmp_path, "b_station1")
    write_scan(tmp_path, "a_station2", POINTS[:2], LABELS[:2])
    write_scan(tmp_path / "test", "c_station3", labels=None)
    scans = Semantic3DScans(tmp_path)
    assert len(scans) == 2 and scans.scans == ["a_station2", "b_station1"]
    item = scans[1]
    assert item["scan"] == "b_station1" and item["points"].shape == (5, 7) and item["labels"].dtype == torch.int64
    sub = Semantic3DScans(tmp_path, scans=["b_station1"], voxel_size=0.5)[0]
    assert len(sub["points"]) == 3
    # a test scan has no .labels: read with labels=False
    test = Semantic3DScans(tmp_path / "test", labels=False)[0]
    assert "labels" not in test and test["points"].shape == (5, 7)


def test_bad_input_is_one_line(tmp_path, monkeypatch):
    def raises(error_type, match, call, *args, **kwargs):
        with pytest.raises(error_type) as error:
            call(*args, **kwargs)
        assert match in str(error.value) and "\n" not in str(error.value), str(error.value)

    path = write_scan(tmp_path / "a", labels=LABELS[:4])
    raises(ValueError, "scan.txt has 5 points but scan.labels has 4 labels", read_scan, path, chunk_rows=2)
    path = write_scan(tmp_path / "b", labels=np.r_[LABELS, 1])
    raises(ValueError, "scan.txt has 5 points but scan.labels has 6 labels", read_scan, path)
    path = write_scan(tmp_path / "c", labels=np.array([2, 2, 0, 9, 8]))
    raises(ValueError, "scan.labels line 4: label 9 is outside 0..8", read_scan, path, chunk_rows=2)
    path = write_scan(tmp_path / "d", labels=np.array([2, -1, 0, 5, 8]))
    raises(ValueError, "line 2: label -1 is outside 0..8", read_scan, path)
    path = write_scan(tmp_path / "e")
    lines = path.read_text().splitlines()
    lines[3] = "1.200 0.100 0.100 500 200 200"
    path.write_text("\n".join(lines) + "\n")
    raises(ValueError, "scan.txt line 4: '1.200 0.100 0.100 500 200 200' is not 7 numbers", read_scan, path)
    path.write_text("")
    (tmp_path / "e" / "scan.labels").write_text("")
    raises(ValueError, "empty scan", read_scan, path)
    path = write_scan(tmp_path / "f", labels=None)
    raises(FileNotFoundError, "no " + str(tmp_path / "f" / "scan.labels"), read_scan, path)
    raises(ValueError, "voxel_size must be > 0", read_scan, path, labels=False, voxel_size=0.0)
    raises(ValueError, "voxel_size 1e-07 is too small", voxel_subsample, POINTS, LABELS, 1e-7)
    raises(FileNotFoundError, "scan.labels", Semantic3DScans, tmp_path / "f")
    raises(FileNotFoundError, "nope.txt", Semantic3DScans, tmp_path / "a", scans=["nope"])
    raises(FileNotFoundError, "no <scan>.txt", Semantic3DScans, tmp_path / "f" / "..", labels=False)
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty_root"))
    raises(DatasetNotFoundError, "sem8_labels_training.7z", Semantic3DScans)


def test_real_scan_head(dataset_root):
    folder = dataset_root("semantic3d")
    scan = next(p for p in sorted(folder.glob("*.txt")) if p.with_suffix(".labels").is_file())
    points, labels = read_scan(scan, max_points=20000)
    assert points.shape == (20000, 7) and len(labels) == 20000
    assert labels.min() >= 0 and labels.max() <= 8 and points[:, 4:].min() >= 0 and points[:, 4:].max() <= 255
