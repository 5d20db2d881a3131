"""LRCN's cost: clips per second with an ``lstm``, ``gla`` or ``attention`` head, and captions decoded per second.

    .venv/bin/python tools/bench/lrcn.py                 # both parts, one thread
    .venv/bin/python tools/bench/lrcn.py --quick         # shorter long clip, short time caps, a shorter fit
    .venv/bin/python tools/bench/lrcn.py --long-clip 128 --threads 2 --csv runs/bench/lrcn.csv
    .venv/bin/python tools/bench/lrcn.py --doc docs/vision.md   # also write the tables into the page's lrcn block

Donahue et al., "Long-term Recurrent Convolutional Networks for Visual Recognition and
Description", CVPR 2015, https://arxiv.org/abs/1411.4389. The recurrence of recur's LRCN is any core
layer (``layer``), so the question is what a head other than the paper's LSTM costs.

1. **Activity recognition** (``lrcn`` from the registry with the ``lrcn/activity`` recipe's model
   options, read from the installed recipe). Clips ``[B, T, 3, S, S]`` of the recipe's batch size,
   clip length and crop, and of one longer clip (``--long-clip``, T = 64; 32 with ``--quick``),
   where the heads' costs differ more. Per head:

   - ``train clips/s``: one training step, forward + the recipe's loss (cross-entropy at every
     timestep) + backward + an AdamW step, in train mode;
   - ``infer clips/s``: forward in eval mode under ``torch.no_grad``;
   - ``head ms``: the recurrence alone, forward + backward on ``[B, T, hidden]`` (the frame CNN, the
     same for every head, is most of the model's time at these sizes, so this column shows what the
     head itself costs).

   Ratios are this head / ``lstm`` (the paper's head) from the same run: > 1 means faster than the LSTM.

2. **Caption decoding** (``lrcn_captioner`` with the ``lrcn/captioning`` recipe's sizes, read from the
   installed recipe): milliseconds per caption of greedy decoding and of beam search with k = 1, 3, 5
   for a batch of ``--caption-batch`` (16) generated shape scenes (the recipe's image size;
   ``render_scene`` of the recipe's data, with a seed the training scenes do not use), from the
   image features (the CNN's encoding, the same for every decoder, is timed apart), twice: with
   untrained weights, which rarely emit EOS, so every search runs the full 20 steps, and with a
   captioner trained here by the recipe itself (``recur-vision fit --config lrcn/captioning``
   through :func:`recur_core.engine.run_cli`, on ``--caption-train-images`` generated scenes for
   ``--caption-epochs`` epochs, in a temporary runs folder), which stops at its captions' ends.
   ``--ckpt`` decodes with the captioner of an ``lrcn/captioning`` checkpoint instead of training
   one. The printed mean length says how long the captions were. Ratios are greedy / this: the
   slowdown of the search against greedy.

Candidates are timed in interleaved rounds until their median settles (``_stable_timing.py``); each
number is a median with its spread (interquartile range / median) in brackets. One thread by default,
as on a shared CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import yaml
from _stable_timing import Settle, Timing, stable_times
from torch import nn

from recur_core import get_model
from recur_core.recipes import list_recipes
from recur_core.repro import replace_generated_table, write_rows

HEADS = ("lstm", "gla", "attention")
BEAMS = (1, 3, 5)
# the options of lrcn/captioning's CaptioningModule that are the captioner's sizes
CAPTIONER_OPTIONS = ("vocab_size", "d_model", "feature_dim", "layer", "encoder", "encoder_kwargs", "static_init")


def recipe(name: str) -> dict:
    """The vision recipe ``name`` (``lrcn/activity``) as installed, read from its YAML."""
    return yaml.safe_load(list_recipes("vision")[name].read_text())


def activity_setting() -> tuple[dict, int, int, int]:
    """lrcn/activity's model options (without ``layer``), batch size, clip length and crop side."""
    config = recipe("lrcn/activity")
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    options = {k: v for k, v in (model.get("model_kwargs") or {}).items() if k != "layer"}
    options["num_classes"] = model["num_classes"]
    crop = data.get("crop_size") or data["video_size"]
    return options, data["batch_size"], data["clip_len"], crop


