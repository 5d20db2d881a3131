import itertools
import math

import numpy as np
import pytest

from recur_vision.lane_metrics import (
    LaneCounts,
    TuSimpleScore,
    culane_counts,
    culane_image_counts,
    culane_interpolate,
    culane_iou_matrix,
    culane_lane_mask,
    culane_split_counts,
    polyline_mask,
    run_lengths,
    tusimple_frame_score,
    tusimple_lane_accuracies,
    tusimple_lane_subset,
    tusimple_lane_thresholds,
    tusimple_pixel_threshold,
    tusimple_point_hits,
    tusimple_point_subset,
    tusimple_scores,
)

ROWS = list(range(0, 100, 10))  # 10 h_samples rows


def vertical(x, present=None):
    """A lane at column x on every row (or only where ``present``), -2 elsewhere."""
    return [x if present is None or present[i] else -2 for i in range(len(ROWS))]


# --------------------------------------------------------------------------------------------- TuSimple


def test_tusimple_perfect_frame():
    gt = [vertical(100), vertical(300)]
    assert tusimple_frame_score(gt, gt, ROWS) == (1.0, 0.0, 0.0)


def test_tusimple_lane_below_085_is_a_false_negative_and_its_prediction_a_false_positive():
    gt = [vertical(100)]
    # 8 of 10 points within 20 px (10 px off), 2 points 30 px off: accuracy 0.8 < 0.85
    pred = [[110] * 8 + [130] * 2]
    assert tusimple_frame_score(pred, gt, ROWS) == pytest.approx((0.8, 1.0, 1.0))
    # 9 of 10: accuracy 0.9, matched
    pred = [[110] * 9 + [130]]
    assert tusimple_frame_score(pred, gt, ROWS) == pytest.approx((0.9, 0.0, 0.0))


def test_tusimple_threshold_is_widened_by_the_lane_angle():
    # x = 100 + y: slope dx/dy = 1, 45 degrees, threshold 20 / cos(45) = 28.28 px
    gt = [[100 + y for y in ROWS]]
    assert tusimple_lane_thresholds(gt, ROWS) == pytest.approx([20 * math.sqrt(2)])
    assert tusimple_lane_accuracies([[125 + y for y in ROWS]], gt, ROWS) == pytest.approx([1.0])
    assert tusimple_lane_accuracies([[129 + y for y in ROWS]], gt, ROWS) == pytest.approx([0.0])
    # the difference must be strictly below the threshold: 20 px off a vertical lane is a miss
    assert tusimple_lane_accuracies([vertical(120)], [vertical(100)], ROWS) == pytest.approx([0.0])


def test_tusimple_rows_absent_on_both_sides_count_as_hits():
    half = [i < 5 for i in range(10)]
    gt = [vertical(100, half)]
    # the prediction is absent where the ground truth is: 10 / 10
    assert tusimple_lane_accuracies([vertical(105, half)], gt, ROWS) == pytest.approx([1.0])
    # a prediction present where the ground truth is absent misses those rows: 5 / 10
    assert tusimple_lane_accuracies([vertical(105)], gt, ROWS) == pytest.approx([0.5])


def test_tusimple_more_than_four_lanes_drops_the_worst_and_forgives_one_miss():
    gt = [vertical(x) for x in (100, 300, 500, 700, 900)]
    pred = gt[:4]
    # line accuracies [1, 1, 1, 1, 0]: the 0 is dropped, its FN forgiven
    assert tusimple_frame_score(pred, gt, ROWS) == (1.0, 0.0, 0.0)
    # four ground-truth lanes, one missed: accuracy 3/4, FN 1/4
    assert tusimple_frame_score(pred[:3], gt[:4], ROWS) == pytest.approx((0.75, 0.0, 0.25))


def test_tusimple_too_many_predictions_or_too_slow_scores_zero():
    gt = [vertical(100)]
    pred = [vertical(x) for x in (100, 300, 500, 700)]  # 4 > 1 + 2
    assert tusimple_frame_score(pred, gt, ROWS) == (0.0, 0.0, 1.0)
    assert tusimple_frame_score(gt, gt, ROWS, run_time=201.0) == (0.0, 0.0, 1.0)
    assert tusimple_frame_score(pred[:3], gt, ROWS) == pytest.approx((1.0, 2 / 3, 0.0))


def test_tusimple_matching_is_not_one_to_one_as_in_the_official_code():
    # two lanes 10 px apart, one prediction between them: both matched, FP = 1 - 2 = -1
    gt = [vertical(100), vertical(110)]
    assert tusimple_frame_score([vertical(105)], gt, ROWS) == pytest.approx((1.0, -1.0, 0.0))


