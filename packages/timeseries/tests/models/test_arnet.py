import math

import pytest
import torch

from recur_core import get_model, list_models
from recur_timeseries.models import (
    ARNet,
    estimated_sparsity,
    regularization_weight,
    sparsity_lambda,
    sparsity_penalty,
)


def test_registered_under_timeseries():
    assert "arnet" in list_models("timeseries")
    model = get_model("arnet", p=7, n_forecasts=2)
    assert isinstance(model, ARNet)
    assert model(torch.randn(4, 7)).shape == (4, 2)


def test_forward_is_the_ar_equation():
    model = ARNet(p=3, n_forecasts=2)
    lags = torch.randn(5, 3)
    expected = lags @ model.coefficients.T + model.linear.bias
    torch.testing.assert_close(model(lags), expected)
    assert model.coefficients.shape == (2, 3)


def test_without_bias_zero_lags_give_zero():
    model = ARNet(p=4, bias=False)
    assert torch.equal(model(torch.zeros(2, 4)), torch.zeros(2, 1))


@pytest.mark.parametrize("shape", [(4,), (4, 5), (2, 4, 3)])
def test_rejects_wrong_lag_shape(shape):
    with pytest.raises(ValueError, match=r"expected lags \[B, 3\]"):
        ARNet(p=3)(torch.randn(*shape))


def test_rejects_nonpositive_sizes():
    with pytest.raises(ValueError, match="p and n_forecasts must be positive"):
        ARNet(p=0)


def test_penalty_by_hand():
    # term(θ) = 2 / (1 + exp(-c1 |θ|^(1/c2))) - 1; at |θ| = 1 that is tanh(c1 / 2)
    weights = torch.tensor([0.0, 1.0, -1.0, 0.008])
    term_small = 2 / (1 + math.exp(-3 * 0.2)) - 1
    expected = (0.0 + 2 * math.tanh(1.5) + term_small) / 4
    assert sparsity_penalty(weights).item() == pytest.approx(expected, rel=1e-6)
    assert sparsity_penalty(torch.tensor([1.0]), c1=2.0, c2=2.0).item() == pytest.approx(math.tanh(1.0), rel=1e-6)


def test_penalty_is_bounded_and_even():
    w = torch.linspace(-50, 50, 101)
    assert 0 <= sparsity_penalty(w).item() < 1
    assert sparsity_penalty(w).item() == pytest.approx(sparsity_penalty(-w).item())


def test_penalty_gradient_finite_at_zero_and_pushes_toward_zero():
    w = torch.tensor([0.0, 0.05, -0.05], requires_grad=True)
    sparsity_penalty(w).backward()
    assert torch.isfinite(w.grad).all()
    assert w.grad[0] == 0 and w.grad[1] > 0 and w.grad[2] < 0


def test_model_regularizer_uses_its_constants():
    model = ARNet(p=5, c1=2.0, c2=2.0)
    assert model.regularizer().item() == pytest.approx(sparsity_penalty(model.linear.weight, 2.0, 2.0).item())


def test_lambda_of_sparsity():
    assert sparsity_lambda(1.0) == 0.0
    assert sparsity_lambda(0.1, lambda_scale=0.01) == pytest.approx(0.09)
    assert estimated_sparsity(3, 20) == pytest.approx(0.15)
    assert estimated_sparsity(30, 20) == 1.0
    with pytest.raises(ValueError, match=r"sparsity must be in \(0, 1\]"):
        sparsity_lambda(0.0)


def test_quadratic_ramp_to_half_of_training():
    full = sparsity_lambda(0.25, 0.1)
    assert regularization_weight(0.0, 0.25, 0.1) == 0.0
    assert regularization_weight(0.25, 0.25, 0.1) == pytest.approx(full / 4)
    assert regularization_weight(0.5, 0.25, 0.1) == pytest.approx(full)
    assert regularization_weight(0.9, 0.25, 0.1) == pytest.approx(full)
    assert regularization_weight(0.1, 0.25, 0.1, ramp_start=0.2, ramp_end=0.6) == 0.0
    assert regularization_weight(0.4, 0.25, 0.1, ramp_start=0.2, ramp_end=0.6) == pytest.approx(full / 4)
    assert regularization_weight(0.3, 0.25, 0.1, ramp_start=0.3, ramp_end=0.3) == pytest.approx(full)
