r"""Titans' neural long-term memory as a plain per-token loop: the ground truth for :mod:`.chunk`.

Behrouz, Zhong and Mirrokni, "Titans: Learning to Memorize at Test Time", 2024
(https://arxiv.org/abs/2501.00663), Section 3.1.

Per head the memory is an MLP :math:`\mathcal{M}(x) = W_L\,\sigma(W_{L-1} \cdots \sigma(W_1 x))`
(σ = SiLU, no biases, depth L ≥ 1) whose weights :math:`W = (W_1, \dots, W_L)` are the state. It is
trained at test time on the associative loss :math:`\ell(W; k_t, v_t) = \|\mathcal{M}_W(k_t) - v_t\|^2`
by gradient descent with momentum (the "surprise" S) and weight decay (the forgetting gate):

.. math::
    S_t = \eta_t S_{t-1} - \theta_t \nabla_W \ell(W'_t; k_t, v_t), \qquad
    W_t = (1 - \alpha_t)\, W_{t-1} + S_t, \qquad
    o_t = \mathcal{M}_{W_t}(q_t)

with data-dependent :math:`\eta_t, \theta_t, \alpha_t \in [0, 1]` per token and head. The read comes
after the token's own write (:math:`W_t`, as in linear attention). :math:`W'_t` is where the gradient
is taken: with chunk size C the paper's mini-batch gradient descent takes every gradient of a chunk at
the weights the chunk started from, :math:`W'_t = W_{C \lfloor (t-1)/C \rfloor}` (tokens counted from 1);
C = 1 is the exact per-token rule :math:`W'_t = W_{t-1}`.

The state is ``(grad_weights, weights, momentum, position)``: the chunk-start weights :math:`W'`, the
current weights W, the momentum S (tuples with one tensor per MLP layer) and the number of tokens
already taken in the current chunk. It is exactly what a token-by-token ``step`` needs, so a sequence
may stop and resume anywhere, mid-chunk included. This loop takes the gradient with autograd; the
chunked form and the one-token step use the closed form (:func:`~.chunk.memory_grads`).

``max_grad_norm`` c (not in the paper) clips each token's gradient of each layer,
:math:`\nabla \leftarrow \nabla \min(1, c / \|\nabla\|_F)`: an MLP memory's test-time descent has a
curvature that grows with its own weights and can run away (the weights reached 1e22 and then NaN within
40 training steps of a MAL model on MQAR without it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MemoryState", "check_memory_state", "clip_scale", "memory_mlp", "naive_titans"]

MemoryState = tuple[tuple[Tensor, ...], tuple[Tensor, ...], tuple[Tensor, ...], Tensor]


def memory_mlp(weights: tuple[Tensor, ...], x: Tensor) -> Tensor:
    """Apply the per-head memory MLP (SiLU between layers, none after the last).

    Shapes:
        weights: W_l [B, H, d_l, d_{l-1}]; x [B, H, N, d_0] -> [B, H, N, d_L].
    """
    for i, w in enumerate(weights):
        x = x @ w.transpose(-1, -2)
        if i < len(weights) - 1:
            x = F.silu(x)
    return x


def check_memory_state(state: MemoryState, chunk_size: int) -> None:
    """Raise ValueError unless ``state`` is ``(grad_weights, weights, momentum, position)`` for ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    if not (isinstance(state, tuple) and len(state) == 4):
        raise ValueError("the memory state must be (grad_weights, weights, momentum, position)")
    grad_weights, weights, momentum, position = state
    shapes = [tuple(w.shape) for w in weights]
    if [tuple(w.shape) for w in grad_weights] != shapes or [tuple(s.shape) for s in momentum] != shapes:
        raise ValueError("grad_weights, weights and momentum must hold tensors of the same shapes, one per MLP layer")
    if position.is_floating_point() or position.dim() != 1:
        raise ValueError(f"position must be an integer tensor [B], got {position.dtype} {tuple(position.shape)}")
    if position.numel() and (int(position.min()) < 0 or int(position.max()) >= chunk_size):
        raise ValueError(
            f"position must lie in 0..chunk_size-1 = 0..{chunk_size - 1}; "
            f"continue a state with the chunk size that produced it"
        )


def clip_scale(sq_norm: Tensor, max_norm: float | None) -> Tensor | float:
    """min(1, c / ‖g‖) from ‖g‖², finite gradients at ‖g‖ = 0 (the clamp comes before the rsqrt)."""
    if max_norm is None:
        return 1.0
    return max_norm * sq_norm.clamp(min=max_norm**2).rsqrt()


