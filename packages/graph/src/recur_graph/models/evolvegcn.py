r"""EvolveGCN: a graph convolutional network whose weights a recurrent network evolves over time.

Pareja et al., "EvolveGCN: Evolving Graph Convolutional Networks for Dynamic Graphs", AAAI 2020,
https://arxiv.org/abs/1902.10191; official code https://github.com/IBM/EvolveGCN.

.. math::
    Q_t^{(l)} = \mathrm{RNN}\big(X_t^{(l)},\, Q_{t-1}^{(l)}\big),\qquad
    H_t^{(l+1)} = \sigma\big(\hat A_t H_t^{(l)} Q_t^{(l)}\big)

Each of the two layers owns an initial weight :math:`Q_0` (``in × out``) that a recurrence
evolves once per snapshot. **EvolveGCN-H** feeds it :math:`X_t = \mathrm{TopK}(H_t)`, a summary of
``out`` node embeddings of the snapshot; **EvolveGCN-O** feeds it :math:`X_t = Q_{t-1}`, its own
output. The recurrence is any causal core layer (``layer``): the weight's ``out`` columns
are its batch and its ``in`` rows the width, so ``build_layer(name, d_model=in)`` evolves them.

Every forward pass rebuilds the weights from :math:`Q_0` over the window it is given and keeps
nothing between calls, so there is no state to detach and no "backward through the graph a
second time" (torch_geometric_temporal keeps the evolved weight on the module across calls).

Where this follows the official code rather than the paper or torch_geometric_temporal:

- the weight is ``in × out`` (torch_geometric_temporal's is square), and TopK picks
  ``k = out`` nodes by ``H p / ‖p‖`` among the nodes present in the snapshot, repeating the last
  one when fewer are present; its rows are scaled by ``tanh`` of their scores;
- the default recurrence is a GRU, also for -O (the paper writes LSTM: ``layer="lstm"``);
- activations are RReLU; :math:`Q_0` is drawn from U(-1/√out, 1/√out).

Where it differs from the official code: the default ``gru`` layer is torch's GRU, whose gate
biases are vectors shared by the weight's columns (the official matrix GRU learns a full
``in × out`` bias per gate) and whose reset gate scales :math:`U h` rather than :math:`h`.

The file reads bottom-up: TopK summary, the evolving weight, one EvolveGCN layer, the config, the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core.layers.base import State
from recur_core.registry import build_layer, register_model
from recur_graph.models.gcn import (
    example_window,
    make_activation,
    normalized_adjacency,
    present_nodes,
    project,
    propagate,
    select_rows,
    uniform_,
)

__all__ = [
    "EvolveGCN",
    "EvolveGCNConfig",
    "EvolveGCNLayer",
    "EvolvingWeight",
    "TopKSummary",
    "evolvegcn_h",
    "evolvegcn_o",
]


class TopKSummary(nn.Module):
    r"""EvolveGCN-H's summary of a snapshot: the ``k`` best-scoring node embeddings.

    .. math::
        y = H p / \lVert p \rVert,\qquad i = \mathrm{top}_k(y),\qquad
        Z = H_{i} \circ \tanh(y_{i})

    Nodes absent from the snapshot (no edge) score :math:`-\infty`. With fewer than ``k``
    present nodes the last chosen one repeats, as the official code pads; an empty snapshot
    summarises to zeros. The official code returns :math:`Z^\top` (``features × k``); here the
    ``k`` rows are the batch of the recurrence, so ``Z`` is returned as is.

    Args:
        features: F, the width of the embeddings (the weight's rows).
        k: number of nodes kept (the weight's columns).

    Shapes:
        h [T, N, F] float or [T, N] one-hot ids, present [T, N] bool -> [T, k, F]
    """

    def __init__(self, features: int, k: int) -> None:
        super().__init__()
        self.features = features
        self.k = k
        self.scorer = nn.Parameter(torch.empty(features))
        uniform_(self.scorer, 1.0 / math.sqrt(features))

    def forward(self, h: Tensor, present: Tensor) -> Tensor:
        scores = project(h, self.scorer[:, None]).squeeze(-1) / self.scorer.norm()
        scores = scores.masked_fill(~present, float("-inf"))
        values, index = scores.topk(min(self.k, scores.shape[1]), dim=1)
        found = torch.isfinite(values).sum(1, keepdim=True)
        # position j takes the j-th best node, or the last one found when fewer than k were
        position = torch.minimum(torch.arange(self.k, device=h.device)[None], (found - 1).clamp(min=0))
        chosen = index.gather(1, position)
        rows = select_rows(h, chosen, self.features) * torch.tanh(scores.gather(1, chosen))[..., None]
        return rows * (found > 0)[..., None]


def _replace_first(state: State, value: Tensor) -> State:
    if isinstance(state, Tensor):
        return value
    return (_replace_first(state[0], value), *state[1:])


class EvolvingWeight(nn.Module):
    r"""A weight matrix ``Q`` (``rows × cols``) evolved by a core sequence layer, one step per snapshot.

    The layer is built with ``d_model = rows`` and runs the weight's ``cols`` columns as its batch:
    :math:`Q_t^\top, s_t = \mathrm{layer.step}(X_t^\top, s_{t-1})`. The initial weight
    :math:`Q_0` is a parameter. When the layer's state starts with a ``cols × rows`` tensor (the
    hidden state of ``gru``, ``lstm``, ``elman``, ``leaky_rnn``), :math:`Q_0^\top` is that tensor,
    as in the official matrix GRU whose hidden state is the weight; any other layer (``attention``)
    starts from its own initial state and reads :math:`Q_0^\top` as a first input.

    Args:
        rows: the weight's input width (the layer's ``d_model``).
        cols: the weight's output width (the layer's batch).
        layer: registered name of a causal core layer.
        layer_kwargs: extra arguments for the layer.

    Shapes:
        :meth:`from_inputs`: inputs [T, cols, rows] -> weights [T, rows, cols];
        :meth:`unrolled`: steps T -> weights [T, rows, cols]
    """

    def __init__(self, rows: int, cols: int, layer: str = "gru", layer_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols
        self.layer = build_layer(layer, d_model=rows, **(layer_kwargs or {}))
        if not self.layer.causal:
            raise ValueError(f"layer {layer!r} is not causal and has no step(); choose a causal core layer")
        self.initial = nn.Parameter(torch.empty(rows, cols))
        uniform_(self.initial, 1.0 / math.sqrt(cols))
        self.seeds_state = tuple(self.layer.state_shapes(cols)[0]) == (cols, rows)

    def initial_state(self) -> State:
        """The layer state before the first snapshot (holding :math:`Q_0^\\top` when the layer allows)."""
        state = self.layer.init_state(self.cols, device=self.initial.device, dtype=self.initial.dtype)
        return _replace_first(state, self.initial.T) if self.seeds_state else state

    def from_inputs(self, inputs: Tensor) -> Tensor:
        """EvolveGCN-H: the weights for inputs known up front, in the layer's parallel form."""
        x = inputs.transpose(0, 1)
        if self.seeds_state:
            y, _ = self.layer(x, state=self.initial_state())
        else:
            y, _ = self.layer(torch.cat([self.initial.T[:, None], x], 1))
            y = y[:, 1:]
        return y.permute(1, 2, 0)

    def unrolled(self, steps: int) -> Tensor:
        """EvolveGCN-O: :math:`Q_t = \\mathrm{layer}(Q_{t-1})`, step by step (each input is the last output)."""
        weight, state = self.initial.T, self.initial_state()
        weights = []
        for _ in range(steps):
            weight, state = self.layer.step(weight, state)
            weights.append(weight)
        return torch.stack(weights).transpose(1, 2)


