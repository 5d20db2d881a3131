r"""Chunkwise causal linear attention with an optional decay: exact, and parallel inside each chunk.

The recurrence of :mod:`.naive` (:math:`S_t = \mathrm{diag}(e^{g_t}) S_{t-1} + k_t v_t^\top`,
:math:`o_t = S_t^\top q_t`, the query already scaled) over chunks of C tokens. Inside chunk n, with
the cumulative log-decay :math:`b_i = \sum_{l \le i} g_l` counted from the chunk start (kept in
float32 or better; non-increasing, since :math:`g \le 0`):

.. math::
    o_i = (q_i \odot e^{b_i})^\top S_n
          + \sum_{j \le i} \big(q_i \odot e^{b_i - b_j}\big)^\top k_j \; v_j, \qquad
    S_{n+1} = \mathrm{diag}(e^{b_C}) S_n + \sum_{j} (k_j \odot e^{b_C - b_j})\, v_j^\top

Every exponent is a difference "later minus earlier" of the non-increasing :math:`b`, so it is
:math:`\le 0`; the positive ones (j after i) are masked to :math:`-\infty` *before* the exp. No
positive cumulative sum is ever exponentiated, so any decay, down to :math:`g = -20` per step,
stays finite (factors underflow to 0 where the true weights are below float range).

For a scalar decay the intra-chunk weights :math:`e^{b_i - b_j}` form one C × C matrix. For a decay
per key they are C × C × K. Where a chunk's total log-decay stays above :data:`FACTOR_LIMIT` (−40;
GLA's gates σ(·)^(1/16) keep it near −3 over 64 tokens) they factor through the chunk start,
:math:`q_i^\top (k_j \odot e^{b_i - b_j}) = (q_i \odot e^{b_i})^\top (k_j \odot e^{-b_j})`: one matmul, with
:math:`e^{-b_j} \le e^{40}` finite and every product formed as exactly as the direct one (the entries
j > i, at most :math:`e^{40}`, are masked). The chunks of a batch row and head whose decay is
steeper (a gate near 0, LightNet's first tokens) are recomputed where nothing above 1 is
exponentiated; when more than :data:`STEEP_SHARE` of them are, all are, in chunks of 16 tokens.
There, as in GLA's secondary chunking, the chunk is cut into sub-chunks of c tokens. For i in
sub-chunk p and j in an earlier sub-chunk the weight factors through the log-decay :math:`\rho_p` at
the end of sub-chunk p − 1 as :math:`e^{b_i - \rho_p} \cdot e^{\rho_p - b_j}`, both factors
:math:`\le 1`, and the sum over keys becomes a matmul (with one copy of the earlier keys per
sub-chunk, C/c · C · K numbers); only the c × c × K diagonal blocks are built elementwise, with
their backward pass written out.

The state is carried from chunk to chunk by the recurrence above: T / C steps of O(K V) work, the
one sequential part. Total cost O(T C (K + V) + T K V) matmul work, plus O(T K (c + C/c))
elementwise work for a decay per key, instead of the token loop's T sequential steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["CHUNK_SIZE", "FACTOR_LIMIT", "PER_KEY_CHUNK_SIZE", "SUB_CHUNK_SIZE", "chunk_linear_attn"]

# defaults measured with tools/bench/linear_attn.py (--chunk-sizes) on CPU
CHUNK_SIZE = 64
PER_KEY_CHUNK_SIZE = 16
SUB_CHUNK_SIZE = 4
# smallest total log-decay of a chunk for which a decay per key is factored through the chunk start
FACTOR_LIMIT = -40.0
# above this share of chunks that cannot factor, none is factored (and the default chunk is 16 tokens)
STEEP_SHARE = 0.125


def _causal(size: int, device) -> Tensor:
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def _no_decay(q: Tensor, k: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
    attn = (q @ k.transpose(-1, -2)).masked_fill(~_causal(q.shape[-2], q.device), 0.0)
    return attn, q, k, None


def _head_decay(q: Tensor, k: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Scalar decay: ``b`` [..., C] cumulative log-decay inside each chunk."""
    dtype = q.dtype
    rel = (b[..., :, None] - b[..., None, :]).masked_fill(~_causal(b.shape[-1], b.device), float("-inf"))
    attn = (q @ k.transpose(-1, -2)) * rel.exp().to(dtype)
    q_in = q * b.exp().to(dtype)[..., None]
    k_out = k * (b[..., -1:] - b).exp().to(dtype)[..., None]
    return attn, q_in, k_out, b[..., -1:].exp().to(dtype)


