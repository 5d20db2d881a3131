"""The KITTI AP on hand-built cases whose value follows from the official rules by hand.

With n valid ground truths all found with precision 1, the official recall sampling takes one
threshold per true positive while the recall steps of 1/40 outpace them, so AP_R40 is 100 only
when n >= 41 (41 thresholds). The cases below use 50 cars (10 frames of 5), where one miss leaves
40 thresholds (precision 0 at recall 1: AP_R40 = 39/40, AP_R11 = 10/11) and one false positive
above every true positive makes the interpolated precision 50/51 everywhere.
"""

import math

import numpy as np
import pytest

from recur_pointcloud.data.kitti import KittiObjects
from recur_pointcloud.metrics import kitti_ap
from recur_pointcloud.metrics.kitti_ap import DIFFICULTIES, METRICS, kitti_eval, precision_curve, sample_thresholds

LENGTH = 3.9


def objects(rows: list[dict]) -> KittiObjects:
    """Objects from dicts with defaults: a visible 1.5 x 1.6 x 3.9 Car, image box 100 px high."""
    full = [
        {
            "name": "Car",
            "truncated": 0.0,
            "occluded": 0,
            "alpha": 0.0,
            "bbox": [100.0, 100.0, 200.0, 200.0],
            "dimensions": [1.5, 1.6, LENGTH],
            "location": [0.0, 1.7, 10.0],
            "rotation_y": 0.0,
            "score": -1.0,
        }
        | row
        for row in rows
    ]
    if not full:
        return KittiObjects.empty()
    return KittiObjects(**{key: [row[key] for row in full] for key in full[0]})


def parking_lot(frames: int = 10, per_frame: int = 5) -> list[list[dict]]:
    """Cars 10 m apart across, 8 m apart ahead: no two overlap."""
    return [[{"location": [10.0 * i - 20, 1.7, 10.0 + 8 * f]} for i in range(per_frame)] for f in range(frames)]


def detect(rows: list[list[dict]], start: float = 0.9) -> list[list[dict]]:
    """The ground truth as detections with distinct descending scores."""
    scores = iter(np.linspace(start, 0.1, sum(len(r) for r in rows)))
    return [[row | {"score": float(next(scores))} for row in frame] for frame in rows]


def evaluate(truth, found, **kwargs) -> dict[str, float]:
    return kitti_eval([objects(r) for r in truth], [objects(r) for r in found], **kwargs)


def test_perfect_detections_score_100():
    truth = parking_lot()
    result = evaluate(truth, detect(truth))
    for metric in METRICS:
        for difficulty in DIFFICULTIES:
            assert result[f"Car_{metric}_{difficulty}_R40"] == pytest.approx(100.0)
            assert result[f"Car_{metric}_{difficulty}"] == pytest.approx(100.0)
    # no pedestrians or cyclists at all: AP 0, as the official code reports
    assert result["Pedestrian_3d_moderate_R40"] == 0.0 and result["Cyclist_bev_easy"] == 0.0


def test_one_missed_box():
    truth = parking_lot()
    found = detect(truth)
    found[3] = found[3][1:]
    result = evaluate(truth, found, classes=["Car"])
    assert result["Car_3d_moderate_R40"] == pytest.approx(100 * 39 / 40)
    assert result["Car_3d_moderate"] == pytest.approx(100 * 10 / 11)


def test_one_false_positive():
    truth = parking_lot()
    ghost = {"location": [40.0, 1.7, 60.0], "bbox": [600.0, 100.0, 700.0, 200.0]}
    above = detect(truth)
    above[0] = above[0] + [ghost | {"score": 0.95}]
    for key, value in evaluate(truth, above, classes=["Car"]).items():
        assert value == pytest.approx(100 * 50 / 51), key
    # below every true positive's score it is below every threshold: no effect
    below = detect(truth)
    below[0] = below[0] + [ghost | {"score": 0.01}]
    assert evaluate(truth, below, classes=["Car"])["Car_3d_moderate_R40"] == pytest.approx(100.0)


