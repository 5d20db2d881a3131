"""Causal long convolution as a plain loop over output steps: the ground truth for the direct and FFT forms."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["long_conv_naive"]


def long_conv_naive(x: Tensor, weight: Tensor, initial_state: Tensor) -> tuple[Tensor, Tensor]:
    r"""Per-channel causal convolution with kernel length K over all earlier inputs.

    .. math:: y_t = \sum_{j=0}^{K-1} w_{K-1-j} \odot x_{t-j}

    where inputs before the sequence come from ``initial_state``.

    Args:
        x: inputs [B, T, C].
        weight: one filter per channel [C, K]; ``weight[:, K - 1]`` multiplies the current input.
        initial_state: the K − 1 inputs before the sequence [B, K − 1, C], oldest first.

    Returns:
        y [B, T, C] and the last K − 1 inputs [B, K − 1, C].
    """
    window = weight.shape[1]
    padded = torch.cat([initial_state, x], dim=1)
    outputs = [(padded[:, t : t + window] * weight.T).sum(1) for t in range(x.shape[1])]
    return torch.stack(outputs, 1), padded[:, padded.shape[1] - window + 1 :]
