"""Prefix linear attention (PLA): JRT-RNN's linear attention that reads the prompt non-causally.

Arora et al., "Just read twice: closing the recall gap for recurrent language models", 2024,
https://arxiv.org/abs/2407.05483. The feature maps are those of
:mod:`recur_core.layers.linear_attention` (second-order Taylor by default, as in Based and JRT-RNN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.layers.linear_attention import elu_feature_map, taylor_feature_map
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step
from recur_core.registry import register_layer

__all__ = ["PrefixLinearAttention"]

_FEATURE_MAPS = {"elu": elu_feature_map, "taylor": taylor_feature_map}


@register_layer("prefix_linear_attention")
class PrefixLinearAttention(SequenceLayer):
    r"""Multi-head linear attention whose first M tokens (the prefix) are also read by a non-causal encoder.

    Per head, with the feature map φ, shared queries :math:`q_i`, decoder keys and values
    :math:`k_j, v_j`, and encoder keys and values :math:`k^e_j, v^e_j` from their own projections:

    .. math::
        y_i = \frac{\phi(q_i)^\top \big[\sum_{j < M} \phi(k^e_j)\, {v^e_j}^\top
                                        + \sum_{j \le i} \phi(k_j)\, v_j^\top\big]}
                   {\phi(q_i)^\top \big[\sum_{j < M} \phi(k^e_j) + \sum_{j \le i} \phi(k_j)\big] + \epsilon},
        \qquad \text{out}_i = W_o\, \mathrm{concat}_h\, y_{i,h}

    Every position, those inside the prefix included, sees the whole prefix through the encoder
    sum; from position M on the layer is causal. The encoder sum is one reduction over the prefix;
    it becomes the initial state of causal linear attention, which runs chunkwise
    (:func:`~recur_core.ops.linear_attn.chunk_linear_attn`). At decoding time the two sums are one
    state (S, z), as in linear attention.

    The state also counts the prefix tokens still to be read, ``left`` [B] (M at the start), so
    state passing is exact whatever the cut: a call adds the prefix tokens it is given to the
    encoder sum. Outputs of a call only see the prefix tokens given so far, so ``step`` and a split
    run reproduce ``forward`` from the end of the prefix on (:attr:`noncausal_prefix` = M tells
    the contract check). Padded steps add nothing to either sum and do not count; a row shorter
    than M is prefix throughout.

    Args:
        d_model: width D.
        prefix_len: M, the number of leading tokens read non-causally (default 4; in JRT-RNN the
            prompt, 1024 of 2048 tokens). ``forward(..., prefix_len=...)`` or
            ``init_state(..., prefix_len=...)`` set it per call or per row. With M = 0 the layer is
            causal linear attention and the encoder projections get no gradient.
        num_heads: number of heads H; D must be divisible by H (default 4).
        feature_map: ``"taylor"`` (φ(x) = [1, x/d^¼, vec(xxᵀ)/(√2·√d)], default) or ``"elu"`` (elu + 1).
        feature_dim: d, the per-head width of queries and keys before φ (default 16 for ``"taylor"``,
            D/H for ``"elu"``).
        eps: added to the normaliser (default 1e-6).
        chunk_size: tokens per chunk of the causal part; does not change the math (default: the op's).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (S [B, H, F, D/H], z [B, H, F], left [B] long) with
        F = 1 + d + d² (taylor) or d (elu).
    """

    causal = False

    def __init__(
        self,
        d_model: int,
        prefix_len: int = 4,
        num_heads: int = 4,
        feature_map: str = "taylor",
        feature_dim: int | None = None,
        eps: float = 1e-6,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(d_model)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if feature_map not in _FEATURE_MAPS:
            raise ValueError(f"unknown feature_map {feature_map!r}; valid: {', '.join(_FEATURE_MAPS)}")
        if prefix_len < 0:
            raise ValueError(f"prefix_len must be >= 0 (0 = plain causal linear attention), got {prefix_len}")
        self.prefix_len = self.noncausal_prefix = prefix_len
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.feature_map = feature_map
        self.feature_dim = feature_dim or (16 if feature_map == "taylor" else self.head_dim)
        self.state_dim = 1 + self.feature_dim + self.feature_dim**2 if feature_map == "taylor" else self.feature_dim
        self.eps = eps
        self.chunk_size = chunk_size
        self.qk = nn.Linear(d_model, 2 * num_heads * self.feature_dim, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.encoder_k = nn.Linear(d_model, num_heads * self.feature_dim, bias=False)
        self.encoder_v = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None, prefix_len: int | Tensor | None = None) -> State:
        """Empty sums and ``left`` = the prefix length: ``prefix_len`` (an int, or one per row [B]) or M."""
        dtype = dtype or self.v.weight.dtype
        shape = (batch_size, self.num_heads, self.state_dim)
        left = torch.as_tensor(self.prefix_len if prefix_len is None else prefix_len, device=device)
        if left.is_floating_point() or left.dim() > 1 or (left.dim() == 1 and left.shape != (batch_size,)):
            raise ValueError(f"prefix_len must be an int or an integer tensor [B] = [{batch_size}], got {left!r}")
        if device != "meta" and bool((left < 0).any()):
            raise ValueError(f"prefix_len must be >= 0, got {left.tolist()}")
        return (
            torch.zeros(*shape, self.head_dim, device=device, dtype=dtype),
            torch.zeros(shape, device=device, dtype=dtype),
            left.to(torch.long).expand(batch_size).clone(),
        )

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        lengths: Tensor | None = None,
        prefix_len: int | Tensor | None = None,
    ) -> tuple[Tensor, State]:
        """As :meth:`SequenceLayer.forward`; ``prefix_len`` (int or [B]) replaces M for a fresh start."""
        if prefix_len is not None:
            if state is not None:
                raise ValueError("give prefix_len or a state, not both: a state already counts the prefix tokens left")
            state = self.init_state(x.shape[0], device=x.device, dtype=x.dtype, prefix_len=prefix_len)
        return super().forward(x, state, lengths)

    def _features(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        phi = _FEATURE_MAPS[self.feature_map]
        q, k = self.qk(x).unflatten(-1, (2, self.num_heads, self.feature_dim)).unbind(-3)
        return phi(q), phi(k), self.v(x).unflatten(-1, (self.num_heads, self.head_dim))

    def _encoder(self, x: Tensor) -> tuple[Tensor, Tensor]:
        phi = _FEATURE_MAPS[self.feature_map]
        k = phi(self.encoder_k(x).unflatten(-1, (self.num_heads, self.feature_dim)))
        return k, self.encoder_v(x).unflatten(-1, (self.num_heads, self.head_dim))

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        s, z, left = state
        seq_len = x.shape[1]
        valid = torch.ones_like(x[..., 0], dtype=torch.bool) if lengths is None else valid_mask(lengths, seq_len)
        q, k, v = self._features(x)
        k = torch.where(valid[..., None, None], k, 0.0)
        v = torch.where(valid[..., None, None], v, 0.0)
        # the prefix part of this call: one reduction over its first max(left) tokens
        span = min(seq_len, int(left.max()))
        if span:
            in_prefix = valid[:, :span] & (torch.arange(span, device=x.device) < left[:, None])
            k_e, v_e = self._encoder(x[:, :span])
            k_e = torch.where(in_prefix[..., None, None], k_e, 0.0).to(s.dtype)
            s = s + torch.einsum("bthf,bthv->bhfv", k_e, v_e.to(s.dtype))
            z = z + k_e.sum(1)
        o, (s, z) = chunk_linear_attn(
            q, k, v, scale=1.0, initial_state=(s, z), normalize=True, eps=self.eps, chunk_size=self.chunk_size
        )
        read = valid.sum(1)
        return self.out(o.flatten(-2)), (s, z, (left - read).clamp(min=0))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        s, z, left = state
        q, k, v = self._features(x_t)
        if bool((left > 0).any()):
            k_e, v_e = self._encoder(x_t)
            k_e = torch.where((left > 0)[:, None, None], k_e, 0.0).to(s.dtype)
            s = s + k_e[..., :, None] * v_e.to(s.dtype)[..., None, :]
            z = z + k_e
        o, (s, z) = linear_attn_step(q, k, v, None, (s, z), scale=1.0, normalize=True, eps=self.eps)
        return self.out(o.flatten(-2)), (s, z, (left - 1).clamp(min=0))
