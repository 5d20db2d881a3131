"""Attention with causal=False: every token reads every token, padded keys are masked, no step and no cache."""

import math

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize("kwargs", [{}, {"num_heads": 2, "rope": False, "bias": True}])
def test_non_causal_keeps_the_contract(kwargs):
    layer = build_layer("attention", d_model=16, causal=False, **kwargs)
    assert not layer.causal
    check_layer_contract(layer)


def test_non_causal_is_the_softmax_of_all_scores_times_the_values():
    torch.manual_seed(0)
    layer = build_layer("attention", d_model=16, num_heads=2, rope=False, bias=True, causal=False).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64, requires_grad=True)
    # written from softmax(QKᵀ/√d)V per head with the layer's weights
    q, k, v = (
        (x @ w.T + b).view(2, 9, 2, 8).transpose(1, 2)
        for w, b in zip(layer.qkv.weight.split(16), layer.qkv.bias.split(16))
    )
    heads = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1) @ v
    expected = heads.transpose(1, 2).reshape(2, 9, 16) @ layer.out.weight.T + layer.out.bias
    y, _ = layer(x)
    torch.testing.assert_close(y, expected)
    # the first token reads the last one; the causal layer with the same weights does not
    (grad,) = torch.autograd.grad(y[:, 0].sum(), x)
    assert grad[:, -1].abs().max() > 0
    causal = build_layer("attention", d_model=16, num_heads=2, rope=False, bias=True).double()
    causal.load_state_dict(layer.state_dict())
    y_causal, _ = causal(x)
    (grad,) = torch.autograd.grad(y_causal[:, 0].sum(), x)
    assert grad[:, 1:].abs().max() == 0
    # the last token reads everything in both
    torch.testing.assert_close(y_causal[:, -1], y[:, -1])


def test_non_causal_never_reads_padded_keys():
    torch.manual_seed(0)
    layer = build_layer("attention", d_model=8, num_heads=2, causal=False).double()
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    padded = torch.cat([x[:, :4], 1e3 * torch.randn(2, 3, 8, dtype=torch.float64)], 1)
    y, _ = layer(padded, lengths=torch.tensor([4, 7]))
    torch.testing.assert_close(y[0, :4], layer(x[:1, :4])[0][0])
    torch.testing.assert_close(y[1], layer(padded[1:])[0][0])


def test_non_causal_has_no_step_and_takes_no_cache():
    layer = build_layer("attention", d_model=8, num_heads=2, causal=False)
    x = torch.randn(2, 5, 8)
    with pytest.raises(TypeError, match=r"not causal and has no step\(\)"):
        layer.step(x[:, 0])
    _, cache = build_layer("attention", d_model=8, num_heads=2)(x)
    with pytest.raises(ValueError, match="no KV cache: pass state=None"):
        layer(x, state=cache)
    # the empty state of init_state is what state=None means; it passes through
    _, state = layer(x)
    assert state[0].shape == (2, 2, 0, 4) and state[2].shape == (2, 0)
