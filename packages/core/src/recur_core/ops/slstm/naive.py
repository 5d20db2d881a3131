"""The sLSTM recurrence as a plain per-step cell under autograd: the ground truth for the fused form."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["slstm_naive"]


def slstm_naive(
    gates_x: Tensor,
    R: Tensor,
    initial_state: tuple[Tensor, Tensor, Tensor, Tensor],
    mask: Tensor | None = None,
    exp_forget: bool = False,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
    r"""sLSTM (Beck et al., xLSTM, https://arxiv.org/abs/2405.04517), one step at a time.

    .. math::
        (\tilde\imath, \tilde f, \tilde z, \tilde o)_t = W x_t + b + R\, h_{t-1},\quad
        \log f_t = \log\sigma(\tilde f) \text{ or } \tilde f,\quad
        m_t = \max(\log f_t + m_{t-1}, \tilde\imath)

        i'_t = e^{\tilde\imath - m_t},\ f'_t = e^{\log f_t + m_{t-1} - m_t},\
        c_t = f'_t c_{t-1} + i'_t \tanh\tilde z,\ n_t = f'_t n_{t-1} + i'_t,\
        h_t = \sigma(\tilde o)\, c_t / n_t

    Args:
        gates_x: input part of the pre-activations, bias included, [B, T, H, 4, K] in the order
            (i, f, z, o).
        R: head-wise recurrent weights [H, K, 4, K] (block-diagonal over heads).
        initial_state: (h, c, n, m), each [B, H, K].
        mask: [B, T] bool, False at padded steps, which leave every state unchanged.
        exp_forget: exponential instead of sigmoid forget gate.

    Returns:
        h for every step [B, T, H, K] (the held state at padded steps) and the final (h, c, n, m).
    """
    dtype = torch.promote_types(gates_x.dtype, torch.float32)
    h, c, n, m = (s.to(dtype) for s in initial_state)
    gates_x, R = gates_x.to(dtype), R.to(dtype)
    outputs = []
    for t in range(gates_x.shape[1]):
        g = gates_x[:, t] + torch.einsum("bhk,hkgj->bhgj", h, R)
        i_raw, f_raw, z_raw, o_raw = g.unbind(2)
        log_f = f_raw if exp_forget else F.logsigmoid(f_raw)
        m_new = torch.maximum(log_f + m, i_raw)
        i_gate = torch.exp(i_raw - m_new)
        f_gate = torch.exp(log_f + m - m_new)
        c_new = f_gate * c + i_gate * torch.tanh(z_raw)
        n_new = f_gate * n + i_gate
        h_new = torch.sigmoid(o_raw) * c_new / n_new
        if mask is None:
            h, c, n, m = h_new, c_new, n_new, m_new
        else:
            keep = mask[:, t, None, None]
            h, c, n, m = (torch.where(keep, new, old) for new, old in zip((h_new, c_new, n_new, m_new), (h, c, n, m)))
        outputs.append(h)
    return torch.stack(outputs, 1), (h, c, n, m)
