r"""Parallel (attention-like) form of causal linear attention with an optional decay.

RetNet's parallel retention, :math:`O = (Q K^\top \odot D) V` with :math:`D_{ij} = \gamma^{i-j}` for
:math:`i \ge j` and 0 otherwise (Sun et al. 2023, https://arxiv.org/abs/2307.08621), generalised to
any log-decay. With the cumulative log-decay :math:`b_i = \sum_{l \le i} g_l` from the sequence start:

.. math::
    o_i = (q_i \odot e^{b_i})^\top S_0 + \sum_{j \le i} \big(q_i \odot e^{b_i - b_j}\big)^\top k_j \; v_j,
    \qquad S_T = \mathrm{diag}(e^{b_T}) S_0 + \sum_j (k_j \odot e^{b_T - b_j})\, v_j^\top

:math:`D` costs O(T²) (O(T² K) for a decay per key): a reference and a short-sequence form. Retention
here has no softmax and no row normalisation of D, so it equals the recurrent and chunkwise forms.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["parallel_linear_attn"]


def parallel_linear_attn(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None = None,
    scale: float | None = None,
    initial_state: Tensor | tuple[Tensor, Tensor] | None = None,
    normalize: bool = False,
    eps: float = 1e-6,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """Causal linear attention as one masked T × T product; arguments and results as :func:`.naive.naive_linear_attn`.

    Shapes:
        q, k [B, T, H, K]; v [B, T, H, V]; g [B, T, H] or [B, T, H, K]
        -> output [B, T, H, V] in v's dtype; final state S [B, H, K, V] (and z [B, H, K]).
    """
    batch, seq_len, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    scale = key_dim**-0.5 if scale is None else scale
    dtype = torch.promote_types(q.dtype, torch.float32)
    out_dtype = v.dtype
    with torch.autocast(q.device.type, enabled=False):
        q, k, v = (t.to(dtype).transpose(1, 2) for t in (q, k, v))
        q = q * scale
        if initial_state is None:
            s0 = q.new_zeros(batch, heads, key_dim, value_dim)
            z0 = q.new_zeros(batch, heads, key_dim)
        else:
            s0, z0 = (initial_state[0], initial_state[1]) if normalize else (initial_state, None)
            s0 = s0.to(dtype)
        if normalize:
            v = torch.cat([v, v.new_ones(*v.shape[:-1], 1)], dim=-1)
            s0 = torch.cat([s0, z0.to(dtype)[..., None]], dim=-1)
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=q.device).tril()
        if g is None:
            attn = (q @ k.transpose(-1, -2)).masked_fill(~causal, 0.0)
            q_in, k_out, decay = q, k, None
        else:
            b = g.to(torch.promote_types(g.dtype, dtype)).transpose(1, 2).cumsum(2)
            if b.dim() == 3:
                b = b[..., None]
            rel = (b[:, :, :, None] - b[:, :, None, :]).masked_fill(~causal[..., None], float("-inf"))
            attn = torch.einsum("bhik,bhjk,bhijk->bhij", q, k, rel.exp().to(dtype))
            q_in = q * b.exp().to(dtype)
            k_out = k * (b[:, :, -1:] - b).exp().to(dtype)
            decay = b[:, :, -1].exp().to(dtype)
        out = q_in @ s0 + attn @ v
        final = k_out.transpose(-1, -2) @ v + (s0 if decay is None else decay[..., None] * s0)
        if normalize:
            out = out[..., :value_dim] / (out[..., value_dim:] + eps)
            final = (final[..., :value_dim], final[..., value_dim])
    return out.transpose(1, 2).to(out_dtype), final
