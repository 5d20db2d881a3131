import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from recur_timeseries.data import ForecastWindows


def test_windows_match_a_loop():
    values = np.random.default_rng(0).normal(size=(30, 3))
    data = ForecastWindows(values, input_len=5, horizon=4, period=7)
    n = 30 - 5 - 4 + 1
    assert len(data) == n and data.channels == 3 and data.period == 7
    assert data.inputs.shape == (n, 5, 3) and data.targets.shape == (n, 4, 3)
    for i in range(n):
        x, y = data[i]
        assert x.dtype == torch.float32
        np.testing.assert_allclose(x.numpy(), values[i : i + 5], rtol=1e-6)
        np.testing.assert_allclose(y.numpy(), values[i + 5 : i + 9], rtol=1e-6)
    # the last target row is the last row of the table: every row after the first L is a target
    np.testing.assert_allclose(data.targets[-1, -1].numpy(), values[-1], rtol=1e-6)


def test_windows_batch_and_share_memory():
    values = np.arange(40.0).reshape(20, 2)
    data = ForecastWindows(values, input_len=3, horizon=2, dtype=torch.float64)
    x, y = next(iter(DataLoader(data, batch_size=4)))
    assert x.shape == (4, 3, 2) and y.shape == (4, 2, 2) and x.dtype == torch.float64
    torch.testing.assert_close(x[1, 0], torch.tensor([2.0, 3.0], dtype=torch.float64))
    # views of one table, not a copy per window
    assert data.inputs.untyped_storage().data_ptr() == data.targets.untyped_storage().data_ptr()


def test_windows_reject_bad_input():
    with pytest.raises(ValueError, match=r"too short.*at least 9 rows"):
        ForecastWindows(np.zeros((8, 2)), input_len=5, horizon=4)
    with pytest.raises(ValueError, match=r"\[T, C\] table.*reshape"):
        ForecastWindows(np.zeros(20), input_len=5, horizon=4)
    with pytest.raises(ValueError, match="at least 1"):
        ForecastWindows(np.zeros((20, 1)), input_len=0, horizon=4)
    with pytest.raises(ValueError, match="period"):
        ForecastWindows(np.zeros((20, 1)), input_len=5, horizon=4, period=0)
    values = np.zeros((20, 2))
    values[11, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite value at row 11"):
        ForecastWindows(values, input_len=5, horizon=4)
