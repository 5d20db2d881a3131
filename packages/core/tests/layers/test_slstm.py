"""sLSTM layer: the fused backend equals the plain cell, the options, and a speed sanity check."""

import copy
import time

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize("kwargs", [{"forget_gate": "exp"}, {"backend": "naive"}, {"num_heads": 2}])
def test_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("slstm", d_model=16, **kwargs))


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
def test_fused_layer_equals_plain_cell(forget_gate):
    torch.manual_seed(0)
    fused = build_layer("slstm", d_model=16, forget_gate=forget_gate).double()
    naive = copy.deepcopy(fused)
    naive.backend = "naive"
    x = torch.randn(3, 29, 16, dtype=torch.float64)
    lengths = torch.tensor([29, 11, 20])
    results = []
    for layer in (fused, naive):
        xi = x.clone().requires_grad_()
        y, state = layer(xi, lengths=lengths)
        loss = (y * torch.linspace(-1, 1, 16, dtype=torch.float64)).sum() + sum(s.sum() for s in state)
        grads = torch.autograd.grad(loss, [xi, *layer.parameters()])
        results.append((y, state, grads))
    (y_f, s_f, g_f), (y_n, s_n, g_n) = results
    valid = torch.arange(29)[None, :] < lengths[:, None]
    torch.testing.assert_close(y_f[valid], y_n[valid])
    for a, b in zip(s_f, s_n):
        torch.testing.assert_close(a, b)
    for a, b in zip(g_f, g_n):
        torch.testing.assert_close(a, b)


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="forget_gate"):
        build_layer("slstm", d_model=8, forget_gate="tanh")
    with pytest.raises(ValueError, match="backend"):
        build_layer("slstm", d_model=8, backend="cuda")
    with pytest.raises(ValueError, match="divisible"):
        build_layer("slstm", d_model=10, num_heads=4)


def test_fused_backend_is_faster_than_the_plain_cell(one_thread):
    # the bench (tools/bench/slstm.py) measures >= 3x at B=4, T=1024, D=256; here a loose, quick check
    torch.manual_seed(0)
    fused = build_layer("slstm", d_model=32)
    naive = copy.deepcopy(fused)
    naive.backend = "naive"
    x = torch.randn(2, 48, 32)
    times = {}
    # TorchScript profiles the first calls before it optimises, so warm up first
    for _ in range(5):
        fused(x)[0].sum().backward()
    for name, layer in [("fused", fused), ("naive", naive)] * 3:
        start = time.perf_counter()
        layer(x)[0].sum().backward()
        times[name] = min(times.get(name, float("inf")), time.perf_counter() - start)
    assert times["naive"] > 1.2 * times["fused"], times
