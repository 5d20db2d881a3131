r"""Chunked, work-efficient parallel scan of the first-order linear recurrence :math:`h_t = a_t h_{t-1} + b_t`.

The pairs :math:`(a_t, b_t)` compose associatively, :math:`(a_1, b_1) \circ (a_2, b_2) = (a_2 a_1,\;
a_2 b_1 + b_2)` (first 1, then 2), so every prefix can be formed in log depth. The time axis is cut
into chunks of C (a power of two) and three things happen, each a handful of whole-tensor ops:

1. inside every chunk at once, an in-place Blelloch scan (:func:`blelloch_scan_`: an up-sweep then a
   down-sweep, 2 log2(C) levels, O(C) work) gives the chunk-local :math:`h` (zero start) and the
   cumulative products :math:`P_t = \prod_{s \le t} a_s` of the chunk;
2. the chunk totals :math:`(P_{\text{end}}, h_{\text{end}})` are themselves a linear recurrence of
   T / C steps, scanned the same way (recursively) into the state entering each chunk;
3. a fix-up adds :math:`P_t \odot h_{\text{in}}` to every chunk.

Only products and sums of the :math:`a_t` are formed, never logarithms or quotients, so any sign
(:math:`a \in (-1, 1)`, Grazzi et al., https://arxiv.org/abs/2411.12537) and exact zeros are fine;
products that underflow are truly below float range. The backward pass is itself a reversed scan,
:math:`\lambda_t = \partial L / \partial h_t + a_{t+1} \lambda_{t+1}`, giving
:math:`\partial L / \partial b_t = \lambda_t` and :math:`\partial L / \partial a_t = \lambda_t h_{t-1}`;
it costs one more scan and keeps only :math:`a` and :math:`h`. Autograd through a log-depth scan
(:func:`recur_core.ops.scan.associative_scan` with this operator) measured about 2.5× slower for
forward+backward (B=4, T=4096, 64 or 512 features, one CPU thread) and keeps every level's tensors.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["blelloch_scan_", "chunk_linear_recurrence"]


def blelloch_scan_(a: Tensor, b: Tensor, reverse: bool = False, products: bool = True) -> None:
    r"""In-place inclusive scan of :math:`h_t = a_t h_{t-1} + b_t` (zero start) along dim 0.

    Afterwards ``b`` holds :math:`h` and, with ``products=True``, ``a`` the cumulative products
    :math:`\prod_{s \le t} a_s` (otherwise ``a`` is left partly combined: callers that fold their
    start state into :math:`b_0` need no products and save a quarter of the work). With
    ``reverse=True`` time runs from the end: :math:`h_t = a_t h_{t+1} + b_t`. Time is the leading
    dim so that every level works on whole contiguous rows of the trailing dims.

    Shapes:
        a, b [L, ...], contiguous, with L a power of two.
    """
    length = a.shape[0]
    if length & (length - 1):
        raise ValueError(f"blelloch_scan_ needs a power-of-two length, got {length}")
    a, b = a.view(length, -1), b.view(length, -1)
    # up-sweep: the element closing each block of 2s absorbs the element closing its first half
    s = 1
    while s < length:
        av, bv = a.view(length // (2 * s), 2 * s, -1), b.view(length // (2 * s), 2 * s, -1)
        late, early = (0, s) if reverse else (2 * s - 1, s - 1)
        bv[:, late].addcmul_(av[:, late], bv[:, early])
        av[:, late].mul_(av[:, early])
        s *= 2
    # down-sweep: the middle of each block takes the full prefix that ends where the block starts
    s = length // 4
    while s >= 1:
        av, bv = a.view(length // (2 * s), 2 * s, -1), b.view(length // (2 * s), 2 * s, -1)
        if reverse:
            (tb, ti), (sb, si) = (slice(None, -1), s), (slice(1, None), 0)
        else:
            (tb, ti), (sb, si) = (slice(1, None), s - 1), (slice(None, -1), 2 * s - 1)
        bv[tb, ti].addcmul_(av[tb, ti], bv[sb, si])
        if products:
            av[tb, ti].mul_(av[sb, si])
        s //= 2


def _time_major(src: Tensor, chunk: int, n_chunks: int, pad: float) -> Tensor:
    """Copy ``src`` [B, L, F] (L <= chunks × C) into a new [C, B, chunks, F] buffer, ``pad`` after L."""
    batch, length, features = src.shape
    work = src.new_empty(chunk, batch, n_chunks, features)
    chunks = work.permute(1, 2, 0, 3)
    full, rem = divmod(length, chunk)
    chunks[:, :full] = src[:, : full * chunk].view(batch, full, chunk, features)
    if full < n_chunks:
        chunks[:, full, :rem] = src[:, full * chunk :]
        chunks[:, full, rem:] = pad
        chunks[:, full + 1 :] = pad
    return work


def _scan(a: Tensor, b: Tensor, chunk_size: int, reverse: bool, h0: Tensor | None = None) -> Tensor:
    """Inclusive scan along dim 1 of ``b`` [B, T, F] with transitions ``a`` [B, T', F], T' <= T (the
    missing tail taken as 0), from ``h0`` [B, F] (forward only; default zero). Returns h [B, T, F]."""
    batch, length, features = b.shape
    chunk = min(chunk_size, 1 << (length - 1).bit_length())
    n_chunks = -(-length // chunk)
    # time inside the chunk leads, so each level of the scan works on whole contiguous rows. The
    # padding after the end (b = 0) cannot reach the forward scan's values, and the reverse scan
    # meets it first, with a zero state; the padded a only ever multiplies such values.
    aw = _time_major(a, chunk, n_chunks, 0.0)
    bw = _time_major(b, chunk, n_chunks, 0.0)
    if h0 is not None:
        bw[0, :, 0].addcmul_(aw[0, :, 0], h0)
    blelloch_scan_(aw, bw, reverse)
    if n_chunks > 1:
        edge = 0 if reverse else chunk - 1
        carry = _scan(aw[edge], bw[edge], chunk_size, reverse)
        if reverse:
            bw[:, :, :-1].addcmul_(aw[:, :, :-1], carry[:, 1:])
        else:
            bw[:, :, 1:].addcmul_(aw[:, :, 1:], carry[:, :-1])
    return bw.permute(1, 2, 0, 3).reshape(batch, n_chunks * chunk, features)[:, :length]


class _LinearRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor, chunk_size: int) -> Tensor:
        h = _scan(a, b, chunk_size, reverse=False, h0=h0)
        ctx.save_for_backward(a, h, h0)
        ctx.chunk_size = chunk_size
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        a, h, h0 = ctx.saved_tensors
        # lambda_t = grad_t + a_{t+1} lambda_{t+1}: the reversed scan with a shifted by one step
        lam = _scan(a[:, 1:], grad_h, ctx.chunk_size, reverse=True)
        grad_a = torch.empty_like(lam)
        torch.mul(lam[:, 1:], h[:, :-1], out=grad_a[:, 1:])
        torch.mul(lam[:, 0], h0, out=grad_a[:, 0])
        return grad_a, lam, a[:, 0] * lam[:, 0], None


def chunk_linear_recurrence(
    a: Tensor, b: Tensor, initial_state: Tensor | None = None, chunk_size: int = 64
) -> tuple[Tensor, Tensor]:
    """:math:`h_t = a_t h_{t-1} + b_t` over the time axis (dim 1) by the chunked parallel scan.

    Computes in float32 or better (half-precision inputs are promoted).

    Args:
        a: transitions ``[B, T, ...]``, any sign.
        b: inputs, the shape of ``a``.
        initial_state: :math:`h_0` ``[B, ...]`` (default zeros).
        chunk_size: C, rounded down to a power of two, at least 2 (default 64).

    Returns:
        ``h`` ``[B, T, ...]`` in ``b``'s dtype, and the final state ``[B, ...]`` in the compute dtype.
    """
    if a.shape != b.shape or a.dim() < 2 or a.shape[1] < 1:
        raise ValueError(
            f"a and b must share one shape [B, T, ...] with T >= 1, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    batch, length, *rest = a.shape
    h0 = a.new_zeros(batch, *rest, dtype=dtype) if initial_state is None else initial_state.to(dtype)
    chunk = 1 << (max(chunk_size, 2).bit_length() - 1)
    with torch.autocast(a.device.type, enabled=False):
        h = _LinearRecurrence.apply(
            a.to(dtype).reshape(batch, length, -1), b.to(dtype).reshape(batch, length, -1), h0.reshape(batch, -1), chunk
        )
    h = h.reshape(batch, length, *rest)
    return h.to(b.dtype), h[:, -1]
