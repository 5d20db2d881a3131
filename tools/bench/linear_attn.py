"""Chunk-size sweep of ``chunk_linear_attn``: the op's forward+backward time for each (C, c) on the q, k, v
and log-decays that each layer of the family feeds it.

    .venv/bin/python tools/bench/linear_attn.py --threads 1 --chunk-sizes 16,4 32,8 64,16
    .venv/bin/python tools/bench/linear_attn.py --layers gla --chunk-sizes 32,8 64,16 --seq-len 1024

``C`` is the chunk size, ``c`` the sub-chunk size of the per-key-decay form (unused by the scalar-decay
and no-decay forms). The family's full table (against the token loop, fla and attention; ``step``;
stability) is ``tools/bench/linear_family.py``.
"""

from __future__ import annotations

import argparse
import sys

import torch
from _timing import median_times
from linear_family import build, captured_op_call

from recur_core.ops.linear_attn import chunk_linear_attn

LAYERS = ("linear_attention", "retention", "gla", "mamba2", "lightnet")


def op_timer(args: tuple, kwargs: dict, chunk_size: int, sub_chunk_size: int):
    leaves = [a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) else a for a in args]
    kwargs = {**kwargs, "chunk_size": chunk_size, "sub_chunk_size": sub_chunk_size}

    def run() -> None:
        out, _ = chunk_linear_attn(*leaves, **kwargs)
        out.square().mean().backward()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="*", default=list(LAYERS), choices=LAYERS)
    parser.add_argument("--chunk-sizes", nargs="+", default=["16,4", "32,8", "64,16"], metavar="C,c")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        sizes = [tuple(int(n) for n in s.split(",")) for s in args.chunk_sizes]
    except ValueError:
        parser.error(f"--chunk-sizes takes pairs C,c such as 64,16; got {args.chunk_sizes}")
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.seq_len, args.d_model)
    print(
        f"op forward+backward, B={args.batch} T={args.seq_len} D={args.d_model} H={args.heads}, ms (median of "
        f"{args.repeats}), {torch.get_num_threads()} thread(s)"
    )
    print(f"{'layer':<18}" + "".join(f"{f'C={c},c={s}':>14}" for c, s in sizes))
    for name in args.layers:
        op_args, op_kwargs = captured_op_call(build(name, args.d_model, args.heads), x)
        medians = median_times({(c, s): op_timer(op_args, op_kwargs, c, s) for c, s in sizes}, args.repeats)
        print(f"{name:<18}" + "".join(f"{medians[size] * 1e3:>14.1f}" for size in sizes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