class _KeyDecayAttention(torch.autograd.Function):
    r"""Intra-chunk weights :math:`A_{ij} = \sum_k q_{ik} k_{jk} e^{b_{ik} - b_{jk}}` (j ≤ i) for a decay per key.

    Secondary chunking in the forward pass (see the module docstring). The backward pass is written
    out, because autograd's would take twice the passes over the C·c·K-sized decay tensors:
    :math:`dq_i = \sum_j dA_{ij}\, k_j \odot e^{b_i - b_j}`,
    :math:`dk_j = \sum_i dA_{ij}\, q_i \odot e^{b_i - b_j}` (the same two decayed products) and,
    since A depends on b only through :math:`b_i - b_j`, :math:`db = q \odot dq - k \odot dk`.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, b: Tensor, sub: int) -> Tensor:
        dtype = q.dtype
        *lead, size, key_dim = q.shape
        parts = size // sub
        q_sub, k_sub, b_sub = (t.reshape(*lead, parts, sub, key_dim) for t in (q, k, b))
        # rho_p: log-decay at the end of sub-chunk p - 1 (0 at the chunk start)
        rho = F.pad(b_sub[..., :-1, -1, :], (0, 0, 1, 0))
        to_end = (b_sub - rho[..., None, :]).exp().to(dtype)
        # keys of every earlier sub-chunk, decayed to the start of sub-chunk p: [..., P, C, K]
        earlier = torch.arange(size, device=q.device)[None, :] < sub * torch.arange(parts, device=q.device)[:, None]
        to_start = torch.where(earlier[..., None], rho[..., :, None, :] - b[..., None, :, :], float("-inf"))
        to_start = to_start.exp_().to(dtype)
        q_hat, k_hat = q_sub * to_end, k[..., None, :, :] * to_start
        attn = (q_hat @ k_hat.transpose(-1, -2)).reshape(*lead, parts, sub, parts, sub)
        # diagonal blocks: relative log-decays, masked before the exp: [..., P, c, c, K]
        causal = _causal(sub, q.device)[..., None]
        rel = torch.where(causal, b_sub[..., :, None, :] - b_sub[..., None, :, :], float("-inf")).exp_().to(dtype)
        diag = (q_sub[..., :, None, :] * rel).mul_(k_sub[..., None, :, :]).sum(-1)
        attn.diagonal(dim1=-4, dim2=-2).add_(diag.movedim(-3, -1))
        ctx.save_for_backward(q, k, to_end, to_start, rel)
        ctx.sub = sub
        ctx.b_dtype = b.dtype
        return attn.reshape(*lead, size, size)

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, k, to_end, to_start, rel = ctx.saved_tensors
        sub = ctx.sub
        *lead, size, key_dim = q.shape
        parts = size // sub
        q_sub, k_sub = q.reshape(*lead, parts, sub, key_dim), k.reshape(*lead, parts, sub, key_dim)
        grad = grad.reshape(*lead, parts, sub, size)
        # between sub-chunks: attn_off[p] = q_hat[p] @ k_hat[p]^T
        k_hat = k[..., None, :, :] * to_start
        dq = (grad @ k_hat) * to_end
        dk = ((grad.transpose(-1, -2) @ (q_sub * to_end)) * to_start).sum(-3)
        # diagonal blocks
        grad_diag = grad.reshape(*lead, parts, sub, parts, sub).diagonal(dim1=-4, dim2=-2).movedim(-1, -3)
        weighted = grad_diag[..., None] * rel
        dq = dq + (weighted * k_sub[..., None, :, :]).sum(-2)
        dk = dk + (weighted * q_sub[..., :, None, :]).sum(-3).reshape(*lead, size, key_dim)
        dq = dq.reshape(*lead, size, key_dim)
        db = (q * dq - k * dk).to(ctx.b_dtype)
        return dq, dk, db, None


def _unfactorable_share(g: Tensor, chunk_size: int) -> float:
    """The share of (batch, head, chunk) blocks of ``chunk_size`` tokens whose total log-decay (the most negative
    over keys) falls below :data:`FACTOR_LIMIT`, for the per-key log-decay g [B, T, H, K]."""
    pad = -g.shape[1] % chunk_size
    totals = F.pad(g, (0, 0, 0, 0, 0, pad)).unflatten(1, (-1, chunk_size)).sum(2).amin(-1)
    return (totals < FACTOR_LIMIT).float().mean().item() if totals.numel() else 0.0


def _key_decay(q: Tensor, k: Tensor, b: Tensor, sub: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Decay per key: ``b`` [B, H, N, C, K] cumulative log-decay inside each chunk.

    Chunks whose log-decay stays above :data:`FACTOR_LIMIT` get the factored matmul; the others (found per
    batch, head and chunk) get :class:`_KeyDecayAttention` with sub-chunks of ``sub``, which computes every
    chunk when more than :data:`STEEP_SHARE` of them are steep.
    """
    dtype = q.dtype
    q_in = q * b.exp().to(dtype)
    steep = b[..., -1, :].amin(-1) < FACTOR_LIMIT
    share = steep.float().mean().item()
    if share > STEEP_SHARE:
        attn = _KeyDecayAttention.apply(q, k, b, sub)
    else:
        # clamped, the factored exponents stay finite in the chunks that are recomputed below
        b_safe = b.clamp(min=FACTOR_LIMIT)
        q_factor = q * b_safe.exp().to(dtype) if share else q_in
        attn = q_factor @ (k * (-b_safe).exp().to(dtype)).transpose(-1, -2)
        attn = attn.masked_fill(~_causal(q.shape[-2], q.device), 0.0)
    if 0 < share <= STEEP_SHARE:
        where = steep.nonzero(as_tuple=True)
        attn = attn.index_put(where, _KeyDecayAttention.apply(q[where], k[where], b[where], sub))
    k_out = k * (b[..., -1:, :] - b).exp().to(dtype)
    return attn, q_in, k_out, b[..., -1, :].exp().to(dtype)