def _loss_grads(
    grad_weights: tuple[Tensor, ...], k_t: Tensor, v_t: Tensor, max_grad_norm: float | None, create_graph: bool
) -> list[Tensor]:
    """∇_W ‖M_W(k_t) − v_t‖² per row and head by autograd, each layer's clipped to Frobenius norm c."""
    with torch.enable_grad():
        leaves = [w if w.requires_grad else w.detach().requires_grad_() for w in grad_weights]
        # each row and head has its own weights, so one summed loss gives each its own gradient
        loss = (memory_mlp(tuple(leaves), k_t[:, :, None]) - v_t[:, :, None]).pow(2).sum()
        grads = torch.autograd.grad(loss, leaves, create_graph=create_graph)
    return [g * clip_scale(g.pow(2).sum((-2, -1), keepdim=True), max_grad_norm) for g in grads]


def naive_titans(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    eta: Tensor,
    theta: Tensor,
    alpha: Tensor,
    state: MemoryState,
    chunk_size: int = 1,
    lengths: Tensor | None = None,
    max_grad_norm: float | None = None,
) -> tuple[Tensor, MemoryState]:
    """The Titans memory, one token at a time (float32 or better, autocast off).

    Args:
        q, k, v: queries, keys (the memory's training inputs) and values (its targets).
        eta: momentum decay η ∈ [0, 1] (0 = plain gradient steps).
        theta: learning rate θ ∈ [0, 1].
        alpha: forgetting α ∈ [0, 1] (0 = keep everything, 1 = reset to the new surprise).
        state: ``(grad_weights, weights, momentum, position)``, see the module docstring.
        chunk_size: C, tokens whose gradients share the chunk-start weights (1 = per-token rule).
        lengths: valid tokens per row (right padding): the state stops at each row's last valid token.
        max_grad_norm: c, clip each token's gradient of each layer to Frobenius norm c (default None: no clipping).

    Shapes:
        q, k [B, T, H, d_0]; v [B, T, H, d_L]; eta, theta, alpha [B, T, H];
        state: three tuples of W_l [B, H, d_l, d_{l-1}] and position [B] (int64);
        lengths [B] -> output [B, T, H, d_L] in v's dtype and the final state in the state's dtypes.
    """
    check_memory_state(state, chunk_size)
    grad_weights, weights, momentum, position = state
    state_dtype = weights[0].dtype
    dtype = torch.promote_types(q.dtype, torch.float32)
    create_graph = torch.is_grad_enabled()
    seq_len = q.shape[1]
    with torch.autocast(q.device.type, enabled=False):
        grad_weights, weights, momentum = ([w.to(dtype) for w in group] for group in state[:3])
        outputs = []
        for t in range(seq_len):
            q_t, k_t, v_t = (x[:, t].to(dtype) for x in (q, k, v))
            eta_t, theta_t, alpha_t = (g[:, t, :, None, None].to(dtype) for g in (eta, theta, alpha))
            grads = _loss_grads(tuple(grad_weights), k_t, v_t, max_grad_norm, create_graph)
            new_momentum = [eta_t * s - theta_t * g for s, g in zip(momentum, grads)]
            new_weights = [(1 - alpha_t) * w + s for w, s in zip(weights, new_momentum)]
            outputs.append(memory_mlp(tuple(new_weights), q_t[:, :, None])[:, :, 0])
            new_position = position + 1
            complete = (new_position == chunk_size)[:, None, None, None]
            new_grad_weights = [torch.where(complete, w, g) for w, g in zip(new_weights, grad_weights)]
            new_position = torch.where(complete[:, 0, 0, 0], 0, new_position)
            # padded tokens (t >= length) leave the state as it was
            keep = torch.ones_like(position, dtype=torch.bool) if lengths is None else t < lengths
            keep4 = keep[:, None, None, None]
            grad_weights = [torch.where(keep4, n, o) for n, o in zip(new_grad_weights, grad_weights)]
            weights = [torch.where(keep4, n, o) for n, o in zip(new_weights, weights)]
            momentum = [torch.where(keep4, n, o) for n, o in zip(new_momentum, momentum)]
            position = torch.where(keep, new_position, position)
    final = tuple(tuple(w.to(state_dtype) for w in group) for group in (grad_weights, weights, momentum))
    return torch.stack(outputs, 1).to(v.dtype), (*final, position)
