"""The classic gated and ungated RNNs, trained through ``torch.nn.LSTM/GRU/RNN``.

Training runs the whole sequence through PyTorch's fused kernels (oneDNN on CPU, cuDNN on
GPU); ``step`` calls the matching single-step cell (``torch.lstm_cell`` and friends) on the
very same weights, so the two forms agree to float tolerance.

Shapes:
    x [B, T, D] -> y [B, T, D]; state h [B, D] (LSTM: the tuple (h, c), each [B, D]).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from recur_core.layers.base import SequenceLayer, State
from recur_core.registry import register_layer

__all__ = ["GRU", "LSTM", "Elman"]


class _TorchRNN(SequenceLayer):
    """Shared plumbing: one-layer, hidden size = d_model, batch-first torch RNN."""

    @abc.abstractmethod
    def _make_rnn(self, d_model: int) -> nn.RNNBase:
        """The single-layer torch RNN this layer trains through."""

    def __init__(self, d_model: int) -> None:
        super().__init__(d_model)
        self.rnn = self._make_rnn(d_model)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.rnn.weight_hh_l0.dtype
        return torch.zeros(batch_size, self.d_model, device=device, dtype=dtype)

    def _to_torch(self, state: State):
        return state.unsqueeze(0).contiguous()

    def _from_torch(self, hx) -> State:
        return hx.squeeze(0)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        hx = self._to_torch(state)
        if lengths is None:
            y, hx = self.rnn(x, hx)
            return y, self._from_torch(hx)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, hx = self.rnn(packed, hx)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return y, self._from_torch(hx)

    def _weights(self) -> tuple[Tensor, ...]:
        r = self.rnn
        return r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0


@register_layer("lstm")
class LSTM(_TorchRNN):
    r"""Long short-term memory (Hochreiter & Schmidhuber, 1997), PyTorch's gate layout.

    .. math::
        i, f, g, o = \sigma, \sigma, \tanh, \sigma\,(W x_t + U h_{t-1} + b),\quad
        c_t = f \odot c_{t-1} + i \odot g,\quad h_t = o \odot \tanh c_t

    Args:
        d_model: input width D, also the hidden size.
    """

    def _make_rnn(self, d_model: int) -> nn.RNNBase:
        return nn.LSTM(d_model, d_model, batch_first=True)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        h = super().init_state(batch_size, device, dtype)
        return h, h.clone()

    def _to_torch(self, state: State):
        return tuple(s.unsqueeze(0).contiguous() for s in state)

    def _from_torch(self, hx) -> State:
        return tuple(s.squeeze(0) for s in hx)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = torch.lstm_cell(x_t, state, *self._weights())
        return h, (h, c)


@register_layer("gru")
class GRU(_TorchRNN):
    r"""Gated recurrent unit (Cho et al., 2014), PyTorch's formulation.

    .. math::
        r, z = \sigma(W x_t + U h_{t-1} + b),\quad
        n = \tanh(W_n x_t + b_n + r \odot (U_n h_{t-1} + b'_n)),\quad
        h_t = (1 - z) \odot n + z \odot h_{t-1}

    Args:
        d_model: input width D, also the hidden size.
    """

    def _make_rnn(self, d_model: int) -> nn.RNNBase:
        return nn.GRU(d_model, d_model, batch_first=True)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        h = torch.gru_cell(x_t, state, *self._weights())
        return h, h


@register_layer("elman")
class Elman(_TorchRNN):
    r"""Elman network (Elman, 1990): the plain tanh RNN.

    .. math:: h_t = \tanh(W x_t + U h_{t-1} + b)

    Args:
        d_model: input width D, also the hidden size.
    """

    def _make_rnn(self, d_model: int) -> nn.RNNBase:
        return nn.RNN(d_model, d_model, nonlinearity="tanh", batch_first=True)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        h = torch.rnn_tanh_cell(x_t, state, *self._weights())
        return h, h
