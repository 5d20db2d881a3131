"""AR-Net: an auto-regressive model fitted as a one-layer network, with a sparsity prior.

Triebe, Laptev, Rajagopal (2019), "AR-Net: A simple Auto-Regressive Neural Network for
time-series", https://arxiv.org/abs/1911.12436.

Reads bottom-up: the regularizer R(θ), the weight of the regularizer λ(s) and its ramp over
training, then the model. Lag convention, used everywhere in ``recur_timeseries``: column
``i`` of a lag matrix holds lag ``i + 1``, i.e. ``y[t - 1 - i]`` for target ``y[t]``; so weight
``i`` is the AR coefficient φ_{i+1}, the same order as statsmodels' ``AutoReg`` parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recur_core.registry import register_model

__all__ = [
    "ARNet",
    "estimated_sparsity",
    "regularization_weight",
    "sparsity_lambda",
    "sparsity_penalty",
]


def sparsity_penalty(weights: Tensor, c1: float = 3.0, c2: float = 3.0) -> Tensor:
    r"""AR-Net's sparsity regularizer R(θ), a smooth, bounded stand-in for the L0 norm.

    .. math::
        R(\theta) = \frac{1}{p} \sum_{i=1}^{p} \left[\frac{2}{1 + \exp(-c_1 |\theta_i|^{1/c_2})} - 1\right]

    Each term is 0 at θ_i = 0 and tends to 1 as |θ_i| grows, so large coefficients cost about
    the same while small ones are pulled toward zero (the slope is unbounded at 0).

    Args:
        weights: the AR coefficients, any shape; the mean runs over every entry, which is
            (1/p)Σ for one forecast step and the mean over all p · n_forecasts weights otherwise.
        c1: steepness (the paper uses 3).
        c2: root taken of |θ_i| (the paper uses 3).

    Returns:
        a 0-d tensor in [0, 1).
    """
    magnitude = weights.abs()
    nonzero = magnitude > 0
    # |θ|^(1/c2) has an infinite slope at 0: the root is taken only where θ ≠ 0, so a weight that
    # sits exactly at zero gets a zero gradient instead of 0 · inf = NaN.
    root = torch.where(nonzero, torch.where(nonzero, magnitude, 1.0).pow(1.0 / c2), 0.0)
    return (2.0 * torch.sigmoid(c1 * root) - 1.0).mean()


def estimated_sparsity(p_data: int, p_model: int) -> float:
    """s = p_data / p_model: the share of the model's p lags the data is believed to use, capped at 1."""
    if p_data < 1 or p_model < 1:
        raise ValueError(f"p_data and p_model must be positive, got p_data={p_data}, p_model={p_model}")
    return min(1.0, p_data / p_model)


def sparsity_lambda(sparsity: float, lambda_scale: float = 0.01) -> float:
    r"""The full regularization strength for an estimated sparsity s.

    .. math::
        \lambda(s) = c_\lambda \left(\frac{1}{s} - 1\right), \qquad s = p_{data} / p_{model} \in (0, 1]

    ``s = 1`` (all lags believed relevant) switches the regularizer off. The paper suggests
    c_λ ≈ √L̂ / 100 with L̂ the loss a perfect fit would reach; for a z-scored series whose noise
    has unit variance under MSE, that is the default 0.01.

    Args:
        sparsity: the estimated s, in (0, 1]; see :func:`estimated_sparsity`.
        lambda_scale: c_λ.
    """
    if not 0.0 < sparsity <= 1.0:
        raise ValueError(f"sparsity must be in (0, 1] (it is p_data / p_model), got {sparsity}")
    return lambda_scale * (1.0 / sparsity - 1.0)


def regularization_weight(
    progress: float,
    sparsity: float,
    lambda_scale: float = 0.01,
    ramp_start: float = 0.0,
    ramp_end: float = 0.5,
) -> float:
    r"""λ at a point of training: zero until ``ramp_start``, quadratic up to λ(s) at ``ramp_end``, then flat.

    .. math::
        \lambda_t = \lambda(s) \cdot \min\left(1, \max\left(0,
        \frac{\text{progress} - \text{start}}{\text{end} - \text{start}}\right)\right)^2

    The reference code ramps to full strength at half of training, letting the weights first
    approach the least-squares fit before the prior pulls the small ones to zero.

    Args:
        progress: fraction of training done, in [0, 1] (step / total steps).
        sparsity: estimated s = p_data / p_model, in (0, 1].
        lambda_scale: c_λ of :func:`sparsity_lambda`.
        ramp_start: progress where the ramp starts.
        ramp_end: progress where λ reaches λ(s); ``ramp_end <= ramp_start`` means no ramp (a step).
    """
    full = sparsity_lambda(sparsity, lambda_scale)
    if ramp_end <= ramp_start:
        return full if progress >= ramp_start else 0.0
    ramp = min(1.0, max(0.0, (progress - ramp_start) / (ramp_end - ramp_start)))
    return full * ramp**2


@register_model("arnet")
class ARNet(nn.Module):
    r"""AR-Net: one linear layer from p lags to the next ``n_forecasts`` values.

    .. math::
        \hat y_{t+k} = b_k + \sum_{i=1}^{p} w_{k,i}\, y_{t-i}, \qquad k = 0, \dots, n_{forecasts} - 1

    trained on L(θ) + λ_t · R(θ) (see :func:`sparsity_penalty` and :func:`regularization_weight`).
    With one forecast step the weights are the AR(p) coefficients (``coefficients[0, i]`` = φ_{i+1});
    more steps give the paper's direct multi-step generalization, one row of weights per step.

    Args:
        p: number of lags, the model's AR order (default 20, the order of the paper's small-data example).
        n_forecasts: number of future values predicted at once (default 1).
        bias: learn an intercept per forecast step (default True).
        c1: steepness of the sparsity regularizer (default 3, as in the paper).
        c2: root of the sparsity regularizer (default 3, as in the paper).

    Shapes:
        lags [B, p], column i = lag i + 1 (most recent first) -> forecasts [B, n_forecasts].
    """

    def __init__(self, p: int = 20, n_forecasts: int = 1, bias: bool = True, c1: float = 3.0, c2: float = 3.0) -> None:
        super().__init__()
        if p < 1 or n_forecasts < 1:
            raise ValueError(f"p and n_forecasts must be positive, got p={p}, n_forecasts={n_forecasts}")
        self.p = p
        self.n_forecasts = n_forecasts
        self.c1 = c1
        self.c2 = c2
        self.linear = nn.Linear(p, n_forecasts, bias=bias)

    @property
    def coefficients(self) -> Tensor:
        """The AR coefficients [n_forecasts, p], column i for lag i + 1 (a view of the weights)."""
        return self.linear.weight

    def forward(self, lags: Tensor) -> Tensor:
        if lags.dim() != 2 or lags.shape[-1] != self.p:
            raise ValueError(f"expected lags [B, {self.p}], got {tuple(lags.shape)}")
        return self.linear(lags)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """A valid input batch (for tests, tracing and shape checks): lags [batch_size, p]."""
        return (torch.randn(batch_size, self.p),)

    def regularizer(self) -> Tensor:
        """R(θ) of the current weights (0-d tensor), with this model's c1 and c2."""
        return sparsity_penalty(self.linear.weight, self.c1, self.c2)

    def extra_repr(self) -> str:
        return f"p={self.p}, n_forecasts={self.n_forecasts}, c1={self.c1}, c2={self.c2}"
