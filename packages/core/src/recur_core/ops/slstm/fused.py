"""The sLSTM recurrence with a hand-derived backward, both loops compiled with TorchScript.

The per-step cell of :func:`~recur_core.ops.slstm.naive.slstm_naive` is about twenty tiny pointwise
ops on [B, H, K] tensors, so on a CPU its cost is dispatch and autograd bookkeeping, not
arithmetic. Here the forward loop runs without autograd and keeps the pre-activations and
states; the backward loop applies the chain rule by hand (derivation below), and the recurrent
weight gradient is one batched matmul over all steps. Both loops run in TorchScript, so no
Python runs per step. States live as [H, B, K] inside the loops so that the head-wise
recurrent matmul and the input add are a single ``baddbmm``.

Backward of one step, with :math:`a = \\log f + m_{t-1}`, given the incoming
:math:`\\bar h, \\bar c, \\bar n, \\bar m` of :math:`h_t, c_t, n_t, m_t`:

.. math::
    \\bar o = \\bar h\\, c_t / n_t,\\ \\bar c \\mathrel{+}= \\bar h\\, o / n_t,\\
    \\bar n \\mathrel{+}= -\\bar h\\, h_t / n_t,\\
    \\bar a = (\\bar c\\, c_{t-1} + \\bar n\\, n_{t-1}) f',\\ \\bar\\imath = (\\bar c\\, z + \\bar n)\\, i'

    \\bar m' = \\bar m - \\bar a - \\bar\\imath,\\ \\text{routed by the max to } a \\text{ or } \\tilde\\imath;\\
    \\bar m_{t-1} = \\bar a,\\ \\bar c_{t-1} = \\bar c f',\\ \\bar n_{t-1} = \\bar n f',\\
    \\bar h_{t-1} = R^\\top \\bar g
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["fused_slstm"]


def _forward_loop(
    gx: Tensor,
    R: Tensor,
    h: Tensor,
    c: Tensor,
    n: Tensor,
    m: Tensor,
    valid: Tensor | None,
    exp_forget: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    # gx [T, H, B, 4K], R [H, K, 4K], states [H, B, K]; returns the T + 1 states of each kind
    # and the T full pre-activations
    steps, heads, batch, width = gx.shape
    k = width // 4
    hs, cs, ns, ms, gs = [h], [c], [n], [m], []
    for t in range(steps):
        g = torch.baddbmm(gx[t], h, R).view(heads, batch, 4, k)
        gs.append(g)
        i_raw, f_raw, z_raw, o_raw = g.unbind(2)
        log_f = f_raw if exp_forget else F.logsigmoid(f_raw)
        a = log_f + m
        m_new = torch.maximum(a, i_raw)
        i_gate = torch.exp(i_raw - m_new)
        f_gate = torch.exp(a - m_new)
        c_new = f_gate * c + i_gate * torch.tanh(z_raw)
        n_new = f_gate * n + i_gate
        h_new = torch.sigmoid(o_raw) * c_new / n_new
        if valid is None:
            h, c, n, m = h_new, c_new, n_new, m_new
        else:
            keep = valid[t]
            h = torch.where(keep, h_new, h)
            c = torch.where(keep, c_new, c)
            n = torch.where(keep, n_new, n)
            m = torch.where(keep, m_new, m)
        hs.append(h)
        cs.append(c)
        ns.append(n)
        ms.append(m)
    return torch.stack(hs), torch.stack(cs), torch.stack(ns), torch.stack(ms), torch.stack(gs)


def _backward_loop(
    d_out: Tensor,
    dh: Tensor,
    dc: Tensor,
    dn: Tensor,
    dm: Tensor,
    gs: Tensor,
    R: Tensor,
    hs: Tensor,
    cs: Tensor,
    ns: Tensor,
    ms: Tensor,
    valid: Tensor | None,
    exp_forget: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    steps, heads, batch, _, k = gs.shape
    width = 4 * k
    r_t = R.transpose(1, 2)
    d_gates = []
    for t in range(steps - 1, -1, -1):
        dh = dh + d_out[t]
        c, n, m = cs[t], ns[t], ms[t]
        i_raw, f_raw, z_raw, o_raw = gs[t].unbind(2)
        log_f = f_raw if exp_forget else F.logsigmoid(f_raw)
        a = log_f + m
        take_a = a >= i_raw
        m_new = torch.where(take_a, a, i_raw)
        i_gate = torch.exp(i_raw - m_new)
        f_gate = torch.exp(a - m_new)
        z = torch.tanh(z_raw)
        o = torch.sigmoid(o_raw)
        c_new = f_gate * c + i_gate * z
        n_new = f_gate * n + i_gate
        ratio = c_new / n_new
        d_o = dh * ratio
        dc_new = dc + dh * o / n_new
        dn_new = dn - dh * o * ratio / n_new
        d_a = (dc_new * c + dn_new * n) * f_gate
        d_i = (dc_new * z + dn_new) * i_gate
        d_max = dm - d_a - d_i
        d_a = d_a + torch.where(take_a, d_max, torch.zeros_like(d_max))
        d_i = d_i + torch.where(take_a, torch.zeros_like(d_max), d_max)
        d_f = d_a if exp_forget else d_a * torch.sigmoid(-f_raw)
        d_z = dc_new * i_gate * (1 - z * z)
        d_or = d_o * o * (1 - o)
        dg = torch.stack([d_i, d_f, d_z, d_or], 2)
        dh_prev = torch.bmm(dg.view(heads, batch, width), r_t)
        if valid is None:
            dh, dc, dn, dm = dh_prev, dc_new * f_gate, dn_new * f_gate, d_a
        else:
            keep = valid[t]
            dg = torch.where(keep.unsqueeze(-1), dg, torch.zeros_like(dg))
            dh = torch.where(keep, dh_prev, dh)
            dc = torch.where(keep, dc_new * f_gate, dc)
            dn = torch.where(keep, dn_new * f_gate, dn)
            dm = torch.where(keep, d_a, dm)
        d_gates.append(dg.view(heads, batch, width))
    d_gates.reverse()
    dgx = torch.stack(d_gates)
    # dR[h] = sum over steps and batch of h_{t-1} ⊗ dg_t
    h_prev = hs[:-1].permute(1, 3, 0, 2).reshape(heads, k, steps * batch)
    dR = torch.bmm(h_prev, dgx.transpose(0, 1).reshape(heads, steps * batch, width))
    return dgx, dR, dh, dc, dn, dm


with warnings.catch_warnings():
    # TorchScript is deprecated in favour of torch.compile, which needs a working C++ toolchain
    # at run time; the scripted loops need nothing and are what makes this path fast on a CPU.
    warnings.simplefilter("ignore", FutureWarning)
    _forward_script = torch.jit.script(_forward_loop)
    _backward_script = torch.jit.script(_backward_loop)


class _FusedSLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gx, R, h0, c0, n0, m0, valid, exp_forget):
        hs, cs, ns, ms, gs = _forward_script(gx, R, h0, c0, n0, m0, valid, exp_forget)
        ctx.save_for_backward(gs, R, hs, cs, ns, ms, valid)
        ctx.exp_forget = exp_forget
        return hs[1:], cs[-1], ns[-1], ms[-1]

    @staticmethod
    def backward(ctx, d_out, dc, dn, dm):
        gs, R, hs, cs, ns, ms, valid = ctx.saved_tensors
        # h_T is the last output, so its gradient arrives through d_out
        zeros = torch.zeros_like(hs[0])
        dgx, dR, dh0, dc0, dn0, dm0 = _backward_script(
            d_out, zeros, dc, dn, dm, gs, R, hs, cs, ns, ms, valid, ctx.exp_forget
        )
        return dgx, dR, dh0, dc0, dn0, dm0, None, None


def fused_slstm(
    gates_x: Tensor,
    R: Tensor,
    initial_state: tuple[Tensor, Tensor, Tensor, Tensor],
    mask: Tensor | None = None,
    exp_forget: bool = False,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
    """Same contract and result as :func:`~recur_core.ops.slstm.naive.slstm_naive`, computed in float32 or better."""
    batch, steps, heads, _, k = gates_x.shape
    dtype = torch.promote_types(gates_x.dtype, torch.float32)
    gx = gates_x.to(dtype).permute(1, 2, 0, 3, 4).reshape(steps, heads, batch, 4 * k)
    r = R.to(dtype).reshape(heads, k, 4 * k)
    h0, c0, n0, m0 = (s.to(dtype).transpose(0, 1) for s in initial_state)
    valid = None if mask is None else mask.t()[:, None, :, None].contiguous()
    hs, c, n, m = _FusedSLSTM.apply(gx, r, h0, c0, n0, m0, valid, exp_forget)
    return hs.permute(2, 0, 1, 3), (hs[-1].transpose(0, 1), c.transpose(0, 1), n.transpose(0, 1), m.transpose(0, 1))
