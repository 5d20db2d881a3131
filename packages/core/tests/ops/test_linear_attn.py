"""Chunked and parallel linear attention against the per-token reference, and all against fla-core's references."""

import time

import pytest
import torch

from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step, naive_linear_attn, parallel_linear_attn
from recur_core.testing import assert_op_matches_reference

DECAYS = ["none", "head", "key"]
# log-decay g per step: spread, decay near 0 (g down to −20), decay near 1
GATES = {"spread": (-2.0, 0.0), "near_0": (-20.0, -10.0), "near_1": (-1e-4, 0.0)}
CASES = [("none", "spread")] + [(decay, gates) for decay in ("head", "key") for gates in GATES]


def make_inputs(
    seq_len,
    decay="key",
    gates=(-2.0, 0.0),
    normalize=False,
    state=True,
    batch=2,
    heads=3,
    key_dim=8,
    value_dim=5,
    seed=0,
    dtype=torch.float64,
):
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, seq_len, heads)
    inputs = {
        "q": torch.randn(*shape, key_dim, generator=gen, dtype=dtype),
        "k": torch.randn(*shape, key_dim, generator=gen, dtype=dtype),
        "v": torch.randn(*shape, value_dim, generator=gen, dtype=dtype),
    }
    if normalize:
        # positive features, as a feature map gives, keep the denominator away from 0
        inputs["q"], inputs["k"] = inputs["q"].exp(), inputs["k"].exp()
    if decay != "none":
        lo, hi = gates
        gate_shape = shape if decay == "head" else (*shape, key_dim)
        inputs["g"] = lo + (hi - lo) * torch.rand(gate_shape, generator=gen, dtype=dtype)
    if state:
        s0 = torch.randn(batch, heads, key_dim, value_dim, generator=gen, dtype=dtype)
        z0 = torch.rand(batch, heads, key_dim, generator=gen, dtype=dtype)
        inputs["initial_state"] = (s0, z0) if normalize else s0
    if normalize:
        inputs["normalize"] = True
    return inputs


def chunk_small(**kw):
    return chunk_linear_attn(**kw, chunk_size=16, sub_chunk_size=4)


@pytest.mark.parametrize("seq_len", [1, 63, 75])
@pytest.mark.parametrize("decay, gates", CASES)
def test_chunk_matches_naive(decay, gates, seq_len):
    inputs = make_inputs(seq_len, decay, GATES[gates])
    assert_op_matches_reference(chunk_small, naive_linear_attn, inputs, what=f"chunk_linear_attn ({decay})")


@pytest.mark.parametrize("seq_len", [1, 75])
@pytest.mark.parametrize("decay", DECAYS)
def test_chunk_with_normaliser_matches_naive(decay, seq_len):
    inputs = make_inputs(seq_len, decay, normalize=True)
    assert_op_matches_reference(chunk_small, naive_linear_attn, inputs, what=f"normalised chunk ({decay})")


@pytest.mark.parametrize("decay", DECAYS)
def test_default_chunk_sizes_without_initial_state(decay):
    inputs = make_inputs(130, decay, state=False, heads=2, key_dim=16, value_dim=16)
    assert_op_matches_reference(chunk_linear_attn, naive_linear_attn, inputs, what=f"chunk, default sizes ({decay})")


@pytest.mark.parametrize("decay, gates", CASES)
def test_parallel_matches_naive(decay, gates):
    inputs = make_inputs(63, decay, GATES[gates])
    assert_op_matches_reference(parallel_linear_attn, naive_linear_attn, inputs, what=f"parallel ({decay})")


@pytest.mark.parametrize("decay", DECAYS)
def test_parallel_with_normaliser_matches_naive(decay):
    inputs = make_inputs(40, decay, normalize=True)
    assert_op_matches_reference(parallel_linear_attn, naive_linear_attn, inputs, what=f"normalised parallel ({decay})")


@pytest.mark.parametrize("decay", DECAYS)
def test_chunk_sizes_do_not_change_the_result(decay):
    inputs = make_inputs(75, decay)
    o, s = chunk_linear_attn(**inputs, chunk_size=75, sub_chunk_size=75)
    for size, sub in ((1, 1), (8, 2), (32, 8), (32, 32), (128, 16)):
        o_c, s_c = chunk_linear_attn(**inputs, chunk_size=size, sub_chunk_size=sub)
        torch.testing.assert_close(o_c, o)
        torch.testing.assert_close(s_c, s)


@pytest.mark.parametrize("chunk_size", [None, 16])
def test_per_key_decay_mixing_steep_and_gentle_chunks_matches_naive(chunk_size):
    """Chunks whose log-decay falls below the factoring limit are recomputed; the rest are factored."""
    inputs = make_inputs(150, "key", gates=(-0.5, 0.0))
    inputs["g"][0, 20:24, 1] = -20.0
    inputs["g"][1, 100, 2, 3] = -45.0

    def chunk(**kw):
        return chunk_linear_attn(**kw, chunk_size=chunk_size)

    assert_op_matches_reference(chunk, naive_linear_attn, inputs, what="chunk, steep and gentle chunks")


def test_sub_chunk_must_divide_chunk():
    with pytest.raises(ValueError, match="divide"):
        chunk_linear_attn(**make_inputs(10), chunk_size=16, sub_chunk_size=5)


