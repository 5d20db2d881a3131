"""Compare a captioner's greedy and beam captions with the nearest-neighbour caption on the same test images.

Reads the ``captions_test.json`` that ``recur-vision test --config lrcn/captioning`` writes into its run folder
(each test image's references and its ``greedy``, ``beam`` and ``nearest_neighbour`` captions) and prints, per
run, each decoder's CIDEr-D and BLEU-4 (as the test computes them) and its gap to the nearest neighbour with the
standard error of a paired bootstrap over the test images
(:func:`~recur_vision.metrics.paired_caption_bootstrap`). With ``--dataset`` (the generated scenes'
``dataset_coco.json``, which keeps each image's scene) it also prints each decoder's mean CIDEr-D and
exact-caption rate per scene kind, and for the two-object scenes whose combination of objects and relation a
training image shows ("seen") or none does ("unseen"). The measurements in ``docs/vision.md`` ran::

    .venv/bin/python tools/analysis/caption_compare.py --runs s0=<test run> s1=<test run> \\
        --dataset ~/.cache/recur/generated/<shape-captions folder>/dataset_coco.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from recur_vision.data.generated_captions import scene_subsets
from recur_vision.metrics import cider_per_image, normalize_caption, paired_caption_bootstrap

DECODERS = ("greedy", "beam", "nearest_neighbour")


def scene_groups(dataset: Path, images: list[str]) -> dict[str, list[int]]:
    """:func:`~recur_vision.data.generated_captions.scene_subsets` of ``dataset``, whose test images must be
    ``images`` (the run's, in order)."""
    entries = json.loads(dataset.read_text())["images"]
    if [e["filename"] for e in entries if e["split"] == "test"] != [Path(image).name for image in images]:
        raise SystemExit(f"error: the run's test images are not those of {dataset}; give the run's own dataset")
    return scene_subsets(entries)


def compare(name: str, run: Path, dataset: Path | None, draws: int) -> None:
    rows = json.loads((run / "captions_test.json").read_text())
    references = [row["references"] for row in rows]
    print(f"{name} ({run}, {len(rows)} test images)")
    for decoder in DECODERS[:2]:
        hypotheses = [row[decoder] for row in rows]
        gap = paired_caption_bootstrap(references, hypotheses, [row["nearest_neighbour"] for row in rows], draws)
        print(
            f"  {decoder} - nearest neighbour: CIDEr {gap['cider']:+.3f} (se {gap['cider_se']:.3f}), "
            f"BLEU-4 {gap['bleu4']:+.3f} (se {gap['bleu4_se']:.3f})"
        )
    if dataset is None:
        return
    cider = {d: cider_per_image(references, [row[d] for row in rows]) for d in DECODERS}
    exact = {
        d: np.array([normalize_caption(row[d]) in {normalize_caption(r) for r in row["references"]} for row in rows])
        for d in DECODERS
    }
    print("  per scene kind, CIDEr / exact caption: " + ", ".join(DECODERS))
    for group, indices in scene_groups(dataset, [row["image"] for row in rows]).items():
        cells = "  ".join(f"{cider[d][indices].mean():.2f} / {exact[d][indices].mean():.2f}" for d in DECODERS)
        print(f"  {group:18s} {len(indices):4d}  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="NAME=RUN: test run folders with captions_test.json")
    parser.add_argument("--dataset", type=Path, help="the generated scenes' dataset_coco.json (per-kind scores)")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap resamples of the test images")
    args = parser.parse_args()
    for spec in args.runs:
        name, _, run = spec.rpartition("=")
        compare(name or run, Path(run), args.dataset, args.draws)


if __name__ == "__main__":
    main()
