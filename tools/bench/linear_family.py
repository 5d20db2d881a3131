"""The linear-recurrence family in one table: speed against each layer's own token loop, against fla's
CPU reference, against the machine's matmul rate and against softmax attention, ``step`` cost in T, and
stability at T = 65,536 and in bf16.

    .venv/bin/python tools/bench/linear_family.py --threads 1            # the issue's size, 15-30 min
    .venv/bin/python tools/bench/linear_family.py --threads 1 --quick    # B=2, T=1024, short caps: a few min
    .venv/bin/python tools/bench/linear_family.py --layers gla deltanet --csv runs/bench/family.csv
    .venv/bin/python tools/bench/linear_family.py --threads 1 --markdown docs/benchmarks.md   # the docs page

Every number is forward+backward at ``--batch``/``--seq-len``/``--d-model``/``--heads`` (default the
issue's B=4, T=4096, D=256, 4 heads, float32). Candidates are timed in interleaved rounds, so that drift on
a busy machine hits every candidate alike, each until the median of its last ``--window`` runs moves by at
most ``--tolerance`` from one run to the next (``_stable_timing.py``: at least 3 runs, at most
``--max-repeats``, at most ``--time-cap`` seconds of runs per candidate). Beside every time and ratio, in
brackets, is its spread: the interquartile range as a percentage of the median (for a ratio, the sum of
the spreads of its two times). Columns:

* ``op ×loop``: the layer's fast op (chunked / scan form) on the q, k, v, gates the layer itself feeds it,
  against the op's ``naive.py`` token loop on the same tensors (information only: the loops are
  vectorised over batch, heads and features, so the ratio says as much about the loop as about the op);
* ``layer ×loop``: the layer against the same layer, same weights, with its op swapped for the loop
  (projections, convolutions and gates cost the same in both, so this ratio is the smaller one);
* ``×fla``: fla-core's pure-PyTorch CPU reference for the same math divided by recur's op (> 1: recur is
  faster; goal >= 1.5). fla has one for ``linear_attention`` (``naive_chunk_linear_attn``, which has no
  normalizer), the scalar-decay ``retention``/``mamba2`` op (``naive_chunk_simple_gla``), the per-key
  gated ``gla``/``lightnet`` op (``naive_recurrent_gla``, a token loop) and ``deltanet``
  (``delta_rule_chunkwise``); none for the others. A reference that fails on the inputs is reported;
* ``op GFLOP/s``: the chunked op's forward+backward FLOPs over its median time. The FLOPs are counted
  from the op's shapes by ``_flops.py``: its matrix products only (intra-chunk QKᵀ, the masked product
  with V, the state updates and readouts, the delta rule's triangular solve, the LTI kernel's Krylov
  build), dense where the op computes them dense, at the padded length, forward+backward = 3 × forward;
  elementwise work is not counted. ``mamba`` (selective scan) and ``aaren`` (prefix scan) are elementwise
  scans with no matmul, so they have none;
* ``matmul GFLOP/s`` and ``% of matmul``: a square GEMM in the same dtype and thread count, its size
  chosen so that it does about as many FLOPs as the op, timed in the same rounds as the op; and the op's
  rate as a percentage of it (goal: >= 35% at T = 4096 for the matmul-based ops);
* ``×attn``: the ``attention`` layer (SDPA) divided by the layer at T, and ``crossover``: the smallest T of
  ``--crossover`` at which the layer is faster than attention (goal <= 4096);
* ``step 16k/1k``: one ``step`` after a 16,384-token context over one after 1,024 (flat: ~1; goal <= 1.1);
* ``T=65536`` / ``bf16``: outputs and every gradient finite at T = 65,536 (B = 1), and under bf16 autocast.

``--markdown`` writes the table as a page, with the settings, the machine and, per goal, the layers
that meet it and those that miss it, all from this run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import inspect
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from _flops import FORWARD_BACKWARD, delta_rule_flops, linear_attn_flops, lti_ssm_flops
from _stable_timing import Settle, Timing, stable_times
from _timing import build as build_layer_with_heads
from _timing import finite_fwd_bwd

from recur_core.ops.delta_rule import chunk_delta_rule, naive_delta_rule
from recur_core.ops.linear_attn import chunk_linear_attn, naive_linear_attn
from recur_core.ops.linear_attn.chunk import CHUNK_SIZE, PER_KEY_CHUNK_SIZE, STEEP_SHARE, _unfactorable_share
from recur_core.ops.lti_ssm import chunk_lti_ssm, naive_lti_ssm
from recur_core.ops.prefix_attention import naive_prefix_attention
from recur_core.ops.selective_scan import naive_selective_scan

CHUNK_KWARGS = ("chunk_size", "sub_chunk_size")
# the speed goal: a chunked matmul op's GFLOP/s as a percentage of the GEMM's, at T = 4096
MATMUL_SHARE_GOAL = 35
# step() calls per timed run: one is too short to time on its own
STEPS_PER_RUN = 10


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


@dataclass(frozen=True)
class Measured:
    """A measured number and its spread (the interquartile range as a fraction of it)."""

    value: float
    spread: float


def _ms(timing: Timing) -> Measured:
    return Measured(timing.median * 1e3, timing.spread)


def _ratio(slow: Timing, fast: Timing) -> Measured:
    return Measured(slow.median / fast.median, slow.spread + fast.spread)


def _loop(naive):
    def run(*args, **kwargs):
        return naive(*args, **{k: v for k, v in kwargs.items() if k not in CHUNK_KWARGS})

    return run


def _op_table(layer) -> tuple[dict, str]:
    """The namespace the layer looks its fast op up in, and the key."""
    module = importlib.import_module(type(layer).__module__)
    family = FAMILIES[layer.registered_name]
    if family.fast == "_MODES":
        return module._MODES, layer.mode
    return vars(module), family.fast


@contextlib.contextmanager
def swapped_op(layer, replacement):
    """Route the layer's fast op through ``replacement(fast, *args, **kwargs)`` while inside."""
    table, key = _op_table(layer)
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


