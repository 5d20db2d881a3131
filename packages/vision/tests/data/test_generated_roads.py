import json

import numpy as np
import pytest

from recur_vision.data.generated_roads import (
    GENERATED_LABEL_FILES,
    OCCLUDED_FRACTION,
    _box_columns,
    render_road,
    tusimple_h_samples,
    write_generated_tusimple,
)
from recur_vision.data.tusimple import TuSimpleFrame, read_tusimple_json, tusimple_split
from recur_vision.lane_metrics import run_lengths, tusimple_lane_subset, tusimple_point_subset, tusimple_scores
from recur_vision.lanes import LanePrior


def frames(count, height=144, width=256, seed=5):
    return [render_road(np.random.default_rng([seed, i]), height, width) for i in range(count)]


def test_deterministic_for_a_seed_and_sized_as_asked():
    a, label_a = render_road(np.random.default_rng(3), 90, 160)
    b, label_b = render_road(np.random.default_rng(3), 90, 160)
    assert np.array_equal(a, b) and label_a == label_b
    assert a.shape == (90, 160, 3) and a.dtype == np.uint8


def test_h_samples_are_the_benchmark_rows_scaled():
    assert tusimple_h_samples(720) == tuple(range(160, 711, 10))
    assert tusimple_h_samples(288)[:3] == (64, 68, 72) and len(tusimple_h_samples(288)) == 56


def test_labels_are_tusimple_lanes_left_to_right_with_per_lane_flags():
    for _, label in frames(30):
        rows = label["h_samples"]
        assert 2 <= len(label["lanes"]) <= 5
        for key in ("dashed", "occluded", "occlusion"):
            assert len(label[key]) == len(label["lanes"])
        assert all(len(lane) == len(rows) for lane in label["lanes"])
        assert [o >= OCCLUDED_FRACTION and o > 0 for o in label["occlusion"]] == label["occluded"]
        # the bottom-most row where every lane is present orders the lanes left to right
        xs = np.asarray(label["lanes"])
        common = np.flatnonzero((xs >= 0).all(axis=0))
        if common.size:
            assert np.all(np.diff(xs[:, common[-1]]) > 0)


def test_scenes_vary_dashes_occlusion_shadows_and_lighting():
    labels = [label for _, label in frames(60)]
    dashed = [flag for label in labels for flag in label["dashed"]]
    occluded = [flag for label in labels for flag in label["occluded"]]
    assert 0.2 < np.mean(dashed) < 0.8 and 0.02 < np.mean(occluded) < 0.6
    assert any(label["scene"]["shadows"] for label in labels) and any(label["scene"]["glare"] for label in labels)
    assert np.ptp([label["scene"]["gain"] for label in labels]) > 0.4
    assert len({label["scene"]["curvature"] for label in labels}) > 30


def test_labelled_points_lie_on_painted_lines():
    # near rows of solid, unoccluded lines: brighter at the label than 12 px to either side
    on, beside = [], []
    for image, label in frames(40, seed=11):
        luma = image.astype(np.float64).mean(axis=2)
        rows = np.asarray(label["h_samples"])
        near = rows > 0.8 * image.shape[0]
        for k, xs in enumerate(np.asarray(label["lanes"])):
            keep = near & (xs >= 12) & (xs < image.shape[1] - 12)
            if label["dashed"][k] or label["occluded"][k] or not keep.any():
                continue
            on.extend(luma[rows[keep], xs[keep]])
            beside.extend((luma[rows[keep], xs[keep] - 12] + luma[rows[keep], xs[keep] + 12]) / 2)
    assert len(on) > 50
    assert np.mean(on) > np.mean(beside) + 20


def test_written_layout_is_read_by_the_real_reader(tmp_path):
    folder = write_generated_tusimple(tmp_path / "roads", train=4, val=1, test=2, height=72, width=128, seed=2)
    assert {p.name for p in folder.iterdir()} == {*GENERATED_LABEL_FILES, "clips", "generated.json"}
    sizes = {
        split: len(tusimple_split(split, folder=folder, image_size=(36, 64))) for split in ("train", "val", "test")
    }
    assert sizes == {"train": 4, "val": 1, "test": 2}
    test = read_tusimple_json(folder / "test_label.json")
    assert test[0].raw_file.startswith("clips/0530/") and "occluded" in test[0].extra
    # the per-point hidden flags: one list per lane, one flag per h_samples row
    hidden = test[0].extra["hidden"]
    assert [len(flags) for flags in hidden] == [len(test[0].h_samples)] * len(test[0].lanes)
    item = tusimple_split("train", folder=folder, image_size=(36, 64))[0]
    assert item["image"].shape == (3, 36, 64) and item["exist"].sum() >= 1
    # the metric on the ground truth itself, and on the occluded-lane subset
    gts = [frame.as_json() for frame in test]
    assert tusimple_scores(gts, gts).accuracy == 1.0
    assert tusimple_lane_subset(gts, gts, "dashed").accuracy in (0.0, 1.0)
    # the same arguments again: the folder is kept; other arguments or a foreign folder: an error
    stamp = (folder / "generated.json").stat().st_mtime_ns
    assert write_generated_tusimple(folder, train=4, val=1, test=2, height=72, width=128, seed=2) == folder
    assert (folder / "generated.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="not empty and was not written by write_generated_tusimple"):
        write_generated_tusimple(folder, train=5, val=1, test=2, height=72, width=128, seed=2)
    assert json.loads((folder / "generated.json").read_text())["train"] == 4


def test_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="need train >= 2"):
        write_generated_tusimple(tmp_path / "a", train=1)
    with pytest.raises(ValueError, match="at least 32x32"):
        write_generated_tusimple(tmp_path / "a", height=16)


