"""Training-step time of LION's detectors on their recipes, one thread, and the ratio to another source tree.

    .venv/bin/python tools/bench/detector_step.py                       # both recipes, this checkout, ~1 min
    git archive <commit> packages/pointcloud/src | tar -x -C /tmp/old   # the package as it was at <commit>
    .venv/bin/python tools/bench/detector_step.py --against /tmp/old/packages/pointcloud/src   # new / old, ~3 min

The recipes ``lion/synthetic`` (LION-mamba) and ``lion/synthetic_no_backbone`` as shipped: their model and
optimiser options, the first ``--batches`` training batches of epoch 0 (batch 4, augmented, the synthetic
scenes written once under the user cache), one torch thread. A step is what a fit repeats: zero the
gradients, forward, the anchor head's loss, backward, clip the gradient norm at 10 (the recipes'
``gradient_clip_val``), AdamW. Loading and augmenting a batch (``num_workers`` 0, so in the fit's process) is
timed apart. Times are medians over the rounds (interquartile spread in brackets).

With ``--against``, the package is also imported from that source tree in a second worker process; the two
workers take turns, round by round, so that both see the same load on a shared machine, and the table gives
new / old. Both build each model from the same seed and first print its loss and gradient norm on the first
batch before any step: equal up to float rounding when a change keeps the results.

Measured (``heavy.sh .venv/bin/python tools/bench/detector_step.py --against <HEAD's package>``, 2026-12-05, on
the shared 2-core machine): see docs/pointcloud.md ("Speed of a training step").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RECIPES = ("synthetic", "synthetic_no_backbone")
CONFIGS = Path(__file__).resolve().parents[2] / "packages" / "pointcloud" / "configs" / "lion"
# a 60-epoch fit: 48 training frames at batch 4
STEPS_PER_EPOCH = 12


def _worker(batches: int) -> None:
    """Build both recipes, report the first batch's loss, then time ``<recipe> <steps>`` requests from stdin."""
    import torch
    import yaml

    import recur_pointcloud
    from recur_pointcloud.detection import DetectionData, DetectionModule, collate_frames

    torch.set_num_threads(1)
    setups, ready = {}, {"package": str(Path(recur_pointcloud.__file__).parent)}
    for recipe in RECIPES:
        config = yaml.safe_load((CONFIGS / f"{recipe}.yaml").read_text())
        torch.manual_seed(config["seed_everything"])
        module = DetectionModule(**config["model"]["init_args"])
        data = DetectionData(**config["data"]["init_args"])
        frames = data.make_dataset("train")
        size = data.batch_size

        def load(i: int, frames=frames, size=size) -> dict:
            return collate_frames([frames[(0, (i * size + k) % len(frames))] for k in range(size)])

        net, hparams = module.net, module.hparams
        optimizer = torch.optim.AdamW(
            net.parameters(), lr=hparams.lr, betas=(hparams.moms[0], 0.99), weight_decay=hparams.weight_decay
        )
        first = load(0)
        loss = net.loss(net(first["points"]), first["boxes"], first["labels"])["total"]
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), float("inf"))
        ready[recipe] = {"loss": loss.item(), "grad_norm": norm.item()}
        setups[recipe] = (net, optimizer, load)
    print(json.dumps(ready), flush=True)

    def step(net, optimizer, batch) -> None:
        optimizer.zero_grad()
        losses = net.loss(net(batch["points"]), batch["boxes"], batch["labels"])
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimizer.step()

    for line in sys.stdin:
        recipe, steps = line.split()
        net, optimizer, load = setups[recipe]
        step_times, load_times = [], []
        for i in range(int(steps)):
            start = time.perf_counter()
            batch = load(i % batches)
            load_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            step(net, optimizer, batch)
            step_times.append(time.perf_counter() - start)
        print(json.dumps({"step": step_times, "load": load_times}), flush=True)


def _start(source: str | None) -> tuple[subprocess.Popen, dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    worker = subprocess.Popen(
        [sys.executable, __file__, "--worker", "--batches", str(ARGS.batches)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    return worker, json.loads(worker.stdout.readline())


def _ask(worker: subprocess.Popen, recipe: str, steps: int) -> dict:
    worker.stdin.write(f"{recipe} {steps}\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())


def _median(times: list[float]) -> str:
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return f"{median:.3f} ({(q3 - q1) / median:.0%})"


def main() -> None:
    sides = {"new": None} | ({"old": ARGS.against} if ARGS.against else {})
    workers = {}
    for side, source in sides.items():
        workers[side], ready = _start(source)
        print(f"{side}: {ready.pop('package')}")
        for recipe, first in ready.items():
            print(f"  {recipe}: first-batch loss {first['loss']:.7g}, gradient norm {first['grad_norm']:.7g}")
    times = {(side, recipe): {"step": [], "load": []} for side in sides for recipe in RECIPES}
    for _ in range(ARGS.rounds):
        for recipe in RECIPES:
            for side, worker in workers.items():
                # the first step of a request warms the worker's caches for this recipe
                reply = _ask(worker, recipe, ARGS.steps + 1)
                for key in ("step", "load"):
                    times[side, recipe][key] += reply[key][1:]
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    import torch

    print(
        f"\n{ARGS.rounds} rounds of {ARGS.steps} steps, batches from {ARGS.batches}; torch {torch.__version__}, "
        f"1 thread, load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    header = "| recipe | side | step s | load s | 60 epochs of steps, min |"
    if ARGS.against:
        header += " step new / old |"
    print(header + "\n" + "|---" * (header.count("|") - 1) + "|")
    for recipe in RECIPES:
        for side in sides:
            step, load = times[side, recipe]["step"], times[side, recipe]["load"]
            minutes = 60 * STEPS_PER_EPOCH * (statistics.median(step) + statistics.median(load)) / 60
            row = f"| {recipe} | {side} | {_median(step)} | {_median(load)} | {minutes:.1f} |"
            if ARGS.against:
                ratio = statistics.median(step) / statistics.median(times["old", recipe]["step"])
                row += f" {ratio:.2f} |" if side == "new" else " |"
            print(row)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="a source tree holding another recur_pointcloud, timed beside this one")
    parser.add_argument("--rounds", type=int, default=3, help="turns per worker and recipe")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per turn (after one warm-up step)")
    parser.add_argument("--batches", type=int, default=4, help="distinct training batches cycled through")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ARGS = parser.parse_args()
    _worker(ARGS.batches) if ARGS.worker else main()
