"""The S3DIS reader: tiny files written here in the real layout, the synthetic rooms, the real set if present."""

import numpy as np
import pytest
import torch

from recur_core.data.root import DatasetNotFoundError
from recur_pointcloud.data.s3dis import S3DIS_CLASSES, S3DISRooms, read_annotation, read_room
from recur_pointcloud.data.synthetic_rooms import write_synthetic_rooms


def write_object(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(str(v) for v in row) + "\n" for row in rows))


@pytest.fixture
def tiny(tmp_path):
    """Two areas in the S3DIS layout, with the real archive's quirks: stairs, a NUL byte, a ``(1)`` copy."""
    office = tmp_path / "Area_1" / "office_1" / "Annotations"
    write_object(office / "chair_1.txt", [(1.0, 2.0, 0.45, 10, 20, 30), (1.1, 2.0, 0.9, 11, 21, 31)])
    write_object(office / "table_1.txt", [(2.0, 2.0, 0.75, 200, 150, 100)])
    write_object(office / "wall_3.txt", [(0.0, 1.0, 1.5, 190, 180, 160)])
    write_object(office / "wall_3 (1).txt", [(0.0, 1.0, 1.5, 190, 180, 160)])
    hallway = tmp_path / "Area_2" / "hallway_6" / "Annotations"
    write_object(hallway / "stairs_1.txt", [(5.0, 5.0, 0.2, 90, 90, 90)])
    (hallway / "ceiling_1.txt").write_bytes(b"22.383 6.858 3.050 155 155 165\n22.350 6.692 3.048 185\x00187 182\n")
    (tmp_path / "Area_2" / "Area_2_alignmentAngle.txt").write_text("## Global alignment angle per disjoint space\n")
    return tmp_path


def test_rooms_points_and_labels(tiny):
    rooms = S3DISRooms(tiny, areas=[1, 2])
    assert len(rooms) == 2 and rooms.rooms == ["Area_1/office_1", "Area_2/hallway_6"]
    office = rooms[0]
    assert office["room"] == "Area_1/office_1"
    assert office["points"].dtype == torch.float32 and office["points"].shape == (4, 6)
    # files in name order, label from the name's prefix; the "(1)" copy of wall_3 is skipped
    names = [S3DIS_CLASSES[i] for i in office["labels"].tolist()]
    assert names == ["chair", "chair", "table", "wall"] and office["labels"].dtype == torch.int64
    np.testing.assert_allclose(office["points"][2].numpy(), [2.0, 2.0, 0.75, 200, 150, 100])
    hallway = rooms[1]
    # stairs is not one of the 13 classes: clutter, as PointNet's collect_point_label labels it
    assert [S3DIS_CLASSES[i] for i in hallway["labels"].tolist()] == ["ceiling", "ceiling", "clutter"]
    # the NUL byte between two colours of Area_5/hallway_6's ceiling_1.txt reads as a space
    np.testing.assert_allclose(hallway["points"][1].numpy(), [22.35, 6.692, 3.048, 185, 187, 182], rtol=1e-6)


def test_synthetic_rooms_read_as_s3dis(tmp_path):
    root = write_synthetic_rooms(tmp_path / "rooms", areas=1, rooms_per_area=4, points_per_room=2000)
    rooms = S3DISRooms(root, areas=[1])
    assert len(rooms) == 4
    labels = torch.cat([rooms[i]["labels"] for i in range(len(rooms))])
    assert set(labels.tolist()) == set(range(len(S3DIS_CLASSES)))
    # the room file is the concatenation of the annotation files
    item = rooms[0]
    whole = read_annotation(root / item["room"] / f"{item['room'].split('/')[1]}.txt")
    assert whole.shape == tuple(item["points"].shape)
    np.testing.assert_array_equal(np.unique(whole, axis=0), np.unique(item["points"].numpy(), axis=0))


def test_parsed_rooms_cached_outside_the_dataset(tiny, tmp_path):
    cache = tmp_path / "cache"
    first = S3DISRooms(tiny, areas=[1], cache_dir=cache)[0]
    stored = list(cache.glob("*.npy"))
    assert len(stored) == 1 and stored[0].name.startswith("Area_1_office_1-")
    again = S3DISRooms(tiny, areas=[1], cache_dir=cache)[0]
    assert torch.equal(first["points"], again["points"]) and torch.equal(first["labels"], again["labels"])
    # a changed annotation file is parsed again
    write_object(
        tiny / "Area_1/office_1/Annotations/table_1.txt", [(2.0, 2.0, 0.75, 1, 2, 3), (2.1, 2.0, 0.75, 1, 2, 3)]
    )
    changed = S3DISRooms(tiny, areas=[1], cache_dir=cache)[0]
    assert len(changed["points"]) == 5 and len(list(cache.glob("*.npy"))) == 2
    assert not list((tiny / "Area_1").rglob("*.npy"))


def test_bad_input_is_one_line(tiny, tmp_path, monkeypatch):
    def one_line(error, match):
        assert match in str(error.value) and "\n" not in str(error.value)

    with pytest.raises(FileNotFoundError) as error:
        S3DISRooms(tiny, areas=[1, 3])
    one_line(error, "Area_3 (present: Area_1, Area_2)")
    (tiny / "Area_1" / "office_2").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        S3DISRooms(tiny, areas=[1])
    one_line(error, "office_2 has no Annotations folder")
    (tiny / "Area_1" / "office_2" / "Annotations").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        S3DISRooms(tiny, areas=[1])
    one_line(error, "holds no <class>_<i>.txt")
    with pytest.raises(ValueError) as error:
        S3DISRooms(tiny, areas=[])
    one_line(error, "areas is empty")

    bad = tmp_path / "bad" / "Annotations" / "door_1.txt"
    write_object(bad, [(1.0, 2.0, 3.0, 4, 5, 6), (1.0, 2.0, 3.0, 4, 5)])
    with pytest.raises(ValueError) as error:
        read_room(bad.parent.parent)
    one_line(error, "door_1.txt line 2: '1.0 2.0 3.0 4 5' is not 6 numbers")
    write_object(bad, [(1.0, 2.0, 3.0, 4, 5, "x")])
    with pytest.raises(ValueError) as error:
        read_annotation(bad)
    one_line(error, "line 1")
    bad.write_text("\n")
    with pytest.raises(ValueError) as error:
        read_annotation(bad)
    one_line(error, "empty annotation file")

    with pytest.raises(FileNotFoundError) as error:
        S3DISRooms(tmp_path / "nowhere")
    one_line(error, "holds Area_1")
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty_root"))
    with pytest.raises(DatasetNotFoundError) as error:
        S3DISRooms()
    one_line(error, "request access at https://buildingparser.stanford.edu")


def test_real_rooms(dataset_root):
    folder = dataset_root("s3dis", "Area_1")
    rooms = S3DISRooms(folder, areas=[1])
    item = rooms[0]
    points, labels = item["points"], item["labels"]
    assert points.shape[1] == 6 and len(points) == len(labels) > 0
    assert labels.min() >= 0 and labels.max() < len(S3DIS_CLASSES)
    assert points[:, 3:].min() >= 0 and points[:, 3:].max() <= 255
