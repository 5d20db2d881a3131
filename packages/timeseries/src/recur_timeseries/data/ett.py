"""ETT (Electricity Transformer Temperature) CSV loader with the standard splits.

Zhou et al. (2021), "Informer: Beyond Efficient Transformer for Long Sequence Time-Series
Forecasting", https://arxiv.org/abs/2012.07436; data at https://github.com/zhouhaoyi/ETDataset.

Format: one CSV per transformer and sampling rate (``ETTh1.csv``, ``ETTh2.csv`` hourly;
``ETTm1.csv``, ``ETTm2.csv`` every 15 minutes) with the header
``date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT``; ``date`` is ``YYYY-MM-DD HH:MM:SS`` and ``OT`` (oil
temperature) is the usual target. The standard splits are the first 12 / next 4 / next 4 months
of 30 days: 8640 / 2880 / 2880 rows hourly and four times as many for the 15-minute files.
Every column is z-scored with the training split's mean and standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from recur_timeseries.data.forecasting import ForecastWindows
from recur_timeseries.data.windowing import LagWindows, Standardizer, split_with_lookback

__all__ = [
    "ETT_HEADER",
    "ETTDataset",
    "ETTSplits",
    "ett_forecast_windows",
    "ett_split_sizes",
    "load_ett",
    "read_ett_csv",
]

ETT_HEADER: tuple[str, ...] = ("date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
_HEADER_TEXT = ",".join(ETT_HEADER)
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def ett_split_sizes(rows_per_hour: int = 1) -> tuple[int, int, int]:
    """Train / val / test rows of the standard 12 / 4 / 4-month (30-day) split: (8640, 2880, 2880) × rows_per_hour."""
    hours_per_month = 30 * 24
    return tuple(months * hours_per_month * rows_per_hour for months in (12, 4, 4))


def read_ett_csv(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and check one ETT CSV: the ``date`` column parsed, the variable columns as float64.

    Args:
        path: the CSV file.
        columns: variables to keep (default: every column after ``date``, in file order).

    Returns:
        a DataFrame with ``date`` (datetime64) followed by ``columns``.

    Raises:
        FileNotFoundError: the file is not there (the message says where ETT files go).
        ValueError: a column is missing, a value is empty or not a number, a date does not parse, or the
            dates are not strictly increasing (unsorted or duplicated rows).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"ETT file not found: {path}. 'recur data fetch ett' downloads the ETT-small CSVs (ETTh1.csv, "
            f"ETTh2.csv, ETTm1.csv, ETTm2.csv from https://github.com/zhouhaoyi/ETDataset) into <data root>/ETT-small, "
            f"where ETTData(dataset='ETTh1') finds them. Each is a CSV whose header is: {_HEADER_TEXT}"
        )
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    found = list(frame.columns)
    wanted = [c for c in found if c != "date"] if columns is None else list(columns)
    missing = [c for c in ["date", *wanted] if c not in found]
    if missing:
        raise ValueError(
            f"{path}: column(s) {missing} not found; columns found: {found}. An ETT file's header is: {_HEADER_TEXT}"
        )
    out = pd.DataFrame({"date": pd.to_datetime(frame["date"], format=_DATE_FORMAT, errors="coerce")})
    _check_complete(path, "date", out["date"].isna().to_numpy(), f"a date that is not {_DATE_FORMAT}")
    _check_increasing(path, out["date"].to_numpy())
    for name in wanted:
        values = pd.to_numeric(frame[name].str.strip(), errors="coerce").astype(np.float64)
        _check_complete(path, name, values.isna().to_numpy(), "an empty or non-numeric value (NaN)")
        out[name] = values
    return out


def _check_complete(path: Path, column: str, bad: np.ndarray, what: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: column {column!r} has {what} at data row {row} (line {row + 2} of the file, after the header); "
            f"{int(bad.sum())} such row(s) in all. Fill or drop them before loading."
        )


def _check_increasing(path: Path, dates: np.ndarray) -> None:
    """Dates must rise strictly: a repeated or earlier date is a one-line error naming the first such row."""
    step = np.diff(dates)
    bad = step <= np.timedelta64(0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        what = (
            "duplicates the date before it"
            if step[row - 1] == np.timedelta64(0)
            else "is earlier than the date before it"
        )
        raise ValueError(
            f"{path}: the date at data row {row} (line {row + 2} of the file) {what} "
            f"({pd.Timestamp(dates[row])} after {pd.Timestamp(dates[row - 1])}); an ETT file has one row per time "
            "step in increasing time order: sort the rows by date and drop repeated dates"
        )


def _rows_per_hour(dates: pd.Series) -> int | None:
    """Rows per hour read off the median step of the first 1000 dates; None unless it divides an hour."""
    step = dates.iloc[: min(len(dates), 1000)].diff().dropna().median()
    seconds = step.total_seconds() if pd.notna(step) else 0.0
    if seconds <= 0 or 3600 % seconds:
        return None
    return int(3600 // seconds)


@dataclass(frozen=True)
class ETTSplits:
    """The three z-scored splits of an ETT file.

    Shapes:
        train [T_train, C]; val [T_val + lookback, C]; test [T_test + lookback, C]; C = len(columns).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    columns: tuple[str, ...]
    standardizer: Standardizer
    # sampling rate read off the dates (1 hourly, 4 every 15 minutes); None when they do not give one
    rows_per_hour: int | None = None

    def column(self, split: Literal["train", "val", "test"], name: str) -> np.ndarray:
        """One variable of one split as a 1-D series."""
        return getattr(self, split)[:, self.columns.index(name)]


