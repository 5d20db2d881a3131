"""The official lane-detection metrics: TuSimple accuracy / FP / FN and the CULane F1.

**TuSimple** (the benchmark's ``evaluate/lane.py``, https://github.com/TuSimple/tusimple-benchmark).
A frame's lanes are x positions at the label's ``h_samples`` rows, ``-2`` (any negative) where the
lane is absent. Per frame, with ``G`` ground-truth and ``P`` predicted lanes:

1. ``P > G + 2`` or a run time over 200 ms: the frame scores (accuracy 0, FP 0, FN 1).
2. Each ground-truth lane gets the threshold ``20 / cos(theta)`` pixels (20 px is for the benchmark's
   1280-px frames: :func:`tusimple_pixel_threshold` scales it to other widths), ``theta = arctan(k)`` with
   ``k`` the least-squares slope of x on y over its present points (0 with fewer than two).
3. Lane accuracy of a (prediction, ground truth) pair: the fraction of **all** ``h_samples`` rows
   where ``|x_pred - x_gt| < threshold``, both sides' absent points set to -100 first (so rows where
   both are absent count as hits, as in the official code). Each ground-truth lane keeps its best
   prediction's accuracy; it is matched when that is >= 0.85, otherwise it is a false negative.
   The matching is not one-to-one (two ground-truth lanes may match one prediction).
4. ``FP = P - matched``; with more than 4 ground-truth lanes the worst lane's accuracy is dropped
   and one FN forgiven.
5. Frame scores: accuracy ``sum / max(min(4, G), 1)``, FP rate ``FP / P`` (0 when ``P = 0``), FN rate
   ``FN / max(min(G, 4), 1)``. The benchmark averages them over the ground-truth frames; its F1 is
   ``2 pr re / (pr + re)`` with ``pr = 1 - FP``, ``re = 1 - FN``.

**CULane** (Pan et al., "Spatial As Deep: Spatial CNN for Traffic Scene Understanding", AAAI 2018,
https://arxiv.org/abs/1712.06080; the evaluator in XingangPan/SCNN ``tools/lane_evaluation``):

1. A lane of more than two points is interpolated by the evaluator's spline: a natural cubic spline
   in x and y over the cumulative chord length, 50 samples per segment plus the last point
   (:func:`culane_interpolate`); a two-point lane is drawn as it is; a lane of fewer points has IoU 0.
2. Each lane is drawn 30 px wide on a 1640x590 mask (:func:`culane_lane_mask`); the IoU of every
   (ground truth, prediction) pair is computed and the pairs are matched by maximum-IoU Hungarian
   assignment (``scipy.optimize.linear_sum_assignment``; the official code runs Kuhn-Munkres).
3. A matched pair is a true positive iff IoU > 0.5 (strict). ``FP = P - TP``, ``FN = G - TP``,
   summed over images; precision, recall and F1 from the sums (:class:`LaneCounts`).

Drawing: the official code draws every segment with OpenCV's ``cv::line`` (endpoints rounded to
integer pixels, ``thickness`` = lane width). Here a thick segment is the set of pixels whose centre
lies within half the width of it, with the endpoints rounded the same way (:func:`polyline_mask`),
which differs from OpenCV's polygon fill only on the rim of diagonal segments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CULANE_IMAGE_SIZE",
    "CULANE_IOU_THRESHOLD",
    "CULANE_LANE_WIDTH",
    "CULANE_SPLINE_TIMES",
    "TUSIMPLE_MAX_RUN_TIME_MS",
    "TUSIMPLE_PIXEL_THRESHOLD",
    "TUSIMPLE_POINT_THRESHOLD",
    "LaneCounts",
    "LaneSubsetScore",
    "PointSubsetScore",
    "TuSimpleScore",
    "culane_counts",
    "culane_image_counts",
    "culane_interpolate",
    "culane_iou_matrix",
    "culane_lane_mask",
    "culane_split_counts",
    "polyline_mask",
    "run_lengths",
    "tusimple_frame_score",
    "tusimple_lane_accuracies",
    "tusimple_lane_subset",
    "tusimple_lane_thresholds",
    "tusimple_pixel_threshold",
    "tusimple_point_hits",
    "tusimple_point_subset",
    "tusimple_scores",
]

TUSIMPLE_PIXEL_THRESHOLD = 20.0
TUSIMPLE_POINT_THRESHOLD = 0.85
TUSIMPLE_MAX_RUN_TIME_MS = 200.0
# the official line_accuracy replaces absent points (x < 0) by this value before differencing
_TUSIMPLE_ABSENT = -100.0

CULANE_IMAGE_SIZE = (590, 1640)  # (height, width)
CULANE_LANE_WIDTH = 30
CULANE_IOU_THRESHOLD = 0.5
CULANE_SPLINE_TIMES = 50


# --------------------------------------------------------------------------------------------- TuSimple


def _lanes_array(lanes: Sequence[Sequence[float]], rows: int, what: str) -> np.ndarray:
    """``[L, rows]`` float64 from a list of lanes, each checked to give one x per ``h_samples`` row."""
    for k, lane in enumerate(lanes):
        if len(lane) != rows:
            raise ValueError(
                f"{what} lane {k} has {len(lane)} x values but h_samples has {rows}; "
                "every lane gives one x (or -2) per h_samples row"
            )
    return np.asarray(lanes, dtype=np.float64).reshape(len(lanes), rows)


def tusimple_pixel_threshold(width: float) -> float:
    """The benchmark's 20 px threshold scaled to frames ``width`` pixels wide (20 at 1280, 8 at 512)."""
    if width <= 0:
        raise ValueError(f"the frame width must be positive, got {width}")
    return TUSIMPLE_PIXEL_THRESHOLD * width / 1280.0


