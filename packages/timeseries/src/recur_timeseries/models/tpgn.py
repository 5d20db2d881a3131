r"""TPGN: the Temporal Parallel Gated Network, a long-range forecaster built on PGN.

Jia, Lin, Wang, Chen, Liu (NeurIPS 2024), "PGN: The RNN's New Successor is Effective for Long-Range
Time Series Forecasting", https://arxiv.org/abs/2409.17703; official code ``Water2sea/TPGN``
(``models/TPGN.py``), which this file follows where it and the paper differ.

The input window of L = R·P steps is folded into R rows of one period P (24 for hourly data), so that
column p holds the R values at phase p of the period. Two branches read that grid:

- long-term: a PGN runs along the R rows of every column (the same phase on successive days), and a
  linear over its R outputs ("Linear_long", the official kernel-R convolution) summarises it;
- short-term: a linear over each row's P values ("Linear_row"), then a linear over the R rows
  ("Linear_col"), one summary repeated for every column.

Their concatenation is mapped by a last linear to the pred_R = H / P future values of each column,
and the columns are interleaved back into H steps. The path from any input to any output crosses one
PGN hop and a few linears, O(1) in the window, and the recurrence runs over R = L / P rows, about √L:
the paper's O(√L) complexity (``tools/bench/tpgn.py`` measures the training cost against LSTM and
attention forecasters).

Every weight is a channel's own: the official convolutions all use ``groups = channels``, so channels
never mix, and neither do they here (per-channel linears are one einsum over a stacked weight; the
recurrence is one core layer per channel, or one shared layer with ``share_layer=True``).

Reads bottom-up: a stack of per-channel linears, then the model and its registered builder.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from recur_core import build_layer
from recur_core.registry import register_model

__all__ = ["TPGN", "ChannelLinear"]


class ChannelLinear(nn.Module):
    """One ``nn.Linear(in_features, out_features)`` per channel, all applied in one einsum.

    The same map as a ``Conv1d`` with ``groups = channels`` whose kernel spans its whole input, the
    form the official TPGN code uses. Initialised like ``nn.Linear``: U(±1/√in_features).

    Shapes:
        x [..., channels, in_features] -> [..., channels, out_features];
        weight [channels, out_features, in_features], bias [channels, out_features].
    """

    def __init__(self, channels: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(channels, out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(channels, out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        y = torch.einsum("...ci,coi->...co", x, self.weight)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        channels, out_features, in_features = self.weight.shape
        return (
            f"channels={channels}, in_features={in_features}, out_features={out_features}, bias={self.bias is not None}"
        )


@register_model("tpgn")
class TPGN(nn.Module):
    r"""TPGN forecaster: per-channel long (PGN along rows) and short (row/column linears) branches.

    With the window of one channel folded into rows :math:`X \in \mathbb{R}^{R \times P}`
    (:math:`X_{r,p} = x_{rP+p}`), column :math:`p` is the sequence :math:`X_{1..R,\,p}` and

    .. math::
        e_r &= a\, X_{r,p} \in \mathbb{R}^{d}, \qquad
        H_r = b + \sum_{j=0}^{R-1} w_j \odot e_{r-j}, \\
        h_r &= \sigma(g_r) \odot H_r + (1 - \sigma(g_r)) \odot \tanh(u_r), \quad (g_r, u_r) = W_g [e_r, H_r] + c, \\
        \ell_p &= \mathrm{Linear\_long}(h_1, \dots, h_R) \in \mathbb{R}^{d}, \qquad
        s &= \mathrm{Linear\_col}\big(\mathrm{Linear\_row}(X_{1,:}), \dots, \mathrm{Linear\_row}(X_{R,:})\big), \\
        \hat Y_{:,p} &= \mathrm{Linear\_out}([s, \ell_p]) \in \mathbb{R}^{R_{pred}}, \qquad \hat y_{rP+p} = \hat Y_{r,p}

    (:math:`e_{r-j} = 0` before the first row). The second line is the core ``pgn`` layer
    (:class:`recur_core.layers.pgn.PGN`, HIE kernel ``max_len`` = R); ``layer`` swaps it for any
    registered core layer (``gru``, ``lstm``, ``gla``, ...), which then runs along the R rows of each
    column in its place. With ``norm`` the window is first standardised per channel
    (:math:`(x - \mu) / \sqrt{\mathrm{var} + 10^{-5}}`, population variance) and the forecast mapped back
    (:math:`\hat y \sigma + \mu`), as the official code does (RevIN without its affine weights).

    Where recur differs from ``Water2sea/TPGN``, and why:

    - **No time marks.** The official HIE, gate and Linear_row also read the calendar features of each
      step (4 for hourly, 5 for minutely data). Recur forecasters take the values only
      (``forward(x)``), so TPGN sees none; the marks are deterministic functions of the position, which
      for a fixed period P the fold into rows already exposes.
    - **HIE on an embedding, current row included.** The official HIE is a dense convolution from the
      channel's input (and marks) to d features over the R − 1 *previous* rows only. The core PGN
      layer is width-preserving and depthwise, so the value is first embedded by a bias-free linear
      :math:`e_r = a X_{r,p}`; with one input feature :math:`w_j \odot (a\, x) = (w_j \odot a)\, x` spans
      the same maps as the official kernel. The core kernel also covers the current row (j = 0), which
      the official one leaves to the gate alone: a superset of the official model (a zero
      :math:`w_0` recovers it), kept so that the layer stays the core's.
    - **Recurrence weights.** Official: per channel, like everything else. Here every channel has its
      own core layer by default (``share_layer=False``; the layers are called one channel at a time,
      each over all batch rows, columns and R rows at once, since core layers have no grouped form);
      ``share_layer=True`` uses one layer for all channels, folded into the batch (faster with many
      channels). The linears are per channel in both cases, and channels never mix in either.
    - **Divisibility.** The official code rounds R and pred_R up (``ceil``) but then reshapes without
      padding, so it only runs when P divides L and H; recur checks that up front.

    Args:
        input_len: window length L, a multiple of ``period`` (default 96).
        horizon: forecast length H, a multiple of ``period`` (default 96).
        channels: number of series C, each with its own weights (default 7, the ETT files).
        d_model: width d of both branches (default 8; the paper tunes it per data set: ETTh1 2/2/2/8 for
            horizons 168/336/720/1440, ETTh2 8, Weather 4, ECL 32, Traffic 128–256).
        period: P, the row length (default 24, the paper's everywhere).
        norm: standardise each window per channel and map the forecast back (default False, as the
            official ``--norm 0``; the paper sets it for ETTh1 and Traffic).
        layer: the recurrence along the rows, any registered core layer (default ``"pgn"``, the paper's).
        layer_kwargs: extra keyword arguments of the layer; for ``pgn`` ``max_len`` defaults to R.
        share_layer: one recurrent layer for all channels instead of one per channel (default False).

    Shapes:
        x [B, L, C] -> forecast [B, H, C]; internally rows [B, R, P, C], the recurrence over
        [B·P, R, d] per channel (or [B·P·C, R, d] shared), each branch [B, P, C, d].
    """

    def __init__(
        self,
        input_len: int = 96,
        horizon: int = 96,
        channels: int = 7,
        d_model: int = 8,
        period: int = 24,
        norm: bool = False,
        layer: str = "pgn",
        layer_kwargs: dict | None = None,
        share_layer: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("input_len", input_len), ("horizon", horizon), ("channels", channels)):
            if value < 1:
                raise ValueError(f"TPGN {name} must be a positive integer, got {value}")
        if d_model < 1 or period < 1:
            raise ValueError(
                f"TPGN d_model and period must be positive integers, got d_model={d_model}, period={period}"
            )
        for name, value in (("input_len", input_len), ("horizon", horizon)):
            if value % period:
                raise ValueError(
                    f"TPGN needs {name} divisible by period: got {name}={value}, period={period}; "
                    f"use a multiple of {period} (e.g. {period * max(1, round(value / period))}) or another period"
                )
        self.input_len, self.horizon, self.channels = input_len, horizon, channels
        self.d_model, self.period, self.norm = d_model, period, bool(norm)
        self.rows, self.pred_rows = input_len // period, horizon // period
        self.layer_name, self.share_layer = layer, share_layer

        kwargs = dict(layer_kwargs or {})
        if layer == "pgn":
            kwargs.setdefault("max_len", self.rows)
        # long-term branch: embed each value, the recurrence along the rows, Linear_long over its R outputs
        # a bias-free nn.Linear(1, d_model) per channel, with its initialisation U(-1, 1)
        self.embed = nn.Parameter(torch.empty(channels, d_model).uniform_(-1.0, 1.0))
        count = 1 if share_layer else channels
        self.layers = nn.ModuleList(build_layer(layer, d_model=d_model, **kwargs) for _ in range(count))
        self.linear_long = ChannelLinear(channels, self.rows * d_model, d_model)
        # short-term branch: Linear_row over the P values of a row, Linear_col over the R rows
        self.linear_row = ChannelLinear(channels, period, d_model)
        self.linear_col = ChannelLinear(channels, self.rows * d_model, d_model)
        # [short, long] -> the pred_R future values of one column
        self.linear_out = ChannelLinear(channels, 2 * d_model, self.pred_rows)

    def _recur(self, seq: Tensor) -> Tensor:
        """The recurrence along the rows: seq [B, P, C, R, d] -> its outputs, same shape."""
        b, p, c, r, d = seq.shape
        if self.share_layer:
            return self.layers[0](seq.reshape(b * p * c, r, d))[0].reshape(b, p, c, r, d)
        outs = [layer(seq[:, :, i].reshape(b * p, r, d))[0] for i, layer in enumerate(self.layers)]
        return torch.stack(outs, dim=1).reshape(b, p, c, r, d)

    def forward(self, x: Tensor) -> Tensor:
        """Forecast the next ``horizon`` steps of every channel from the window x [B, L, C] -> [B, H, C]."""
        if x.dim() != 3 or x.shape[1:] != (self.input_len, self.channels):
            raise ValueError(
                f"TPGN expects x [B, input_len, channels] = [B, {self.input_len}, {self.channels}], "
                f"got {tuple(x.shape)}; build it with matching input_len/channels"
            )
        if self.norm:
            mean = x.mean(dim=1, keepdim=True).detach()
            x = x - mean
            std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-5)
            x = x / std
        b, (r, p, c) = x.shape[0], (self.rows, self.period, self.channels)
        grid = x.reshape(b, r, p, c)

        # long term: column p of channel c is the length-R sequence grid[:, :, p, c]
        seq = grid.permute(0, 2, 3, 1)[..., None] * self.embed[:, None]  # [B, P, C, R, d]
        long = self.linear_long(self._recur(seq).reshape(b, p, c, r * self.d_model))  # [B, P, C, d]

        # short term: one summary per channel, the same for every column
        rows = self.linear_row(grid.transpose(2, 3))  # [B, R, C, d]
        short = self.linear_col(rows.transpose(1, 2).reshape(b, c, -1))  # [B, C, d]

        both = torch.cat([short[:, None].expand(b, p, c, self.d_model), long], dim=-1)
        out = self.linear_out(both)  # [B, P, C, pred_R]
        out = out.permute(0, 3, 1, 2).reshape(b, self.horizon, c)
        if self.norm:
            out = out * std + mean
        return out

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """A valid input batch (for tests and shape checks): x [batch_size, input_len, channels]."""
        return (torch.randn(batch_size, self.input_len, self.channels),)

    def extra_repr(self) -> str:
        return (
            f"input_len={self.input_len}, horizon={self.horizon}, channels={self.channels}, d_model={self.d_model}, "
            f"period={self.period}, rows={self.rows}, pred_rows={self.pred_rows}, norm={self.norm}, "
            f"layer={self.layer_name!r}, share_layer={self.share_layer}"
        )
