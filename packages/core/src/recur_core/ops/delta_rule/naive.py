r"""The delta rule as a plain per-token loop: the ground truth for :mod:`.chunk`.

Schlag et al., "Linear Transformers Are Secretly Fast Weight Programmers", ICML 2021
(https://arxiv.org/abs/2102.11174); Yang et al., "Parallelizing Linear Transformers with the Delta
Rule over Sequence Length", NeurIPS 2024 (https://arxiv.org/abs/2406.06484).

The papers write the fast weight as :math:`M_t \in \mathbb{R}^{V \times K}`,
:math:`M_t = M_{t-1}(I - \beta_t k_t k_t^\top) + \beta_t v_t k_t^\top`, :math:`o_t = M_t q_t`.
recur stores its transpose :math:`S_t = M_t^\top` (keys first, ``[B, H, K, V]``, as fla does):

.. math::
    S_t = (I - \beta_t k_t k_t^\top)\, S_{t-1} + \beta_t k_t v_t^\top
        = S_{t-1} + k_t \big(\beta_t (v_t - S_{t-1}^\top k_t)\big)^\top,
    \qquad o_t = S_t^\top (s\, q_t)

with the query scale :math:`s` (default :math:`1/\sqrt{K}`). With unit-norm keys the transition
:math:`I - \beta_t k_t k_t^\top` has eigenvalues 1 (K − 1 times) and :math:`1 - \beta_t`, so
:math:`\beta_t \in (0, 2)` allows negative eigenvalues and :math:`\beta_t = 0` leaves the state unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["delta_rule_step", "naive_delta_rule"]


def delta_rule_step(
    q_t: Tensor, k_t: Tensor, v_t: Tensor, beta_t: Tensor, state: Tensor, scale: float | None = None
) -> tuple[Tensor, Tensor]:
    """One token of the delta rule (float32 or better, autocast off): the recurrent form ``step`` uses.

    Args:
        q_t, k_t, v_t: the token's query, key and value.
        beta_t: its writing strength β.
        state: S_{t-1}.
        scale: query scale s (default ``K ** -0.5``).

    Shapes:
        q_t, k_t [B, H, K]; v_t [B, H, V]; beta_t [B, H]; state [B, H, K, V]
        -> o_t [B, H, V] in v_t's dtype, S_t [B, H, K, V] in state's dtype.
    """
    scale = q_t.shape[-1] ** -0.5 if scale is None else scale
    dtype = torch.promote_types(state.dtype, torch.float32)
    with torch.autocast(q_t.device.type, enabled=False):
        q, k, v, beta, s = (t.to(dtype) for t in (q_t, k_t, v_t, beta_t, state))
        retrieved = torch.einsum("bhk,bhkv->bhv", k, s)
        correction = beta[..., None] * (v - retrieved)
        s = s + k[..., :, None] * correction[..., None, :]
        o = torch.einsum("bhk,bhkv->bhv", q * scale, s)
    return o.to(v_t.dtype), s.to(state.dtype)


def naive_delta_rule(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    beta: Tensor,
    scale: float | None = None,
    initial_state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The delta rule, one token at a time (float32 or better, autocast off).

    Args:
        q, k, v: queries, keys and values.
        beta: writing strengths β (in (0, 2) for a contraction; 0 skips the step).
        scale: query scale s (default ``K ** -0.5``).
        initial_state: S_0 (default zeros).

    Shapes:
        q, k [B, T, H, K]; v [B, T, H, V]; beta [B, T, H]; initial_state [B, H, K, V]
        -> output [B, T, H, V] in v's dtype, final state [B, H, K, V] in initial_state's dtype
        (v's when it is None).
    """
    batch, _, heads, key_dim = q.shape
    state_dtype = v.dtype if initial_state is None else initial_state.dtype
    # the loop carries the state in float32 or better; only the final state is cast back
    dtype = torch.promote_types(q.dtype, torch.float32)
    if initial_state is None:
        state = q.new_zeros(batch, heads, key_dim, v.shape[-1], dtype=dtype)
    else:
        state = initial_state.to(dtype)
    outputs = []
    # unbind, not q[:, t]: indexing's backward would write a full-length gradient at every step
    for q_t, k_t, v_t, beta_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), beta.unbind(1)):
        o_t, state = delta_rule_step(q_t, k_t, v_t, beta_t, state, scale)
        outputs.append(o_t)
    return torch.stack(outputs, 1), state.to(state_dtype)
