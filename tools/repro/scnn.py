"""SCNN's spatial message passing against the same network without it, on the generated roads and real TuSimple frames.

Paper: Pan, Shi, Luo, Wang & Tang, "Spatial As Deep: Spatial CNN for Traffic Scene Understanding", AAAI 2018,
https://arxiv.org/abs/1712.06080; official code https://github.com/XingangPan/SCNN.

Claim checked (paraphrased): slice-by-slice message passing (SCNN's DULR) lets a segmentation network follow long,
thin structures such as lane lines, so it finds lanes better than the same network without it, above all where
the line is not painted or not visible (dashed lines, lines hidden by vehicles); the paper's control with extra
convolutions of the same parameter count does not give that gain.

Set-up (CPU scale). Data: exactly the recipe ``scnn/synthetic`` (:class:`recur_vision.lanes.LaneData`: the
generated roads, 1000 training and 200 test frames of 512 x 288 in the TuSimple layout, whose test labels flag
each lane as dashed or solid and as occluded by a vehicle or not), read at the recipe's input of 256 x 144 (the
frames' own aspect), so message passing sees a 32 x 18 map. Networks: the recipe's SCNN
(``message_passing: scnn``) and its two baselines, the same recipe with ``message_passing: none`` and ``conv``
(the four SCNN kernels applied to the whole map at once: the same parameters, nothing propagates further than
4 cells per kernel), each trained by :class:`recur_vision.lanes.LaneDetectionModule` with the recipe's optimiser
and epochs from each of ``--seeds`` seeds (the seed draws the initialisation and the dropout; frames and their
order are the recipe's) and tested with its final weights. Scored by the official TuSimple accuracy / FP / FN
(threshold 20 px at 1280 px, 8 px on these frames), the lane accuracy and match rate (>= 0.85) of the
occluded, visible, dashed and solid lanes, and the share of the labelled points behind a vehicle that the lane
matched to theirs hits, of all of them (``hit_hidden``) and of those of the lanes hidden over an unbroken run of
at least 12 ``h_samples`` rows (``hit_hidden_long``; :class:`recur_vision.lanes.LaneDetectionModule`, the labels'
per-point ``hidden`` flags). When the data root holds TuSimple (``RECUR_DATA``), each network
trained on the generated roads is also tested as the recipe ``scnn/tusimple`` does, on the real frames that are
there. Two claims, each checked on the accuracy of all lanes, of the occluded and of the dashed ones, seed by
seed: SCNN above the network without message passing, and above the parallel-kernel control, by a clear margin
(``MARGIN``: at least 0.01, one accuracy point; a check that SCNN wins by less does not hold).

Outputs under ``--out`` (default ``runs/repro/scnn``): ``results.csv`` (one row per network and seed, then the
means), ``table.md`` (the means as the docs' table, also printed), ``claims.csv``, ``scnn.png`` (lane accuracy
and the share of lanes found per subset, means over the seeds), each run's ``<name>/seed<s>/lanes_test.json``.
The full run also writes ``docs/img/vision/scnn.png`` and replaces the scnn table in ``docs/vision.md``. It takes
about 30 minutes on one thread (six fits of 4-5 min).

.. code-block:: bash

    .venv/bin/python tools/repro/scnn.py            # the three networks, 2 seeds each, the recipe's epochs
    .venv/bin/python tools/repro/scnn.py --seeds 1  # one seed (about 15 min)
    .venv/bin/python tools/repro/scnn.py --quick    # 200 training frames, 2 epochs, one seed; docs untouched
    .venv/bin/python tools/repro/scnn.py --rescore  # no training: claims, table, figure from results.csv
    # a probe away from the recipe (input size, the roads with long occlusions, epochs): its results, claims and
    # figure go to runs/repro/scnn/probe-<H>x<W>[-long]-<epochs>ep (or --out); the docs are left alone
    .venv/bin/python tools/repro/scnn.py --image-size 288 512 --long-occlusions --epochs 3
"""

