"""Prefix linear attention (JRT-RNN): the equation as a loop, the non-causal prefix, state passing, options."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.layers.linear_attention import elu_feature_map, taylor_feature_map

PHI = {"taylor": taylor_feature_map, "elu": elu_feature_map}


def naive_pla(layer, x, prefix_len):
    """The defining equation, one output position at a time, with explicit sums over j."""
    phi = PHI[layer.feature_map]
    heads, f, dv = layer.num_heads, layer.feature_dim, layer.head_dim
    q, k = layer.qk(x).unflatten(-1, (2, heads, f)).unbind(-3)
    q, k = phi(q), phi(k)
    v = layer.v(x).unflatten(-1, (heads, dv))
    k_e = phi(layer.encoder_k(x).unflatten(-1, (heads, f)))
    v_e = layer.encoder_v(x).unflatten(-1, (heads, dv))
    seq_len = x.shape[1]
    m = min(prefix_len, seq_len)
    outputs = []
    for i in range(seq_len):
        num = sum(k_e[:, j, :, :, None] * v_e[:, j, :, None, :] for j in range(m)) + sum(
            k[:, j, :, :, None] * v[:, j, :, None, :] for j in range(i + 1)
        )
        den = sum(k_e[:, j] for j in range(m)) + sum(k[:, j] for j in range(i + 1))
        o = torch.einsum("bhf,bhfv->bhv", q[:, i], num) / ((q[:, i] * den).sum(-1, keepdim=True) + layer.eps)
        outputs.append(o.flatten(-2))
    return layer.out(torch.stack(outputs, 1))


def _layer(seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = {"num_heads": 2, "feature_dim": 3, "chunk_size": 4, **kwargs}
    return build_layer("prefix_linear_attention", d_model=8, **kwargs).double()


@pytest.mark.parametrize("feature_map", ["taylor", "elu"])
@pytest.mark.parametrize("prefix_len", [0, 5, 13, 20])
def test_forward_and_gradients_match_the_loop(feature_map, prefix_len):
    layer = _layer(prefix_len=prefix_len, feature_map=feature_map)
    x = torch.randn(2, 13, 8, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 13, 8, dtype=torch.float64)
    params = [x, *layer.parameters()]
    y = layer(x)[0]
    expected = naive_pla(layer, x, prefix_len)
    torch.testing.assert_close(y, expected)
    grads = torch.autograd.grad((y * weights).sum(), params, allow_unused=True)
    expected_grads = torch.autograd.grad((expected * weights).sum(), params, allow_unused=True)
    for g, e in zip(grads, expected_grads):
        if prefix_len == 0 and e is None:  # no prefix: the encoder projections take no part
            assert g is None
            continue
        torch.testing.assert_close(g, e)


def test_a_prefix_token_reaches_earlier_outputs_and_a_later_token_does_not():
    layer = _layer(prefix_len=6)
    x = torch.randn(1, 12, 8, dtype=torch.float64)
    y = layer(x)[0]
    inside = x.clone()
    inside[:, 4] += 1.0
    changed = (layer(inside)[0] - y).abs().amax(-1)[0]
    assert (changed > 1e-6).all(), "a prefix token must change every output, those before it included"
    after = x.clone()
    after[:, 8] += 1.0
    changed = (layer(after)[0] - y).abs().amax(-1)[0]
    assert (changed[:8] == 0).all(), "a token after the prefix must not change earlier outputs"
    assert (changed[8:] > 1e-6).all()


def test_the_prefix_is_causal_without_the_encoder():
    """With prefix 0 the layer is causal linear attention with the Taylor map, weight for weight."""
    layer = _layer(prefix_len=0)
    plain = build_layer("linear_attention", d_model=8, num_heads=2, feature_map="taylor", feature_dim=3).double()
    plain.load_state_dict({k: v for k, v in layer.state_dict().items() if not k.startswith("encoder")})
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    y, (s, z, left) = layer(x)
    y_plain, (s_plain, z_plain) = plain(x)
    torch.testing.assert_close(y, y_plain)
    torch.testing.assert_close(s, s_plain)
    torch.testing.assert_close(z, z_plain)
    assert left.tolist() == [0, 0]


def test_step_after_the_prefix_equals_forward():
    layer = _layer(prefix_len=5)
    x = torch.randn(3, 14, 8, dtype=torch.float64)
    y, state = layer(x)
    y_head, s = layer(x[:, :5])
    assert s[2].tolist() == [0, 0, 0]
    steps = []
    for t in range(5, 14):
        y_t, s = layer.step(x[:, t], s)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y[:, 5:])
    torch.testing.assert_close(y_head, y[:, :5])
    for a, b in zip(s, state):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cut", [2, 5, 9])
def test_the_state_is_exact_for_any_cut_and_outputs_after_the_cut_are_too(cut):
    """A cut inside the prefix: the first call's outputs miss later prefix tokens, nothing else differs."""
    layer = _layer(prefix_len=7)
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    y, state = layer(x)
    _, s = layer(x[:, :cut])
    assert s[2].tolist() == [max(7 - cut, 0)] * 2
    y2, s2 = layer(x[:, cut:], state=s)
    torch.testing.assert_close(y2, y[:, cut:])
    for a, b in zip(s2, state):
        torch.testing.assert_close(a, b)
    stepped = s
    for t in range(cut, 12):
        _, stepped = layer.step(x[:, t], stepped)
    for a, b in zip(stepped, state):
        torch.testing.assert_close(a, b)


