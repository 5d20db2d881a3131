"""The linear-recurrence family in one table: speed against each layer's own token loop, against fla's
CPU reference and against softmax attention, ``step`` cost in T, and stability at T = 65,536 and in bf16.

    .venv/bin/python tools/bench/linear_family.py --threads 1            # the issue's size, ~10 min
    .venv/bin/python tools/bench/linear_family.py --threads 1 --quick    # B=2, T=1024: ~2 min
    .venv/bin/python tools/bench/linear_family.py --layers gla deltanet --csv runs/bench/family.csv
    .venv/bin/python tools/bench/linear_family.py --threads 1 --markdown docs/benchmarks.md   # the docs page

Every number is forward+backward at ``--batch``/``--seq-len``/``--d-model``/``--heads`` (default the
issue's B=4, T=4096, D=256, 4 heads, float32), a median over interleaved rounds so that drift on a busy
machine hits every candidate alike. Columns:

* ``op ×loop``: the layer's fast op (chunked / scan form) on the q, k, v, gates the layer itself feeds it,
  against the op's ``naive.py`` token loop on the same tensors (goal >= 20x);
* ``layer ×loop``: the layer against the same layer, same weights, with its op swapped for the loop
  (projections, convolutions and gates cost the same in both, so this ratio is the smaller one);
* ``×fla``: fla-core's pure-PyTorch CPU reference for the same math divided by recur's op (> 1: recur is
  faster; goal >= 1.5). fla has one for ``linear_attention`` (``naive_chunk_linear_attn``, which has no
  normalizer), the scalar-decay ``retention``/``mamba2`` op (``naive_chunk_simple_gla``), the per-key
  gated ``gla``/``lightnet`` op (``naive_recurrent_gla``, a token loop) and ``deltanet``
  (``delta_rule_chunkwise``); none for the others. A reference that fails on the inputs is reported;
* ``×attn``: the ``attention`` layer (SDPA) divided by the layer at T, and ``crossover``: the smallest T of
  ``--crossover`` at which the layer is faster than attention (goal <= 4096);
* ``step 16k/1k``: one ``step`` after a 16,384-token context over one after 1,024 (flat: ~1; goal <= 1.1);
* ``T=65536`` / ``bf16``: outputs and every gradient finite at T = 65,536 (B = 1), and under bf16 autocast.

``--markdown`` writes the table as a page, with the settings, the machine and, per goal, the layers
that meet it, all from this run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from _timing import build as build_layer_with_heads
from _timing import finite_fwd_bwd, median_times, step_times

from recur_core.ops.delta_rule import naive_delta_rule
from recur_core.ops.linear_attn import naive_linear_attn
from recur_core.ops.lti_ssm import naive_lti_ssm
from recur_core.ops.prefix_attention import naive_prefix_attention
from recur_core.ops.selective_scan import naive_selective_scan

CHUNK_KWARGS = ("chunk_size", "sub_chunk_size")


@dataclass(frozen=True)
class Family:
    """Where a layer's fast op lives and the token loop that computes the same thing."""

    fast: str
    naive: object
    fla: str | None = None


FAMILIES = {
    "linear_attention": Family("chunk_linear_attn", naive_linear_attn, "linear_attn"),
    "retention": Family("chunk_linear_attn", naive_linear_attn, "simple_gla"),
    "gla": Family("chunk_linear_attn", naive_linear_attn, "gla"),
    "mamba2": Family("chunk_linear_attn", naive_linear_attn, "simple_gla"),
    "lightnet": Family("chunk_linear_attn", naive_linear_attn, "gla"),
    "deltanet": Family("chunk_delta_rule", naive_delta_rule, "delta_rule"),
    "mamba": Family("_MODES", naive_selective_scan),
    "lssl": Family("_MODES", naive_lti_ssm),
    "aaren": Family("_MODES", naive_prefix_attention),
}


def _loop(naive):
    def run(*args, **kwargs):
        return naive(*args, **{k: v for k, v in kwargs.items() if k not in CHUNK_KWARGS})

    return run


@contextlib.contextmanager
def swapped_op(layer, replacement):
    """Route the layer's fast op through ``replacement(fast, *args, **kwargs)`` while inside."""
    module = importlib.import_module(type(layer).__module__)
    family = FAMILIES[layer.registered_name]
    if family.fast == "_MODES":
        table, key = module._MODES, layer.mode
    else:
        table, key = vars(module), family.fast
    fast = table[key]
    table[key] = lambda *args, **kwargs: replacement(fast, *args, **kwargs)
    try:
        yield
    finally:
        table[key] = fast


