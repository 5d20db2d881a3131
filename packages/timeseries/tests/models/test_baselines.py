import numpy as np
import pytest
from statsmodels.tsa.ar_model import AutoReg

from recur_timeseries.data import PAPER_SPARSE_AR3, generate_ar_process, make_windows
from recur_timeseries.models.baselines import ClassicAR, fit_classic_ar


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
