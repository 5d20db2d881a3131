"""The fused sLSTM recurrence against the plain per-step cell in float64: outputs, final state, every gradient."""

import pytest
import torch

from recur_core.ops.slstm import fused_slstm, slstm_naive
from recur_core.testing import assert_op_matches_reference


def _inputs(batch, steps, heads=3, k=4, gate_shift=(0.0, 0.0), state=False, mask=None, exp_forget=False, seed=0):
    generator = torch.Generator().manual_seed(seed)
    gates = torch.randn(batch, steps, heads, 4, k, generator=generator, dtype=torch.float64)
    gates[..., 0, :] += gate_shift[0]
    gates[..., 1, :] += gate_shift[1]
    R = torch.randn(heads, k, 4, k, generator=generator, dtype=torch.float64) / 2
    if state:
        h, c, m = (torch.randn(batch, heads, k, generator=generator, dtype=torch.float64) for _ in range(3))
        n = torch.rand(batch, heads, k, generator=generator, dtype=torch.float64) + 0.5
        initial = (h, c, n, m)
    else:
        initial = tuple(torch.zeros(batch, heads, k, dtype=torch.float64) for _ in range(4))
    return dict(gates_x=gates, R=R, initial_state=initial, mask=mask, exp_forget=exp_forget)


@pytest.mark.parametrize("steps", [1, 63, 75])
@pytest.mark.parametrize("exp_forget", [False, True], ids=["sigmoid", "exp"])
def test_fused_matches_naive(steps, exp_forget):
    inputs = _inputs(2, steps, exp_forget=exp_forget)
    assert_op_matches_reference(fused_slstm, slstm_naive, inputs, what=f"slstm T={steps}")


def test_fused_matches_naive_from_a_state():
    assert_op_matches_reference(fused_slstm, slstm_naive, _inputs(2, 33, state=True, seed=1))


@pytest.mark.parametrize(
    "shift", [(-30.0, 0.0), (30.0, 0.0), (0.0, 30.0), (0.0, -30.0)], ids=["i-low", "i-high", "f-one", "f-zero"]
)
def test_fused_matches_naive_with_extreme_gates(shift):
    # forget gates near 1 and near 0, input gates far below and above the stabiliser
    inputs = _inputs(2, 40, gate_shift=shift, state=True, seed=2)
    assert_op_matches_reference(fused_slstm, slstm_naive, inputs, what=f"slstm shift={shift}")


def test_exp_forget_with_large_gates_stays_finite():
    inputs = _inputs(2, 50, gate_shift=(40.0, 40.0), exp_forget=True, seed=3)
    out, state = fused_slstm(**inputs)
    assert torch.isfinite(out).all() and all(torch.isfinite(s).all() for s in state)


def test_padded_steps_leave_the_state_unchanged():
    mask = torch.arange(21)[None] < torch.tensor([[21], [8]])
    inputs = _inputs(2, 21, state=True, mask=mask, seed=4)
    assert_op_matches_reference(fused_slstm, slstm_naive, inputs, what="slstm with mask")
    _, state = fused_slstm(**inputs)
    unpadded = _inputs(2, 21, state=True, seed=4)
    unpadded["gates_x"] = unpadded["gates_x"][1:, :8]
    unpadded["initial_state"] = tuple(s[1:] for s in unpadded["initial_state"])
    _, expected = slstm_naive(**unpadded)
    for got, want in zip(state, expected):
        torch.testing.assert_close(got[1:], want)
