"""Linear attention with a kernel feature map: attention as an RNN.

Katharopoulos et al., "Transformers are RNNs: Fast Autoregressive Transformers with Linear
Attention", ICML 2020, https://arxiv.org/abs/2006.16236. The second-order Taylor feature map is the
one of Based (Arora et al. 2024, https://arxiv.org/abs/2402.18668) and JRT-RNN (Arora et al. 2024,
https://arxiv.org/abs/2407.05483).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step
from recur_core.registry import register_layer

__all__ = ["LinearAttention", "elu_feature_map", "taylor_feature_map"]


def elu_feature_map(x: Tensor) -> Tensor:
    """φ(x) = elu(x) + 1, positive everywhere (Katharopoulos et al.)."""
    return F.elu(x) + 1


def taylor_feature_map(x: Tensor) -> Tensor:
    r"""Second-order Taylor features :math:`[1,\ x / d^{1/4},\ \mathrm{vec}(x x^\top) / (\sqrt 2 \sqrt d)]`.

    :math:`\phi(q)^\top \phi(k) = 1 + q^\top k / \sqrt d + (q^\top k)^2 / (2 d)`, the Taylor expansion of
    :math:`\exp(q^\top k / \sqrt d)` to second order, which is positive for every q, k.
    Shapes: ``x [..., d] -> [..., 1 + d + d²]``.
    """
    d = x.shape[-1]
    outer = (x[..., :, None] * x[..., None, :]).flatten(-2) / math.sqrt(2 * d)
    return torch.cat([torch.ones_like(x[..., :1]), x / d**0.25, outer], dim=-1)


_FEATURE_MAPS = {"elu": elu_feature_map, "taylor": taylor_feature_map}


@register_layer("linear_attention")
class LinearAttention(SequenceLayer):
    r"""Causal multi-head linear attention with the normaliser, trained chunkwise.

    Per head, with the feature map φ applied to queries and keys:

    .. math::
        S_t = S_{t-1} + \phi(k_t) v_t^\top, \quad z_t = z_{t-1} + \phi(k_t), \quad
        o_t = \frac{S_t^\top \phi(q_t)}{z_t^\top \phi(q_t) + \epsilon}, \quad
        y_t = W_o\, \mathrm{concat}_h\, o_{t,h}

    Training runs :func:`~recur_core.ops.linear_attn.chunk_linear_attn` with ``normalize=True``;
    ``step`` runs the recurrence. Padded steps get zero features and values, which leaves S and z
    unchanged.

    Args:
        d_model: width D.
        num_heads: number of heads H; D must be divisible by H (default 4).
        feature_map: ``"elu"`` (φ = elu + 1, default) or ``"taylor"`` (second-order Taylor, as in
            Based/JRT: φ(x) = [1, x/d^¼, vec(xxᵀ)/(√2·√d)]).
        feature_dim: d, the per-head width of q and k before φ (default D/H for ``"elu"``, 16 for
            ``"taylor"``, whose features grow as 1 + d + d²).
        eps: added to the normaliser (default 1e-6).
        chunk_size: tokens per chunk of the training form; does not change the math (default: the op's).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (S [B, H, F, D/H], z [B, H, F]) with F = d (elu) or
        1 + d + d² (taylor).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        feature_map: str = "elu",
        feature_dim: int | None = None,
        eps: float = 1e-6,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(d_model)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if feature_map not in _FEATURE_MAPS:
            raise ValueError(f"unknown feature_map {feature_map!r}; valid: {', '.join(_FEATURE_MAPS)}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.feature_map = feature_map
        self.feature_dim = feature_dim or (self.head_dim if feature_map == "elu" else 16)
        self.state_dim = self.feature_dim if feature_map == "elu" else 1 + self.feature_dim + self.feature_dim**2
        self.eps = eps
        self.chunk_size = chunk_size
        self.qk = nn.Linear(d_model, 2 * num_heads * self.feature_dim, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.v.weight.dtype
        shape = (batch_size, self.num_heads, self.state_dim)
        return torch.zeros(*shape, self.head_dim, device=device, dtype=dtype), torch.zeros(
            shape, device=device, dtype=dtype
        )

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        phi = _FEATURE_MAPS[self.feature_map]
        q, k = self.qk(x).unflatten(-1, (2, self.num_heads, self.feature_dim)).unbind(-3)
        return phi(q), phi(k), self.v(x).unflatten(-1, (self.num_heads, self.head_dim))

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        q, k, v = self._heads(x)
        if lengths is not None:
            valid = valid_mask(lengths, x.shape[1])[..., None, None]
            k = torch.where(valid, k, 0.0)
            v = torch.where(valid, v, 0.0)
        o, state = chunk_linear_attn(
            q, k, v, scale=1.0, initial_state=state, normalize=True, eps=self.eps, chunk_size=self.chunk_size
        )
        return self.out(o.flatten(-2)), state

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        q, k, v = self._heads(x_t)
        o, state = linear_attn_step(q, k, v, None, state, scale=1.0, normalize=True, eps=self.eps)
        return self.out(o.flatten(-2)), state