from __future__ import annotations

import os

# one thread for torch and numpy's BLAS; set before numpy and torch load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import csv
import shlex
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from recur_core.data import data_root
from recur_core.engine import quiet_trainer
from recur_core.recipes import list_recipes
from recur_core.repro import (
    Claim,
    invoked_command,
    outcome,
    replace_generated_table,
    repro_parser,
    write_claims,
    write_rows,
)
from recur_vision.lanes import LaneData, LaneDetectionModule

PAPER = "Pan et al. 2018, SCNN"
ROOT = Path(__file__).resolve().parents[2]
LABELS = {"scnn": "SCNN (DULR)", "none": "no message passing", "conv": "same kernels, no propagation"}
SUBSETS = ("occluded", "visible", "dashed", "solid")
# what the claims compare: the accuracy of all lanes, of the occluded and of the dashed ones
CLAIM_KEYS = ("acc", "acc_occluded", "acc_dashed")
# the share of the points behind a vehicle that are hit: all of them, those of the lanes hidden over >= 12 rows
HIDDEN_KEYS = ("hit_hidden", "hit_hidden_long")
# a clear margin: SCNN's score must exceed the baseline's by one accuracy point (the two seeds of one network
# differ by up to 0.01 on the 202 occluded lanes)
MARGIN = 0.01


def _recipe(name: str) -> dict[str, Any]:
    return yaml.safe_load(list_recipes("vision")[name].read_text())


def _metrics(trainer: Any) -> dict[str, float]:
    return {k.removeprefix("test/"): float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}


def run_network(
    passing: str,
    seed: int,
    recipe: dict[str, Any],
    data: dict[str, Any],
    epochs: int | None,
    out: Path,
    real: LaneData | None,
) -> dict[str, Any]:
    """Train the recipe's network with ``message_passing=passing`` from seed ``seed``; its test scores.

    The seed draws the initialisation and the dropout; the frames and their order are the recipe's.
    """
    torch.manual_seed(seed)
    options = dict(recipe["model"]["init_args"])
    options["model_kwargs"] = {**options["model_kwargs"], "message_passing": passing}
    module = LaneDetectionModule(**options)
    trainer_options = dict(recipe["trainer"])
    if epochs is not None:
        trainer_options["max_epochs"] = epochs
    folder = out / passing / f"seed{seed}"
    trainer = quiet_trainer(**trainer_options, num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=folder)
    start = time.perf_counter()
    trainer.fit(module, datamodule=LaneData(**data))
    seconds = time.perf_counter() - start
    tester = quiet_trainer(default_root_dir=folder)
    tester.test(module, datamodule=LaneData(**data))
    row = {"model": passing, "seed": seed, **_metrics(tester), "fit_seconds": seconds}
    if real is not None:
        tester = quiet_trainer(default_root_dir=folder / "tusimple")
        tester.test(module, datamodule=real)
        scores = _metrics(tester)
        row.update({f"tusimple_{k}": scores[k] for k in ("acc", "fp", "fn")})
    return row


