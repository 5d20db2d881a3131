"""Bidirectional wrapper: any causal layer run forwards and backwards, merged by a projection."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State
from recur_core.registry import build_layer, register_layer

__all__ = ["Bidirectional", "reverse_padded"]


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each row of ``x`` [B, T, ...] within its first ``lengths[b]`` steps; padding stays put."""
    if lengths is None:
        return x.flip(1)
    t = torch.arange(x.shape[1], device=x.device)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


@register_layer("bidirectional")
class Bidirectional(SequenceLayer):
    r"""Two copies of a causal layer, one over the sequence and one over its reverse.

    .. math:: y_t = W [\overrightarrow{f}(x)_t ; \overleftarrow{f}(x)_t] + b

    With ``lengths``, the backward pass reverses each row within its valid steps, so padding
    never reaches a valid output. Not causal, so there is no ``step``.

    Args:
        d_model: width D.
        layer: registered name of the causal layer to wrap (default ``"lstm"``).
        **layer_kwargs: constructor arguments of the wrapped layer.

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (forward state, backward state), each the wrapped layer's.
    """

    causal = False

    def __init__(self, d_model: int, layer: str = "lstm", **layer_kwargs) -> None:
        super().__init__(d_model)
        self.forward_layer = build_layer(layer, d_model, **layer_kwargs)
        if not self.forward_layer.causal:
            raise ValueError(f"Bidirectional wraps causal layers; {layer!r} is not causal")
        self.backward_layer = build_layer(layer, d_model, **layer_kwargs)
        self.merge = nn.Linear(2 * d_model, d_model)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        return (
            self.forward_layer.init_state(batch_size, device, dtype),
            self.backward_layer.init_state(batch_size, device, dtype),
        )

    def state_shapes(self, batch_size: int) -> list[tuple[int | None, ...]]:
        return self.forward_layer.state_shapes(batch_size) + self.backward_layer.state_shapes(batch_size)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        y_fwd, s_fwd = self.forward_layer(x, state[0], lengths)
        y_bwd, s_bwd = self.backward_layer(reverse_padded(x, lengths), state[1], lengths)
        y = self.merge(torch.cat([y_fwd, reverse_padded(y_bwd, lengths)], dim=-1))
        return y, (s_fwd, s_bwd)