def _split_state(initial_state, normalize: bool, shape: tuple[int, ...], like: Tensor) -> tuple[Tensor, Tensor | None]:
    batch, heads, key_dim, value_dim = shape
    if initial_state is None:
        s0 = like.new_zeros(batch, heads, key_dim, value_dim)
        return s0, (like.new_zeros(batch, heads, key_dim) if normalize else None)
    if normalize:
        return initial_state[0].to(like.dtype), initial_state[1].to(like.dtype)
    return initial_state.to(like.dtype), None


def chunk_linear_attn(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None = None,
    scale: float | None = None,
    initial_state: Tensor | tuple[Tensor, Tensor] | None = None,
    normalize: bool = False,
    eps: float = 1e-6,
    chunk_size: int | None = None,
    sub_chunk_size: int | None = None,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """Causal linear attention, chunk by chunk; same arguments and results as :func:`.naive.naive_linear_attn`.

    Args:
        q, k, v: queries, keys and values.
        g: log-decay g = log α ≤ 0: None (no decay), one per head, or one per key.
        scale: query scale s (default ``K ** -0.5``).
        initial_state: S_0, or (S_0, z_0) when ``normalize`` (default zeros).
        normalize: divide by the running normaliser z (default False); computed exactly as one
            more value column of ones, so z rides along in the state.
        eps: added to the denominator when ``normalize`` (default 1e-6).
        chunk_size: C, tokens per chunk (default 64; 16 with a decay per key when more than
            :data:`STEEP_SHARE` of the chunks of 64 cannot factor, see :data:`FACTOR_LIMIT`: the
            fastest on CPU for K, V ≈ 32–128, see tools/bench/linear_attn.py).
        sub_chunk_size: c, tokens per sub-chunk, used with a decay per key that does not factor
            (default 4); must divide C.

    Shapes:
        q, k [B, T, H, K]; v [B, T, H, V]; g [B, T, H] or [B, T, H, K]
        -> output [B, T, H, V] in v's dtype; final state S [B, H, K, V] (and z [B, H, K])
        in float32 or better. Runs with autocast off, in float32 or better.
    """
    per_key = g is not None and g.dim() == 4
    if chunk_size is None:
        steep = per_key and _unfactorable_share(g.detach(), CHUNK_SIZE) > STEEP_SHARE
        chunk_size = PER_KEY_CHUNK_SIZE if steep else CHUNK_SIZE
    sub_chunk_size = min(sub_chunk_size or SUB_CHUNK_SIZE, chunk_size)
    if per_key and chunk_size % sub_chunk_size:
        raise ValueError(f"sub_chunk_size = {sub_chunk_size} must divide chunk_size = {chunk_size}")
    batch, seq_len, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    scale = key_dim**-0.5 if scale is None else scale
    dtype = torch.promote_types(q.dtype, torch.float32)
    out_dtype = v.dtype
    with torch.autocast(q.device.type, enabled=False):
        q, k, v = (t.to(dtype).transpose(1, 2).contiguous() for t in (q, k, v))
        q = q * scale
        s0, z0 = _split_state(initial_state, normalize, (batch, heads, key_dim, value_dim), q)
        if normalize:
            v = torch.cat([v, v.new_ones(*v.shape[:-1], 1)], dim=-1)
            s0 = torch.cat([s0, z0[..., None]], dim=-1)
        pad = -seq_len % chunk_size
        n_chunks = (seq_len + pad) // chunk_size

        def chunked(t: Tensor) -> Tensor:
            t = F.pad(t, (0, 0, 0, pad)) if pad else t
            return t.reshape(batch, heads, n_chunks, chunk_size, t.shape[-1])

        q, k, v = chunked(q), chunked(k), chunked(v)
        if g is None:
            attn, q_in, k_out, decay = _no_decay(q, k)
        else:
            g = g.to(torch.promote_types(g.dtype, dtype)).transpose(1, 2)
            if not per_key:
                b = (F.pad(g, (0, pad)) if pad else g).reshape(batch, heads, n_chunks, chunk_size).cumsum(-1)
                attn, q_in, k_out, decay = _head_decay(q, k, b)
            else:
                attn, q_in, k_out, decay = _key_decay(q, k, chunked(g).cumsum(-2), sub_chunk_size)
        updates = (k_out.transpose(-1, -2) @ v).unbind(2)
        state, starts = s0, []
        for n in range(n_chunks):
            starts.append(state)
            state = updates[n] + (state if decay is None else decay[:, :, n, :, None] * state)
        starts = torch.stack(starts, 2)
        # o = q_in S_n + attn v, as one fused multiply-add over the (B, H, N) batch
        out = torch.baddbmm((attn @ v).flatten(0, 2), q_in.flatten(0, 2), starts.flatten(0, 2))
        out = out.reshape(batch, heads, n_chunks * chunk_size, -1)[:, :, :seq_len]
        final = state
        if normalize:
            out = out[..., :value_dim] / (out[..., value_dim:] + eps)
            final = (final[..., :value_dim], final[..., value_dim])
    return out.transpose(1, 2).to(out_dtype), final
