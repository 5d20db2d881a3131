"""Helpers of tools/repro/{gradient_noise,sparse_reber}.py: batched networks are independent, the arms' sizes."""

import pytest
import torch


@pytest.fixture(scope="module")
def noise(repro_script):
    return repro_script("gradient_noise")


def test_batched_networks_are_independent(noise):
    params = noise.init_mlp(3, "poor", torch.Generator().manual_seed(0))
    assert len(params) == 2 * (noise.DEPTH + 1)
    assert params[0].shape == (3, 64, noise.WIDTH) and params[noise.DEPTH].shape == (3, noise.WIDTH, 10)
    assert float(params[1].std()) == pytest.approx(0.1, rel=0.05)
    x = torch.randn(5, 64)
    logits = noise.forward(params, x)
    single = [p[1:2] for p in params]
    torch.testing.assert_close(noise.forward(single, x)[0], logits[1])
    loss = logits[0].sum()
    loss.backward()
    assert all(float(p.grad[1:].abs().sum()) == 0.0 for p in params)


def test_sparse_reber_arms_have_equal_lstm_weights(repro_script):
    reber = repro_script("sparse_reber")
    plan = reber.arms(128, 0.9)
    (large, sparsity), (small, _) = plan["sparse"], plan["dense-small"]
    assert (large, small) == (128, 40)
    assert abs(8 * small**2 - (1 - sparsity) * 8 * large**2) / (8 * large**2) < 0.01
