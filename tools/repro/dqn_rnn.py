"""3DCNN-DQN-RNN's claim at CPU scale: the learned eye-window search plus the RNN labelling beats labelling
with the 3D CNN alone (the paper's claim) and with the RNN alone, on the synthetic rooms.

Paper: Liu, Li, Chen & Shen, "3DCNN-DQN-RNN: A Deep Reinforcement Learning Framework for Semantic Parsing of
Large-scale 3D Point Clouds", ICCV 2017, https://arxiv.org/abs/1707.06783 (no official code).

Claim checked (paraphrased): a DQN that moves and scales an eye window over the voxelised scene, reading 3D-CNN
features, finds class regions whose points a residual RNN then labels from raw attributes plus the CNN features;
this parses scenes better (per-class IoU, overall accuracy) than the 3D CNN labelling voxels alone.

Set-up (CPU scale). Exactly the recipe ``dqn_rnn/synthetic_rooms``
(:class:`recur_pointcloud.parsing.SceneParsingModule` on :class:`recur_pointcloud.parsing.RoomsData`: the
synthetic rooms, train areas 1-4, test area 5, 8192 points per room; the labellers' epochs, then the DQN's), one
module training the model's networks and both baselines, tested with its final weights (no validation). Scored
over every test point: mean IoU over the classes present and overall accuracy, for the model (class-wise DQN
windows labelled by the RNN with CNN features, the rest by sliding windows), the CNN-only baseline (sliding
windows, each point its voxel's label), the RNN-only baseline (sliding windows, no CNN features) and recur's
ablation (the model's RNN on the sliding windows, no DQN), which tells what the window search adds. Each claim
holds on a metric when the model beats that baseline on it (mIoU and OA: two checks each).

Measured (``python tools/repro/dqn_rnn.py``, full, 550 s on one thread, 2026-12-05): mIoU / OA 0.755 / 0.948 for
the model against 0.548 / 0.880 for the CNN alone and 0.724 / 0.936 for the RNN alone (both claims: yes), the
sliding ablation 0.805 / 0.961; the searched windows' IoU with their class 0.149 against 0.098 for the whole room,
so the DQN adds nothing over the sliding windows here. The recipe at seeds 1 and 2 (``recur-pointcloud fit --config
dqn_rnn/synthetic_rooms --seed_everything N --data.seed N``, tested with the last weights): 0.810 / 0.751 against
the CNN's 0.634 / 0.516 and the RNN alone's 0.753 / 0.731. With the recipe of before 2026-12-05 (10 labeller
epochs, constant rate, no GroupNorm in the CNN) the RNN alone beat the model at seeds 1 and 2 (docs/pointcloud.md).

Outputs under ``--out`` (default ``runs/repro/dqn_rnn``): ``results.csv`` (one row per method: mIoU, OA and
each class's IoU), ``claims.csv`` and ``dqn_rnn.png`` (per-class IoU of the methods).

.. code-block:: bash

    .venv/bin/python tools/repro/dqn_rnn.py          # the recipe's 24 epochs
    .venv/bin/python tools/repro/dqn_rnn.py --quick  # 3 labeller epochs + 1 DQN epoch, 4096 points per room
"""

from __future__ import annotations

import os

# one thread for torch and numpy's BLAS; set before numpy and torch load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from pathlib import Path
from typing import Any

import torch
import yaml

from recur_core.engine import quiet_trainer
from recur_core.recipes import list_recipes
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_pointcloud.data.s3dis import S3DIS_CLASSES
from recur_pointcloud.parsing import METHODS, RoomsData, SceneParsingModule

