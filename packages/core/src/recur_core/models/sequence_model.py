"""A stack of any registered sequence layer with an input stem and a task head.

Reads bottom-up: the MLP, the residual block, the config, the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core.layers.base import State
from recur_core.registry import build_layer, register_model

__all__ = ["SequenceModel", "SequenceModelConfig", "pool_sequence", "sequence_model"]

Readout = Literal["token", "last", "mean"]


def pool_sequence(h: Tensor, lengths: Tensor | None, readout: Readout) -> Tensor:
    """Padding-aware pooling of ``h`` [B, T, D]: the last valid step, the mean over valid steps, or every step."""
    if readout == "token":
        return h
    if lengths is None:
        return h[:, -1] if readout == "last" else h.mean(1)
    if readout == "last":
        return h[torch.arange(h.shape[0], device=h.device), lengths - 1]
    mask = (torch.arange(h.shape[1], device=h.device) < lengths[:, None]).to(h.dtype)
    return (h * mask[..., None]).sum(1) / lengths[:, None].to(h.dtype)


class MLP(nn.Module):
    """Position-wise feed-forward: Linear → GELU → Linear."""

    def __init__(self, d_model: int, ratio: float, dropout: float) -> None:
        super().__init__()
        hidden = int(d_model * ratio)
        self.net = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Block(nn.Module):
    """Pre-norm residual block: x + layer(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, layer: str, d_model: int, layer_kwargs: dict, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mixer = build_layer(layer, d_model, **layer_kwargs)
        self.drop = nn.Dropout(dropout)
        self.mlp_norm = nn.LayerNorm(d_model) if mlp_ratio > 0 else None
        self.mlp = MLP(d_model, mlp_ratio, dropout) if mlp_ratio > 0 else None

    def forward(self, x: Tensor, state: State | None, lengths: Tensor | None) -> tuple[Tensor, State]:
        h, state = self.mixer(self.norm(x), state=state, lengths=lengths)
        x = x + self.drop(h)
        if self.mlp is not None:
            x = x + self.mlp(self.mlp_norm(x))
        return x, state

    def step(self, x_t: Tensor, state: State | None) -> tuple[Tensor, State]:
        h, state = self.mixer.step(self.norm(x_t), state)
        x_t = x_t + h
        if self.mlp is not None:
            x_t = x_t + self.mlp(self.mlp_norm(x_t))
        return x_t, state


@dataclass
class SequenceModelConfig:
    layer: str = "lstm"  # any registered layer name
    d_model: int = 64  # width of every block
    n_layers: int = 2  # number of residual blocks
    vocab_size: int | None = None  # token ids in: an embedding stem (give this or input_dim)
    input_dim: int | None = None  # real-valued features in: a linear stem
    output_dim: int = 2  # classes, or regression targets
    readout: Readout = "token"  # per-position outputs, or one per sequence (last / mean)
    mlp_ratio: float = 2.0  # MLP width / d_model; 0 removes the MLPs
    dropout: float = 0.0
    layer_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the layer's constructor


class SequenceModel(nn.Module):
    """Embedding or linear stem → N × (norm → layer → residual → MLP) → norm → head.

    Works with any registered layer; the readout makes it a token classifier/regressor
    (``"token"``) or a sequence classifier/regressor (``"last"`` / ``"mean"``, padding-aware).

    Shapes:
        x [B, T] token ids or [B, T, input_dim] features; lengths [B] (optional right padding)
        -> [B, T, output_dim] (token readout) or [B, output_dim].
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = SequenceModelConfig(**kwargs)
        if (cfg.vocab_size is None) == (cfg.input_dim is None):
            raise ValueError("give exactly one of vocab_size (token inputs) or input_dim (feature inputs)")
        if cfg.readout not in ("token", "last", "mean"):
            raise ValueError(f"readout must be 'token', 'last' or 'mean', got {cfg.readout!r}")
        if cfg.vocab_size is not None:
            self.stem = nn.Embedding(cfg.vocab_size, cfg.d_model)
        else:
            self.stem = nn.Linear(cfg.input_dim, cfg.d_model)
        self.blocks = nn.ModuleList(
            Block(cfg.layer, cfg.d_model, cfg.layer_kwargs, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.output_dim)

    def _embed(self, x: Tensor) -> Tensor:
        if self.config.vocab_size is not None:
            if x.dim() != 2 or x.is_floating_point():
                raise ValueError(f"expected token ids [B, T] (integer), got {x.dtype} {tuple(x.shape)}")
        elif x.dim() != 3 or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected features [B, T, {self.config.input_dim}], got {tuple(x.shape)}")
        return self.stem(x)

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        state: list[State] | None = None,
        return_state: bool = False,
    ):
        """Outputs for ``x``; with ``return_state=True`` also the list of per-block final states."""
        h = self._embed(x)
        states = []
        for i, block in enumerate(self.blocks):
            h, s = block(h, None if state is None else state[i], lengths)
            states.append(s)
        out = self.head(pool_sequence(self.norm(h), lengths, self.config.readout))
        return (out, states) if return_state else out

    def step(self, x_t: Tensor, state: list[State] | None = None) -> tuple[Tensor, list[State]]:
        """One token ``x_t`` ([B] ids or [B, input_dim]) → per-token output [B, output_dim] and new states."""
        h = self._embed(x_t[:, None])[:, 0]
        states = []
        for i, block in enumerate(self.blocks):
            h, s = block.step(h, None if state is None else state[i])
            states.append(s)
        return self.head(self.norm(h)), states

    def example_input(self, batch_size: int = 2, seq_len: int = 12) -> tuple[Tensor, ...]:
        """A valid input batch (for tests, tracing and shape checks)."""
        if self.config.vocab_size is not None:
            return (torch.randint(0, self.config.vocab_size, (batch_size, seq_len)),)
        return (torch.randn(batch_size, seq_len, self.config.input_dim),)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())


@register_model("sequence_model")
def sequence_model(**kwargs: Any) -> SequenceModel:
    """:class:`SequenceModel`; token inputs over 16 symbols unless ``vocab_size`` or ``input_dim`` is given."""
    if kwargs.get("vocab_size") is None and kwargs.get("input_dim") is None:
        kwargs["vocab_size"] = 16
    return SequenceModel(**kwargs)
