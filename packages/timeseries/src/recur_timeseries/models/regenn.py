r"""ReGENN: the Recurrent Graph Evolution Neural Network for multivariate (graph) time series.

Spadon, Hong, Brandoli, Matwin, Rodrigues-Jr & Sun, "Pay Attention to Evolution: Time Series
Forecasting with Deep Graph-Evolution Learning", IEEE TPAMI 44(9), 2022,
https://arxiv.org/abs/2008.12833; official code https://github.com/gabrielspadon/ReGENN
(``networks.py``, ``layers.py``, ``main.py``), which this file follows where it and the paper differ.

Pipeline, for a window x [B, W, V] (W = input_len steps of V variables) → [B, S, V] (S = horizon):

1. **Graph soft evolution, source** (:class:`GraphSoftEvolution`): a gradient-free co-occurrence
   adjacency A [V, V] summed over the training batches of the first epoch (A[b, c] = Σ x_b where
   x_c > 0, the diagonal replaced by max(0, 2·A[b, b] − Σ_c A[b, c]) per batch), then frozen. From it
   the learned graph A' = A·W_adj + b_adj, the similarity S = cos_sim(rows of A') ⊙ W_cos + b_cos,
   and the output x·Sᵀ (variables mixed by S), dropout, and a time-linear map W → W.
2. **Time encoder**: ``nn.TransformerEncoderLayer(d_model=W, nhead=1)`` over the V variable tokens
   (each token is one variable's window).
3. **Time gate**: a recurrence *across the variables*, mapping each variable's W values to S
   (official: ``LSTM(W, S)``; here a linear W → S into the core layer of width S).
4. **Variable sequencer**: a recurrence over the S output steps with V features, plus a residual.
5. **Graph soft evolution, target**: the same transform with the source's A' (detached) as its
   adjacency, no time map, no dropout.
6. **Autoregression** (optional): a linear W → S over time shared by the variables, added; then the
   output activation (ReLU in the official code, so forecasts are nonnegative).

Shapes: x [B, W, V] → source GSE [B, W, V] → tokens [B, V, W] → encoder [B, V, W] → time gate
[B, V, S] → [B, S, V] → sequencer [B, S, V] → target GSE [B, S, V] (+ AR [B, S, V]) → [B, S, V].

"First epoch" here: the source GSE adds each training batch's adjacency to its buffer while it is
in training mode and not frozen; :meth:`ReGENN.on_train_epoch_end` (called by
:class:`recur_timeseries.task.ForecastModule` after every training epoch) freezes it, so later
epochs, validation and test use the fixed matrix. The buffer and the flag are saved in checkpoints.

Deviations from the official code:

- The encoder attends across the variables (``batch_first=True``). The official layer is built with
  PyTorch's default ``batch_first=False`` and fed [B, V, W], so it attends across the *samples of a
  batch*, which makes a forecast depend on which windows share its batch.
- The time gate and sequencer are any core recurrence (``layer``; default ``lstm``, the official
  default) of width S and V: a core layer keeps its width, so the gate reads the W values through a
  linear map W → S first, where the official LSTM(W, S) reads them directly.
- The target GSE takes the source's A' of the same forward pass; the official one keeps the A' of the
  last training batch for evaluation (the same matrix up to the last optimiser step).
- The per-batch adjacency is computed over the whole batch; the official layer sums it over chunks
  of 32 samples (equal for batch size 32, the official recipe).
- ``bias`` and ``autoregression`` default to on; the official CLI switches them on with ``-b`` and
  ``-AR``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core import build_layer
from recur_core.registry import register_model

__all__ = ["GraphSoftEvolution", "ReGENN", "TimeLinear", "cooccurrence_adjacency", "cosine_similarity_matrix"]


def cooccurrence_adjacency(x: Tensor) -> Tensor:
    """The co-occurrence adjacency of one batch, as the official ``GSEvolution`` builds it.

    A[b, c] = Σ_{samples, steps} x[.., b] · 1[x[.., c] > 0]: how much of variable b is seen while c
    is present. The diagonal then holds the self-loops max(0, 2·A[b, b] − Σ_c A[b, c]).

    Shapes:
        x [B, T, V] -> [V, V].
    """
    present = (x > 0).to(x.dtype)
    adjacency = torch.einsum("stb,stc->bc", x, present)
    self_loops = (2 * adjacency.diagonal() - adjacency.sum(dim=1)).clamp(min=0)
    return adjacency - torch.diag(adjacency.diagonal()) + torch.diag(self_loops)


def cosine_similarity_matrix(a: Tensor, eps: float = 1e-12) -> Tensor:
    """Cosine similarity of every pair of rows: [V, F] -> [V, V] (a zero row is similar to nothing)."""
    norm = a.norm(dim=1, keepdim=True).clamp(min=eps)
    return (a @ a.T) / norm / norm.T


class TimeLinear(nn.Module):
    """A linear map along the time axis, shared by the variables: [B, T_in, V] -> [B, T_out, V].

    Glorot-uniform weight [T_in, T_out] and a zero bias per output step, as the official
    ``Autoregression`` and the GSE's time map.
    """

    def __init__(self, in_steps: int, out_steps: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(in_steps, out_steps)))
        self.bias = nn.Parameter(torch.zeros(out_steps, 1)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        y = torch.einsum("io,bic->boc", self.weight, x)
        return y if self.bias is None else y + self.bias


class GraphSoftEvolution(nn.Module):
    """Graph soft evolution: x [B, T, V] mixed across variables by a similarity learned from an adjacency.

    With adjacency A [V, V]: A' = A·W_adj + b_adj (b_adj one value per row), S = cos_sim(A') ⊙ W_cos +
    b_cos, y = x·Sᵀ, then dropout and, with ``time_map``, a :class:`TimeLinear` T → T.

    The adjacency is the argument of :meth:`forward` (the target GSE gets the source's A') or, when
    none is given, this layer's buffer ``adjacency``, to which every training-mode call adds the
    batch's :func:`cooccurrence_adjacency` until :meth:`freeze` (gradient-free).

    Args:
        variables: V.
        steps: T, the time length (for the time map).
        time_map: apply the time-linear map after mixing.
        dropout: dropout on the mixed output.
        bias: learn the additive biases (else they stay zero).

    Shapes:
        x [B, T, V], adjacency [V, V] -> (y [B, T, V], A' [V, V] detached).
    """

    def __init__(self, variables: int, steps: int, time_map: bool = True, dropout: float = 0.1, bias: bool = True):
        super().__init__()
        self.adjacency_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(variables, variables)))
        self.adjacency_bias = nn.Parameter(torch.zeros(variables, 1), requires_grad=bias)
        self.cosine_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(variables, variables)))
        self.cosine_bias = nn.Parameter(torch.zeros(variables, variables), requires_grad=bias)
        self.dropout = nn.Dropout(dropout)
        self.time = TimeLinear(steps, steps, bias=bias) if time_map else None
        self.register_buffer("adjacency", torch.zeros(variables, variables))
        self.register_buffer("frozen", torch.tensor(False))

    @property
    def accumulating(self) -> bool:
        """True while training-mode calls still add their batch's co-occurrences to ``adjacency``."""
        return self.training and not bool(self.frozen)

    def freeze(self) -> None:
        """Stop accumulating: from now on ``adjacency`` stays as it is (it is saved in checkpoints)."""
        self.frozen.fill_(True)

    def forward(self, x: Tensor, adjacency: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if adjacency is None:
            if self.accumulating:
                with torch.no_grad():
                    self.adjacency += cooccurrence_adjacency(x.detach()).to(self.adjacency.dtype)
            adjacency = self.adjacency
        evolved = adjacency @ self.adjacency_weight + self.adjacency_bias
        similarity = cosine_similarity_matrix(evolved) * self.cosine_weight + self.cosine_bias
        y = self.dropout(torch.einsum("ab,tcb->tca", similarity, x))
        if self.time is not None:
            y = self.time(y)
        return y, evolved.detach()


@register_model("regenn")
class ReGENN(nn.Module):
    """ReGENN forecaster (see the module docstring for the pipeline and the deviations).

    Args:
        input_len: W, the window.
        horizon: S, the steps forecast ("stride" in the official code).
        channels: V, the variables (graph nodes); at least 2.
        layer: core recurrence of the time gate and the variable sequencer (official: ``lstm``).
        layer_kwargs: extra arguments of ``layer``.
        gate_width: width of the time gate's recurrence; None = S (the official hidden size), else
            a linear map to S follows it.
        dropout: in the source GSE, the encoder, after the time gate and on the sequencer output
            (0.1 in the official recipe).
        encoder: use the transformer encoder layer.
        feedforward: the encoder's feed-forward width (PyTorch's default 2048 in the official code).
        sequencer: use the variable sequencer.
        autoregression: add the linear W → S branch.
        bias: learn the biases of the GSEs and the AR branch.
        output: ``"relu"`` (official: forecasts ≥ 0) or ``"identity"`` (for data with negative values).

    Shapes:
        x [B, W, V] -> [B, S, V].
    """

    def __init__(
        self,
        input_len: int = 24,
        horizon: int = 4,
        channels: int = 20,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        gate_width: int | None = None,
        dropout: float = 0.1,
        encoder: bool = True,
        feedforward: int = 2048,
        sequencer: bool = True,
        autoregression: bool = True,
        bias: bool = True,
        output: Literal["relu", "identity"] = "relu",
    ) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"ReGENN mixes variables through a graph: channels must be at least 2, got {channels}")
        if input_len < 1 or horizon < 1:
            raise ValueError(f"input_len and horizon must be at least 1, got {input_len} and {horizon}")
        if output not in ("relu", "identity"):
            raise ValueError(f"output must be 'relu' or 'identity', got {output!r}")
        width = horizon if gate_width is None else gate_width
        self.input_len, self.horizon, self.channels = input_len, horizon, channels
        self.source = GraphSoftEvolution(channels, input_len, time_map=True, dropout=dropout, bias=bias)
        self.encoder = (
            nn.TransformerEncoderLayer(input_len, 1, feedforward, dropout, batch_first=True) if encoder else None
        )
        self.gate_in = nn.Linear(input_len, width)
        self.gate = build_layer(layer, d_model=width, **(layer_kwargs or {}))
        self.gate_out = nn.Linear(width, horizon) if width != horizon else None
        self.gate_dropout = nn.Dropout(dropout)
        self.sequencer = build_layer(layer, d_model=channels, **(layer_kwargs or {})) if sequencer else None
        self.sequencer_dropout = nn.Dropout(dropout)
        self.target = GraphSoftEvolution(channels, horizon, time_map=False, dropout=0.0, bias=bias)
        self.autoregression = TimeLinear(input_len, horizon, bias=bias) if autoregression else None
        self.output = nn.ReLU() if output == "relu" else nn.Identity()

    def on_train_epoch_end(self, epoch: int) -> None:
        """Freeze the co-occurrence adjacency once the first training epoch is over."""
        self.source.freeze()

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1:] != (self.input_len, self.channels):
            raise ValueError(
                f"ReGENN expects x [batch, {self.input_len}, {self.channels}] (input_len, channels), "
                f"got {tuple(x.shape)}"
            )
        mixed, evolved = self.source(x)  # [B, W, V]
        tokens = mixed.transpose(1, 2)  # [B, V, W]: one token per variable
        if self.encoder is not None:
            tokens = self.encoder(tokens)
        gated, _ = self.gate(self.gate_in(tokens))  # across the V variables: [B, V, width]
        if self.gate_out is not None:
            gated = self.gate_out(gated)
        steps = self.gate_dropout(gated.transpose(1, 2))  # [B, S, V]
        if self.sequencer is not None:
            sequenced, _ = self.sequencer(steps)  # over the S steps
            steps = self.sequencer_dropout(sequenced) + steps
        out, _ = self.target(steps, evolved)
        if self.autoregression is not None:
            out = out + self.autoregression(x)
        return self.output(out)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Nonnegative windows (so the co-occurrence graph is not empty): ([batch, input_len, channels],)."""
        generator = torch.Generator().manual_seed(0)
        return (torch.rand(batch_size, self.input_len, self.channels, generator=generator) + 0.1,)
