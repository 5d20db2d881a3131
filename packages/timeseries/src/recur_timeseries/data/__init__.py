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
        "ForecastWindows": "recur_timeseries.data.forecasting",
        "GENERATED_SPLITS": "recur_timeseries.data.forecasting",
        "GraphSeries": "recur_timeseries.data.pyg_temporal",
        "PYG_TEMPORAL_DATASETS": "recur_timeseries.data.pyg_temporal",
        "generate_graph_diffusion": "recur_timeseries.data.graph_diffusion",
        "graph_forecast_windows": "recur_timeseries.data.pyg_temporal",
        "load_pyg_temporal": "recur_timeseries.data.pyg_temporal",
        "read_pyg_temporal": "recur_timeseries.data.pyg_temporal",
        "LagWindows": "recur_timeseries.data.windowing",
        "PAPER_SPARSE_AR3": "recur_timeseries.data.synthetic",
        "SOLAR_CYCLE_YEARS": "recur_timeseries.data.synthetic",
        "Standardizer": "recur_timeseries.data.windowing",
        "SunspotsDataset": "recur_timeseries.data.synthetic",
        "ett_forecast_windows": "recur_timeseries.data.ett",
        "ett_split_sizes": "recur_timeseries.data.ett",
        "generate_ar_process": "recur_timeseries.data.synthetic",
        "generate_multiseasonal": "recur_timeseries.data.forecasting",
        "generated_forecast_windows": "recur_timeseries.data.forecasting",
        "load_ett": "recur_timeseries.data.ett",
        "TrajectoryWindows": "recur_timeseries.data.dynamical",
        "delay_embed": "recur_timeseries.data.dynamical",
        "ett_trajectories": "recur_timeseries.data.dynamical",
        "generated_trajectories": "recur_timeseries.data.dynamical",
        "lorenz96": "recur_timeseries.data.dynamical",
        "make_windows": "recur_timeseries.data.windowing",
        "read_ett_csv": "recur_timeseries.data.ett",
        "split_with_lookback": "recur_timeseries.data.windowing",
        "sunspots_series": "recur_timeseries.data.synthetic",
    },
)
