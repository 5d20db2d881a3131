"""Aaren: equals softmax attention of the learned query over every prefix; scan against the token
loop; O(1) state; stability; speed."""

import statistics
import time

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize("kwargs", [{"num_heads": 2, "bias": True}, {"mode": "naive"}, {"num_heads": 1}])
def test_options_keep_the_contract(kwargs):
    check_layer_contract(build_layer("aaren", d_model=16, **kwargs))


def test_equals_softmax_attention_of_the_learned_query_over_prefixes():
    torch.manual_seed(0)
    layer = build_layer("aaren", d_model=12, num_heads=3).double()
    x = torch.randn(2, 40, 12, dtype=torch.float64)
    y, _ = layer(x)
    k, v = layer.kv(x).view(2, 40, 2, 3, 4).unbind(2)
    scores = torch.einsum("bthk,hk->bht", k, layer.query) / 2.0  # sqrt(head_dim = 4)
    outputs = []
    for t in range(40):
        weights = scores[:, :, : t + 1].softmax(-1)
        outputs.append(torch.einsum("bhs,bshv->bhv", weights, v[:, : t + 1]).reshape(2, 12))
    expected = layer.out(torch.stack(outputs, 1))
    torch.testing.assert_close(y, expected, rtol=1e-6, atol=1e-6)


def test_scan_matches_the_token_loop_with_state_and_padding():
    torch.manual_seed(0)
    scan = build_layer("aaren", d_model=8, num_heads=2).double()
    loop = build_layer("aaren", d_model=8, num_heads=2, mode="naive").double()
    loop.load_state_dict(scan.state_dict())
    x = torch.randn(3, 75, 8, dtype=torch.float64)
    lengths = torch.tensor([45, 20, 1])
    _, s_scan = scan(x[:, :30])
    _, s_loop = loop(x[:, :30])
    y_scan, s_scan = scan(x[:, 30:], state=s_scan, lengths=lengths)
    y_loop, s_loop = loop(x[:, 30:], state=s_loop, lengths=lengths)
    torch.testing.assert_close(y_scan, y_loop)
    for a, b in zip(s_scan, s_loop):
        torch.testing.assert_close(a, b)


def test_state_is_constant_size():
    layer = build_layer("aaren", d_model=8, num_heads=2)
    _, state = layer(torch.randn(2, 50, 8))
    shapes = [t.shape for t in state]
    with torch.no_grad():
        for _ in range(20):
            _, state = layer.step(torch.randn(2, 8), state)
    assert [t.shape for t in state] == shapes == [(2, 2), (2, 2), (2, 2, 4)]


def test_huge_scores_stay_finite():
    torch.manual_seed(0)
    layer = build_layer("aaren", d_model=8, num_heads=2)
    with torch.no_grad():
        layer.query.mul_(1e4)
    x = torch.randn(2, 64, 8, requires_grad=True)
    y, state = layer(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(t).all() for t in state)


def test_bf16_autocast_is_finite():
    torch.manual_seed(0)
    layer = build_layer("aaren", d_model=16)
    x = torch.randn(2, 100, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, state = layer(x)
    y.float().pow(2).mean().backward()
    assert torch.isfinite(y).all() and all(torch.isfinite(t).all() and t.dtype == torch.float32 for t in state)
    assert torch.isfinite(x.grad).all() and all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="divisible"):
        build_layer("aaren", d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="mode"):
        build_layer("aaren", d_model=8, mode="chunk")


def test_scan_is_faster_than_the_token_loop(one_thread):
    torch.manual_seed(0)
    scan = build_layer("aaren", d_model=16)
    loop = build_layer("aaren", d_model=16, mode="naive")
    loop.load_state_dict(scan.state_dict())
    x = torch.randn(2, 256, 16)
    times = {scan: [], loop: []}
    for _ in range(3):
        for layer, record in times.items():
            start = time.perf_counter()
            layer(x)[0].sum().backward()
            record.append(time.perf_counter() - start)
    assert statistics.median(times[loop]) > 2 * statistics.median(times[scan])
