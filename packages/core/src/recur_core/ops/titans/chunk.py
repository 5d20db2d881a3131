r"""Titans' memory in chunks: closed-form MLP gradients, and the momentum and decay recurrences as matmuls.

Behrouz, Zhong and Mirrokni, "Titans: Learning to Memorize at Test Time", 2024
(https://arxiv.org/abs/2501.00663), Section 3.2 ("parallelizing the long-term memory training").
Same recurrence and state as :func:`recur_core.ops.titans.naive.naive_titans`.

Gradients. For :math:`\mathcal{M}(x) = W_L\,\sigma(\cdots \sigma(W_1 x))` with inputs
:math:`x_0 = k`, pre-activations :math:`z_l = W_l x_{l-1}`, :math:`x_l = \sigma(z_l)`, the loss
:math:`\|z_L - v\|^2` has :math:`\nabla_{W_l} \ell = \delta_l x_{l-1}^\top` with
:math:`\delta_L = 2 (z_L - v)` and :math:`\delta_{l-1} = (W_l^\top \delta_l) \odot \sigma'(z_{l-1})`.
Within a chunk every gradient is taken at the same weights W', so all of them come from one batched
forward and backward pass (:func:`memory_grads`), kept as the factors :math:`(\delta_{j,l}, x_{j,l-1})`.

Recurrences. Inside a chunk that starts from :math:`(W, S)` let :math:`a_t = 1 - \alpha_t`,
:math:`A_{ti} = \prod_{r=i+1}^{t} a_r` and :math:`E_{ti} = \prod_{r=i+1}^{t} \eta_r` (lower
triangular, ones on the diagonal), :math:`b_t = \prod_{r \le t} a_r`, :math:`m_t = \prod_{r \le t} \eta_r`.
Unrolling both recurrences gives

.. math::
    S_t = m_t S - \sum_{j \le t} N_{tj}\, g_j, \qquad
    W_t = b_t W + f_t S - \sum_{j \le t} G_{tj}\, g_j, \qquad
    N = E\,\mathrm{diag}(\theta), \quad G = A N, \quad f = A m,

with :math:`g_j = \delta_j x_j^\top`. The products come from cumulative products of a masked C × C
matrix (no division, so α = 1 and η = 0 are exact). Reading :math:`o_t = \mathcal{M}_{W_t}(q_t)` needs
no per-token weights: layer by layer, with :math:`u` the query's activation entering layer l,

.. math::
    W_{l,t}\, u_t = b_t W_l u_t + f_t S_l u_t - \sum_{j \le t} G_{tj}\, (x_{j,l-1}^\top u_t)\, \delta_{j,l},

an attention-like product with the C × C matrix :math:`G \odot (U X^\top)`. Only the chunk-to-chunk
state update is sequential: a loop over chunks, none over tokens.

Resuming mid-chunk. A state carries ``position`` p per row, so row b's chunks start p_b tokens early;
the call shifts row b right by p_b onto one grid of chunks, and the p_b slots in front are inert
(:math:`a = \eta = 1`, θ = 0, and they add nothing to f). Padded tokens (``lengths``) are inert too,
and each row's final state is read at its last valid token.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.ops.titans.naive import MemoryState, check_memory_state, clip_scale, memory_mlp

__all__ = ["chunk_titans", "memory_grads", "titans_step"]


def memory_grads(
    weights: tuple[Tensor, ...], k: Tensor, v: Tensor, max_grad_norm: float | None = None
) -> tuple[list[Tensor], list[Tensor]]:
    """Closed-form gradient factors of ‖M_W(k_j) − v_j‖² for every token j: ∇W_l = δ_{j,l} x_{j,l−1}ᵀ.

    With ``max_grad_norm`` c each δ_{j,l} is scaled by min(1, c / ‖∇W_l‖_F), where the norm of the
    rank-one gradient is ‖δ_{j,l}‖ ‖x_{j,l−1}‖.

    Shapes:
        weights: W_l [B, H, d_l, d_{l-1}]; k [B, H, N, d_0]; v [B, H, N, d_L]
        -> deltas δ_l [B, H, N, d_l] and inputs x_{l-1} [B, H, N, d_{l-1}], one per layer.
    """
    inputs, pre = [k], []
    for i, w in enumerate(weights):
        z = inputs[-1] @ w.transpose(-1, -2)
        pre.append(z)
        if i < len(weights) - 1:
            inputs.append(F.silu(z))
    deltas = [2 * (pre[-1] - v)]
    for i in range(len(weights) - 1, 0, -1):
        gate = torch.sigmoid(pre[i - 1])
        silu_grad = gate * (1 + pre[i - 1] * (1 - gate))
        deltas.insert(0, (deltas[0] @ weights[i]) * silu_grad)
    if max_grad_norm is not None:
        sq_norms = (d.pow(2).sum(-1, keepdim=True) * x.pow(2).sum(-1, keepdim=True) for d, x in zip(deltas, inputs))
        deltas = [d * clip_scale(n, max_grad_norm) for d, n in zip(deltas, sq_norms)]
    return deltas, inputs


def titans_step(
    q_t: Tensor,
    k_t: Tensor,
    v_t: Tensor,
    eta_t: Tensor,
    theta_t: Tensor,
    alpha_t: Tensor,
    state: MemoryState,
    chunk_size: int,
    max_grad_norm: float | None = None,
) -> tuple[Tensor, MemoryState]:
    """One token of the memory with the closed-form gradient (float32 or better, autocast off): the layer's ``step``.

    Arguments as in :func:`~recur_core.ops.titans.naive.naive_titans`, for one token.

    Shapes:
        q_t, k_t [B, H, d_0]; v_t [B, H, d_L]; eta_t, theta_t, alpha_t [B, H]; state as in
        :func:`~recur_core.ops.titans.naive.naive_titans` -> o_t [B, H, d_L] in v_t's dtype, new state.
    """
    check_memory_state(state, chunk_size)
    grad_weights, weights, momentum, position = state
    state_dtype = weights[0].dtype
    dtype = torch.promote_types(q_t.dtype, torch.float32)
    with torch.autocast(q_t.device.type, enabled=False):
        grad_weights, weights, momentum = ([w.to(dtype) for w in group] for group in state[:3])
        q, k, v = (x.to(dtype)[:, :, None] for x in (q_t, k_t, v_t))
        eta, theta, alpha = (g.to(dtype)[..., None, None] for g in (eta_t, theta_t, alpha_t))
        deltas, inputs = memory_grads(tuple(grad_weights), k, v, max_grad_norm)
        momentum = [eta * s - theta * d.transpose(-1, -2) @ x for s, d, x in zip(momentum, deltas, inputs)]
        weights = [(1 - alpha) * w + s for w, s in zip(weights, momentum)]
        o = memory_mlp(tuple(weights), q)[:, :, 0]
        position = position + 1
        complete = position == chunk_size
        grad_weights = [torch.where(complete[:, None, None, None], w, g) for w, g in zip(weights, grad_weights)]
        position = torch.where(complete, 0, position)
    final = tuple(tuple(w.to(state_dtype) for w in group) for group in (grad_weights, weights, momentum))
    return o.to(v_t.dtype), (*final, position)


def _decay_matrix(gate: Tensor) -> Tensor:
    """P[..., t, i] = ∏_{r=i+1}^{t} gate_r for i ≤ t, else 0; from gate [..., C] by one cumprod, no division."""
    size = gate.shape[-1]
    idx = torch.arange(size, device=gate.device)
    below = idx[:, None] > idx[None, :]
    factors = torch.where(below, gate[..., :, None], torch.ones((), dtype=gate.dtype, device=gate.device))
    return torch.where(idx[:, None] >= idx[None, :], factors.cumprod(-2), 0.0)


def _row(x: Tensor, index: Tensor) -> Tensor:
    """x[b, h, index[b]] for x [B, H, C, ...] and index [B]."""
    shape = (x.shape[0], x.shape[1], 1, *x.shape[3:])
    return x.gather(2, index.view(-1, 1, 1, *[1] * (x.dim() - 3)).expand(shape)).squeeze(2)


def chunk_titans(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    eta: Tensor,
    theta: Tensor,
    alpha: Tensor,
    state: MemoryState,
    chunk_size: int = 16,
    lengths: Tensor | None = None,
    max_grad_norm: float | None = None,
) -> tuple[Tensor, MemoryState]:
    """The Titans memory over a whole sequence in chunks (float32 or better, autocast off).

    Args:
        q, k, v, eta, theta, alpha, state, lengths, max_grad_norm: as in
            :func:`~recur_core.ops.titans.naive.naive_titans`.
        chunk_size: C, tokens whose gradients share the chunk-start weights. Unlike the delta rule's
            chunk size it is part of the model: C = 1 is the per-token rule.

    Shapes:
        q, k [B, T, H, d_0]; v [B, T, H, d_L]; eta, theta, alpha [B, T, H];
        state: three tuples of W_l [B, H, d_l, d_{l-1}] and position [B] (int64);
        lengths [B] -> output [B, T, H, d_L] in v's dtype and the final state in the state's dtypes.
    """
    check_memory_state(state, chunk_size)
    batch, seq_len = q.shape[:2]
    size = chunk_size
    position = state[3]
    state_dtype = state[1][0].dtype
    dtype = torch.promote_types(q.dtype, torch.float32)
    device = q.device
    if lengths is None:
        lengths = torch.full((batch,), seq_len, device=device, dtype=torch.long)
    with torch.autocast(device.type, enabled=False):
        grad_weights, weights, momentum = ([w.to(dtype) for w in group] for group in state[:3])
        # row b's token t sits at global slot position[b] + t of a grid of whole chunks
        last = position + lengths - 1
        num_chunks = int(last.max()) // size + 1
        source = torch.arange(num_chunks * size, device=device) - position[:, None]
        real = (source >= 0) & (source < lengths[:, None])
        index = source.clamp(0, seq_len - 1)

        def shift(x: Tensor, fill: float) -> Tensor:
            """[B, T, H, ...] -> [B, H, num_chunks, C, ...] on the grid, ``fill`` in the inert slots."""
            idx = index.view(batch, -1, *[1] * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])
            mask = real.view(batch, -1, *[1] * (x.dim() - 2))
            x = torch.where(mask, x.to(dtype).gather(1, idx), fill)
            return x.unflatten(1, (num_chunks, size)).movedim(3, 1)

        q_c, k_c, v_c = shift(q, 0.0), shift(k, 0.0), shift(v, 0.0)
        # 1 − α after the cast: in bfloat16 a small α would round away
        decay, eta_c, theta_c = 1 - shift(alpha, 0.0), shift(eta, 1.0), shift(theta, 0.0)
        after_start = (source >= 0).to(dtype).view(batch, 1, num_chunks, size)
        # chunk-local coefficients of every chunk at once: b_t, m_t, f_t, N, G (module docstring)
        decay_mat, eta_mat = _decay_matrix(decay), _decay_matrix(eta_c)
        b_coef, m_coef = decay.cumprod(-1), eta_c.cumprod(-1)
        f_coef = (decay_mat @ (m_coef * after_start)[..., None])[..., 0]
        n_mat = eta_mat * theta_c[..., None, :]
        g_mat = decay_mat @ n_mat

        last_chunk, last_slot = last // size, last % size
        # Python-side bookkeeping, so that the common case (every row runs through whole chunks) takes no masks
        ends = last_chunk.tolist()
        outputs = []
        # unbind, not [:, :, n]: indexing's backward would write a full-size gradient for every chunk
        per_chunk = zip(*(t.unbind(2) for t in (q_c, k_c, v_c, b_coef, m_coef, f_coef, n_mat, g_mat)))
        for n, (u, k_n, v_n, b_n, m_n, f_n, n_n, g_n) in enumerate(per_chunk):
            deltas, inputs = memory_grads(tuple(grad_weights), k_n, v_n, max_grad_norm)
            for i, (w, s, d, x) in enumerate(zip(weights, momentum, deltas, inputs)):
                ws = torch.cat([w, s], -2).transpose(-1, -2)
                read_w, read_s = (u @ ws).split([w.shape[-2], s.shape[-2]], -1)
                u = b_n[..., None] * read_w + f_n[..., None] * read_s - (g_n * (u @ x.mT)) @ d
                if i < len(weights) - 1:
                    u = F.silu(u)
            outputs.append(u)
            # the state at the chunk's end, or at the row's last token when that falls in this chunk
            ending = n in ends
            slot = torch.where(last_chunk == n, last_slot, size - 1) if ending else None
            coefs = (g_n, n_n, b_n, m_n, f_n)
            g_row, n_row, b_row, m_row, f_row = (c[:, :, -1] if slot is None else _row(c, slot) for c in coefs)
            b_row, m_row, f_row = (c[..., None, None] for c in (b_row, m_row, f_row))
            new_weights = [
                b_row * w + f_row * s - (d * g_row[..., None]).transpose(-1, -2) @ x
                for w, s, d, x in zip(weights, momentum, deltas, inputs)
            ]
            new_momentum = [
                m_row * s - (d * n_row[..., None]).transpose(-1, -2) @ x for s, d, x in zip(momentum, deltas, inputs)
            ]
            new_grad_weights = new_weights
            if ending:
                complete = (slot == size - 1)[:, None, None, None]
                new_grad_weights = [torch.where(complete, w, g) for w, g in zip(new_weights, grad_weights)]
            if n > min(ends):
                # rows that ended in an earlier chunk keep their final state
                active = (n <= last_chunk)[:, None, None, None]
                new_grad_weights = [torch.where(active, a, b) for a, b in zip(new_grad_weights, grad_weights)]
                new_weights = [torch.where(active, a, b) for a, b in zip(new_weights, weights)]
                new_momentum = [torch.where(active, a, b) for a, b in zip(new_momentum, momentum)]
            grad_weights, weights, momentum = new_grad_weights, new_weights, new_momentum
        out = torch.cat(outputs, 2)
        # padded tokens past the grid read its last slot: their outputs are not defined
        back = (position[:, None] + torch.arange(seq_len, device=device)).clamp(max=out.shape[2] - 1)
        back = back.view(batch, 1, seq_len, 1)
        out = out.gather(2, back.expand(-1, out.shape[1], -1, out.shape[-1])).transpose(1, 2)
    final = tuple(tuple(w.to(state_dtype) for w in group) for group in (grad_weights, weights, momentum))
    return out.to(v.dtype), (*final, (last_slot + 1) % size)