def op_timers(layer, args: tuple, kwargs: dict) -> dict:
    """Forward+backward of the fast op, its loop and (if any) fla's reference, on the layer's own op inputs."""
    family = FAMILIES[layer.registered_name]
    table, key = _op_table(layer)
    fast = table[key]
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


def _chunk_size(op, kwargs: dict) -> int | None:
    """The ``chunk_size`` the op is called with: the caller's, else the op's default."""
    return kwargs.get("chunk_size") or inspect.signature(op).parameters["chunk_size"].default


def op_flops(layer, args: tuple, kwargs: dict) -> int | None:
    """Forward FLOPs of the layer's chunked op on these arguments (``_flops.py``), None for the scans."""
    table, key = _op_table(layer)
    op = table[key]
    if op is chunk_linear_attn:
        q, _, v = args[:3]
        g = args[3] if len(args) > 3 else kwargs.get("g")
        batch, seq_len, heads, key_dim = q.shape
        # the normaliser is one more value column
        value_dim = v.shape[-1] + bool(kwargs.get("normalize"))
        chunk = _chunk_size(op, kwargs)
        if chunk is None:
            # chunk_linear_attn's default: shorter chunks when a decay per key is too steep to factor
            steep = g is not None and g.dim() == 4 and _unfactorable_share(g, CHUNK_SIZE) > STEEP_SHARE
            chunk = PER_KEY_CHUNK_SIZE if steep else CHUNK_SIZE
        return linear_attn_flops(batch, seq_len, heads, key_dim, value_dim, chunk)
    if op is chunk_delta_rule:
        q, v = args[0], args[2]
        batch, seq_len, heads, key_dim = q.shape
        chunk = min(_chunk_size(op, kwargs), seq_len)
        return delta_rule_flops(batch, seq_len, heads, key_dim, v.shape[-1], chunk)
    if op is chunk_lti_ssm:
        u, A_bar = args[:2]
        batch, seq_len, channels = u.shape
        requested = max(_chunk_size(op, kwargs), 1)
        # chunk_lti_ssm's rounding: down to a power of two, and no longer than the sequence's next one
        chunk = min(1 << (requested.bit_length() - 1), 1 << (seq_len - 1).bit_length())
        return lti_ssm_flops(batch, seq_len, channels, A_bar.shape[-1], chunk)
    return None


