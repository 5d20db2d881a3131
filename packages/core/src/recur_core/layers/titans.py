"""Titans' neural long-term memory as a sequence layer: an MLP whose weights learn at test time.

Behrouz, Zhong and Mirrokni, "Titans: Learning to Memorize at Test Time", 2024,
https://arxiv.org/abs/2501.00663. The op is :mod:`recur_core.ops.titans`; the MAC / MAG / MAL
models that combine it with attention are in :mod:`recur_core.models.titans`.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State
from recur_core.layers.conv import CausalConv1d
from recur_core.ops.titans import chunk_titans, titans_step
from recur_core.registry import register_layer

__all__ = ["Titans"]


@register_layer("titans")
class Titans(SequenceLayer):
    r"""Multi-head Titans long-term memory: per head an MLP trained online on key → value, read with the query.

    With :math:`q, k, v = \mathrm{SiLU}(\mathrm{conv}(x W_{q,k,v}))`, q and k L2-normalised per head,
    and per token and head :math:`\theta_t = \theta_{\max}\,\sigma(x_t w_\theta)`,
    :math:`\eta_t = \sigma(x_t w_\eta)`, :math:`\alpha_t = \sigma(x_t w_\alpha)`, the memory
    :math:`\mathcal{M}_W` (an MLP of ``memory_depth`` layers with SiLU between them, its weights W
    the state, starting from learned weights) follows

    .. math::
        S_t = \eta_t S_{t-1} - \theta_t \nabla_W \|\mathcal{M}_{W'_t}(k_t) - v_t\|^2, \qquad
        W_t = (1 - \alpha_t) W_{t-1} + S_t, \qquad
        y_t = W_o \big(\mathrm{concat}_h \mathrm{RMSNorm}(\mathcal{M}_{W_t}(q_{t,h})) \odot \mathrm{SiLU}(x_t W_g)\big)

    where :math:`W'_t` are the weights at the start of the token's chunk of ``chunk_size`` tokens
    (mini-batch gradient descent as in the paper; ``chunk_size=1`` is the per-token rule), each
    token's gradient clipped per MLP layer to norm ``max_grad_norm``. The read
    uses the weights after the token's own write. ``momentum=False`` fixes η = 0 and
    ``forgetting=False`` fixes α = 0 (the paper's ablations). ``step`` carries the chunk-start
    weights and the position in the chunk, so it reproduces ``forward`` exactly for any chunk size,
    and a sequence may be split anywhere.

    Args:
        d_model: width D.
        num_heads: number of heads H; D must be divisible by H (default 4).
        memory_depth: layers of the memory MLP, ≥ 1 (default 2; 1 is a linear memory).
        memory_expansion: hidden width of the memory MLP over the head width (default 2).
        chunk_size: tokens whose gradients share the chunk-start weights (default 16).
        momentum: data-dependent momentum η (default True; False: η = 0).
        forgetting: data-dependent forgetting α (default True; False: α = 0).
        max_lr: θ_max, the largest test-time learning rate (default 0.1; without clipping
            ``mqar/titans`` went NaN within 200 steps at 0.3).
        max_grad_norm: clip each token's memory gradient, per MLP layer, to this Frobenius norm (default 1;
            None: no clipping, the paper's rule). Not in the paper: without it the MLP memory's test-time
            descent can run away during training (weights to 1e22, then NaN, in a MAL model on MQAR).
        use_short_conv: depthwise causal convolution on q, k, v before the SiLU (default True).
        conv_size: its kernel size (default 4).
        norm_eps: epsilon of the per-head output RMSNorm (default 1e-5).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (conv [B, conv_size − 1, 3D], memory) with
        ``use_short_conv``, else (memory,); memory = (chunk-start weights, weights, momentum,
        position [B] int64), the first three a tuple of W_l [B, H, d_l, d_{l-1}] each, with
        d_0 = d_L = D/H and the hidden d_l = memory_expansion · D/H.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        memory_depth: int = 2,
        memory_expansion: int = 2,
        chunk_size: int = 16,
        momentum: bool = True,
        forgetting: bool = True,
        max_lr: float = 0.1,
        max_grad_norm: float | None = 1.0,
        use_short_conv: bool = True,
        conv_size: int = 4,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__(d_model)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if memory_depth < 1 or memory_expansion < 1:
            raise ValueError(
                f"memory_depth and memory_expansion must be at least 1, got {memory_depth} and {memory_expansion}"
            )
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
        if not 0 < max_lr <= 1:
            raise ValueError(f"max_lr must lie in (0, 1], got {max_lr}")
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive or None, got {max_grad_norm}")
        if use_short_conv and conv_size < 2:
            raise ValueError(f"conv_size must be at least 2, got {conv_size}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.chunk_size = chunk_size
        self.momentum = momentum
        self.forgetting = forgetting
        self.max_lr = max_lr
        self.max_grad_norm = max_grad_norm
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.conv = CausalConv1d(3 * d_model, conv_size, bias=False) if use_short_conv else None
        # θ, then η and α when enabled
        self.gates = nn.Linear(d_model, (1 + momentum + forgetting) * num_heads)
        with torch.no_grad():
            self.gates.bias.zero_()
            if forgetting:
                # slow forgetting at the start: α ≈ 0.0025 per token
                self.gates.bias[-num_heads:] = -6.0
        dims = [self.head_dim] + [memory_expansion * self.head_dim] * (memory_depth - 1) + [self.head_dim]
        self.memory_init = nn.ParameterList(
            nn.Parameter(torch.randn(num_heads, d_out, d_in) / d_in**0.5) for d_in, d_out in itertools.pairwise(dims)
        )
        self.norm = nn.RMSNorm(self.head_dim, eps=norm_eps)
        self.gate = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.qkv.weight.dtype
        weights = tuple(w.to(device=device, dtype=dtype).expand(batch_size, *w.shape) for w in self.memory_init)
        momentum = tuple(torch.zeros_like(w) for w in weights)
        memory = (weights, weights, momentum, torch.zeros(batch_size, dtype=torch.long, device=device))
        if self.conv is None:
            return (memory,)
        return self.conv.init_state(batch_size, device=device, dtype=dtype), memory

    def _heads(self, qkv: Tensor, x: Tensor) -> tuple[Tensor, ...]:
        """SiLU, split into heads, L2-normalise q and k; θ, η, α [..., H] from the layer input x."""
        qkv = F.silu(qkv).unflatten(-1, (3, self.num_heads, self.head_dim))
        q, k = F.normalize(qkv[..., :2, :, :], dim=-1).unbind(-3)
        gates = torch.sigmoid(self.gates(x)).unflatten(-1, (-1, self.num_heads)).unbind(-2)
        zeros = torch.zeros_like(gates[0])
        theta = self.max_lr * gates[0]
        eta = gates[1] if self.momentum else zeros
        alpha = gates[-1] if self.forgetting else zeros
        return q, k, qkv[..., 2, :, :], eta, theta, alpha

    def _output(self, o: Tensor, x: Tensor) -> Tensor:
        """Per-head RMSNorm in the weight's precision (float32 under autocast), SiLU output gate, projection."""
        o = self.norm(o.to(self.norm.weight.dtype)).flatten(-2)
        return self.out(o.to(x.dtype) * F.silu(self.gate(x)))

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        qkv = self.qkv(x)
        conv_state = None
        if self.conv is not None:
            qkv, conv_state = self.conv(qkv, state[0], lengths)
        o, memory = chunk_titans(
            *self._heads(qkv, x), state[-1], self.chunk_size, lengths=lengths, max_grad_norm=self.max_grad_norm
        )
        y = self._output(o, x)
        return y, (memory,) if conv_state is None else (conv_state, memory)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        qkv = self.qkv(x_t)
        conv_state = None
        if self.conv is not None:
            qkv, conv_state = self.conv.step(qkv, state[0])
        o, memory = titans_step(*self._heads(qkv, x_t), state[-1], self.chunk_size, max_grad_norm=self.max_grad_norm)
        y = self._output(o, x_t)
        return y, (memory,) if conv_state is None else (conv_state, memory)
