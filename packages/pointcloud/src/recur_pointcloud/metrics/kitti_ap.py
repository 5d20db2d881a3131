"""KITTI 3D object detection AP, as OpenPCDet's ``kitti_object_eval_python`` computes it.

The KITTI benchmark (Geiger et al., CVPR 2012) ranks detections of Car, Pedestrian and Cyclist by
average precision at three difficulty levels, with boxes compared in the image (``image``), in bird's
eye view (``bev``, rotated IoU on the ground plane) and in 3D (``3d``). This module follows
``pcdet/datasets/kitti/kitti_object_eval_python/eval.py`` rule for rule:

- **Difficulty** of a ground-truth object (``clean_data``): easy / moderate / hard admit image-box
  height > 40 / 25 / 25 px, occlusion <= 0 / 1 / 2 and truncation <= 0.15 / 0.3 / 0.5. A ground
  truth of the class that fails them, a ``Van`` when evaluating Car and a ``Person_sitting`` when
  evaluating Pedestrian are *ignored*: a detection matched to them is neither a true nor a false
  positive. A detection whose image box is lower than the level's minimum height is ignored too.
- **Matching** (``compute_statistics_jit``): ground truths in file order each take the detection
  with the largest overlap above the class's minimum (IoU > 0.7 for Car, > 0.5 for Pedestrian and
  Cyclist in the strict set; 0.7 / 0.25 / 0.25 in BEV and 3D in the loose set), preferring
  detections that are not ignored; the first pass picks by score to collect the true-positive
  scores. Unmatched, not-ignored detections above the score threshold are false positives, except
  -- in the ``image`` metric only, as in the official code -- those covered by a ``DontCare``
  region (intersection over the detection's own area above the minimum overlap).
- **Recall sampling** (``get_thresholds``): score thresholds are taken from the sorted true-positive
  scores at recall steps of 1/40; precision at each threshold is the maximum precision at any
  lower threshold (higher recall). ``AP_R40`` averages the 40 points at recall 1/40 .. 1 (Simonelli et
  al., 2019); ``AP_R11`` (the original 11-point metric) averages the points 0, 4, ..., 40 (recall 0, 0.1, ..., 1).

Shapes: a frame's ground truth and detections are :class:`~recur_pointcloud.data.kitti.KittiObjects`
(camera-frame boxes, image boxes, scores). The per-pair matching is batched over frames, score
thresholds and detections; only the ground-truth objects of a frame are visited in order, since
each takes its detection before the next one may.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from recur_pointcloud.boxes import rotated_intersection_area
from recur_pointcloud.data.kitti import KittiObjects

__all__ = [
    "DIFFICULTIES",
    "LOOSE_OVERLAPS",
    "METRICS",
    "STRICT_OVERLAPS",
    "average_precision",
    "bootstrap_average_precision",
    "kitti_eval",
    "precision_curve",
    "sample_thresholds",
]

DIFFICULTIES = ("easy", "moderate", "hard")
METRICS = ("image", "bev", "3d")
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
SAMPLE_POINTS = 41
# minimum overlap per class for the image, BEV and 3D metrics (OpenPCDet's overlap_0_7 and overlap_0_5)
STRICT_OVERLAPS = {
    "Car": (0.7, 0.7, 0.7),
    "Pedestrian": (0.5, 0.5, 0.5),
    "Cyclist": (0.5, 0.5, 0.5),
    "Van": (0.7, 0.7, 0.7),
    "Person_sitting": (0.5, 0.5, 0.5),
    "Truck": (0.7, 0.7, 0.7),
}
LOOSE_OVERLAPS = {
    "Car": (0.7, 0.5, 0.5),
    "Pedestrian": (0.5, 0.25, 0.25),
    "Cyclist": (0.5, 0.25, 0.25),
    "Van": (0.7, 0.5, 0.5),
    "Person_sitting": (0.5, 0.25, 0.25),
    "Truck": (0.5, 0.5, 0.5),
}
# these ground truths are ignored (not missed) when evaluating the class in the key
_NEIGHBOUR_CLASS = {"car": "van", "pedestrian": "person_sitting"}
# pairs of boxes per batched overlap computation (bounds the memory of the 24-point polygon step)
_PAIR_BUDGET = 40_000


# ----- overlaps ---------------------------------------------------------------------------------------


def _pad(frames: Sequence[KittiObjects], width: int, column) -> np.ndarray:
    """``[F, width, C]`` of ``column(objects)`` per frame, zero-padded."""
    sample = column(KittiObjects.empty())
    out = np.zeros((len(frames), width, sample.shape[-1]))
    for f, objects in enumerate(frames):
        out[f, : len(objects)] = column(objects)
    return out


def _image_box(objects: KittiObjects) -> np.ndarray:
    return objects.bbox


def _camera_box(objects: KittiObjects) -> np.ndarray:
    """(x, y, z, l, h, w, ry) as the official ``d3_box_overlap`` reads it."""
    h, w, length = objects.dimensions.T
    return np.concatenate([objects.location, np.stack([length, h, w, objects.rotation_y], axis=1)], axis=1)


def _image_overlaps(dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Image-box IoU ``[F, D, G]`` of ``dt [F, D, 4]`` and ``gt [F, G, 4]`` (no +1 pixel, as the official code)."""
    iw = np.minimum(dt[:, :, None, 2], gt[:, None, :, 2]) - np.maximum(dt[:, :, None, 0], gt[:, None, :, 0])
    ih = np.minimum(dt[:, :, None, 3], gt[:, None, :, 3]) - np.maximum(dt[:, :, None, 1], gt[:, None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_dt = (dt[..., 2] - dt[..., 0]) * (dt[..., 3] - dt[..., 1])
    area_gt = (gt[..., 2] - gt[..., 0]) * (gt[..., 3] - gt[..., 1])
    union = area_dt[:, :, None] + area_gt[:, None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def _rotated_overlaps(dt: np.ndarray, gt: np.ndarray, metric: str) -> np.ndarray:
    """BEV or 3D IoU ``[F, D, G]`` of camera boxes ``dt [F, D, 7]`` and ``gt [F, G, 7]`` (x, y, z, l, h, w, ry).

    The ground plane is camera (x, z); the official corner rotation by ``ry`` there is a rotation by
    ``-ry`` in :func:`~recur_pointcloud.boxes.bev_corners`' counter-clockwise convention.
    """
    f, d, g = dt.shape[0], dt.shape[1], gt.shape[1]

    def bev(boxes: np.ndarray) -> np.ndarray:
        return np.stack([boxes[..., 0], boxes[..., 2], boxes[..., 3], boxes[..., 5], -boxes[..., 6]], axis=-1)

    a = np.broadcast_to(bev(dt)[:, :, None, :], (f, d, g, 5)).reshape(-1, 5)
    b = np.broadcast_to(bev(gt)[:, None, :, :], (f, d, g, 5)).reshape(-1, 5)
    inter = rotated_intersection_area(torch.from_numpy(a.copy()), torch.from_numpy(b.copy())).numpy().reshape(f, d, g)
    if metric == "bev":
        area_dt, area_gt = dt[..., 3] * dt[..., 5], gt[..., 3] * gt[..., 5]
    else:
        # y points down and y is the bottom face: a box spans [y - h, y]
        top = np.maximum(dt[:, :, None, 1] - dt[:, :, None, 4], gt[:, None, :, 1] - gt[:, None, :, 4])
        bottom = np.minimum(dt[:, :, None, 1], gt[:, None, :, 1])
        inter = inter * np.clip(bottom - top, 0.0, None)
        area_dt, area_gt = dt[..., 3] * dt[..., 4] * dt[..., 5], gt[..., 3] * gt[..., 4] * gt[..., 5]
    union = area_dt[:, :, None] + area_gt[:, None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def _dontcare_cover(dt: np.ndarray, dontcare: np.ndarray) -> np.ndarray:
    """``[F, D]``: the largest intersection of each detection's image box with a DontCare box, over its own area."""
    iw = np.minimum(dt[:, :, None, 2], dontcare[:, None, :, 2]) - np.maximum(dt[:, :, None, 0], dontcare[:, None, :, 0])
    ih = np.minimum(dt[:, :, None, 3], dontcare[:, None, :, 3]) - np.maximum(dt[:, :, None, 1], dontcare[:, None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area = ((dt[..., 2] - dt[..., 0]) * (dt[..., 3] - dt[..., 1]))[:, :, None]
    cover = np.divide(inter, area, out=np.zeros_like(inter), where=inter > 0)
    return cover.max(axis=2, initial=0.0)


# ----- which objects count ------------------------------------------------------------------------------


def _ignored_gt(objects: KittiObjects, name: str, difficulty: int) -> np.ndarray:
    """``[G]``: 0 counts, 1 ignored (too hard for the level, or the neighbour class), -1 another class."""
    names = np.char.lower(objects.name.astype(str))
    height = objects.bbox[:, 3] - objects.bbox[:, 1]
    too_hard = (
        (objects.occluded > MAX_OCCLUSION[difficulty])
        | (objects.truncated > MAX_TRUNCATION[difficulty])
        | (height <= MIN_HEIGHT[difficulty])
    )
    same = names == name
    neighbour = names == _NEIGHBOUR_CLASS.get(name, "\0")
    return np.where(same & ~too_hard, 0, np.where(neighbour | same, 1, -1))


def _ignored_dt(objects: KittiObjects, name: str, difficulty: int) -> np.ndarray:
    """``[D]``: 0 counts, 1 ignored (image box too low for the level), -1 another class."""
    names = np.char.lower(objects.name.astype(str))
    height = np.abs(objects.bbox[:, 3] - objects.bbox[:, 1])
    return np.where(height < MIN_HEIGHT[difficulty], 1, np.where(names == name, 0, -1))


# ----- matching -----------------------------------------------------------------------------------------


class _Chunk:
    """A run of frames padded to one size: overlaps ``[F, D, G]`` per metric and the columns the matching reads."""

    def __init__(self, gt: Sequence[KittiObjects], dt: Sequence[KittiObjects], metric: str) -> None:
        self.gt, self.dt = gt, dt
        d = max((len(x) for x in dt), default=0)
        g = max((len(x) for x in gt), default=0)
        self.scores = _pad(dt, d, lambda o: o.score[:, None])[..., 0]
        self.dt_valid = np.arange(d)[None, :] < np.array([len(x) for x in dt])[:, None]
        self.gt_valid = np.arange(g)[None, :] < np.array([len(x) for x in gt])[:, None]
        if metric == "image":
            dt_boxes, gt_boxes = _pad(dt, d, _image_box), _pad(gt, g, _image_box)
            self.overlaps = _image_overlaps(dt_boxes, gt_boxes)
            dontcare = [o.bbox[o.name == "DontCare"] for o in gt]
            width = max((len(x) for x in dontcare), default=0)
            padded = np.zeros((len(gt), width, 4))
            for f, boxes in enumerate(dontcare):
                padded[f, : len(boxes)] = boxes
            self.dontcare_cover = _dontcare_cover(dt_boxes, padded)
        else:
            self.overlaps = _rotated_overlaps(_pad(dt, d, _camera_box), _pad(gt, g, _camera_box), metric)
            self.dontcare_cover = None

    def flags(self, name: str, difficulty: int) -> tuple[np.ndarray, np.ndarray]:
        """Padded ``ignored_gt [F, G]`` and ``ignored_dt [F, D]`` (-1 in the padding)."""
        ignored_gt = np.full(self.gt_valid.shape, -1)
        ignored_dt = np.full(self.dt_valid.shape, -1)
        for f, (gt, dt) in enumerate(zip(self.gt, self.dt)):
            ignored_gt[f, : len(gt)] = _ignored_gt(gt, name, difficulty)
            ignored_dt[f, : len(dt)] = _ignored_dt(dt, name, difficulty)
        return ignored_gt, ignored_dt


def _true_positive_scores(
    chunk: _Chunk, ignored_gt, ignored_dt, min_overlap: float, with_frames: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The scores of the true positives when each ground truth takes its highest-scoring detection
    (and, ``with_frames``, the chunk's frame of each)."""
    if ignored_dt.shape[1] == 0:  # no frame of the chunk holds a detection
        return (np.zeros(0), np.zeros(0, dtype=np.int64)) if with_frames else np.zeros(0)
    frames = np.arange(len(ignored_gt))
    assigned = np.zeros(ignored_dt.shape, dtype=bool)
    scores, where = [], []
    for g in range(ignored_gt.shape[1]):
        eligible = (ignored_dt != -1) & ~assigned & (chunk.overlaps[:, :, g] > min_overlap)
        best = np.where(eligible, chunk.scores, -np.inf).argmax(axis=1)
        found = eligible.any(axis=1) & (ignored_gt[:, g] != -1)
        true = found & (ignored_gt[:, g] == 0) & (ignored_dt[frames, best] == 0)
        assigned[frames[found], best[found]] = True
        scores.append(chunk.scores[frames[true], best[true]])
        where.append(frames[true])
    found_scores = np.concatenate(scores) if scores else np.zeros(0)
    if with_frames:
        return found_scores, (np.concatenate(where) if where else np.zeros(0, dtype=np.int64))
    return found_scores


def _counts(
    chunk: _Chunk, ignored_gt, ignored_dt, min_overlap: float, thresholds: np.ndarray, per_frame: bool = False
) -> np.ndarray:
    """``[T, 3]`` true positives, false positives and misses at each score threshold, summed over the chunk's frames
    (``per_frame``: ``[F, T, 3]``, each frame's)."""
    if ignored_dt.shape[1] == 0:  # no frame of the chunk holds a detection: every counted truth is missed
        misses = np.broadcast_to((ignored_gt == 0).sum(axis=1)[:, None], (len(ignored_gt), len(thresholds)))
        counts = np.stack([np.zeros_like(misses), np.zeros_like(misses), misses], axis=-1)
        return counts if per_frame else counts.sum(axis=0)
    frames = np.arange(len(ignored_gt))[:, None]
    steps = np.arange(len(thresholds))[None, :]
    below = chunk.scores[:, None, :] < thresholds[None, :, None]
    assigned = np.zeros(below.shape, dtype=bool)
    tp = np.zeros(below.shape[:2], dtype=np.int64)
    fn = np.zeros_like(tp)
    counted, ignored = (ignored_dt == 0)[:, None, :], (ignored_dt == 1)[:, None, :]
    for g in range(ignored_gt.shape[1]):
        overlap = chunk.overlaps[:, None, :, g]
        base = ~assigned & ~below & (overlap > min_overlap)
        plain, spare = base & counted, base & ignored
        # a counted detection with the largest overlap wins; else the first ignored one absorbs the truth
        has_plain, has_spare = plain.any(axis=2), spare.any(axis=2)
        pick = np.where(has_plain, np.where(plain, overlap, -np.inf).argmax(axis=2), spare.argmax(axis=2))
        active = (ignored_gt[:, g] != -1)[:, None]
        found = active & (has_plain | has_spare)
        fn += active & ~(has_plain | has_spare) & (ignored_gt[:, g] == 0)[:, None]
        tp += found & has_plain & (ignored_gt[:, g] == 0)[:, None]
        assigned[
            np.broadcast_to(frames, found.shape)[found], np.broadcast_to(steps, found.shape)[found], pick[found]
        ] = True
    unmatched = ~assigned & ~below & counted
    if chunk.dontcare_cover is not None:
        unmatched &= ~(chunk.dontcare_cover[:, None, :] > min_overlap)
    fp = unmatched.sum(axis=2)
    counts = np.stack([tp, fp, fn], axis=-1)
    return counts if per_frame else counts.sum(axis=0)


def sample_thresholds(scores: np.ndarray, num_gt: int, points: int = SAMPLE_POINTS) -> np.ndarray:
    """Score thresholds at recall steps of ``1 / (points - 1)`` (OpenPCDet's ``get_thresholds``).

    Going down the sorted true-positive ``scores``, a score becomes the next threshold when the
    recall midway between it and the next score reaches the next step (the last score always does).
    """
    scores = np.sort(np.asarray(scores, np.float64))[::-1]
    n = len(scores)
    if n == 0:
        return scores
    index = np.arange(n)
    left = (index + 1) / num_gt
    right = np.where(index < n - 1, (index + 2) / num_gt, left)
    picked: list[int] = []
    step = 0.0
    while not picked or picked[-1] < n - 1:
        start = picked[-1] + 1 if picked else 0
        reach = ((right[start:] - step) >= (step - left[start:])) | (index[start:] == n - 1)
        picked.append(start + int(np.argmax(reach)))
        # accumulated as the official loop does, so that the float comparisons agree
        step += 1 / (points - 1.0)
    return scores[picked]


# ----- public API ---------------------------------------------------------------------------------------


def _chunks(gt: Sequence[KittiObjects], dt: Sequence[KittiObjects], metric: str) -> list[_Chunk]:
    chunks, start = [], 0
    while start < len(gt):
        stop, d, g = start, 1, 1
        while stop < len(gt):
            d, g = max(d, len(dt[stop])), max(g, len(gt[stop]))
            if stop > start and (stop - start + 1) * d * g > _PAIR_BUDGET:
                break
            stop += 1
        chunks.append(_Chunk(gt[start:stop], dt[start:stop], metric))
        start = stop
    return chunks


def _precision(chunks: list[_Chunk], name: str, difficulty: int, min_overlap: float) -> np.ndarray:
    flags = [chunk.flags(name, difficulty) for chunk in chunks]
    num_gt = int(sum((ignored_gt == 0).sum() for ignored_gt, _ in flags))
    scores = np.concatenate([np.zeros(0)] + [_true_positive_scores(c, *f, min_overlap) for c, f in zip(chunks, flags)])
    thresholds = sample_thresholds(scores, num_gt)
    curve = np.zeros(SAMPLE_POINTS)
    if len(thresholds) == 0:
        return curve
    counts = sum(_counts(c, *f, min_overlap, thresholds) for c, f in zip(chunks, flags))
    tp, fp = counts[:, 0], counts[:, 1]
    precision = np.divide(tp, tp + fp, out=np.zeros(len(tp)), where=tp + fp > 0)
    # precision at a threshold: the best at any lower threshold (higher recall)
    curve[: len(thresholds)] = np.maximum.accumulate(precision[::-1])[::-1]
    return curve


def _check(gt: Sequence[KittiObjects], dt: Sequence[KittiObjects]) -> None:
    if len(gt) != len(dt):
        raise ValueError(
            f"give one detection set per ground-truth frame: {len(gt)} frames of labels, {len(dt)} of detections"
        )


def precision_curve(
    gt: Sequence[KittiObjects],
    dt: Sequence[KittiObjects],
    class_name: str = "Car",
    difficulty: str = "moderate",
    metric: str = "3d",
    min_overlap: float | None = None,
) -> np.ndarray:
    """The interpolated precision ``[41]`` at the sampled recall thresholds for one class, level and metric.

    ``min_overlap`` defaults to the class's strict overlap (:data:`STRICT_OVERLAPS`).
    """
    _check(gt, dt)
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}")
    if min_overlap is None:
        min_overlap = STRICT_OVERLAPS[class_name][METRICS.index(metric)]
    chunks = _chunks(list(gt), list(dt), metric)
    return _precision(chunks, class_name.lower(), DIFFICULTIES.index(difficulty), min_overlap)


def average_precision(curve: np.ndarray, points: int = 40) -> float:
    """AP in percent from a 41-point precision curve: ``points=40`` (AP_R40, recall 1/40..1) or 11 (AP_R11)."""
    if points == 40:
        return float(curve[1:].sum() / 40 * 100)
    if points == 11:
        return float(curve[::4].sum() / 11 * 100)
    raise ValueError(f"points must be 40 (AP_R40) or 11 (AP_R11), got {points}")


def kitti_eval(
    gt: Sequence[KittiObjects],
    dt: Sequence[KittiObjects],
    classes: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
    overlaps: str = "strict",
    metrics: Sequence[str] = METRICS,
) -> dict[str, float]:
    """AP_R11 and AP_R40 of every class, metric and difficulty, keyed as OpenPCDet's result dict.

    Keys: ``<Class>_<metric>_<difficulty>`` (AP_R11) and the same with ``_R40``, e.g.
    ``Car_3d_moderate_R40``; ``<metric>`` is ``image``, ``bev`` or ``3d``.

    Args:
        gt: per frame, the ground-truth labels (DontCare included).
        dt: per frame, the detections with scores and image boxes (:func:`~recur_pointcloud.data.kitti.image_boxes`).
        classes: class names as in the label files.
        overlaps: ``strict`` (Car 0.7, Pedestrian / Cyclist 0.5 everywhere) or ``loose``
            (0.5 / 0.25 in BEV and 3D).
        metrics: which of ``image``, ``bev``, ``3d`` to compute.
    """
    _check(gt, dt)
    table = {"strict": STRICT_OVERLAPS, "loose": LOOSE_OVERLAPS}.get(overlaps)
    if table is None:
        raise ValueError(f"overlaps must be 'strict' or 'loose', got {overlaps!r}")
    unknown = [c for c in classes if c not in table] + [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(
            f"unknown class or metric {unknown}; classes: {', '.join(table)}; metrics: {', '.join(METRICS)}"
        )
    result = {}
    for metric in metrics:
        chunks = _chunks(list(gt), list(dt), metric)
        for class_name in classes:
            min_overlap = table[class_name][METRICS.index(metric)]
            for level, difficulty in enumerate(DIFFICULTIES):
                curve = _precision(chunks, class_name.lower(), level, min_overlap)
                result[f"{class_name}_{metric}_{difficulty}"] = average_precision(curve, 11)
                result[f"{class_name}_{metric}_{difficulty}_R40"] = average_precision(curve, 40)
    return result


def bootstrap_average_precision(
    gt: Sequence[KittiObjects],
    dt: dict[str, Sequence[KittiObjects]],
    class_name: str = "Car",
    difficulty: str = "moderate",
    metric: str = "3d",
    draws: int = 200,
    seed: int = 0,
    points: int = 40,
) -> dict[str, np.ndarray]:
    """AP (``points`` 40: AP_R40, 11: AP_R11) of each method's detections on ``draws`` resamples of the frames.

    Each draw takes ``len(gt)`` frames with replacement, the same draws for every method, so the spread of a
    method's AP says how much the frame sample moves it and the spread of the difference of two methods'
    APs how much it moves their gap (a paired frame bootstrap). The overlaps are computed once; a draw
    weighs each frame by how often it was drawn, which gives the AP of the resampled frames exactly.

    Args:
        gt: per frame, the ground-truth labels; dt: per method name, its detections per frame.
        class_name, difficulty, metric: as :func:`precision_curve` (the class's strict overlap).
        draws, seed: the number of resamples and the seed that draws them.

    Returns:
        Per method, ``[draws]`` AP values in percent.
    """
    if draws < 1:
        raise ValueError(f"draws must be 1 or more, got {draws}")
    if metric not in METRICS or difficulty not in DIFFICULTIES:
        raise ValueError(f"metric must be one of {', '.join(METRICS)} and difficulty one of {', '.join(DIFFICULTIES)}")
    for found in dt.values():
        _check(gt, found)
    min_overlap = STRICT_OVERLAPS[class_name][METRICS.index(metric)]
    level = DIFFICULTIES.index(difficulty)
    weights = np.stack(
        [
            np.bincount(draw, minlength=len(gt))
            for draw in np.random.default_rng(seed).integers(0, len(gt), (draws, len(gt)))
        ]
    )
    result = {}
    for method, found in dt.items():
        chunks = _chunks(list(gt), list(found), metric)
        flags = [chunk.flags(class_name.lower(), level) for chunk in chunks]
        offsets = np.cumsum([0] + [len(chunk.gt) for chunk in chunks])
        gt_count = np.concatenate([(ignored_gt == 0).sum(axis=1) for ignored_gt, _ in flags])
        tp = [_true_positive_scores(c, *f, min_overlap, with_frames=True) for c, f in zip(chunks, flags)]
        tp_scores = np.concatenate([np.zeros(0)] + [scores for scores, _ in tp])
        tp_frames = np.concatenate([np.zeros(0, np.int64)] + [frames + offsets[i] for i, (_, frames) in enumerate(tp)])
        values = np.zeros(draws)
        for k, weight in enumerate(weights):
            thresholds = sample_thresholds(np.repeat(tp_scores, weight[tp_frames]), int(weight @ gt_count))
            if len(thresholds) == 0:
                continue
            per_frame = np.concatenate(
                [_counts(c, *f, min_overlap, thresholds, per_frame=True) for c, f in zip(chunks, flags)]
            )
            counts = np.einsum("f,ftc->tc", weight, per_frame)
            precision = np.divide(
                counts[:, 0],
                counts[:, 0] + counts[:, 1],
                out=np.zeros(len(counts)),
                where=counts[:, 0] + counts[:, 1] > 0,
            )
            curve = np.zeros(SAMPLE_POINTS)
            curve[: len(thresholds)] = np.maximum.accumulate(precision[::-1])[::-1]
            values[k] = average_precision(curve, points)
        result[method] = values
    return result
