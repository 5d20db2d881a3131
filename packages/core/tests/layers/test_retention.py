"""Retention: the multi-scale decays (RetNet's and ViR's), parallel ≡ recurrent ≡ chunkwise at the layer
level, the ViR variant."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.layers.retention import retention_decays
from recur_core.ops.linear_attn import parallel_linear_attn


@pytest.mark.parametrize(
    "kwargs",
    [
        {"variant": "vir"},
        {"rotary": False},
        {"variant": "vir", "rotary": False, "expand_v": 1.0, "num_heads": 2},
        {"decays": "vir"},
        {"bias": True},
        {"variant": "vir", "rotary": False, "expand_v": 1.0, "bias": True},
    ],
)
def test_options_keep_the_contract(kwargs):
    check_layer_contract(build_layer("retention", d_model=16, **kwargs))


def test_decays_are_one_minus_two_to_the_minus_five_minus_h():
    gammas = retention_decays(4).exp()
    torch.testing.assert_close(gammas, 1 - 2.0 ** torch.tensor([-5.0, -6.0, -7.0, -8.0], dtype=torch.float64))


def test_vir_decays_are_the_authors_log_spaced_rates():
    # 1 − exp(linspace(ln 1/32, ln 1/512, 4)): the rates 2^−5 · (2^−4)^(i/3), i = 0..3
    gammas = retention_decays(4, "vir").exp()
    rates = 2.0 ** -torch.tensor([5.0, 5.0 + 4 / 3, 5.0 + 8 / 3, 9.0], dtype=torch.float64)
    torch.testing.assert_close(gammas, 1 - rates, rtol=1e-12, atol=0)
    # the same range 1 − 1/32 .. 1 − 1/512 whatever H, which is RetNet's schedule at H = 5 only
    torch.testing.assert_close(retention_decays(5, "vir"), retention_decays(5))
    torch.testing.assert_close(retention_decays(12, "vir")[[0, -1]].exp(), torch.tensor([31 / 32, 511 / 512]).double())
    with pytest.raises(ValueError, match="schedule 'linear'"):
        retention_decays(4, "linear")


def test_each_variant_brings_its_own_decays_unless_told_otherwise():
    def log_gamma(**kwargs):
        return build_layer("retention", d_model=16, **kwargs).log_gamma

    retnet, vir = retention_decays(4).float(), retention_decays(4, "vir").float()
    assert not torch.equal(retnet, vir)
    assert torch.equal(log_gamma(), retnet) and torch.equal(log_gamma(variant="vir"), vir)
    assert torch.equal(log_gamma(decays="vir"), vir) and torch.equal(log_gamma(variant="vir", decays="retnet"), retnet)
    with pytest.raises(ValueError, match="decay"):
        build_layer("retention", d_model=16, decays="linear")


@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("variant", ["retnet", "vir"])
def test_parallel_recurrent_and_chunkwise_forms_agree(variant, bias):
    torch.manual_seed(0)
    layer = build_layer("retention", d_model=16, num_heads=4, variant=variant, chunk_size=8, bias=bias).double()
    if bias:  # nonzero biases, so that they take part in every form
        for projection in (layer.qk, layer.v, layer.out):
            torch.nn.init.normal_(projection.bias)
    x = torch.randn(2, 37, 16, dtype=torch.float64)
    y_chunk, _ = layer(x)
    positions = torch.arange(37).expand(2, -1)
    q, k, v = layer._heads(x, positions)
    o, _ = parallel_linear_attn(q, k, v, layer.log_gamma.double().expand(2, 37, 4))
    torch.testing.assert_close(layer._output(o, x), y_chunk)
    state, steps = None, []
    for t in range(37):
        y_t, state = layer.step(x[:, t], state)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y_chunk)


def test_vir_is_plain_retention_with_no_normalisation():
    # (QKᵀ ⊙ D)V with linear q, k, v and no softmax or norm: cubic in the input
    layer = build_layer("retention", d_model=16, variant="vir").double()
    x = torch.randn(2, 10, 16, dtype=torch.float64)
    torch.testing.assert_close(layer(3 * x)[0], 27 * layer(x)[0])
    assert layer.norm is None and layer.gate is None


def test_bias_is_off_by_default_and_on_for_q_k_v_and_out():
    # off: the same parameters (and checkpoints) as before the option; on: the ViR authors' qkv and proj biases
    names = {name for name, _ in build_layer("retention", d_model=16).named_parameters()}
    assert not any(name.endswith("bias") for name in names - {"norm.bias"})
    with_bias = {name for name, _ in build_layer("retention", d_model=16, bias=True).named_parameters()}
    assert with_bias - names == {"qk.bias", "v.bias", "out.bias"}


def test_vir_with_bias_is_the_masked_product_plus_biases():
    # (QKᵀ ⊙ D)V / √d_h, q, k, v = x W + b, and y = o W_o + b_o, written from the weights in float64
    torch.manual_seed(0)
    layer = build_layer("retention", d_model=8, num_heads=2, variant="vir", rotary=False, expand_v=1.0, bias=True)
    layer = layer.double()
    for projection in (layer.qk, layer.v, layer.out):
        torch.nn.init.normal_(projection.bias)
    x = torch.randn(3, 9, 8, dtype=torch.float64)
    q, k = (x @ layer.qk.weight.T + layer.qk.bias).view(3, 9, 2, 2, 4).unbind(2)
    v = (x @ layer.v.weight.T + layer.v.bias).view(3, 9, 2, 4)
    n = torch.arange(9, dtype=torch.float64)
    decay = torch.where(n[:, None] >= n, layer.log_gamma.double()[:, None, None] * (n[:, None] - n), -torch.inf).exp()
    scores = torch.einsum("bnhk,bmhk->bhnm", q, k) * decay / 2.0
    o = torch.einsum("bhnm,bmhv->bnhv", scores, v).flatten(-2)
    torch.testing.assert_close(layer(x)[0], o @ layer.out.weight.T + layer.out.bias)


def test_position_counter_follows_valid_steps():
    layer = build_layer("retention", d_model=8, num_heads=2)
    _, (_, position) = layer(torch.randn(3, 6, 8), lengths=torch.tensor([6, 2, 4]))
    assert position.tolist() == [6, 2, 4]
    _, (_, position) = layer.step(torch.randn(3, 8), (layer.init_state(3)[0], position))
    assert position.tolist() == [7, 3, 5]


def test_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        build_layer("retention", d_model=8, variant="softmax")


def test_retnet_layer_is_the_papers_token_loop():
    # Written from RetNet's recurrent form with the layer's weights, bypassing _heads and _output, which
    # every form shares: a wrong head split, rotation, key scale, decay, GroupNorm or swish gate shows here only.
    torch.manual_seed(0)
    layer = build_layer("retention", d_model=16, num_heads=2).double()
    heads, key_dim, value_dim = 2, 8, 16
    x = torch.randn(2, 11, 16, dtype=torch.float64)
    w_q, w_k = layer.qk.weight.split(16)
    # q and k as K/2 complex numbers (x_i + i x_{i + K/2}), turned by n θ_i, θ_i = 10000^(−i/(K/2))
    theta = 10000.0 ** (-torch.arange(key_dim // 2, dtype=torch.float64) / (key_dim // 2))
    gamma = 1 - 2.0 ** torch.tensor([-5.0, -6.0], dtype=torch.float64)
    state = torch.zeros(2, heads, key_dim, value_dim, dtype=torch.float64)
    outputs = []
    for n, x_t in enumerate(x.unbind(1)):
        turn = torch.polar(torch.ones_like(theta), n * theta)
        q, k = (
            torch.view_as_real(torch.complex(*(x_t @ w.T).view(2, heads, 2, key_dim // 2).unbind(-2)) * turn)
            .transpose(-1, -2)
            .flatten(-2)
            for w in (w_q, w_k)
        )
        v = (x_t @ layer.v.weight.T).view(2, heads, value_dim)
        state = gamma[:, None, None] * state + k[..., None] * v[..., None, :]
        o = (state * q[..., None]).sum(-2) / key_dim**0.5
        o = (o - o.mean(-1, keepdim=True)) / (o.var(-1, unbiased=False, keepdim=True) + layer.norm.eps).sqrt()
        o = o.flatten(-2) * layer.norm.weight + layer.norm.bias
        outputs.append((torch.nn.functional.silu(x_t @ layer.gate.weight.T) * o) @ layer.out.weight.T)
    y, (final, _) = layer(x)
    torch.testing.assert_close(y, torch.stack(outputs, 1))
    torch.testing.assert_close(final, state)
