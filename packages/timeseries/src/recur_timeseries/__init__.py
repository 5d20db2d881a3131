"""recur_timeseries: time-series forecasting models on the recur core.

Models live in :mod:`recur_timeseries.models` (importing it registers them), datasets in
:mod:`recur_timeseries.data`, scores in :mod:`recur_timeseries.metrics` and statistical
reference fits in :mod:`recur_timeseries.baselines`.
"""

__version__ = "0.1.0"
