"""sLSTM: the scalar-memory LSTM of xLSTM, with exponential gating and a normaliser state.

Beck et al., "xLSTM: Extended Long Short-Term Memory", NeurIPS 2024, https://arxiv.org/abs/2405.04517;
Pöppel et al., "FlashRNN: I/O-Aware Optimization of Traditional RNNs on Modern Hardware", ICLR 2025,
https://arxiv.org/abs/2412.07752 (head-wise block-diagonal recurrence, fused per-step kernels).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.ops.slstm import fused_slstm, slstm_naive
from recur_core.registry import register_layer

__all__ = ["SLSTM"]

_FORGET_GATES = ("sigmoid", "exp")
_BACKENDS = {"fused": fused_slstm, "naive": slstm_naive}


@register_layer("slstm")
class SLSTM(SequenceLayer):
    r"""sLSTM layer: input projections for all steps at once, then the inherently sequential cell.

    Per head, with :math:`(\tilde\imath, \tilde f, \tilde z, \tilde o)_t = W x_t + b + R\,h_{t-1}` and
    :math:`R` block-diagonal over heads:

    .. math::
        m_t = \max(\log f_t + m_{t-1}, \tilde\imath_t),\quad
        i'_t = e^{\tilde\imath_t - m_t},\quad f'_t = e^{\log f_t + m_{t-1} - m_t}

        c_t = f'_t c_{t-1} + i'_t \tanh \tilde z_t,\quad n_t = f'_t n_{t-1} + i'_t,\quad
        h_t = \sigma(\tilde o_t) \odot c_t / n_t,\qquad y_t = W_o\, \mathrm{GroupNorm}_{heads}(h_t)

    with :math:`\log f_t = \log\sigma(\tilde f_t)` (``forget_gate="sigmoid"``) or
    :math:`\tilde f_t` (``"exp"``). The stabiliser :math:`m` makes the exponentials safe without
    changing :math:`h`. ``backend="fused"`` (default) runs the TorchScript loops with a hand-derived
    backward (:func:`~recur_core.ops.slstm.fused_slstm`); ``"naive"`` runs the plain cell under
    autograd; both compute the same numbers. Padded steps leave every state unchanged.

    Args:
        d_model: width D.
        num_heads: number of heads H, each with its own K×4K recurrent block; D divisible by H (default 4).
        forget_gate: ``"sigmoid"`` (default) or ``"exp"``.
        backend: ``"fused"`` (default) or ``"naive"``; does not change the math.

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (h, c, n, m), each [B, H, D/H].
    """

    def __init__(self, d_model: int, num_heads: int = 4, forget_gate: str = "sigmoid", backend: str = "fused") -> None:
        super().__init__(d_model)
        if d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if forget_gate not in _FORGET_GATES:
            raise ValueError(f"forget_gate must be one of {_FORGET_GATES}, got {forget_gate!r}")
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {tuple(_BACKENDS)}, got {backend!r}")
        self.num_heads, self.head_dim = num_heads, d_model // num_heads
        self.forget_gate, self.backend = forget_gate, backend
        k = self.head_dim
        self.gates = nn.Linear(d_model, 4 * d_model)
        self.R = nn.Parameter(torch.randn(num_heads, k, 4, k) / math.sqrt(k))
        self.norm = nn.GroupNorm(num_heads, d_model)
        self.out = nn.Linear(d_model, d_model, bias=False)
        with torch.no_grad():
            # xLSTM's forget-gate bias: spread over [3, 6] so that memories start long
            bias = self.gates.bias.view(num_heads, 4, k)
            bias[:, 1] = torch.linspace(3.0, 6.0, k)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.R.dtype
        zeros = torch.zeros(batch_size, self.num_heads, self.head_dim, device=device, dtype=dtype)
        return zeros, zeros.clone(), zeros.clone(), zeros.clone()

    def _recur(self, x: Tensor, state: State, mask: Tensor | None, backend: str) -> tuple[Tensor, State]:
        batch, steps, _ = x.shape
        gates_x = self.gates(x).view(batch, steps, self.num_heads, 4, self.head_dim)
        h, new_state = _BACKENDS[backend](gates_x, self.R, state, mask, self.forget_gate == "exp")
        h = h.reshape(batch * steps, self.d_model).to(x.dtype)
        y = self.out(self.norm(h)).view(batch, steps, self.d_model)
        return y, tuple(s.to(state[0].dtype) for s in new_state)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        mask = None if lengths is None else valid_mask(lengths, x.shape[1])
        return self._recur(x, state, mask, self.backend)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        y, state = self._recur(x_t[:, None], state, None, "naive")
        return y[:, 0], state
