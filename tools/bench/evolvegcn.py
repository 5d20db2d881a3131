"""One EvolveGCN training epoch on the SBM set: recur_graph against torch_geometric_temporal, same snapshots.

    .venv/bin/python tools/bench/evolvegcn.py                      # default SBM (1000 nodes, 50 snapshots)
    .venv/bin/python tools/bench/evolvegcn.py --repeats 5 --threads 1 --check

Every candidate trains the same epoch: for each training window of ``--history`` snapshots, the
encoder embeds the nodes, the same edge classifier scores the same pre-sampled true and false
edges of the next snapshot, and Adam takes a step on the official class-weighted loss. Widths
are all F (the one-hot degree width), because torch_geometric_temporal's weights are square. The
classifier and its pairs are the same for every candidate, so they are kept small (one false
edge per true one, 16 hidden units) to let the encoders' differences show.

Candidates:

- ``recur evolvegcn_h`` / ``recur evolvegcn_o``: :class:`recur_graph.models.EvolveGCN`, a whole
  window per call (one block-diagonal graph, the weights rebuilt from Q_0 inside the call).
- ``pyg-temporal EvolveGCNH`` / ``EvolveGCNO``: two of its cells with RReLU between, called once
  per snapshot, ``reinitialize_weight()`` at each window start (its weight lives on the module).
  Install it with ``pip install recur-graph[bench]`` or put its wheel on PYTHONPATH. It imports
  ``torch_sparse`` only for a type annotation; when that compiled package is missing, the bench
  hands it torch-geometric's own stand-in class (``torch_geometric.typing.SparseTensor``), and says so.
- ``plain loop -H`` / ``-O``: the official code's shape, snapshot by snapshot with a matrix GRU
  step and a per-snapshot normalized adjacency, on recur's own parameters: the baseline when
  torch_geometric_temporal is not there.

Timings interleave the candidates round by round and report medians; ratios are recur / other.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types

import torch
from torch import nn

from recur_core import get_model
from recur_graph.data import DynamicSBM, WindowDataset, chronological_split, generated_sbm_graph
from recur_graph.models import EdgeClassifier, weighted_cross_entropy
from recur_graph.models.gcn import normalized_adjacency, present_nodes, project, propagate

CLASS_WEIGHTS = [0.15, 0.85]
GOAL = 1.0


def load_pyg_temporal() -> tuple[type, type, str] | None:
    """torch_geometric_temporal's EvolveGCNH / EvolveGCNO, or None when it is not installed."""
    note = ""
    try:
        import torch_sparse  # noqa: F401
    except ImportError:
        import torch_geometric.typing

        sys.modules["torch_sparse"] = types.SimpleNamespace(SparseTensor=torch_geometric.typing.SparseTensor)
        note = " (torch_sparse missing: torch-geometric's stand-in SparseTensor class serves its type annotation)"
    try:
        from torch_geometric_temporal.nn.recurrent import EvolveGCNH, EvolveGCNO
    except ImportError as err:
        print(f"torch_geometric_temporal does not import ({err}); comparing with the plain loop only")
        return None
    return EvolveGCNH, EvolveGCNO, note


