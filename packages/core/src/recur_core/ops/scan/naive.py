r"""The first-order linear recurrence, one step at a time: the ground truth for :mod:`.chunk`.

.. math:: h_t = a_t \odot h_{t-1} + b_t, \qquad h_{-1} = h_0 \text{ (the initial state, zero by default)}

Elementwise: ``a`` and ``b`` share one shape ``[B, T, ...]`` (any trailing dims), and ``a`` may take
any sign, so negative eigenvalues (Grazzi et al., https://arxiv.org/abs/2411.12537) are covered.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["naive_linear_recurrence"]


def naive_linear_recurrence(a: Tensor, b: Tensor, initial_state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run :math:`h_t = a_t h_{t-1} + b_t` over the time axis (dim 1), in float32 or better.

    Args:
        a: transitions ``[B, T, ...]``.
        b: inputs, the shape of ``a``.
        initial_state: :math:`h_0` ``[B, ...]`` (default zeros).

    Returns:
        ``h`` ``[B, T, ...]`` in ``b``'s dtype, and the final state ``h_{T-1}`` ``[B, ...]`` in the
        compute dtype.
    """
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    h = torch.zeros_like(b[:, 0], dtype=dtype) if initial_state is None else initial_state.to(dtype)
    outputs = []
    for a_t, b_t in zip(a.to(dtype).unbind(1), b.to(dtype).unbind(1)):
        h = a_t * h + b_t
        outputs.append(h)
    return torch.stack(outputs, 1).to(b.dtype), h
