"""Speed of the chunked delta rule and the DeltaNet layer, as ratios measured in one process.

    .venv/bin/python tools/bench/delta_rule.py            # the issue's B=4, T=4096, D=256, 4 heads (minutes)
    .venv/bin/python tools/bench/delta_rule.py --quick    # T=1024, shorter long-sequence checks
    .venv/bin/python tools/bench/delta_rule.py --threads 1

Sections (float32, forward+backward unless said otherwise):

1. ``chunk_delta_rule`` vs ``naive_delta_rule`` (the token loop); the ``deltanet`` layer vs the same
   layer with its op swapped for the token loop, and vs ``layer.step`` token by token (information
   only: the withdrawn ≥ 20x goal measured the loop more than the chunked form).
2. The layer's chunk size, and the chunk op's backward cost relative to its forward (autograd).
3. The WY/UT triangular solve alone: ``torch.linalg.solve_triangular`` vs a blocked inversion
   (recursive 2x2 block forward substitution in batched matmuls, defined here only to compare).
   The bf16 check of section 5 is slow on CPUs without native bf16 matmuls (minutes at T=65536).
4. ``step`` time per token after prefixes of growing length (should stay flat).
5. Finite outputs and gradients at the long length, in float32 and under bf16 autocast (B=1).

Wall times are medians of candidates interleaved round by round; the CPU-time column
(``time.process_time``) is less sensitive to other jobs on a shared machine when ``--threads 1``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from unittest import mock

import torch
import torch.nn.functional as F

import recur_core.layers.deltanet as deltanet_module
from recur_core import build_layer
from recur_core.ops.delta_rule import chunk_delta_rule, naive_delta_rule


def _timed(fn: Callable[[], None], repeats: int, results: dict[str, list[tuple[float, float]]], name: str) -> None:
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        results.setdefault(name, []).append((time.perf_counter() - wall, time.process_time() - cpu))


def _interleaved(candidates: dict[str, tuple[Callable[[], None], int]], rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) seconds of each candidate; candidate ``(fn, repeats_per_round)``."""
    results: dict[str, list[tuple[float, float]]] = {}
    # warm up the fast candidates; a token loop over thousands of steps needs no warm-up run
    for fn, repeats in candidates.values():
        if repeats > 1:
            fn()
    for _ in range(rounds):
        for name, (fn, repeats) in candidates.items():
            _timed(fn, repeats, results, name)
    return {n: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for n, r in results.items()}


def _op_inputs(batch: int, seq_len: int, heads: int, head_dim: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, seq_len, heads, head_dim, generator=g) for _ in range(3))
    return [q, F.normalize(k, dim=-1), v, torch.rand(batch, seq_len, heads, generator=g)]