PAPER = "Liu et al. 2017, 3DCNN-DQN-RNN"
LABELS = {
    "dqn_rnn": "3DCNN-DQN-RNN",
    "cnn": "3D CNN only",
    "rnn": "RNN only",
    "sliding": "RNN + CNN, sliding windows (no DQN)",
}


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/dqn_rnn", "3 labeller epochs and 1 DQN epoch, 4096 points per room")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = yaml.safe_load(list_recipes("pointcloud")["dqn_rnn/synthetic_rooms"].read_text())
    model_options = dict(recipe["model"]["init_args"])
    data_options = dict(recipe["data"]["init_args"])
    epochs = recipe["trainer"]["max_epochs"]
    if args.quick:
        model_options["labeller_epochs"], epochs, data_options["max_points"] = 3, 4, 4096
    torch.manual_seed(recipe.get("seed_everything", 0))
    start = time.perf_counter()
    data = RoomsData(**data_options)
    module = SceneParsingModule(**model_options)
    trainer = quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=args.out)
    trainer.fit(module, datamodule=data)
    fit_seconds = time.perf_counter() - start
    print(f"fit {fit_seconds:.0f} s", flush=True)
    tester = quiet_trainer(default_root_dir=args.out)
    tester.test(module, datamodule=data, verbose=False)
    scores = {k.removeprefix("test/"): float(v) for k, v in tester.callback_metrics.items() if k.startswith("test/")}
    rows = []
    for method in METHODS:
        suffix = "" if method == "dqn_rnn" else f"_{method}"
        row: dict[str, Any] = {"method": method, "miou": scores[f"miou{suffix}"], "oa": scores[f"oa{suffix}"]}
        row.update({name: scores.get(f"iou_{name}{suffix}", float("nan")) for name in S3DIS_CLASSES})
        rows.append(row)
    write_rows(args.out / "results.csv", rows, digits=4)
    by = {row["method"]: row for row in rows}
    setting = (
        f"synthetic rooms, train areas {data_options['train_areas']}, test area {data_options['test_areas']}, "
        f"{data_options['max_points']} points per room, {model_options['labeller_epochs']} labeller + "
        f"{epochs - model_options['labeller_epochs']} DQN epochs, one seed; the DQN windows cover "
        f"{scores['dqn_coverage']:.2f} of the points, their IoU with their class {scores['dqn_iou']:.3f} against "
        f"{scores['room_iou']:.3f} for the whole room where each search starts"
    )
    measured = "; ".join(f"{LABELS[m]} mIoU {by[m]['miou']:.3f} / OA {by[m]['oa']:.3f}" for m in METHODS)
    claims = []
    for baseline, claim in (
        ("cnn", "the learned eye-window search plus residual-RNN labelling parses scenes better than the 3D CNN alone "
         "(per-class IoU, overall accuracy)"),
        ("rnn", "the 3D CNN's features help the residual RNN: the model parses scenes better than the same RNN on the "
         "points' raw attributes alone (the issue's second baseline)"),
    ):  # fmt: skip
        held = sum(by["dqn_rnn"][key] > by[baseline][key] for key in ("miou", "oa"))
        claims.append(
            Claim(
                paper=PAPER,
                claim=claim,
                measured=f"{measured} ({setting}; beats the {LABELS[baseline]} baseline on {held} of 2)",
                reproduced=outcome(held, 2),
                command=invoked_command(),
            )
        )
    print(f"claims: {write_claims(args.out, claims)}")
    _plot(args.out / "dqn_rnn.png", rows)
    for row in rows:
        print(f"{LABELS[row['method']]:<38} mIoU {row['miou']:.3f}  OA {row['oa']:.3f}")
    print(f"total {time.perf_counter() - start:.0f} s")


def _plot(path: Path, rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10.0, 3.9))
    x = torch.arange(len(S3DIS_CLASSES)).float()
    width = 0.8 / len(rows)
    for k, row in enumerate(rows):
        offset = (k - (len(rows) - 1) / 2) * width
        label = f"{LABELS[row['method']]} (mIoU {row['miou']:.2f})"
        ax.bar(x + offset, [row[name] for name in S3DIS_CLASSES], width, label=label)
    ax.set_xticks(x.tolist(), list(S3DIS_CLASSES), fontsize=8, rotation=30)
    ax.set_ylim(0, 1)
    ax.set_ylabel("IoU, synthetic test rooms")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(rows))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
