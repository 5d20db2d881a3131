"""The general first-order linear recurrence h_t = a_t ⊙ h_{t-1} + b_t: ``chunk_linear_recurrence``
against its token loop ``naive_linear_recurrence``, forward+backward, as a ratio measured in one process.

    .venv/bin/python tools/bench/scan.py --threads 1            # B=4, T=4096, width 512
    .venv/bin/python tools/bench/scan.py --threads 1 --seq-len 16384 --width 64

The layers built on scans (``mamba``, ``lssl``, ``aaren``) are in ``tools/bench/linear_family.py``.
"""

from __future__ import annotations

import argparse
import sys

import torch
from _timing import median_times

from recur_core.ops.scan import chunk_linear_recurrence, naive_linear_recurrence


def timer(op, a: torch.Tensor, b: torch.Tensor):
    def run() -> None:
        a_leaf, b_leaf = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
        op(a_leaf, b_leaf)[0].square().mean().backward()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (args.batch, args.seq_len, args.width)
    a, b = torch.rand(shape) * 2 - 1, torch.randn(shape)
    medians = median_times(
        {"chunk": timer(chunk_linear_recurrence, a, b), "loop": timer(naive_linear_recurrence, a, b)}, args.repeats
    )
    print(
        f"linear recurrence forward+backward, [B,T,width] = {list(shape)}, median of {args.repeats}, "
        f"{torch.get_num_threads()} thread(s): chunk {medians['chunk'] * 1e3:.1f} ms, loop "
        f"{medians['loop'] * 1e3:.1f} ms, {medians['loop'] / medians['chunk']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