def tusimple_lane_thresholds(
    gt_lanes: Sequence[Sequence[float]],
    h_samples: Sequence[float],
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> np.ndarray:
    """``[G]`` thresholds ``pixel_threshold / cos(arctan(k))``, ``k`` the least-squares slope dx/dy of each lane.

    ``pixel_threshold`` is 20 for the benchmark's 1280-px frames (:func:`tusimple_pixel_threshold` for others).
    """
    ys = np.asarray(h_samples, dtype=np.float64)
    gt = _lanes_array(gt_lanes, len(ys), "ground-truth")
    thresholds = np.full(len(gt), float(pixel_threshold))
    for k, xs in enumerate(gt):
        present = xs >= 0
        if present.sum() > 1:
            slope = np.polyfit(ys[present], xs[present], 1)[0]
            thresholds[k] = pixel_threshold / np.cos(np.arctan(slope))
    return thresholds


def tusimple_point_hits(
    pred_lanes: Sequence[Sequence[float]],
    gt_lanes: Sequence[Sequence[float]],
    h_samples: Sequence[float],
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> np.ndarray:
    """``[G, rows]`` bool: the ``h_samples`` rows where each ground-truth lane's best prediction hits it.

    The best prediction is the one of the highest lane accuracy (the first of equals; the lane it is matched
    to), a hit ``|x_pred - x_gt| <`` the lane's threshold with absent points set to -100 on both sides (a row
    absent from both is a hit, as in the official code); no prediction hits nothing. The row mean is
    :func:`tusimple_lane_accuracies`; ``pixel_threshold`` as in :func:`tusimple_lane_thresholds`.

    Raises:
        ValueError: a lane whose length differs from ``h_samples``.
    """
    rows = len(h_samples)
    pred = _lanes_array(pred_lanes, rows, "predicted")
    gt = _lanes_array(gt_lanes, rows, "ground-truth")
    if len(gt) == 0 or len(pred) == 0:
        return np.zeros((len(gt), rows), dtype=bool)
    thresholds = tusimple_lane_thresholds(gt, h_samples, pixel_threshold)
    pred = np.where(pred >= 0, pred, _TUSIMPLE_ABSENT)
    gt = np.where(gt >= 0, gt, _TUSIMPLE_ABSENT)
    hits = np.abs(pred[None, :, :] - gt[:, None, :]) < thresholds[:, None, None]
    best = hits.mean(axis=2).argmax(axis=1)
    return hits[np.arange(len(gt)), best]


def tusimple_lane_accuracies(
    pred_lanes: Sequence[Sequence[float]],
    gt_lanes: Sequence[Sequence[float]],
    h_samples: Sequence[float],
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> np.ndarray:
    """``[G]``: each ground-truth lane's accuracy against its best prediction (0 with no prediction).

    A lane is matched (found) when its accuracy is >= :data:`TUSIMPLE_POINT_THRESHOLD`;
    ``pixel_threshold`` as in :func:`tusimple_lane_thresholds`.

    Raises:
        ValueError: a lane whose length differs from ``h_samples``.
    """
    hits = tusimple_point_hits(pred_lanes, gt_lanes, h_samples, pixel_threshold)
    return hits.mean(axis=1) if hits.shape[1] else np.zeros(len(hits))


def tusimple_frame_score(
    pred_lanes: Sequence[Sequence[float]],
    gt_lanes: Sequence[Sequence[float]],
    h_samples: Sequence[float],
    run_time: float = 0.0,
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> tuple[float, float, float]:
    """One frame's official ``(accuracy, FP rate, FN rate)`` (``LaneEval.bench``).

    Args:
        pred_lanes: ``P`` predicted lanes, each one x per ``h_samples`` row (negative = absent).
        gt_lanes: ``G`` ground-truth lanes in the same form.
        h_samples: the label's rows.
        run_time: the prediction's run time in ms; over 200 scores the frame (0, 0, 1).
        pixel_threshold: 20 on the benchmark's 1280-px frames (:func:`tusimple_pixel_threshold`).

    Raises:
        ValueError: a lane whose length differs from ``h_samples`` (the official "Format of lanes error").
    """
    rows = len(h_samples)
    _lanes_array(pred_lanes, rows, "predicted")
    _lanes_array(gt_lanes, rows, "ground-truth")
    n_pred, n_gt = len(pred_lanes), len(gt_lanes)
    if run_time > TUSIMPLE_MAX_RUN_TIME_MS or n_gt + 2 < n_pred:
        return 0.0, 0.0, 1.0
    accuracies = tusimple_lane_accuracies(pred_lanes, gt_lanes, h_samples, pixel_threshold)
    matched = int((accuracies >= TUSIMPLE_POINT_THRESHOLD).sum())
    fn = n_gt - matched
    fp = n_pred - matched
    total = float(accuracies.sum())
    if n_gt > 4:
        fn = fn - 1 if fn > 0 else fn
        total -= float(accuracies.min())
    return (
        total / max(min(4.0, n_gt), 1.0),
        fp / n_pred if n_pred > 0 else 0.0,
        fn / max(min(n_gt, 4.0), 1.0),
    )


@dataclass(frozen=True)
class TuSimpleScore:
    """The TuSimple benchmark's numbers: mean accuracy, FP and FN rates over ``frames`` frames."""

    accuracy: float
    fp: float
    fn: float
    frames: int

    @property
    def f1(self) -> float:
        """The newer official ``lane.py``'s F1: ``2 pr re / (pr + re)``, ``pr = 1 - FP``, ``re = 1 - FN``."""
        precision, recall = 1.0 - self.fp, 1.0 - self.fn
        return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _frames_by_file(frames: Iterable[Mapping], what: str) -> dict[str, Mapping]:
    by_file: dict[str, Mapping] = {}
    for frame in frames:
        if "raw_file" not in frame or "lanes" not in frame:
            raise ValueError(f"a {what} has no 'raw_file' or 'lanes'; each is a TuSimple JSON line")
        if frame["raw_file"] in by_file:
            raise ValueError(f"{what}s name {frame['raw_file']!r} twice; give one per frame")
        by_file[frame["raw_file"]] = frame
    return by_file


def tusimple_scores(
    predictions: Iterable[Mapping],
    ground_truth: Iterable[Mapping],
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> TuSimpleScore:
    """The benchmark's ``bench_one_submit``: per-frame scores averaged over the ground-truth frames.

    Args:
        predictions: TuSimple JSON lines as dicts: ``raw_file``, ``lanes`` (on the ground truth's
            ``h_samples``) and optionally ``run_time`` (ms, default 0).
        ground_truth: label JSON lines as dicts: ``raw_file``, ``lanes``, ``h_samples``.
        pixel_threshold: 20 on the benchmark's 1280-px frames (:func:`tusimple_pixel_threshold`).

    Raises:
        ValueError: a frame without a prediction, a prediction for an unknown frame, a frame named
            twice, or a lane whose length differs from ``h_samples``.
    """
    gts = _frames_by_file(ground_truth, "ground-truth frame")
    preds = _frames_by_file(predictions, "prediction")
    if not gts:
        raise ValueError("no ground-truth frame to score")
    unknown = sorted(set(preds) - set(gts))
    if unknown:
        raise ValueError(f"{len(unknown)} prediction(s) for frames without ground truth, the first {unknown[0]!r}")
    missing = sorted(set(gts) - set(preds))
    if missing:
        raise ValueError(
            f"{len(missing)} ground-truth frame(s) have no prediction, the first {missing[0]!r}; "
            "the benchmark needs a line per test frame"
        )
    accuracy = fp = fn = 0.0
    for name, gt in gts.items():
        if "h_samples" not in gt:
            raise ValueError(f"ground-truth frame {name!r} has no 'h_samples'; each label line lists its rows")
        pred = preds[name]
        run_time = float(pred.get("run_time", 0.0))
        a, p, n = tusimple_frame_score(pred["lanes"], gt["lanes"], gt["h_samples"], run_time, pixel_threshold)
        accuracy, fp, fn = accuracy + a, fp + p, fn + n
    return TuSimpleScore(accuracy / len(gts), fp / len(gts), fn / len(gts), len(gts))


@dataclass(frozen=True)
class LaneSubsetScore:
    """Ground-truth lanes of a subset: how many, their mean accuracy and the fraction matched (>= 0.85)."""

    lanes: int
    accuracy: float
    matched: float


def tusimple_lane_subset(
    predictions: Iterable[Mapping],
    ground_truth: Iterable[Mapping],
    flag: str,
    value: bool = True,
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> LaneSubsetScore:
    """The TuSimple lane accuracy over the ground-truth lanes whose per-lane ``flag`` equals ``value``.

    ``ground_truth`` lines carry a list ``flag`` with one entry per lane (the generated roads write
    ``dashed`` and ``occluded``). Frames without a prediction count their lanes as missed.
    ``pixel_threshold`` as in :func:`tusimple_scores`.

    Raises:
        ValueError: a ground-truth line without ``raw_file``, ``lanes`` or ``h_samples``, or without
            ``flag`` or with a list of another length than its lanes.
    """
    preds = _frames_by_file(predictions, "prediction")
    accuracies: list[float] = []
    for gt in ground_truth:
        absent = [key for key in ("raw_file", "lanes", "h_samples") if key not in gt]
        if absent:
            raise ValueError(f"a ground-truth frame has no {absent[0]!r}; each is a TuSimple label line")
        if flag not in gt or len(gt[flag]) != len(gt["lanes"]):
            raise ValueError(
                f"ground-truth frame {gt.get('raw_file')!r} has no per-lane {flag!r} list of {len(gt['lanes'])} entries"
            )
        chosen = [k for k, f in enumerate(gt[flag]) if bool(f) == value]
        if not chosen:
            continue
        pred = preds.get(gt["raw_file"], {"lanes": []})
        lane_acc = tusimple_lane_accuracies(pred["lanes"], gt["lanes"], gt["h_samples"], pixel_threshold)
        accuracies.extend(float(lane_acc[k]) for k in chosen)
    if not accuracies:
        return LaneSubsetScore(0, 0.0, 0.0)
    acc = np.asarray(accuracies)
    return LaneSubsetScore(len(acc), float(acc.mean()), float((acc >= TUSIMPLE_POINT_THRESHOLD).mean()))


def run_lengths(flags: Sequence[bool]) -> np.ndarray:
    """``[N]`` int: for each set flag the length of the unbroken run of set flags it lies in, 0 where unset.

    ``[F, T, T, F, T]`` gives ``[0, 2, 2, 0, 1]``.
    """
    flags = np.asarray(flags, dtype=bool)
    edges = np.diff(np.concatenate([[0], flags.astype(np.int64), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = np.zeros(len(flags), dtype=np.int64)
    lengths[flags] = np.repeat(stops - starts, stops - starts)
    return lengths


@dataclass(frozen=True)
class PointSubsetScore:
    """Ground-truth points of a subset: how many, and the share that their lane's best prediction hits."""

    points: int
    recall: float


def tusimple_point_subset(
    predictions: Iterable[Mapping],
    ground_truth: Iterable[Mapping],
    flag: str,
    min_run: int = 1,
    pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD,
) -> PointSubsetScore:
    """The share of the flagged ground-truth points that the TuSimple metric's matched lane hits.

    ``ground_truth`` lines carry a per-point ``flag``: per lane, one bool per ``h_samples`` row (the generated
    roads write ``hidden``, the points behind a vehicle). A point is hit as the metric counts it
    (:func:`tusimple_point_hits`: the lane's best prediction within the angle-adjusted threshold). ``min_run``:
    only the lanes flagged over an unbroken run of at least that many rows somewhere (:func:`run_lengths`),
    all of their flagged points. Frames without a prediction count their points as missed.
    ``pixel_threshold`` as in :func:`tusimple_scores`.

    Raises:
        ValueError: a ground-truth line without ``raw_file``, ``lanes`` or ``h_samples``, or without ``flag``
            or with one whose shape is not its lanes'.
    """
    preds = _frames_by_file(predictions, "prediction")
    points = hits = 0
    for gt in ground_truth:
        absent = [key for key in ("raw_file", "lanes", "h_samples") if key not in gt]
        if absent:
            raise ValueError(f"a ground-truth frame has no {absent[0]!r}; each is a TuSimple label line")
        rows = len(gt["h_samples"])
        if flag not in gt or len(gt[flag]) != len(gt["lanes"]) or any(len(f) != rows for f in gt[flag]):
            raise ValueError(
                f"ground-truth frame {gt.get('raw_file')!r} has no per-point {flag!r}: one list of {rows} flags "
                f"for each of its {len(gt['lanes'])} lanes"
            )
        flagged = np.asarray(gt[flag], dtype=bool).reshape(len(gt["lanes"]), rows)
        longest = np.array([run_lengths(lane).max(initial=0) for lane in flagged], dtype=np.int64)
        flagged &= (longest >= min_run)[:, None]
        if not flagged.any():
            continue
        pred = preds.get(gt["raw_file"], {"lanes": []})
        lane_hits = tusimple_point_hits(pred["lanes"], gt["lanes"], gt["h_samples"], pixel_threshold)
        points += int(flagged.sum())
        hits += int(lane_hits[flagged].sum())
    return PointSubsetScore(points, hits / points if points else 0.0)


# --------------------------------------------------------------------------------------------- drawing


def polyline_mask(
    points: np.ndarray | Sequence[Sequence[float]],
    height: int,
    width: int,
    thickness: float,
    opencv_odd: bool = True,
) -> np.ndarray:
    """Pixels within half the thickness of a polyline whose vertices are rounded to integer pixels.

    The model of OpenCV's ``cv::line(img, p0, p1, colour, thickness)`` drawn segment by segment:
    pixel ``(row y, column x)`` sits at the point ``(x, y)``; the half-width is ``thickness / 2``,
    or ``(thickness + 1) / 2`` for an odd integer thickness as OpenCV draws it. A half-width below
    0.5 is raised to 0.5 so that a thin line stays connected. Against OpenCV 5.1 on random
    polylines the masks differ in 1.2% (30 px) and 3.3% (15 px) of the drawn pixels, all on the rim
    of diagonal segments, which OpenCV's polygon fill draws up to half a pixel wider; the CULane
    IoU of 18-point lanes differs by at most 0.007. Vectorised: the segments are sampled densely enough that the
    union of the samples' discs is the thick line to within 0.005 px (a pixel at distance ``<= width / 2``
    is always in), each disc is cut into one column interval per row, and the intervals are painted
    with a per-row difference array.

    Args:
        points: ``[N, 2]`` vertices ``(x, y)`` in pixels; one vertex draws a disc, none draws nothing.
        height, width: the mask's size.
        thickness: the line's width in pixels.
        opencv_odd: apply OpenCV's odd-thickness rule (above); False draws exactly ``thickness / 2``
            either side (for a width already scaled from an OpenCV thickness, which must not get the rule twice).

    Returns:
        bool ``[height, width]``.
    """
    mask = np.zeros((height, width), dtype=bool)
    vertices = np.rint(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    if len(vertices) == 0:
        return mask
    # OpenCV draws an odd integer thickness t as (t + 1) / 2 either side (15 px: 17 px across)
    odd = opencv_odd and float(thickness).is_integer()
    radius = max((thickness + thickness % 2) / 2.0 if odd else thickness / 2.0, 0.5)
    # discs of radius r every s pixels cover the thick segment up to r - sqrt(r^2 - s^2 / 4) <= 0.005 px,
    # so discs of radius r + 0.005 cover every pixel at distance <= r (the axis-aligned edges included)
    step = min(1.0, 2.0 * math.sqrt(2.0 * radius * 0.005))
    radius += 0.005
    if len(vertices) == 1:
        samples = vertices
    else:
        segments = np.diff(vertices, axis=0)
        pieces = np.maximum(np.ceil(np.hypot(segments[:, 0], segments[:, 1]) / step).astype(np.int64), 1)
        which = np.repeat(np.arange(len(segments)), pieces)
        k = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t = (k / pieces[which])[:, None]
        samples = np.concatenate([vertices[which] + t * segments[which], vertices[-1:]])
    reach = math.ceil(radius)
    rows = np.floor(samples[:, 1:2]) + np.arange(-reach, reach + 1)[None, :]
    half_sq = radius * radius - (rows - samples[:, 1:2]) ** 2
    valid = (half_sq >= 0) & (rows >= 0) & (rows < height)
    half = np.sqrt(np.where(valid, half_sq, 0.0))
    left = np.maximum(np.ceil(samples[:, 0:1] - half), 0)
    right = np.minimum(np.floor(samples[:, 0:1] + half), width - 1)
    valid &= right >= left
    if not valid.any():
        return mask
    r, lo, hi = rows[valid].astype(np.int64), left[valid].astype(np.int64), right[valid].astype(np.int64)
    top, bottom = int(r.min()), int(r.max()) + 1
    stride = width + 1
    size = (bottom - top) * stride
    starts = np.bincount((r - top) * stride + lo, minlength=size)
    ends = np.bincount((r - top) * stride + hi + 1, minlength=size)
    cover = np.cumsum((starts - ends).reshape(bottom - top, stride), axis=1)
    mask[top:bottom] = cover[:, :width] > 0
    return mask


# --------------------------------------------------------------------------------------------- CULane


def culane_interpolate(points: np.ndarray | Sequence[Sequence[float]], times: int = CULANE_SPLINE_TIMES) -> np.ndarray:
    """The CULane evaluator's ``Spline::splineInterpTimes``: ``[N, 2]`` points -> ``[(N - 1) * times + 1, 2]``.

    A natural cubic spline of x and y over the cumulative chord length ``t``, sampled at
    ``t_j + h_j k / times`` (``k = 0 .. times - 1``) on every segment ``j``, then the last point.
    Consecutive repeated points are dropped first (the official code divides by their zero
    distance). Two points are returned as they are (the evaluator draws them as one segment).
    """
    from scipy.interpolate import CubicSpline

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) > 1:
        keep = np.concatenate([[True], np.any(np.diff(pts, axis=0) != 0, axis=1)])
        pts = pts[keep]
    if len(pts) <= 2:
        return pts
    chords = np.hypot(*np.diff(pts, axis=0).T)
    knots = np.concatenate([[0.0], np.cumsum(chords)])
    spline = CubicSpline(knots, pts, axis=0, bc_type="natural")
    ts = (knots[:-1, None] + chords[:, None] * (np.arange(times)[None, :] / times)).ravel()
    return np.concatenate([spline(ts), pts[-1:]])


def culane_lane_mask(
    points: np.ndarray | Sequence[Sequence[float]],
    image_size: tuple[int, int] = CULANE_IMAGE_SIZE,
    lane_width: float = CULANE_LANE_WIDTH,
) -> np.ndarray:
    """bool ``[H, W]``: one lane interpolated (:func:`culane_interpolate`) and drawn ``lane_width`` wide.

    A lane of fewer than two points draws nothing (the evaluator gives it IoU 0 with every lane).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 2:
        return np.zeros(image_size, dtype=bool)
    return polyline_mask(culane_interpolate(pts), image_size[0], image_size[1], lane_width)


def culane_iou_matrix(
    gt_lanes: Sequence[np.ndarray],
    pred_lanes: Sequence[np.ndarray],
    image_size: tuple[int, int] = CULANE_IMAGE_SIZE,
    lane_width: float = CULANE_LANE_WIDTH,
) -> np.ndarray:
    """``[G, P]`` mask IoU of every (ground truth, prediction) pair; 0 where a lane has < 2 points."""
    if not len(gt_lanes) or not len(pred_lanes):
        return np.zeros((len(gt_lanes), len(pred_lanes)))
    masks = [culane_lane_mask(lane, image_size, lane_width) for lane in (*gt_lanes, *pred_lanes)]
    flat = np.stack(masks).reshape(len(masks), -1)
    # only the columns some lane covers: the products count each pixel once
    flat = flat[:, flat.any(axis=0)].astype(np.float32)
    areas = flat.sum(axis=1).astype(np.float64)
    gt, pred = flat[: len(gt_lanes)], flat[len(gt_lanes) :]
    inter = (gt @ pred.T).astype(np.float64)
    union = areas[: len(gt_lanes), None] + areas[None, len(gt_lanes) :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(frozen=True)
class LaneCounts:
    """Summed CULane counts; precision, recall and F1 are 0 where their denominator is 0."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: LaneCounts) -> LaneCounts:
        return LaneCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def culane_image_counts(
    gt_lanes: Sequence[np.ndarray],
    pred_lanes: Sequence[np.ndarray],
    image_size: tuple[int, int] = CULANE_IMAGE_SIZE,
    lane_width: float = CULANE_LANE_WIDTH,
    iou_threshold: float = CULANE_IOU_THRESHOLD,
) -> LaneCounts:
    """One image's counts (the evaluator's ``Counter::count_im_pair``).

    Args:
        gt_lanes, pred_lanes: lanes as ``[N, 2]`` arrays of ``(x, y)`` points in image pixels.
        image_size: ``(height, width)`` of the drawing (1640x590 for CULane).
        lane_width: the drawn width in pixels (30).
        iou_threshold: a matched pair is a TP iff its IoU is strictly above this (0.5).
    """
    from scipy.optimize import linear_sum_assignment

    if not len(gt_lanes):
        return LaneCounts(0, len(pred_lanes), 0)
    if not len(pred_lanes):
        return LaneCounts(0, 0, len(gt_lanes))
    ious = culane_iou_matrix(gt_lanes, pred_lanes, image_size, lane_width)
    rows, cols = linear_sum_assignment(ious, maximize=True)
    tp = int((ious[rows, cols] > iou_threshold).sum())
    return LaneCounts(tp, len(pred_lanes) - tp, len(gt_lanes) - tp)


def culane_counts(
    predictions: Mapping[str, Sequence[np.ndarray]],
    annotations: Mapping[str, Sequence[np.ndarray]],
    names: Iterable[str] | None = None,
    image_size: tuple[int, int] = CULANE_IMAGE_SIZE,
    lane_width: float = CULANE_LANE_WIDTH,
    iou_threshold: float = CULANE_IOU_THRESHOLD,
) -> LaneCounts:
    """Counts summed over images ``names`` (default: every annotated image).

    An image without predictions counts as predicting no lane, as the evaluator does with a missing
    ``.lines.txt``.

    Raises:
        ValueError: a name without annotation.
    """
    total = LaneCounts()
    for name in annotations if names is None else names:
        if name not in annotations:
            raise ValueError(f"image {name!r} has no annotation; every listed image needs its .lines.txt")
        total += culane_image_counts(
            annotations[name], predictions.get(name, ()), image_size, lane_width, iou_threshold
        )
    return total


def culane_split_counts(
    predictions: Mapping[str, Sequence[np.ndarray]],
    annotations: Mapping[str, Sequence[np.ndarray]],
    splits: Mapping[str, Iterable[str]],
    image_size: tuple[int, int] = CULANE_IMAGE_SIZE,
    lane_width: float = CULANE_LANE_WIDTH,
    iou_threshold: float = CULANE_IOU_THRESHOLD,
) -> dict[str, LaneCounts]:
    """:func:`culane_counts` per scenario split (``{"test0_normal": names, ...}``), in the given order.

    The paper reports F1 per split and, for ``cross`` (no lanes in the ground truth), the FP count only.
    """
    return {
        split: culane_counts(predictions, annotations, names, image_size, lane_width, iou_threshold)
        for split, names in splits.items()
    }
