"""GLA: the low-rank gate with temperature, d_k = d/2, agreement of the forms, extreme gates."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.ops.linear_attn import naive_linear_attn, parallel_linear_attn


@pytest.mark.parametrize(
    "kwargs", [{"expand_k": 1.0, "tau": 1.0}, {"gate_low_rank_dim": 4, "num_heads": 2, "expand_v": 2.0}]
)
def test_options_keep_the_contract(kwargs):
    check_layer_contract(build_layer("gla", d_model=16, **kwargs))


def test_key_width_is_half_the_model_width():
    layer = build_layer("gla", d_model=32, num_heads=4)
    assert layer.init_state(2).shape == (2, 4, 4, 8)
    assert layer.gate_down.out_features == 16 and layer.tau == 16.0


def test_gate_is_sigmoid_to_the_one_over_tau():
    layer = build_layer("gla", d_model=16).double()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    _, _, _, g = layer._heads(x)
    alpha = torch.sigmoid(layer.gate_up(layer.gate_down(x))) ** (1 / 16)
    torch.testing.assert_close(g.exp(), alpha.unflatten(-1, (4, 2)))


def test_chunkwise_equals_recurrent_and_parallel_forms():
    torch.manual_seed(0)
    layer = build_layer("gla", d_model=16, chunk_size=16).double()
    x = torch.randn(2, 41, 16, dtype=torch.float64)
    y, state = layer(x)
    q, k, v, g = layer._heads(x)
    for form in (naive_linear_attn, parallel_linear_attn):
        o, s = form(q, k, v, g)
        torch.testing.assert_close(layer._output(o, x), y)
        torch.testing.assert_close(s, state)


def test_extreme_gates_stay_finite_in_float32():
    torch.manual_seed(0)
    layer = build_layer("gla", d_model=16)
    with torch.no_grad():
        layer.gate_up.bias.fill_(-1000.0)  # log α ≈ −62 per step: the state forgets at once
    x = torch.randn(2, 70, 16, requires_grad=True)
    y, state = layer(x)
    (y.square().sum() + state.square().sum()).backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
    with torch.no_grad():
        state, steps = None, []
        for t in range(70):
            y_t, state = layer.step(x[:, t], state)
            steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y, rtol=1e-4, atol=1e-4)


def test_layer_is_the_papers_token_loop():
    # Written from the update rule with the layer's weights, bypassing _heads and _output, which every
    # form shares: a wrong head split, key scale, gate, norm or output gate would show here only.
    torch.manual_seed(0)
    layer = build_layer("gla", d_model=16, num_heads=2).double()
    heads, key_dim, value_dim = 2, 4, 8
    x = torch.randn(2, 11, 16, dtype=torch.float64)
    w_q, w_k = layer.qk.weight.split(heads * key_dim)
    state = torch.zeros(2, heads, key_dim, value_dim, dtype=torch.float64)
    outputs = []
    for x_t in x.unbind(1):
        q, k = ((x_t @ w.T).view(2, heads, key_dim) for w in (w_q, w_k))
        v = (x_t @ layer.v.weight.T).view(2, heads, value_dim)
        logits = x_t @ layer.gate_down.weight.T @ layer.gate_up.weight.T + layer.gate_up.bias
        alpha = torch.sigmoid(logits).pow(1 / 16).view(2, heads, key_dim)
        state = alpha[..., None] * state + k[..., None] * v[..., None, :]
        o = (state * q[..., None]).sum(-2) / key_dim**0.5
        o = o / (o.square().mean(-1, keepdim=True) + layer.norm.eps).sqrt() * layer.norm.weight
        swish = torch.nn.functional.silu(x_t @ layer.output_gate.weight.T)
        outputs.append((swish * o.flatten(-2)) @ layer.out.weight.T)
    y, final = layer(x)
    torch.testing.assert_close(y, torch.stack(outputs, 1))
    torch.testing.assert_close(final, state)