def test_tusimple_no_prediction_and_no_ground_truth():
    assert tusimple_frame_score([], [vertical(100)], ROWS) == (0.0, 0.0, 1.0)
    assert tusimple_frame_score([vertical(100)], [], ROWS) == (0.0, 1.0, 0.0)


def test_tusimple_lane_length_mismatch_is_one_line():
    with pytest.raises(ValueError, match="predicted lane 0 has 3 x values but h_samples has 10") as err:
        tusimple_frame_score([[1, 2, 3]], [vertical(100)], ROWS)
    assert "\n" not in str(err.value)


def test_tusimple_scores_average_over_ground_truth_frames():
    gts = [
        {"raw_file": "a.jpg", "h_samples": ROWS, "lanes": [vertical(100)]},
        {"raw_file": "b.jpg", "h_samples": ROWS, "lanes": [vertical(100), vertical(300)]},
    ]
    preds = [
        {"raw_file": "a.jpg", "lanes": [vertical(100)], "run_time": 10},
        {"raw_file": "b.jpg", "lanes": [vertical(100), vertical(700)], "run_time": 10},
    ]
    score = tusimple_scores(preds, gts)
    # frame a: (1, 0, 0); frame b: (0.5, 0.5, 0.5)
    assert score == TuSimpleScore(0.75, 0.25, 0.25, 2)
    assert score.f1 == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"have no prediction, the first 'b\.jpg'"):
        tusimple_scores(preds[:1], gts)
    with pytest.raises(ValueError, match=r"without ground truth, the first 'c\.jpg'"):
        tusimple_scores([*preds, {"raw_file": "c.jpg", "lanes": []}], gts)
    with pytest.raises(ValueError, match="twice"):
        tusimple_scores([*preds, preds[0]], gts)


def test_tusimple_pixel_threshold_scales_with_the_frame_width():
    assert tusimple_pixel_threshold(1280) == 20 and tusimple_pixel_threshold(512) == 8
    gts = [{"raw_file": "a.jpg", "h_samples": ROWS, "lanes": [vertical(100)]}]
    preds = [{"raw_file": "a.jpg", "lanes": [vertical(110)]}]
    # 10 px off: a hit at 1280 px (20 px), a miss on a 512-px frame (8 px)
    assert tusimple_scores(preds, gts).accuracy == 1.0
    assert tusimple_scores(preds, gts, tusimple_pixel_threshold(512)) == TuSimpleScore(0.0, 1.0, 1.0, 1)
    assert tusimple_lane_thresholds([vertical(5)], ROWS, 8.0).tolist() == [8.0]
    assert tusimple_lane_subset(preds, [{**gts[0], "flag": [True]}], "flag", pixel_threshold=8.0).matched == 0.0
    with pytest.raises(ValueError, match="width must be positive"):
        tusimple_pixel_threshold(0)


def test_ground_truth_without_rows_or_lanes_is_one_line():
    preds = [{"raw_file": "a.jpg", "lanes": [vertical(100)]}]
    with pytest.raises(ValueError, match=r"'a\.jpg' has no 'h_samples'") as err:
        tusimple_scores(preds, [{"raw_file": "a.jpg", "lanes": [vertical(100)]}])
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="has no 'lanes'"):
        tusimple_lane_subset(preds, [{"raw_file": "a.jpg", "h_samples": ROWS, "occluded": []}], "occluded")


def test_tusimple_lane_subset_scores_flagged_lanes_only():
    gts = [
        {"raw_file": "a.jpg", "h_samples": ROWS, "lanes": [vertical(100), vertical(300)], "occluded": [True, False]},
        {"raw_file": "b.jpg", "h_samples": ROWS, "lanes": [vertical(500)], "occluded": [True]},
    ]
    preds = [{"raw_file": "a.jpg", "lanes": [vertical(100), vertical(300)]}, {"raw_file": "b.jpg", "lanes": []}]
    occluded = tusimple_lane_subset(preds, gts, "occluded")
    assert (occluded.lanes, occluded.accuracy, occluded.matched) == (2, 0.5, 0.5)
    visible = tusimple_lane_subset(preds, gts, "occluded", value=False)
    assert (visible.lanes, visible.accuracy, visible.matched) == (1, 1.0, 1.0)
    with pytest.raises(ValueError, match="no per-lane 'dashed' list"):
        tusimple_lane_subset(preds, gts, "dashed")


# --------------------------------------------------------------------------------------------- drawing


