"""Speed of the scan family (mamba, lssl, aaren and the linear-recurrence op) against their own token
loops, as ratios measured in one process.

    .venv/bin/python tools/bench/scan.py             # B=4, T=4096, D=256, 4 heads, float32
    .venv/bin/python tools/bench/scan.py --quick     # B=2, T=1024, long run at T=8192
    .venv/bin/python tools/bench/scan.py --threads 1 # pin the thread count (busy machines)

For each layer, the fast mode (``mamba``: chunked selective scan, ``lssl``: chunked convolutional
view, ``aaren``: parallel prefix scan) and the token loop (``mode="naive"`` / ``"recurrent"``) share
one set of weights; forward+backward times interleave round by round and the table gives medians
and the ratio (the issue's goal: >= 20x). Then, per layer: the time of one ``step`` after a short
and after a long prefix (flat in T means a ratio near 1), finite outputs and gradients at
``--long`` steps (B=1), and finite outputs and gradients under bfloat16 autocast.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from recur_core import build_layer
from recur_core.layers.base import flatten_state
from recur_core.ops.scan import chunk_linear_recurrence, naive_linear_recurrence

GOAL = 20.0
LAYERS = {
    "mamba": ({}, {"mode": "chunk"}, {"mode": "naive"}),
    "lssl": ({}, {"mode": "chunk"}, {"mode": "recurrent"}),
    "aaren": ({"num_heads": 4}, {"mode": "scan"}, {"mode": "naive"}),
}


def _fwd_bwd(fn, x: torch.Tensor) -> None:
    fn(x)[0].sum().backward()


def _medians(candidates: dict, make_input, repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            x = make_input()
            start = time.perf_counter()
            _fwd_bwd(fn, x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _pair(name: str, d_model: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    common, fast_kw, naive_kw = LAYERS[name]
    fast = build_layer(name, d_model, **common, **fast_kw)
    naive = build_layer(name, d_model, **common, **naive_kw)
    naive.load_state_dict(fast.state_dict())
    return fast, naive


def _step_time(layer: torch.nn.Module, prefix: int, d_model: int, steps: int) -> float:
    with torch.no_grad():
        _, state = layer(torch.randn(1, prefix, d_model))
        x = torch.randn(steps, 1, d_model)
        layer.step(x[0], state)
        start = time.perf_counter()
        for x_t in x:
            _, state = layer.step(x_t, state)
    return (time.perf_counter() - start) / steps


def _finite(layer: torch.nn.Module, x: torch.Tensor, autocast: bool) -> bool:
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y, state = layer(x)
    y.float().pow(2).mean().backward()
    tensors = [y, *flatten_state(state), x.grad, *(p.grad for p in layer.parameters() if p.grad is not None)]
    ok = all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())
    layer.zero_grad(set_to_none=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and one repeat, for a smoke run")
    parser.add_argument("--layers", nargs="*", default=list(LAYERS), choices=list(LAYERS))
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--long", type=int, default=None, help="sequence length of the finiteness run (B=1)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    batch = args.batch or (2 if args.quick else 4)
    seq_len = args.seq_len or (1024 if args.quick else 4096)
    long = args.long or (8192 if args.quick else 65536)
    repeats = args.repeats or (1 if args.quick else 3)
    if args.threads:
        torch.set_num_threads(args.threads)
    d = args.d_model
    torch.manual_seed(0)
    print(
        f"forward+backward, B={batch} T={seq_len} D={d} float32, median of {repeats}, "
        f"{torch.get_num_threads()} threads; goal >= {GOAL:.0f}x over the token loop"
    )
    print(f"{'layer':<22}{'fast ms':>10}{'loop ms':>11}{'ratio':>8}")

    def row(label: str, medians: dict[str, float]) -> None:
        fast, loop = medians["fast"], medians["loop"]
        print(f"{label:<22}{fast * 1e3:>10.1f}{loop * 1e3:>11.1f}{loop / fast:>7.1f}x")

    for name in args.layers:
        fast, naive = _pair(name, d)
        medians = _medians({"fast": fast, "loop": naive}, lambda: torch.randn(batch, seq_len, d), repeats)
        row(name, medians)
    a_fn = {
        "fast": lambda a: chunk_linear_recurrence(a, b_op),
        "loop": lambda a: naive_linear_recurrence(a, b_op),
    }
    b_op = torch.randn(batch, seq_len, 2 * d, requires_grad=True)
    medians = _medians(a_fn, lambda: torch.rand(batch, seq_len, 2 * d).mul(2).sub(1).requires_grad_(True), repeats)
    row(f"op linear_recurrence [B,T,{2 * d}]", medians)

    short = min(256, seq_len)
    print(f"\nstep time per token after {short} and after {seq_len} tokens (B=1)")
    print(f"{'layer':<22}{'short us':>10}{'long us':>11}{'long/short':>12}")
    for name in args.layers:
        layer = _pair(name, d)[0]
        t_short = statistics.median(_step_time(layer, short, d, 32) for _ in range(3))
        t_long = statistics.median(_step_time(layer, seq_len, d, 32) for _ in range(3))
        print(f"{name:<22}{t_short * 1e6:>10.0f}{t_long * 1e6:>11.0f}{t_long / t_short:>11.2f}x")

    print(f"\nfinite outputs and gradients: T={long} (B=1, float32), and bf16 autocast (B={batch}, T={seq_len})")
    for name in args.layers:
        layer = _pair(name, d)[0]
        start = time.perf_counter()
        long_ok = _finite(layer, torch.randn(1, long, d), autocast=False)
        elapsed = time.perf_counter() - start
        bf16_ok = _finite(layer, torch.randn(batch, seq_len, d), autocast=True)
        print(
            f"{name:<22}T={long}: {'finite' if long_ok else 'NON-FINITE'} ({elapsed:.1f} s)   "
            f"bf16: {'finite' if bf16_ok else 'NON-FINITE'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