def flop_rates(flops: int, op: Timing, gemm_side: int, gemm: Timing) -> dict[str, Measured]:
    """The op's GFLOP/s for ``flops`` per call, the GEMM's, and the first as a percentage of the second."""
    achieved = flops / op.median / 1e9
    matmul = 2 * gemm_side**3 / gemm.median / 1e9
    return {
        "op GFLOP/s": Measured(achieved, op.spread),
        "matmul GFLOP/s": Measured(matmul, gemm.spread),
        "% of matmul": Measured(100 * achieved / matmul, op.spread + gemm.spread),
    }


def gemm_timer(flops: float, dtype: torch.dtype) -> tuple[object, int]:
    """A timer of an n × n GEMM doing about ``flops`` FLOPs (n a multiple of 64), and n."""
    side = max(64, round((flops / 2) ** (1 / 3) / 64) * 64)
    a, b = torch.randn(side, side, dtype=dtype), torch.randn(side, side, dtype=dtype)
    return (lambda: torch.mm(a, b)), side


def layer_timers(layer, x: torch.Tensor) -> dict:
    family = FAMILIES[layer.registered_name]

    def run() -> None:
        _fwd_bwd(layer, (x,), {})
        layer.zero_grad(set_to_none=True)

    def run_loop() -> None:
        with swapped_op(layer, lambda fast, *a, **kw: _loop(family.naive)(*a, **kw)):
            run()

    return {"layer": run, "layer loop": run_loop}


def step_timings(layer, d_model: int, contexts: tuple[int, int], settle: Settle) -> list[Timing]:
    """The timing of :data:`STEPS_PER_RUN` calls of ``step()`` after each context length (B = 1)."""
    x_t = torch.randn(1, d_model)
    with torch.no_grad():
        states = [layer(torch.randn(1, n, d_model))[1] for n in contexts]

        def stepper(state):
            def run() -> None:
                for _ in range(STEPS_PER_RUN):
                    layer.step(x_t, state)

            return run

        timings = stable_times({str(n): stepper(state) for n, state in zip(contexts, states)}, settle)
    return [timings[str(n)] for n in contexts]


def build(name: str, d_model: int, heads: int):
    layer = build_layer_with_heads(name, d_model, heads)
    layer.registered_name = name
    return layer


def crossover(layers: dict, attention, d_model: int, batch: int, lengths: list[int], settle: Settle) -> dict:
    """Per layer: {T: attention time / layer time} over ``lengths``."""
    ratios = {name: {} for name in layers}
    for seq_len in lengths:
        x = torch.randn(batch, seq_len, d_model)
        timers = {name: layer_timers(layer, x)["layer"] for name, layer in layers.items()}
        timers["attention"] = lambda x=x: _fwd_bwd(attention, (x,), {})
        timings = stable_times(timers, settle)
        for name in layers:
            ratios[name][seq_len] = _ratio(timings["attention"], timings[name])
        print(f"  crossover sweep: T={seq_len} attention {_show(_ms(timings['attention']))} ms", flush=True)
    return ratios


