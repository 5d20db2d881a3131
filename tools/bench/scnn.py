"""SCNN's message passing: the vectorised DULR module vs the unvectorised per-slice reference, and vs the backbone.

    .venv/bin/python tools/bench/scnn.py                          # the scnn/synthetic recipe's net and the paper's
    .venv/bin/python tools/bench/scnn.py --quick                  # the recipe's net only, short time caps (~1 min)
    .venv/bin/python tools/bench/scnn.py --doc docs/vision.md     # also write the table into the docs page

Pan et al., "Spatial As Deep: Spatial CNN for Traffic Scene Understanding", AAAI 2018,
https://arxiv.org/abs/1712.06080. SCNN's DULR passes are sequential along each axis (slice i reads the
updated slice i-1), so their cost is a question of how the loop is written. Candidates, on the feature
map the message passing sees (``[B, C, H/8, W/8]``) and the images for the backbone:

- ``dulr``: :class:`~recur_vision.models.scnn.SpatialMessagePassing`, the model's module (one batched
  1-D convolution over all images and channels per slice);
- ``dulr reference``: :func:`~recur_vision.models.scnn.dulr_reference`, the same rule written image
  by image, slice by slice and kernel tap by kernel tap (its ground truth; the "unvectorised
  per-row" form the issue asks to time against);
- ``conv baseline``: ``message_passing="conv"``, the four kernels applied to the whole map at once
  (same parameters, no sequential dependency);
- ``backbone + neck``: the VGG16-BN backbone and the neck that produce the map (what the message
  passing's cost is weighed against).

Each is timed forward (``fwd``, eval mode under ``torch.no_grad``) and forward + backward of a
squared-sum loss (``fwd+bwd``, train mode). Settings: the ``scnn/synthetic`` recipe's model options,
input size and batch (read from the installed recipe), and the paper's network (VGG16-BN at full
width, neck 1024 -> 128, 288 x 800 input, a 36 x 100 x 128 map; batch 1; skipped with ``--quick``).
``×dulr`` is the DULR module's time / this (< 1: slower than the module); ``% of backbone`` is this /
the backbone's time. Candidates are timed in interleaved rounds until their median settles
(``_stable_timing.py``); medians with the spread (interquartile range / median) in brackets. One
torch thread by default, as on a shared CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
import yaml
from _stable_timing import Settle, stable_times

from recur_core import get_model
from recur_core.recipes import list_recipes
from recur_core.repro import replace_generated_table, write_rows

RECIPE = "scnn/synthetic"
PAPER = {"width": 1.0, "neck_channels": 1024, "channels": 128, "input_size": (288, 800)}


def recipe_setting() -> tuple[dict, int]:
    """``scnn`` options (``input_size`` included) and the batch size of the installed ``scnn/synthetic`` recipe."""
    path = list_recipes("vision").get(RECIPE)
    if path is None:
        raise ValueError(f"no {RECIPE} recipe is installed; reinstall recur-vision (pip install -e packages/vision)")
    config = yaml.safe_load(path.read_text())
    try:
        model, data = config["model"]["init_args"], config["data"]["init_args"]
        options = {**(model.get("model_kwargs") or {}), "input_size": tuple(model["image_size"])}
        return options, int(data["batch_size"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: no model.init_args.image_size / data.init_args.batch_size ({err})") from None


def _timed(module: torch.nn.Module, x: torch.Tensor, backward: bool) -> Callable[[], None]:
    def forward() -> None:
        module.eval()
        with torch.no_grad():
            module(x)

    def forward_backward() -> None:
        module.train()
        module.zero_grad(set_to_none=True)
        out = module(x)
        sum((o.float().square().sum() for o in (out if isinstance(out, tuple) else (out,))), torch.zeros(())).backward()

    return forward_backward if backward else forward


class _Reference(torch.nn.Module):
    """``dulr_reference`` with the module's own kernels, as a module."""

    def __init__(self, dulr: torch.nn.Module) -> None:
        super().__init__()
        self.dulr = dulr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from recur_vision.models.scnn import dulr_reference

        return dulr_reference(x, *self.dulr.kernels())