def _op_fwd_bwd(op, inputs: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        leaves = [t.detach().requires_grad_() for t in inputs]
        o, s = op(*leaves)
        (o.sum() + s.sum()).backward()

    return run


def _op_fwd(op, inputs: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        leaves = [t.detach().requires_grad_() for t in inputs]
        op(*leaves)

    return run


def _naive_op(*args, chunk_size: int, **kwargs):
    return naive_delta_rule(*args, **kwargs)


def _layer_fwd_bwd(layer, x: torch.Tensor, baseline: str | None = None) -> Callable[[], None]:
    """The layer's training form, or a token-loop baseline: its op swapped for the loop, or ``step``."""

    def run() -> None:
        layer.zero_grad(set_to_none=True)
        if baseline == "step":
            state, outputs = None, []
            for t in range(x.shape[1]):
                y_t, state = layer.step(x[:, t], state)
                outputs.append(y_t)
            y = torch.stack(outputs, 1)
        elif baseline == "naive op":
            with mock.patch.object(deltanet_module, "chunk_delta_rule", _naive_op):
                y, _ = layer(x)
        else:
            y, _ = layer(x)
        y.pow(2).mean().backward()

    return run


def _blocked_inverse(lower: torch.Tensor) -> torch.Tensor:
    """(I + lower)^-1 for a strictly lower-triangular ``lower`` [..., C, C], C a power of two."""
    size = lower.shape[-1]
    if size == 1:
        return torch.ones_like(lower)
    half = size // 2
    inverse = _blocked_inverse(torch.stack([lower[..., :half, :half], lower[..., half:, half:]]))
    top_left, bottom_right = inverse[0], inverse[1]
    bottom_left = -(bottom_right @ lower[..., half:, :half] @ top_left)
    top = torch.cat([top_left, torch.zeros_like(top_left)], -1)
    return torch.cat([top, torch.cat([bottom_left, bottom_right], -1)], -2)


def _solve_inputs(batch: int, seq_len: int, heads: int, head_dim: int, chunk: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n = batch * heads * seq_len // chunk
    k = F.normalize(torch.randn(n, chunk, head_dim, generator=g), dim=-1)
    k_beta = k * 2 * torch.rand(n, chunk, 1, generator=g)
    return [(k_beta @ k.mT).tril(-1), torch.randn(n, chunk, 2 * head_dim, generator=g)]


def _steps(layer, state, x_t: torch.Tensor, count: int) -> Callable[[], None]:
    """``count`` tokens of ``step`` from ``state`` (the same start each call), no grad."""

    def run() -> None:
        with torch.no_grad():
            s = state
            for _ in range(count):
                _, s = layer.step(x_t, s)

    return run


def _finite_at(layer, batch: int, seq_len: int, d_model: int, autocast: bool) -> tuple[bool, float]:
    layer.zero_grad(set_to_none=True)
    x = torch.randn(batch, seq_len, d_model, requires_grad=True)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y, state = layer(x)
    y.float().pow(2).mean().backward()
    tensors = [y, *state, x.grad, *(p.grad for p in layer.parameters())]
    return all(bool(torch.isfinite(t).all()) for t in tensors), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="T=1024, long checks at 8192, one round")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=None, help="default 4096 (1024 with --quick)")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--long", type=int, default=None, help="long-sequence length (default 65536, 8192 quick)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--check", action="store_true", help="exit 1 if an output or gradient is not finite")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seq_len = args.seq_len or (1024 if args.quick else 4096)
    long_len = args.long or (8192 if args.quick else 65536)
    rounds = 1 if args.quick else 2
    batch, d_model, heads = args.batch, args.d_model, args.heads
    head_dim = d_model // heads
    torch.manual_seed(0)
    print(
        f"B={batch} T={seq_len} D={d_model} H={heads} (head dim {head_dim}), float32, "
        f"{torch.get_num_threads()} threads, median of {rounds} interleaved rounds"
    )

    print("\n1. chunked form vs token loop, forward+backward")
    inputs = _op_inputs(batch, seq_len, heads, head_dim)
    layer = build_layer("deltanet", d_model, num_heads=heads, allow_neg_eigval=True)
    x = torch.randn(batch, seq_len, d_model)
    times = _interleaved(
        {
            "op": (_op_fwd_bwd(chunk_delta_rule, inputs), 3),
            "op loop": (_op_fwd_bwd(naive_delta_rule, inputs), 1),
            "layer": (_layer_fwd_bwd(layer, x), 3),
            "layer loop": (_layer_fwd_bwd(layer, x, "naive op"), 1),
            "layer step": (_layer_fwd_bwd(layer, x, "step"), 1),
        },
        rounds=rounds,
    )
    failed = False
    print(f"{'chunked':<8}{'ms':>9}  {'token loop':<22}{'ms':>10}{'wall ratio':>12}{'cpu ratio':>11}")
    rows = [
        ("op", "op loop", "naive_delta_rule"),
        ("layer", "layer loop", "layer, op = naive"),
        ("layer", "layer step", "layer.step per token"),
    ]
    for fast, slow, label in rows:
        (fw, fc), (nw, nc) = times[fast], times[slow]
        print(f"{fast:<8}{fw * 1e3:>9.1f}  {label:<22}{nw * 1e3:>10.1f}{nw / fw:>11.1f}x{nc / fc:>10.1f}x")

    print("\n2. layer chunk size (forward+backward) and the chunk op's backward cost")
    sizes = (16, 32, 64, 128)
    variants = {
        f"C={c}": (_layer_fwd_bwd(build_layer("deltanet", d_model, num_heads=heads, chunk_size=c), x), 2) for c in sizes
    }
    variants["op forward"] = (_op_fwd(chunk_delta_rule, inputs), 2)
    variants["op fwd+bwd"] = (_op_fwd_bwd(chunk_delta_rule, inputs), 2)
    times = _interleaved(variants, rounds=rounds)
    for c in sizes:
        wall = times[f"C={c}"][0]
        print(f"  chunk_size {c:<4} {wall * 1e3:8.1f} ms  ({wall / times['C=32'][0]:.2f}x C=32, the default)")
    fwd, bwd = times["op forward"][0], times["op fwd+bwd"][0] - times["op forward"][0]
    print(f"  op forward {fwd * 1e3:.1f} ms, backward {bwd * 1e3:.1f} ms: backward/forward = {bwd / fwd:.2f}")

    print("\n3. WY/UT triangular solve, forward+backward")
    solvers = {
        "solve_triangular": lambda a, b: torch.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
        "blocked inverse": lambda a, b: _blocked_inverse(a) @ b,
    }
    for chunk in (32, 64):
        lower, rhs = _solve_inputs(batch, seq_len, heads, head_dim, chunk)
        candidates = {
            name: (_op_fwd_bwd(lambda a, b, f=fn: (f(a, b), b.new_zeros(())), [lower, rhs]), 2)
            for name, fn in solvers.items()
        }
        times = _interleaved(candidates, rounds=rounds)
        base = times["solve_triangular"][0]
        for name, (wall, cpu) in times.items():
            print(f"  C={chunk:<4}{name:<18}{wall * 1e3:8.1f} ms wall {cpu * 1e3:8.1f} ms cpu  ({wall / base:.2f}x)")

    print("\n4. step time per token after a prefix (the prefix's state from forward), no grad")
    prefixes, count = [256, seq_len, long_len], 50
    x_t = torch.randn(batch, d_model)
    with torch.no_grad():
        states = {n: layer(torch.randn(batch, n, d_model))[1] for n in prefixes}
    times = _interleaved({f"T={n}": (_steps(layer, states[n], x_t, count), 2) for n in prefixes}, rounds=2 * rounds)
    first = times[f"T={prefixes[0]}"][0]
    for n in prefixes:
        seconds = times[f"T={n}"][0]
        print(f"  after T={n:<7} {seconds / count * 1e6:8.1f} us/token  ({seconds / first:.2f}x T={prefixes[0]})")

    print(f"\n5. finite outputs and gradients at T={long_len}, B=1")
    for autocast in (False, True):
        ok, seconds = _finite_at(layer, 1, long_len, d_model, autocast)
        print(f"  {'bf16 autocast' if autocast else 'float32':<14} finite={ok}  ({seconds:.1f} s forward+backward)")
        failed |= not ok
    if args.check and failed:
        print("FAIL: a non-finite output or gradient")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
