"""Multi-scale retention: linear attention with a fixed decay per head.

Sun et al., "Retentive Network: A Successor to Transformer for Large Language Models", 2023,
https://arxiv.org/abs/2307.08621; the plain variant, with its own decays, as the Vision Retention
Network uses it (Hatamizadeh et al., "ViR: Towards Efficient Vision Retention Backbones", 2023,
https://arxiv.org/abs/2310.19731).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step
from recur_core.registry import register_layer

__all__ = ["Retention", "retention_decays"]

# each variant's own decay schedule has the variant's name
_VARIANTS = ("retnet", "vir")


def retention_decays(num_heads: int, schedule: str = "retnet") -> Tensor:
    r"""The per-head decays of a schedule as :math:`\log\gamma_h`, h = 0..H−1 (float64, shape [H]).

    ``"retnet"``: RetNet's :math:`\gamma_h = 1 - 2^{-5-h}`. ``"vir"``: the ViR authors' code,
    :math:`\gamma_h = 1 - \exp(\mathrm{linspace}(\ln 1/32, \ln 1/512, H))_h`, the same range
    (1 − 1/32 to 1 − 1/512) whatever H; the two agree at H = 5.
    """
    if schedule not in _VARIANTS:
        raise ValueError(f"unknown decay schedule {schedule!r}; valid: {', '.join(_VARIANTS)}")
    if schedule == "retnet":
        rates = 2.0 ** (-5.0 - torch.arange(num_heads, dtype=torch.float64))
    else:
        rates = torch.linspace(math.log(1 / 32), math.log(1 / 512), num_heads, dtype=torch.float64).exp()
    return torch.log1p(-rates)


def _rotate(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Rotate x [B, ..., H, K] by the angles positions [B, ...] × θ_i, θ_i = base^(−i/(K/2))."""
    half = x.shape[-1] // 2
    freqs = base ** (-torch.arange(half, device=x.device, dtype=torch.float64) / half)
    angles = (positions[..., None, None].double() * freqs).to(x.dtype)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half : 2 * half]
    rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return torch.cat([rotated, x[..., 2 * half :]], dim=-1)