def captioner_setting() -> dict:
    """lrcn/captioning's captioner sizes (``lrcn_captioner`` options), its image size included."""
    config = recipe("lrcn/captioning")
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    return {**{k: model[k] for k in CAPTIONER_OPTIONS if k in model}, "image_size": data["image_size"]}


def _cell(timing: Timing, scale: float = 1.0, digits: int = 1) -> str:
    return f"{timing.median * scale:.{digits}f} ({timing.spread:.0%})"


def _train_step(model: nn.Module, clips: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.005)

    def step() -> None:
        model.train()
        logits = model(clips)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.repeat_interleave(clips.shape[1]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _inference(model: nn.Module, clips: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        model.eval()
        with torch.no_grad():
            model(clips)

    return run


def _head_fwd_bwd(layer: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        layer.zero_grad(set_to_none=True)
        y, _ = layer(x)
        y.square().mean().backward()

    return run


def bench_activity(options: dict, batch: int, frames: int, crop: int, settle: Settle) -> list[dict]:
    """One row per head: train and inference clips per second and head ms, clips ``[batch, frames, 3, crop, crop]``."""
    clips = torch.randn(batch, frames, 3, crop, crop)
    labels = torch.randint(0, options["num_classes"], (batch,))
    candidates: dict[str, Callable[[], None]] = {}
    for head in HEADS:
        torch.manual_seed(0)
        model = get_model("lrcn", layer=head, **options)
        features = torch.randn(batch, frames, model.config.hidden)
        candidates[f"{head} train"] = _train_step(model, clips, labels)
        candidates[f"{head} infer"] = _inference(model, clips)
        candidates[f"{head} head"] = _head_fwd_bwd(model.layer, features)
    times = stable_times(candidates, settle)
    rows = []
    for head in HEADS:
        train, infer, alone = times[f"{head} train"], times[f"{head} infer"], times[f"{head} head"]
        rows.append(
            {
                "part": "activity",
                "setting": f"B={batch} T={frames} {crop}x{crop}",
                "head": head,
                "train_clips_per_s": batch / train.median,
                "train_spread": train.spread,
                "train_vs_lstm": times["lstm train"].median / train.median,
                "infer_clips_per_s": batch / infer.median,
                "infer_spread": infer.spread,
                "infer_vs_lstm": times["lstm infer"].median / infer.median,
                "head_ms": alone.median * 1e3,
                "head_spread": alone.spread,
                "head_vs_lstm": times["lstm head"].median / alone.median,
            }
        )
    return rows


def _load_captioner(ckpt: str) -> nn.Module:
    """The captioner of an ``lrcn/captioning`` checkpoint, in eval mode."""
    from recur_vision.task import CaptioningModule

    return CaptioningModule.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True).net.eval()


def train_captioner(images: int, epochs: int) -> nn.Module:
    """The ``lrcn/captioning`` recipe's captioner fitted by its own CLI on ``images`` generated scenes
    (1/10 as many for val and test) for ``epochs`` epochs, in a temporary runs folder; in eval mode."""
    from recur_core.engine import run_cli

    held_out = max(images // 10, 1)
    args = ["fit", "--config", "lrcn/captioning", f"--trainer.max_epochs={epochs}", f"--data.train_images={images}"]
    args += [f"--data.val_images={held_out}", f"--data.test_images={held_out}"]
    runs = tempfile.TemporaryDirectory()
    with runs as folder, mock.patch.dict(os.environ, {"RECUR_RUNS": folder}), warnings.catch_warnings():
        # run_cli is given its arguments while this script has its own sys.argv: LightningCLI warns of both
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        cli = run_cli("vision", args)
    return cli.model.net.eval()


def bench_decoding(model: nn.Module, label: str, batch: int, settle: Settle) -> list[dict]:
    """One row per decoder of ``model``: ms per caption (batched), the ratio greedy / this, the mean caption length."""
    from recur_vision.data.generated_captions import render_scene

    size = model.config.image_size
    # generated shape scenes as the recipe's test images, uint8 [H, W, 3] -> [0, 1] [3, H, W]; seed 1: scenes
    # that the captioner trained here (on the recipe's seed-0 scenes) never saw
    scenes = [render_scene(np.random.default_rng([1, i]), size)[0] for i in range(batch)]
    images = torch.from_numpy(np.stack(scenes)).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        features = model.encode(images)
    decoders: dict[str, Callable[[], object]] = {"greedy": lambda: model.greedy(features)}
    for k in BEAMS:
        decoders[f"beam k={k}"] = lambda k=k: model.beam_search(features, beam_size=k)

    def encode() -> None:
        with torch.no_grad():
            model.encode(images)

    times = stable_times({"encode": encode, **decoders}, settle)
    rows = []
    for name, decode in decoders.items():
        lengths = decode().lengths.float().mean().item()
        rows.append(
            {
                "part": "captioning",
                "setting": f"B={batch} {label}",
                "head": name,
                "ms_per_caption": times[name].median * 1e3 / batch,
                "spread": times[name].spread,
                "greedy_vs_this": times["greedy"].median / times[name].median,
                "mean_length": lengths,
                "encode_ms_per_image": times["encode"].median * 1e3 / batch,
            }
        )
    return rows


def _print_activity(long_clip: int, settle: Settle) -> list[dict]:
    rows = []
    options, batch, clip_len, crop = activity_setting()
    print(f"\nLRCN activity, lrcn/activity's model {options}: clips per second; ratios this head / lstm (> 1: faster)")
    print(
        f"{'clips':<20}{'head':<11}{'train clips/s':>16}{'×lstm':>7}{'infer clips/s':>16}{'×lstm':>7}"
        f"{'head ms':>14}{'×lstm':>7}"
    )
    for frames in (clip_len, long_clip):
        for row in bench_activity(options, batch, frames, crop, settle):
            rows.append(row)
            print(
                f"{row['setting']:<20}{row['head']:<11}"
                f"{row['train_clips_per_s']:>10.1f} ({row['train_spread']:.0%}){row['train_vs_lstm']:>7.2f}"
                f"{row['infer_clips_per_s']:>10.1f} ({row['infer_spread']:.0%}){row['infer_vs_lstm']:>7.2f}"
                f"{row['head_ms']:>8.2f} ({row['head_spread']:.0%}){row['head_vs_lstm']:>7.2f}"
            )
    return rows


def _print_decoding(model: nn.Module, label: str, batch: int, settle: Settle) -> list[dict]:
    print(
        f"\ncaption decoding (lrcn/captioning's model, {label}), "
        f"batch {batch}: ms per caption; ratio greedy / this (< 1: slower than greedy)"
    )
    print(f"{'decoder':<11}{'ms/caption':>15}{'greedy/this':>13}{'mean words':>12}")
    rows = bench_decoding(model, label, batch, settle)
    for row in rows:
        print(
            f"{row['head']:<11}{row['ms_per_caption']:>9.3f} ({row['spread']:.0%})"
            f"{row['greedy_vs_this']:>13.2f}{row['mean_length']:>12.1f}"
        )
    print(f"(image encoding, apart: {rows[-1]['encode_ms_per_image']:.3f} ms per image)")
    return rows


def markdown_activity(rows: list[dict]) -> str:
    """The activity rows as a markdown table (medians, spreads in brackets, ratios to the LSTM's)."""
    lines = [
        "| clips | head | train clips/s | ×lstm | infer clips/s | ×lstm | head ms | ×lstm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['setting']} | {row['head']} | {row['train_clips_per_s']:.1f} ({row['train_spread']:.0%}) "
            f"| {row['train_vs_lstm']:.2f} | {row['infer_clips_per_s']:.1f} ({row['infer_spread']:.0%}) "
            f"| {row['infer_vs_lstm']:.2f} | {row['head_ms']:.2f} ({row['head_spread']:.0%}) "
            f"| {row['head_vs_lstm']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def markdown_decoding(rows: list[dict]) -> str:
    """One captioner's decoding rows as a markdown table, then its image encoding time."""
    lines = ["| decoder | ms / caption | greedy / this | mean words |", "|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['head']} | {row['ms_per_caption']:.3f} ({row['spread']:.0%}) | {row['greedy_vs_this']:.2f} "
            f"| {row['mean_length']:.1f} |"
        )
    lines.append(f"\nImage encoding, timed apart: {rows[-1]['encode_ms_per_image']:.3f} ms per image.")
    return "\n".join(lines) + "\n"


def captioners(args: argparse.Namespace) -> list[tuple[nn.Module, str]]:
    """The captioners to time: untrained, then trained here by the recipe (or the one of ``--ckpt``)."""
    torch.manual_seed(0)
    untrained = get_model("lrcn_captioner", **captioner_setting()).eval()
    if args.ckpt:
        return [(untrained, "untrained"), (_load_captioner(args.ckpt), f"trained: {args.ckpt}")]
    start = time.perf_counter()
    trained = train_captioner(args.caption_train_images, args.caption_epochs)
    label = (
        f"trained here: the recipe for {args.caption_epochs} epochs on {args.caption_train_images} scenes, "
        f"{time.perf_counter() - start:.0f} s"
    )
    return [(untrained, "untrained"), (trained, label)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="long clip T=32, at most 6 runs or 3 s per candidate")
    parser.add_argument("--long-clip", type=int, default=None, help="frames of the longer clip (default 64, 32 quick)")
    parser.add_argument("--caption-batch", type=int, default=16, help="images decoded per call (default 16)")
    parser.add_argument(
        "--ckpt", default=None, help="an lrcn/captioning checkpoint to decode with (default: train one)"
    )
    parser.add_argument(
        "--caption-epochs", type=int, default=None, help="epochs of the captioner trained here (default 4)"
    )
    parser.add_argument(
        "--caption-train-images", type=int, default=None, help="its training scenes (default 2000, 1000 quick)"
    )
    parser.add_argument("--part", choices=("all", "activity", "captioning"), default="all", help="what to time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as on a shared CPU)")
    parser.add_argument("--csv", type=Path, default=None, help="also write every row here")
    parser.add_argument("--doc", type=Path, default=None, help="also write the tables into this page's lrcn block")
    args = parser.parse_args(argv)
    long_clip = args.long_clip or (32 if args.quick else 64)
    args.caption_epochs = args.caption_epochs or 4
    args.caption_train_images = args.caption_train_images or (1000 if args.quick else 2000)
    sizes = (args.caption_batch, args.threads, args.caption_epochs)
    if long_clip < 2 or min(sizes) < 1 or args.caption_train_images < 10:
        raise ValueError(
            f"--long-clip must be >= 2, --caption-batch, --threads, --caption-epochs >= 1 and "
            f"--caption-train-images >= 10, got {long_clip}, {args.caption_batch}, {args.threads}, "
            f"{args.caption_epochs}, {args.caption_train_images}"
        )
    torch.set_num_threads(args.threads)
    settle = Settle(max_repeats=6, time_cap=3.0) if args.quick else Settle(min_repeats=8, max_repeats=30, time_cap=20.0)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    setting = (
        f"torch {torch.__version__} on {platform.machine()}, {torch.get_num_threads()} thread(s), load average "
        f"{load:.1f} at the start, {stamp}; medians (spread = IQR / median), each candidate until its median of 5 "
        f"settles within 3% ({settle.min_repeats}..{settle.max_repeats} runs, {settle.time_cap:.0f} s cap)"
    )
    print(setting)

    rows: list[dict] = []
    sections: list[str] = []
    if args.part in ("all", "activity"):
        activity = _print_activity(long_clip, settle)
        options, batch, clip_len, crop = activity_setting()
        sections.append(
            f"**LRCN activity recognition**, lrcn/activity's model ({options}), batches of {batch} clips of "
            f"{clip_len} then {long_clip} frames at {crop} x {crop}:\n\n{markdown_activity(activity)}"
        )
        rows += activity
    if args.part in ("all", "captioning"):
        for model, label in captioners(args):
            decoding = _print_decoding(model, label, args.caption_batch, settle)
            sections.append(
                f"**Caption decoding**, lrcn/captioning's captioner ({label}), batches of {args.caption_batch} "
                f"scenes:\n\n{markdown_decoding(decoding)}"
            )
            rows += decoding
    if args.csv:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        print(f"rows: {write_rows(args.csv, rows, columns, digits=5)}")
    if args.doc:
        command = "python tools/bench/lrcn.py " + " ".join(argv if argv is not None else sys.argv[1:])
        body = "\n".join(sections)
        replace_generated_table(args.doc, "lrcn", f"\n`{command.strip()}`: {setting}.\n\n{body}\n", tool="bench")
        print(f"wrote the tables into {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
