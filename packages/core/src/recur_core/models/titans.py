r"""Titans: a neural long-term memory combined with attention, as context (MAC), gate (MAG) or layer (MAL).

Behrouz, Zhong and Mirrokni, "Titans: Learning to Memorize at Test Time", 2024,
https://arxiv.org/abs/2501.00663, Section 4. The memory is the registered ``titans`` layer
(:class:`recur_core.layers.titans.Titans`); the short-term memory is causal softmax attention whose
keys and values always include learnable persistent tokens :math:`P` (task knowledge, Section 3.3).
With :math:`\otimes` the gate :math:`a \otimes m = \mathrm{RMSNorm}(a) \odot \sigma(\mathrm{RMSNorm}(m))`:

.. math::
    \text{MAC:}\quad h = \mathcal{M}^*_{s-1}(q), \quad y = \mathrm{Attn}([P \,\|\, h \,\|\, x_s]), \quad
        o = y \otimes \mathcal{M}_s(y) \quad \text{per segment } s \text{ (the memory's chunk)}

    \text{MAG:}\quad o = \mathrm{SWA}([P \,\|\, x]) \otimes \mathcal{M}(x)

    \text{MAL:}\quad o = \mathrm{SWA}([P \,\|\, \mathcal{M}(x)])

In MAC the queries :math:`q = x W_Q` read the memory as it was before the segment (no update), the
attention is causal inside the segment (token t sees :math:`h_{\le t}` and :math:`x_{\le t}`), and
the attention outputs y are what the memory then learns. SWA attends to the last ``window`` tokens.
Each block is pre-norm and residual, with an MLP after the mixer, as in
:class:`~recur_core.models.SequenceModel`. Every part is causal, so right padding never reaches a
valid position and ``lengths`` only chooses the pooled readout. No rotary positions: the attention
is position-free apart from its causal window, the convolution and the memory give order.

Shapes:
    x [B, T] token ids or [B, T, input_dim] features; lengths [B] (optional right padding)
    -> [B, T, output_dim] (token readout) or [B, output_dim].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.models.sequence_model import MLP, Readout, pool_sequence
from recur_core.ops.titans import memory_mlp
from recur_core.registry import build_layer, register_model

__all__ = ["TitansConfig", "TitansModel", "titans_mac", "titans_mag", "titans_mal"]

Variant = Literal["mac", "mag", "mal"]


def window_mask(seq_len: int, window: int, device=None) -> Tensor:
    """[T, T] boolean, True where query i may see key j: i − window < j ≤ i."""
    i = torch.arange(seq_len, device=device)
    offset = i[:, None] - i[None, :]
    return (offset >= 0) & (offset < window)


class PersistentAttention(nn.Module):
    """Multi-head softmax attention whose keys and values always include learnable persistent tokens."""

    def __init__(self, d_model: int, num_heads: int, num_persistent: int) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        self.num_heads = num_heads
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.kv = nn.Linear(d_model, 2 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.persistent = nn.Parameter(0.02 * torch.randn(num_persistent, d_model))

    def forward(self, x: Tensor, context: Tensor, mask: Tensor) -> Tensor:
        """Queries from ``x`` [B, Tq, D], keys and values from [persistent ‖ ``context`` [B, Tk, D]];
        ``mask`` [Tq, Tk] (True = may attend) covers the context, the persistent tokens are always seen."""
        batch = x.shape[0]
        context = torch.cat([self.persistent.expand(batch, -1, -1).to(context.dtype), context], 1)
        q = self.q(x).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
        k, v = self.kv(context).unflatten(-1, (2, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        seen = torch.ones(mask.shape[0], self.persistent.shape[0], dtype=torch.bool, device=mask.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.cat([seen, mask], 1))
        return self.out(y.transpose(1, 2).flatten(-2))


class Gate(nn.Module):
    """The paper's non-linear gate: ``a ⊗ m = RMSNorm(a) · σ(RMSNorm(m))``."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.norm_a = nn.RMSNorm(d_model)
        self.norm_m = nn.RMSNorm(d_model)

    def forward(self, a: Tensor, m: Tensor) -> Tensor:
        return self.norm_a(a) * torch.sigmoid(self.norm_m(m))


@dataclass
class TitansConfig:
    variant: Variant = "mag"  # how memory and attention combine: context / gate / layer
    d_model: int = 64  # width of every block
    n_layers: int = 2  # number of residual blocks
    num_heads: int = 4  # heads of the attention and of the memory
    window: int = 32  # sliding-window size (MAG, MAL); MAC attends within the memory's chunk instead
    num_persistent: int = 4  # learnable persistent tokens, seen by every query
    vocab_size: int | None = None  # token ids in: an embedding stem (give this or input_dim)
    input_dim: int | None = None  # real-valued features in: a linear stem
    output_dim: int = 2  # classes, or regression targets
    readout: Readout = "token"  # per-position outputs, or one per sequence (last / mean)
    mlp_ratio: float = 2.0  # MLP width / d_model; 0 removes the MLPs
    dropout: float = 0.0
    memory_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the titans layer (chunk_size, ...)