class EvolveGCNLayer(nn.Module):
    r"""One EvolveGCN layer over a window: evolve the weight, then convolve every snapshot with its own.

    .. math:: H_t' = \sigma(\hat A_t H_t Q_t),\qquad Q_t = \mathrm{RNN}(X_t, Q_{t-1})

    Args:
        in_features: width of ``H`` (the weight's rows).
        out_features: width of ``H'`` (the weight's columns, and TopK's ``k`` for -H).
        variant: ``"h"`` (X_t = TopK(H_t)) or ``"o"`` (X_t = Q_{t-1}).
        layer: the core layer that evolves the weight.
        layer_kwargs: extra arguments for it.
        activation: ``"rrelu"`` or ``"relu"``.

    Shapes:
        h [T, N, in] (or one-hot ids [T, N]), adj [T·N, T·N], present [T, N] -> [T, N, out]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        variant: Literal["h", "o"],
        layer: str = "gru",
        layer_kwargs: dict[str, Any] | None = None,
        activation: str = "rrelu",
    ) -> None:
        super().__init__()
        if variant not in ("h", "o"):
            raise ValueError(f"variant must be 'h' or 'o', got {variant!r}")
        self.variant = variant
        self.weight = EvolvingWeight(in_features, out_features, layer, layer_kwargs)
        self.summary = TopKSummary(in_features, out_features) if variant == "h" else None
        self.activation = make_activation(activation)

    def evolved_weights(self, h: Tensor, present: Tensor) -> Tensor:
        """Q_1 .. Q_T for the window, [T, in, out]."""
        if self.summary is not None:
            return self.weight.from_inputs(self.summary(h, present))
        return self.weight.unrolled(h.shape[0])

    def forward(self, h: Tensor, adj: Tensor, present: Tensor) -> Tensor:
        return self.activation(propagate(adj, project(h, self.evolved_weights(h, present))))


@dataclass
class EvolveGCNConfig:
    """EvolveGCN's options; the defaults build a small model for tests, the recipes set paper sizes."""

    in_features: int = 16  # F: node feature width (one-hot degrees: the largest degree + 1)
    hidden_features: int = 32  # width after layer 1 (official layer_1_feats)
    out_features: int = 32  # node embedding width after layer 2 (official layer_2_feats)
    variant: Literal["h", "o"] = "o"  # -H: weights evolve from TopK node summaries; -O: from themselves
    # evolves the weights: any causal core layer; the official code's GRU (the paper writes LSTM for -O)
    layer: str = "gru"
    layer_kwargs: dict[str, Any] | None = None  # extra arguments of the layer
    activation: str = "rrelu"  # official run_exp.py: torch.nn.RReLU


