"""Causal long convolution, direct (``conv1d``) and through the FFT; ``long_conv`` picks by kernel length."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FFT_MIN_KERNEL", "FFT_MIN_STEPS", "long_conv", "long_conv_direct", "long_conv_fft"]

# kernels at least this long, over sequences at least FFT_MIN_STEPS long, go through the FFT
# (tools/bench/nonlinear.py measures the crossover); on short inputs the direct form is as fast and
# exactly causal, while the FFT leaves roundoff (~1e-17 in float64) on outputs before each input
FFT_MIN_KERNEL = 64
FFT_MIN_STEPS = 256


def _final_state(padded: Tensor, keep: int, lengths: Tensor | None) -> Tensor:
    if lengths is None:
        return padded[:, padded.shape[1] - keep :]
    # row b's last valid input sits at padded index keep + lengths[b] - 1
    index = lengths[:, None] + torch.arange(keep, device=padded.device)
    return padded.gather(1, index[..., None].expand(-1, -1, padded.shape[2]))


def long_conv_direct(
    x: Tensor, weight: Tensor, initial_state: Tensor, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """:func:`~recur_core.ops.long_conv.naive.long_conv_naive` as one depthwise ``conv1d``: O(T K C).

    ``lengths`` [B] (right padding) makes the returned state each row's last K − 1 valid inputs.
    """
    padded = torch.cat([initial_state, x], dim=1)
    y = F.conv1d(padded.transpose(1, 2), weight[:, None], groups=weight.shape[0]).transpose(1, 2)
    return y, _final_state(padded, weight.shape[1] - 1, lengths)


def long_conv_fft(
    x: Tensor, weight: Tensor, initial_state: Tensor, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The same convolution through a real FFT of length >= T + K − 1: O((T + K) log(T + K) C), in float32 or better."""
    window = weight.shape[1]
    padded = torch.cat([initial_state, x], dim=1)
    total = padded.shape[1]
    # circular convolution of length >= total wraps only into the first K - 1 outputs, which are dropped
    size = 1 << (total - 1).bit_length()
    dtype = torch.promote_types(x.dtype, torch.float32)
    signal = torch.fft.rfft(padded.to(dtype), n=size, dim=1)
    kernel = torch.fft.rfft(weight.flip(1).T.to(dtype), n=size, dim=0)
    y = torch.fft.irfft(signal * kernel, n=size, dim=1)[:, window - 1 : total]
    return y.to(x.dtype), _final_state(padded, window - 1, lengths)


def long_conv(
    x: Tensor, weight: Tensor, initial_state: Tensor, lengths: Tensor | None = None, method: str = "auto"
) -> tuple[Tensor, Tensor]:
    """Causal long convolution by ``method``: ``"direct"``, ``"fft"`` or ``"auto"``.

    ``"auto"`` takes the FFT for K >= ``FFT_MIN_KERNEL`` and T >= ``FFT_MIN_STEPS``, else the direct form.
    """
    if method == "auto":
        long_input = weight.shape[1] >= FFT_MIN_KERNEL and x.shape[1] >= FFT_MIN_STEPS
        method = "fft" if long_input else "direct"
    if method == "fft":
        return long_conv_fft(x, weight, initial_state, lengths)
    if method == "direct":
        return long_conv_direct(x, weight, initial_state, lengths)
    raise ValueError(f"method must be 'auto', 'direct' or 'fft', got {method!r}")
