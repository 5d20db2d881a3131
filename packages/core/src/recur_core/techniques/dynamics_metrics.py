r"""Measures of how well a learned dynamical system reproduces the long-term behaviour of the data.

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic Dynamics",
ICML 2023, https://arxiv.org/abs/2306.04406 (the definitions follow the paper's code,
``DurstewitzLab/GTF-shPLRNN``). A chaotic system cannot be forecast far, so a model is judged on
whether its *free-running* trajectories have the geometry and the temporal structure of the data:

- :func:`state_space_divergence` — :math:`D_{stsp}`, the Kullback–Leibler divergence between the
  occupation histograms of the true and the generated trajectory in state space;
- :func:`hellinger_spectrum_distance` — :math:`D_H`, the Hellinger distance between smoothed power
  spectra, per dimension, averaged;
- :func:`prediction_error` — the n-step-ahead (default 20) prediction error from states taken from
  the data.

All three take trajectories as tensors ``[T, N]`` or ``[B, T, N]`` (B trajectories of N dimensions).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "gaussian_smooth",
    "hellinger_spectrum_distance",
    "power_spectrum",
    "prediction_error",
    "state_space_divergence",
    "state_space_histogram",
]

# the largest dense histogram (bins ** N cells) built before asking for fewer bins
_MAX_CELLS = 50_000_000


def _as_batch(x: Tensor, name: str) -> Tensor:
    """``[T, N]`` -> ``[1, T, N]``; ``[B, T, N]`` unchanged; anything else is an error."""
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[1] < 2:
        raise ValueError(f"{name} must be a trajectory [T, N] or [B, T, N] with T >= 2, got {tuple(x.shape)}")
    return x


def state_space_histogram(x: Tensor, low: Tensor, high: Tensor, n_bins: int) -> Tensor:
    """Counts of the points ``x`` [P, N] in ``n_bins`` equal bins per dimension over ``[low, high)``.

    Points outside the box are dropped. Returns the flat histogram of ``n_bins ** N`` cells (float64),
    dimension 0 varying slowest.
    """
    cells = n_bins ** x.shape[-1]
    if cells > _MAX_CELLS:
        raise ValueError(
            f"a histogram of {n_bins} bins in {x.shape[-1]} dimensions has {cells} cells; "
            f"use fewer bins (n_bins <= {int(_MAX_CELLS ** (1 / x.shape[-1]))}) or project the data first"
        )
    coords = torch.floor(n_bins * (x.double() - low) / (high - low)).clamp(-1, n_bins).long()
    inside = ((coords >= 0) & (coords < n_bins)).all(-1)
    strides = n_bins ** torch.arange(x.shape[-1] - 1, -1, -1, device=x.device)
    flat = (coords[inside] * strides).sum(-1)
    return torch.bincount(flat, minlength=cells).double()


def state_space_divergence(true: Tensor, generated: Tensor, n_bins: int = 30, smoothing: float = 1e-5) -> Tensor:
    r""":math:`D_{stsp}`: KL divergence between binned state-space occupations of two trajectories.

    Each dimension of the box :math:`[\min_t x - 0.1\sigma, \max_t x + 0.1\sigma]` of the *true*
    trajectory is cut into ``n_bins`` equal bins; generated points outside the box are dropped.
    With counts :math:`h` over the :math:`K = n_{bins}^N` cells and Laplace smoothing
    :math:`\epsilon`,

    .. math::
        p_k = \frac{h^{true}_k + \epsilon}{\sum_j h^{true}_j + \epsilon K}, \qquad
        q_k = \frac{h^{gen}_k + \epsilon}{\sum_j h^{gen}_j + \epsilon K}, \qquad
        D_{stsp} = \sum_k p_k \log \frac{p_k}{q_k}.

    Identical occupations give 0; a generated trajectory that visits none of the true cells gives
    about :math:`\log(1 + T/\epsilon)`. Batched trajectories are pooled (all points of all B
    sequences form one histogram each).

    Args:
        true: reference trajectory [T, N] or [B, T, N].
        generated: the model's free-running trajectory [T', N] or [B', T', N].
        n_bins: bins per dimension (30 in the paper's code).
        smoothing: Laplace smoothing :math:`\epsilon` (1e-5 in the paper's code).

    Shapes:
        true [(B,) T, N], generated [(B',) T', N] -> scalar (float64).
    """
    true, generated = _as_batch(true, "true"), _as_batch(generated, "generated")
    if true.shape[-1] != generated.shape[-1]:
        raise ValueError(f"true has {true.shape[-1]} dimensions but generated has {generated.shape[-1]}")
    if not torch.isfinite(true).all():
        raise ValueError("the true trajectory has NaN or inf values")
    points = true.reshape(-1, true.shape[-1]).double()
    margin = 0.1 * points.std(0)
    low, high = points.min(0).values - margin, points.max(0).values + margin
    # a constant dimension still needs a box of positive width
    high = torch.where(high > low, high, low + 1.0)
    finite = generated.reshape(-1, generated.shape[-1])
    finite = finite[torch.isfinite(finite).all(-1)]
    p = state_space_histogram(points, low, high, n_bins)
    q = state_space_histogram(finite, low, high, n_bins)
    p = (p + smoothing) / (p.sum() + smoothing * p.numel())
    q = (q + smoothing) / (q.sum() + smoothing * q.numel())
    return (p * (p / q).log()).sum()


def gaussian_smooth(x: Tensor, sigma: float, truncate: float = 4.0) -> Tensor:
    r"""Gaussian smoothing along the last dimension, as ``scipy.ndimage.gaussian_filter1d``.

    The kernel :math:`w_k \propto e^{-k^2 / 2\sigma^2}` for :math:`|k| \le \lfloor truncate \cdot
    \sigma + 0.5 \rfloor`, normalised to sum 1; the signal is extended by mirroring about its edges
    (scipy's ``mode="reflect"``: ``d c b a | a b c d | d c b a``).

    Shapes:
        x [..., L] -> [..., L].
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    length = x.shape[-1]
    index = torch.arange(-radius, length + radius, device=x.device) % (2 * length)
    index = torch.where(index >= length, 2 * length - 1 - index, index)
    padded = x[..., index]
    windows = padded.unfold(-1, 2 * radius + 1, 1)
    return windows @ kernel


def power_spectrum(x: Tensor, sigma: float = 20.0) -> Tensor:
    r"""Normalised, smoothed power spectrum of each dimension of trajectories ``x`` [B, T, N].

    Each dimension is z-scored over time, then :math:`|\mathrm{rfft}(x)|^2` is smoothed by
    :func:`gaussian_smooth` with ``sigma`` (frequency bins) and divided by its sum.

    Shapes:
        x [B, T, N] -> [B, N, T // 2 + 1].
    """
    x = x.double()
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True).clamp_min(1e-12)
    spectrum = torch.fft.rfft(x, dim=1).abs().square().transpose(1, 2)
    spectrum = gaussian_smooth(spectrum, sigma)
    return spectrum / spectrum.sum(-1, keepdim=True).clamp_min(1e-300)


def hellinger_spectrum_distance(true: Tensor, generated: Tensor, sigma: float = 20.0) -> Tensor:
    r""":math:`D_H`: Hellinger distance of smoothed power spectra, averaged over dimensions.

    With :math:`p, q` the normalised smoothed spectra (:func:`power_spectrum`) of one dimension,

    .. math::
        H(p, q) = \frac{1}{\sqrt 2} \lVert \sqrt p - \sqrt q \rVert_2 \in [0, 1], \qquad
        D_H = \frac{1}{N} \sum_{n=1}^{N} H(p_n, q_n),

    also averaged over the B trajectories of a batch (the i-th generated trajectory is compared
    with the i-th true one). Equal spectra give 0; spectra with no common frequency give 1.

    Args:
        true: reference trajectories [T, N] or [B, T, N].
        generated: generated trajectories of the same shape.
        sigma: smoothing width in frequency bins (20 in the paper's code).

    Shapes:
        true, generated [(B,) T, N] -> scalar (float64).
    """
    true, generated = _as_batch(true, "true"), _as_batch(generated, "generated")
    if true.shape != generated.shape:
        raise ValueError(
            f"true and generated must have the same shape (the spectra are compared bin by bin), "
            f"got {tuple(true.shape)} and {tuple(generated.shape)}"
        )
    p, q = power_spectrum(true, sigma), power_spectrum(generated, sigma)
    distance = (p.sqrt() - q.sqrt()).norm(dim=-1) / math.sqrt(2)
    # a generated dimension that is NaN counts as the largest distance
    return torch.nan_to_num(distance, nan=1.0).mean()


def prediction_error(forecast: Callable[[Tensor, int], Tensor], data: Tensor, steps: int = 20) -> Tensor:
    r"""n-step-ahead prediction error: start the model on each data point, compare n steps on.

    .. math::
        PE(n) = \frac{1}{(T - n) N} \sum_{t=1}^{T-n} \lVert \hat x_{t+n \mid t} - x_{t+n} \rVert_2^2

    where :math:`\hat x_{t+n \mid t} =` ``forecast(x_t, n)``, the model's observation n steps after
    it was started from the data point :math:`x_t`. Every start of every sequence is forecast in
    one batch.

    Args:
        forecast: maps starting observations [K, N] and ``steps`` to the observations ``steps``
            steps later [K, N].
        data: trajectories [T, N] or [B, T, N] with T > ``steps``.
        steps: the horizon n (20 in the paper).

    Shapes:
        data [(B,) T, N] -> scalar.
    """
    data = _as_batch(data, "data")
    if steps < 1 or data.shape[1] <= steps:
        raise ValueError(f"steps must be in 1..T-1 = 1..{data.shape[1] - 1}, got {steps}")
    starts = data[:, :-steps].reshape(-1, data.shape[-1])
    predicted = forecast(starts, steps)
    target = data[:, steps:].reshape(-1, data.shape[-1])
    if predicted.shape != target.shape:
        raise ValueError(f"forecast must return [K, N] = {tuple(target.shape)}, got {tuple(predicted.shape)}")
    return (predicted - target).square().mean()
