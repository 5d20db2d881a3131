r"""Mamba's selective scan (S6), one step at a time: the ground truth for :mod:`.chunk`.

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023
(https://arxiv.org/abs/2312.00752), Algorithm 2, with the semantics of the reference
``selective_scan_ref`` of ``mamba_ssm`` (time on dim 1 here). For every channel d and state n:

.. math::
    \bar a_{t,d,n} = \exp(\Delta_{t,d} A_{d,n}), \qquad
    h_{t,d,n} = \bar a_{t,d,n}\, h_{t-1,d,n} + \Delta_{t,d} B_{t,n} u_{t,d}, \qquad
    y_{t,d} = \Big(\sum_n C_{t,n} h_{t,d,n} + D_d u_{t,d}\Big)\, \mathrm{SiLU}(z_{t,d})

With ``allow_neg_eigval=True`` the transition becomes :math:`2\bar a - 1 \in (-1, 1)` (Grazzi et al.,
ICLR 2025, https://arxiv.org/abs/2411.12537), which lets a diagonal SSM flip signs (parity).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["naive_selective_scan", "selective_scan_discretize", "selective_scan_inputs", "selective_scan_step"]


def selective_scan_inputs(
    u: Tensor, delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool
) -> tuple[torch.dtype, Tensor]:
    """The compute dtype (float32 or better) and Δ after the optional bias and softplus."""
    dtype = torch.promote_types(u.dtype, torch.float32)
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)
    return dtype, F.softplus(delta) if delta_softplus else delta


def selective_scan_discretize(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, allow_neg_eigval: bool = False
) -> tuple[Tensor, Tensor]:
    r"""Transitions :math:`\bar a = e^{\Delta A}` (or :math:`2 e^{\Delta A} - 1`) and inputs
    :math:`\bar b = \Delta u B^\top`, for any leading dims.

    Shapes:
        u, delta [..., D]; A [D, N]; B [..., N] -> a, b [..., D, N].
    """
    a = torch.exp(delta[..., None] * A)
    if allow_neg_eigval:
        a = 2 * a - 1
    return a, (delta * u)[..., None] * B[..., None, :]


def selective_scan_step(
    u_t: Tensor, delta_t: Tensor, A: Tensor, B_t: Tensor, C_t: Tensor, state: Tensor, allow_neg_eigval: bool = False
) -> tuple[Tensor, Tensor]:
    """One step, without the skip and the gate: ``u_t``, ``delta_t`` [B, D], ``B_t``, ``C_t`` [B, N] and
    ``state`` [B, D, N] -> :math:`C_t h_t` [B, D] and :math:`h_t`."""
    a, b = selective_scan_discretize(u_t, delta_t, A, B_t, allow_neg_eigval)
    h = a * state + b
    return torch.einsum("bdn,bn->bd", h, C_t), h


def naive_selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    allow_neg_eigval: bool = False,
    initial_state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""The selective scan as a loop over time, in float32 or better.

    Args:
        u: input ``[B, T, D]``.
        delta: step sizes Δ ``[B, T, D]`` (before ``delta_bias`` / softplus, if given).
        A: state matrix (diagonal per channel) ``[D, N]``, negative for a stable system.
        B, C: input-dependent input and output maps ``[B, T, N]``.
        D: skip ``[D]`` (default none).
        z: gate ``[B, T, D]``; the output is multiplied by SiLU(z) (default none).
        delta_bias: added to Δ before the softplus ``[D]`` (default none).
        delta_softplus: apply softplus to Δ (default False).
        allow_neg_eigval: transition :math:`2 e^{\Delta A} - 1` instead of :math:`e^{\Delta A}` (default False).
        initial_state: :math:`h_0` ``[B, D, N]`` (default zeros).

    Returns:
        ``y`` ``[B, T, D]`` in ``u``'s dtype and the final state ``[B, D, N]`` in the compute dtype.
    """
    dtype, delta = selective_scan_inputs(u, delta, delta_bias, delta_softplus)
    x, A, B, C = (t.to(dtype) for t in (u, A, B, C))
    a, b = selective_scan_discretize(x, delta, A, B, allow_neg_eigval)
    h = x.new_zeros(x.shape[0], *A.shape) if initial_state is None else initial_state.to(dtype)
    ys = []
    for a_t, b_t, c_t in zip(a.unbind(1), b.unbind(1), C.unbind(1)):
        h = a_t * h + b_t
        ys.append(torch.einsum("bdn,bn->bd", h, c_t))
    y = torch.stack(ys, 1)
    if D is not None:
        y = y + x * D.to(dtype)
    if z is not None:
        y = y * F.silu(z.to(dtype))
    return y.to(u.dtype), h
