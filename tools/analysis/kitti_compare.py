"""Compare detectors on the same KITTI frames: AP_R40 of each and a paired frame bootstrap of every gap.

Reads the KITTI result files a ``recur-pointcloud test`` run writes (``<run>/kitti_results/<method>/<frame>.txt``)
and the frames' labels and calibration; scores Car (or ``--class``) moderate AP_R40 in 3D and BEV as the test
does (ground truths outside ``--point-range`` dropped, as ``score_in_range``), then draws ``--draws`` resamples
of the frames (:func:`~recur_pointcloud.metrics.kitti_ap.bootstrap_average_precision`, the same draws for
every method) and prints each method's AP with its bootstrap standard error and, for every pair, the gap, its
standard error and the number of frames at which a 3-AP gap would be two standard errors (the error falls as
one over the square root of the frames). The measurement in ``docs/pointcloud.md`` ran::

    .venv/bin/python tools/analysis/kitti_compare.py --folder ~/.cache/recur/generated/<synthetic folder> \\
        --split test --results lion_s0=<run>/kitti_results/lion geometric=<run>/kitti_results/geometric ...
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import numpy as np

from recur_pointcloud.data.kitti import read_calib, read_label
from recur_pointcloud.detection import Frame, _truth_in_range
from recur_pointcloud.metrics.kitti_ap import average_precision, bootstrap_average_precision, precision_curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", required=True, help="the KITTI object folder (training/, ImageSets/)")
    parser.add_argument("--split", default="test", help="ImageSets/<split>.txt: the frames compared")
    parser.add_argument("--results", nargs="+", required=True, help="NAME=FOLDER of <frame>.txt result files")
    parser.add_argument("--point-range", nargs=6, type=float, default=[0.0, -20.0, -3.0, 40.0, 20.0, 1.0])
    parser.add_argument("--class", dest="class_name", default="Car")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--gap", type=float, default=3.0, help="the AP gap the frame count is sized for")
    parser.add_argument("--out", help="write the numbers as JSON here")
    args = parser.parse_args()

    folder = Path(args.folder).expanduser()
    frames = (folder / "ImageSets" / f"{args.split}.txt").read_text().split()
    training = folder / "training"
    truth = []
    for frame_id in frames:
        frame = Frame(
            frame_id,
            read_label(training / "label_2" / f"{frame_id}.txt"),
            read_calib(training / "calib" / f"{frame_id}.txt"),
            (0, 0),
            training / "image_2" / f"{frame_id}.png",
        )
        truth.append(_truth_in_range(frame, args.point_range))
    methods = {}
    for item in args.results:
        name, _, path = item.partition("=")
        methods[name] = [read_label(Path(path) / f"{frame_id}.txt") for frame_id in frames]
    report: dict = {"frames": len(frames), "draws": args.draws, "class": args.class_name, "metrics": {}}
    for metric in ("3d", "bev"):
        draws = bootstrap_average_precision(truth, methods, class_name=args.class_name, metric=metric, draws=args.draws)
        ap = {
            name: average_precision(precision_curve(truth, found, args.class_name, "moderate", metric))
            for name, found in methods.items()
        }
        rows = {name: {"ap": ap[name], "se": float(draws[name].std(ddof=1))} for name in methods}
        pairs = {}
        for a, b in itertools.combinations(methods, 2):
            se = float((draws[a] - draws[b]).std(ddof=1))
            needed = math.ceil(len(frames) * (2 * se / args.gap) ** 2)
            pairs[f"{a} - {b}"] = {"gap": ap[a] - ap[b], "se": se, "frames_for_gap": needed}
        report["metrics"][metric] = {"methods": rows, "pairs": pairs}
        print(f"{args.class_name} {metric.upper()} AP_R40 moderate on {len(frames)} frames ({args.draws} draws)")
        for name, row in rows.items():
            print(f"  {name:<24} {row['ap']:6.2f} ± {row['se']:.2f}")
        for pair, row in pairs.items():
            print(
                f"  {pair:<40} gap {row['gap']:+6.2f} ± {row['se']:.2f}  "
                f"(frames for a {args.gap:g}-AP gap at 2 SE: {row['frames_for_gap']})"
            )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
