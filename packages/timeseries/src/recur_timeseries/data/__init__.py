"""Datasets: ETT CSVs (real format), simulated AR processes and sunspots (embedded), and their shared windowing."""

from recur_timeseries.data.ett import ETT_HEADER, ETTDataset, ETTSplits, ett_split_sizes, load_ett, read_ett_csv
from recur_timeseries.data.synthetic import (
    PAPER_SPARSE_AR3,
    ARProcessDataset,
    SunspotsDataset,
    generate_ar_process,
    sunspots_series,
)
from recur_timeseries.data.windowing import LagWindows, Standardizer, make_windows, split_with_lookback

__all__ = [
    "ETT_HEADER",
    "PAPER_SPARSE_AR3",
    "ARProcessDataset",
    "ETTDataset",
    "ETTSplits",
    "LagWindows",
    "Standardizer",
    "SunspotsDataset",
    "ett_split_sizes",
    "generate_ar_process",
    "load_ett",
    "make_windows",
    "read_ett_csv",
    "split_with_lookback",
    "sunspots_series",
]
