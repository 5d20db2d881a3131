r"""Softmax attention of one query over every prefix by a parallel prefix scan (Aaren).

Feng et al., "Attention as an RNN", 2024 (https://arxiv.org/abs/2405.13956), section 3.2. Each
step is the leaf :math:`(m, u, w) = (s_t, 1, v_t)`, and two adjacent segments combine as

.. math::
    (m_A, u_A, w_A) \oplus (m_B, u_B, w_B) = \big(m,\; u_A e^{m_A - m} + u_B e^{m_B - m},\;
    w_A e^{m_A - m} + w_B e^{m_B - m}\big), \qquad m = \max(m_A, m_B)

the online-softmax merge. :math:`\oplus` is associative, so
:func:`recur_core.ops.scan.associative_scan` forms every prefix in log depth; the state passed in
is combined in front of all of them, and :math:`o_t = w_t / u_t`. Autograd differentiates the scan.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recur_core.ops.prefix_attention.naive import State, prefix_attention_inputs
from recur_core.ops.scan import associative_scan

__all__ = ["scan_prefix_attention"]


def _combine(early: State, late: State) -> State:
    m_a, u_a, w_a = early
    m_b, u_b, w_b = late
    m = torch.maximum(m_a, m_b)
    # two empty segments (-inf, 0, 0) combine to an empty one, with no -inf - (-inf)
    ref = m.masked_fill(m == float("-inf"), 0.0)
    c_a, c_b = torch.exp(m_a - ref), torch.exp(m_b - ref)
    return m, u_a * c_a + u_b * c_b, w_a * c_a[..., None] + w_b * c_b[..., None]


def scan_prefix_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float | None = None,
    initial_state: State | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Attention of ``q`` over every prefix by the parallel scan; arguments and results as
    :func:`recur_core.ops.prefix_attention.naive_prefix_attention`."""
    scores, values, dtype = prefix_attention_inputs(q, k, v, scale, mask)
    with torch.autocast(k.device.type, enabled=False):
        leaves = (scores, (scores > float("-inf")).to(dtype), values)
        m, u, w = associative_scan(_combine, leaves, dim=1)
        if initial_state is not None:
            m0, u0, w0 = (t.to(dtype)[:, None] for t in initial_state)
            m, u, w = _combine((m0, u0, w0), (m, u, w))
    return (w / u[..., None]).to(v.dtype), (m[:, -1], u[:, -1], w[:, -1])