def captured_op_call(layer, x: torch.Tensor) -> tuple[tuple, dict]:
    """The positional and keyword arguments the layer passes to its fast op for input ``x``."""
    calls = []

    def capture(fast, *args, **kwargs):
        calls.append((args, kwargs))
        return fast(*args, **kwargs)

    with swapped_op(layer, capture), torch.no_grad():
        layer(x)
    args, kwargs = calls[0]
    return args, kwargs


def _leaf(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().clone().requires_grad_(True)
    return value


def _fwd_bwd(fn, args, kwargs) -> None:
    args = [_leaf(a) for a in args]
    kwargs = {k: _leaf(v) for k, v in kwargs.items()}
    out = fn(*args, **kwargs)[0]
    out.float().square().mean().backward()


def op_timers(layer, x: torch.Tensor) -> dict:
    """Forward+backward of the fast op, its loop and (if any) fla's reference, on the layer's own inputs."""
    args, kwargs = captured_op_call(layer, x)
    family = FAMILIES[layer.registered_name]
    module = importlib.import_module(type(layer).__module__)
    fast = module._MODES[layer.mode] if family.fast == "_MODES" else vars(module)[family.fast]
    timers = {
        "op": lambda: _fwd_bwd(fast, args, kwargs),
        "op loop": lambda: _fwd_bwd(_loop(family.naive), args, kwargs),
    }
    fla = fla_reference(family.fla, args, kwargs)
    if fla is not None:
        try:
            fla()
            timers["fla"] = fla
        except (RuntimeError, AssertionError) as err:
            print(f"  {layer.registered_name}: fla's reference failed ({type(err).__name__}: {err})", flush=True)
    return timers


def fla_reference(kind: str | None, args: tuple, kwargs: dict):
    """A timer for fla-core's CPU reference of the same op, or None when fla has none (or is absent)."""
    if kind is None:
        return None
    try:
        naive = importlib.import_module(f"fla.ops.{kind}.naive")
    except ImportError:
        return None
    q, k, v = args[:3]
    g = args[3] if len(args) > 3 else kwargs.get("g")
    if kind == "linear_attn":
        return lambda: _fwd_bwd(lambda q, k, v: naive.naive_chunk_linear_attn(q, k, v, normalize=False), (q, k, v), {})
    if kind == "simple_gla":
        return lambda: _fwd_bwd(naive.naive_chunk_simple_gla, (q, k, v, g), {})
    if kind == "gla":
        return lambda: _fwd_bwd(naive.naive_recurrent_gla, (q, k, v, g), {})
    beta = args[3] if len(args) > 3 else kwargs["beta"]
    head_first = [t.transpose(1, 2) for t in (q, k, v, beta)]
    return lambda: _fwd_bwd(naive.delta_rule_chunkwise, head_first, {})


def layer_timers(layer, x: torch.Tensor) -> dict:
    family = FAMILIES[layer.registered_name]

    def run() -> None:
        _fwd_bwd(layer, (x,), {})
        layer.zero_grad(set_to_none=True)

    def run_loop() -> None:
        with swapped_op(layer, lambda fast, *a, **kw: _loop(family.naive)(*a, **kw)):
            run()

    return {"layer": run, "layer loop": run_loop}


def build(name: str, d_model: int, heads: int):
    layer = build_layer_with_heads(name, d_model, heads)
    layer.registered_name = name
    return layer


def crossover(layers: dict, attention, d_model: int, batch: int, lengths: list[int], repeats: int) -> dict:
    """Per layer: {T: attention time / layer time} over ``lengths``."""
    ratios = {name: {} for name in layers}
    for seq_len in lengths:
        x = torch.randn(batch, seq_len, d_model)
        timers = {name: layer_timers(layer, x)["layer"] for name, layer in layers.items()}
        timers["attention"] = lambda x=x: _fwd_bwd(attention, (x,), {})
        medians = median_times(timers, repeats)
        for name in layers:
            ratios[name][seq_len] = medians["attention"] / medians[name]
        print(f"  crossover sweep: T={seq_len} attention {medians['attention'] * 1e3:.0f} ms", flush=True)
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--crossover", type=int, nargs="*", default=[512, 1024, 2048, 4096], metavar="T")
    parser.add_argument("--step-contexts", type=int, nargs=2, default=[1024, 16384], metavar=("SHORT", "LONG"))
    parser.add_argument("--long-seq-len", type=int, default=65536, help="T of the finiteness check (B = 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    parser.add_argument("--quick", action="store_true", help="B=2, T=1024, crossover to 1024, long T=8192")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as a Markdown page here")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.seq_len, args.long_seq_len, args.repeats = 2, 1024, 8192, 1
        args.crossover, args.step_contexts = [256, 512, 1024], [256, 4096]
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.seq_len, args.d_model)
    layers = {name: build(name, args.d_model, args.heads) for name in args.layers}
    short, long = args.step_contexts
    print(
        f"forward+backward, B={args.batch} T={args.seq_len} D={args.d_model} H={args.heads}, float32, "
        f"median of {args.repeats}, {torch.get_num_threads()} thread(s)"
    )
    attention = build("attention", args.d_model, args.heads)
    versus_attention = crossover(layers, attention, args.d_model, args.batch, args.crossover, args.repeats)

    columns = ["layer", "op ms", "op loop ms", "op ×loop", "layer ms", "layer ×loop", "fla ms", "×fla"]
    columns += [f"×attn T={t}" for t in args.crossover] + ["crossover T", "step µs", f"step {long}/{short}"]
    columns += [f"T={args.long_seq_len}", "bf16"]
    rows = []
    print("".join(f"{c:>13}" for c in columns))
    for name, layer in layers.items():
        medians = median_times({**op_timers(layer, x), **layer_timers(layer, x)}, args.repeats)
        step_short, step_long = step_times(layer, args.d_model, (short, long))
        faster = [t for t, r in versus_attention[name].items() if r > 1]
        row = {
            "layer": name,
            "op ms": medians["op"] * 1e3,
            "op loop ms": medians["op loop"] * 1e3,
            "op ×loop": medians["op loop"] / medians["op"],
            "layer ms": medians["layer"] * 1e3,
            "layer ×loop": medians["layer loop"] / medians["layer"],
            "fla ms": medians["fla"] * 1e3 if "fla" in medians else None,
            "×fla": medians["fla"] / medians["op"] if "fla" in medians else None,
            **{f"×attn T={t}": r for t, r in versus_attention[name].items()},
            "crossover T": min(faster) if faster else None,
            "step µs": step_short * 1e6,
            f"step {long}/{short}": step_long / step_short,
            f"T={args.long_seq_len}": finite_fwd_bwd(layer, torch.randn(1, args.long_seq_len, args.d_model), False),
            "bf16": finite_fwd_bwd(layer, x, autocast=True),
        }
        rows.append(row)
        print("".join(f"{_show(row[c]):>13}" for c in columns), flush=True)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_page(rows, columns, args, " ".join(sys.argv[1:] if argv is None else argv)))
    unstable = [r["layer"] for r in rows if not (r[f"T={args.long_seq_len}"] and r["bf16"])]
    if unstable:
        print(f"non-finite outputs or gradients: {unstable}")
    return 1 if unstable else 0