class PygTemporal(nn.Module):
    """Two torch_geometric_temporal EvolveGCN cells (F -> F -> F) with RReLU, fed one snapshot at a time."""

    def __init__(self, cell: type, variant: str, nodes: int, features: int) -> None:
        super().__init__()
        make = (lambda: cell(nodes, features)) if variant == "h" else (lambda: cell(features))
        self.cells = nn.ModuleList([make(), make()])
        self.activation = nn.RReLU()

    def forward(self, x: torch.Tensor, snapshots: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        for cell in self.cells:
            cell.reinitialize_weight()
        for t, (edge_index, edge_weight) in enumerate(snapshots):
            h = x[t]
            for cell in self.cells:
                h = self.activation(cell(h, edge_index, edge_weight))
        return h


class PlainLoop(nn.Module):
    """EvolveGCN on a recur model's parameters, snapshot by snapshot as the official GRCU loop."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, snapshots: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        nodes = x.shape[1]
        adjacency = [normalized_adjacency(e, w, nodes) for e, w in snapshots]
        present = [present_nodes(e, 1, nodes) for e, _ in snapshots]
        h = x
        for layer in self.model.layers:
            rnn = layer.weight.layer.rnn
            cell = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
            q, outputs = layer.weight.initial, []
            for t in range(len(snapshots)):
                if layer.summary is not None:
                    q = torch.gru_cell(layer.summary(h[t : t + 1], present[t])[0], q.T, *cell).T
                else:
                    q = torch.gru_cell(q.T, q.T, *cell).T
                outputs.append(layer.activation(propagate(adjacency[t], project(h[t : t + 1], q))[0]))
            h = torch.stack(outputs)
        return h[-1]


def _windows(history: int, sbm: DynamicSBM, negatives: int, seed: int) -> tuple[list[dict], int]:
    graph = generated_sbm_graph(sbm)
    train = chronological_split(graph.num_snapshots, history, "link_pred")["train"]
    data = WindowDataset(graph, train, history, "link_pred", negatives=negatives, seed=seed)
    items = [data[i] for i in range(len(data))]
    for item in items:
        nodes, first = graph.num_nodes, int(item["snapshot"]) - history + 1
        item["x_dense"] = nn.functional.one_hot(item["x"], data.num_features).float()
        item["snapshots"] = []
        for t in range(first, int(item["snapshot"]) + 1):
            part = graph.edges(t)
            item["snapshots"].append((graph.edge_index[:, part], graph.edge_weight[part]))
        assert item["edge_index"].max() < history * nodes
    return items, data.num_features


def _epoch(encoder: nn.Module, head: nn.Module, optimizer: torch.optim.Optimizer, items: list[dict], mode: str) -> None:
    for item in items:
        if mode == "window":
            h = encoder(item["x"], item["edge_index"], item["edge_weight"])[-1]
        else:
            h = encoder(item["x_dense"], item["snapshots"])
        loss = weighted_cross_entropy(head(h, item["pairs"]), item["labels"], CLASS_WEIGHTS)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-nodes", type=int, default=1000)
    parser.add_argument("--num-snapshots", type=int, default=50)
    parser.add_argument("--history", type=int, default=6)
    parser.add_argument(
        "--negatives", type=int, default=1, help="false edges per true edge (kept low: the head is common)"
    )
    parser.add_argument("--head-hidden", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if recur is slower than {GOAL}x the other")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sbm = DynamicSBM(num_nodes=args.num_nodes, num_snapshots=args.num_snapshots)
    items, features = _windows(args.history, sbm, args.negatives, seed=0)
    edges = sum(len(i["edge_weight"]) for i in items) / len(items) / args.history
    print(
        f"one training epoch: SBM {args.num_nodes} nodes, {args.num_snapshots} snapshots (~{edges:.0f} edges each), "
        f"{len(items)} windows of {args.history}, F = {features}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}"
    )

    candidates: dict[str, tuple[nn.Module, str]] = {}
    for variant in ("h", "o"):
        model = get_model(f"evolvegcn_{variant}", in_features=features, hidden_features=features, out_features=features)
        candidates[f"recur evolvegcn_{variant}"] = (model, "window")
        candidates[f"plain loop -{variant.upper()}"] = (
            PlainLoop(
                get_model(f"evolvegcn_{variant}", in_features=features, hidden_features=features, out_features=features)
            ),
            "snapshots",
        )
    pyg = load_pyg_temporal()
    if pyg is not None:
        cell_h, cell_o, note = pyg
        print(f"torch_geometric_temporal imported{note}")
        candidates["pyg-temporal EvolveGCNH"] = (PygTemporal(cell_h, "h", args.num_nodes, features), "snapshots")
        candidates["pyg-temporal EvolveGCNO"] = (PygTemporal(cell_o, "o", args.num_nodes, features), "snapshots")
    runs = {}
    for name, (encoder, mode) in candidates.items():
        head = EdgeClassifier(features, hidden=args.head_hidden)
        optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=0.005)
        runs[name] = (encoder, head, optimizer, mode)
        _epoch(encoder, head, optimizer, items[:2], mode)

    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (encoder, head, optimizer, mode) in runs.items():
            start = time.perf_counter()
            _epoch(encoder, head, optimizer, items, mode)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}

    failed = False
    print(f"{'candidate':<26}{'s / epoch':>11}{'recur / this':>14}")
    for variant in ("H", "O"):
        ours = medians[f"recur evolvegcn_{variant.lower()}"]
        others = [f"plain loop -{variant}"] + ([f"pyg-temporal EvolveGCN{variant}"] if pyg is not None else [])
        print(f"{f'recur evolvegcn_{variant.lower()}':<26}{ours:>11.3f}{'':>14}")
        for other in others:
            ratio = ours / medians[other]
            print(f"{other:<26}{medians[other]:>11.3f}{ratio:>13.2f}x")
            if other.startswith("pyg") or pyg is None:
                failed |= ratio > GOAL
    if args.check and failed:
        print(f"FAILED: recur is slower than {GOAL}x the reference")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
