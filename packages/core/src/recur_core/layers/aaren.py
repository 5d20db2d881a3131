"""Aaren: attention as a many-to-many RNN with a learned query.

Feng et al., "Attention as an RNN", 2024 (https://arxiv.org/abs/2405.13956).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.ops.prefix_attention import (
    empty_prefix_state,
    naive_prefix_attention,
    prefix_attention_inputs,
    prefix_attention_step,
    scan_prefix_attention,
)
from recur_core.registry import register_layer

__all__ = ["Aaren"]

_MODES = {"scan": scan_prefix_attention, "naive": naive_prefix_attention}


@register_layer("aaren")
class Aaren(SequenceLayer):
    r"""Multi-head softmax attention of a learned query over every prefix, as an RNN.

    .. math::
        s_{t,h} = \frac{q_h^\top W_{k,h} x_t}{\sqrt{d_h}}, \qquad
        o_{t,h} = \sum_{j \le t} \frac{e^{s_{j,h}}}{\sum_{i \le t} e^{s_{i,h}}}\, W_{v,h} x_j, \qquad
        y_t = W_o \,\mathrm{concat}_h\, o_{t,h}

    The query :math:`q_h` is a parameter, the same for every token (the paper's Aaren module);
    keys and values come from the input. Training forms every prefix at once with the parallel
    scan over the max-shifted state :math:`(m, u, w)` (running max score, softmax denominator and
    numerator); ``step`` updates that state in O(1), unlike a KV cache. Padded steps are the
    scan's identity and leave the state unchanged.

    Args:
        d_model: width D.
        num_heads: number of heads H; D must be divisible by H (default 4).
        bias: biases in the projections (default False).
        mode: ``"scan"`` (the parallel prefix scan, default) or ``"naive"`` (the token loop).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (m [B, H], u [B, H], w [B, H, D/H]).
    """

    def __init__(self, d_model: int, num_heads: int = 4, bias: bool = False, mode: str = "scan") -> None:
        super().__init__(d_model)
        if d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(_MODES)}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.mode = mode
        self.query = nn.Parameter(torch.randn(num_heads, self.head_dim))
        self.kv = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.query.dtype
        return empty_prefix_state(batch_size, self.num_heads, self.head_dim, device=device, dtype=dtype)

    def _keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        k, v = self.kv(x).unflatten(-1, (2, self.num_heads, self.head_dim)).unbind(-3)
        return k, v

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        batch, seq_len, _ = x.shape
        k, v = self._keys_values(x)
        q = self.query.expand(batch, -1, -1)
        mask = None if lengths is None else valid_mask(lengths, seq_len)
        o, new_state = _MODES[self.mode](q, k, v, initial_state=state, mask=mask)
        y = self.out(o.reshape(batch, seq_len, self.d_model))
        return y, tuple(t.to(s.dtype) for t, s in zip(new_state, state))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        k, v = self._keys_values(x_t)
        q = self.query.expand(x_t.shape[0], -1, -1)
        scores, values, dtype = prefix_attention_inputs(q, k[:, None], v[:, None], None, None)
        o, new_state = prefix_attention_step(scores[:, 0], values[:, 0], tuple(t.to(dtype) for t in state))
        y = self.out(o.reshape(x_t.shape[0], self.d_model).to(x_t.dtype))
        return y, tuple(t.to(s.dtype) for t, s in zip(new_state, state))