def main(argv: list[str] | None = None) -> int:
    defaults = Settle()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--crossover", type=int, nargs="*", default=[512, 1024, 2048, 4096], metavar="T")
    parser.add_argument("--step-contexts", type=int, nargs=2, default=[1024, 16384], metavar=("SHORT", "LONG"))
    parser.add_argument("--long-seq-len", type=int, default=65536, help="T of the finiteness check (B = 1)")
    parser.add_argument("--window", type=int, default=defaults.window, help="runs whose median must settle")
    parser.add_argument(
        "--tolerance", type=float, default=defaults.tolerance, help="settled: the median moves at most this much"
    )
    parser.add_argument("--max-repeats", type=int, default=defaults.max_repeats, help="runs per candidate, at most")
    parser.add_argument(
        "--time-cap", type=float, default=defaults.time_cap, help="seconds of runs per candidate, at most"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    parser.add_argument(
        "--quick", action="store_true", help="B=2, T=1024, crossover to 1024, long T=8192, window 3, <= 6 runs, 5 s"
    )
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as a Markdown page here")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.seq_len, args.long_seq_len = 2, 1024, 8192
        args.crossover, args.step_contexts = [256, 512, 1024], [256, 4096]
        args.window, args.max_repeats, args.time_cap = 3, 6, 5.0
    settle = Settle(
        args.window, args.tolerance, min(defaults.min_repeats, args.max_repeats), args.max_repeats, args.time_cap
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.seq_len, args.d_model)
    layers = {name: build(name, args.d_model, args.heads) for name in args.layers}
    short, long = args.step_contexts
    print(
        f"forward+backward, B={args.batch} T={args.seq_len} D={args.d_model} H={args.heads}, float32, "
        f"{torch.get_num_threads()} thread(s); {_settle_text(settle)}; (n%) = interquartile range / median"
    )
    attention = build("attention", args.d_model, args.heads)
    versus_attention = crossover(layers, attention, args.d_model, args.batch, args.crossover, settle)

    columns = ["layer", "op ms", "op loop ms", "op ×loop", "layer ms", "layer ×loop", "fla ms", "×fla"]
    columns += ["op GFLOP/s", "matmul GFLOP/s", "% of matmul"]
    columns += [f"×attn T={t}" for t in args.crossover] + ["crossover T", "step µs", f"step {long}/{short}"]
    columns += [f"T={args.long_seq_len}", "bf16"]
    rows = []
    print("".join(f"{c:>16}" for c in columns))
    for name, layer in layers.items():
        op_args, op_kwargs = captured_op_call(layer, x)
        timers = {**op_timers(layer, op_args, op_kwargs), **layer_timers(layer, x)}
        flops = op_flops(layer, op_args, op_kwargs)
        if flops is not None:
            flops *= FORWARD_BACKWARD
            timers["gemm"], side = gemm_timer(flops, x.dtype)
            print(f"  {name}: {flops / 1e9:.2f} GFLOP per forward+backward; matmul: {side}×{side} GEMM", flush=True)
        timings = stable_times(timers, settle)
        step_short, step_long = step_timings(layer, args.d_model, (short, long), settle)
        faster = [t for t, r in versus_attention[name].items() if r.value > 1]
        op, fla = timings["op"], timings.get("fla")
        rates = dict.fromkeys(("op GFLOP/s", "matmul GFLOP/s", "% of matmul"))
        if flops is not None:
            rates = flop_rates(flops, op, side, timings["gemm"])
        row = {
            "layer": name,
            "op ms": _ms(op),
            "op loop ms": _ms(timings["op loop"]),
            "op ×loop": _ratio(timings["op loop"], op),
            "layer ms": _ms(timings["layer"]),
            "layer ×loop": _ratio(timings["layer loop"], timings["layer"]),
            "fla ms": None if fla is None else _ms(fla),
            "×fla": None if fla is None else _ratio(fla, op),
            **rates,
            **{f"×attn T={t}": r for t, r in versus_attention[name].items()},
            "crossover T": min(faster) if faster else None,
            "step µs": Measured(step_short.median / STEPS_PER_RUN * 1e6, step_short.spread),
            f"step {long}/{short}": _ratio(step_long, step_short),
            f"T={args.long_seq_len}": finite_fwd_bwd(layer, torch.randn(1, args.long_seq_len, args.d_model), False),
            "bf16": finite_fwd_bwd(layer, x, autocast=True),
        }
        rows.append(row)
        print("".join(f"{_show(row[c]):>16}" for c in columns), flush=True)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        write_csv(args.csv, rows, columns)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        command = " ".join(sys.argv[1:] if argv is None else argv)
        args.markdown.write_text(markdown_page(rows, columns, args, settle, command))
    unstable = [r["layer"] for r in rows if not (r[f"T={args.long_seq_len}"] and r["bf16"])]
    if unstable:
        print(f"non-finite outputs or gradients: {unstable}")
    return 1 if unstable else 0


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    """The table, each measured column followed by its spread column (``<column> IQR %``)."""
    measured = {c for c in columns if any(isinstance(r[c], Measured) for r in rows)}
    fields = [f for c in columns for f in ([c, f"{c} IQR %"] if c in measured else [c])]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            flat = {}
            for c in columns:
                value = row[c]
                flat[c] = value.value if isinstance(value, Measured) else value
                if c in measured:
                    flat[f"{c} IQR %"] = 100 * value.spread if isinstance(value, Measured) else None
            writer.writerow(flat)


def goals(rows: list[dict], args) -> list[tuple[str, list[str], list[str]]]:
    """(goal, layers meeting it, layers missing it) for each goal of the linear-family issue; a check that
    does not apply to a layer (None) lists it under neither."""
    long = f"T={args.long_seq_len}"
    step = f"step {args.step_contexts[1]}/{args.step_contexts[0]}"

    def at_least(column: str, goal: float):
        return lambda r: None if r[column] is None else r[column].value >= goal

    checks = {
        "op not slower than fla's CPU reference (of the layers fla covers)": at_least("×fla", 1),
        "op >= 1.5x fla's CPU reference (of the layers fla covers)": at_least("×fla", 1.5),
        f"chunked matmul op >= {MATMUL_SHARE_GOAL}% of the matmul rate at T={args.seq_len} "
        "(of the layers with a FLOP count)": at_least("% of matmul", MATMUL_SHARE_GOAL),
        "overtakes attention at T <= 4096": lambda r: r["crossover T"] is not None and r["crossover T"] <= 4096,
        f"{step} (step cost) <= 1.1": lambda r: r[step].value <= 1.1,
        f"finite at {long} and in bf16": lambda r: bool(r[long] and r["bf16"]),
    }
    return [
        (goal, [r["layer"] for r in rows if check(r) is True], [r["layer"] for r in rows if check(r) is False])
        for goal, check in checks.items()
    ]


def _settle_text(settle: Settle) -> str:
    return (
        f"each candidate timed until the median of its last {settle.window} runs moves by at most "
        f"{settle.tolerance:.0%} (at least {settle.min_repeats}, at most {settle.max_repeats} runs, "
        f"{settle.time_cap:g} s of runs)"
    )


def markdown_page(rows: list[dict], columns: list[str], args, settle: Settle, command: str) -> str:
    """The table, its settings and the goals met, as a Markdown page; every number comes from ``rows``."""
    lines = [
        "# The linear-recurrence family: speed and stability",
        "",
        "Generated by `tools/bench/linear_family.py` (do not edit by hand):",
        "",
        f"    .venv/bin/python tools/bench/linear_family.py {command}",
        "",
        f"Forward+backward at B={args.batch}, T={args.seq_len}, D={args.d_model}, {args.heads} heads, float32, "
        f"{torch.get_num_threads()} thread(s); torch {torch.__version__} on "
        f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Candidates timed in interleaved rounds, {_settle_text(settle)}. Each time and ratio is the median, "
        "with its spread in brackets: the interquartile range as a percentage of the median (for a ratio, the "
        "sum of its two times' spreads). Column meanings are in the script's docstring; ratios > 1 mean the "
        "layer's fast form wins.",
        "",
        "`op GFLOP/s` counts the chunked op's matrix products only (intra-chunk QKᵀ, the masked product with V, "
        "the state updates and readouts; the delta rule's triangular solve; the LTI kernel's Krylov build), "
        "dense as computed, at the padded length, forward+backward = 3 × forward (`tools/bench/_flops.py`). "
        "`matmul GFLOP/s` is a square GEMM of about the same FLOPs in the same dtype and thread count, timed "
        "in the same rounds as the op. `mamba` and `aaren` run elementwise scans, not matmuls: no count.",
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


def _number(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _show(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "ok" if value else "NaN"
    if isinstance(value, Measured):
        return f"{_number(value.value)} ({100 * value.spread:.0f}%)"
    if isinstance(value, float):
        return _number(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
