"""Layer options that change the math, and the helpers the layers share."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.layers import reverse_padded


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("leaky_rnn", {"hidden_size": 12, "activation": "leaky_relu", "tau_init": 4.0}),
        ("leaky_rnn", {"activation": "relu", "train_tau": False}),
        ("attention", {"num_heads": 2, "rope": False, "bias": True}),
        ("bidirectional", {"layer": "gru"}),
        ("bidirectional", {"layer": "attention", "num_heads": 2}),
    ],
)
def test_options_keep_the_contract(name, kwargs):
    check_layer_contract(build_layer(name, d_model=16, **kwargs))


def test_leaky_rnn_timescale_is_at_least_one_and_trainable():
    layer = build_layer("leaky_rnn", d_model=8, tau_init=1.0)
    with torch.no_grad():
        layer.tau_param[:4] = 0.2
    assert torch.all(layer.tau >= 1)
    y, _ = layer(torch.randn(2, 5, 8))
    y.sum().backward()
    assert layer.tau_param.grad[4:].abs().sum() > 0


def test_leaky_rnn_large_tau_integrates_slowly():
    fast = build_layer("leaky_rnn", d_model=4, tau_init=1.0, train_tau=False)
    slow = build_layer("leaky_rnn", d_model=4, tau_init=50.0, train_tau=False)
    slow.load_state_dict(fast.state_dict())
    with torch.no_grad():
        slow.tau_param.fill_(50.0)
    x = torch.randn(1, 1, 4)
    assert slow(x)[0].abs().max() < fast(x)[0].abs().max() / 10


def test_reverse_padded_reverses_within_each_row():
    x = torch.arange(10.0).view(2, 5, 1)
    out = reverse_padded(x, torch.tensor([5, 3]))
    assert out[0, :, 0].tolist() == [4, 3, 2, 1, 0]
    assert out[1, :, 0].tolist() == [7, 6, 5, 8, 9]


def test_bidirectional_rejects_non_causal_inner_layer():
    with pytest.raises(ValueError, match="causal"):
        build_layer("bidirectional", d_model=8, layer="bidirectional")


def test_bidirectional_has_no_step():
    layer = build_layer("bidirectional", d_model=8)
    with pytest.raises(TypeError, match="not causal"):
        layer.step(torch.randn(2, 8))


def test_attention_state_grows_by_one_slot_per_step():
    layer = build_layer("attention", d_model=8, num_heads=2)
    _, state = layer(torch.randn(2, 5, 8))
    _, state = layer.step(torch.randn(2, 8), state)
    assert state[0].shape[2] == 6 and state[2].shape == (2, 6)


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        build_layer("attention", d_model=10, num_heads=4)


def test_lstm_uses_the_torch_module_weights_in_step():
    layer = build_layer("lstm", d_model=8)
    assert isinstance(layer.rnn, torch.nn.LSTM)
    x = torch.randn(3, 4, 8)
    y, _ = layer(x)
    y_ref, _ = layer.rnn(x)
    torch.testing.assert_close(y, y_ref)
