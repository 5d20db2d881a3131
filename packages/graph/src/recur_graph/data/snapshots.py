"""Discrete-time dynamic graphs: edge events bucketed into snapshots, windows, splits and negatives.

Every loader in :mod:`recur_graph.data` ends in :meth:`TemporalGraph.from_events`, which does
what the official EvolveGCN code (https://github.com/IBM/EvolveGCN) does to each dataset:

- time stamps become snapshot indices ``(t - t_min) // width`` (:func:`bucket_times`);
- undirected datasets get every edge in both directions;
- events of one (source, target, snapshot) are merged: weights add up (for link prediction the
  weight of an edge is the number of events behind it), and signed events vote on the edge's
  class (``1`` when positive signs outnumber negative ones, else ``0``).

A sample is a window of ``history`` consecutive snapshots ending at snapshot ``t``; the model
reads the window and predicts the edges of snapshot ``t + 1`` (link prediction), the classes of
the edges of snapshot ``t`` (edge classification) or of the nodes stamped ``t`` (node
classification). ``history`` counts every snapshot in the window, so it is the official
``num_hist_steps + 1``.

Windows batch their snapshots like torch-geometric batches graphs: snapshot ``i`` of the window
holds nodes ``i * N .. (i + 1) * N - 1`` of one block-diagonal graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "Task",
    "TemporalGraph",
    "WindowDataset",
    "bucket_times",
    "chronological_split",
    "reputation_features",
    "sample_negative_edges",
]

Task = Literal["link_pred", "edge_cls", "node_cls"]
TASKS: tuple[str, ...] = ("link_pred", "edge_cls", "node_cls")
Features = Literal["degree", "given", "reputation"]
FEATURES: tuple[str, ...] = ("degree", "given", "reputation")


def bucket_times(timestamps: np.ndarray, width: float) -> np.ndarray:
    """Snapshot index of each time stamp: ``(t - min(t)) // width``, as the official ``aggregate_by_time``."""
    if width <= 0:
        raise ValueError(f"the snapshot width must be positive, got {width}")
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if timestamps.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.floor_divide(timestamps - timestamps.min(), width).astype(np.int64)


