import numpy as np
import pytest
import torch

from recur_timeseries.metrics import mae, mse, skill_score, stpe


def test_mse_and_mae_by_hand():
    prediction, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 1.0])
    assert mse(prediction, target).item() == pytest.approx((0 + 4 + 9) / 3)
    assert mae(prediction, target).item() == pytest.approx((0 + 2 + 3) / 3)
    assert mse(np.array([[1.0]]), np.array([[3.0]])).item() == 4.0


def test_stpe_by_hand():
    # |0.2-0.1| + |0.3-0.3| + |-0.5+0.5| + |0.1-0| = 0.2 ; Σ|ŵ| + Σ|w| = 1.0 + 1.0 -> 10 %
    assert stpe([0.1, 0.3, -0.5, 0.1], [0.2, 0.3, -0.5]) == pytest.approx(10.0)
    assert stpe([0.2, 0.3, -0.5], [0.2, 0.3, -0.5]) == 0.0
    assert stpe([-0.2, -0.3], [0.2, 0.3]) == pytest.approx(100.0)
    assert stpe(np.zeros(5), np.zeros(2)) == 0.0


def test_stpe_pads_the_shorter_vector_and_takes_a_row():
    assert stpe(torch.tensor([[0.2, 0.0, 0.0]]), [0.2, 0.0, 0.0, 0.5]) == pytest.approx(100 * 0.5 / 0.9)
    with pytest.raises(ValueError, match="one vector of AR coefficients"):
        stpe(np.zeros((2, 3)), [0.1])


def test_skill_score_by_hand():
    assert skill_score(1.0, 4.0) == pytest.approx(0.75)
    assert skill_score(4.0, 4.0) == 0.0
    assert skill_score(6.0, 4.0) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="reference error must be positive"):
        skill_score(1.0, 0.0)


def test_rmse_and_msle_equal_the_formulas_and_torchmetrics():
    from torchmetrics.functional import mean_squared_error, mean_squared_log_error

    from recur_timeseries.metrics import msle, rmse

    generator = torch.Generator().manual_seed(0)
    prediction, target = torch.rand(5, 4, generator=generator) * 3, torch.rand(5, 4, generator=generator) * 3
    assert float(rmse(prediction, target)) == pytest.approx(float((prediction - target).square().mean().sqrt()))
    assert float(msle(prediction, target)) == pytest.approx(
        float((prediction.log1p() - target.log1p()).square().mean())
    )
    assert float(rmse(prediction, target)) == pytest.approx(
        float(mean_squared_error(prediction.flatten(), target.flatten(), squared=False))
    )
    assert float(msle(prediction, target)) == pytest.approx(
        float(mean_squared_log_error(prediction.flatten(), target.flatten()))
    )
    assert float(rmse(np.array([1.0, 3.0]), np.array([1.0, 0.0]))) == pytest.approx(np.sqrt(4.5))
    with pytest.raises(ValueError, match="MSLE needs non-negative values, but the prediction has 1 negative"):
        msle(torch.tensor([-0.5, 1.0]), torch.tensor([0.0, 1.0]))
