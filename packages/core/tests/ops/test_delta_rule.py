"""The chunked delta rule against its per-token reference, and both against fla-core's references."""

import pytest
import torch
import torch.nn.functional as F

from recur_core.ops.delta_rule import chunk_delta_rule, delta_rule_step, naive_delta_rule
from recur_core.testing import assert_op_matches_reference

# β ranges: transition eigenvalue 1 − β near 1 (β → 0), near 0 (β → 1), near −1 (β → 2), and spread
BETAS = {
    "spread": (0.0, 2.0),
    "near_0": (0.0, 1e-3),
    "near_1": (0.999, 1.0),
    "near_2": (1.999, 2.0),
}


def make_inputs(
    seq_len, betas=(0.0, 2.0), batch=2, heads=3, key_dim=8, value_dim=5, state=True, seed=0, dtype=torch.float64
):
    g = torch.Generator().manual_seed(seed)
    lo, hi = betas
    inputs = {
        "q": torch.randn(batch, seq_len, heads, key_dim, generator=g, dtype=dtype),
        "k": F.normalize(torch.randn(batch, seq_len, heads, key_dim, generator=g, dtype=dtype), dim=-1),
        "v": torch.randn(batch, seq_len, heads, value_dim, generator=g, dtype=dtype),
        "beta": lo + (hi - lo) * torch.rand(batch, seq_len, heads, generator=g, dtype=dtype),
    }
    if state:
        inputs["initial_state"] = torch.randn(batch, heads, key_dim, value_dim, generator=g, dtype=dtype)
    return inputs


@pytest.mark.parametrize("seq_len", [1, 63, 75])
@pytest.mark.parametrize("betas", list(BETAS), ids=list(BETAS))
def test_chunk_matches_naive(seq_len, betas):
    inputs = make_inputs(seq_len, BETAS[betas])
    assert_op_matches_reference(
        lambda **kw: chunk_delta_rule(**kw, chunk_size=16), naive_delta_rule, inputs, what="chunk_delta_rule"
    )


@pytest.mark.parametrize("seq_len", [75, 130])
def test_default_chunk_size_without_initial_state(seq_len):
    inputs = make_inputs(seq_len, state=False, heads=2, key_dim=16, value_dim=16)
    assert_op_matches_reference(chunk_delta_rule, naive_delta_rule, inputs, what="chunk_delta_rule (default C)")


def test_chunk_size_does_not_change_the_result():
    inputs = make_inputs(75)
    o, s = chunk_delta_rule(**inputs, chunk_size=75)
    for size in (1, 7, 32, 128):
        o_c, s_c = chunk_delta_rule(**inputs, chunk_size=size)
        torch.testing.assert_close(o_c, o)
        torch.testing.assert_close(s_c, s)


def test_zero_beta_steps_leave_the_state_unchanged():
    inputs = make_inputs(40)
    inputs["beta"][:, 25:] = 0
    inputs["k"][:, 30:] = 0
    inputs["v"][:, 30:] = 0
    _, state = chunk_delta_rule(**inputs, chunk_size=16)
    short = {name: t[:, :25] if name != "initial_state" else t for name, t in inputs.items()}
    _, state_short = chunk_delta_rule(**short, chunk_size=16)
    torch.testing.assert_close(state, state_short)


def test_step_is_one_token_of_naive():
    inputs = make_inputs(1)
    o, s = naive_delta_rule(**inputs)
    o_t, s_t = delta_rule_step(*(inputs[n][:, 0] for n in ("q", "k", "v", "beta")), inputs["initial_state"])
    torch.testing.assert_close(o_t, o[:, 0])
    torch.testing.assert_close(s_t, s)


def test_negative_eigenvalue_flips_the_stored_value():
    # write value v under key k (β = 1), then k again with value 0 and β = 2: S = (1 − 2) k vᵀ = −k vᵀ
    k = F.normalize(torch.randn(1, 1, 1, 4, dtype=torch.float64), dim=-1).expand(1, 2, 1, 4)
    v = torch.cat([torch.randn(1, 1, 1, 3, dtype=torch.float64), torch.zeros(1, 1, 1, 3, dtype=torch.float64)], 1)
    beta = torch.tensor([1.0, 2.0], dtype=torch.float64).view(1, 2, 1)
    _, state = chunk_delta_rule(k, k, v, beta)
    torch.testing.assert_close(state[0, 0], -torch.outer(k[0, 0, 0], v[0, 0, 0]))


@pytest.mark.parametrize("op", [chunk_delta_rule, naive_delta_rule], ids=["chunk", "naive"])
def test_low_precision_inputs_compute_in_float32(op):
    inputs = make_inputs(40, dtype=torch.float32)
    reference = op(**inputs)
    half = {name: t.bfloat16() if name != "initial_state" else t for name, t in inputs.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o, s = op(**half)
    assert o.dtype == torch.bfloat16 and s.dtype == torch.float32
    expected = op(**{name: t.float() for name, t in half.items()})
    torch.testing.assert_close(o, expected[0].bfloat16())
    torch.testing.assert_close(s, expected[1])
    assert torch.isfinite(reference[0]).all()


def test_rejects_a_chunk_size_below_one():
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_delta_rule(**make_inputs(5), chunk_size=0)


@pytest.fixture(scope="module")
def fla_naive():
    """fla-core's pure-torch delta rule references (imported once: importing fla takes seconds)."""
    return pytest.importorskip("fla.ops.delta_rule.naive")


def _fla_layout(inputs):
    """recur's [B, T, H, D] inputs as fla's head-first [B, H, T, D]."""
    return [inputs[n].transpose(1, 2) for n in ("q", "k", "v", "beta")]


@pytest.mark.parametrize("seq_len", [1, 75])
def test_matches_fla_delta_rule_recurrence(seq_len, fla_naive):
    # fla's reference computes in float32 whatever the input dtype
    inputs = make_inputs(seq_len)
    o_ref, s_ref = fla_naive.delta_rule_recurrence(*_fla_layout(inputs), initial_state=inputs["initial_state"])
    o, s = chunk_delta_rule(**inputs, chunk_size=16)
    torch.testing.assert_close(o, o_ref.transpose(1, 2), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(s, s_ref.double(), rtol=1e-4, atol=1e-5)


def test_matches_fla_delta_rule_chunkwise(fla_naive):
    # fla's chunkwise reference needs T divisible by its chunk size and starts from a zero state
    inputs = make_inputs(64, state=False)
    o_ref, s_ref = fla_naive.delta_rule_chunkwise(*_fla_layout(inputs), chunk_size=16)
    o, s = chunk_delta_rule(**inputs, chunk_size=32)
    torch.testing.assert_close(o, o_ref.transpose(1, 2))
    torch.testing.assert_close(s, s_ref)
