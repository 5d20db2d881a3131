"""Aaren's parallel prefix attention against its RNN form and against causal softmax attention."""

import pytest
import torch
import torch.nn.functional as F

from recur_core.ops.prefix_attention import empty_prefix_state, naive_prefix_attention, scan_prefix_attention
from recur_core.testing import assert_op_matches_reference


def make_inputs(seq_len, score_scale=1.0, state=True, batch=2, heads=3, key_dim=4, value_dim=5, seed=0):
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    inputs = {
        "q": randn(batch, heads, key_dim) * score_scale,
        "k": randn(batch, seq_len, heads, key_dim),
        "v": randn(batch, seq_len, heads, value_dim),
    }
    if state:
        inputs["initial_state"] = (
            randn(batch, heads),
            torch.rand(batch, heads, generator=gen, dtype=torch.float64) + 0.5,
            randn(batch, heads, value_dim),
        )
    return inputs


@pytest.mark.parametrize("seq_len", [1, 63, 75])
@pytest.mark.parametrize("score_scale", [1.0, 300.0], ids=["scores", "huge_scores"])
def test_scan_matches_naive(seq_len, score_scale):
    assert_op_matches_reference(
        scan_prefix_attention, naive_prefix_attention, make_inputs(seq_len, score_scale), what=f"T={seq_len}"
    )


def test_masked_steps_leave_the_state_unchanged():
    inputs = make_inputs(75, state=False)
    lengths = torch.tensor([75, 30])
    mask = torch.arange(75)[None] < lengths[:, None]
    assert_op_matches_reference(scan_prefix_attention, naive_prefix_attention, {**inputs, "mask": mask})
    _, (m, u, w) = scan_prefix_attention(**inputs, mask=mask)
    short = {k: v[1:, :30] if k in "kv" else v[1:] for k, v in inputs.items()}
    _, (m_ref, u_ref, w_ref) = scan_prefix_attention(**short)
    for got, want in ((m[1:], m_ref), (u[1:], u_ref), (w[1:], w_ref)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("score_scale", [1.0, 300.0], ids=["scores", "huge_scores"])
def test_equals_causal_softmax_attention_over_prefixes(score_scale):
    inputs = make_inputs(75, score_scale, state=False)
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    o, _ = scan_prefix_attention(q, k, v)
    queries = q[:, :, None].expand(-1, -1, k.shape[1], -1)  # the same query at every position
    expected = F.scaled_dot_product_attention(queries, k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
    torch.testing.assert_close(o, expected.transpose(1, 2), rtol=1e-6, atol=1e-6)
    assert torch.isfinite(o).all()


def test_state_continues_a_split_sequence():
    inputs = make_inputs(75, state=False)
    whole, final = scan_prefix_attention(**inputs)
    first, state = scan_prefix_attention(**{k: v[:, :40] if k in "kv" else v for k, v in inputs.items()})
    second, final_split = scan_prefix_attention(
        **{k: v[:, 40:] if k in "kv" else v for k, v in inputs.items()}, initial_state=state
    )
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    for got, want in zip(final_split, final):
        torch.testing.assert_close(got, want)


def test_empty_state_is_the_identity():
    inputs = make_inputs(10, state=False)
    o, final = scan_prefix_attention(**inputs)
    empty = empty_prefix_state(2, 3, 5, dtype=torch.float64)
    o_empty, final_empty = scan_prefix_attention(**inputs, initial_state=empty)
    torch.testing.assert_close(o_empty, o)
    for got, want in zip(final_empty, final):
        torch.testing.assert_close(got, want)
