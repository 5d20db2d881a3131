r"""The convolutional view of a per-channel LTI state-space model, by chunks: exact and exactly causal.

Gu et al., "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space
Layers", NeurIPS 2021 (https://arxiv.org/abs/2110.13985), section 3. Unrolling
:math:`x_t = \bar A x_{t-1} + \bar B u_t` from the state :math:`x_{-1}` gives the convolution

.. math:: y_t = \sum_{l \le t} K_l\, u_{t-l} + C \bar A^{t+1} x_{-1} + D u_t, \qquad K_l = C \bar A^l \bar B

Cut time into chunks of m steps. A kernel tap that reaches back beyond the chunk start factors
through the state there, :math:`K_{l} = C \bar A^{j+1} \cdot \bar A^{l-j-1} \bar B` for the j steps
already inside the chunk, so the convolution splits exactly into

* within each chunk: the m × m lower-triangular Toeplitz matrix of the taps :math:`K_0 \dots K_{m-1}`,
  one batched matmul over all chunks;
* across chunks: the chunk's input folded into a state, :math:`z_i = \sum_j \bar A^{m-1-j} \bar B\,
  u_{im+j}`, carried by :math:`s_i = \bar A^m s_{i-1} + z_i` (T / m steps of O(B H N²), the one
  sequential part), and read out as :math:`C \bar A^{j+1} s_{i-1}`.

The taps :math:`\bar A^j \bar B` and rows :math:`C \bar A^{j+1}` (j < m) are Krylov sequences built by
doubling with the repeated squares :math:`\bar A^{2^k}` (log2 m matrix products). An FFT convolution
with the full kernel would be cheaper in T but mixes every input into every output at round-off
level (about 1e-18 in float64), which breaks exact causality; this form never lets a later input
touch an earlier output. Cost O(B H T (m + N) + H N³ log m).

The final state of each row is :math:`\bar A^r s_{i-1} + \sum_{j < r} \bar A^{r-1-j} \bar B\, u_{im+j}` for
its last valid step :math:`n - 1 = im + r - 1`, with :math:`\bar A^r` applied by binary powering.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["chunk_lti_ssm"]


def _krylov(squares: list[Tensor], start: Tensor, count: int, right: bool) -> Tensor:
    r"""``count`` (a power of two) terms :math:`\bar A^j v` (columns, [..., N, count]) or, with
    ``right``, :math:`v \bar A^j` (rows, [..., count, N]), by doubling."""
    seq = start[..., None, :] if right else start[..., None]
    for k in range(count.bit_length() - 1):
        seq = torch.cat([seq, seq @ squares[k]] if right else [seq, squares[k] @ seq], dim=-2 if right else -1)
    return seq


def _apply_power(squares: list[Tensor], x: Tensor, exponent: Tensor) -> Tensor:
    r""":math:`\bar A^{e_b} x_b` per row b by binary powering: x [B, H, N], exponent [B] -> [B, H, N]."""
    for k in range(int(exponent.max()).bit_length()):
        stepped = torch.einsum("hnk,bhk->bhn", squares[k], x)
        x = torch.where(((exponent >> k) & 1).bool()[:, None, None], stepped, x)
    return x


def chunk_lti_ssm(
    u: Tensor,
    A_bar: Tensor,
    B_bar: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    initial_state: Tensor | None = None,
    lengths: Tensor | None = None,
    chunk_size: int = 64,
) -> tuple[Tensor, Tensor]:
    """The LTI SSM by its chunked convolutional view; arguments and results as
    :func:`recur_core.ops.lti_ssm.naive_lti_ssm`, computed in float32 or better.

    Args:
        chunk_size: m, rounded down to a power of two (default 64).
    """
    dtype = torch.promote_types(u.dtype, torch.float32)
    batch, length, channels = u.shape
    chunk = min(1 << (max(chunk_size, 1).bit_length() - 1), 1 << (length - 1).bit_length())
    n_chunks = -(-length // chunk)
    with torch.autocast(u.device.type, enabled=False):
        A_bar, B_bar, C = (t.to(dtype) for t in (A_bar, B_bar, C))
        squares = [A_bar]
        while len(squares) <= chunk.bit_length() - 1:
            squares.append(squares[-1] @ squares[-1])
        taps = _krylov(squares, B_bar, chunk, right=False)  # A^j B, [H, N, m]
        reads = _krylov(squares, torch.einsum("hn,hnk->hk", C, A_bar), chunk, right=True)  # C A^(j+1), [H, m, N]
        kernel = torch.einsum("hn,hnj->hj", C, taps)
        lag = torch.arange(chunk, device=u.device)
        lag = lag[:, None] - lag[None, :]
        toeplitz = kernel[:, lag.clamp(min=0)] * (lag >= 0)

        x = u.to(dtype).new_zeros(batch, n_chunks * chunk, channels)
        x[:, :length] = u
        x = x.view(batch, n_chunks, chunk, channels).permute(0, 3, 1, 2)  # [B, H, chunks, m]
        y = x @ toeplitz.transpose(-1, -2)
        folded = x @ taps.flip(-1).transpose(-1, -2)  # z_i, [B, H, chunks, N]
        s = x.new_zeros(batch, channels, C.shape[-1]) if initial_state is None else initial_state.to(dtype)
        entering = []
        for z_i in folded.unbind(2):
            entering.append(s)
            s = torch.einsum("hnk,bhk->bhn", squares[-1], s) + z_i
        entering = torch.stack(entering, 2)  # s_{i-1}, [B, H, chunks, N]
        y = y + entering @ reads.transpose(-1, -2)

        n = torch.full((batch,), length, device=u.device) if lengths is None else lengths.to(u.device)
        last_chunk, steps = (n - 1) // chunk, (n - 1) % chunk + 1
        rows = torch.arange(batch, device=u.device)
        back = steps[:, None] - 1 - torch.arange(chunk, device=u.device)
        tail = x[rows, :, last_chunk].gather(-1, back.clamp(min=0)[:, None].expand(-1, channels, -1))
        tail = tail * (back >= 0)[:, None]
        state = _apply_power(squares, entering[rows, :, last_chunk], steps)
        state = state + torch.einsum("bhj,hnj->bhn", tail, taps)

        y = y.permute(0, 2, 3, 1).reshape(batch, n_chunks * chunk, channels)[:, :length]
        if D is not None:
            y = y + u.to(dtype) * D.to(dtype)
    return y.to(u.dtype), state
