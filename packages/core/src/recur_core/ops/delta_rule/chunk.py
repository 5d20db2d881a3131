r"""The delta rule in chunks: exact, with matmuls inside a chunk and a short loop across chunks.

Yang et al., "Parallelizing Linear Transformers with the Delta Rule over Sequence Length",
NeurIPS 2024 (https://arxiv.org/abs/2406.06484), Section 3. Same recurrence and state orientation
as :func:`recur_core.ops.delta_rule.naive.naive_delta_rule`:
:math:`S_t = S_{t-1} + k_t u_t^\top` with :math:`u_t = \beta_t (v_t - S_{t-1}^\top k_t)`.

Derivation. Split the sequence into chunks of C tokens and let :math:`S` be the state before a chunk.
Inside it :math:`S_{t-1} = S + \sum_{j<t} k_j u_j^\top`, so

.. math::
    u_t + \beta_t \sum_{j<t} (k_t^\top k_j)\, u_j = \beta_t v_t - \beta_t S^\top k_t
    \quad\Longleftrightarrow\quad
    (I + L)\, U = \mathrm{diag}(\beta) V - \mathrm{diag}(\beta) K S,
    \qquad L = \mathrm{tril}(\mathrm{diag}(\beta) K K^\top, -1).

With the UT transform :math:`A = (I + L)^{-1}` this is :math:`U = \tilde U - W S` where
:math:`W = A\,\mathrm{diag}(\beta) K` and :math:`\tilde U = A\,\mathrm{diag}(\beta) V` (the WY
representation of the chunk's product of Householder-like transitions); both depend on the chunk
alone, so one batched triangular solve computes them for every chunk at once. What remains is
sequential but cheap, one step per chunk:

.. math::
    U_n = \tilde U_n - W_n S_n, \qquad S_{n+1} = S_n + K_n^\top U_n,

after which every output comes from batched matmuls,
:math:`O_n = Q_n S_n + \mathrm{tril}(Q_n K_n^\top)\, U_n` (the queries already scaled by s).

The solve is ``torch.linalg.solve_triangular`` (unit diagonal) and the backward is autograd's;
``tools/bench/delta_rule.py`` times the solve against a blocked inversion, the backward against
the forward, and the whole against the token loop.
Tokens with β = 0 (the padding to a whole number of chunks, or a caller's padded steps) give zero
rows in W and Ũ and leave the state unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["chunk_delta_rule"]


def chunk_delta_rule(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    beta: Tensor,
    scale: float | None = None,
    initial_state: Tensor | None = None,
    chunk_size: int = 32,
) -> tuple[Tensor, Tensor]:
    """The delta rule over a whole sequence in chunks (float32 or better, autocast off).

    Args:
        q, k, v: queries, keys and values.
        beta: writing strengths β (in (0, 2) for a contraction; 0 skips the step).
        scale: query scale s (default ``K ** -0.5``).
        initial_state: S_0 (default zeros).
        chunk_size: tokens per chunk C (default 32, the fastest of 16/32/64/128 on CPU in
            ``tools/bench/delta_rule.py``; a sequence shorter than C is one chunk of length T).

    Shapes:
        q, k [B, T, H, K]; v [B, T, H, V]; beta [B, T, H]; initial_state [B, H, K, V]
        -> output [B, T, H, V] in v's dtype, final state [B, H, K, V] in initial_state's dtype
        (v's when it is None).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    batch, seq_len, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    scale = key_dim**-0.5 if scale is None else scale
    dtype = torch.promote_types(q.dtype, torch.float32)
    out_dtype = v.dtype
    state_dtype = out_dtype if initial_state is None else initial_state.dtype
    size = min(chunk_size, seq_len)
    num_chunks = -(-seq_len // size)
    pad = num_chunks * size - seq_len

    def chunked(x: Tensor) -> Tensor:
        # [B, T, H, D] -> [N * B * H, C, D], zero-padded to N * C tokens
        x = x.to(dtype)
        if pad:
            x = F.pad(x, (0, 0, 0, 0, 0, pad))
        return x.view(batch, num_chunks, size, heads, -1).permute(1, 0, 3, 2, 4).reshape(-1, size, x.shape[-1])

    with torch.autocast(q.device.type, enabled=False):
        q, k = chunked(q) * scale, chunked(k)
        beta = chunked(beta[..., None])
        # [diag(β) K, diag(β) V] in one tensor: the right-hand side of the UT solve
        rhs = torch.cat([k, chunked(v)], -1) * beta
        lower = ((k @ k.mT) * beta).tril(-1)
        # unitriangular: the solve reads only the strict lower triangle and takes the diagonal as 1
        w_u = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
        w, u = w_u.view(num_chunks, batch * heads, size, -1).split([key_dim, value_dim], -1)
        if initial_state is None:
            state = q.new_zeros(batch * heads, key_dim, value_dim)
        else:
            state = initial_state.to(dtype).reshape(batch * heads, key_dim, value_dim)
        starts, corrected = [], []
        for k_n, w_n, u_n in zip(
            k.view(num_chunks, batch * heads, size, key_dim).mT.unbind(0), w.unbind(0), u.unbind(0)
        ):
            starts.append(state)
            # U_n = Ũ_n − W_n S_n, then S_{n+1} = S_n + K_nᵀ U_n
            u_n = torch.baddbmm(u_n, w_n, state, alpha=-1)
            corrected.append(u_n)
            state = torch.baddbmm(state, k_n, u_n)
        # O_n = Q_n S_n + tril(Q_n K_nᵀ) U_n
        o = torch.baddbmm(q @ torch.cat(starts), (q @ k.mT).tril(), torch.cat(corrected))
        o = o.view(num_chunks, batch, heads, size, value_dim).permute(1, 0, 3, 2, 4)
        o = o.reshape(batch, num_chunks * size, heads, value_dim)[:, :seq_len]
    return o.to(out_dtype), state.view(batch, heads, key_dim, value_dim).to(state_dtype)
