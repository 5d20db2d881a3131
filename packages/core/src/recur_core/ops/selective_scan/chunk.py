r"""Mamba's selective scan by chunks: exact, log-depth inside each chunk, lean in memory.

The recurrence of :mod:`.naive` is elementwise in the state :math:`h_t \in \mathbb{R}^{D \times N}`,
so it is a first-order linear recurrence :math:`h_t = \bar a_t \odot h_{t-1} + \bar b_t` with
:math:`\bar a_t = e^{\Delta_t A}` (or :math:`2 e^{\Delta_t A} - 1`) and
:math:`\bar b_t = \Delta_t u_t B_t^\top`. Materialising :math:`\bar a, \bar b` and every state for the
whole sequence costs 3 × B·T·D·N numbers (1.6 GB at B=4, T=4096, D=512, N=16 in float32), so the
time axis is cut into chunks of C steps, visited in order. For each chunk:

1. discretise :math:`\bar a, \bar b` for its C steps only, time leading, and fold the state entering
   the chunk into the first step, :math:`\bar b_0 \mathrel{+}= \bar a_0 \odot h_{\text{in}}`;
2. scan in place with :func:`recur_core.ops.scan.blelloch_scan_` (2 log2 C levels, O(C) work), which
   uses only products and sums of :math:`\bar a`, so negative transitions need no special case;
3. contract with :math:`C_t` into :math:`y_t` and pass the last state on.

The batch is cut too, into slices whose chunk workspace stays near ``workspace`` numbers (2^21,
8 MB in float32): many short sequences (LION's groups of voxels, 256 × 64 steps) otherwise build a
chunk workspace far larger than the cache and ran 2.6× slower per token than a few long ones
(1.3× once sliced, forward and backward, D = 128, N = 16).

Only the state at each chunk start is kept for the backward pass (B·(T/C)·D·N numbers). The
backward pass visits the chunks in reverse, recomputes the chunk's states from its start state,
and, with :math:`g_t = \partial L / \partial y_t`, runs the adjoint recurrence
:math:`\lambda_t = g_t C_t^\top + \bar a_{t+1} \lambda_{t+1}` as a reversed scan, the adjoint
entering from the next chunk folded into the last step. Then :math:`\partial \bar b_t = \lambda_t`,
:math:`\partial \bar a_t = \lambda_t h_{t-1}`, and the chain rule through :math:`e^{\Delta A}` and
:math:`\Delta u B^\top` gives Δ, A, u, B; C gets :math:`\sum_d g_{t,d} h_{t,d,n}`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from recur_core.ops.scan import blelloch_scan_
from recur_core.ops.selective_scan.naive import selective_scan_inputs

__all__ = ["chunk_selective_scan"]


def _discretize_(a: Tensor, b: Tensor, delta: Tensor, delta_u: Tensor, A: Tensor, B: Tensor, neg: bool) -> None:
    r"""Fill ``a``, ``b`` [P, Bt, D, N] with :math:`\bar a`, :math:`\bar b` of one chunk of L <= P steps,
    time leading; the steps after L get a = 1, b = 0, which carry the state unchanged.

    Shapes:
        delta, delta_u [Bt, L, D]; A [D, N]; B [Bt, L, N].
    """
    length = delta.shape[1]
    torch.mul(delta.transpose(0, 1)[..., None], A, out=a[:length])
    a[:length].exp_()
    if neg:
        a[:length].mul_(2).sub_(1)
    torch.mul(delta_u.transpose(0, 1)[..., None], B.transpose(0, 1)[:, :, None], out=b[:length])
    a[length:] = 1
    b[length:] = 0


def _chunks(length: int, chunk_size: int):
    """(start, stop, padded length) of each chunk; the padded length is a power of two."""
    for t0 in range(0, length, chunk_size):
        t1 = min(t0 + chunk_size, length)
        yield t0, t1, 1 << (t1 - t0 - 1).bit_length()


class _SelectiveScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0, allow_neg_eigval: bool, chunk_size: int):
        batch, length, channels = u.shape
        delta_u = delta * u
        y = u.new_empty(batch, length, channels)
        # one workspace of C steps, reused by every chunk
        a_buf = u.new_empty(1 << (min(chunk_size, length) - 1).bit_length(), batch, *A.shape)
        h_buf = torch.empty_like(a_buf)
        starts, h = [], h0
        for t0, t1, padded in _chunks(length, chunk_size):
            a, hs = a_buf[:padded], h_buf[:padded]
            _discretize_(a, hs, delta[:, t0:t1], delta_u[:, t0:t1], A, B[:, t0:t1], allow_neg_eigval)
            starts.append(h)
            hs[0].addcmul_(a[0], h)
            blelloch_scan_(a, hs, products=False)
            hs = hs[: t1 - t0]
            # y[b, t, d] = sum_n h[t, b, d, n] C[b, t, n]
            y[:, t0:t1] = torch.matmul(hs, C[:, t0:t1].transpose(0, 1)[..., None])[..., 0].transpose(0, 1)
            h = hs[-1].clone()
        ctx.save_for_backward(u, delta, A, B, C, torch.stack(starts))
        ctx.allow_neg_eigval, ctx.chunk_size = allow_neg_eigval, chunk_size
        return y, h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor, grad_h: Tensor):
        u, delta, A, B, C, starts = ctx.saved_tensors
        neg = ctx.allow_neg_eigval
        batch, length = u.shape[:2]
        delta_u = delta * u
        grad_delta_u, grad_delta = torch.empty_like(u), torch.empty_like(delta)
        grad_B, grad_C = torch.empty_like(B), torch.empty_like(C)
        grad_A = torch.zeros_like(A)
        bufs = [u.new_empty(1 << (min(ctx.chunk_size, length) - 1).bit_length(), batch, *A.shape) for _ in range(4)]
        carry = grad_h
        for index, (t0, t1, padded) in reversed(list(enumerate(_chunks(length, ctx.chunk_size)))):
            steps = t1 - t0
            a, hs, work, lam = (buf[:padded] for buf in bufs)
            _discretize_(a, hs, delta[:, t0:t1], delta_u[:, t0:t1], A, B[:, t0:t1], neg)
            h_in = starts[index]
            hs[0].addcmul_(a[0], h_in)
            work.copy_(a)
            blelloch_scan_(work, hs, products=False)
            gy = grad_y[:, t0:t1].transpose(0, 1)
            torch.mul(gy[..., None], C[:, t0:t1].transpose(0, 1)[:, :, None], out=lam[:steps])
            lam[steps:] = 0
            # the adjoint from later chunks enters at the last step; inside, transitions shift by one
            lam[steps - 1] += carry
            work[: steps - 1] = a[1:steps]
            work[steps - 1 :] = 0
            blelloch_scan_(work, lam, reverse=True, products=False)
            lam, hs, a, work = lam[:steps], hs[:steps], a[:steps], work[:steps]
            carry = lam[0] * a[0]
            # d exp(dA) / d(dA) = exp(dA): a itself, or (a + 1) = 2 exp(dA) with negative eigenvalues
            grad_log_a = torch.mul(lam, a.add_(1) if neg else a, out=work)
            grad_log_a[0] *= h_in
            grad_log_a[1:] *= hs[:-1]
            d_chunk = delta[:, t0:t1].transpose(0, 1)
            grad_A += (grad_log_a * d_chunk[..., None]).sum((0, 1))
            grad_delta[:, t0:t1] = (grad_log_a * A).sum(-1).transpose(0, 1)
            b_chunk = B[:, t0:t1].transpose(0, 1)
            grad_delta_u[:, t0:t1] = torch.matmul(lam, b_chunk[..., None])[..., 0].transpose(0, 1)
            du_chunk = delta_u[:, t0:t1].transpose(0, 1)
            grad_B[:, t0:t1] = torch.matmul(du_chunk[:, :, None], lam)[:, :, 0].transpose(0, 1)
            grad_C[:, t0:t1] = torch.matmul(gy[:, :, None], hs)[:, :, 0].transpose(0, 1)
        grad_delta += grad_delta_u * u
        return grad_delta_u * delta, grad_delta, grad_A, grad_B, grad_C, carry, None, None


def chunk_selective_scan(
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
    chunk_size: int = 64,
    workspace: int = 1 << 21,
) -> tuple[Tensor, Tensor]:
    """The selective scan by chunks of ``chunk_size`` steps; arguments and results as
    :func:`recur_core.ops.selective_scan.naive_selective_scan`, computed in float32 or better.

    Args:
        chunk_size: C, steps discretised and scanned at once (default 64); memory grows with
            B·C·D·N, and a power of two avoids padding.
        workspace: numbers in one chunk's workspace (sequences × C × D × N) above which the batch
            is scanned in slices of sequences.
    """
    dtype, delta = selective_scan_inputs(u, delta, delta_bias, delta_softplus)
    with torch.autocast(u.device.type, enabled=False):
        x, A, B, C = (t.to(dtype) for t in (u, A, B, C))
        h0 = x.new_zeros(x.shape[0], *A.shape) if initial_state is None else initial_state.to(dtype)
        chunk_size = max(chunk_size, 1)
        steps = 1 << (min(chunk_size, x.shape[1]) - 1).bit_length()
        per_slice = max(1, workspace // (steps * A.numel()))
        slices = (slice(i, i + per_slice) for i in range(0, x.shape[0], per_slice))
        parts = [
            _SelectiveScan.apply(x[i], delta[i], A, B[i], C[i], h0[i], allow_neg_eigval, chunk_size) for i in slices
        ]
        y, h = (torch.cat(outs) for outs in zip(*parts))
        if D is not None:
            y = y + x * D.to(dtype)
        if z is not None:
            y = y * F.silu(z.to(dtype))
    return y.to(u.dtype), h
