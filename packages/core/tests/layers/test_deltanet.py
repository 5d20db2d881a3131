"""DeltaNet: its options keep the layer contract, β's range, long sequences, low precision, speed."""

import time

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.ops.delta_rule import chunk_delta_rule, naive_delta_rule


@pytest.mark.parametrize("allow_neg_eigval", [False, True], ids=["beta01", "beta02"])
@pytest.mark.parametrize("use_short_conv", [True, False], ids=["conv", "noconv"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_options_keep_the_contract(allow_neg_eigval, use_short_conv, dtype):
    torch.manual_seed(0)
    layer = build_layer("deltanet", d_model=16, allow_neg_eigval=allow_neg_eigval, use_short_conv=use_short_conv)
    check_layer_contract(layer, dtype=dtype)


@pytest.mark.parametrize("kwargs", [{"chunk_size": 4}, {"num_heads": 2, "conv_size": 2, "conv_bias": True}])
def test_chunking_and_conv_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("deltanet", d_model=16, allow_neg_eigval=True, **kwargs), seq_len=23)


@pytest.mark.parametrize("allow_neg_eigval, low, high", [(False, 0.0, 1.0), (True, 1.0, 2.0)])
def test_beta_range(allow_neg_eigval, low, high):
    layer = build_layer("deltanet", d_model=8, num_heads=2, allow_neg_eigval=allow_neg_eigval)
    with torch.no_grad():
        layer.beta_proj.weight.fill_(10.0)
    x = torch.ones(1, 3, 8)
    beta = layer._heads(layer.qkv(x), x)[3]
    assert torch.all((beta > low) & (beta <= high)) and beta.max() > high - 1e-6


@pytest.mark.parametrize("kwargs, match", [({"num_heads": 3}, "divisible"), ({"conv_size": 1}, "conv_size")])
def test_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_layer("deltanet", d_model=16, **kwargs)


def test_step_matches_forward_across_chunks():
    torch.manual_seed(0)
    layer = build_layer("deltanet", d_model=16, allow_neg_eigval=True, chunk_size=16).double()
    x = torch.randn(2, 70, 16, dtype=torch.float64)
    y, state = layer(x)
    s, outputs = None, []
    for t in range(x.shape[1]):
        y_t, s = layer.step(x[:, t], s)
        outputs.append(y_t)
    torch.testing.assert_close(torch.stack(outputs, 1), y)
    torch.testing.assert_close(s[1], state[1])


def test_bf16_autocast_is_finite_and_keeps_a_float32_state():
    torch.manual_seed(0)
    layer = build_layer("deltanet", d_model=16, allow_neg_eigval=True)
    x = torch.randn(2, 130, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, state = layer(x)
    assert y.dtype == torch.bfloat16 and state[1].dtype == torch.float32
    y.float().pow(2).mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def _fwd_bwd_seconds(op, inputs, repeats=3):
    times = []
    for _ in range(repeats):
        leaves = [t.detach().requires_grad_() for t in inputs]
        start = time.perf_counter()
        o, s = op(*leaves)
        (o.sum() + s.sum()).backward()
        times.append(time.perf_counter() - start)
    return min(times)


def test_chunked_form_is_much_faster_than_the_token_loop(one_thread):
    # sanity only: tools/bench/delta_rule.py measures the B=4, T=4096, D=256 setting
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 128, 2, 32, generator=g) for _ in range(3))
    inputs = (q, torch.nn.functional.normalize(k, dim=-1), v, torch.rand(2, 128, 2, generator=g))
    chunk = _fwd_bwd_seconds(chunk_delta_rule, inputs)
    naive = _fwd_bwd_seconds(naive_delta_rule, inputs, repeats=1)
    assert naive / chunk > 4, f"chunked form only {naive / chunk:.1f}x faster than the token loop"
