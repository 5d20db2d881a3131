"""Speed and stability of the linear-attention family, as ratios measured in one process.

    .venv/bin/python tools/bench/linear_attn.py --quick                 # B=2, T=1024: a few minutes
    .venv/bin/python tools/bench/linear_attn.py                         # B=4, T=4096, D=256, H=4 (the issue's size)
    .venv/bin/python tools/bench/linear_attn.py --layers gla --chunk-sizes 16,4 32,8 64,16
    OMP_NUM_THREADS=1 .venv/bin/python tools/bench/linear_attn.py       # on a busy machine

For every layer (``linear_attention``, ``retention``, ``gla``, ``mamba2``, ``lightnet``):

* **op**: forward+backward of ``chunk_linear_attn`` against ``naive_linear_attn`` (the token loop)
  on the layer's own q, k, v and log-decay, and the ratio;
* **layer**: forward+backward of the layer against the same layer whose op is swapped for the
  token loop, and the ratio (the projections, norms and gates cost the same in both);
* **step**: the time of one ``step()`` after a short and after a long context, and their ratio
  (flat in T: about 1);
* **T=65536** and **bf16**: whether outputs and every gradient stay finite at T = 65,536 (B = 1)
  and under bf16 autocast.

``--chunk-sizes C,c ...`` instead times the op alone for each chunk size C and sub-chunk size c.
Timings interleave the candidates round by round and report medians, so drift on a busy machine
hits all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import sys
import time

import torch

from recur_core import build_layer
from recur_core.ops.linear_attn import chunk_linear_attn, naive_linear_attn

LAYERS = ("linear_attention", "retention", "gla", "mamba2", "lightnet")


def _op_inputs(layer, x: torch.Tensor) -> dict:
    """The q, k, v, log-decay and op options the layer feeds to ``chunk_linear_attn``, captured."""
    captured = {}

    def capture(*args, **kwargs):
        names = ("q", "k", "v", "g")
        captured.update({n: a.detach() for n, a in zip(names, args)}, **kwargs)
        return chunk_linear_attn(*args, **kwargs)

    with _patched(layer, capture), torch.no_grad():
        layer(x)
    captured.pop("initial_state", None)
    captured.pop("chunk_size", None)
    return captured


@contextlib.contextmanager
def _patched(layer, op):
    module = importlib.import_module(type(layer).__module__)
    original = module.chunk_linear_attn
    module.chunk_linear_attn = op
    try:
        yield
    finally:
        module.chunk_linear_attn = original


def _naive_op(*args, chunk_size=None, **kwargs):
    return naive_linear_attn(*args, **kwargs)


def _fwd_bwd_op(op, inputs: dict, weight: torch.Tensor) -> None:
    leaves = {k: v.clone().requires_grad_(True) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    out, _ = op(**leaves)
    (out * weight).sum().backward()


def _fwd_bwd_layer(layer, x: torch.Tensor, weight: torch.Tensor) -> None:
    y, _ = layer(x)
    (y * weight).sum().backward()
    layer.zero_grad(set_to_none=True)


def _op_timer(inputs: dict, weight: torch.Tensor, naive: bool = False, **sizes):
    def op(**kw):
        return naive_linear_attn(**kw) if naive else chunk_linear_attn(**kw, **sizes)

    return lambda: _fwd_bwd_op(op, inputs, weight)


def _layer_timer(layer, x: torch.Tensor, weight: torch.Tensor, naive: bool = False):
    def run():
        with _patched(layer, _naive_op) if naive else contextlib.nullcontext():
            _fwd_bwd_layer(layer, x, weight)

    return run


def _median_times(candidates: dict, repeats: int) -> dict[str, float]:
    times = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _step_times(layer, d_model: int, contexts: tuple[int, ...], rounds: int = 15, steps: int = 10) -> list[float]:
    """Median seconds per ``step()`` after each context length, timed in interleaved rounds."""
    x_t = torch.randn(1, d_model)
    with torch.no_grad():
        states = [layer(torch.randn(1, n, d_model))[1] for n in contexts]
        times = [[] for _ in contexts]
        for _ in range(rounds):
            for i, state in enumerate(states):
                start = time.perf_counter()
                for _ in range(steps):
                    layer.step(x_t, state)
                times[i].append((time.perf_counter() - start) / steps)
    return [statistics.median(t) for t in times]


def _finite_fwd_bwd(layer, x: torch.Tensor, autocast: bool) -> bool:
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y, _ = layer(x)
    y.float().square().mean().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters() if p.requires_grad]
    ok = bool(torch.isfinite(y).all()) and all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    layer.zero_grad(set_to_none=True)
    return ok


def chunk_size_sweep(args, names: list[str]) -> None:
    x = torch.randn(args.batch, args.seq_len, args.d_model)
    sizes = [tuple(int(n) for n in s.split(",")) for s in args.chunk_sizes]
    print(f"op forward+backward, B={args.batch} T={args.seq_len} D={args.d_model} H={args.heads}, ms (median)")
    print(f"{'layer':<18}" + "".join(f"{f'C={c},c={s}':>14}" for c, s in sizes))
    for name in names:
        inputs = _op_inputs(build_layer(name, args.d_model, num_heads=args.heads), x)
        weight = torch.randn(*inputs["q"].shape[:3], inputs["v"].shape[-1])
        candidates = {f"{c},{s}": _op_timer(inputs, weight, chunk_size=c, sub_chunk_size=s) for c, s in sizes}
        medians = _median_times(candidates, args.repeats)
        print(f"{name:<18}" + "".join(f"{medians[f'{c},{s}'] * 1e3:>14.1f}" for c, s in sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="*", default=list(LAYERS), choices=LAYERS)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--long-seq-len", type=int, default=65536, help="T of the finiteness check (B = 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="B=2, T=1024, long T=8192, 1 repeat")
    parser.add_argument("--chunk-sizes", nargs="*", default=None, metavar="C,c", help="time the op per chunk size")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.seq_len, args.long_seq_len, args.repeats = 2, 1024, 8192, 1
    torch.manual_seed(0)
    if args.chunk_sizes:
        chunk_size_sweep(args, args.layers)
        return 0

    x = torch.randn(args.batch, args.seq_len, args.d_model)
    print(
        f"forward+backward, B={args.batch} T={args.seq_len} D={args.d_model} H={args.heads}, float32, "
        f"median of {args.repeats}, {torch.get_num_threads()} threads; ratios = token loop / chunked"
    )
    header = (
        f"{'layer':<18}{'op ms':>9}{'loop ms':>10}{'op x':>8}{'layer ms':>10}{'loop ms':>10}{'layer x':>9}"
        f"{'step us':>9}{'step T/64':>10}{'T=' + str(args.long_seq_len):>9}{'bf16':>6}"
    )
    print(header)
    failed = False
    for name in args.layers:
        layer = build_layer(name, args.d_model, num_heads=args.heads)
        inputs = _op_inputs(layer, x)
        op_weight = torch.randn(*inputs["q"].shape[:3], inputs["v"].shape[-1])
        y_weight = torch.randn_like(x)

        medians = _median_times(
            {
                "op": _op_timer(inputs, op_weight),
                "op_loop": _op_timer(inputs, op_weight, naive=True),
                "layer": _layer_timer(layer, x, y_weight),
                "layer_loop": _layer_timer(layer, x, y_weight, naive=True),
            },
            args.repeats,
        )
        step_short, step_long = _step_times(layer, args.d_model, (64, args.seq_len))
        long_ok = _finite_fwd_bwd(layer, torch.randn(1, args.long_seq_len, args.d_model), autocast=False)
        bf16_ok = _finite_fwd_bwd(layer, x, autocast=True)
        failed |= not (long_ok and bf16_ok)
        op_ratio = medians["op_loop"] / medians["op"]
        layer_ratio = medians["layer_loop"] / medians["layer"]
        print(
            f"{name:<18}{medians['op'] * 1e3:>9.0f}{medians['op_loop'] * 1e3:>10.0f}{op_ratio:>7.1f}x"
            f"{medians['layer'] * 1e3:>10.0f}{medians['layer_loop'] * 1e3:>10.0f}{layer_ratio:>8.1f}x"
            f"{step_short * 1e6:>9.0f}{step_long / step_short:>9.2f}x{'ok' if long_ok else 'NaN':>9}"
            f"{'ok' if bf16_ok else 'NaN':>6}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