@pytest.mark.parametrize("margin", [-0.01, 0.01])
def test_a_rotated_box_at_the_iou_threshold(margin):
    # slid by s along its heading, a box keeps IoU (l - s) / (l + s) with itself in BEV and in 3D: 0.7 at s*
    s = LENGTH * 0.3 / 1.7 + margin
    truth = parking_lot()
    truth[0][0] |= {"rotation_y": 0.5}
    found = detect(truth)
    x, y, z = truth[0][0]["location"]
    # the length of a camera box turned by ry runs along (cos ry, 0, -sin ry)
    found[0][0] = found[0][0] | {"location": [x + s * math.cos(0.5), y, z - s * math.sin(0.5)], "score": 0.01}
    result = evaluate(truth, found, classes=["Car"])
    expected = 100.0 if margin < 0 else 100 * 39 / 40
    assert result["Car_bev_moderate_R40"] == pytest.approx(expected)
    assert result["Car_3d_moderate_R40"] == pytest.approx(expected)
    # the image boxes are unchanged: a hit there either way
    assert result["Car_image_moderate_R40"] == pytest.approx(100.0)
    # the loose set asks only 0.5 in BEV and 3D
    assert evaluate(truth, found, classes=["Car"], overlaps="loose")["Car_3d_moderate_R40"] == pytest.approx(100.0)


def test_dontcare_regions_absorb_image_false_positives_only():
    truth = parking_lot()
    truth[0] = truth[0] + [
        {"name": "DontCare", "bbox": [500.0, 100.0, 700.0, 250.0], "truncated": -1.0, "occluded": -1}
    ]
    found = detect(truth)
    found[0] = [r for r in found[0] if r.get("name") != "DontCare"] + [
        {"bbox": [520.0, 120.0, 600.0, 200.0], "location": [40.0, 1.7, 60.0], "score": 0.95}
    ]
    result = evaluate(truth, found, classes=["Car"])
    assert result["Car_image_moderate_R40"] == pytest.approx(100.0)
    # the official code applies DontCare to the image metric alone
    assert result["Car_bev_moderate_R40"] == pytest.approx(100 * 50 / 51)
    assert result["Car_3d_moderate_R40"] == pytest.approx(100 * 50 / 51)


@pytest.mark.parametrize(("neighbour", "evaluated"), [("Van", "Car"), ("Person_sitting", "Pedestrian")])
def test_van_and_person_sitting_are_ignored_not_missed(neighbour, evaluated):
    truth = [[r | {"name": evaluated} for r in frame] for frame in parking_lot()]
    truth[0] = truth[0] + [{"name": neighbour, "location": [40.0, 1.7, 60.0], "bbox": [600.0, 100.0, 700.0, 200.0]}]
    found = detect(truth)
    # detected as the evaluated class: matched to an ignored object, neither true nor false positive
    found[0][-1] = found[0][-1] | {"name": evaluated, "score": 0.95}
    result = evaluate(truth, found, classes=[evaluated])
    assert result[f"{evaluated}_3d_moderate_R40"] == pytest.approx(100.0)
    # the same detection where nothing is labelled is a false positive
    truth[0] = truth[0][:-1]
    assert evaluate(truth, found, classes=[evaluated])[f"{evaluated}_3d_moderate_R40"] == pytest.approx(100 * 50 / 51)


def test_difficulty_levels():
    truth = parking_lot(frames=12)
    # 15 of 60 cars half occluded: they count only at hard
    for frame in truth[:3]:
        for row in frame:
            row["occluded"] = 2
    found = [frame if f >= 3 else [] for f, frame in enumerate(detect(truth))]
    result = evaluate(truth, found, classes=["Car"])
    assert result["Car_3d_easy_R40"] == pytest.approx(100.0)
    assert result["Car_3d_moderate_R40"] == pytest.approx(100.0)
    assert result["Car_3d_hard_R40"] < 80.0
    # the occluded cars found as well: a hit at hard, no false positive at easy or moderate
    result = evaluate(truth, detect(truth), classes=["Car"])
    assert all(result[f"Car_3d_{d}_R40"] == pytest.approx(100.0) for d in DIFFICULTIES)


@pytest.mark.parametrize(("height", "moderate"), [(20.0, 100.0), (30.0, 100 * 50 / 51)])
def test_low_detections_are_ignored_by_level(height, moderate):
    truth = parking_lot()
    found = detect(truth)
    found[0] = found[0] + [
        {"bbox": [600.0, 100.0, 650.0, 100.0 + height], "location": [40.0, 1.7, 60.0], "score": 0.95}
    ]
    result = evaluate(truth, found, classes=["Car"])
    # easy ignores detections lower than 40 px, moderate lower than 25 px
    assert result["Car_3d_easy_R40"] == pytest.approx(100.0)
    assert result["Car_3d_moderate_R40"] == pytest.approx(moderate)


