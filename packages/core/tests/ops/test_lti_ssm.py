"""The chunked convolutional view of the per-channel LTI state space against the recurrent view."""

import math

import pytest
import torch

from recur_core.layers.lssl import hippo_legs, random_stable
from recur_core.ops.lti_ssm import bilinear_discretize, chunk_lti_ssm, naive_lti_ssm
from recur_core.testing import assert_op_matches_reference

INITS = {"hippo": hippo_legs, "random": random_stable}
# step sizes Δ: the layer's init range, tiny (Ā near I) and large (eigenvalues of Ā near -1)
DTS = {"init_range": (1e-3, 1e-1), "tiny": (1e-6, 1e-5), "large": (10.0, 100.0)}


def make_inputs(seq_len, init="hippo", dts="init_range", state=True, batch=2, channels=3, d_state=8, seed=0):
    torch.manual_seed(seed)
    A, B = (t.double() for t in INITS[init](d_state))
    lo, hi = DTS[dts]
    dt = torch.exp(torch.empty(channels, dtype=torch.float64).uniform_(math.log(lo), math.log(hi)))
    A_bar, B_bar = bilinear_discretize(A, B, dt, lower=init == "hippo")
    inputs = {
        "u": torch.randn(batch, seq_len, channels, dtype=torch.float64),
        "A_bar": A_bar,
        "B_bar": B_bar,
        "C": torch.randn(channels, d_state, dtype=torch.float64),
        "D": torch.randn(channels, dtype=torch.float64),
    }
    if state:
        inputs["initial_state"] = torch.randn(batch, channels, d_state, dtype=torch.float64)
    return inputs


@pytest.mark.parametrize("seq_len", [1, 63, 75])
@pytest.mark.parametrize("init", list(INITS))
@pytest.mark.parametrize("dts", list(DTS))
def test_chunk_matches_recurrent(seq_len, init, dts):
    assert_op_matches_reference(
        lambda **kw: chunk_lti_ssm(**kw, chunk_size=16),
        naive_lti_ssm,
        make_inputs(seq_len, init, dts),
        what=f"chunk_lti_ssm T={seq_len} {init} {dts}",
    )


@pytest.mark.parametrize("chunk_size", [1, 5, 64, 256])
def test_chunk_sizes_with_lengths(chunk_size):
    inputs = make_inputs(75, state=False, seed=1)
    lengths = torch.tensor([75, 17])
    assert_op_matches_reference(
        lambda **kw: chunk_lti_ssm(**kw, chunk_size=chunk_size), naive_lti_ssm, {**inputs, "lengths": lengths}
    )


def test_lengths_give_each_rows_state_after_its_last_step():
    inputs = make_inputs(40, seed=2)
    lengths = torch.tensor([40, 23])
    _, state = chunk_lti_ssm(**inputs, lengths=lengths, chunk_size=8)
    row = {k: v[1:] if k in ("u", "initial_state") else v for k, v in inputs.items()}
    _, expected = naive_lti_ssm(**{**row, "u": row["u"][:, :23]})
    torch.testing.assert_close(state[1:], expected)


def test_exactly_causal():
    inputs = make_inputs(200, state=False, seed=3)
    u = inputs.pop("u").requires_grad_(True)
    y, _ = chunk_lti_ssm(u, **inputs, chunk_size=16)
    (grad,) = torch.autograd.grad(y[:, 100].sum(), u)
    assert grad[:, 101:].abs().max() == 0
    assert grad[:, :101].abs().max() > 0


def test_bilinear_discretization_formula():
    A, B = (t.double() for t in hippo_legs(4))
    dt = torch.tensor([0.01, 0.5], dtype=torch.float64)
    eye = torch.eye(4, dtype=torch.float64)
    for lower in (False, True):
        A_bar, B_bar = bilinear_discretize(A, B, dt, lower=lower)
        for h in range(2):
            inverse = torch.linalg.inv(eye - dt[h] / 2 * A)
            torch.testing.assert_close(A_bar[h], inverse @ (eye + dt[h] / 2 * A))
            torch.testing.assert_close(B_bar[h], inverse @ (dt[h] * B))
