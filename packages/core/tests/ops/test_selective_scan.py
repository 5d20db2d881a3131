"""Mamba's chunked selective scan against its step-by-step reference (selective_scan_ref semantics),
and that reference against a direct, loop-free evaluation of the paper's equations."""

import pytest
import torch
import torch.nn.functional as F

from recur_core.ops.selective_scan import chunk_selective_scan, naive_selective_scan
from recur_core.testing import assert_op_matches_reference

# Δ before the softplus: spread, tiny (transitions near 1) and large (transitions near 0, or near -1
# with negative eigenvalues)
DELTAS = {"spread": (-4.0, 1.0), "near_1": (-14.0, -12.0), "near_0": (4.0, 6.0)}


def make_inputs(seq_len, deltas="spread", neg=False, state=True, gate=True, batch=2, channels=3, d_state=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    lo, hi = DELTAS[deltas]

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    inputs = {
        "u": randn(batch, seq_len, channels),
        "delta": lo + (hi - lo) * torch.rand(batch, seq_len, channels, generator=gen, dtype=torch.float64),
        "A": -torch.exp(randn(channels, d_state)),
        "B": randn(batch, seq_len, d_state),
        "C": randn(batch, seq_len, d_state),
        "D": randn(channels),
        "delta_bias": 0.1 * randn(channels),
        "delta_softplus": True,
        "allow_neg_eigval": neg,
    }
    if gate:
        inputs["z"] = randn(batch, seq_len, channels)
    if state:
        inputs["initial_state"] = randn(batch, channels, d_state)
    return inputs


@pytest.mark.parametrize("seq_len", [1, 63, 75])
@pytest.mark.parametrize("deltas", list(DELTAS))
@pytest.mark.parametrize("neg", [False, True], ids=["pos", "neg"])
def test_chunk_matches_naive(seq_len, deltas, neg):
    assert_op_matches_reference(
        lambda **kw: chunk_selective_scan(**kw, chunk_size=16),
        naive_selective_scan,
        make_inputs(seq_len, deltas, neg),
        what=f"chunk_selective_scan T={seq_len} {deltas} neg={neg}",
    )


@pytest.mark.parametrize("chunk_size", [1, 5, 64, 200])
def test_chunk_sizes_without_state_or_gate(chunk_size):
    inputs = make_inputs(75, state=False, gate=False, seed=1)
    inputs.pop("D")
    assert_op_matches_reference(
        lambda **kw: chunk_selective_scan(**kw, chunk_size=chunk_size), naive_selective_scan, inputs
    )


@pytest.mark.parametrize("workspace", [1, 16 * 12 * 2])
def test_the_batch_scanned_in_slices_matches_naive(workspace):
    """A workspace of one sequence's chunk (and of two) scans 5 sequences in slices of 1 (and 2, the last of 1)."""
    assert_op_matches_reference(
        lambda **kw: chunk_selective_scan(**kw, chunk_size=16, workspace=workspace),
        naive_selective_scan,
        make_inputs(40, batch=5),
        what=f"chunk_selective_scan in slices, workspace={workspace}",
    )


def _direct(u, delta, A, B, C, D, z, delta_bias, delta_softplus, allow_neg_eigval, initial_state):
    """The paper's equations without a loop: h_t = sum_s (prod_{s<r<=t} a_r) b_s + (prod_{r<=t} a_r) h_0,
    the products from log|a| and the count of negative factors (masked before exp)."""
    delta = F.softplus(delta + delta_bias)
    a = torch.exp(torch.einsum("btd,dn->btdn", delta, A))
    a = 2 * a - 1 if allow_neg_eigval else a
    log_abs, negatives = a.abs().log().cumsum(1), (a < 0).double().cumsum(1)
    seq_len = u.shape[1]
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool).tril()[None, :, :, None, None]
    gap = (log_abs[:, :, None] - log_abs[:, None, :]).masked_fill(~causal, float("-inf"))
    sign = 1 - 2 * torch.remainder(negatives[:, :, None] - negatives[:, None, :], 2)
    weights = gap.exp() * sign  # [B, t, s, D, N]
    b = torch.einsum("btd,btn->btdn", delta * u, B)
    h = (
        torch.einsum("btsdn,bsdn->btdn", weights, b)
        + log_abs.exp() * (1 - 2 * torch.remainder(negatives, 2)) * initial_state[:, None]
    )
    y = torch.einsum("btdn,btn->btd", h, C) + u * D
    return y * F.silu(z), h[:, -1]


@pytest.mark.parametrize("neg", [False, True], ids=["pos", "neg"])
def test_naive_matches_the_equations(neg):
    inputs = make_inputs(20, neg=neg, seed=2)
    assert_op_matches_reference(naive_selective_scan, _direct, inputs, what=f"naive vs equations neg={neg}")


def test_negative_eigenvalues_flip_the_state():
    # large Δ: exp(ΔA) ≈ 0, so the transition is ≈ 0 without and ≈ -1 with negative eigenvalues
    inputs = make_inputs(2, deltas="near_0", gate=False, seed=3)
    inputs["A"] = torch.full_like(inputs["A"], -8.0)
    inputs["B"] = torch.zeros_like(inputs["B"])
    h0 = inputs["initial_state"]
    _, h_pos = chunk_selective_scan(**inputs)
    _, h_neg = chunk_selective_scan(**{**inputs, "allow_neg_eigval": True})
    assert h_pos.abs().max() < 1e-12
    torch.testing.assert_close(h_neg, h0)  # two flips


def test_half_precision_and_autocast_stay_finite():
    inputs = {k: v.to(torch.bfloat16) if isinstance(v, torch.Tensor) else v for k, v in make_inputs(75).items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, h = chunk_selective_scan(**inputs)
    y_ref, h_ref = naive_selective_scan(
        **{k: v.float() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    )
    assert y.dtype == torch.bfloat16 and h.dtype == torch.float32
    torch.testing.assert_close(h, h_ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(y.float(), y_ref.float(), rtol=2e-2, atol=2e-2)
