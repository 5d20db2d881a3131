"""RNN-T streaming greedy decoding on CPU: real-time factor per encoder layer type, beside offline greedy.

    .venv/bin/python tools/bench/rnnt_stream.py                         # 5 layers, 2 / 8 / 32 s, one thread
    .venv/bin/python tools/bench/rnnt_stream.py --quick                 # lstm and attention, 2 / 8 s (~10 s)
    .venv/bin/python tools/bench/rnnt_stream.py --doc docs/speech.md    # also write the table into the docs page

Graves, "Sequence Transduction with Recurrent Neural Networks", 2012, https://arxiv.org/abs/1211.3711;
the encoder layer is TODM's choice (Shangguan et al. 2023, https://arxiv.org/abs/2309.01947). A
streaming recogniser must keep up with the audio: each new encoder frame (``time_reduction`` = 4
feature frames, 40 ms) runs every encoder layer's ``step`` and then greedy decoding of that frame
(:class:`~recur_speech.models.rnnt.GreedyStream`). A recurrent layer's step costs the same at every
frame; causal attention's step reads a key/value cache that grows with the utterance, so its cost per
second of audio should grow with the length.

Setting: the ``rnnt/espeak_digits`` recipe's model (d_model 128, 2 blocks with a 2x feed-forward, LSTM
predictor 128, joiner 128) with 29 output symbols (LibriSpeech's characters and the blank), each
``--layers`` entry as the encoder layer, random weights, eval mode, ``torch.no_grad``, batch 1, on seeded
random 80-d features of ``--seconds`` seconds (10 ms frames). Random weights would emit a label at nearly
every joint call (up to ``max_symbols`` per frame), so the blank's output bias is set per model and input
(:func:`calibrate_blank`) so that offline greedy emits about ``--labels-per-frame`` labels per encoder frame
(0.5: about spoken digits' rate, e.g. the 17 characters of "ZERO TWO FOUR SIX" over the 32 encoder frames of
1.3 s). The rate cannot be set exactly: it jumps as the bias moves (an emitted label changes the predictor's
state for the rest of the utterance), most on short inputs, so the rate reached is printed (``labels/frame``)
and layers compare best where their rates are close; the predictor's work follows the rate.

Candidates per length, timed in interleaved rounds until their median settles (``_stable_timing.py``;
medians with the spread, interquartile range / median, in brackets):

- ``stream``: :meth:`~recur_speech.models.rnnt.RNNT.streaming_greedy`, ``--chunk-frames`` feature frames
  (160 ms) at a time through the encoder's ``step``;
- ``offline``: :meth:`~recur_speech.models.rnnt.RNNT.greedy` on the whole utterance (the encoder over all
  frames at once: a scan or a parallel form), the same labels (checked).

RTF = seconds of computing / seconds of audio (< 1: faster than real time). ``stream ÷ offline`` is the
price of streaming for that layer; ``×lstm`` is the ``lstm`` encoder's (the recipe's) streaming time /
this one's at the same length, from the same run (> 1: faster than the LSTM). One torch thread by default.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import torch
from _stable_timing import Settle, stable_times

from recur_core.repro import replace_generated_table, write_rows
from recur_speech.models.rnnt import RNNT

LAYERS = ("lstm", "gla", "mamba2", "attention", "lssl")
BASELINE = "lstm"
# the rnnt/espeak_digits recipe's model; 29 symbols: LibriSpeech's 28 characters and the blank
RECIPE = dict(d_model=128, n_layers=2, mlp_ratio=2.0, dropout=0.1, pred_dim=128, joiner_dim=128, vocab_size=29)
FRAMES_PER_SECOND = 100
MAX_SYMBOLS = 10


def labels_per_frame(model: RNNT, features: torch.Tensor) -> float:
    """Labels offline greedy decoding emits per encoder frame of ``features`` [1, T, 80]."""
    tokens = model.greedy(features, max_symbols=MAX_SYMBOLS)[0].tokens
    return len(tokens) / (features.shape[1] // model.config.time_reduction)


@torch.no_grad()
def calibrate_blank(model: RNNT, features: torch.Tensor, target: float, steps: int = 16) -> float:
    """Set the blank's output bias so that greedy emits about ``target`` labels per encoder frame of ``features``.

    Bisection on the bias (the emission rate falls as it grows, though not smoothly: a label emitted or not
    changes the predictor's state for the rest of the utterance); the bias tried whose rate came closest
    to ``target`` is kept. Returns that rate.
    """
    bias = model.joiner.out.bias
    base = float(bias[model.blank])
    low, high = -10.0, 40.0
    tried = []
    for _ in range(steps):
        middle = (low + high) / 2
        bias[model.blank] = base + middle
        rate = labels_per_frame(model, features)
        tried.append((abs(rate - target), middle, rate))
        if rate > target:
            low = middle
        else:
            high = middle
    _, best, rate = min(tried)
    bias[model.blank] = base + best
    return rate


def bench(
    layers: list[str], seconds: list[float], chunk_frames: int, target: float, settle: Settle
) -> list[dict[str, object]]:
    """One row per (length, layer): labels per frame, streaming and offline RTF and their ratios."""
    torch.manual_seed(0)
    inputs = {s: torch.randn(1, round(s * FRAMES_PER_SECOND), 80) for s in seconds}
    models = {}
    for layer in layers:
        torch.manual_seed(0)
        models[layer] = RNNT(layer=layer, **RECIPE).eval()
    rows = []
    for s, features in inputs.items():
        candidates, rates = {}, {}
        for layer, model in models.items():
            rates[layer] = calibrate_blank(model, features, target)
            streamed = model.streaming_greedy(features, chunk_frames=chunk_frames, max_symbols=MAX_SYMBOLS)
            offline = model.greedy(features, max_symbols=MAX_SYMBOLS)
            if streamed[0].tokens != offline[0].tokens:
                raise RuntimeError(f"{layer}: streaming greedy decoded other labels than offline greedy")
            candidates[f"{layer} stream"] = partial(
                model.streaming_greedy, features, chunk_frames=chunk_frames, max_symbols=MAX_SYMBOLS
            )
            candidates[f"{layer} offline"] = partial(model.greedy, features, max_symbols=MAX_SYMBOLS)
        with torch.no_grad():
            times = stable_times(candidates, settle)
        base = times[f"{BASELINE} stream"].median if BASELINE in models else float("nan")
        for layer in models:
            stream, offline = times[f"{layer} stream"], times[f"{layer} offline"]
            rows.append(
                {
                    "seconds": s,
                    "layer": layer,
                    "labels_per_frame": rates[layer],
                    "stream_rtf": stream.median / s,
                    "stream_spread": stream.spread,
                    "offline_rtf": offline.median / s,
                    "offline_spread": offline.spread,
                    "stream_over_offline": stream.median / offline.median,
                    "speed_vs_lstm": base / stream.median,
                }
            )
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| audio s | encoder layer | labels/frame | stream RTF | offline RTF | stream ÷ offline | ×lstm |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seconds']:g} | {r['layer']} | {r['labels_per_frame']:.2f} | {r['stream_rtf']:.4f} "
            f"({r['stream_spread']:.0%}) | {r['offline_rtf']:.4f} ({r['offline_spread']:.0%}) | "
            f"{r['stream_over_offline']:.2f} | {r['speed_vs_lstm']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="+", default=None, help=f"encoder layers (default {' '.join(LAYERS)})")
    parser.add_argument("--seconds", type=float, nargs="+", default=None, help="utterance lengths (default 2 8 32)")
    parser.add_argument("--chunk-frames", type=int, default=16, help="feature frames per streamed chunk (16)")
    parser.add_argument("--labels-per-frame", type=float, default=0.5, help="labels greedy emits per frame (0.5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as on a shared CPU)")
    parser.add_argument("--quick", action="store_true", help="lstm and attention, 2 and 8 s, short time caps")
    parser.add_argument("--csv", type=Path, default=None, help="also write every row here")
    parser.add_argument("--doc", type=Path, default=None, help="also write the table into this page's block")
    args = parser.parse_args(argv)
    layers = args.layers or (["lstm", "attention"] if args.quick else list(LAYERS))
    seconds = args.seconds or ([2.0, 8.0] if args.quick else [2.0, 8.0, 32.0])
    if args.chunk_frames < 1 or args.threads < 1 or min(seconds) < 0.1 or args.labels_per_frame < 0:
        raise ValueError(
            "--chunk-frames and --threads must be >= 1, every --seconds >= 0.1 and --labels-per-frame >= 0, got "
            f"{args.chunk_frames}, {args.threads}, {seconds}, {args.labels_per_frame}"
        )
    torch.set_num_threads(args.threads)
    settle = Settle(max_repeats=5, time_cap=2.0) if args.quick else Settle(min_repeats=5, max_repeats=20, time_cap=10.0)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    setting = (
        f"the rnnt/espeak_digits model (d_model 128, 2 blocks), random weights, batch 1, chunks of "
        f"{args.chunk_frames} frames, about {args.labels_per_frame:g} labels per encoder frame; torch "
        f"{torch.__version__} on {platform.machine()}, {torch.get_num_threads()} thread(s), load average {load:.1f}, "
        f"{stamp}; {settle.min_repeats}..{settle.max_repeats} runs or {settle.time_cap:.0f} s per candidate"
    )
    print(setting)
    rows = bench(layers, seconds, args.chunk_frames, args.labels_per_frame, settle)
    table = markdown(rows)
    print(table, end="")
    if args.csv:
        print(f"rows: {write_rows(args.csv, rows, list(rows[0]), digits=5)}")
    if args.doc:
        command = "python tools/bench/rnnt_stream.py " + " ".join(argv if argv is not None else sys.argv[1:])
        replace_generated_table(
            args.doc, "rnnt_stream", f"\n`{command.strip()}`: {setting}.\n\n{table}\n", tool="bench"
        )
        print(f"wrote the table into {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
