"""Chunked causal softmax attention token by token, with a within-chunk KV buffer: the ground truth."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["chunked_attention_naive"]


def chunked_attention_naive(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    initial_state: tuple[Tensor, Tensor, Tensor],
    chunk_size: int,
    lengths: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    r"""Softmax attention restricted to non-overlapping chunks of ``chunk_size`` absolute positions.

    .. math::
        o_t = \sum_{s \in \mathcal C(t),\, s \le t} \frac{\exp(q_t^\top k_s / \sqrt{d})}
              {\sum_{s' \in \mathcal C(t),\, s' \le t} \exp(q_t^\top k_{s'} / \sqrt{d})} v_s

    where :math:`\mathcal C(t)` is the chunk holding position t (MEGA's chunked attention, Ma et al.,
    https://arxiv.org/abs/2209.10655). The state is the current chunk's keys and values so far and
    how many there are; it is emptied at every chunk boundary.

    Args:
        q, k, v: [B, T, H, D].
        initial_state: (keys [B, C, H, D], values [B, C, H, D], count [B] int64): slots ``< count``
            hold the current chunk's earlier tokens, the rest are zero.
        chunk_size: C.
        lengths: [B] valid steps per row (right padding); padded steps leave the state unchanged.

    Returns:
        o [B, T, H, D] and the final state.
    """
    keys, values, count = (s.clone() for s in initial_state)
    batch, steps = q.shape[:2]
    rows = torch.arange(batch, device=q.device)
    slots = torch.arange(chunk_size, device=q.device)
    scale = 1 / math.sqrt(q.shape[-1])
    outputs = []
    for t in range(steps):
        new_keys, new_values = keys.clone(), values.clone()
        new_keys[rows, count], new_values[rows, count] = k[:, t], v[:, t]
        scores = torch.einsum("bhd,bchd->bhc", q[:, t], new_keys) * scale
        scores = scores.masked_fill((slots[None] > count[:, None])[:, None], float("-inf"))
        outputs.append(torch.einsum("bhc,bchd->bhd", scores.softmax(-1), new_values))
        new_count = count + 1
        full = (new_count == chunk_size)[:, None, None, None]
        new_keys = torch.where(full, torch.zeros_like(new_keys), new_keys)
        new_values = torch.where(full, torch.zeros_like(new_values), new_values)
        new_count = new_count % chunk_size
        if lengths is None:
            keys, values, count = new_keys, new_values, new_count
        else:
            valid = t < lengths
            keys = torch.where(valid[:, None, None, None], new_keys, keys)
            values = torch.where(valid[:, None, None, None], new_values, values)
            count = torch.where(valid, new_count, count)
    return torch.stack(outputs, 1), (keys, values, count)
