"""Leaky RNN with a trainable timescale per neuron, as in the long-timescale curriculum study.

Khajehabdollahi et al., "Emergent mechanisms for long timescales depend on training
curriculum and affect performance in memory tasks", ICLR 2024
(https://openreview.net/forum?id=xwKt6bUkXj).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.registry import register_layer

__all__ = ["LeakyRNN"]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": F.relu, "leaky_relu": F.leaky_relu}


@register_layer("leaky_rnn")
class LeakyRNN(SequenceLayer):
    r"""Leaky (continuous-time, Euler-discretised) RNN with per-neuron timescales τ ≥ 1.

    .. math::
        r_t = \left(1 - \tfrac{1}{\tau}\right) \odot r_{t-1}
              + \tfrac{1}{\tau} \odot f(W r_{t-1} + U x_t + b)

    τ = 1 gives a plain RNN; larger τ makes a neuron integrate over longer windows. τ is a
    trainable vector kept ≥ 1 by max(τ, 1). The input term ``U x_t + b`` is computed for all
    steps at once; the nonlinear recurrence itself has no parallel form and runs step by step.

    Args:
        d_model: input and output width D.
        hidden_size: number of neurons N (default: D); a linear readout maps N back to D when they differ.
        activation: ``"tanh"`` (default), ``"relu"`` or ``"leaky_relu"`` (the study's choice).
        tau_init: initial timescale of every neuron (default 1.0).
        train_tau: learn τ (default True).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state r [B, N].
    """

    def __init__(
        self,
        d_model: int,
        hidden_size: int | None = None,
        activation: str = "tanh",
        tau_init: float = 1.0,
        train_tau: bool = True,
    ) -> None:
        super().__init__(d_model)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
        if tau_init < 1:
            raise ValueError(f"tau_init must be >= 1, got {tau_init}")
        self.hidden_size = hidden_size or d_model
        self.activation = activation
        self.input = nn.Linear(d_model, self.hidden_size)
        self.recurrent = nn.Linear(self.hidden_size, self.hidden_size, bias=False)
        self.tau_param = nn.Parameter(torch.full((self.hidden_size,), float(tau_init)), requires_grad=train_tau)
        self.readout = nn.Linear(self.hidden_size, d_model) if self.hidden_size != d_model else nn.Identity()

    @property
    def tau(self) -> Tensor:
        """The per-neuron timescales, [N], each ≥ 1."""
        # max() rather than clamp(): at τ = 1 it still passes half the gradient, so τ can grow from its init
        return torch.maximum(self.tau_param, torch.ones_like(self.tau_param))

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.recurrent.weight.dtype
        return torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)

    def _update(self, r: Tensor, drive: Tensor, leak: Tensor) -> Tensor:
        f = _ACTIVATIONS[self.activation]
        return leak * r + (1 - leak) * f(self.recurrent(r) + drive)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        drive = self.input(x)
        leak = 1 - 1 / self.tau
        mask = None if lengths is None else valid_mask(lengths, x.shape[1])[..., None]
        r, outputs = state, []
        for t in range(x.shape[1]):
            new = self._update(r, drive[:, t], leak)
            r = new if mask is None else torch.where(mask[:, t], new, r)
            outputs.append(r)
        return self.readout(torch.stack(outputs, dim=1)), r

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        r = self._update(state, self.input(x_t), 1 - 1 / self.tau)
        return self.readout(r), r
