"""Models registered by recur_timeseries. Importing this package registers them."""

from recur_timeseries.models.arnet import (
    ARNet,
    estimated_sparsity,
    regularization_weight,
    sparsity_lambda,
    sparsity_penalty,
)

__all__ = ["ARNet", "estimated_sparsity", "regularization_weight", "sparsity_lambda", "sparsity_penalty"]
