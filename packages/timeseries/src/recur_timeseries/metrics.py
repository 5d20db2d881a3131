"""Forecast errors (MSE, MAE, RMSE, MSLE), the skill score against a baseline, and AR-Net's sTPE.

sTPE scores how well fitted AR coefficients recover the true ones.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["mae", "mse", "msle", "rmse", "skill_score", "stpe"]

ArrayLike = Tensor | np.ndarray


def mse(prediction: ArrayLike, target: ArrayLike) -> Tensor:
    """Mean squared error over every entry; inputs of the same shape, tensors or arrays. Returns a 0-d tensor."""
    prediction, target = torch.as_tensor(prediction), torch.as_tensor(target)
    return (prediction - target).square().mean()


def mae(prediction: ArrayLike, target: ArrayLike) -> Tensor:
    """Mean absolute error over every entry; inputs of the same shape, tensors or arrays. Returns a 0-d tensor."""
    prediction, target = torch.as_tensor(prediction), torch.as_tensor(target)
    return (prediction - target).abs().mean()


def rmse(prediction: ArrayLike, target: ArrayLike) -> Tensor:
    """Root mean squared error over every entry (torchmetrics' ``mean_squared_error(squared=False)``). A 0-d tensor."""
    from torchmetrics.functional import mean_squared_error

    prediction, target = torch.as_tensor(prediction), torch.as_tensor(target)
    return mean_squared_error(prediction.reshape(-1), target.reshape(-1), squared=False)


def msle(prediction: ArrayLike, target: ArrayLike) -> Tensor:
    r"""Mean squared logarithmic error, :math:`\frac1n \sum (\log(1 + \hat y) - \log(1 + y))^2` (torchmetrics').

    The error of counts and other non-negative quantities (ReGENN's third metric); values below
    zero have no log1p on the same scale, so they are a ValueError (clip forecasts at 0 first).
    """
    from torchmetrics.functional import mean_squared_log_error

    prediction, target = torch.as_tensor(prediction), torch.as_tensor(target)
    for name, values in (("prediction", prediction), ("target", target)):
        if (values < 0).any():
            raise ValueError(
                f"MSLE needs non-negative values, but the {name} has {int((values < 0).sum())} negative one(s) "
                f"(min {float(values.min()):.4g}); clip forecasts at 0 or score z-scored data with MSE/MAE"
            )
    return mean_squared_log_error(prediction.reshape(-1), target.reshape(-1))


def skill_score(error: float, reference_error: float) -> float:
    r"""The share of a reference forecast's error that a model removes (Murphy 1988's MSE skill score).

    .. math::
        \mathrm{skill} = 1 - \frac{\mathrm{MSE}_{model}}{\mathrm{MSE}_{reference}}

    Positive: the model is better (1 = perfect); 0: as good as the reference; negative: worse. It
    shows differences that a 4-digit error hides (MSE 0.0010404 vs 0.0010400 is skill -0.00045).

    Args:
        error: the model's error (MSE, or another error where smaller is better).
        reference_error: the reference's error on the same targets; must be positive.
    """
    if reference_error <= 0:
        raise ValueError(f"the reference error must be positive for a skill score, got {reference_error}")
    return 1.0 - float(error) / float(reference_error)


def _as_vector(weights: ArrayLike, name: str) -> np.ndarray:
    if isinstance(weights, Tensor):
        weights = weights.detach().cpu().numpy()
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 1:
        raise ValueError(f"{name} must be one vector of AR coefficients [p] or [1, p], got shape {w.shape}")
    return w


def stpe(estimated: ArrayLike, true: ArrayLike) -> float:
    r"""Symmetric total percentage error of estimated AR coefficients (Triebe et al. 2019, https://arxiv.org/abs/1911.12436).

    .. math::
        \mathrm{sTPE} = 100 \cdot \frac{\sum_i |\hat w_i - w_i|}{\sum_i (|\hat w_i| + |w_i|)}

    The shorter vector is zero-padded at the high lags, so a sparse AR(3) truth is compared with an
    AR(20) fit over all 20 lags. 0 is a perfect fit, 100 the worst (e.g. opposite signs or
    weight only where the other has none); two all-zero vectors score 0.

    Args:
        estimated: fitted coefficients, lag 1 first, shape [p] or [1, p].
        true: true coefficients, lag 1 first, shape [k] or [1, k].
    """
    w_hat, w = _as_vector(estimated, "estimated"), _as_vector(true, "true")
    order = max(len(w_hat), len(w))
    w_hat, w = np.pad(w_hat, (0, order - len(w_hat))), np.pad(w, (0, order - len(w)))
    total = np.abs(w_hat).sum() + np.abs(w).sum()
    return 0.0 if total == 0 else float(100.0 * np.abs(w_hat - w).sum() / total)
