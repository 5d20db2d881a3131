r"""Softmax attention of one query over every prefix, as an RNN: the ground truth for :mod:`.scan`.

Feng et al., "Attention as an RNN", 2024 (https://arxiv.org/abs/2405.13956), section 3.1. With the
scores :math:`s_t = \text{scale}\; q^\top k_t`, the state :math:`(m_t, u_t, w_t)` holds the running
maximum score, the softmax denominator and numerator, both shifted by :math:`m_t` so nothing overflows:

.. math::
    m_t = \max(m_{t-1}, s_t), \quad
    u_t = u_{t-1} e^{m_{t-1} - m_t} + e^{s_t - m_t}, \quad
    w_t = w_{t-1} e^{m_{t-1} - m_t} + v_t e^{s_t - m_t}, \quad
    o_t = w_t / u_t

so :math:`o_t = \sum_{j \le t} \mathrm{softmax}_j(s_{0..t})\, v_j`. The empty prefix is
:math:`(-\infty, 0, 0)`; a step with ``mask`` False is that identity and leaves the state unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["empty_prefix_state", "naive_prefix_attention", "prefix_attention_inputs", "prefix_attention_step"]

State = tuple[Tensor, Tensor, Tensor]


def empty_prefix_state(batch: int, heads: int, value_dim: int, device=None, dtype=None) -> State:
    """The state of the empty prefix: m = -inf, u = 0, w = 0, shapes [B, H], [B, H], [B, H, V]."""
    m = torch.full((batch, heads), float("-inf"), device=device, dtype=dtype)
    return (
        m,
        torch.zeros(batch, heads, device=device, dtype=dtype),
        torch.zeros(batch, heads, value_dim, device=device, dtype=dtype),
    )


def prefix_attention_inputs(
    q: Tensor, k: Tensor, v: Tensor, scale: float | None, mask: Tensor | None
) -> tuple[Tensor, Tensor, torch.dtype]:
    """Scores ``[B, T, H]`` (-inf where ``mask`` is False) and values ``[B, T, H, V]`` (0 there), in
    float32 or better, and that dtype."""
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), torch.float32)
    scale = k.shape[-1] ** -0.5 if scale is None else scale
    scores = torch.einsum("bthk,bhk->bth", k.to(dtype), q.to(dtype)) * scale
    v = v.to(dtype)
    if mask is not None:
        scores = scores.masked_fill(~mask[..., None], float("-inf"))
        v = v.masked_fill(~mask[..., None, None], 0.0)
    return scores, v, dtype


def prefix_attention_step(s_t: Tensor, v_t: Tensor, state: State) -> tuple[Tensor, State]:
    """One step: score ``s_t`` [B, H] and value ``v_t`` [B, H, V] into the state; returns o_t [B, H, V]."""
    m, u, w = state
    m_new = torch.maximum(m, s_t)
    # a step that sees only -inf scores keeps a finite reference so that no -inf - (-inf) appears
    ref = m_new.masked_fill(m_new == float("-inf"), 0.0)
    keep, add = torch.exp(m - ref), torch.exp(s_t - ref)
    u = u * keep + add
    w = w * keep[..., None] + v_t * add[..., None]
    return w / u[..., None], (m_new, u, w)


def naive_prefix_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float | None = None,
    initial_state: State | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Attention of the query ``q`` over every prefix of ``k``, ``v``, one step at a time.

    Args:
        q: one query per row and head ``[B, H, K]``.
        k: keys ``[B, T, H, K]``.
        v: values ``[B, T, H, V]``.
        scale: score scale (default :math:`K^{-1/2}`).
        initial_state: ``(m [B, H], u [B, H], w [B, H, V])`` of earlier tokens (default: empty).
        mask: ``[B, T]`` bool, False for steps to skip (right padding); default all True.

    Returns:
        ``o`` ``[B, T, H, V]`` in ``v``'s dtype, and the final state ``(m, u, w)`` in float32 or better.
    """
    scores, values, dtype = prefix_attention_inputs(q, k, v, scale, mask)
    state = initial_state
    if state is None:
        state = empty_prefix_state(k.shape[0], k.shape[2], v.shape[-1], device=k.device, dtype=dtype)
    state = tuple(t.to(dtype) for t in state)
    outputs = []
    for s_t, v_t in zip(scores.unbind(1), values.unbind(1)):
        o_t, state = prefix_attention_step(s_t, v_t, state)
        outputs.append(o_t)
    return torch.stack(outputs, 1).to(v.dtype), state
