from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recur_timeseries.data import ETT_HEADER, ETTDataset, ett_split_sizes, load_ett, read_ett_csv


def write_ett(path: Path, rows: int, step: str = "1h", header=ETT_HEADER, edit=None) -> Path:
    """A small CSV in the real ETT format: date + six loads + OT, the values a ramp so windows are checkable."""
    dates = pd.date_range("2016-07-01", periods=rows, freq=step).strftime("%Y-%m-%d %H:%M:%S")
    values = np.arange(rows, dtype=np.float64)[:, None] + np.arange(len(header) - 1)[None, :] * 0.5
    frame = pd.DataFrame(values, columns=list(header[1:]))
    frame.insert(0, header[0], dates)
    lines = frame.to_csv(index=False, lineterminator="\n").splitlines()
    if edit is not None:
        lines = edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_split_sizes():
    assert ett_split_sizes(1) == (8640, 2880, 2880)
    assert ett_split_sizes(4) == (34560, 11520, 11520)


def test_reads_the_real_format(tmp_path):
    frame = read_ett_csv(write_ett(tmp_path / "ETTh1.csv", 10))
    assert list(frame.columns) == list(ETT_HEADER)
    assert frame["date"].dtype.kind == "M"
    assert frame["OT"].iloc[3] == 3 + 3.0


def test_splits_zscore_with_training_statistics(tmp_path):
    path = write_ett(tmp_path / "ETTh1.csv", 25)
    data = load_ett(path, splits=(12, 4, 4), lookback=2)
    assert data.columns == ETT_HEADER[1:]
    assert data.train.shape == (12, 7) and data.val.shape == (6, 7) and data.test.shape == (6, 7)
    np.testing.assert_allclose(data.train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(data.standardizer.inverse(data.test)[:, -1], np.arange(14, 20) + 3.0)


def test_windows_of_the_target(tmp_path):
    path = write_ett(tmp_path / "ETTh1.csv", 20)
    data = ETTDataset(path, p=3, n_forecasts=2, split="val", splits=(12, 4, 4))
    # val owns rows 12..15 and borrows rows 9..11: windows of 3 lags + 2 targets over 7 rows -> 3 windows
    assert len(data) == 3
    ot = np.arange(20) + 3.0
    lags = data.standardizer.inverse(data.lags.double().numpy())
    targets = data.standardizer.inverse(data.targets.double().numpy())
    np.testing.assert_allclose(lags[0], ot[[11, 10, 9]], rtol=1e-5)
    np.testing.assert_allclose(targets[0], ot[[12, 13]], rtol=1e-5)
    # hourly dates: a one-day season; every earlier row is the past (rows 0..8 before the borrowed 9..11)
    assert data.period == 24
    np.testing.assert_allclose(data.standardizer.inverse(data.past), ot[:9], rtol=1e-5)
    np.testing.assert_allclose(data.standardizer.inverse(data.history(5)[0].double().numpy()), ot[11:6:-1], rtol=1e-5)
    quarter_hours = write_ett(tmp_path / "ETTm1.csv", 20, step="15min")
    quarter_hours = ETTDataset(quarter_hours, p=3, split="test", splits=(12, 4, 4))
    assert quarter_hours.period == 96 and len(quarter_hours.past) == 16 - 3


def test_missing_file_says_where_files_go(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"ETT file not found: .*ETTh1\.csv.*ETT-small.*date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT"
    ):
        ETTDataset(tmp_path / "ETTh1.csv", p=4)


def test_missing_column_lists_columns_found(tmp_path):
    header = ("date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "oil")
    path = write_ett(tmp_path / "ETTh1.csv", 10, header=header)
    with pytest.raises(ValueError, match=r"column\(s\) \['OT'\] not found; columns found: \['date', .*'oil'\]"):
        ETTDataset(path, p=2, splits=(6, 2, 2))


def test_nan_gives_the_row(tmp_path):
    def blank_ot(lines):
        fields = lines[6].split(",")
        lines[6] = ",".join([*fields[:-1], ""])
        return lines

    path = write_ett(tmp_path / "ETTh1.csv", 10, edit=blank_ot)
    with pytest.raises(
        ValueError, match=r"column 'OT' has an empty or non-numeric value \(NaN\) at data row 5 \(line 7"
    ):
        load_ett(path, splits=(6, 2, 2))


def test_non_numeric_value_gives_the_row(tmp_path):
    def corrupt_hull(lines):
        fields = lines[3].split(",")
        fields[2] = "n/a"
        lines[3] = ",".join(fields)
        return lines

    path = write_ett(tmp_path / "ETTh1.csv", 10, edit=corrupt_hull)
    with pytest.raises(ValueError, match=r"column 'HULL' has an empty or non-numeric value \(NaN\) at data row 2"):
        read_ett_csv(path)
    # the bad column is not read when only the target is asked for
    assert read_ett_csv(path, columns=["OT"]).shape == (10, 2)


def test_bad_date_gives_the_row(tmp_path):
    def corrupt_date(lines):
        lines[8] = "yesterday" + lines[8][len("2016-07-01 00:00:00") :]
        return lines

    path = write_ett(tmp_path / "ETTh1.csv", 10, edit=corrupt_date)
    with pytest.raises(ValueError, match=r"column 'date' has a date that is not %Y-%m-%d %H:%M:%S at data row 7"):
        read_ett_csv(path)


def test_too_few_rows_for_the_standard_split(tmp_path):
    with pytest.raises(ValueError, match=r"100 data rows, too few for the standard 12/4/4-month ETT splits at 1 row"):
        load_ett(write_ett(tmp_path / "ETTh1.csv", 100))
    with pytest.raises(ValueError, match=r"at 4 row\(s\) per hour of \[34560, 11520, 11520\]"):
        load_ett(write_ett(tmp_path / "ETTm1.csv", 100, step="15min"))


def test_too_few_rows_for_the_window(tmp_path):
    path = write_ett(tmp_path / "ETTh1.csv", 20)
    with pytest.raises(ValueError, match=r"train split has 12 rows, too few for a lookback of 14 rows"):
        ETTDataset(path, p=14, splits=(12, 4, 4))
    with pytest.raises(ValueError, match=r"the train split has 12 rows, too few for windows of p=10 lags \+ 3"):
        ETTDataset(path, p=10, n_forecasts=3, splits=(12, 4, 4))


def test_real_etth1(dataset_root):
    etth1 = dataset_root("ett", "ETTh1.csv") / "ETTh1.csv"
    p = 24
    train, val = (ETTDataset(etth1, p=p, split=s) for s in ("train", "val"))
    assert len(train) == 8640 - p and len(val) == 2880
    raw = pd.read_csv(etth1)["OT"].to_numpy()
    assert float(train.series.mean()) == pytest.approx(0, abs=1e-9)
    first_val_target = val.standardizer.inverse(val.targets[0].double().numpy())[0]
    assert first_val_target == pytest.approx(raw[8640], rel=1e-5)