def mean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per network: every score averaged over its seeds, ``acc_seeds`` the per-seed accuracies."""
    means = []
    for model in dict.fromkeys(r["model"] for r in rows):
        runs = [r for r in rows if r["model"] == model]
        keys = [k for k, v in runs[0].items() if isinstance(v, float)]
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in keys}
        means.append({"model": model, "seed": "mean", **mean, "acc_seeds": [r["acc"] for r in runs]})
    return means


def _plot(path: Path, rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), sharey=True)
    x = torch.arange(len(SUBSETS)).float()
    width = 0.8 / len(rows)
    for ax, (prefix, title) in zip(axes, (("acc", "lane accuracy"), ("matched", "lanes found (accuracy >= 0.85)"))):
        for k, r in enumerate(rows):
            offset = (k - (len(rows) - 1) / 2) * width
            ax.bar(x + offset, [r[f"{prefix}_{s}"] for s in SUBSETS], width, label=LABELS[r["model"]])
        ax.set_xticks(x.tolist(), list(SUBSETS), fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("TuSimple metric, generated test lanes\n(mean over seeds)")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(means: list[dict[str, Any]], setting: str, real: str) -> str:
    hidden = all(k in r for r in means for k in HIDDEN_KEYS)
    lines = [
        f"Generated by `python tools/repro/scnn.py` ({setting}; means over the seeds, each seed's accuracy in "
        "brackets; the TuSimple metric, 8 px on the 512-px frames; 'acc' is the mean lane accuracy of the lanes of "
        "a subset, 'found' the share matched at >= 0.85; "
        + (
            "'hidden points' the share of the labelled points behind a vehicle that the lane matched to theirs "
            "hits, of all and of those of the lanes hidden over an unbroken run of >= 12 rows; "
            if hidden
            else ""
        )
        + "fit: seconds per run).",
        "",
        "| network | accuracy (per seed) | FP | FN | occluded (acc / found) | visible | dashed | solid | "
        + ("hidden points (all / long runs) | " if hidden else "")
        + "fit (s) |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if hidden else "") + "---|",
    ]
    for r in means:
        subsets = " | ".join(f"{r[f'acc_{s}']:.3f} / {r[f'matched_{s}']:.3f}" for s in SUBSETS)
        if hidden:
            subsets += " | " + " / ".join(f"{r[k]:.3f}" for k in HIDDEN_KEYS)
        seeds = ", ".join(f"{a:.3f}" for a in r["acc_seeds"])
        lines.append(
            f"| {LABELS[r['model']]} | {r['acc']:.3f} ({seeds}) | {r['fp']:.3f} | {r['fn']:.3f} | {subsets} | "
            f"{r['fit_seconds']:.0f} |"
        )
    if real:
        lines += ["", real, "", "| network | accuracy | FP | FN |", "|---|---|---|---|"]
        lines += [
            f"| {LABELS[r['model']]} | {r['tusimple_acc']:.3f} | {r['tusimple_fp']:.3f} | {r['tusimple_fn']:.3f} |"
            for r in means
        ]
    return "\n".join(lines) + "\n"


def _claims(rows: list[dict[str, Any]], means: list[dict[str, Any]], setting: str) -> list[Claim]:
    """SCNN against each baseline: held on each (seed, key) pair where SCNN's score is higher by ``MARGIN``."""
    statements = {
        "none": "SCNN's message passing finds lanes better than the same network without it, above all the "
        "occluded and dashed lanes",
        "conv": "the gain is the propagation, not the extra parameters: the same four kernels applied to the whole "
        "map at once (the paper's control) do not match SCNN",
    }
    by = {r["model"]: r for r in means}
    runs = {(r["model"], r["seed"]): r for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    claims = []
    # the command that trains the runs: --rescore only reads them again
    training_command = shlex.join(a for a in shlex.split(invoked_command()) if a != "--rescore")
    for baseline, statement in statements.items():
        if "scnn" not in by or baseline not in by:
            continue
        pairs = f"SCNN higher by >= {MARGIN} in {{}} of {len(seeds) * len(CLAIM_KEYS)} seed x score pairs"
        held = sum(runs["scnn", s][key] >= runs[baseline, s][key] + MARGIN for s in seeds for key in CLAIM_KEYS)
        total = len(seeds) * len(CLAIM_KEYS)
        measured = "; ".join(
            f"{LABELS[r['model']]} " + ", ".join(f"{key} {r[key]:.3f}" for key in CLAIM_KEYS)
            for r in (by["scnn"], by[baseline])
        )
        claims.append(
            Claim(
                paper=PAPER,
                claim=statement,
                measured=f"means over seeds: {measured} ({setting}; {pairs.format(held)})",
                reproduced=outcome(held, total),
                command=training_command,
            )
        )
    return claims


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The per-seed rows of a ``results.csv`` this script wrote (its mean rows left out), numbers as numbers."""
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["seed"] != "mean"]
    if not rows:
        raise SystemExit(f"{path} holds no per-seed rows; run tools/repro/scnn.py without --rescore first")
    return [{k: v if k == "model" else int(v) if k == "seed" else float(v) for k, v in r.items() if v} for r in rows]


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/scnn", "200 training frames, 2 epochs per network, one seed")
    parser.add_argument("--models", nargs="+", default=["scnn", "none", "conv"], choices=["scnn", "none", "conv"])
    parser.add_argument("--seeds", type=int, help="seeds per network (default 2, --quick 1)")
    parser.add_argument(
        "--image-size", type=int, nargs=2, metavar=("H", "W"), help="input size instead of the recipe's 144 256"
    )
    parser.add_argument("--long-occlusions", action="store_true", help="the roads with trucks and long dash gaps")
    parser.add_argument("--epochs", type=int, help="epochs per network instead of the recipe's")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="no training: judge the claims and write the table and figure again from --out/results.csv",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = _recipe("scnn/synthetic")
    data = dict(recipe["data"]["init_args"])
    epochs = None
    if args.quick:
        data["train_frames"], epochs = 200, 2
    # a setting other than the recipe's is a probe: its table and figure stay under --out, not in the docs
    probe = args.quick or bool(args.image_size or args.long_occlusions or args.epochs)
    if args.image_size:
        data["image_size"] = recipe["model"]["init_args"]["image_size"] = list(args.image_size)
    if args.long_occlusions:
        data["long_occlusions"] = True
    epochs = args.epochs or epochs
    if probe and not args.quick and args.out == Path("runs/repro/scnn"):
        height, width = data["image_size"]
        kind = "-long" if data.get("long_occlusions") else ""
        args.out = args.out / f"probe-{height}x{width}{kind}-{epochs or recipe['trainer']['max_epochs']}ep"
    seeds = list(range(args.seeds or (1 if args.quick else 2)))
    start = time.perf_counter()
    real = None
    if (data_root() / "tusimple" / "label_data_0313.json").is_file():
        real = LaneData(**_recipe("scnn/tusimple")["data"]["init_args"])
        real.setup("test")
    if args.rescore:
        rows = read_rows(args.out / "results.csv")
        seeds = sorted({r["seed"] for r in rows})
    else:
        LaneData(**data).setup("fit")  # write the generated roads once
        print(f"generated roads ready ({time.perf_counter() - start:.0f} s)", flush=True)
        rows = []
        for seed in seeds:
            for passing in args.models:
                rows.append(run_network(passing, seed, recipe, data, epochs, args.out, real))
                print(f"{LABELS[passing]}, seed {seed}: {rows[-1]}", flush=True)
    means = mean_rows(rows)
    write_rows(
        args.out / "results.csv", rows + [{k: v for k, v in m.items() if k != "acc_seeds"} for m in means], digits=4
    )
    height, width = data["image_size"]
    setting = (
        f"input {width} x {height}, {data['train_frames']} training / {data['test_frames']} test frames, "
        f"{epochs or recipe['trainer']['max_epochs']} epochs, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
    )
    claims = _claims(rows, means, setting)
    if claims:
        print(f"claims: {write_claims(args.out, claims)}")
    real_note = ""
    if real is not None and "tusimple_acc" in rows[0]:
        frames = len(real.dataset("test"))
        real_note = (
            f"The same networks (trained on the generated roads only; means over the seeds) on the {frames} real "
            "TuSimple frames under the data root (`scnn/tusimple`: the 512 x 288 sample and the 1280 x 720 test "
            "frame; threshold scaled per frame):"
        )
    table = _table(means, setting, real_note)
    (args.out / "table.md").write_text(table)
    print(table)
    _plot(args.out / "scnn.png", means)
    if not probe:
        figure = ROOT / "docs" / "img" / "vision" / "scnn.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        _plot(figure, means)
        replace_generated_table(ROOT / "docs" / "vision.md", "scnn", table)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
