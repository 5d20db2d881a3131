"""DeltaNet: linear attention whose fast weight is written by the delta rule.

Yang et al., "Parallelizing Linear Transformers with the Delta Rule over Sequence Length",
NeurIPS 2024, https://arxiv.org/abs/2406.06484; the delta rule of Schlag et al., "Linear
Transformers Are Secretly Fast Weight Programmers", ICML 2021, https://arxiv.org/abs/2102.11174;
``allow_neg_eigval`` from Grazzi et al., "Unlocking State-Tracking in Linear RNNs Through Negative
Eigenvalues", ICLR 2025, https://arxiv.org/abs/2411.12537.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.layers.conv import CausalConv1d
from recur_core.ops.delta_rule import chunk_delta_rule, delta_rule_step
from recur_core.registry import register_layer

__all__ = ["DeltaNet"]


@register_layer("deltanet")
class DeltaNet(SequenceLayer):
    r"""Multi-head DeltaNet: a short causal convolution, SiLU, L2-normalised q and k, the delta rule.

    Per head, with :math:`q_t, k_t` of unit norm and the state :math:`S_t \in \mathbb{R}^{K \times V}`
    (the transpose of the paper's fast weight):

    .. math::
        S_t = (I - \beta_t k_t k_t^\top)\, S_{t-1} + \beta_t k_t v_t^\top, \qquad
        o_t = S_t^\top q_t / \sqrt{K}, \qquad
        y_t = W_o \,\mathrm{concat}_h \mathrm{RMSNorm}(o_{t,h})

    where :math:`q, k, v = \mathrm{SiLU}(\mathrm{conv}(x W_{q,k,v}))` (without the convolution when
    ``use_short_conv=False``), q and k then L2-normalised per head, and
    :math:`\beta_t = \sigma(x_t W_\beta)`, or :math:`2\sigma(x_t W_\beta)` with ``allow_neg_eigval``
    so that the transition's eigenvalue :math:`1 - \beta_t` ranges over (−1, 1) instead of (0, 1).
    Training runs :func:`~recur_core.ops.delta_rule.chunk_delta_rule`; ``step`` runs the recurrence.
    Padded steps get β = 0 and zero keys and values, which leaves the state unchanged.

    Args:
        d_model: width D.
        num_heads: number of heads H; D must be divisible by H (default 4).
        use_short_conv: depthwise causal convolution on q, k, v before the SiLU (default True).
        conv_size: its kernel size (default 4).
        conv_bias: a bias in the convolution (default False).
        allow_neg_eigval: β = 2σ(·) ∈ (0, 2), transition eigenvalues in (−1, 1) (default False: β ∈ (0, 1)).
        norm_eps: epsilon of the per-head output RMSNorm (default 1e-5).
        chunk_size: tokens per chunk of the training form; does not change the math (default 32).

    Shapes:
        x [B, T, D] -> y [B, T, D];
        state (conv [B, conv_size − 1, 3D], S [B, H, D/H, D/H]) with ``use_short_conv``, else (S,).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        use_short_conv: bool = True,
        conv_size: int = 4,
        conv_bias: bool = False,
        allow_neg_eigval: bool = False,
        norm_eps: float = 1e-5,
        chunk_size: int = 32,
    ) -> None:
        super().__init__(d_model)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if use_short_conv and conv_size < 2:
            raise ValueError(f"conv_size must be at least 2, got {conv_size}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.use_short_conv = use_short_conv
        self.allow_neg_eigval = allow_neg_eigval
        self.chunk_size = chunk_size
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.conv = CausalConv1d(3 * d_model, conv_size, bias=conv_bias) if use_short_conv else None
        self.beta_proj = nn.Linear(d_model, num_heads, bias=False)
        self.norm = nn.RMSNorm(self.head_dim, eps=norm_eps)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.qkv.weight.dtype
        memory = torch.zeros(batch_size, self.num_heads, self.head_dim, self.head_dim, device=device, dtype=dtype)
        if self.conv is None:
            return (memory,)
        return self.conv.init_state(batch_size, device=device, dtype=dtype), memory

    def _heads(self, qkv: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """SiLU, split into heads, L2-normalise q and k; β from the layer input x."""
        qkv = F.silu(qkv).unflatten(-1, (3, self.num_heads, self.head_dim))
        q, k = F.normalize(qkv[..., :2, :, :], dim=-1).unbind(-3)
        beta = torch.sigmoid(self.beta_proj(x))
        if self.allow_neg_eigval:
            beta = 2 * beta
        return q, k, qkv[..., 2, :, :], beta

    def _norm(self, o: Tensor) -> Tensor:
        """Per-head RMSNorm in the weight's precision (float32 under autocast), heads concatenated."""
        return self.norm(o.to(self.norm.weight.dtype)).flatten(-2)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        seq_len = x.shape[1]
        qkv = self.qkv(x)
        conv_state = None
        if self.conv is not None:
            qkv, conv_state = self.conv(qkv, state[0], lengths)
        q, k, v, beta = self._heads(qkv, x)
        if lengths is not None:
            valid = valid_mask(lengths, seq_len)[..., None]
            beta = torch.where(valid, beta, 0.0)
            k = torch.where(valid[..., None], k, 0.0)
            v = torch.where(valid[..., None], v, 0.0)
        o, memory = chunk_delta_rule(q, k, v, beta, initial_state=state[-1], chunk_size=self.chunk_size)
        y = self.out(self._norm(o))
        return y, (memory,) if conv_state is None else (conv_state, memory)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        qkv = self.qkv(x_t)
        conv_state = None
        if self.conv is not None:
            qkv, conv_state = self.conv.step(qkv, state[0])
        q, k, v, beta = self._heads(qkv, x_t)
        o, memory = delta_rule_step(q, k, v, beta, state[-1])
        y = self.out(self._norm(o))
        return y, (memory,) if conv_state is None else (conv_state, memory)