@dataclass(frozen=True)
class TemporalGraph:
    """A directed, weighted graph observed as ``T`` snapshots over the nodes ``0 .. N-1``.

    Edges are unique per (snapshot, source, target) and sorted by that key, so the edges of
    snapshot ``t`` are the slice ``offsets[t]:offsets[t + 1]``.

    Attributes:
        num_nodes: N.
        edge_index: [2, E] long, (source, target).
        edge_time: [E] long, the snapshot of each edge, 0 .. T-1.
        edge_weight: [E] float, summed weights of the events behind each edge.
        edge_label: [E] long class per edge (signed networks: 1 trust, 0 distrust), or None.
        offsets: [T + 1] long, where each snapshot's edges start.
        node_features: [N, F] float features that do not change over time, or None.
        node_label: [N] long node classes, -1 where unknown, or None.
        node_time: [N] long snapshot at which each node is labelled, or None.
        source: where the graph came from (a path, or a generator's description), for messages.
    """

    num_nodes: int
    edge_index: Tensor
    edge_time: Tensor
    edge_weight: Tensor
    edge_label: Tensor | None
    offsets: Tensor
    node_features: Tensor | None = None
    node_label: Tensor | None = None
    node_time: Tensor | None = None
    source: str = "<memory>"

    @classmethod
    def from_events(
        cls,
        num_nodes: int,
        source_ids: np.ndarray,
        target_ids: np.ndarray,
        snapshot: np.ndarray,
        weight: np.ndarray | None = None,
        sign: np.ndarray | None = None,
        symmetric: bool = True,
        num_snapshots: int | None = None,
        node_features: Tensor | None = None,
        node_label: Tensor | None = None,
        node_time: Tensor | None = None,
        source: str = "<memory>",
    ) -> TemporalGraph:
        """Build a graph from edge events; see the module docstring for what happens to them.

        Args:
            num_nodes: N; every id must lie in 0 .. N-1.
            source_ids, target_ids, snapshot: [M] integer arrays, one entry per event.
            weight: [M] event weights (default 1 each).
            sign: [M] +1 / -1 per event; when given, each edge's class is the majority vote.
            symmetric: add every event in the other direction too (undirected data).
            num_snapshots: T (default: the last snapshot index + 1).
        """
        src = np.asarray(source_ids, dtype=np.int64)
        dst = np.asarray(target_ids, dtype=np.int64)
        time = np.asarray(snapshot, dtype=np.int64)
        w = np.ones(len(src)) if weight is None else np.asarray(weight, dtype=np.float64)
        if symmetric:
            src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
            time, w = np.concatenate([time, time]), np.concatenate([w, w])
            sign = None if sign is None else np.concatenate([sign, sign])
        if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_nodes):
            raise ValueError(f"{source}: node ids must lie in 0..{num_nodes - 1}")
        if len(time) and time.min() < 0:
            raise ValueError(f"{source}: snapshot indices must be non-negative")
        last = int(time.max()) + 1 if len(time) else 0
        num_snapshots = last if num_snapshots is None else num_snapshots
        if num_snapshots < last:
            raise ValueError(f"{source}: num_snapshots={num_snapshots} but events reach snapshot {last - 1}")
        key = (time * num_nodes + src) * num_nodes + dst
        unique, inverse = np.unique(key, return_inverse=True)
        weight_sum = np.bincount(inverse, weights=w, minlength=len(unique))
        label = None
        if sign is not None:
            votes = np.bincount(inverse, weights=np.sign(sign), minlength=len(unique))
            label = torch.from_numpy((votes > 0).astype(np.int64))
        edge_time = unique // (num_nodes * num_nodes)
        pair = unique % (num_nodes * num_nodes)
        offsets = np.searchsorted(edge_time, np.arange(num_snapshots + 1))
        return cls(
            num_nodes=num_nodes,
            edge_index=torch.from_numpy(np.stack([pair // num_nodes, pair % num_nodes])),
            edge_time=torch.from_numpy(edge_time),
            edge_weight=torch.from_numpy(weight_sum).float(),
            edge_label=label,
            offsets=torch.from_numpy(offsets.astype(np.int64)),
            node_features=node_features,
            node_label=node_label,
            node_time=node_time,
            source=source,
        )

    @property
    def num_snapshots(self) -> int:
        """T."""
        return len(self.offsets) - 1

    def edges(self, t: int) -> slice:
        """The slice of ``edge_index`` / ``edge_weight`` / ``edge_label`` that holds snapshot ``t``."""
        return slice(int(self.offsets[t]), int(self.offsets[t + 1]))

    def out_degrees(self) -> Tensor:
        """[T, N] long: number of distinct out-neighbours of each node in each snapshot."""
        flat = self.edge_time * self.num_nodes + self.edge_index[0]
        counts = torch.bincount(flat, minlength=self.num_snapshots * self.num_nodes)
        return counts.view(self.num_snapshots, self.num_nodes)

    def describe(self) -> str:
        """One line: nodes, snapshots, edges."""
        return (
            f"{self.source}: {self.num_nodes} nodes, {self.num_snapshots} snapshots, {self.edge_index.shape[1]} edges"
        )


def reputation_features(graph: TemporalGraph) -> Tensor:
    """Per snapshot, what each node's signed record shows before it: [T, N, 4] float.

    Columns, for node n at snapshot t: ``log1p`` of its out-degree in snapshot t, ``log1p`` of the
    edges it sent in snapshots ``< t`` (in undirected data, every edge it had), ``log1p`` of those
    that were distrust (class 0), and the
    smoothed distrust share ``(distrust + 0.1) / (edges + 1)``. Only classes of earlier snapshots
    enter, so the edges classified at t never see their own labels. The official EvolveGCN code
    gives the model one-hot degrees alone; on Bitcoin-OTC those do not tell distrust apart
    (docs/graph.md), while a node's past distrust does.
    """
    if graph.edge_label is None:
        raise ValueError(f"{graph.source}: reputation features need edge classes (a signed network)")
    shape = (graph.num_snapshots, graph.num_nodes)
    flat = graph.edge_time * graph.num_nodes + graph.edge_index[0]
    edges = torch.bincount(flat, minlength=shape[0] * shape[1]).view(shape).double()
    distrust = torch.bincount(flat, weights=(graph.edge_label == 0).double(), minlength=shape[0] * shape[1]).view(shape)
    # totals over the snapshots strictly before t: an exclusive cumulative sum
    before = torch.cumsum(edges, 0) - edges
    distrust_before = torch.cumsum(distrust, 0) - distrust
    share = (distrust_before + 0.1) / (before + 1.0)
    return torch.stack([edges.log1p(), before.log1p(), distrust_before.log1p(), share], dim=-1).float()


def chronological_split(
    num_snapshots: int,
    history: int,
    task: Task,
    train_fraction: float = 0.7,
    val_fraction: float = 0.1,
    source: str = "<memory>",
) -> dict[str, range]:
    """The snapshots each split predicts from, as the official ``splitter`` cuts them.

    A sample ``t`` is the window ``t - history + 1 .. t``. With ``M = T - 1`` the last snapshot,
    training takes ``t`` in ``[history - 1, floor(M · train))``, validation up to
    ``floor(M · (train + val))`` and test the rest; link prediction stops at ``M - 1`` because
    its labels come from snapshot ``t + 1``. No split starts before ``history - 1``.

    Raises:
        ValueError: naming ``source`` when a split would get no snapshot.
    """
    if history < 1:
        raise ValueError(f"history must be at least 1 snapshot, got {history}")
    if not (train_fraction > 0 and val_fraction >= 0 and train_fraction + val_fraction < 1):
        raise ValueError(
            f"need 0 < train_fraction, 0 <= val_fraction and train_fraction + val_fraction < 1, "
            f"got {train_fraction} and {val_fraction}"
        )
    last = num_snapshots - 1
    start = history - 1
    train_end = math.floor(last * train_fraction)
    val_end = math.floor(last * (train_fraction + val_fraction))
    end = last if task == "link_pred" else last + 1
    # a window never reaches before snapshot 0
    train_end, val_end = max(train_end, start), max(val_end, start)
    splits = {"train": range(start, train_end), "val": range(train_end, val_end), "test": range(val_end, end)}
    empty = [name for name, part in splits.items() if len(part) == 0]
    if empty:
        shown = ", ".join(f"{name} {_show(part)}" for name, part in splits.items())
        raise ValueError(
            f"{source}: {num_snapshots} snapshots with history {history} leave no {' and no '.join(empty)} "
            f"snapshots ({shown}); use a shorter history, other split fractions, or finer snapshots"
        )
    return splits


def _show(part: range) -> str:
    return f"{part.start}..{part.stop - 1}" if len(part) else "(none)"


def sample_negative_edges(
    positives: Tensor,
    num_nodes: int,
    count: int,
    candidates: Tensor | None,
    generator: torch.Generator,
) -> Tensor:
    """Node pairs that are not edges: the official "smart" negative sampling, vectorized.

    Sources are drawn from the sources of ``positives`` and targets from ``candidates`` (the
    nodes seen in the window, repeated once per snapshot they appear in), or both uniformly
    from all nodes when ``candidates`` is None. Self-loops, true edges and repeats are dropped.
    As in the official code, ``4 · count`` pairs are drawn and the first ``count`` valid ones
    kept, with ``count`` capped at ``P · (P - 1) - P`` for ``P`` positives.

    Returns:
        [2, M] long, M <= count.
    """
    num_pos = positives.shape[1]
    count = max(0, min(count, num_pos * (num_pos - 1) - num_pos))
    if count == 0:
        return torch.zeros(2, 0, dtype=torch.long)
    draws = 4 * count
    if candidates is None:
        src = torch.randint(num_nodes, (draws,), generator=generator)
        dst = torch.randint(num_nodes, (draws,), generator=generator)
    else:
        src = positives[0][torch.randint(num_pos, (draws,), generator=generator)]
        dst = candidates[torch.randint(len(candidates), (draws,), generator=generator)]
    ids = src * num_nodes + dst
    true_ids = positives[0] * num_nodes + positives[1]
    valid = (src != dst) & ~torch.isin(ids, true_ids)
    ids = ids[valid]
    # keep the first occurrence of each pair, in drawing order
    unique, inverse = torch.unique(ids, return_inverse=True)
    first = torch.full((len(unique),), len(ids), dtype=torch.long).scatter_reduce_(
        0, inverse, torch.arange(len(ids)), reduce="amin"
    )
    kept = ids[first.sort().values[:count]]
    return torch.stack([kept // num_nodes, kept % num_nodes])


class WindowDataset(Dataset):
    """One sample per target snapshot ``t``: the window ``t - history + 1 .. t`` and its labels.

    Item (a dict of tensors, one sample per batch as in the official code):

    - ``x``: [H, N] long one-hot ids (one-hot degree features) or [H, N, F] float features
      (given, or the :func:`reputation_features` of signed networks)
    - ``edge_index`` [2, E], ``edge_weight`` [E]: the window's snapshots as one block-diagonal graph
    - ``snapshot``: [] long, ``t``
    - link prediction: ``pairs`` [2, P] and ``labels`` [P] (true edges of ``t + 1`` then sampled
      non-edges) when ``negatives`` is set; otherwise ``positives`` [2, P] only, and the evaluator
      scores every node pair (all non-edges, as the official dev/test sets)
    - edge classification: ``pairs`` [2, P], ``labels`` [P] for the edges of snapshot ``t``
    - node classification: ``nodes`` [P], ``labels`` [P] for the labelled nodes stamped ``t``

    Args:
        graph: the dynamic graph.
        targets: the snapshots ``t`` of this split.
        history: snapshots per window.
        task: ``"link_pred"``, ``"edge_cls"`` or ``"node_cls"``.
        features: ``"degree"`` (one-hot out-degree, as the official ``use_1_hot_node_feats``),
            ``"given"`` (``graph.node_features``) or ``"reputation"`` (:func:`reputation_features`,
            signed networks only; recur's addition, not the official code's).
        max_degree: width - 1 of the one-hot degree features (default: the graph's largest).
        negatives: non-edges sampled per true edge (link prediction training); None = evaluation.
        smart_negatives: draw the non-edges' targets from the nodes seen in the window (the
            official ``smart_neg_sampling``); False draws both ends uniformly from all nodes.
        seed: with the epoch and the item, seeds the negative sampler.

    The negatives of an item are a pure function of ``(seed, epoch, t)``: index the dataset with
    ``(epoch, index)`` (what :class:`recur_core.engine.EpochShuffle` yields for an
    ``epoch_indexed`` DataModule) for epoch ``epoch``'s draw, or with ``index`` alone for epoch
    0's. So a rebuilt dataset, a resumed run and every loader worker draw the same negatives for
    the same item, and each epoch draws new ones.
    """

    def __init__(
        self,
        graph: TemporalGraph,
        targets: Iterable[int],
        history: int,
        task: Task,
        features: Features = "degree",
        max_degree: int | None = None,
        negatives: int | None = None,
        smart_negatives: bool = True,
        seed: int = 0,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
        if features == "reputation" and graph.edge_label is None:
            raise ValueError(f"{graph.source}: features='reputation' needs edge classes (a signed network)")
        if features == "given" and graph.node_features is None:
            raise ValueError(f"{graph.source}: features='given' but this graph has no node features")
        if task == "edge_cls" and graph.edge_label is None:
            raise ValueError(f"{graph.source}: edge classification needs edge classes (a signed network)")
        if task == "node_cls" and (graph.node_label is None or graph.node_time is None):
            raise ValueError(f"{graph.source}: node classification needs node classes and times")
        self.graph = graph
        self.targets = list(targets)
        self.history = history
        self.task = task
        self.features = features
        self.negatives = negatives
        self.smart_negatives = smart_negatives
        self.seed = seed
        self.degrees = graph.out_degrees()
        self.max_degree = int(self.degrees.max()) if max_degree is None else max_degree
        self.reputation = reputation_features(graph) if features == "reputation" else None
        if int(self.degrees.max()) > self.max_degree:
            raise ValueError(
                f"max_degree={self.max_degree} but {graph.source} has a node of degree {int(self.degrees.max())}"
            )

    @property
    def num_features(self) -> int:
        """Width of the node features: ``max_degree + 1`` for one-hot degrees, else F."""
        if self.features == "degree":
            return self.max_degree + 1
        if self.features == "reputation":
            return self.reputation.shape[-1]
        return self.graph.node_features.shape[1]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, Tensor]:
        epoch, index = index if isinstance(index, tuple) else (0, index)
        g, t = self.graph, self.targets[index]
        first = t - self.history + 1
        window = slice(g.edges(first).start, g.edges(t).stop)
        local_time = g.edge_time[window] - first
        item = {
            "x": self._features(first, t),
            "edge_index": g.edge_index[:, window] + local_time * g.num_nodes,
            "edge_weight": g.edge_weight[window],
            "snapshot": torch.tensor(t),
        }
        if self.task == "link_pred":
            item.update(self._link_labels(t, window, epoch))
        elif self.task == "edge_cls":
            part = g.edges(t)
            item["pairs"], item["labels"] = g.edge_index[:, part], g.edge_label[part]
        else:
            nodes = torch.nonzero((g.node_time == t) & (g.node_label >= 0)).flatten()
            item["nodes"], item["labels"] = nodes, g.node_label[nodes]
        return item

    def _features(self, first: int, t: int) -> Tensor:
        if self.features == "degree":
            return self.degrees[first : t + 1]
        if self.features == "reputation":
            return self.reputation[first : t + 1]
        return self.graph.node_features.expand(t + 1 - first, *self.graph.node_features.shape)

    def negatives_generator(self, epoch: int, t: int) -> torch.Generator:
        """The generator of target snapshot ``t``'s negatives in ``epoch``, seeded by ``(seed, epoch, t)`` alone."""
        state = np.random.SeedSequence([self.seed, epoch, t]).generate_state(1, dtype=np.uint64)[0]
        return torch.Generator().manual_seed(int(state))

    def _link_labels(self, t: int, window: slice, epoch: int) -> dict[str, Tensor]:
        g = self.graph
        positives = g.edge_index[:, g.edges(t + 1)]
        if self.negatives is None:
            return {"positives": positives}
        candidates = None
        if self.smart_negatives:
            # the nodes of each window snapshot (either end of an edge), once per snapshot they appear in
            times = g.edge_time[window].repeat(2)
            candidates = torch.unique(times * g.num_nodes + g.edge_index[:, window].flatten()) % g.num_nodes
        negatives = sample_negative_edges(
            positives, g.num_nodes, self.negatives * positives.shape[1], candidates, self.negatives_generator(epoch, t)
        )
        labels = torch.cat([torch.ones(positives.shape[1]), torch.zeros(negatives.shape[1])]).long()
        return {"pairs": torch.cat([positives, negatives], 1), "labels": labels}
