"""LSSL: HiPPO-LegS and random inits, the chunked convolutional view against the recurrent view,
the discretisation kept between steps, speed."""

import math
import statistics
import time

import pytest
import torch

from recur_core import build_layer, check_layer_contract
from recur_core.layers.lssl import hippo_legs, random_stable


@pytest.mark.parametrize(
    "kwargs",
    [{"init": "random"}, {"mode": "recurrent"}, {"d_state": 8, "chunk_size": 4, "dt_min": 0.01, "dt_max": 0.5}],
)
def test_options_keep_the_contract(kwargs):
    check_layer_contract(build_layer("lssl", d_model=16, **kwargs))


@pytest.mark.parametrize("init", ["hippo", "random"])
def test_convolutional_view_matches_recurrent_view(init):
    torch.manual_seed(0)
    conv = build_layer("lssl", d_model=6, d_state=16, init=init, chunk_size=16).double()
    loop = build_layer("lssl", d_model=6, d_state=16, init=init, mode="recurrent").double()
    loop.load_state_dict(conv.state_dict())
    x = torch.randn(3, 75, 6, dtype=torch.float64)
    lengths = torch.tensor([45, 30, 1])
    _, s_conv = conv(x[:, :30])
    _, s_loop = loop(x[:, :30])
    torch.testing.assert_close(s_conv, s_loop)
    y_conv, s_conv = conv(x[:, 30:], state=s_conv, lengths=lengths)
    y_loop, s_loop = loop(x[:, 30:], state=s_loop, lengths=lengths)
    torch.testing.assert_close(y_conv, y_loop)
    torch.testing.assert_close(s_conv, s_loop)


def test_hippo_legs_matrices():
    A, B = hippo_legs(3)
    r3, r5, r15 = math.sqrt(3), math.sqrt(5), math.sqrt(15)
    torch.testing.assert_close(A, torch.tensor([[-1.0, 0.0, 0.0], [-r3, -2.0, 0.0], [-r5, -r15, -3.0]]))
    torch.testing.assert_close(B, torch.tensor([1.0, r3, r5]))


def test_random_init_is_stable_and_not_triangular():
    torch.manual_seed(0)
    A, _ = random_stable(32)
    assert torch.linalg.eigvals(A.double()).real.max() <= -1 + 1e-6
    assert not torch.equal(A, A.tril())
    assert build_layer("lssl", d_model=4, init="random").lower is False
    assert build_layer("lssl", d_model=4).lower is True


def test_step_init_and_log_dt():
    layer = build_layer("lssl", d_model=32, d_state=8, dt_min=1e-3, dt_max=1e-1)
    assert layer.init_state(2).shape == (2, 32, 8)
    dt = layer.log_dt.exp()
    assert dt.min() >= 1e-3 * (1 - 1e-6) and dt.max() <= 1e-1 * (1 + 1e-6)


def test_step_follows_parameter_updates():
    # step keeps (A_bar, B_bar) between calls; an in-place update of Δ must be seen
    torch.manual_seed(0)
    layer = build_layer("lssl", d_model=4, d_state=8).double()
    x_t = torch.randn(2, 4, dtype=torch.float64)
    state = torch.randn(2, 4, 8, dtype=torch.float64)
    with torch.no_grad():
        before, _ = layer.step(x_t, state)
        layer.log_dt.add_(1.0)
        after, _ = layer.step(x_t, state)
    expected, _ = layer(x_t[:, None], state=state)
    torch.testing.assert_close(after, expected[:, 0])
    assert not torch.allclose(before, after)


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="init"):
        build_layer("lssl", d_model=8, init="legt")
    with pytest.raises(ValueError, match="mode"):
        build_layer("lssl", d_model=8, mode="fft")


def test_bf16_autocast_is_finite():
    torch.manual_seed(0)
    layer = build_layer("lssl", d_model=16)
    x = torch.randn(2, 100, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, state = layer(x)
    y.float().pow(2).mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(state).all() and state.dtype == torch.float32
    assert torch.isfinite(x.grad).all() and all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_convolutional_view_is_faster_than_the_token_loop(one_thread):
    torch.manual_seed(0)
    conv = build_layer("lssl", d_model=16, d_state=16)
    loop = build_layer("lssl", d_model=16, d_state=16, mode="recurrent")
    loop.load_state_dict(conv.state_dict())
    x = torch.randn(2, 256, 16)
    times = {conv: [], loop: []}
    for _ in range(3):
        for layer, record in times.items():
            start = time.perf_counter()
            layer(x)[0].sum().backward()
            record.append(time.perf_counter() - start)
    assert statistics.median(times[loop]) > 2 * statistics.median(times[conv])