def hidden_rows(labels):
    """Per lane, how many of its labelled rows a vehicle hides."""
    return np.array(
        [o * np.sum(np.asarray(lane) >= 0) for _, l in labels for o, lane in zip(l["occlusion"], l["lanes"])]
    )


def test_long_occlusions_hide_long_stretches_that_stay_labelled():
    plain = frames(30)
    long = [render_road(np.random.default_rng([5, i]), 144, 256, long_occlusions=True) for i in range(30)]
    assert all("trucks" not in label["scene"] for _, label in plain)
    assert sum(label["scene"]["trucks"] for _, label in long) >= 20
    # a car hides a few label rows of a lane (at most 9 of these 56); trucks hide a dozen or more of many lanes
    assert hidden_rows(plain).max() < 12 and (hidden_rows(long) >= 12).sum() >= 10
    # the same scene otherwise: the option only adds to it
    assert [len(label["lanes"]) for _, label in long] == [len(label["lanes"]) for _, label in plain]


def test_hidden_flags_mark_the_labelled_points_behind_a_vehicle():
    long = [render_road(np.random.default_rng([5, i]), 144, 256, long_occlusions=True) for i in range(12)]
    runs = []
    for _, label in long:
        assert len(label["hidden"]) == len(label["lanes"])
        for lane, hidden, occlusion in zip(label["lanes"], label["hidden"], label["occlusion"]):
            present, hidden = np.asarray(lane) >= 0, np.asarray(hidden)
            assert hidden.dtype == bool and len(hidden) == len(label["h_samples"])
            # only labelled points are hidden, and they are the points the lane's occlusion fraction counts
            assert not (hidden & ~present).any()
            assert hidden.sum() / present.sum() == pytest.approx(occlusion, abs=1e-4)
            runs.append(run_lengths(hidden).max(initial=0))
    # trucks hide some lanes over a dozen rows and more, cars a few rows of others
    assert max(runs) >= 12 and any(0 < r < 12 for r in runs)
    # the metric on the ground truth itself hits every hidden point
    gts = [{**label, "raw_file": str(i)} for i, (_, label) in enumerate(long)]
    assert tusimple_point_subset(gts, gts, "hidden", pixel_threshold=4.0).recall == 1.0


def test_box_columns_project_a_box_row_by_row():
    f, horizon, cam_h = 100.0, 50.0, 1.5
    rows = np.arange(120.0)

    def column(x, z):
        return 200.0 + f * x / z

    lo, hi = _box_columns(rows, horizon, f, cam_h, 10.0, 30.0, 3.0, column, (1.0, 3.0))
    # the rear's bottom edge (ground at 10 m, row 65) is the lowest row seen: its rear face's columns
    assert lo[65] == pytest.approx(210.0) and hi[65] == pytest.approx(230.0) and lo[66] > hi[66]
    # the ground at 30 m (row 55): the whole side from x(1, 30) to x(3, 10)
    assert lo[55] == pytest.approx(200.0 + 100.0 / 30) and hi[55] == pytest.approx(230.0)
    # a 3 m box (over the 1.5 m camera) reaches above the horizon up to its top at 10 m (row 35); a 1 m one does not
    assert lo[36] <= hi[36] and lo[34] > hi[34]
    lo, hi = _box_columns(rows, horizon, f, cam_h, 10.0, 30.0, 1.0, column, (1.0, 3.0))
    assert lo[50] > hi[50] and lo[60] <= hi[60]


def test_long_occlusion_roads_have_their_own_cache(tmp_path, monkeypatch):
    import recur_vision.lanes as lanes

    monkeypatch.setattr(lanes, "generated_cache", lambda: tmp_path)
    long = lanes.generated_roads_folder(None, 2, 1, 1, (64, 112), 0, long_occlusions=True)
    plain = lanes.generated_roads_folder(None, 2, 1, 1, (64, 112), 0)
    assert long != plain and "-long-" in long.name and "long" not in plain.name
    assert json.loads((long / "generated.json").read_text())["long_occlusions"] is True
    assert "trucks" in read_tusimple_json(long / "test_label.json")[0].extra["scene"]
    with pytest.raises(ValueError, match="not written by write_generated_tusimple"):
        write_generated_tusimple(long, train=2, val=1, test=1, height=64, width=112, seed=0)


def test_lane_prior_predicts_the_mean_training_lanes():
    rows = tuple(range(10, 100, 10))
    left, right = [50 - r // 5 for r in rows], [150 + r // 5 for r in rows]
    frames_ = [
        TuSimpleFrame(f"{i}.jpg", rows, ([x + d for x in left], [x - d for x in right])) for i, d in enumerate((-4, 4))
    ]
    prior = LanePrior(frames_, [(100, 200)] * 2)
    assert prior.lanes(rows, (100, 200)) == [left, right]
    # the same lanes at twice the frame size (rows scale too); nothing where no training lane was (row 5)
    assert prior.lanes((20, 40), (200, 400)) == [[2 * left[0], 2 * left[1]], [2 * right[0], 2 * right[1]]]
    assert prior.lanes((5, 10, 20), (100, 200)) == [[-2, *left[:2]], [-2, *right[:2]]]
    with pytest.raises(ValueError, match="needs frames"):
        LanePrior([], [])