def test_one_truth_found_gives_the_official_small_sample_values():
    # one threshold: precision 1 at recall 0 only (AP_R40 0), and 1 of the 11 points of AP_R11
    truth = [[{"location": [0.0, 1.7, 10.0]}]]
    curve = precision_curve([objects(r) for r in truth], [objects(r) for r in detect(truth)])
    assert curve[0] == 1.0 and not curve[1:].any()
    result = evaluate(truth, detect(truth), classes=["Car"])
    assert result["Car_3d_moderate_R40"] == 0.0 and result["Car_3d_moderate"] == pytest.approx(100 / 11)


def _reference_thresholds(scores, num_gt, points=41):
    """The recall-sampling rule written out one score at a time."""
    scores = sorted(scores, reverse=True)
    taken, recall = [], 0.0
    for i, score in enumerate(scores):
        left = (i + 1) / num_gt
        right = (i + 2) / num_gt if i < len(scores) - 1 else left
        if right - recall < recall - left and i < len(scores) - 1:
            continue
        taken.append(score)
        recall += 1 / (points - 1.0)
    return taken


@pytest.mark.parametrize(("count", "num_gt"), [(1, 1), (7, 9), (40, 40), (49, 50), (300, 310), (1000, 3000)])
def test_threshold_sampling_agrees_with_the_rule(count, num_gt):
    scores = np.random.default_rng(count).random(count)
    assert sample_thresholds(scores, num_gt).tolist() == _reference_thresholds(scores.tolist(), num_gt)


def _reference_counts(overlaps, ignored_gt, ignored_dt, scores, min_overlap, threshold):
    """One frame's true/false positives and misses at one threshold, one object at a time."""
    assigned = [False] * len(scores)
    tp = fn = 0
    for g in range(len(ignored_gt)):
        if ignored_gt[g] == -1:
            continue
        pick, best, spare = -1, 0.0, False
        for d in range(len(scores)):
            if ignored_dt[d] == -1 or assigned[d] or scores[d] < threshold or overlaps[d, g] <= min_overlap:
                continue
            if ignored_dt[d] == 0 and (overlaps[d, g] > best or spare):
                pick, best, spare = d, overlaps[d, g], False
            elif ignored_dt[d] == 1 and pick == -1:
                pick, spare = d, True
        if pick == -1:
            fn += ignored_gt[g] == 0
        else:
            assigned[pick] = True
            tp += ignored_gt[g] == 0 and ignored_dt[pick] == 0
    fp = sum(1 for d in range(len(scores)) if not assigned[d] and ignored_dt[d] == 0 and scores[d] >= threshold)
    return tp, fp, fn


def test_batched_matching_agrees_with_one_object_at_a_time():
    rng = np.random.default_rng(0)
    truth, found = [], []
    for _ in range(6):
        cars = [
            {
                "location": [rng.uniform(-8, 8), 1.7, rng.uniform(5, 30)],
                "rotation_y": rng.uniform(-3, 3),
                "occluded": int(rng.integers(0, 3)),
                "name": str(rng.choice(["Car", "Van"])),
            }
            for _ in range(6)
        ]
        truth.append(cars)
        hits = [
            c
            | {
                "location": list(np.add(c["location"], rng.normal(0, 0.4, 3) * [1, 0, 1])),
                "name": "Car",
                "score": float(rng.random()),
            }
            for c in cars
            if rng.random() < 0.8
        ]
        ghosts = [
            {
                "location": [rng.uniform(-8, 8), 1.7, rng.uniform(5, 30)],
                "score": float(rng.random()),
                "bbox": [0.0, 0.0, 50.0, float(rng.choice([20.0, 80.0]))],
            }
            for _ in range(3)
        ]
        found.append(hits + ghosts)
    gt, dt = [objects(r) for r in truth], [objects(r) for r in found]
    thresholds = np.array([0.0, 0.3, 0.6, 0.9])
    for metric in ("bev", "3d"):
        [chunk] = kitti_ap._chunks(gt, dt, metric)
        for level in range(3):
            ignored_gt, ignored_dt = chunk.flags("car", level)
            counts = kitti_ap._counts(chunk, ignored_gt, ignored_dt, 0.5, thresholds)
            expected = np.zeros((len(thresholds), 3), dtype=int)
            for f in range(len(gt)):
                for t, threshold in enumerate(thresholds):
                    expected[t] += _reference_counts(
                        chunk.overlaps[f], ignored_gt[f], ignored_dt[f], chunk.scores[f], 0.5, threshold
                    )
            np.testing.assert_array_equal(counts, expected)
    # frames split into many chunks give the same numbers
    whole = kitti_eval(gt, dt)
    kitti_ap._PAIR_BUDGET, budget = 50, kitti_ap._PAIR_BUDGET
    try:
        assert kitti_eval(gt, dt) == whole
    finally:
        kitti_ap._PAIR_BUDGET = budget


