import numpy as np
import pytest
import torch
from statsmodels.tsa.ar_model import AutoReg

from recur_timeseries.data import PAPER_SPARSE_AR3, LagWindows, generate_ar_process, make_windows
from recur_timeseries.models.baselines import (
    ClassicAR,
    baseline_forecasts,
    fit_classic_ar,
    repeat_last,
    seasonal_naive,
)


@pytest.mark.parametrize("p", [1, 3, 12])
def test_matches_statsmodels_autoreg_with_constant(p):
    series = generate_ar_process(PAPER_SPARSE_AR3, 500, seed=2) + 3.0
    ours = fit_classic_ar(series, p, bias=True)
    params = AutoReg(series, lags=p, trend="c").fit().params
    np.testing.assert_allclose(ours.intercept, params[:1], atol=1e-6)
    np.testing.assert_allclose(ours.coefficients[0], params[1:], atol=1e-6)


def test_matches_statsmodels_autoreg_without_constant():
    series = generate_ar_process(PAPER_SPARSE_AR3, 500, seed=5)
    ours = fit_classic_ar(series, 6, bias=False)
    np.testing.assert_allclose(ours.coefficients[0], AutoReg(series, lags=6, trend="n").fit().params, atol=1e-6)
    np.testing.assert_array_equal(ours.intercept, [0.0])


def test_index_zero_is_lag_one():
    # y_t = 0.9 y_{t-1}: all weight on column 0
    series = generate_ar_process([0.9], 5000, seed=0)
    assert np.argmax(np.abs(fit_classic_ar(series, 4).coefficients[0])) == 0


def test_direct_multistep_fit_and_predict():
    series = generate_ar_process(PAPER_SPARSE_AR3, 300, seed=1)
    lags, targets = make_windows(series, 5, n_forecasts=3)
    fit = ClassicAR.fit(lags, targets)
    assert fit.coefficients.shape == (3, 5) and fit.intercept.shape == (3,)
    assert fit.predict(lags).shape == (len(lags), 3)
    # each step is its own least-squares regression
    one = ClassicAR.fit(lags, targets[:, 1])
    np.testing.assert_allclose(fit.coefficients[1], one.coefficients[0], atol=1e-10)


def test_repeat_last_by_hand():
    lags = np.array([[3.0, 2.0, 1.0], [5.0, 4.0, 3.0]])
    np.testing.assert_array_equal(repeat_last(lags, 2), [[3.0, 3.0], [5.0, 5.0]])
    np.testing.assert_array_equal(repeat_last(torch.tensor(lags), 1), [[3.0], [5.0]])


def test_seasonal_naive_by_hand():
    # series 0, 1, 2, ...: window n has lags (n+3, n+2, n+1, n) and targets n+4 ... n+7. With period 3
    # step k takes the value 3(k // 3 + 1) steps before it: k = 0, 1, 2 -> n+1, n+2, n+3; k = 3 -> n+1 again
    lags, targets = make_windows(np.arange(12.0), 4, n_forecasts=4)
    np.testing.assert_array_equal(seasonal_naive(lags, 3, 4)[0], [1.0, 2.0, 3.0, 1.0])
    np.testing.assert_array_equal(seasonal_naive(lags, 3, 4)[2], [3.0, 4.0, 5.0, 3.0])
    # a series that repeats with the period is forecast exactly
    periodic = np.tile([1.0, -2.0, 5.0], 6)
    lags, targets = make_windows(periodic, 3, n_forecasts=5)
    np.testing.assert_array_equal(seasonal_naive(lags, 3, 5), targets)
    with pytest.raises(ValueError, match="period 5 needs at least 5 lags, got 3"):
        seasonal_naive(lags, 5)


def test_baseline_forecasts_use_the_past_beyond_p_and_the_training_split():
    # p = 2 but period 4: the seasonal forecast reaches two values before the windows' own lags
    past, series = np.array([10.0, 11.0, 12.0]), np.array([13.0, 14.0, 15.0, 16.0, 17.0])
    test = LagWindows(series, p=2, n_forecasts=1, dtype=torch.float64, past=past, period=4)
    train_series = generate_ar_process(PAPER_SPARSE_AR3, 300, seed=3)
    train = LagWindows(train_series, p=2, dtype=torch.float64)
    forecasts = baseline_forecasts(train, test)
    assert list(forecasts) == ["repeat_last", "seasonal_naive", "classic_ar"]
    # targets 15, 16, 17: last values 14, 15, 16; four steps back 11, 12, 13
    np.testing.assert_array_equal(forecasts["repeat_last"][:, 0], [14.0, 15.0, 16.0])
    np.testing.assert_array_equal(forecasts["seasonal_naive"][:, 0], [11.0, 12.0, 13.0])
    expected = fit_classic_ar(train_series, 2).predict(test.lags.numpy())
    np.testing.assert_allclose(forecasts["classic_ar"], expected, atol=1e-12)
    # no season, or not enough past for one: no seasonal forecast
    assert "seasonal_naive" not in baseline_forecasts(train, LagWindows(series, p=2, past=past, period=None))
    assert "seasonal_naive" not in baseline_forecasts(train, LagWindows(series, p=2, past=past[:1], period=4))