def goals(rows: list[dict], args) -> list[tuple[str, list[str], list[str]]]:
    """(goal, layers meeting it, layers missing it) for each goal of the linear-family issue."""
    long = f"T={args.long_seq_len}"
    step = f"step {args.step_contexts[1]}/{args.step_contexts[0]}"
    checks = {
        "op >= 20x its token loop": lambda r: r["op ×loop"] >= 20,
        "layer >= 20x its token loop": lambda r: r["layer ×loop"] >= 20,
        "op not slower than fla's CPU reference (of the layers fla covers)": lambda r: (
            r["×fla"] is None or r["×fla"] >= 1
        ),
        "op >= 1.5x fla's CPU reference (of the layers fla covers)": lambda r: r["×fla"] is None or r["×fla"] >= 1.5,
        "overtakes attention at T <= 4096": lambda r: r["crossover T"] is not None and r["crossover T"] <= 4096,
        f"step cost {step} <= 1.1": lambda r: r[step] <= 1.1,
        f"finite at {long} and in bf16": lambda r: bool(r[long] and r["bf16"]),
    }
    return [
        (goal, [r["layer"] for r in rows if check(r)], [r["layer"] for r in rows if not check(r)])
        for goal, check in checks.items()
    ]


def markdown_page(rows: list[dict], columns: list[str], args, command: str) -> str:
    """The table, its settings and the goals met, as a Markdown page; every number comes from ``rows``."""
    lines = [
        "# The linear-recurrence family: speed and stability",
        "",
        "Generated by `tools/bench/linear_family.py` (do not edit by hand):",
        "",
        f"    .venv/bin/python tools/bench/linear_family.py {command}",
        "",
        f"Forward+backward at B={args.batch}, T={args.seq_len}, D={args.d_model}, {args.heads} heads, float32, "
        f"median of {args.repeats}, {torch.get_num_threads()} thread(s); torch {torch.__version__} on "
        f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        "Column meanings are in the script's docstring; ratios > 1 mean the layer's fast form wins.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(_show(row[c]) for c in columns) + " |" for row in rows]
    lines += ["", "## Goals", "", "| goal | met by | missed by |", "|---|---|---|"]
    lines += [
        f"| {goal} | {', '.join(met) or '—'} | {', '.join(missed) or '—'} |" for goal, met, missed in goals(rows, args)
    ]
    return "\n".join(lines) + "\n"


def _show(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "ok" if value else "NaN"
    if isinstance(value, float):
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
