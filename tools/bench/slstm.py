"""sLSTM: the fused recurrence (TorchScript loops, hand-derived backward) against the plain per-step cell.

    .venv/bin/python tools/bench/slstm.py            # B=4, T=1024, D=256, 4 heads, float32
    .venv/bin/python tools/bench/slstm.py --quick    # T=256, fewer repeats

Forward+backward of the whole layer with ``backend="fused"`` and ``backend="naive"`` (same weights),
interleaved round by round in one process; medians. The issue asks for a ratio of at least 3.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch

from recur_core import build_layer

TARGET = 3.0


def fused_vs_plain(batch: int, seq_len: int, d_model: int, heads: int, repeats: int) -> tuple[float, float]:
    """Median seconds of forward+backward for the fused and the plain sLSTM layer."""
    torch.manual_seed(0)
    fused = build_layer("slstm", d_model, num_heads=heads)
    plain = copy.deepcopy(fused)
    plain.backend = "naive"
    x = torch.randn(batch, seq_len, d_model)
    # TorchScript profiles its first calls before optimising
    for _ in range(3):
        fused(x)[0].sum().backward()
    plain(x)[0].sum().backward()
    times: dict[str, list[float]] = {"fused": [], "plain": []}
    for _ in range(repeats):
        for name, layer in (("fused", fused), ("plain", plain)):
            start = time.perf_counter()
            layer(x)[0].sum().backward()
            times[name].append(time.perf_counter() - start)
            layer.zero_grad(set_to_none=True)
    return statistics.median(times["fused"]), statistics.median(times["plain"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="T=256 and 3 repeats")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    seq_len, repeats = (256, 3) if args.quick else (args.seq_len, args.repeats)
    fused, plain = fused_vs_plain(args.batch, seq_len, args.d_model, args.heads, repeats)
    print(
        f"sLSTM forward+backward, B={args.batch} T={seq_len} D={args.d_model} H={args.heads}, "
        f"median of {repeats}, {torch.get_num_threads()} threads"
    )
    print(f"{'form':<8}{'ms':>10}")
    print(f"{'fused':<8}{fused * 1e3:>10.1f}\n{'plain':<8}{plain * 1e3:>10.1f}")
    ratio = plain / fused
    verdict = "ok" if ratio >= TARGET else "BELOW"
    print(f"fused is {ratio:.2f}x faster than the plain cell (target >= {TARGET:.0f}x): {verdict}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
