"""The nonlinear, memory and convolutional layers (slstm, plrnn, pgn, tcnca, titans, prefix_linear_attention,
ngram_head): speed as ratios measured in one process.

    .venv/bin/python tools/bench/nonlinear.py            # B=4, T=1024, D=256, 4 heads, float32
    .venv/bin/python tools/bench/nonlinear.py --quick    # smaller contexts and long-run lengths

Tables:
1. forward+backward at B, T, D for each layer, with the ratio to ``lstm`` and ``attention``;
2. fast form vs its own naive loop (forward+backward): the long conv (PGN's HIE) and chunked
   attention (TCNCA) against their token loops, sLSTM fused against the plain cell;
3. step cost per token after a 1k and a 16k context (4k with --quick), B = 1: flat means ratio ≈ 1
   (``ngram_head`` keeps its history, as ``attention`` keeps its KV cache, so it grows with T);
4. TCNCA temporal mixing, dilated TCN vs the EMA as an FFT convolution, as T grows;
5. finite outputs and gradients at T = 65,536 (8,192 with --quick) and under bf16 autocast
   (``ngram_head`` is quadratic in T like attention and runs the long check at 8,192).
Timings interleave candidates round by round and report medians.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch
from _timing import build, finite_fwd_bwd, median_times, step_times

from recur_core import build_layer
from recur_core.ops.chunked_attention import chunked_attention, chunked_attention_naive
from recur_core.ops.long_conv import long_conv, long_conv_naive

LAYERS = ("slstm", "plrnn", "pgn", "tcnca", "titans", "prefix_linear_attention", "ngram_head")
QUADRATIC_LONG_RUN = {"ngram_head": 8192}


def _fwd_bwd(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        layer(x)[0].sum().backward()
        layer.zero_grad(set_to_none=True)

    return run


def _op_fwd_bwd(op, **inputs) -> Callable[[], None]:
    def run() -> None:
        leaves = {
            k: v.detach().requires_grad_() if k in ("x", "weight", "q", "k", "v") else v for k, v in inputs.items()
        }
        op(**leaves)[0].sum().backward()

    return run


def layer_table(args) -> None:
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.seq_len, args.d_model)
    names = (*LAYERS, "lstm", "attention")
    layers = {n: build(n, args.d_model, args.heads) for n in names}
    medians = median_times({n: _fwd_bwd(layer, x) for n, layer in layers.items()}, args.repeats)
    print(f"\n1. forward+backward, B={args.batch} T={args.seq_len} D={args.d_model}, median of {args.repeats}")
    print(f"{'layer':<24}{'ms':>10}{'vs lstm':>10}{'vs attention':>14}")
    for name in names:
        print(
            f"{name:<24}{medians[name] * 1e3:>10.1f}{medians[name] / medians['lstm']:>9.2f}x"
            f"{medians[name] / medians['attention']:>13.2f}x"
        )


def naive_table(args) -> None:
    torch.manual_seed(0)
    b, t, d, h = args.batch, args.seq_len, args.d_model, args.heads
    window = 128
    conv = dict(x=torch.randn(b, t, d), weight=torch.randn(d, window) / 10, initial_state=torch.zeros(b, window - 1, d))
    chunk = 32
    state = (torch.zeros(b, chunk, h, d // h), torch.zeros(b, chunk, h, d // h), torch.zeros(b, dtype=torch.long))
    qkv = {k: torch.randn(b, t, h, d // h) for k in "qkv"}
    attn = dict(**qkv, initial_state=state, chunk_size=chunk)
    rows = {
        f"long conv K={window} (pgn)": (_op_fwd_bwd(long_conv, **conv), _op_fwd_bwd(long_conv_naive, **conv)),
        f"chunked attention C={chunk} (tcnca)": (
            _op_fwd_bwd(chunked_attention, **attn),
            _op_fwd_bwd(chunked_attention_naive, **attn),
        ),
    }
    fused = build("slstm", d, h)
    plain = build_layer("slstm", d, num_heads=h, backend="naive")
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(b, t, d)
    for _ in range(2):
        _fwd_bwd(fused, x)()
    rows["slstm fused vs plain cell"] = (_fwd_bwd(fused, x), _fwd_bwd(plain, x))
    repeats = max(2, args.repeats // 3)
    print(f"\n2. fast form vs its naive loop, forward+backward, B={b} T={t} D={d}, median of {repeats}")
    print(f"{'op':<36}{'fast ms':>10}{'naive ms':>11}{'speed-up':>10}")
    for name, (fast, slow) in rows.items():
        m = median_times({"fast": fast, "naive": slow}, repeats)
        print(f"{name:<36}{m['fast'] * 1e3:>10.1f}{m['naive'] * 1e3:>11.1f}{m['naive'] / m['fast']:>9.1f}x")


def step_table(args) -> None:
    short, long = 1024, args.long_context
    print(f"\n3. step cost per token after a context of {short} vs {long} tokens (B=1, D={args.d_model})")
    print(f"{'layer':<24}{f'ms @ {short}':>12}{f'ms @ {long}':>12}{'ratio':>8}")
    for name in (*LAYERS, "attention"):
        torch.manual_seed(0)
        layer = build(name, args.d_model, args.heads)
        at_short, at_long = step_times(layer, args.d_model, (short, long))
        print(f"{name:<24}{at_short * 1e3:>12.3f}{at_long * 1e3:>12.3f}{at_long / at_short:>7.2f}x", flush=True)


def _temporal_only(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        if layer.temporal == "dilated":
            u = x
            for level, state in zip(layer.levels, layer.init_state(1)[0]):
                u, _ = level(u, state, None)
        else:
            u, _ = layer._ema(x, layer.init_state(1)[0], None)
        u.sum().backward()

    return run


def temporal_table(args) -> None:
    print(f"\n4. TCNCA temporal mixing forward+backward, B=1 D={args.d_model}: dilated TCN vs EMA as FFT conv")
    print(f"{'T':>8}{'dilated ms':>12}{'ema_fft ms':>12}{'fft/dilated':>13}")
    for seq_len in args.temporal_lengths:
        torch.manual_seed(0)
        x = torch.randn(1, seq_len, args.d_model)
        dilated = build_layer("tcnca", args.d_model, num_heads=args.heads)
        ema = build_layer("tcnca", args.d_model, num_heads=args.heads, temporal="ema_fft")

        m = median_times({"dilated": _temporal_only(dilated, x), "ema": _temporal_only(ema, x)}, 3)
        print(f"{seq_len:>8}{m['dilated'] * 1e3:>12.1f}{m['ema'] * 1e3:>12.1f}{m['ema'] / m['dilated']:>12.2f}x")


def finite_table(args) -> None:
    print(f"\n5. finite outputs, final state and gradients, B=1 D={args.d_model}")
    print(f"{'layer':<24}{'T':>8}{'fp32':>8}{'bf16 autocast T=1024':>24}")
    for name in LAYERS:
        torch.manual_seed(0)
        layer = build(name, args.d_model, args.heads)
        seq_len = min(args.long_run, QUADRATIC_LONG_RUN.get(name, args.long_run))
        long_ok = finite_fwd_bwd(layer, torch.randn(1, seq_len, args.d_model), autocast=False)
        bf16_ok = finite_fwd_bwd(layer, torch.randn(1, 1024, args.d_model), autocast=True)
        print(f"{name:<24}{seq_len:>8}{_finite(long_ok):>8}{_finite(bf16_ok):>24}", flush=True)


def _finite(ok: bool) -> str:
    return "finite" if ok else "NON-FINITE"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter contexts, fewer repeats")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50, help="tokens per step timing")
    args = parser.parse_args(argv)
    args.long_context = 4096 if args.quick else 16384
    args.long_run = 8192 if args.quick else 65536
    args.temporal_lengths = (1024, 4096) if args.quick else (1024, 4096, 16384, 65536)
    if args.quick:
        args.repeats = 2
    print(f"{torch.get_num_threads()} threads, float32")
    layer_table(args)
    naive_table(args)
    step_table(args)
    temporal_table(args)
    finite_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