@pytest.mark.parametrize("decay", ["head", "key"])
def test_float32_extreme_gates_stay_finite_and_exact(decay):
    inputs = make_inputs(75, decay, gates=(-20.0, 0.0), key_dim=16, value_dim=16, dtype=torch.float32)
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    o, s = chunk_linear_attn(**leaves)
    (o.square().sum() + s.square().sum()).backward()
    assert torch.isfinite(o).all() and torch.isfinite(s).all()
    assert all(torch.isfinite(t.grad).all() for t in leaves.values())
    o_ref, s_ref = naive_linear_attn(**{k: v.double() for k, v in inputs.items()})
    torch.testing.assert_close(o.double(), o_ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(s.double(), s_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("decay", DECAYS)
def test_bf16_autocast_is_finite(decay):
    inputs = make_inputs(100, decay, state=False, key_dim=16, value_dim=16, dtype=torch.float32)
    leaves = {k: v.to(torch.bfloat16).requires_grad_() for k, v in inputs.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o, s = chunk_linear_attn(**leaves)
    assert o.dtype == torch.bfloat16 and s.dtype == torch.float32
    (o.float().square().sum() + s.square().sum()).backward()
    assert torch.isfinite(o).all() and torch.isfinite(s).all()
    assert all(torch.isfinite(t.grad).all() for t in leaves.values())
    o_ref, _ = naive_linear_attn(**inputs)
    torch.testing.assert_close(o.float(), o_ref, rtol=0.05, atol=0.05 * o_ref.abs().max().item())


@pytest.mark.parametrize("decay", DECAYS)
def test_step_is_one_token_of_naive(decay):
    inputs = make_inputs(1, decay, normalize=True)
    o, s = naive_linear_attn(**inputs)
    g = inputs["g"][:, 0] if "g" in inputs else None
    q, k, v = (inputs[n][:, 0] for n in "qkv")
    o_t, s_t = linear_attn_step(q, k, v, g, inputs["initial_state"], 8**-0.5, normalize=True)
    torch.testing.assert_close(o_t, o[:, 0])
    torch.testing.assert_close(s_t, s)


@pytest.mark.parametrize("decay", ["head", "key"])
def test_unit_decay_and_zero_keys_leave_the_state_unchanged(decay):
    inputs = make_inputs(40, decay, normalize=True)
    inputs["g"][:, 25:] = 0
    inputs["k"][:, 25:] = 0
    _, state = chunk_small(**inputs)
    short = {n: t[:, :25] if n in "qkvg" else t for n, t in inputs.items()}
    _, state_short = chunk_small(**short)
    for a, b in zip(state, state_short):
        torch.testing.assert_close(a, b)


def test_chunk_is_faster_than_the_token_loop():
    # a sanity check at a modest size: the full speed table is tools/bench/linear_family.py
    inputs = make_inputs(1024, "head", state=False, batch=2, heads=2, key_dim=32, value_dim=32, dtype=torch.float32)

    def seconds(fn):
        start = time.perf_counter()
        with torch.no_grad():
            fn(**inputs)
        return time.perf_counter() - start

    naive = min(seconds(naive_linear_attn) for _ in range(3))
    chunk = min(seconds(chunk_linear_attn) for _ in range(3))
    assert chunk * 3 < naive, f"chunk {chunk * 1e3:.1f} ms vs token loop {naive * 1e3:.1f} ms"


# ---- cross-checks against fla-core's pure-torch references (float32: they compute in float32) ----


def _fla(module: str):
    pytest.importorskip("fla")
    return pytest.importorskip(module)


def test_matches_fla_recurrent_gla():
    ref = _fla("fla.ops.gla.naive").naive_recurrent_gla
    inputs = make_inputs(75, "key", dtype=torch.float32)
    inputs["gk"] = inputs.pop("g")
    assert_op_matches_reference(
        lambda gk, **kw: chunk_linear_attn(g=gk, **kw),
        lambda **kw: ref(**kw, output_final_state=True),
        inputs,
        what="chunk vs fla naive_recurrent_gla",
    )


def test_matches_fla_recurrent_simple_gla():
    ref = _fla("fla.ops.simple_gla.naive").naive_recurrent_simple_gla
    inputs = make_inputs(75, "head", dtype=torch.float32)
    assert_op_matches_reference(chunk_linear_attn, ref, inputs, what="chunk vs fla naive_recurrent_simple_gla")


@pytest.mark.parametrize("normalize", [False, True])
def test_matches_fla_recurrent_linear_attn(normalize):
    ref = _fla("fla.ops.linear_attn.naive").naive_recurrent_linear_attn
    inputs = make_inputs(75, "none", normalize=normalize, dtype=torch.float32)

    def ours(**kw):
        o, s = chunk_linear_attn(**kw, eps=1e-10)
        # fla keeps the normaliser as [B, 1, H, K]
        return (o, (s[0], s[1][:, None])) if normalize else (o, s)

    def theirs(initial_state, **kw):
        if normalize:
            initial_state = (initial_state[0], initial_state[1][:, None])
        return ref(**kw, initial_state=initial_state, output_final_state=True)

    assert_op_matches_reference(ours, theirs, inputs, what="chunk vs fla naive_recurrent_linear_attn")


def test_matches_fla_retention():
    ref = _fla("fla.ops.retention.naive").naive_retention
    inputs = make_inputs(75, "none", state=False, heads=4, dtype=torch.float32)
    log_gamma = torch.log1p(-(2.0 ** (-5.0 - torch.arange(4.0))))
    g = log_gamma.expand(2, 75, 4)
    assert_op_matches_reference(
        lambda q, k, v: chunk_linear_attn(q, k, v, g)[0],
        lambda q, k, v: ref(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2),
        inputs,
        what="chunk vs fla naive_retention",
    )