def test_per_row_prefix_lengths_equal_separate_runs():
    layer = _layer(prefix_len=3)
    x = torch.randn(3, 10, 8, dtype=torch.float64)
    prefix = torch.tensor([0, 4, 10])
    y, state = layer(x, prefix_len=prefix)
    for b in range(3):
        y_b, s_b = layer(x[b : b + 1], prefix_len=int(prefix[b]))
        torch.testing.assert_close(y[b : b + 1], y_b)
        torch.testing.assert_close(state[0][b : b + 1], s_b[0])
    y_init = layer(x, state=layer.init_state(3, dtype=torch.float64, prefix_len=prefix))[0]
    torch.testing.assert_close(y_init, y)


def test_padding_shorter_than_the_prefix():
    """A row shorter than the prefix is read wholly by the encoder, as its unpadded run."""
    layer = _layer(prefix_len=6)
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    lengths = torch.tensor([9, 3])
    y, state = layer(x, lengths=lengths)
    y_short, s_short = layer(x[1:, :3])
    torch.testing.assert_close(y[1:, :3], y_short)
    assert state[2].tolist() == [0, 3] and s_short[2].tolist() == [3]
    torch.testing.assert_close(state[0][1:], s_short[0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prefix_len": 8},
        {"prefix_len": 30},
        {"feature_map": "elu"},
        {"num_heads": 1, "feature_dim": 4, "chunk_size": 3},
    ],
)
def test_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("prefix_linear_attention", d_model=16, **kwargs))
    check_layer_contract(build_layer("prefix_linear_attention", d_model=16, **kwargs), seq_len=23, seed=2)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="prefix_len must be >= 0"):
        build_layer("prefix_linear_attention", d_model=8, prefix_len=-1)
    with pytest.raises(ValueError, match="divisible"):
        build_layer("prefix_linear_attention", d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="feature_map"):
        build_layer("prefix_linear_attention", d_model=8, feature_map="relu")
    layer = build_layer("prefix_linear_attention", d_model=8)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match="not both"):
        layer(x, state=layer.init_state(2), prefix_len=3)
    with pytest.raises(ValueError, match=r"\[B\] = \[2\]"):
        layer(x, prefix_len=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="prefix_len must be >= 0"):
        layer(x, prefix_len=torch.tensor([1, -2]))
