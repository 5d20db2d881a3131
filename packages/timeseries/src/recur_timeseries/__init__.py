"""recur_timeseries: time-series forecasting models on the recur core (AR-Net and its Classic-AR baseline).

- :mod:`recur_timeseries.models`: :class:`~recur_timeseries.models.arnet.ARNet` (importing it
  registers ``arnet``) and, in :mod:`~recur_timeseries.models.baselines`, the least-squares Classic-AR.
- :mod:`recur_timeseries.data`: ETT CSVs (real format), simulated AR processes and sunspots (embedded).
- :mod:`recur_timeseries.datamodules`: the lag-window DataModules over them.
- :mod:`recur_timeseries.task`: :class:`~recur_timeseries.task.ARNetModule`, the training task.
- :mod:`recur_timeseries.fitting`: a full-batch AR-Net fit in plain torch, without Lightning.
- :mod:`recur_timeseries.metrics`, :mod:`recur_timeseries.plots`: scores and figures.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
