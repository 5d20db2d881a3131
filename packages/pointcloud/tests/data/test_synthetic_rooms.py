"""The synthetic rooms: S3DIS files, every class, learnable from geometry and colour, deterministic, written once."""

import re

import numpy as np
import pytest

from recur_pointcloud.data.synthetic_rooms import ROOM_KINDS, sample_room, synthetic_rooms_root, write_synthetic_rooms

# S3DIS's 13 classes in the official order
CLASSES = (
    "ceiling",
    "floor",
    "wall",
    "beam",
    "column",
    "window",
    "door",
    "table",
    "chair",
    "sofa",
    "bookcase",
    "board",
    "clutter",
)


def read_room(folder):
    """The annotation files of a room as {file stem: [n, 6] array}."""
    return {path.stem: np.loadtxt(path, ndmin=2) for path in sorted((folder / "Annotations").glob("*.txt"))}


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    return write_synthetic_rooms(
        tmp_path_factory.mktemp("rooms") / "s3dis", areas=2, rooms_per_area=4, points_per_room=3000
    )


def test_files_in_the_s3dis_layout(rooms):
    assert sorted(p.name for p in rooms.iterdir() if p.is_dir()) == ["Area_1", "Area_2"]
    area = rooms / "Area_1"
    assert sorted(p.name for p in area.iterdir()) == sorted(f"{kind}_1" for kind in ROOM_KINDS)
    for room in area.iterdir():
        objects = read_room(room)
        for stem, points in objects.items():
            assert re.fullmatch(r"[a-zA-Z]+_[0-9]+", stem) and stem.split("_")[0] in CLASSES
            assert points.shape[1] == 6 and len(points) > 0
            assert (
                (points[:, 3:] == np.round(points[:, 3:])).all()
                and points[:, 3:].min() >= 0
                and points[:, 3:].max() <= 255
            )
        # numbered from 1 per class
        for name in {stem.split("_")[0] for stem in objects}:
            numbers = sorted(int(stem.split("_")[1]) for stem in objects if stem.split("_")[0] == name)
            assert numbers == list(range(1, len(numbers) + 1))
        # <room>.txt concatenates the annotation files (as S3DIS's does), 3 decimals and integer colours
        whole = np.loadtxt(room / f"{room.name}.txt")
        assert len(whole) == sum(len(p) for p in objects.values())
        parts = np.concatenate(list(objects.values()))
        np.testing.assert_array_equal(np.unique(whole, axis=0), np.unique(parts, axis=0))
        line = (room / f"{room.name}.txt").read_text().splitlines()[0]
        assert re.fullmatch(r"-?\d+\.\d{3} -?\d+\.\d{3} -?\d+\.\d{3} \d+ \d+ \d+", line)


def test_every_class_in_every_area(rooms):
    for area in ("Area_1", "Area_2"):
        present = {p.stem.split("_")[0] for p in (rooms / area).glob("*/Annotations/*.txt")}
        assert present == set(CLASSES)


def test_classes_follow_from_geometry_and_colour():
    objects = [
        obj for i, kind in enumerate(ROOM_KINDS * 2) for obj in sample_room(np.random.default_rng(i), kind, 8000)
    ]
    by_class = {name: np.concatenate([p for n, p in objects if n == name]) for name in CLASSES}
    z = {name: points[:, 2] for name, points in by_class.items()}
    # table tops at table height, chair seats below them and backs below 1 m, sofas lower still
    assert 0.68 < np.median(z["table"]) < 0.8 and np.percentile(z["table"], 90) < 0.8
    assert 0.35 < np.median(z["chair"]) < 0.55 and z["chair"].max() < 1.0
    assert z["sofa"].max() < 0.85
    # boards and windows hang from 0.8 m up, doors start at the floor, beams sit under the ceiling
    assert z["board"].min() > 0.75 and z["window"].min() > 0.75 and z["door"].min() < 0.05
    assert np.median(z["beam"]) > 2.2 and np.median(z["ceiling"]) > 2.6 and np.abs(z["floor"]).max() < 0.03
    # a nearest-class-mean rule on (colour, 100 x height) alone: mean recall far above chance (1/12)
    features = [np.c_[p[:, 3:], 100 * p[:, 2:3]] for name, p in by_class.items() if name != "clutter"]
    means = np.stack([f.mean(0) for f in features])
    recall = [(np.linalg.norm(f[:, None] - means[None], axis=-1).argmin(1) == i).mean() for i, f in enumerate(features)]
    assert np.mean(recall) > 0.7


def test_deterministic_by_seed(tmp_path):
    first = write_synthetic_rooms(tmp_path / "a", areas=1, rooms_per_area=2, points_per_room=2000, seed=5)
    again = write_synthetic_rooms(tmp_path / "b", areas=1, rooms_per_area=2, points_per_room=2000, seed=5)
    other = write_synthetic_rooms(tmp_path / "c", areas=1, rooms_per_area=2, points_per_room=2000, seed=6)
    name = "Area_1/office_1/office_1.txt"
    assert (first / name).read_bytes() == (again / name).read_bytes() != (other / name).read_bytes()


def test_written_once(tmp_path, monkeypatch):
    options = dict(areas=1, rooms_per_area=1, points_per_room=2000)
    root = write_synthetic_rooms(tmp_path / "rooms", **options)
    stamp = (root / "Area_1/office_1/office_1.txt").stat().st_mtime_ns
    assert write_synthetic_rooms(tmp_path / "rooms", **options) == root
    assert (root / "Area_1/office_1/office_1.txt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="not empty"):
        write_synthetic_rooms(tmp_path / "rooms", **{**options, "seed": 1})
    # the cached default lives under the user cache, named by the options
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cached = synthetic_rooms_root(**options)
    assert cached.is_relative_to(tmp_path / "cache") and (cached / "Area_1/office_1/Annotations").is_dir()
    assert synthetic_rooms_root(**options) == cached != synthetic_rooms_root(**{**options, "seed": 1})


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="points_per_room >= 1000"):
        write_synthetic_rooms(tmp_path / "a", points_per_room=10)
    with pytest.raises(ValueError, match="areas >= 1"):
        write_synthetic_rooms(tmp_path / "b", areas=0)
    with pytest.raises(ValueError, match="unknown room kind 'kitchen'"):
        sample_room(np.random.default_rng(0), "kitchen", 2000)
