"""Causal depthwise 1-D convolution with a rolling-buffer state, shared by layers that use a short
convolution before their recurrence (Mamba, DeltaNet, ...)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CausalConv1d"]


class CausalConv1d(nn.Module):
    r"""Depthwise causal convolution over time with kernel size K.

    .. math:: y_t = b + \sum_{i=0}^{K-1} w_i \odot x_{t-K+1+i}

    The state is the last K − 1 inputs, so a sequence can be continued exactly and ``step``
    costs O(K) per token.

    Args:
        channels: number of channels C (one filter each).
        kernel_size: K (default 4).
        bias: learnable bias (default True).

    Shapes:
        x [B, T, C] -> y [B, T, C]; state [B, K - 1, C] (the previous inputs, oldest first).
    """

    def __init__(self, channels: int, kernel_size: int = 4, bias: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(channels, 1, kernel_size))
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def init_state(self, batch_size: int, device=None, dtype=None) -> Tensor:
        return torch.zeros(
            batch_size, self.kernel_size - 1, self.channels, device=device, dtype=dtype or self.weight.dtype
        )

    def forward(self, x: Tensor, state: Tensor | None = None, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Convolve ``x`` [B, T, C] after ``state``; the new state holds each row's last K − 1 valid inputs."""
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        padded = torch.cat([state, x], dim=1)
        y = F.conv1d(padded.transpose(1, 2), self.weight, self.bias, groups=self.channels).transpose(1, 2)
        keep = self.kernel_size - 1
        if lengths is None:
            new_state = padded[:, padded.shape[1] - keep :]
        else:
            # row b's last valid input sits at padded index keep + lengths[b] - 1
            index = lengths[:, None] + torch.arange(keep, device=x.device)
            new_state = padded.gather(1, index[..., None].expand(-1, -1, self.channels))
        return y, new_state

    def step(self, x_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One token ``x_t`` [B, C] -> ``y_t`` [B, C] and the shifted state."""
        window = torch.cat([state, x_t[:, None]], dim=1)
        y = torch.einsum("btc,ct->bc", window, self.weight[:, 0])
        if self.bias is not None:
            y = y + self.bias
        return y, window[:, 1:]
