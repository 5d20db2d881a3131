import numpy as np
import pytest

from recur_timeseries.data import (
    PAPER_SPARSE_AR3,
    ARProcessDataset,
    SunspotsDataset,
    generate_ar_process,
    sunspots_series,
)
from recur_timeseries.models.baselines import fit_classic_ar


def test_seeded_and_burned_in():
    a = generate_ar_process(PAPER_SPARSE_AR3, 200, seed=3)
    b = generate_ar_process(PAPER_SPARSE_AR3, 200, seed=3)
    c = generate_ar_process(PAPER_SPARSE_AR3, 200, seed=4)
    assert a.shape == (200,)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # with burn-in the series does not start at the zero initial condition
    assert abs(generate_ar_process(PAPER_SPARSE_AR3, 5, seed=0, burn_in=500)[0]) > 0


def test_noise_scale_and_recovered_coefficients():
    series = generate_ar_process(PAPER_SPARSE_AR3, 20_000, noise_std=2.0, seed=1)
    fit = fit_classic_ar(series, p=3)
    np.testing.assert_allclose(fit.coefficients[0], PAPER_SPARSE_AR3, atol=0.03)
    residual = series[3:] - fit.predict(np.stack([series[2:-1], series[1:-2], series[:-3]], axis=1))[:, 0]
    assert residual.std() == pytest.approx(2.0, rel=0.03)


def test_rejects_nonstationary_coefficients():
    with pytest.raises(ValueError, match="non-stationary"):
        generate_ar_process([1.1], 10)


def test_ar_dataset_has_exactly_n_samples():
    data = ARProcessDataset(PAPER_SPARSE_AR3, n_samples=100, p=20, n_forecasts=3, seed=0)
    assert len(data) == 100
    assert data.lags.shape == (100, 20) and data.targets.shape == (100, 3)
    np.testing.assert_array_equal(data.true_coefficients, PAPER_SPARSE_AR3)


def test_sunspots_series_and_splits():
    series = sunspots_series()
    assert series.shape == (309,)
    assert series[0] == 5.0
    p = 9
    train, val, test = (SunspotsDataset(p, split=s) for s in ("train", "val", "test"))
    n_val = n_test = round(0.15 * 309)
    assert len(train) == 309 - n_val - n_test - p
    assert len(val) == n_val and len(test) == n_test
    # z-scored with training statistics; the last test target is the last year
    assert train.series.mean() == pytest.approx(0, abs=1e-9)
    assert test.standardizer.inverse(test.targets[-1, 0].double().numpy()) == pytest.approx(series[-1], rel=1e-5)
    with pytest.raises(ValueError, match="split must be"):
        SunspotsDataset(p, split="dev")
    # the past is every earlier year in the same z-units: lag p + 2 of the first test window is 2 years before its lags
    assert test.period == 11 and len(test.past) == 309 - n_test - p
    first = test.standardizer.inverse(test.history(p + 2)[0].double().numpy())
    np.testing.assert_allclose(first, series[309 - n_test - p - 2 : 309 - n_test][::-1], rtol=1e-5)