class EvolveGCN(nn.Module):
    """Two EvolveGCN layers: node embeddings for every snapshot of a window.

    Args:
        config: an :class:`EvolveGCNConfig` (or its fields as keyword arguments).

    Shapes:
        x [T, N, F] float or [T, N] one-hot ids, edge_index [2, E] block-diagonal over the window
        (snapshot t on nodes t·N .. t·N + N - 1), edge_weight [E] or None -> [T, N, out_features].
        The tasks use the last snapshot's embeddings, as the official code does.
    """

    def __init__(self, config: EvolveGCNConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config or EvolveGCNConfig(**kwargs)
        c = self.config
        widths = [c.in_features, c.hidden_features, c.out_features]
        self.layers = nn.ModuleList(
            EvolveGCNLayer(widths[i], widths[i + 1], c.variant, c.layer, c.layer_kwargs, c.activation) for i in range(2)
        )

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        steps, nodes = x.shape[:2]
        adj = normalized_adjacency(edge_index, edge_weight, steps * nodes, self.layers[0].weight.initial.dtype)
        present = present_nodes(edge_index, steps, nodes)
        h = x
        for layer in self.layers:
            h = layer(h, adj, present)
        return h

    def example_input(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """A window of ``batch_size`` snapshots (the batch of a dynamic-graph model) over 12 nodes."""
        return example_window(batch_size, 12, self.config.in_features)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items() if v is not None)


@register_model("evolvegcn_h")
def evolvegcn_h(**kwargs: Any) -> EvolveGCN:
    """EvolveGCN-H: weights evolved from TopK summaries of the node embeddings (see :class:`EvolveGCNConfig`)."""
    return EvolveGCN(EvolveGCNConfig(variant="h", **kwargs))


@register_model("evolvegcn_o")
def evolvegcn_o(**kwargs: Any) -> EvolveGCN:
    """EvolveGCN-O: weights evolved from themselves (see :class:`EvolveGCNConfig`)."""
    return EvolveGCN(EvolveGCNConfig(variant="o", **kwargs))
