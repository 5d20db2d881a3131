"""TCNCA layer: both temporal forms, chunk boundaries, receptive field, the EMA against its recurrence."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize(
    "kwargs",
    [{"temporal": "ema_fft"}, {"chunk_size": 4}, {"chunk_size": 3, "temporal": "ema_fft", "ema_dim": 3}],
)
def test_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("tcnca", d_model=16, **kwargs), seq_len=13)


def test_dilated_receptive_field_is_exponential_in_depth():
    # kernel 3, levels 1, 2, 4: u_t sees x_{t-14..t}
    layer = build_layer("tcnca", d_model=4, num_heads=1, num_levels=3).double()
    x = torch.randn(1, 40, 4, dtype=torch.float64, requires_grad=True)
    u = x
    for level, state in zip(layer.levels, layer.init_state(1, dtype=torch.float64)[0]):
        u, _ = level(u, state, None)
    (grad,) = torch.autograd.grad(u[0, 30].sum(), x)
    reached = grad[0].abs().sum(-1) > 0
    assert reached[16:31].all() and not reached[:16].any() and not reached[31:].any()


def test_ema_convolution_equals_its_recurrence_on_long_inputs():
    # T >= FFT_MIN_STEPS, so the FFT form runs; the step runs the EMA recurrence
    torch.manual_seed(0)
    layer = build_layer("tcnca", d_model=8, num_heads=2, temporal="ema_fft", chunk_size=16).double()
    x = torch.randn(2, 300, 8, dtype=torch.float64)
    h0 = torch.randn(2, 8, 2, dtype=torch.float64)
    u, h = layer._ema(x, h0, None)
    log_q, gain = layer._ema_coefficients()
    state, steps = h0, []
    for t in range(300):
        state = log_q.exp() * state + gain * x[:, t, :, None]
        steps.append(torch.nn.functional.silu((state * layer.ema_eta).sum(-1)))
    torch.testing.assert_close(u, torch.stack(steps, 1))
    torch.testing.assert_close(h, state)


def test_step_crosses_chunk_boundaries_and_resets_the_buffer():
    torch.manual_seed(0)
    layer = build_layer("tcnca", d_model=8, num_heads=2, chunk_size=5).double()
    x = torch.randn(2, 17, 8, dtype=torch.float64)
    y, (_, (keys, _, count)) = layer(x)
    state = None
    for t in range(17):
        y_t, state = layer.step(x[:, t], state)
        torch.testing.assert_close(y_t, y[:, t])
    assert count.tolist() == [2, 2] and state[1][2].tolist() == [2, 2]
    assert (keys[:, 2:] == 0).all()


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="temporal"):
        build_layer("tcnca", d_model=8, temporal="s4")
    with pytest.raises(ValueError, match="chunk_size"):
        build_layer("tcnca", d_model=8, chunk_size=0)
