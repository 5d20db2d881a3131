"""MossFormer2's separation speed on CPU: real-time factor against input length, beside its baselines.

    .venv/bin/python tools/bench/mossformer2.py                     # small models, 1-16 s, one thread
    .venv/bin/python tools/bench/mossformer2.py --quick             # 1-4 s, fewer repeats
    .venv/bin/python tools/bench/mossformer2.py --size paper --seconds 1 2 4 --csv runs/bench/mossformer2.csv

Zhao et al., "MossFormer2", ICASSP 2024, https://arxiv.org/abs/2312.11825. MossFormer2's attention is
quadratic only inside 256-frame chunks and linear across them, and its recurrent module is convolutional
(the FSMN), so the cost per second of audio should stay flat as the input grows. Measured here: the
real-time factor (RTF = seconds of computing / seconds of audio; < 1 is faster than real time) of
separating one 8-kHz mixture (batch 1, ``torch.no_grad``, eval mode) of each length, for ``mossformer2``,
the MossFormer-only ablation ``mossformer`` and the Conv-TasNet mask network ``conv_tasnet``, each in the
same ``--size`` (``small``: the recipe's; ``paper``: 55.7 M / 5.0 M parameters). Ratios are this model's RTF /
``mossformer2``'s from the same run (> 1: slower than MossFormer2). Each number is the median of
``--repeats`` calls timed in interleaved rounds (``_timing.median_times``). One thread by default.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
from functools import partial
from pathlib import Path

import torch
from _timing import median_times

from recur_core.repro import write_rows
from recur_speech.models.mossformer2 import mossformer, mossformer2
from recur_speech.models.separation_baselines import conv_tasnet

SAMPLE_RATE = 8000
BUILDERS = {"mossformer2": mossformer2, "mossformer": mossformer, "conv_tasnet": conv_tasnet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["small", "paper"], default="small")
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 2.0, 4.0, 8.0, 16.0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1, 2, 4 s and 3 repeats")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = [1.0, 2.0, 4.0], 3
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {name: build(args.size).eval() for name, build in BUILDERS.items()}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)")
    print("# " + ", ".join(f"{n}: {params[n] / 1e6:.2f} M params" for n in models))
    print(f"{'seconds':>8} " + " ".join(f"{n + ' RTF':>16}" for n in models) + "  ratios to mossformer2")
    rows = []
    with torch.no_grad():
        for seconds in args.seconds:
            mixture = torch.randn(1, round(seconds * SAMPLE_RATE))
            times = median_times({n: partial(m, mixture) for n, m in models.items()}, args.repeats)
            rtf = {n: t / seconds for n, t in times.items()}
            ratios = {n: rtf[n] / rtf["mossformer2"] for n in models if n != "mossformer2"}
            print(
                f"{seconds:8.1f} "
                + " ".join(f"{rtf[n]:16.4f}" for n in models)
                + "  "
                + ", ".join(f"{n} {r:.2f}x" for n, r in ratios.items())
            )
            rows.append({"seconds": seconds, **{f"{n}_rtf": rtf[n] for n in models}, "size": args.size})
    if args.csv is not None:
        print(f"wrote {write_rows(args.csv, rows, digits=5)}")


if __name__ == "__main__":
    main()
