import json

import numpy as np
import pytest
import torch
from PIL import Image

from recur_core.data import get_dataset
from recur_core.data.root import DatasetNotFoundError
from recur_vision.data.tusimple import (
    TUSIMPLE_SPLITS,
    TuSimpleFrame,
    TuSimpleLanes,
    evaluate_tusimple,
    read_tusimple_json,
    tusimple_lane_slots,
    tusimple_segmentation,
    tusimple_split,
    tusimple_split_files,
    write_tusimple_json,
)
from recur_vision.lane_metrics import tusimple_scores

SAMPLE = "tusimple_sample_512x288/label_data.json"
ROWS = [100, 120, 140, 160, 180, 200]


def line(raw_file, lanes, h_samples=ROWS, **extra):
    return json.dumps({"lanes": lanes, "h_samples": h_samples, "raw_file": raw_file, **extra})


def four_lanes():
    """Lanes crossing the frame bottom left to right: far-left, left, right, far-right (as x per ROWS)."""
    return [
        [300, 250, 200, 150, 100, 50],  # leans left: small angle
        [560, 540, 520, 500, 480, 460],  # ego left: near 90 degrees, <= 90
        [700, 720, 740, 760, 780, 800],  # ego right: > 90
        [800, 860, 920, 980, 1040, 1100],
    ]


def write_layout(folder, lines_by_file, frames=()):
    for name, lines in lines_by_file.items():
        (folder / name).write_text("".join(text + "\n" for text in lines))
    for raw_file in frames:
        (folder / raw_file).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((72, 128, 3), 90, dtype=np.uint8)).save(folder / raw_file)


# --------------------------------------------------------------------------------------------- the real data


def test_catalogue_entries_name_the_layout():
    tusimple = get_dataset("tusimple")
    assert tusimple.folder == "tusimple" and tusimple.manual and "clips/" in tusimple.instructions
    assert {"label_data_0313.json", "label_data_0531.json", "label_data_0601.json", "test_label.json"} <= set(
        tusimple.paths
    )
    culane = get_dataset("culane")
    assert culane.folder == "CULane" and "list/train_gt.txt" in culane.paths and "laneseg_label_w16" in culane.paths


def test_real_sample_is_the_full_labels_scaled_by_0_4(dataset_root):
    folder = dataset_root("tusimple", SAMPLE, "label_data_0313.json")
    sample = read_tusimple_json(folder / SAMPLE)
    full = {frame.raw_file: frame for frame in read_tusimple_json(folder / "label_data_0313.json")}
    assert len(sample) == 10
    for frame in sample:
        original = full[frame.raw_file]
        assert np.allclose(frame.h_samples, np.multiply(original.h_samples, 0.4), atol=1)
        assert len(frame.lanes) == len(original.lanes)
        for small, big in zip(frame.lanes, original.lanes):
            big = np.asarray(big)
            assert np.allclose(np.asarray(small)[big >= 0], 0.4 * big[big >= 0], atol=1.5)


def test_real_sample_frames_give_masks_ordered_left_to_right(dataset_root):
    folder = dataset_root("tusimple", SAMPLE)
    lanes = TuSimpleLanes([folder / SAMPLE], image_size=None)
    assert len(lanes) == 10
    for index in range(len(lanes)):
        item = lanes[index]
        assert item["image"].shape == (3, 288, 512) and item["size"].tolist() == [288, 512]
        ids = item["mask"].unique().tolist()
        assert set(ids) <= {0, 1, 2, 3, 4} and item["exist"].sum() == len(ids) - 1
        # along the bottom row the ids present appear left to right in increasing order
        bottom = [int(v) for v in item["mask"][-8].tolist() if v]
        runs = [v for i, v in enumerate(bottom) if i == 0 or bottom[i - 1] != v]
        assert runs == sorted(runs)


