r"""Causal linear attention with an optional decay, one token at a time: the ground truth for
:mod:`.chunk` and :mod:`.parallel`.

Katharopoulos et al., "Transformers are RNNs", ICML 2020 (https://arxiv.org/abs/2006.16236) without
decay; RetNet (https://arxiv.org/abs/2307.08621) and Mamba-2/SSD (https://arxiv.org/abs/2405.21060)
with a scalar decay per head; GLA (https://arxiv.org/abs/2312.06635) with a decay per key.
The state is stored keys first, ``S [B, H, K, V]``:

.. math::
    S_t = \mathrm{diag}(\alpha_t)\, S_{t-1} + k_t v_t^\top, \qquad o_t = S_t^\top (s\, q_t)

The decay enters as its logarithm :math:`g_t = \log \alpha_t \le 0`: ``None`` (:math:`\alpha = 1`),
one value per head ``[B, T, H]`` (:math:`\alpha_t = e^{g_t} \mathbf{1}`) or one per key
``[B, T, H, K]``. With ``normalize=True`` the op also keeps the normaliser
:math:`z_t = \alpha_t \odot z_{t-1} + k_t` and returns
:math:`o_t = S_t^\top (s q_t) / (z_t^\top (s q_t) + \epsilon)`, linear attention's denominator.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["linear_attn_step", "naive_linear_attn"]


def linear_attn_step(
    q_t: Tensor,
    k_t: Tensor,
    v_t: Tensor,
    g_t: Tensor | None,
    state: Tensor | tuple[Tensor, Tensor],
    scale: float,
    normalize: bool = False,
    eps: float = 1e-6,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """One token of the recurrence, in the state's dtype.

    Shapes:
        q_t, k_t [B, H, K]; v_t [B, H, V]; g_t None, [B, H] or [B, H, K];
        state S [B, H, K, V], or (S, z [B, H, K]) when ``normalize``
        -> o_t [B, H, V] and the new state.
    """
    s, z = state if normalize else (state, None)
    q_t, k_t, v_t = (t.to(s.dtype) for t in (q_t, k_t, v_t))
    if g_t is not None:
        alpha = g_t.to(s.dtype).exp()
        alpha = alpha[..., None] if alpha.dim() == 2 else alpha
        s = s * alpha[..., None]
        z = None if z is None else z * alpha
    s = s + k_t[..., :, None] * v_t[..., None, :]
    q_t = q_t * scale
    o_t = torch.einsum("bhk,bhkv->bhv", q_t, s)
    if not normalize:
        return o_t, s
    z = z + k_t
    return o_t / ((q_t * z).sum(-1, keepdim=True) + eps), (s, z)


def naive_linear_attn(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None = None,
    scale: float | None = None,
    initial_state: Tensor | tuple[Tensor, Tensor] | None = None,
    normalize: bool = False,
    eps: float = 1e-6,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """The recurrence, one token at a time (float32 or better, autocast off).

    Args:
        q, k, v: queries, keys and values.
        g: log-decay g = log α ≤ 0: None (no decay), one per head, or one per key.
        scale: query scale s (default ``K ** -0.5``).
        initial_state: S_0, or (S_0, z_0) when ``normalize`` (default zeros).
        normalize: divide by the running normaliser (default False).
        eps: added to the denominator when ``normalize`` (default 1e-6).

    Shapes:
        q, k [B, T, H, K]; v [B, T, H, V]; g [B, T, H] or [B, T, H, K]
        -> output [B, T, H, V] in v's dtype; final state S [B, H, K, V] (and z [B, H, K])
        in float32 or better.
    """
    batch, seq_len, heads, key_dim = q.shape
    scale = key_dim**-0.5 if scale is None else scale
    dtype = torch.promote_types(q.dtype, torch.float32)
    with torch.autocast(q.device.type, enabled=False):
        if initial_state is None:
            s = q.new_zeros(batch, heads, key_dim, v.shape[-1], dtype=dtype)
            state = (s, q.new_zeros(batch, heads, key_dim, dtype=dtype)) if normalize else s
        else:
            state = tuple(t.to(dtype) for t in initial_state) if normalize else initial_state.to(dtype)
        # unbind once: indexing x[:, t] inside the loop would cost O(T) per step in the backward pass
        gates = [None] * seq_len if g is None else g.unbind(1)
        outputs = []
        for q_t, k_t, v_t, g_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), gates):
            o_t, state = linear_attn_step(q_t, k_t, v_t, g_t, state, scale, normalize, eps)
            outputs.append(o_t)
    return torch.stack(outputs, 1).to(v.dtype), state
