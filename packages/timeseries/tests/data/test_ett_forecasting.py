import numpy as np
import pandas as pd
import pytest
import torch

from recur_core.engine import quiet_trainer
from recur_timeseries.data import (
    GENERATED_SPLITS,
    ett_forecast_windows,
    generate_multiseasonal,
    generated_forecast_windows,
    read_ett_csv,
)
from recur_timeseries.datamodules import ETTForecastData, GeneratedForecastData
from recur_timeseries.task import ForecastModule

from .test_ett import write_ett


def test_protocol_borders_and_training_statistics(tmp_path):
    # the ramp file: column j of row t holds t + 0.5 j, so every window is checkable by hand
    path = write_ett(tmp_path / "ETTh1.csv", 40)
    windows = ett_forecast_windows(path, input_len=4, horizon=3, splits=(20, 10, 10))
    train, val, test = windows["train"], windows["val"], windows["test"]
    assert (len(train), len(val), len(test)) == (20 - 7 + 1, 10 + 4 - 7 + 1, 10 + 4 - 7 + 1)
    assert train.channels == 7 and train.period == 24
    # z-scored with the training rows' statistics: the ramp 0..19 has mean 9.5, std sqrt((20^2 - 1) / 12)
    std = np.sqrt((20**2 - 1) / 12)
    raw = lambda z: z.double().numpy() * std + 9.5  # noqa: E731 (the first column, 0.5 j = 0)
    # val's first window reads the 4 rows before the split (16..19) and forecasts its first rows (20..22)
    np.testing.assert_allclose(raw(val.inputs[0, :, 0]), [16, 17, 18, 19], rtol=1e-5)
    np.testing.assert_allclose(raw(val.targets[0, :, 0]), [20, 21, 22], rtol=1e-5)
    np.testing.assert_allclose(raw(test.targets[-1, :, 0]), [37, 38, 39], rtol=1e-5)
    np.testing.assert_allclose(train.values.mean(0), 0, atol=1e-12)


def test_univariate_keeps_only_the_target_and_15_minute_files_have_a_96_row_day(tmp_path):
    path = write_ett(tmp_path / "ETTm1.csv", 60, step="15min")
    windows = ett_forecast_windows(path, input_len=5, horizon=2, features="S", target="HULL", splits=(30, 15, 15))
    assert windows["test"].channels == 1 and windows["test"].period == 96
    frame = read_ett_csv(path)
    hull = frame["HULL"].to_numpy()
    z = (hull - hull[:30].mean()) / hull[:30].std()
    np.testing.assert_allclose(windows["val"].inputs[0, :, 0].double().numpy(), z[25:30], rtol=1e-5)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [lines[0], *lines[1:4], lines[3], *lines[4:]], r"data row 3 \(line 5.*duplicates the date"),
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], r"data row 1 \(line 3.*earlier than the date"),
        (lambda lines: [lines[0].replace(",OT", ",oil"), *lines[1:]], r"column\(s\) \['OT'\] not found"),
        (lambda lines: [*lines[:5], lines[5].rsplit(",", 1)[0] + ",", *lines[6:]], r"'OT' has an empty .* data row 4"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, edit, message):
    path = write_ett(tmp_path / "ETTh1.csv", 40, edit=edit)
    with pytest.raises(ValueError, match=message) as error:
        ett_forecast_windows(path, input_len=4, horizon=3, splits=(20, 10, 9))
    assert "\n" not in str(error.value)


def test_too_few_rows_for_the_window_names_the_split(tmp_path):
    path = write_ett(tmp_path / "ETTh1.csv", 40)
    with pytest.raises(
        ValueError, match=r"the val split has 14 rows, too few for one window of input_len=4 \+ horizon=12"
    ):
        ett_forecast_windows(path, input_len=4, horizon=12, splits=(20, 10, 10))
    with pytest.raises(ValueError, match="features must be 'M'"):
        ett_forecast_windows(path, features="MS")


