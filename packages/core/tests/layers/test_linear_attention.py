"""Linear attention: the Taylor feature map, the normalised output, options."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.layers.linear_attention import elu_feature_map, taylor_feature_map


@pytest.mark.parametrize(
    "kwargs", [{"feature_map": "taylor"}, {"feature_map": "taylor", "feature_dim": 3, "num_heads": 2}, {"num_heads": 1}]
)
def test_options_keep_the_contract(kwargs):
    check_layer_contract(build_layer("linear_attention", d_model=16, **kwargs))


def test_taylor_features_give_the_second_order_expansion_of_exp():
    q, k = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    dot = (q * k).sum(-1) / 6**0.5
    kernel = (taylor_feature_map(q) * taylor_feature_map(k)).sum(-1)
    torch.testing.assert_close(kernel, 1 + dot + dot**2 / 2)
    assert taylor_feature_map(q).shape == (5, 1 + 6 + 36)


def test_elu_features_are_positive_and_the_normaliser_never_divides_by_zero():
    assert (elu_feature_map(torch.linspace(-10, 50, 61)) > 0).all()
    # far below zero elu + 1 rounds to 0; eps keeps the output finite
    layer = build_layer("linear_attention", d_model=8, num_heads=2)
    with torch.no_grad():
        layer.qk.weight.fill_(-1e3)
    assert torch.isfinite(layer(torch.ones(1, 4, 8))[0]).all()


@pytest.mark.parametrize("feature_map", ["elu", "taylor"])
def test_output_is_the_normalised_causal_kernel_sum(feature_map):
    torch.manual_seed(0)
    layer = build_layer("linear_attention", d_model=8, num_heads=2, feature_map=feature_map, feature_dim=3).double()
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    q, k, v = layer._heads(x)
    weights = torch.einsum("bthf,bshf->bhts", q, k).tril()
    o = torch.einsum("bhts,bshv->bthv", weights, v) / (weights.sum(-1).transpose(1, 2)[..., None] + layer.eps)
    torch.testing.assert_close(layer(x)[0], layer.out(o.flatten(-2)))


def test_state_is_the_feature_sums():
    layer = build_layer("linear_attention", d_model=8, num_heads=2, feature_map="taylor", feature_dim=2).double()
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    _, (s, z) = layer(x)
    _, k, v = layer._heads(x)
    assert s.shape == (1, 2, 1 + 2 + 4, 4)
    torch.testing.assert_close(z, k.sum(1))
    torch.testing.assert_close(s, torch.einsum("bthf,bthv->bhfv", k, v))


def test_rejects_unknown_feature_map():
    with pytest.raises(ValueError, match="feature_map"):
        build_layer("linear_attention", d_model=8, feature_map="relu")
