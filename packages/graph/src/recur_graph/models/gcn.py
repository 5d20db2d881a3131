r"""The graph-convolution pieces every model here shares, on top of torch-geometric.

A window of ``T`` snapshots over ``N`` nodes is one block-diagonal graph on ``T · N`` nodes
(snapshot ``t`` holds nodes ``t · N .. (t + 1) · N - 1``), the way torch-geometric batches
graphs, so one sparse product propagates every snapshot at once.

.. math::
    \hat A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2},\qquad \mathrm{GCN}(H) = \sigma(\hat A H \Theta)

Node features are either dense, ``[T, N, F]`` floats, or one-hot, ``[T, N]`` integer ids
standing for the rows of an identity matrix of width ``F`` (the official one-hot degree
features): ``X Θ`` is then a row lookup of ``Θ``, and the one-hot matrix is never built.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

with warnings.catch_warnings():
    # torch_geometric 2.8 scripts a helper with torch.jit.script at import, which torch deprecates
    warnings.simplefilter("ignore", FutureWarning)
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import add_self_loops, spmm, to_torch_csr_tensor

__all__ = [
    "GCNLayer",
    "example_window",
    "make_activation",
    "normalized_adjacency",
    "present_nodes",
    "project",
    "propagate",
    "select_rows",
    "uniform_",
]

_ACTIVATIONS = {"rrelu": nn.RReLU, "relu": nn.ReLU}


def make_activation(name: str) -> nn.Module:
    """``"rrelu"`` (the official code's ``torch.nn.RReLU``: random leaky slopes in training) or ``"relu"``."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def normalized_adjacency(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Â = D̃^-1/2 (A + I) D̃^-1/2 as a sparse CSR matrix whose row ``i`` gathers the messages into node ``i``.

    A self-loop of weight 1 is added to every node, also to one that already has one (the official
    ``A + I``); repeated edges add up. Degrees are weighted in-degrees (torch-geometric's ``gcn_norm``).

    Shapes:
        edge_index [2, E] (source, target), edge_weight [E] or None -> [num_nodes, num_nodes] of ``dtype``
    """
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.shape[1], device=edge_index.device)
    edge_weight = edge_weight.to(dtype)
    edge_index, edge_weight = add_self_loops(edge_index, edge_weight, fill_value=1.0, num_nodes=num_nodes)
    edge_index, edge_weight = gcn_norm(edge_index, edge_weight, num_nodes, add_self_loops=False)
    return to_torch_csr_tensor(edge_index.flip(0), edge_weight, size=(num_nodes, num_nodes))


def propagate(adj: Tensor, h: Tensor) -> Tensor:
    """Â H for a window: ``h`` [T, N, C] through the block-diagonal ``adj`` [T·N, T·N]."""
    steps, nodes, channels = h.shape
    return spmm(adj, h.reshape(steps * nodes, channels)).view(steps, nodes, channels)


def project(x: Tensor, weight: Tensor) -> Tensor:
    """X Θ for dense features or one-hot ids, with one Θ [F, C] or one per snapshot [T, F, C].

    Shapes:
        x [T, N, F] float or [T, N] long -> [T, N, C]
    """
    if x.is_floating_point():
        if weight.dim() == 3 and x.stride(0) == 0:
            # the same features in every snapshot (an expanded view): one product for all weights
            steps, rows, cols = weight.shape
            return (x[0] @ weight.permute(1, 0, 2).reshape(rows, steps * cols)).view(-1, steps, cols).transpose(0, 1)
        return torch.matmul(x, weight)
    if weight.dim() == 2:
        return weight[x]
    return weight[torch.arange(x.shape[0], device=x.device)[:, None], x]


def select_rows(x: Tensor, index: Tensor, width: int) -> Tensor:
    """Rows ``index`` [T, K] of each snapshot's features, as dense [T, K, F] (one-hot ids expanded to width F)."""
    if x.is_floating_point():
        return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))
    return F.one_hot(x.gather(1, index), width).float()


def present_nodes(edge_index: Tensor, steps: int, nodes: int) -> Tensor:
    """[T, N] bool: whether each node has an edge (either end) in each snapshot of the window."""
    present = torch.zeros(steps * nodes, dtype=torch.bool, device=edge_index.device)
    present[edge_index.flatten()] = True
    return present.view(steps, nodes)


def uniform_(weight: Tensor, bound: float) -> Tensor:
    """U(-bound, bound) in place (the official code's ``reset_param`` initialisers)."""
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


class GCNLayer(nn.Module):
    r"""One graph convolution with a fixed (not evolving) weight, on every snapshot of a window.

    .. math:: H' = \sigma(\hat A H \Theta)

    Args:
        in_features: F.
        out_features: C.
        activation: ``"rrelu"`` (default, as the official code) or ``"relu"``.

    Shapes:
        h [T, N, F] (or ids [T, N]), adj [T·N, T·N] -> [T, N, C]
    """

    def __init__(self, in_features: int, out_features: int, activation: str = "rrelu") -> None:
        super().__init__()
        self.in_features = in_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        # as the official Sp_GCN (utils.reset_param): U(-2/√F, 2/√F)
        uniform_(self.weight, 2.0 / math.sqrt(in_features))
        self.activation = make_activation(activation)

    def forward(self, h: Tensor, adj: Tensor) -> Tensor:
        return self.activation(propagate(adj, project(h, self.weight)))


def example_window(steps: int, nodes: int, in_features: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """A random window for smoke tests: ``(x [T, N, F], edge_index [2, E], edge_weight [E])``.

    Each snapshot is a random undirected graph with a few isolated nodes, batched block-diagonally.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(steps, nodes, in_features, generator=generator)
    pairs = torch.triu_indices(nodes - 2, nodes - 2, offset=1)
    step, pair = torch.nonzero(torch.rand(steps, pairs.shape[1], generator=generator) < 0.4, as_tuple=True)
    edges = pairs[:, pair] + step * nodes
    edge_index = torch.cat([edges, edges.flip(0)], 1)
    return x, edge_index, torch.ones(edge_index.shape[1])