def brute_force_distance(points, height, width):
    """Distance of every pixel centre to a polyline (rounded vertices), by brute force."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    best = np.full((height, width), np.inf)
    vertices = np.rint(np.asarray(points, dtype=np.float64))
    for (x0, y0), (x1, y1) in itertools.pairwise(vertices):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        best = np.minimum(best, np.hypot(xs - x0 - t * dx, ys - y0 - t * dy))
    return best


@pytest.mark.parametrize(("thickness", "radius"), [(30, 15), (15, 8), (4, 2), (7.5, 3.75)])
def test_polyline_mask_is_every_pixel_within_half_the_width(thickness, radius):
    # half the width, or (t + 1) / 2 for an odd integer t as OpenCV draws it
    rng = np.random.default_rng(int(thickness))
    points = np.cumsum(rng.uniform(-25, 25, size=(6, 2)), axis=0) + np.array([60, 50])
    mask = polyline_mask(points, 100, 120, thickness)
    distance = brute_force_distance(points, 100, 120)
    # identical except pixels within 0.01 px of the boundary (the sampled discs' approximation)
    clear = np.abs(distance - radius) > 0.01
    assert np.array_equal(mask[clear], (distance <= radius)[clear])
    assert mask.sum() > 0


def test_polyline_mask_odd_rule_can_be_left_out():
    # OpenCV draws 7 px as 4 either side (9 columns); opencv_odd=False draws 3.5 either side (7 columns)
    assert np.flatnonzero(polyline_mask([(20, 0), (20, 30)], 31, 41, 7)[10]).tolist() == list(range(16, 25))
    exact = polyline_mask([(20, 0), (20, 30)], 31, 41, 7, opencv_odd=False)
    assert np.flatnonzero(exact[10]).tolist() == list(range(17, 24))


def test_polyline_mask_hand_worked_segment():
    mask = polyline_mask([(10.2, 20.4), (50, 20)], 60, 80, 30)
    # rounded to (10, 20)-(50, 20): rows 5..35 between the ends, round caps of radius 15
    assert mask[5, 30] and mask[35, 30] and not mask[4, 30] and not mask[36, 30]
    assert mask[20, 65] and not mask[20, 66] and mask[20, 0]
    assert not polyline_mask([], 10, 10, 3).any()
    assert polyline_mask([(5, 5)], 11, 11, 4).sum() == 13  # a disc of radius 2: 13 lattice points


# --------------------------------------------------------------------------------------------- CULane


def test_culane_interpolate_matches_the_evaluator_sampling():
    line = np.array([[0.0, 0.0], [10.0, 20.0], [20.0, 40.0], [30.0, 60.0]])
    dense = culane_interpolate(line)
    assert dense.shape == (3 * 50 + 1, 2)
    # a natural spline through collinear, evenly spaced points is the line itself
    assert np.allclose(dense[:, 1], 2 * dense[:, 0])
    assert np.allclose(dense[::50], line)
    curve = np.array([[0.0, 0.0], [10.0, 30.0], [40.0, 50.0]])
    dense = culane_interpolate(curve, times=10)
    assert np.allclose(dense[::10], curve)
    # natural boundary: zero second derivative at both ends
    second = np.diff(dense, 2, axis=0)
    assert np.abs(second[0]).max() < 0.05 * np.abs(second).max()
    # two points are drawn as they are; repeated points are dropped
    assert np.array_equal(culane_interpolate(line[:2]), line[:2])
    assert len(culane_interpolate(np.repeat(line[:3], 2, axis=0))) == 2 * 50 + 1


def test_culane_iou_of_parallel_lanes_hand_worked():
    a = vertical_lane(100.0)
    # 15 px apart, 30 px wide: 16 shared columns of 46 over the rows between the caps
    iou = culane_iou_matrix([a], [a + np.array([15, 0])])[0, 0]
    assert iou == pytest.approx(16 / 46, abs=0.01)
    assert culane_iou_matrix([a], [a])[0, 0] == 1.0
    # a lane of one point has IoU 0 with everything
    assert culane_iou_matrix([a], [a[:1]])[0, 0] == 0.0
    assert culane_lane_mask(a[:1]).sum() == 0


def test_culane_counts_true_positive_needs_iou_strictly_above_threshold():
    a = vertical_lane(100.0)
    b = a + np.array([8, 0])
    iou = culane_iou_matrix([a], [b])[0, 0]
    assert 0.5 < iou < 0.7
    assert culane_image_counts([a], [b]) == LaneCounts(1, 0, 0)
    assert culane_image_counts([a], [b], iou_threshold=iou) == LaneCounts(0, 1, 1)


def vertical_lane(x):
    return np.array([[x, 0.0], [x, 589.0]])


def test_culane_hungarian_matching_maximises_total_iou():
    a, b = vertical_lane(100.0), vertical_lane(112.0)
    p1, p2 = vertical_lane(103.0), vertical_lane(94.0)
    ious = culane_iou_matrix([a, b], [p1, p2])
    # 31-px-wide bands shifted by d overlap (31 - d) / (31 + d): a-p1 28/34, b-p1 22/40, a-p2 25/37, b-p2 13/49
    assert ious == pytest.approx(np.array([[28 / 34, 25 / 37], [22 / 40, 13 / 49]]), abs=1e-3)
    # greedy would take a-p1 (0.82) first and leave b-p2 (0.27): 1 TP; the maximum total IoU pairs
    # a-p2 and b-p1, both above 0.5: 2 TPs
    assert culane_image_counts([a, b], [p1, p2]) == LaneCounts(2, 0, 0)
    assert culane_image_counts([a, b], [p2, p1, vertical_lane(1000.0)]) == LaneCounts(2, 1, 0)
    assert culane_image_counts([a, b], []) == LaneCounts(0, 0, 2)
    assert culane_image_counts([], [p1]) == LaneCounts(0, 1, 0)


def test_lane_counts_precision_recall_f1_and_sums():
    counts = LaneCounts(3, 1, 2)
    assert (counts.precision, counts.recall) == (0.75, 0.6)
    assert counts.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert LaneCounts().f1 == 0.0
    assert counts + LaneCounts(1, 1, 1) == LaneCounts(4, 2, 3)


def test_culane_counts_per_split_and_missing_predictions():
    lane = np.array([[100.0, 0.0], [120.0, 300.0], [150.0, 589.0]])
    annotations = {"a.jpg": [lane], "b.jpg": [lane, lane + np.array([600, 0])], "c.jpg": []}
    predictions = {"a.jpg": [lane], "c.jpg": [lane]}
    assert culane_counts(predictions, annotations) == LaneCounts(1, 1, 2)
    splits = culane_split_counts(predictions, annotations, {"normal": ["a.jpg", "b.jpg"], "cross": ["c.jpg"]})
    assert splits == {"normal": LaneCounts(1, 0, 2), "cross": LaneCounts(0, 1, 0)}
    with pytest.raises(ValueError, match=r"'z\.jpg' has no annotation"):
        culane_counts(predictions, annotations, ["z.jpg"])


def test_run_lengths_hand_worked():
    flags = [False, True, True, False, True, True, True, False, True]
    assert run_lengths(flags).tolist() == [0, 2, 2, 0, 3, 3, 3, 0, 1]
    assert run_lengths([]).tolist() == [] and run_lengths([True] * 4).tolist() == [4] * 4


def test_point_hits_are_the_best_predictions_rows_within_the_threshold():
    # ground truth at x = 100 on all 10 rows; prediction a hits rows 0-5, prediction b rows 4-9 and row 0
    a = [100] * 6 + [200] * 4
    b = [100] + [200] * 3 + [105] * 6
    hits = tusimple_point_hits([a, b], [vertical(100)], ROWS, pixel_threshold=10.0)
    # b hits 7 rows, a 6: the rows b hits (|105 - 100| < 10), not a's
    assert hits.tolist() == [[True, False, False, False, True, True, True, True, True, True]]
    assert tusimple_lane_accuracies([a, b], [vertical(100)], ROWS, 10.0).tolist() == [0.7]
    assert tusimple_point_hits([], [vertical(100)], ROWS).shape == (1, 10)


def test_point_subset_scores_the_flagged_points_of_the_matched_lane():
    # frame a: lane 0 hidden on rows 2-7 (a run of 6), lane 1 on row 9 (a run of 1); frame b: no prediction
    hidden_a = [[i in range(2, 8) for i in range(10)], [i == 9 for i in range(10)]]
    hidden_b = [[i in (0, 1) for i in range(10)]]
    gts = [
        {"raw_file": "a.jpg", "h_samples": ROWS, "lanes": [vertical(100), vertical(300)], "hidden": hidden_a},
        {"raw_file": "b.jpg", "h_samples": ROWS, "lanes": [vertical(500)], "hidden": hidden_b},
    ]
    # lane 0's prediction is off by 30 px on rows 5-9 (hits rows 2, 3, 4 of its 6 hidden); lane 1's is exact
    off = [100] * 5 + [130] * 5
    preds = [{"raw_file": "a.jpg", "lanes": [off, vertical(300)]}]
    every = tusimple_point_subset(preds, gts, "hidden", pixel_threshold=20.0)
    assert (every.points, every.recall) == (9, 4 / 9)
    # the lanes hidden over >= 3 rows: lane 0 only; >= 7: none
    long = tusimple_point_subset(preds, gts, "hidden", min_run=3, pixel_threshold=20.0)
    assert (long.points, long.recall) == (6, 0.5)
    assert tusimple_point_subset(preds, gts, "hidden", min_run=7).points == 0
    with pytest.raises(ValueError, match="per-point 'hidden'"):
        tusimple_point_subset(preds, [{**gts[1], "hidden": [[True]]}], "hidden")
