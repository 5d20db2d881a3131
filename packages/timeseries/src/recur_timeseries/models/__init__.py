"""Models of recur_timeseries: AR-Net (registered as ``arnet``; importing this package registers it) and the
baselines it is compared with: Classic-AR (least squares, the AR-Net paper's) and the naive forecasts."""

from recur_timeseries.models.aaren import AarenForecaster
from recur_timeseries.models.arnet import (
    ARNet,
    estimated_sparsity,
    regularization_weight,
    sparsity_lambda,
    sparsity_penalty,
)
from recur_timeseries.models.baselines import (
    ClassicAR,
    DLinear,
    LeastSquaresForecaster,
    LinearForecaster,
    PerVariableAR,
    Seq2SeqForecaster,
    baseline_forecasts,
    fit_classic_ar,
    forecast_baselines,
    forecast_repeat_last,
    forecast_seasonal_naive,
    moving_average,
    repeat_last,
    seasonal_naive,
)
from recur_timeseries.models.plrnn import PLRNNReconstructor
from recur_timeseries.models.regenn import ReGENN
from recur_timeseries.models.tpgn import TPGN, ChannelLinear

__all__ = [
    "TPGN",
    "ARNet",
    "AarenForecaster",
    "ChannelLinear",
    "ClassicAR",
    "DLinear",
    "LeastSquaresForecaster",
    "LinearForecaster",
    "PLRNNReconstructor",
    "PerVariableAR",
    "ReGENN",
    "Seq2SeqForecaster",
    "baseline_forecasts",
    "estimated_sparsity",
    "fit_classic_ar",
    "forecast_baselines",
    "forecast_repeat_last",
    "forecast_seasonal_naive",
    "moving_average",
    "regularization_weight",
    "repeat_last",
    "seasonal_naive",
    "sparsity_lambda",
    "sparsity_penalty",
]