@pytest.mark.parametrize("dataset", ["ETTh2", "ETTm2"])
def test_the_same_options_train_on_every_ett_file_by_name(tmp_path, dataset):
    # ETTh2/ETTm2 are not in the shared data folder: tiny files in the real format stand in for them
    step = "1h" if dataset.startswith("ETTh") else "15min"
    (tmp_path / "ETT-small").mkdir()
    write_ett(tmp_path / "ETT-small" / f"{dataset}.csv", 80, step=step)
    data = ETTForecastData(dataset=dataset, root=str(tmp_path), input_len=8, horizon=4, splits=(40, 20, 20))
    assert data.period == (24 if step == "1h" else 96)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(ForecastModule(model="linear", input_len=8, horizon=4), datamodule=data)
    assert torch.isfinite(trainer.callback_metrics["val/mse"])
    assert data.dataset("train").inputs.shape == (40 - 12 + 1, 8, 7)


@pytest.mark.parametrize(("dataset", "rows", "period"), [("ETTh1", 8640, 24), ("ETTm1", 34560, 96)])
def test_real_ett_in_the_ltsf_protocol(dataset_root, dataset, rows, period):
    folder = dataset_root("ett", f"{dataset}.csv")
    data = ETTForecastData(dataset=dataset, root=str(folder.parent), input_len=96, horizon=96)
    data.setup()
    train, test = data.dataset("train"), data.dataset("test")
    # the test sizes the LTSF papers' loaders give: 2785 windows for ETTh1 at 96 -> 96, 11425 for ETTm1
    assert len(train) == rows - 191 and len(test) == rows // 3 - 95
    assert test.period == period == data.period and test.channels == 7
    raw = pd.read_csv(folder / f"{dataset}.csv")
    first_target = test.targets[0, 0].double().numpy()
    train_raw = raw.iloc[:rows, 1:].to_numpy()
    expected = (raw.iloc[rows + rows // 3, 1:].to_numpy(dtype=float) - train_raw.mean(0)) / train_raw.std(0)
    np.testing.assert_allclose(first_target, expected, rtol=1e-5, atol=1e-6)


def test_generated_series_is_seeded_seasonal_and_coupled():
    a, b = generate_multiseasonal(2000, seed=3), generate_multiseasonal(2000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, generate_multiseasonal(2000, seed=4))
    detrended = a - a.mean(0)
    # a daily season: a day apart is closer than half a day apart
    assert np.mean((detrended[24:] - detrended[:-24]) ** 2) < 0.5 * np.mean((detrended[12:] - detrended[:-12]) ** 2)
    # the shared factors couple channels: their day-to-day changes correlate
    changes = np.diff(detrended, axis=0)
    off_diagonal = np.corrcoef(changes.T)[~np.eye(7, dtype=bool)]
    assert np.abs(off_diagonal).max() > 0.05


def test_generated_windows_and_data_modules_agree():
    windows = generated_forecast_windows(input_len=24, horizon=12, splits=(400, 120, 120), seed=1)
    data = GeneratedForecastData(input_len=24, horizon=12, n_train=400, n_val=120, n_test=120, seed=1)
    torch.testing.assert_close(data.dataset("test").inputs, windows["test"].inputs)
    ett_like = ETTForecastData(dataset="generated", input_len=24, horizon=12, splits=(400, 120, 120), seed=1)
    torch.testing.assert_close(ett_like.dataset("val").targets, windows["val"].targets)
    univariate = ETTForecastData(dataset="generated", features="S", input_len=24, horizon=12, splits=(400, 120, 120))
    assert univariate.channels == 1 and univariate.dataset("train").channels == 1
    assert sum(GENERATED_SPLITS) == 14400


def test_bad_data_options_are_explained():
    with pytest.raises(ValueError, match="dataset must be one of ETTh1, ETTh2, ETTm1, ETTm2 or generated"):
        ETTForecastData(dataset="ETTh3")
    with pytest.raises(ValueError, match="features must be 'M'"):
        ETTForecastData(features="X")
    with pytest.raises(ValueError, match="target must be one of the ETT variables"):
        ETTForecastData(target="temp")
    with pytest.raises(ValueError, match="input_len, horizon and channels must be at least 1"):
        GeneratedForecastData(horizon=0)
