"""ViR's cost at growing resolution: images per second and peak memory, ViR (parallel, chunkwise) vs the same-size ViT.

    .venv/bin/python tools/bench/vir.py                          # ViR-S/16 vs ViT-S/16, 224..672 px (~2 min)
    .venv/bin/python tools/bench/vir.py --quick                  # the mini size, short time caps (~10 s)
    .venv/bin/python tools/bench/vir.py --doc docs/vision.md     # also write the table into the docs page
    .venv/bin/python tools/bench/vir.py --sizes 224 448 896 --forms parallel chunkwise recurrent --csv vir.csv

Hatamizadeh et al., "ViR: Towards Efficient Vision Retention Backbones", 2023,
https://arxiv.org/abs/2310.19731. The paper's claim: ViR's recurrent/chunkwise form keeps memory flat
in the number of tokens, so it scales to high-resolution images where a ViT's attention (quadratic in
the tokens) does not. Models: ``vir`` and ``vit`` from the registry at ``--model-size`` (S: width 384,
depth 12, 6 heads; the same patch embedding, widths, depth and MLP), randomly initialised, eval mode,
``torch.no_grad``, a batch of ``--batch`` images per call at each side of ``--sizes`` (the position
tables resampled, as at high-resolution inference). Per candidate:

- ``images/s``: inference throughput, timed in interleaved rounds until the median settles
  (``_stable_timing.py``; medians with the spread, interquartile range / median, in brackets);
- ``peak MB``: the most memory the forward pass adds to the process beyond what it held before the
  call (model, inputs), measured on its own call: the kernel's peak resident set size (``VmHWM``),
  reset through ``/proc/self/clear_refs`` before the call (Linux), with glibc's mmap threshold fixed
  at 64 KiB so every large tensor is mapped when allocated and unmapped when freed (otherwise freed
  memory stays resident and a later call's peak hides in it);
- ``×vit``: ViT's time / this (> 1: faster than the ViT) and this peak / ViT's peak (< 1: less memory),
  from the same run.

Two ViTs: ``vit`` is the core ``attention`` layer as it runs, through ``scaled_dot_product_attention``,
whose fused CPU kernel (flash attention) never holds the T x T score matrix, so its memory grows
linearly in the tokens; ``vit T×T`` is the same model with the kernel forced to PyTorch's math
backend, which materialises the scores as the paper's ViT did (quadratic memory in the tokens).

The forms (``--forms``): ``parallel`` (every block over all tokens; the core ``retention`` layer itself
computes its parallel form chunk by chunk inside, so even it never builds the T x T decay matrix),
``chunkwise`` (``--chunk-size`` tokens at a time through all blocks, states carried: the blocks
never see more than a chunk) and ``recurrent`` (one token at a time: the flattest memory, a Python
loop over tokens and blocks, slow on a CPU). One torch thread by default, as on a shared CPU.
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
from _memory import fix_malloc_for_peaks, peak_megabytes
from _stable_timing import Settle, stable_times
from torch.nn.attention import SDPBackend, sdpa_kernel

from recur_core import get_model
from recur_core.repro import replace_generated_table, write_rows

FORMS = ("parallel", "chunkwise", "recurrent")
ROOT = Path(__file__).resolve().parents[2]


def build_models(model_size: str, patch: int, base: int) -> dict[str, torch.nn.Module]:
    """ViR and ViT of ``model_size``, built for ``base`` x ``base`` images, same seed, eval mode."""
    models = {}
    for name in ("vir", "vit"):
        torch.manual_seed(0)
        models[name] = get_model(name, num_classes=1000, size=model_size, patch_size=patch, image_size=base).eval()
    return models


def _inference(
    model: torch.nn.Module, images: torch.Tensor, backend: SDPBackend | None = None, **options
) -> Callable[[], None]:
    """One no-grad call of ``model(images, **options)``; ``backend``: the attention kernel forced for the call."""

    def run() -> None:
        with torch.no_grad():
            if backend is None:
                model(images, **options)
                return
            with sdpa_kernel(backend):
                model(images, **options)

    return run


def bench(
    model_size: str,
    patch: int,
    sizes: list[int],
    forms: list[str],
    batch: int,
    chunk: int,
    settle: Settle,
    memory: bool,
) -> list[dict]:
    """One row per (side, candidate): images/s, its spread, ×vit, peak MB and its ratio to the ViT's."""
    models = build_models(model_size, patch, sizes[0])
    rows = []
    for side in sizes:
        images = torch.randn(batch, 3, side, side)
        candidates = {
            "vit": _inference(models["vit"], images),
            "vit T×T": _inference(models["vit"], images, SDPBackend.MATH),
        }
        for form in forms:
            candidates[f"vir {form}"] = _inference(models["vir"], images, form=form, chunk_size=chunk)
        # ViR's forms give the same logits (a check that the timed calls compute the same thing)
        with torch.no_grad():
            reference = models["vir"](images)
            for form in forms:
                got = models["vir"](images, form=form, chunk_size=chunk)
                if not torch.allclose(got, reference, atol=1e-3, rtol=1e-3):
                    raise RuntimeError(f"ViR's {form} form disagrees with parallel at {side} px")
        peaks = {name: peak_megabytes(run) for name, run in candidates.items()} if memory else {}
        times = stable_times(candidates, settle)
        tokens = (side // patch) ** 2
        for name, timing in times.items():
            row = {
                "side": side,
                "tokens": tokens,
                "model": name,
                "images_per_s": batch / timing.median,
                "spread": timing.spread,
                "speed_vs_vit": times["vit"].median / timing.median,
            }
            if memory:
                row["peak_mb"] = peaks[name]
                # below a megabyte the page-granular peak is noise: no ratio
                row["memory_vs_vit"] = peaks[name] / peaks["vit"] if peaks["vit"] >= 1.0 else float("nan")
            rows.append(row)
    return rows


def markdown(rows: list[dict], memory: bool) -> str:
    """The rows as a Markdown table."""
    head = "| side | tokens | model | images/s | ×vit |" + (" peak MB | ×vit |" if memory else "")
    rule = "|---|---|---|---|---|" + ("---|---|" if memory else "")
    lines = [head, rule]
    for row in rows:
        line = (
            f"| {row['side']} | {row['tokens']} | {row['model']} | {row['images_per_s']:.2f} ({row['spread']:.0%}) "
            f"| {row['speed_vs_vit']:.2f} |"
        )
        if memory:
            line += f" {row['peak_mb']:.1f} | {row['memory_vs_vit']:.2f} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the mini size, sides 64..256, short time caps")
    parser.add_argument("--model-size", default=None, help="S, B, L or mini (default S; mini with --quick)")
    parser.add_argument("--patch", type=int, default=16, help="patch size (16)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="image sides (default 224 448 672)")
    parser.add_argument("--forms", nargs="+", choices=FORMS, default=["parallel", "chunkwise"], help="ViR's forms")
    parser.add_argument("--batch", type=int, default=1, help="images per call (1)")
    parser.add_argument("--chunk-size", type=int, default=64, help="tokens per chunk of the chunkwise form (64)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory column (non-Linux)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as on a shared CPU)")
    parser.add_argument("--csv", type=Path, default=None, help="also write every row here")
    parser.add_argument("--doc", type=Path, default=None, help="also write the table into this page's vir block")
    args = parser.parse_args(argv)
    model_size = args.model_size or ("mini" if args.quick else "S")
    sizes = args.sizes or ([64, 128, 256] if args.quick else [224, 448, 672])
    if args.batch < 1 or args.threads < 1 or args.chunk_size < 1 or any(s % args.patch or s < 1 for s in sizes):
        raise ValueError(
            f"--batch, --threads and --chunk-size must be >= 1 and every --sizes a positive multiple of --patch "
            f"{args.patch}, got {args.batch}, {args.threads}, {args.chunk_size}, {sizes}"
        )
    memory = not args.no_memory
    if memory:
        fix_malloc_for_peaks()
    torch.set_num_threads(args.threads)
    settle = Settle(max_repeats=5, time_cap=3.0) if args.quick else Settle(min_repeats=5, max_repeats=20, time_cap=15.0)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    setting = (
        f"ViR-{model_size}/{args.patch} vs ViT-{model_size}/{args.patch}, batch {args.batch}, chunk {args.chunk_size}, "
        f"random weights, eval + no_grad; torch {torch.__version__} on {platform.machine()}, "
        f"{torch.get_num_threads()} thread(s), load average {load:.1f}, {stamp}"
    )
    print(setting)
    print(f"timing: {settle.min_repeats}..{settle.max_repeats} runs or {settle.time_cap:.0f} s per candidate")
    rows = bench(model_size, args.patch, sizes, args.forms, args.batch, args.chunk_size, settle, memory)
    table = markdown(rows, memory)
    print(table, end="")
    if args.csv:
        print(f"rows: {write_rows(args.csv, rows, list(rows[0]), digits=5)}")
    if args.doc:
        command = "python tools/bench/vir.py " + " ".join(argv if argv is not None else sys.argv[1:])
        replace_generated_table(args.doc, "vir", f"\n`{command.strip()}`: {setting}.\n\n{table}\n", tool="bench")
        print(f"wrote the table into {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