class TitansBlock(nn.Module):
    """One pre-norm residual block of the chosen variant, then the MLP."""

    def __init__(self, cfg: TitansConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.variant = cfg.variant
        self.window = cfg.window
        self.norm = nn.LayerNorm(d)
        self.memory = build_layer("titans", d, num_heads=cfg.num_heads, **cfg.memory_kwargs)
        self.attn = PersistentAttention(d, cfg.num_heads, cfg.num_persistent)
        self.gate = Gate(d) if cfg.variant in ("mac", "mag") else None
        self.attn_norm = nn.LayerNorm(d) if cfg.variant == "mal" else None
        self.retrieve = nn.Linear(d, d, bias=False) if cfg.variant == "mac" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.mlp_norm = nn.LayerNorm(d) if cfg.mlp_ratio > 0 else None
        self.mlp = MLP(d, cfg.mlp_ratio, cfg.dropout) if cfg.mlp_ratio > 0 else None

    def _swa(self, h: Tensor) -> Tensor:
        return self.attn(h, h, window_mask(h.shape[1], self.window, h.device))

    def _read(self, h: Tensor, memory_state) -> Tensor:
        """MAC's retrieval M*(q): the memory's chunk-start weights read with q = h W_Q, no update."""
        heads = self.memory.num_heads
        q = F.normalize(self.retrieve(h).unflatten(-1, (heads, -1)), dim=-1).transpose(1, 2)
        weights = tuple(w.to(q.dtype) for w in memory_state[-1][0])
        return memory_mlp(weights, q).transpose(1, 2).flatten(-2)

    def _mac(self, h: Tensor) -> Tensor:
        size = self.memory.chunk_size
        state = self.memory.init_state(h.shape[0], device=h.device, dtype=h.dtype)
        outputs = []
        for start in range(0, h.shape[1], size):
            segment = h[:, start : start + size]
            causal = window_mask(segment.shape[1], segment.shape[1], h.device)
            y = self.attn(segment, torch.cat([self._read(segment, state), segment], 1), torch.cat([causal, causal], 1))
            m, state = self.memory(y, state=state)
            outputs.append(self.gate(y, m))
        return torch.cat(outputs, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        if self.variant == "mac":
            x = x + self.drop(self._mac(h))
        elif self.variant == "mag":
            x = x + self.drop(self.gate(self._swa(h), self.memory(h)[0]))
        else:
            x = x + self.drop(self.memory(h)[0])
            x = x + self.drop(self._swa(self.attn_norm(x)))
        if self.mlp is not None:
            x = x + self.mlp(self.mlp_norm(x))
        return x


class TitansModel(nn.Module):
    """Embedding or linear stem → N × Titans block (MAC / MAG / MAL) → norm → head.

    The same inputs, readouts and heads as :class:`~recur_core.models.SequenceModel`, so the
    diagnostic tasks can use either.

    Shapes:
        x [B, T] token ids or [B, T, input_dim] features; lengths [B] (optional right padding)
        -> [B, T, output_dim] (token readout) or [B, output_dim].
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = TitansConfig(**kwargs)
        if cfg.variant not in ("mac", "mag", "mal"):
            raise ValueError(f"variant must be 'mac', 'mag' or 'mal', got {cfg.variant!r}")
        if (cfg.vocab_size is None) == (cfg.input_dim is None):
            raise ValueError("give exactly one of vocab_size (token inputs) or input_dim (feature inputs)")
        if cfg.readout not in ("token", "last", "mean"):
            raise ValueError(f"readout must be 'token', 'last' or 'mean', got {cfg.readout!r}")
        if cfg.window < 1 or cfg.num_persistent < 0:
            raise ValueError(f"window must be ≥ 1 and num_persistent ≥ 0, got {cfg.window} and {cfg.num_persistent}")
        if cfg.vocab_size is not None:
            self.stem = nn.Embedding(cfg.vocab_size, cfg.d_model)
        else:
            self.stem = nn.Linear(cfg.input_dim, cfg.d_model)
        self.blocks = nn.ModuleList(TitansBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.output_dim)

    def _embed(self, x: Tensor) -> Tensor:
        if self.config.vocab_size is not None:
            if x.dim() != 2 or x.is_floating_point():
                raise ValueError(f"expected token ids [B, T] (integer), got {x.dtype} {tuple(x.shape)}")
        elif x.dim() != 3 or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected features [B, T, {self.config.input_dim}], got {tuple(x.shape)}")
        return self.stem(x)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        h = self._embed(x)
        for block in self.blocks:
            h = block(h)
        return self.head(pool_sequence(self.norm(h), lengths, self.config.readout))

    def example_input(self, batch_size: int = 2, seq_len: int = 40) -> tuple[Tensor, ...]:
        """A valid input batch (for tests and shape checks); 40 tokens span several memory chunks."""
        if self.config.vocab_size is not None:
            return (torch.randint(0, self.config.vocab_size, (batch_size, seq_len)),)
        return (torch.randn(batch_size, seq_len, self.config.input_dim),)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())


def _titans(variant: Variant, kwargs: dict[str, Any]) -> TitansModel:
    if kwargs.get("vocab_size") is None and kwargs.get("input_dim") is None:
        kwargs["vocab_size"] = 16
    return TitansModel(variant=variant, **kwargs)


@register_model("titans_mac")
def titans_mac(**kwargs: Any) -> TitansModel:
    """Memory as context: per segment, attention over [persistent ‖ memory read ‖ segment]; 16 token ids by default."""
    return _titans("mac", kwargs)


@register_model("titans_mag")
def titans_mag(**kwargs: Any) -> TitansModel:
    """Memory as gate: sliding-window attention gated by the memory; 16 token ids by default."""
    return _titans("mag", kwargs)


@register_model("titans_mal")
def titans_mal(**kwargs: Any) -> TitansModel:
    """Memory as layer: the memory, then sliding-window attention; 16 token ids by default."""
    return _titans("mal", kwargs)
