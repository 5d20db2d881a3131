r"""A discrete linear time-invariant state-space model per channel, one step at a time: the
recurrent view and the ground truth for :mod:`.conv`.

Gu et al., "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space
Layers", NeurIPS 2021 (https://arxiv.org/abs/2110.13985). Each of H channels is a single-input
single-output system with an N-dimensional state:

.. math::
    x_t = \bar A x_{t-1} + \bar B u_t, \qquad y_t = C x_t + D u_t

with :math:`(\bar A, \bar B)` from the continuous :math:`(A, B)` and a step Δ by the bilinear rule
(:func:`bilinear_discretize`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["bilinear_discretize", "lti_ssm_step", "naive_lti_ssm"]


def bilinear_discretize(A: Tensor, B: Tensor, dt: Tensor, lower: bool = False) -> tuple[Tensor, Tensor]:
    r"""Bilinear (Tustin) discretisation, one step size per channel.

    .. math:: \bar A = (I - \tfrac{\Delta}{2} A)^{-1} (I + \tfrac{\Delta}{2} A), \qquad
              \bar B = (I - \tfrac{\Delta}{2} A)^{-1} \Delta B

    Args:
        A: continuous state matrix [N, N].
        B: continuous input map [N].
        dt: step size Δ per channel [H].
        lower: A is lower triangular (HiPPO-LegS), so a triangular solve suffices (default False).

    Shapes:
        A [N, N]; B [N]; dt [H] -> A_bar [H, N, N], B_bar [H, N].
    """
    eye = torch.eye(A.shape[0], device=A.device, dtype=A.dtype)
    half = (dt / 2)[:, None, None] * A
    rhs = torch.cat([eye + half, (dt[:, None] * B)[..., None]], dim=-1)
    if lower:
        solved = torch.linalg.solve_triangular(eye - half, rhs, upper=False)
    else:
        solved = torch.linalg.solve(eye - half, rhs)
    return solved[..., :-1], solved[..., -1]


def lti_ssm_step(u_t: Tensor, A_bar: Tensor, B_bar: Tensor, C: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """One step: ``u_t`` [B, H] and ``state`` [B, H, N] -> ``C x_t`` [B, H] and ``x_t``."""
    x = torch.einsum("hnk,bhk->bhn", A_bar, state) + B_bar * u_t[..., None]
    return torch.einsum("hn,bhn->bh", C, x), x


def naive_lti_ssm(
    u: Tensor,
    A_bar: Tensor,
    B_bar: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    initial_state: Tensor | None = None,
    lengths: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Run the recurrence over time, in float32 or better.

    Args:
        u: input ``[B, T, H]``.
        A_bar: discrete state matrices ``[H, N, N]``.
        B_bar: discrete input maps ``[H, N]``.
        C: output maps ``[H, N]``.
        D: skip ``[H]`` (default none).
        initial_state: :math:`x_{-1}` ``[B, H, N]`` (default zeros).
        lengths: ``[B]`` valid steps per row; the final state is each row's state after its last
            valid step (default: all T).

    Returns:
        ``y`` ``[B, T, H]`` in ``u``'s dtype, and the final state ``[B, H, N]`` in the compute dtype.
    """
    dtype = torch.promote_types(u.dtype, torch.float32)
    x = u.to(dtype)
    A_bar, B_bar, C = (t.to(dtype) for t in (A_bar, B_bar, C))
    state = x.new_zeros(x.shape[0], *B_bar.shape) if initial_state is None else initial_state.to(dtype)
    final = state
    ys = []
    for t, u_t in enumerate(x.unbind(1)):
        y_t, state = lti_ssm_step(u_t, A_bar, B_bar, C, state)
        ys.append(y_t)
        final = state if lengths is None else torch.where((lengths == t + 1)[:, None, None], state, final)
    y = torch.stack(ys, 1)
    if D is not None:
        y = y + x * D.to(dtype)
    return y.to(u.dtype), final
