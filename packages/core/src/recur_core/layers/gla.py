"""Gated linear attention: linear attention with a data-dependent decay per key.

Yang et al., "Gated Linear Attention Transformers with Hardware-Efficient Training", ICML 2024,
https://arxiv.org/abs/2312.06635.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step
from recur_core.registry import register_layer

__all__ = ["GLA"]


@register_layer("gla")
class GLA(SequenceLayer):
    r"""Multi-head gated linear attention, trained chunkwise (secondary chunking for the per-key gates).

    Per head, with the state :math:`S_t \in \mathbb{R}^{d_k \times d_v}`:

    .. math::
        \alpha_t = \sigma(x_t W_{\alpha 1} W_{\alpha 2} + b_\alpha)^{1/\tau}, \quad
        S_t = \mathrm{diag}(\alpha_t) S_{t-1} + k_t v_t^\top, \quad
        o_t = S_t^\top q_t / \sqrt{d_k}, \quad
        y_t = \big(\mathrm{swish}(x_t W_r) \odot \mathrm{concat}_h \mathrm{RMSNorm}(o_{t,h})\big) W_O

    with :math:`q, k, v = x W_{Q,K,V}`, the gate of low rank 16 and temperature τ = 16 (so
    :math:`\log \alpha = \log\sigma(\cdot) / \tau`, computed in log space). Training runs
    :func:`~recur_core.ops.linear_attn.chunk_linear_attn` with the per-key log-gate; ``step`` runs
    the recurrence. Padded steps get gate 1 and zero keys, which leaves the state unchanged.

    Args:
        d_model: width D.
        num_heads: number of heads H (default 4).
        expand_k: key width d_k relative to D (default 0.5, the paper's d_k = d/2).
        expand_v: value width d_v relative to D (default 1).
        gate_low_rank_dim: rank of the gate projection W_α1 W_α2 (default 16).
        tau: the gate temperature τ (default 16).
        norm_eps: epsilon of the per-head output RMSNorm (default 1e-5).
        chunk_size: tokens per chunk of the training form; does not change the math (default: the op's).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state S [B, H, d_k/H, d_v/H].
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        expand_k: float = 0.5,
        expand_v: float = 1.0,
        gate_low_rank_dim: int = 16,
        tau: float = 16.0,
        norm_eps: float = 1e-5,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(d_model)
        key_width, value_width = int(d_model * expand_k), int(d_model * expand_v)
        for name, width in (("expand_k", key_width), ("expand_v", value_width)):
            if num_heads < 1 or width < num_heads or width % num_heads:
                raise ValueError(f"{name} · d_model = {width} must be a positive multiple of num_heads = {num_heads}")
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.num_heads = num_heads
        self.key_dim = key_width // num_heads
        self.value_dim = value_width // num_heads
        self.tau = tau
        self.chunk_size = chunk_size
        self.qk = nn.Linear(d_model, 2 * key_width, bias=False)
        self.v = nn.Linear(d_model, value_width, bias=False)
        self.gate_down = nn.Linear(d_model, gate_low_rank_dim, bias=False)
        self.gate_up = nn.Linear(gate_low_rank_dim, key_width, bias=True)
        self.output_gate = nn.Linear(d_model, value_width, bias=False)
        self.norm = nn.RMSNorm(self.value_dim, eps=norm_eps)
        self.out = nn.Linear(value_width, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.v.weight.dtype
        return torch.zeros(batch_size, self.num_heads, self.key_dim, self.value_dim, device=device, dtype=dtype)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        q, k = self.qk(x).unflatten(-1, (2, self.num_heads, self.key_dim)).unbind(-3)
        v = self.v(x).unflatten(-1, (self.num_heads, self.value_dim))
        # log-gates in float32 or better, also under autocast
        logits = self.gate_up(self.gate_down(x))
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        g = (F.logsigmoid(logits) / self.tau).unflatten(-1, (self.num_heads, self.key_dim))
        return q, k, v, g

    def _output(self, o: Tensor, x: Tensor) -> Tensor:
        o = self.norm(o.to(self.norm.weight.dtype)).flatten(-2)
        return self.out(F.silu(self.output_gate(x)) * o)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        q, k, v, g = self._heads(x)
        if lengths is not None:
            valid = valid_mask(lengths, x.shape[1])[..., None, None]
            k = torch.where(valid, k, 0.0)
            g = torch.where(valid, g, 0.0)
        o, state = chunk_linear_attn(q, k, v, g, initial_state=state, chunk_size=self.chunk_size)
        return self._output(o, x), state

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        q, k, v, g = self._heads(x_t)
        o, state = linear_attn_step(q, k, v, g, state, scale=self.key_dim**-0.5)
        return self._output(o, x_t), state