def test_real_splits_and_the_official_metric_on_the_ground_truth(dataset_root):
    folder = dataset_root("tusimple", "label_data_0531.json", "test_tasks_0627.json")
    val = [frame.as_json() for frame in read_tusimple_json(folder / "label_data_0531.json")]
    assert len(val) == 358
    assert tusimple_scores(val, val).accuracy == 1.0
    # dropping each frame's first lane: FN = 1 / min(G, 4) per frame, accuracy 1 - that
    dropped = [{**frame, "lanes": frame["lanes"][1:]} for frame in val]
    expected = np.mean([1 / max(min(len(f["lanes"]), 4), 1) for f in val])
    score = tusimple_scores(dropped, val)
    assert score.fn == pytest.approx(expected) and score.fp == 0.0
    # the copy's test_tasks_0627.json carries the lanes: it stands in for test_label.json
    files = tusimple_split_files("test", folder=folder)
    assert [f.name for f in files] == ["test_tasks_0627.json"]
    with pytest.raises(FileNotFoundError, match=r"and 2780 more not found under .*missing_frames='skip'"):
        TuSimpleLanes(files, folder=folder)
    test = TuSimpleLanes(files, folder=folder, missing_frames="skip", image_size=(72, 128))
    assert len(test) == 1 and test.paths[0].parts[-5:-3] == ("test_set", "clips")
    assert test[0]["exist"].sum() >= 2


# --------------------------------------------------------------------------------------------- tiny files


def test_reader_keeps_extra_keys_and_the_writer_round_trips(tmp_path):
    write_layout(tmp_path, {"label_data_0313.json": [line("clips/a/1/20.jpg", four_lanes(), classes=[1, 2, 3, 4])]})
    frames = read_tusimple_json(tmp_path / "label_data_0313.json")
    assert frames[0].extra == {"classes": [1, 2, 3, 4]} and frames[0].source == "label_data_0313.json:1"
    prediction = TuSimpleFrame(frames[0].raw_file, ROWS, [[1.5, -2, 3, 4, 5, 6]], run_time=12.0)
    write_tusimple_json(tmp_path / "pred.json", [prediction])
    back = read_tusimple_json(tmp_path / "pred.json")[0]
    assert back == prediction and back.run_time == 12.0
    assert json.loads((tmp_path / "pred.json").read_text())["lanes"] == [[1.5, -2, 3, 4, 5, 6]]
    write_tusimple_json(tmp_path / "copy.json", frames)
    assert json.loads((tmp_path / "copy.json").read_text()) == json.loads(
        (tmp_path / "label_data_0313.json").read_text()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (line("a.jpg", [[1, 2, 3]]), r"label_data_0313.json:2: lane 0 has 3 x values but h_samples has 6"),
        ('{"lanes": [], "h_samples": [1]', r"label_data_0313.json:2: not valid JSON"),
        (json.dumps({"lanes": [], "raw_file": "a.jpg"}), r"label_data_0313.json:2: missing key 'h_samples'"),
        (line("a.jpg", [["x"] * 6]), r"label_data_0313.json:2: 'lanes' must be a list of lists"),
        ("[1, 2]", r"label_data_0313.json:2: a JSON list"),
    ],
)
def test_bad_lines_are_one_line_errors_naming_file_and_line(tmp_path, text, message):
    write_layout(tmp_path, {"label_data_0313.json": [line("clips/a/1/20.jpg", four_lanes()), text]})
    with pytest.raises(ValueError, match=message) as err:
        read_tusimple_json(tmp_path / "label_data_0313.json")
    assert "\n" not in str(err.value)


def test_missing_frame_names_the_path_and_the_fix(tmp_path):
    write_layout(tmp_path, {"label_data_0313.json": [line("clips/a/1/20.jpg", four_lanes())]})
    with pytest.raises(FileNotFoundError, match=r"frame clips/a/1/20.jpg \(label_data_0313.json:1\)") as err:
        TuSimpleLanes([tmp_path / "label_data_0313.json"])
    assert "clips/ sits beside the label files" in str(err.value) and "RECUR_DATA" in str(err.value)
    with pytest.raises(FileNotFoundError, match="not found"):
        TuSimpleLanes([tmp_path / "label_data_0313.json"], missing_frames="skip")


def test_unreadable_frame_is_one_line(tmp_path):
    write_layout(tmp_path, {"label_data_0313.json": [line("clips/a/1/20.jpg", four_lanes())]}, ["clips/a/1/20.jpg"])
    (tmp_path / "clips/a/1/20.jpg").write_bytes(b"not a jpeg")
    dataset = TuSimpleLanes([tmp_path / "label_data_0313.json"], image_size=(72, 128))
    with pytest.raises(ValueError, match=r"20.jpg: not an image PIL reads") as err:
        dataset[0]
    assert "\n" not in str(err.value)


