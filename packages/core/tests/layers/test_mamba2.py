"""Mamba-2: state layout, the Δ-scaled input and the D skip, state rescaling between segments."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize("kwargs", [{"d_state": 8, "num_heads": 2, "expand": 1}, {"d_conv": 2, "bias": True}])
def test_options_keep_the_contract(kwargs):
    check_layer_contract(build_layer("mamba2", d_model=16, **kwargs))


def test_state_is_conv_buffer_and_ssm_state():
    layer = build_layer("mamba2", d_model=16, d_state=8, num_heads=4)
    conv, ssm = layer.init_state(3)
    assert conv.shape == (3, 3, 2 * 16 + 2 * 8)
    assert ssm.shape == (3, 4, 8, 8)


def test_decays_lie_in_zero_one():
    layer = build_layer("mamba2", d_model=16)
    _, xbc, dt = layer._split(layer.in_proj(torch.randn(2, 7, 16)))
    _, _, _, g, _ = layer._ssm_inputs(xbc, dt)
    assert (g < 0).all() and (g.exp() > 0).all()


def test_without_memory_the_output_is_the_delta_scaled_input_plus_skip():
    # a = exp(−Δ e^{A_log}) → 0: h_t = B_t (Δ_t x_t)ᵀ, so y_t = (C_t · B_t) Δ_t x_t + D x_t
    torch.manual_seed(0)
    layer = build_layer("mamba2", d_model=8, d_state=4, num_heads=2).double()
    with torch.no_grad():
        layer.A_log.fill_(80.0)
    u = torch.randn(2, 6, 8, dtype=torch.float64)
    z, xbc, dt = layer._split(layer.in_proj(u))
    xbc, _ = layer.conv(xbc)
    c, b, v, _, x = layer._ssm_inputs(xbc, dt)
    y = (c * b).sum(-1, keepdim=True) * v
    torch.testing.assert_close(layer(u)[0], layer._output(y, x, z))


def test_state_rescaled_between_segments_equals_the_same_fix_step_by_step():
    # Stuffed-Mamba state normalisation as a wrapper: every R tokens, h ← h · τ / max(‖h‖, τ) per head
    torch.manual_seed(0)
    layer = build_layer("mamba2", d_model=8, d_state=4, num_heads=2).double()
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    every, tau = 4, 0.05

    def normalise(state):
        conv, h = state
        norm = h.flatten(2).norm(dim=-1)[..., None, None]
        return conv, h * tau / norm.clamp(min=tau)

    state, segments = None, []
    for start in range(0, 12, every):
        y, state = layer(x[:, start : start + every], state)
        state = normalise(state)
        segments.append(y)
    state_steps, steps = None, []
    for t in range(12):
        y_t, state_steps = layer.step(x[:, t], state_steps)
        if (t + 1) % every == 0:
            state_steps = normalise(state_steps)
        steps.append(y_t)
    torch.testing.assert_close(torch.cat(segments, 1), torch.stack(steps, 1))
    assert state[1].flatten(2).norm(dim=-1).max() <= tau + 1e-12


def test_rejects_bad_heads():
    with pytest.raises(ValueError, match="divisible"):
        build_layer("mamba2", d_model=10, num_heads=3)
