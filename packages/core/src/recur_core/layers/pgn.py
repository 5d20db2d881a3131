"""PGN: the Parallel Gated Network, a historical-information-extraction convolution plus a gate.

Jia et al., "PGN: The RNN's New Successor is Effective for Long-Range Time Series Forecasting",
NeurIPS 2024, https://arxiv.org/abs/2409.17703.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State
from recur_core.ops.long_conv import long_conv
from recur_core.registry import register_layer

__all__ = ["PGN"]


@register_layer("pgn")
class PGN(SequenceLayer):
    r"""PGN layer: a per-channel causal convolution over the last ``max_len`` inputs, then a gate.

    .. math::
        H_t = b + \sum_{j=0}^{L-1} w_{L-1-j} \odot x_{t-j},\qquad
        (g_t, u_t) = W [x_t, H_t] + c,\qquad
        y_t = \sigma(g_t) \odot H_t + (1 - \sigma(g_t)) \odot \tanh(u_t)

    The historical-information-extraction (HIE) layer is the convolution with kernel length
    :math:`L` = ``max_len``, one filter per channel as in the reference code (``groups`` = channels);
    :math:`W` is the 1×1 projection of the concatenation. Every input up to ``max_len`` steps back
    reaches :math:`y_t` through this single convolution hop: that is the paper's "O(1) information
    path". Training convolves the whole sequence at once (direct for short kernels, FFT for long ones,
    chosen by ``conv_method``); ``step`` keeps a rolling buffer of the last ``max_len`` − 1 inputs, so it
    costs O(``max_len``) per token, constant in T.

    Args:
        d_model: width D.
        max_len: HIE kernel length L, the longest history seen (default 128).
        conv_method: ``"auto"`` (default; FFT for long kernels over long inputs), ``"direct"`` or ``"fft"``;
            does not change the math (the FFT leaves roundoff-level leakage from later inputs).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state [B, max_len - 1, D] (the previous inputs, oldest first).
    """

    def __init__(self, d_model: int, max_len: int = 128, conv_method: str = "auto") -> None:
        super().__init__(d_model)
        if max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len}")
        if conv_method not in ("auto", "direct", "fft"):
            raise ValueError(f"conv_method must be 'auto', 'direct' or 'fft', got {conv_method!r}")
        self.max_len, self.conv_method = max_len, conv_method
        self.hie_weight = nn.Parameter(torch.empty(d_model, max_len).uniform_(-1, 1) / math.sqrt(max_len))
        self.hie_bias = nn.Parameter(torch.zeros(d_model))
        self.gate = nn.Linear(2 * d_model, 2 * d_model)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        return torch.zeros(
            batch_size, self.max_len - 1, self.d_model, device=device, dtype=dtype or self.hie_bias.dtype
        )

    def _gate(self, x: Tensor, hidden: Tensor) -> Tensor:
        g, u = self.gate(torch.cat([x, hidden], dim=-1)).chunk(2, dim=-1)
        g = torch.sigmoid(g)
        return g * hidden + (1 - g) * torch.tanh(u)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        hidden, state = long_conv(x, self.hie_weight, state, lengths, self.conv_method)
        return self._gate(x, hidden + self.hie_bias), state

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        window = torch.cat([state, x_t[:, None]], dim=1)
        hidden = torch.einsum("blc,cl->bc", window, self.hie_weight) + self.hie_bias
        return self._gate(x_t, hidden), window[:, 1:]