def test_splits_of_a_folder_in_the_real_layout(tmp_path):
    frames = {
        "label_data_0313.json": ["clips/0313-1/1/20.jpg"],
        "label_data_0601.json": ["clips/0601/2/20.jpg", "clips/0601/3/20.jpg"],
        "label_data_0531.json": ["clips/0531/4/20.jpg"],
        "test_label.json": ["clips/0530/5/20.jpg"],
    }
    write_layout(
        tmp_path,
        {name: [line(raw, four_lanes()) for raw in raws] for name, raws in frames.items()},
        [raw for raws in frames.values() for raw in raws],
    )
    sizes = {split: len(tusimple_split(split, folder=tmp_path, image_size=(36, 64))) for split in TUSIMPLE_SPLITS}
    assert sizes == {"train": 3, "val": 1, "test": 1}
    item = tusimple_split("val", folder=tmp_path, image_size=(36, 64), mean=(0.5,) * 3, std=(0.25,) * 3)[0]
    assert item["image"].shape == (3, 36, 64) and item["mask"].dtype == torch.int64
    assert item["image"].mean().item() == pytest.approx((90 / 255 - 0.5) / 0.25, abs=1e-4)
    with pytest.raises(ValueError, match="unknown TuSimple split 'dev'; valid splits: train, val, test"):
        tusimple_split_files("dev", folder=tmp_path)
    (tmp_path / "label_data_0601.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"label_data_0601\.json not found"):
        tusimple_split("train", folder=tmp_path)


def test_missing_real_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"dataset 'label_data_0313.json' not found .*train_set.zip"):
        tusimple_split_files("train", root=str(tmp_path))


def test_evaluate_files_with_the_official_metric(tmp_path):
    gt = [line("a.jpg", four_lanes()), line("b.jpg", four_lanes()[:2])]
    pred = [line("a.jpg", four_lanes(), run_time=5), line("b.jpg", four_lanes()[:1], run_time=5)]
    write_layout(tmp_path, {"gt.json": gt, "pred.json": pred})
    score = evaluate_tusimple(tmp_path / "pred.json", tmp_path / "gt.json")
    # frame a perfect; frame b: one of two lanes found, and the missing lane's rows all miss
    assert (score.accuracy, score.fp, score.fn) == pytest.approx((0.75, 0.0, 0.25))


# --------------------------------------------------------------------------------------------- targets


def test_lane_slots_follow_the_official_left_to_right_order():
    lanes = four_lanes()
    shuffled = [lanes[2], lanes[0], lanes[3], lanes[1]]
    frame = TuSimpleFrame("a.jpg", ROWS, shuffled)
    assert tusimple_lane_slots(frame) == (1, 3, 0, 2)
    # only lanes right of the car: ids 3 and 4; a lane with one point is ignored
    frame = TuSimpleFrame("a.jpg", ROWS, [lanes[3], lanes[2], [-2, -2, -2, -2, -2, 10]])
    assert tusimple_lane_slots(frame) == (None, None, 1, 0)


def test_segmentation_mask_ids_widths_and_existence():
    lanes = four_lanes()
    short = [-2, -2, -2, 500, 480, 460]  # the ego-left line with 3 points: below the port's 4, left out
    frame = TuSimpleFrame("a.jpg", ROWS, [lanes[0], short, lanes[2], lanes[3]])
    mask, exist = tusimple_segmentation(frame, (720, 1280))
    assert exist.tolist() == [1.0, 0.0, 1.0, 1.0]
    assert set(np.unique(mask).tolist()) == {0, 1, 3, 4}
    # the right ego line runs at 45 degrees through x = 750 at row 150; OpenCV's 15 px line reaches
    # 8 px across it, 8 * sqrt(2) = 11.3 px along the row
    assert np.flatnonzero(mask[150] == 3).tolist() == list(range(739, 762))
    # a vertical line at x = 640: 8 px either side (17 columns, as cv2.line draws thickness 15);
    # at a quarter of the size the 16 px drawn width is 4: 2 px either side
    upright = TuSimpleFrame("a.jpg", ROWS, [[640] * 6])
    mask, exist = tusimple_segmentation(upright, (720, 1280))
    assert exist.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert np.flatnonzero(mask[150] == 2).tolist() == list(range(632, 649))
    small, _ = tusimple_segmentation(upright, (180, 320))
    assert np.flatnonzero(small[150 // 4] == 2).tolist() == [158, 159, 160, 161, 162]
    # the odd-width rule is applied once, to cv2's 15: a mask 560 px wide draws 16 * 560 / 1280 = 7 px, not 9
    narrow, _ = tusimple_segmentation(upright, (315, 560))
    assert np.flatnonzero(narrow[66] == 2).tolist() == list(range(277, 284))
