"""PGN layer: the HIE convolution and the gate against their equations, the conv methods, the history limit."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize("kwargs", [{"max_len": 4}, {"max_len": 300}, {"conv_method": "direct", "max_len": 1}])
def test_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("pgn", d_model=16, **kwargs))


def test_layer_is_the_papers_equation():
    torch.manual_seed(0)
    layer = build_layer("pgn", d_model=3, max_len=5).double()
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    y, _ = layer(x)
    for t in range(9):
        hidden = layer.hie_bias.clone()
        for j in range(min(5, t + 1)):
            hidden = hidden + layer.hie_weight[:, 4 - j] * x[:, t - j]
        g, u = layer.gate(torch.cat([x[:, t], hidden], -1)).chunk(2, -1)
        expected = torch.sigmoid(g) * hidden + (1 - torch.sigmoid(g)) * torch.tanh(u)
        torch.testing.assert_close(y[:, t], expected)


def test_output_sees_exactly_max_len_steps_back():
    layer = build_layer("pgn", d_model=4, max_len=6).double()
    x = torch.randn(1, 20, 4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(layer(x)[0][0, 15].sum(), x)
    reached = grad[0].abs().sum(-1) > 0
    assert reached[10:16].all() and not reached[:10].any() and not reached[16:].any()


def test_direct_and_fft_agree():
    torch.manual_seed(0)
    layer = build_layer("pgn", d_model=8, max_len=200).double()
    x = torch.randn(2, 300, 8, dtype=torch.float64)
    layer.conv_method = "direct"
    y_direct, s_direct = layer(x)
    layer.conv_method = "fft"
    y_fft, s_fft = layer(x)
    torch.testing.assert_close(y_fft, y_direct)
    torch.testing.assert_close(s_fft, s_direct)


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="max_len"):
        build_layer("pgn", d_model=8, max_len=0)
    with pytest.raises(ValueError, match="conv_method"):
        build_layer("pgn", d_model=8, conv_method="winograd")