def test_bad_arguments_are_one_line_errors():
    truth = [objects([{}])]
    with pytest.raises(ValueError, match="one detection set per ground-truth frame"):
        kitti_eval(truth, [])
    with pytest.raises(ValueError, match="unknown class"):
        kitti_eval(truth, truth, classes=["Tram"])
    with pytest.raises(ValueError, match="strict"):
        kitti_eval(truth, truth, overlaps="medium")


def test_frames_without_detections(monkeypatch):
    """An untrained model finds nothing: AP 0, not an error; a frame without detections counts its cars as missed,
    also when the frames are scored in chunks of one (a chunk holding no detection at all)."""
    truth = parking_lot()
    assert evaluate(truth, [[] for _ in truth], classes=["Car"])["Car_3d_moderate_R40"] == 0.0
    found = detect(truth)
    found[3] = []
    whole = evaluate(truth, found, classes=["Car"])
    monkeypatch.setattr(kitti_ap, "_PAIR_BUDGET", 1)
    assert evaluate(truth, found, classes=["Car"]) == whole
    # 45 of 50 cars found, all above any false positive: precision 1 up to recall 0.9
    assert whole["Car_3d_moderate_R40"] == pytest.approx(100 * 36 / 40)


def _noisy_scene(seed: int, frames: int = 8):
    """Cars found with noisy positions (some below the IoU threshold), some missed, and ghosts."""
    rng = np.random.default_rng(seed)
    truth, found = [], []
    for f in range(frames):
        cars = [{"location": [10.0 * i - 20, 1.7, 10.0 + 8 * f], "occluded": int(rng.integers(0, 2))} for i in range(4)]
        truth.append(cars)
        hits = [
            c
            | {"location": list(np.add(c["location"], rng.normal(0, 0.3, 3) * [1, 0, 1])), "score": float(rng.random())}
            for c in cars
            if rng.random() < 0.8
        ]
        found.append([*hits, {"location": [rng.uniform(-20, 20), 1.7, 300.0], "score": float(rng.random())}])
    return [objects(r) for r in truth], [objects(r) for r in found]


@pytest.mark.parametrize("metric", ["bev", "3d"])
def test_bootstrap_draws_score_as_the_resampled_frames_do(metric, monkeypatch):
    """Each draw's AP equals precision_curve's on the drawn frames (duplicates included), in one chunk or many;
    the draws are the same for every method (paired)."""
    gt, dt = _noisy_scene(0)
    _, other = _noisy_scene(1)
    draws = kitti_ap.bootstrap_average_precision(gt, {"a": dt, "b": other}, metric=metric, draws=5, seed=3)
    picks = np.random.default_rng(3).integers(0, len(gt), (5, len(gt)))
    for method, found in (("a", dt), ("b", other)):
        expected = [
            kitti_ap.average_precision(precision_curve([gt[i] for i in pick], [found[i] for i in pick], metric=metric))
            for pick in picks
        ]
        assert draws[method] == pytest.approx(expected)
    monkeypatch.setattr(kitti_ap, "_PAIR_BUDGET", 1)
    chunked = kitti_ap.bootstrap_average_precision(gt, {"a": dt}, metric=metric, draws=5, seed=3)
    assert chunked["a"] == pytest.approx(draws["a"])
    with pytest.raises(ValueError, match="draws must be 1 or more"):
        kitti_ap.bootstrap_average_precision(gt, {"a": dt}, draws=0)
