"""Models of recur_timeseries: AR-Net (registered as ``arnet``; importing this package registers it) and the
baselines it is compared with: Classic-AR (least squares, the AR-Net paper's) and the naive forecasts."""

from recur_timeseries.models.arnet import (
    ARNet,
    estimated_sparsity,
    regularization_weight,
    sparsity_lambda,
    sparsity_penalty,
)
from recur_timeseries.models.baselines import (
    ClassicAR,
    baseline_forecasts,
    fit_classic_ar,
    repeat_last,
    seasonal_naive,
)

__all__ = [
    "ARNet",
    "ClassicAR",
    "baseline_forecasts",
    "estimated_sparsity",
    "fit_classic_ar",
    "regularization_weight",
    "repeat_last",
    "seasonal_naive",
    "sparsity_lambda",
    "sparsity_penalty",
]
