"""Datasets: ETT CSVs (real format), simulated AR processes and sunspots (embedded), and their shared windowing."""

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ARProcessDataset": "recur_timeseries.data.synthetic",
        "ETTDataset": "recur_timeseries.data.ett",
        "ETTSplits": "recur_timeseries.data.ett",
        "ETT_HEADER": "recur_timeseries.data.ett",
        "LagWindows": "recur_timeseries.data.windowing",
        "PAPER_SPARSE_AR3": "recur_timeseries.data.synthetic",
        "SOLAR_CYCLE_YEARS": "recur_timeseries.data.synthetic",
        "Standardizer": "recur_timeseries.data.windowing",
        "SunspotsDataset": "recur_timeseries.data.synthetic",
        "ett_split_sizes": "recur_timeseries.data.ett",
        "generate_ar_process": "recur_timeseries.data.synthetic",
        "load_ett": "recur_timeseries.data.ett",
        "make_windows": "recur_timeseries.data.windowing",
        "read_ett_csv": "recur_timeseries.data.ett",
        "split_with_lookback": "recur_timeseries.data.windowing",
        "sunspots_series": "recur_timeseries.data.synthetic",
    },
)