@register_layer("retention")
class Retention(SequenceLayer):
    r"""Multi-scale retention (RetNet), trained chunkwise; the parallel, recurrent and chunkwise forms agree.

    Per head h with a fixed decay :math:`\gamma_h` (:func:`retention_decays`: RetNet's
    :math:`1 - 2^{-5-h}`, or ViR's :math:`1 - \exp(\mathrm{linspace}(\ln 1/32, \ln 1/512, H))_h`) and
    (optionally) the rotation :math:`\Theta_n = e^{i n \theta}` of queries and keys at position n:

    .. math::
        S_n = \gamma_h S_{n-1} + k_n v_n^\top, \qquad o_n = S_n^\top q_n / \sqrt{d_k}

    equivalently :math:`O = (Q K^\top \odot D) V / \sqrt{d_k}` with :math:`D_{nm} = \gamma^{n-m}` for
    :math:`n \ge m`. ``variant="retnet"`` outputs
    :math:`y = W_o(\mathrm{swish}(x W_g) \odot \mathrm{GroupNorm}_h(o))`; ``variant="vir"`` is the plain
    form :math:`y = W_o\, o` (no normalisation, and no softmax anywhere: a softmax over
    :math:`QK^\top \odot D` would break the equality of the forms). Training runs
    :func:`~recur_core.ops.linear_attn.chunk_linear_attn`; ``step`` runs the recurrence. Padded steps
    get decay 1 and zero keys, which leaves the state (and the position counter) unchanged.

    Args:
        d_model: width D.
        num_heads: number of heads H, one decay scale each; D must be divisible by H (default 4).
        variant: ``"retnet"`` (GroupNorm per head and a swish gate, default) or ``"vir"`` (plain output
            and ViR's decays: ViR's layer when built with ``rotary=False, expand_v=1``).
        decays: the decay schedule, ``"retnet"`` or ``"vir"`` (default ``None``: the variant's own).
        rotary: rotate q and k by their position, RetNet's xPos-style relative position (default True).
        rotary_base: base of the rotation frequencies θ (default 10000).
        expand_v: value width relative to D (default 2, as in RetNet).
        norm_eps: epsilon of the GroupNorm (default 1e-5).
        chunk_size: tokens per chunk of the training form; does not change the math (default: the op's).
        bias: give the q, k, v and output projections biases, as the ViR authors' ``qkv`` and ``proj``
            (default False, RetNet's bias-free projections). A key bias still leaves padded steps out
            (their keys are zeroed after the projection), so every form and the state contract are unchanged.

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (S [B, H, D/H, expand_v·D/H], position [B] int64) with
        ``rotary``, else S.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        variant: str = "retnet",
        rotary: bool = True,
        rotary_base: float = 10000.0,
        expand_v: float = 2.0,
        norm_eps: float = 1e-5,
        chunk_size: int | None = None,
        decays: str | None = None,
        bias: bool = False,
    ) -> None:
        super().__init__(d_model)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if variant not in _VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(_VARIANTS)}")
        decays = variant if decays is None else decays
        value_width = int(d_model * expand_v)
        if value_width < num_heads or value_width % num_heads:
            raise ValueError(f"expand_v · d_model = {value_width} must be a positive multiple of num_heads")
        self.num_heads = num_heads
        self.key_dim = d_model // num_heads
        self.value_dim = value_width // num_heads
        self.variant = variant
        self.decays = decays
        self.rotary = rotary
        self.rotary_base = rotary_base
        self.chunk_size = chunk_size
        self.qk = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.v = nn.Linear(d_model, value_width, bias=bias)
        self.gate = nn.Linear(d_model, value_width, bias=False) if variant == "retnet" else None
        self.norm = nn.GroupNorm(num_heads, value_width, eps=norm_eps) if variant == "retnet" else None
        self.out = nn.Linear(value_width, d_model, bias=bias)
        self.register_buffer("log_gamma", retention_decays(num_heads, decays).float(), persistent=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.v.weight.dtype
        s = torch.zeros(batch_size, self.num_heads, self.key_dim, self.value_dim, device=device, dtype=dtype)
        if not self.rotary:
            return s
        return s, torch.zeros(batch_size, dtype=torch.long, device=device)

    def _heads(self, x: Tensor, positions: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        q, k = self.qk(x).unflatten(-1, (2, self.num_heads, self.key_dim)).unbind(-3)
        if positions is not None:
            q, k = _rotate(q, positions, self.rotary_base), _rotate(k, positions, self.rotary_base)
        return q, k, self.v(x).unflatten(-1, (self.num_heads, self.value_dim))

    def _output(self, o: Tensor, x: Tensor) -> Tensor:
        o = o.flatten(-2)
        if self.variant == "retnet":
            o = self.norm(o.reshape(-1, o.shape[-1]).to(self.norm.weight.dtype)).view(o.shape)
            o = F.silu(self.gate(x)) * o
        return self.out(o)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        batch, seq_len, _ = x.shape
        s, position = state if self.rotary else (state, None)
        positions = None if position is None else position[:, None] + torch.arange(seq_len, device=x.device)
        q, k, v = self._heads(x, positions)
        g = self.log_gamma.to(torch.promote_types(x.dtype, torch.float32)).expand(batch, seq_len, -1)
        if lengths is not None:
            valid = valid_mask(lengths, seq_len)
            k = torch.where(valid[..., None, None], k, 0.0)
            g = torch.where(valid[..., None], g, 0.0)
        o, s = chunk_linear_attn(q, k, v, g, initial_state=s, chunk_size=self.chunk_size)
        y = self._output(o, x)
        if not self.rotary:
            return y, s
        return y, (s, position + (seq_len if lengths is None else lengths))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        s, position = state if self.rotary else (state, None)
        q, k, v = self._heads(x_t, position)
        g = self.log_gamma.to(s.dtype).expand(x_t.shape[0], -1)
        o, s = linear_attn_step(q, k, v, g, s, scale=1 / math.sqrt(self.key_dim))
        y = self._output(o, x_t)
        return (y, s) if not self.rotary else (y, (s, position + 1))