def bench(name: str, options: dict, batch: int, settle: Settle) -> list[dict]:
    """One row per (candidate, pass) for the network ``options`` at batch ``batch``."""
    torch.manual_seed(0)
    net = get_model("scnn", **options)
    conv = get_model("scnn", **{**options, "message_passing": "conv"}).message_passing
    images = torch.randn(batch, 3, *net.config.input_size)
    backbone = torch.nn.Sequential(net.backbone, net.neck)
    with torch.no_grad():
        features = backbone.eval()(images)
        # the timed reference computes what the module does
        if not torch.allclose(_Reference(net.message_passing)(features), net.message_passing(features), atol=1e-4):
            raise RuntimeError("dulr_reference disagrees with SpatialMessagePassing")
    modules = {
        "dulr": (net.message_passing, features),
        "dulr reference": (_Reference(net.message_passing), features),
        "conv baseline": (conv, features),
        "backbone + neck": (backbone, images),
    }
    # the map needs its gradient in training (the backbone's backward goes through it)
    features.requires_grad_(True)
    candidates = {
        f"{module} {kind}": _timed(m, x, kind == "fwd+bwd")
        for module, (m, x) in modules.items()
        for kind in ("fwd", "fwd+bwd")
    }
    times = stable_times(candidates, settle)
    height, width = features.shape[2:]
    rows = []
    for module in modules:
        for kind in ("fwd", "fwd+bwd"):
            timing = times[f"{module} {kind}"]
            rows.append(
                {
                    "setting": name,
                    "map": f"{batch}x{features.shape[1]}x{height}x{width}",
                    "module": module,
                    "pass": kind,
                    "ms": timing.median * 1e3,
                    "spread": timing.spread,
                    "dulr_vs_this": times[f"dulr {kind}"].median / timing.median,
                    "of_backbone": timing.median / times[f"backbone + neck {kind}"].median,
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| setting | map B×C×H×W | module | pass | ms | ×dulr | % of backbone |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['setting']} | {row['map']} | {row['module']} | {row['pass']} | {row['ms']:.2f} "
            f"({row['spread']:.0%}) | {row['dulr_vs_this']:.2f} | {row['of_backbone']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the recipe's network only, short time caps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as on a shared CPU)")
    parser.add_argument("--csv", type=Path, default=None, help="also write every row here")
    parser.add_argument("--doc", type=Path, default=None, help="also write the table into this page's scnn block")
    args = parser.parse_args(argv)
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    settle = Settle(max_repeats=5, time_cap=3.0) if args.quick else Settle(min_repeats=5, max_repeats=20, time_cap=15.0)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    setting = (
        f"torch {torch.__version__} on {platform.machine()}, {torch.get_num_threads()} thread(s), "
        f"load average {load:.1f}, {stamp}; {settle.min_repeats}..{settle.max_repeats} runs or "
        f"{settle.time_cap:.0f} s per candidate"
    )
    print(setting)
    options, batch = recipe_setting()
    settings = [(RECIPE, options, batch)]
    if not args.quick:
        settings.append(("paper", {**options, **PAPER}, 1))
    rows = []
    for name, net_options, net_batch in settings:
        rows += bench(name, net_options, net_batch, settle)
    table = markdown(rows)
    print(table, end="")
    if args.csv:
        print(f"rows: {write_rows(args.csv, rows, list(rows[0]), digits=5)}")
    if args.doc:
        command = "python tools/bench/scnn.py " + " ".join(argv if argv is not None else sys.argv[1:])
        replace_generated_table(args.doc, "scnn", f"\n`{command.strip()}`: {setting}.\n\n{table}\n", tool="bench")
        print(f"wrote the table into {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
