"""Why a trained detector scores what it does: its AP on its own training frames and its box errors.

For each ``--ckpt`` (a ``DetectionModule`` checkpoint of ``lion/synthetic`` or ``lion/synthetic_no_backbone``)
and for the geometric baseline, on the synthetic frames of ``--split`` (``train``: the 48 frames the recipes train
on, unaugmented; ``test``: held-out frames ``--first`` to ``--last``), prints Car moderate AP_R40 in 3D and BEV (as
the test scores it: ground truths outside the recipe's range dropped) and, over the true cars each matched to the
nearest detected car (score >= 0.3, centres within 2 m), the distribution of the errors: centre x, y, z, length,
width, height, heading modulo pi (the KITTI IoU does not see a flip by pi), and the share of matched cars whose
3D / BEV IoU reaches 0.7 (KITTI's Car threshold). ``--oracle`` first scores the ground truth encoded as the anchor
head's training targets and decoded back (the whole target -> box -> KITTI label -> AP chain; it must equal the
truth's own score). A training-frame AP as low as the held-out one says the detector underfits (budget or
capacity), not that it memorised; systematic offsets (median errors) would point at an encoding bug.
The measurements in ``docs/pointcloud.md`` ran::

    .venv/bin/python tools/analysis/detector_errors.py --split train --oracle \\
        --ckpt runs/pointcloud/lion/synthetic/<run>/checkpoints/best.ckpt <no-backbone run>/checkpoints/best.ckpt
"""

from __future__ import annotations

import argparse
import math

import torch

from recur_pointcloud.boxes import boxes3d_iou, boxes_bev_iou
from recur_pointcloud.detection import DetectionData, _truth_in_range, detections_to_kitti, load_detector
from recur_pointcloud.metrics.kitti_ap import kitti_eval
from recur_pointcloud.models.anchor_head import AnchorHead
from recur_pointcloud.models.baselines import GeometricDetector

RANGE = (0.0, -20.0, -3.0, 40.0, 20.0, 1.0)  # lion/synthetic's
CLASSES = ("Car", "Pedestrian", "Cyclist")
ERRORS = ("x", "y", "z", "length", "width", "height", "heading mod pi")


def car_ap(items: list[dict], detections: list[dict]) -> tuple[float, float]:
    """Car moderate AP_R40 (3D, BEV) of per-frame LiDAR ``detections`` on ``items``."""
    truth = [_truth_in_range(item["frame"], RANGE) for item in items]
    found = [
        detections_to_kitti(
            d["boxes"].double().numpy(), d["scores"].double().numpy(), d["labels"].numpy(), item["frame"], CLASSES
        )
        for d, item in zip(detections, items)
    ]
    scores = kitti_eval(truth, found, classes=CLASSES)
    return scores["Car_3d_moderate_R40"], scores["Car_bev_moderate_R40"]


def car_errors(items: list[dict], detections: list[dict], min_score: float = 0.3) -> torch.Tensor:
    """``[matched, 9]``: predicted minus true (x, y, z, l, w, h, heading mod pi), 3D IoU, BEV IoU per true car."""
    rows = []
    for d, item in zip(detections, items):
        truth = item["boxes"][item["labels"] == 0].double()
        found = d["boxes"][(d["labels"] == 0) & (d["scores"] >= min_score)].double()
        if not len(truth) or not len(found):
            continue
        distance = torch.cdist(truth[:, :2], found[:, :2])
        nearest = distance.argmin(dim=1)
        near = distance[torch.arange(len(truth)), nearest] < 2.0
        true, pred = truth[near], found[nearest[near]]
        turn = torch.remainder(pred[:, 6] - true[:, 6] + math.pi / 2, math.pi) - math.pi / 2
        iou3d = boxes3d_iou(true, pred).diagonal()
        bev = [0, 1, 3, 4, 6]
        iou_bev = boxes_bev_iou(true[:, bev], pred[:, bev]).diagonal()
        rows.append(torch.cat([pred[:, :6] - true[:, :6], turn[:, None], iou3d[:, None], iou_bev[:, None]], dim=1))
    return torch.cat(rows) if rows else torch.zeros(0, 9, dtype=torch.float64)


def oracle_detections(items: list[dict]) -> list[dict]:
    """The ground truth encoded as the head's targets (lion/synthetic's grid), decoded and NMS'd."""
    head = AnchorHead(8, RANGE, (100, 100))
    cells = head.anchors.shape[:2]
    out = []
    for item in items:
        labels, codes = head.targets([item["boxes"]], [item["labels"]])
        positive = labels[0] > 0
        logits = torch.full((1, labels.shape[1], len(CLASSES)), -20.0)
        logits[0, positive, labels[0, positive] - 1] = 20.0
        heading = codes[0, :, 6] + head.anchors.reshape(-1, 7)[:, 6]
        bins = (torch.remainder(heading - head.dir_offset, 2 * math.pi) >= math.pi).long()
        direction = torch.nn.functional.one_hot(bins, 2).float() * 10
        preds = {
            "cls": logits.view(1, *cells, -1),
            "box": codes.view(1, *cells, -1),
            "dir": direction.view(1, *cells, -1),
        }
        out += head.detect(preds)
    return out


def report(name: str, items: list[dict], detections: list[dict]) -> None:
    ap3d, ap_bev = car_ap(items, detections)
    errors = car_errors(items, detections)
    print(f"{name}: Car AP_R40 moderate 3D {ap3d:.2f} / BEV {ap_bev:.2f}; {len(errors)} true cars matched")
    for k, label in enumerate(ERRORS):
        v = errors[:, k]
        print(
            f"    {label:15s} median {v.median():+.3f}  median |.| {v.abs().median():.3f}  "
            f"90% |.| {v.abs().quantile(0.9):.3f}"
        )
    share3d, share_bev = (errors[:, 7] >= 0.7).double().mean(), (errors[:, 8] >= 0.7).double().mean()
    print(f"    IoU >= 0.7: 3D {share3d:.2f}, BEV {share_bev:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", nargs="*", default=[], help="detection checkpoints to examine")
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--first", type=int, default=0, help="first held-out frame (--split test)")
    parser.add_argument("--last", type=int, default=256, help="one past the last held-out frame (--split test)")
    parser.add_argument("--oracle", action="store_true", help="score the decoded training targets first")
    args = parser.parse_args()
    torch.set_num_threads(1)

    frames = DetectionData(frames=64, test_frames=1024, test_split=args.split, point_range=RANGE).dataset("test")
    indices = range(len(frames)) if args.split == "train" else range(args.first, min(args.last, len(frames)))
    items = [frames[i] for i in indices]
    print(f"{len(items)} {args.split} frames of the lion/synthetic scenes")
    if args.oracle:
        report("oracle (targets decoded)", items, oracle_detections(items))
    geometric = GeometricDetector(CLASSES, RANGE)
    report("geometric baseline", items, [geometric.detect([item["points"]])[0] for item in items])
    for path in args.ckpt:
        net = load_detector(path, CLASSES).eval()
        detections = []
        with torch.no_grad():
            for start in range(0, len(items), 4):
                detections += net.detect(net([item["points"] for item in items[start : start + 4]]))
        report(path, items, detections)


if __name__ == "__main__":
    main()
