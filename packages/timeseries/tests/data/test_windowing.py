import numpy as np
import pytest
import torch

from recur_timeseries.data import LagWindows, Standardizer, make_windows, split_with_lookback


def test_windows_by_hand():
    lags, targets = make_windows(np.arange(6.0), p=3, n_forecasts=2)
    # lag 1 (most recent) first; targets in time order
    np.testing.assert_array_equal(lags, [[2, 1, 0], [3, 2, 1]])
    np.testing.assert_array_equal(targets, [[3, 4], [4, 5]])


@pytest.mark.parametrize(("p", "h"), [(1, 1), (5, 1), (4, 3), (10, 7)])
def test_windows_match_a_loop(p, h):
    series = np.random.default_rng(0).normal(size=40)
    lags, targets = make_windows(series, p, h)
    n = len(series) - p - h + 1
    assert lags.shape == (n, p) and targets.shape == (n, h)
    for row in range(n):
        t = row + p
        np.testing.assert_array_equal(lags[row], [series[t - 1 - i] for i in range(p)])
        np.testing.assert_array_equal(targets[row], series[t : t + h])
    assert lags.flags.writeable and targets.flags.writeable


def test_windows_reject_short_and_2d_series():
    with pytest.raises(ValueError, match=r"too short.*at least 6 values"):
        make_windows(np.zeros(5), p=4, n_forecasts=2)
    with pytest.raises(ValueError, match="1-D series"):
        make_windows(np.zeros((5, 2)), p=2)


def test_split_with_lookback():
    values = np.arange(10)
    train, val, test = split_with_lookback(values, (5, 3, 2), lookback=2)
    np.testing.assert_array_equal(train, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(val, [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(test, [6, 7, 8, 9])
    with pytest.raises(ValueError, match="need 11 rows, the series has 10"):
        split_with_lookback(values, (5, 3, 3), lookback=0)
    with pytest.raises(ValueError, match="lookback must be in"):
        split_with_lookback(values, (2, 3, 3), lookback=3)


def test_standardizer_roundtrip_and_constant_column():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    scaler = Standardizer.fit(x)
    z = scaler.transform(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, 0].std(), 1)
    np.testing.assert_array_equal(z[:, 1], 0)
    np.testing.assert_allclose(scaler.inverse(z), x)


def test_lag_windows_dataset():
    data = LagWindows(np.arange(8.0), p=3, n_forecasts=2)
    assert len(data) == 4
    lags, targets = data[1]
    assert lags.dtype == torch.float32
    torch.testing.assert_close(lags, torch.tensor([3.0, 2.0, 1.0]))
    torch.testing.assert_close(targets, torch.tensor([4.0, 5.0]))
    assert data.lags.shape == (4, 3) and data.targets.shape == (4, 2)


def test_history_reaches_into_the_past():
    # series 10..15 after past 5..9: with p = 2, window 0 has lags (11, 10) and target 12
    data = LagWindows(np.arange(10.0, 16.0), p=2, past=np.arange(5.0, 10.0), period=4, dtype=torch.float64)
    assert data.max_lags == 7 and data.period == 4
    history = data.history(4)
    assert history.shape == (len(data), 4)
    torch.testing.assert_close(history[0], torch.tensor([11.0, 10.0, 9.0, 8.0], dtype=torch.float64))
    torch.testing.assert_close(history[:, :2], data.lags)
    torch.testing.assert_close(data.history(1), data.lags[:, :1])
    with pytest.raises(ValueError, match="history of 8 lags asked for, but the windows have p=2 lags and 5 earlier"):
        data.history(8)
    with pytest.raises(ValueError, match="period must be a positive number of steps or None"):
        LagWindows(np.arange(8.0), p=2, period=0)
