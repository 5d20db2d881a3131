"""The layer contract every sequence-mixing layer in recur follows.

.. code-block:: python

    y, state = layer(x)                      # x [B, T, D] -> y [B, T, D], final state
    y2, state2 = layer(x2, state=state)      # continue: equals layer(cat(x, x2)) on the tail
    y, state = layer(x, lengths=lengths)     # right padding: state = each row's state at its last valid step
    y_t, state = layer.step(x_t, state)      # x_t [B, D]: one token, O(1) in T for recurrent layers
    state0 = layer.init_state(batch_size)    # what state=None means

A state is a tensor or a (nested) tuple of tensors. Subclasses implement ``init_state``,
``_forward`` and (when causal) ``_step``; the public methods validate their inputs once per
call and raise :class:`ValueError` naming what was expected.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["SequenceLayer", "State", "flatten_state", "map_state", "valid_mask"]

State = Any  # Tensor | tuple[State, ...]


def flatten_state(state: State) -> list[Tensor]:
    """The tensors of a (nested) tuple state, depth first."""
    if isinstance(state, Tensor):
        return [state]
    return [t for part in state for t in flatten_state(part)]


def map_state(fn, *states: State) -> State:
    """Apply ``fn`` leaf-wise over states of the same structure."""
    if isinstance(states[0], Tensor):
        return fn(*states)
    return tuple(map_state(fn, *parts) for parts in zip(*states))


def valid_mask(lengths: Tensor, seq_len: int) -> Tensor:
    """[B, T] boolean mask, True where ``t < lengths[b]``."""
    return torch.arange(seq_len, device=lengths.device) < lengths[:, None]


class SequenceLayer(nn.Module, abc.ABC):
    """Base class of every registered layer: ``[B, T, D] -> [B, T, D]`` plus a state.

    Args:
        d_model: width D of the input and the output.

    Attributes:
        causal: whether output t depends only on inputs 0..t. Non-causal layers have no ``step``,
            unless they have a non-causal prefix.
        noncausal_prefix: how many leading tokens of a sequence the layer reads non-causally (0 for
            most layers). Such a layer sets ``causal = False`` (outputs before the end of the prefix
            see later prefix tokens), is causal from the end of the prefix on, and has ``step`` and
            state passing, which reproduce ``forward`` once the prefix has been read.
        token_inputs: the layer reads token identity from exact repeats of input vectors (rows of an
            embedding table), so it is checked on such inputs rather than on Gaussian noise.
        layer_name: the registry key (set by :func:`recur_core.register_layer`).
    """

    causal: bool = True
    noncausal_prefix: int = 0
    token_inputs: bool = False
    layer_name: str = ""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        if d_model < 1:
            raise ValueError(f"d_model must be a positive integer, got {d_model}")
        self.d_model = d_model

    @abc.abstractmethod
    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        """The state that ``state=None`` stands for."""

    @abc.abstractmethod
    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Parallel (training) form over a whole sequence; inputs already validated."""

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        """Recurrent form for one token; causal layers override it."""
        raise TypeError(f"{type(self).__name__} is not causal and has no step()")

    def forward(self, x: Tensor, state: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """Run the layer over ``x`` [B, T, D]; ``lengths`` [B] marks right padding."""
        self._check_input(x, ndim=3, what="x [B, T, D]")
        batch, seq_len = x.shape[:2]
        if lengths is not None:
            lengths = self._check_lengths(lengths, batch, seq_len, x.device)
        if state is None:
            state = self.init_state(batch, device=x.device, dtype=x.dtype)
        else:
            self._check_state(state, batch)
        return self._forward(x, state, lengths)

    def step(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Advance by one token ``x_t`` [B, D]; returns ``y_t`` [B, D] and the new state."""
        if not (self.causal or self.noncausal_prefix):
            raise TypeError(f"{type(self).__name__} is not causal and has no step(); run it over whole sequences")
        self._check_input(x_t, ndim=2, what="x_t [B, D]")
        if state is None:
            state = self.init_state(x_t.shape[0], device=x_t.device, dtype=x_t.dtype)
        else:
            self._check_state(state, x_t.shape[0])
        return self._step(x_t, state)

    def state_shapes(self, batch_size: int) -> list[tuple[int | None, ...]]:
        """Expected shape of each state tensor (``None`` = any size), from ``init_state``."""
        return [tuple(t.shape) for t in flatten_state(self.init_state(batch_size, device="meta"))]

    def _check_input(self, x: Tensor, ndim: int, what: str) -> None:
        if not isinstance(x, Tensor) or x.dim() != ndim or x.shape[-1] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__} expects {what} with D = d_model = {self.d_model}, got {shape}")

    def _check_lengths(self, lengths: Tensor, batch: int, seq_len: int, device) -> Tensor:
        lengths = torch.as_tensor(lengths, device=device)
        if lengths.shape != (batch,) or lengths.is_floating_point():
            raise ValueError(f"lengths must be an integer tensor of shape [B] = [{batch}], got {tuple(lengths.shape)}")
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > seq_len:
            raise ValueError(f"lengths must lie in 1..T = 1..{seq_len}, got values in {low}..{high}")
        return lengths.long()

    def _check_state(self, state: State, batch: int) -> None:
        expected = self.state_shapes(batch)
        try:
            got = [tuple(t.shape) for t in flatten_state(state)]
        except TypeError:
            got = None
        ok = got is not None and len(got) == len(expected)
        ok = ok and all(
            len(g) == len(e) and all(ei is None or gi == ei for gi, ei in zip(g, e)) for g, e in zip(got, expected)
        )
        if not ok:
            raise ValueError(
                f"{type(self).__name__} state has shapes {got}, expected {expected} "
                f"(None = any size); pass state=None or a state this layer returned"
            )
