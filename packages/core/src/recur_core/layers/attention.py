"""Multi-head softmax attention, causal by default: the baseline every linear layer is compared with.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (https://arxiv.org/abs/1706.03762),
with rotary position embeddings (Su et al., RoFormer, https://arxiv.org/abs/2104.09864).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.registry import register_layer

__all__ = ["CausalAttention"]


def _rotate(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Rotary embedding of ``x`` [B, H, T, Dh] at integer ``positions`` [B, T]."""
    half = x.shape[-1] // 2
    freqs = base ** (-torch.arange(half, device=x.device, dtype=torch.float64) / half)
    angles = (positions[:, None, :, None].double() * freqs).to(x.dtype)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half : 2 * half]
    rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return torch.cat([rotated, x[..., 2 * half :]], dim=-1)


@register_layer("attention")
class CausalAttention(SequenceLayer):
    r"""Multi-head softmax attention through ``scaled_dot_product_attention``, causal by default.

    .. math::
        y_t = W_o \,\mathrm{concat}_h \sum_{s \le t}
              \frac{\exp(q_{t,h}^\top k_{s,h} / \sqrt{d_h})}{\sum_{s' \le t} \exp(q_{t,h}^\top k_{s',h} / \sqrt{d_h})}
              v_{s,h}

    The state is the KV cache: keys, values and a validity mask over cached slots (padded
    positions of a right-padded batch stay in the cache but are masked out). ``step`` appends
    one slot, so its cost grows with the context, unlike the recurrent layers.

    With ``causal=False`` the sums run over every position s < T (ViT's self-attention; with
    ``lengths``, over the valid positions s < length, so padded keys are never read). Such a layer
    reads whole sequences: it keeps no cache (the state is always the empty one of ``init_state``,
    passed through) and has no ``step``: a cache raises a ``ValueError`` saying to build it causal, ``step``
    the ``TypeError`` of every non-causal layer.

    Args:
        d_model: width D.
        num_heads: number of heads H; D must be divisible by H.
        rope: apply rotary position embeddings to q and k (default True).
        rope_base: rotary frequency base (default 10000).
        bias: biases in the projections (default False).
        causal: token t reads tokens 0..t (default True); ``False``: every token reads every token.

    Shapes:
        x [B, T, D] -> y [B, T, D];
        state (k [B, H, L, D/H], v [B, H, L, D/H], valid [B, L] bool) with L cached slots (L = 0 when
        not causal).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        rope: bool = True,
        rope_base: float = 10000.0,
        bias: bool = False,
        causal: bool = True,
    ) -> None:
        super().__init__(d_model)
        if d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.rope = rope
        self.rope_base = rope_base
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.qkv.weight.dtype
        empty = torch.zeros(batch_size, self.num_heads, 0, self.head_dim, device=device, dtype=dtype)
        return empty, empty.clone(), torch.zeros(batch_size, 0, dtype=torch.bool, device=device)

    def state_shapes(self, batch_size: int) -> list[tuple[int | None, ...]]:
        kv = (batch_size, self.num_heads, None, self.head_dim)
        return [kv, kv, (batch_size, None)]

    def _check_state(self, state: State, batch: int) -> None:
        super()._check_state(state, batch)
        if not (state[0].shape[2] == state[1].shape[2] == state[2].shape[1]):
            raise ValueError("attention state: keys, values and valid mask must cover the same number of slots")
        if not self.causal and state[0].shape[2]:
            raise ValueError(
                "attention with causal=False keeps no KV cache: pass state=None, or build it with causal=True"
            )

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        batch, seq_len, _ = x.shape
        k_cache, v_cache, valid_cache = state
        q, k, v = self.qkv(x).view(batch, seq_len, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.rope:
            positions = valid_cache.sum(-1, keepdim=True) + torch.arange(seq_len, device=x.device)
            q, k = _rotate(q, positions, self.rope_base), _rotate(k, positions, self.rope_base)
        if not self.causal:
            # the cache is empty (_check_state); lengths >= 1, so no softmax row loses every key
            mask = None if lengths is None else valid_mask(lengths, seq_len)[:, None, None, :]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.out(y.transpose(1, 2).reshape(batch, seq_len, self.d_model)), state
        cached = k_cache.shape[2]
        k_all, v_all = torch.cat([k_cache, k], dim=2), torch.cat([v_cache, v], dim=2)
        if cached == 0:
            y = F.scaled_dot_product_attention(q, k_all, v_all, is_causal=True)
        else:
            causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=x.device).tril()
            mask = torch.cat([valid_cache[:, None, :].expand(batch, seq_len, cached), causal.expand(batch, -1, -1)], -1)
            y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask[:, None])
        new_valid = torch.ones(batch, seq_len, dtype=torch.bool, device=x.device)
        if lengths is not None:
            new_valid = valid_mask(lengths, seq_len)
        y = self.out(y.transpose(1, 2).reshape(batch, seq_len, self.d_model))
        return y, (k_all, v_all, torch.cat([valid_cache, new_valid], dim=1))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        y, state = self._forward(x_t[:, None], state, None)
        return y[:, 0], state
