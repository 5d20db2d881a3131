"""Models of recur_timeseries: AR-Net (registered as ``arnet``; importing this package registers it) and the
Classic-AR least-squares baseline the AR-Net paper compares it with."""

from recur_timeseries.models.arnet import (
    ARNet,
    estimated_sparsity,
    regularization_weight,
    sparsity_lambda,
    sparsity_penalty,
)
from recur_timeseries.models.baselines import ClassicAR, fit_classic_ar

__all__ = [
    "ARNet",
    "ClassicAR",
    "estimated_sparsity",
    "fit_classic_ar",
    "regularization_weight",
    "sparsity_lambda",
    "sparsity_penalty",
]
