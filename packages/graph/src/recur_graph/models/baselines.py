r"""The EvolveGCN paper's baselines: a static GCN, and a GCN followed by a per-node recurrence.

Both take the same window as :class:`~recur_graph.models.EvolveGCN` and return node embeddings
for every snapshot, so the task heads and the training loop are shared.

- :class:`StaticGCN` has no temporal model: at snapshot ``t`` it convolves the union of the
  window's snapshots ``1..t`` (edge weights added up). With a window of one snapshot it is the
  official ``gcn`` model.
- :class:`GCNGRU` is the official ``gruA``: a two-layer GCN with one weight for every snapshot,
  then a recurrence over the snapshots for each node (``layer``, a GRU by default; any causal
  core layer works), run in the layer's parallel form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recur_core.registry import build_layer, register_model
from recur_graph.models.gcn import GCNLayer, example_window, normalized_adjacency

__all__ = ["GCNGRU", "GCNGRUConfig", "StaticGCN", "StaticGCNConfig", "cumulative_edges", "gcn_gru", "static_gcn"]


def cumulative_edges(edge_index: Tensor, edge_weight: Tensor | None, steps: int, nodes: int) -> tuple[Tensor, Tensor]:
    """Copy each edge of snapshot ``s`` into every later snapshot ``t >= s`` of a block-diagonal window.

    Returns the window whose snapshot ``t`` holds the union of snapshots ``0..t`` (repeated edges
    add their weights when normalized).
    """
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.shape[1], device=edge_index.device)
    snapshot = edge_index[0] // nodes
    copies = steps - snapshot
    shift = torch.arange(int(copies.sum()), device=edge_index.device) - torch.repeat_interleave(
        torch.cumsum(copies, 0) - copies, copies
    )
    return edge_index.repeat_interleave(copies, 1) + shift * nodes, edge_weight.repeat_interleave(copies)


@dataclass
class StaticGCNConfig:
    """Static GCN options (the widths match :class:`~recur_graph.models.EvolveGCNConfig`)."""

    in_features: int = 16  # F
    hidden_features: int = 32  # width after layer 1
    out_features: int = 32  # node embedding width
    activation: str = "rrelu"  # official run_exp.py: torch.nn.RReLU


class StaticGCN(nn.Module):
    """A two-layer GCN on the aggregated graph of each prefix of the window.

    Shapes:
        x [T, N, F] float or [T, N] one-hot ids, edge_index [2, E], edge_weight [E] -> [T, N, out_features]
    """

    def __init__(self, config: StaticGCNConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = c = config or StaticGCNConfig(**kwargs)
        self.layers = nn.ModuleList(
            [
                GCNLayer(c.in_features, c.hidden_features, c.activation),
                GCNLayer(c.hidden_features, c.out_features, c.activation),
            ]
        )

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        steps, nodes = x.shape[:2]
        edges = cumulative_edges(edge_index, edge_weight, steps, nodes)
        adj = normalized_adjacency(*edges, steps * nodes, self.layers[0].weight.dtype)
        h = x
        for layer in self.layers:
            h = layer(h, adj)
        return h

    def example_input(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """A window of ``batch_size`` snapshots over 12 nodes."""
        return example_window(batch_size, 12, self.config.in_features)


@dataclass
class GCNGRUConfig:
    """GCN-GRU options."""

    in_features: int = 16  # F
    hidden_features: int = 32  # width after GCN layer 1
    out_features: int = 32  # width after GCN layer 2 and of the recurrence
    layer: str = "gru"  # the per-node recurrence over snapshots: any causal core layer (official gruA: GRU)
    layer_kwargs: dict[str, Any] | None = None  # extra arguments of the layer
    activation: str = "rrelu"  # official run_exp.py: torch.nn.RReLU


class GCNGRU(nn.Module):
    """GCN on each snapshot (one shared weight), then a recurrence along time for every node.

    Shapes:
        x [T, N, F] float or [T, N] one-hot ids, edge_index [2, E], edge_weight [E] -> [T, N, out_features]
    """

    def __init__(self, config: GCNGRUConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = c = config or GCNGRUConfig(**kwargs)
        self.layers = nn.ModuleList(
            [
                GCNLayer(c.in_features, c.hidden_features, c.activation),
                GCNLayer(c.hidden_features, c.out_features, c.activation),
            ]
        )
        self.rnn = build_layer(c.layer, d_model=c.out_features, **(c.layer_kwargs or {}))
        if not self.rnn.causal:
            raise ValueError(f"layer {c.layer!r} is not causal; a snapshot's embedding may not see later ones")

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        steps, nodes = x.shape[:2]
        adj = normalized_adjacency(edge_index, edge_weight, steps * nodes, self.layers[0].weight.dtype)
        h = x
        for layer in self.layers:
            h = layer(h, adj)
        y, _ = self.rnn(h.transpose(0, 1))
        return y.transpose(0, 1)

    def example_input(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """A window of ``batch_size`` snapshots over 12 nodes."""
        return example_window(batch_size, 12, self.config.in_features)


@register_model("static_gcn")
def static_gcn(**kwargs: Any) -> StaticGCN:
    """Static GCN baseline (see :class:`StaticGCNConfig`)."""
    return StaticGCN(StaticGCNConfig(**kwargs))


@register_model("gcn_gru")
def gcn_gru(**kwargs: Any) -> GCNGRU:
    """GCN-GRU baseline (see :class:`GCNGRUConfig`)."""
    return GCNGRU(GCNGRUConfig(**kwargs))