def load_ett(
    path: str | Path,
    columns: Sequence[str] | None = None,
    splits: Sequence[int] | None = None,
    lookback: int = 0,
) -> ETTSplits:
    """Load an ETT CSV into z-scored train / val / test arrays.

    Args:
        path: the CSV file (e.g. ``ETTh1.csv``).
        columns: variables to keep (default all seven, in file order).
        splits: row counts (train, val, test); default the standard 12/4/4 months for the sampling
            rate read off the dates (8640/2880/2880 hourly, ×4 for 15-minute files).
        lookback: rows of the preceding split prefixed to val and test (use the model's p).

    Raises:
        ValueError: the file has fewer rows than the splits need (besides :func:`read_ett_csv`'s checks).
    """
    path = Path(path)
    frame = read_ett_csv(path, columns)
    rate = _rows_per_hour(frame["date"])
    if splits is None:
        if rate is None:
            raise ValueError(
                f"{path}: cannot infer the sampling rate from the dates; ETT files are hourly or every "
                "15 minutes. Pass splits=(train, val, test) row counts instead."
            )
        splits = ett_split_sizes(rate)
        origin = f"the standard 12/4/4-month ETT splits at {rate} row(s) per hour"
    else:
        origin = "the requested splits"
    if len(frame) < sum(splits):
        raise ValueError(
            f"{path}: {len(frame)} data rows, too few for {origin} of {list(splits)} rows "
            f"({sum(splits)} in all); use the full file or pass smaller splits=(train, val, test)"
        )
    if lookback > splits[0]:
        raise ValueError(
            f"{path}: the train split has {splits[0]} rows, too few for a lookback of {lookback} rows; "
            "lower p or enlarge the split"
        )
    values = frame.drop(columns="date").to_numpy(dtype=np.float64)
    train, val, test = split_with_lookback(values, splits, lookback)
    scaler = Standardizer.fit(train)
    return ETTSplits(
        train=scaler.transform(train),
        val=scaler.transform(val),
        test=scaler.transform(test),
        columns=tuple(frame.columns[1:]),
        standardizer=scaler,
        rows_per_hour=rate,
    )


class ETTDataset(LagWindows):
    """Lag windows of one ETT variable (default ``OT``) in one split: p lags → next ``n_forecasts`` values.

    Validation and test splits borrow the p preceding rows as context, so the first window of each
    predicts that split's first row. Values are z-scored with training statistics. ``past`` holds
    every earlier row of the variable and ``period`` is one day in rows (24 hourly, 96 for
    15-minute files, read off the dates; None when they give no rate), for the seasonal-naive
    baseline.

    Args:
        path: the CSV file.
        p: number of lags.
        n_forecasts: targets per window (default 1).
        split: ``"train"``, ``"val"`` or ``"test"``.
        target: the variable to forecast (default ``"OT"``).
        splits: row counts (train, val, test); default the standard ETT split.

    Shapes:
        item: lags [p] (most recent first), targets [n_forecasts].
    """

    def __init__(
        self,
        path: str | Path,
        p: int,
        n_forecasts: int = 1,
        split: Literal["train", "val", "test"] = "train",
        target: str = "OT",
        splits: Sequence[int] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        data = load_ett(path, columns=[target], splits=splits, lookback=p)
        series = data.column(split, target)
        if len(series) < p + n_forecasts:
            raise ValueError(
                f"{path}: the {split} split has {len(series)} rows, too few for windows of p={p} lags "
                f"+ {n_forecasts} forecast step(s) (needs at least {p + n_forecasts}); lower p or enlarge the split"
            )
        self.standardizer = data.standardizer
        # the whole z-scored variable up to the test split's end; this split's series starts at `start`
        whole = np.concatenate([data.column("train", target), *(data.column(s, target)[p:] for s in ("val", "test"))])
        train_rows, val_rows = len(data.train), len(data.val) - p
        start = {"train": 0, "val": train_rows - p, "test": train_rows + val_rows - p}[split]
        period = None if data.rows_per_hour is None else 24 * data.rows_per_hour
        super().__init__(series, p, n_forecasts, dtype, past=whole[:start], period=period)


def ett_forecast_windows(
    path: str | Path,
    input_len: int = 96,
    horizon: int = 96,
    features: Literal["M", "S"] = "M",
    target: str = "OT",
    splits: Sequence[int] | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, ForecastWindows]:
    """The train / val / test :class:`ForecastWindows` of an ETT file in the long-term-forecasting protocol.

    The protocol of Informer / Autoformer / DLinear (``data_provider/data_loader.py``'s
    ``Dataset_ETT_hour`` and ``Dataset_ETT_minute``): 12/4/4-month splits, val and test starting
    ``input_len`` rows early (so their first window forecasts the split's first row), every column
    z-scored with the training rows' statistics. ``features="M"`` keeps the seven ETT variables (all
    in, all out, in :data:`ETT_HEADER` order); ``"S"`` only ``target``. ``period`` is one day in rows
    (24 hourly, 96 every 15 minutes).

    Raises:
        ValueError: ``features`` is not M or S, a split has too few rows for one window, or the
            file fails :func:`read_ett_csv`'s / :func:`load_ett`'s checks.
    """
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' (all variables in and out) or 'S' (only the target), got {features!r}")
    columns = list(ETT_HEADER[1:]) if features == "M" else [target]
    data = load_ett(path, columns=columns, splits=splits, lookback=input_len)
    period = None if data.rows_per_hour is None else 24 * data.rows_per_hour
    windows = {}
    for split in ("train", "val", "test"):
        values = getattr(data, split)
        if len(values) < input_len + horizon:
            raise ValueError(
                f"{path}: the {split} split has {len(values)} rows, too few for one window of input_len={input_len} "
                f"+ horizon={horizon} ({input_len + horizon} rows); lower input_len/horizon or enlarge the splits"
            )
        windows[split] = ForecastWindows(values, input_len, horizon, period=period, dtype=dtype)
    return windows
