"""PyTorch Geometric Temporal's benchmark JSONs read as one multivariate series per graph: [T, N] + edges.

Rozemberczki et al. (2021), "PyTorch Geometric Temporal: Spatiotemporal Signal Processing with
Neural Machine Learning Models", https://arxiv.org/abs/2104.07788; the JSONs are the folder
``dataset/`` of https://github.com/benedekrozemberczki/pytorch_geometric_temporal (catalogue entry
``pyg-temporal``, folder ``<data root>/pytorch_geometric_temporal``).

Each file has its own layout; every reader returns the same :class:`GraphSeries`: the node signal
as a float table ``values`` [T, N] (time × node, the variables a forecaster sees) and the graph as
metadata (``edges`` [E, 2] with optional ``weights`` [E]; dynamic graphs also keep the edges of each
snapshot). The layouts, as the library's loaders read them:

==================  ==========================================================================
file                layout
==================  ==========================================================================
chickenpox          ``{"edges": [[src, dst], …], "node_ids": {name: index}, "FX": [[N values] × T]}``
pedalme_london      ``{"edges": [[src, dst], …], "weights": [E], "X": [[N values] × T]}``
montevideo_bus      networkx node-link: ``{"nodes": [{"id", "y": [T values], "X": {…}}, …],
                    "links": [{"source", "target", "weight"}, …]}`` (source/target are node ids)
england_covid       ``{"time_periods": T, "edge_mapping": {"edge_index": {"t": [[src, dst], …]},
                    "edge_weight": {"t": [E_t]}}, "y": [[N values] × T]}`` (``X`` optional, unused)
twitter_tennis_*    snapshot keys ``"0"`` … ``"T-1"``, each ``{"edges", "weights", "y": [N values], …}``,
                    and ``"time_periods": T``
==================  ==========================================================================

A file that does not match its layout (a missing key, a ragged ``y``, a non-number) is a one-line
``ValueError`` naming the file, the key and the layout expected. Nothing is written anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recur_core.data import dataset_file
from recur_timeseries.data.forecasting import ForecastWindows
from recur_timeseries.data.windowing import Standardizer, split_with_lookback

__all__ = [
    "LAYOUTS",
    "PYG_TEMPORAL_DATASETS",
    "GraphSeries",
    "graph_forecast_windows",
    "load_pyg_temporal",
    "read_chickenpox",
    "read_england_covid",
    "read_montevideo_bus",
    "read_pedalme",
    "read_pyg_temporal",
    "read_twitter_tennis",
]

# the layout each reader expects, as its errors print it
LAYOUTS: dict[str, str] = {
    "chickenpox": '{"edges": [[src, dst], ...], "node_ids": {name: index}, "FX": [[N values] x T]}',
    "pedalme": '{"edges": [[src, dst], ...], "weights": [E values], "X": [[N values] x T]}',
    "montevideo_bus": 'networkx node-link {"nodes": [{"id": id, "y": [T values]}, ...], '
    '"links": [{"source": id, "target": id, "weight": w}, ...]}',
    "england_covid": '{"time_periods": T, "edge_mapping": {"edge_index": {"0": [[src, dst], ...], ...}, '
    '"edge_weight": {"0": [E values], ...}}, "y": [[N values] x T]}',
    "twitter_tennis": '{"time_periods": T, "0": {"edges": [[src, dst], ...], "weights": [E values], '
    '"y": [N values]}, ..., "T-1": {...}}',
}


@dataclass(frozen=True)
class GraphSeries:
    """One spatio-temporal graph signal: a value per node and time step, and the graph as metadata.

    Attributes:
        name: what the series is (the file's stem, or ``diffusion`` for the generator).
        values: [T, N] float64, row t = the N node values at time t.
        edges: [E, 2] int64 node indices (source, target); for a dynamic graph, every edge that
            occurs in some snapshot, once.
        weights: [E] float64 edge weights aligned with ``edges``, or None when the file has none
            (for a dynamic graph: the weight summed over the snapshots).
        node_names: N names in column order, or None.
        snapshot_edges: a dynamic graph's edges of each time step ([E_t, 2] each, T of them), else None.
    """

    name: str
    values: np.ndarray
    edges: np.ndarray
    weights: np.ndarray | None = None
    node_names: tuple[str, ...] | None = None
    snapshot_edges: tuple[np.ndarray, ...] | None = None

    @property
    def num_nodes(self) -> int:
        return self.values.shape[1]

    @property
    def num_steps(self) -> int:
        return self.values.shape[0]

    def adjacency(self) -> np.ndarray:
        """Dense [N, N] weighted adjacency (weights summed over repeated edges; 1 per edge without weights)."""
        adjacency = np.zeros((self.num_nodes, self.num_nodes))
        weights = np.ones(len(self.edges)) if self.weights is None else self.weights
        np.add.at(adjacency, (self.edges[:, 0], self.edges[:, 1]), weights)
        return adjacency


class _Layout:
    """Checks of one file against one layout; every failure is a one-line ValueError naming both."""

    def __init__(self, path: Path, layout: str) -> None:
        self.path = path
        self.layout = layout

    def error(self, problem: str) -> ValueError:
        return ValueError(f"{self.path}: {problem}; expected the {self.layout} layout {LAYOUTS[self.layout]}")

    def key(self, obj: Any, key: str, where: str = "") -> Any:
        if not isinstance(obj, Mapping):
            raise self.error(f"{where or 'the top level'} is a {type(obj).__name__}, not a JSON object")
        if key not in obj:
            raise self.error(f"missing key {where + '.' if where else ''}{key!r}")
        return obj[key]

    def table(self, rows: Any, key: str) -> np.ndarray:
        """A [T, N] float table from a list of T equal-length rows of numbers."""
        if not isinstance(rows, list) or not rows:
            raise self.error(f"key {key!r} must be a non-empty list of rows, got {type(rows).__name__}")
        bad = [i for i, row in enumerate(rows) if not isinstance(row, list)]
        if bad:
            raise self.error(f"key {key!r}: row {bad[0]} is a {type(rows[bad[0]]).__name__}, not a list of numbers")
        lengths = np.array([len(row) for row in rows])
        if (lengths != lengths[0]).any() or lengths[0] == 0:
            ragged = int(np.flatnonzero(lengths != lengths[0])[0]) if (lengths != lengths[0]).any() else 0
            raise self.error(
                f"key {key!r} is ragged or empty: row 0 has {lengths[0]} values, row {ragged} has {lengths[ragged]}"
            )
        return self.numbers(rows, key)

    def numbers(self, values: Any, key: str) -> np.ndarray:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise self.error(f"key {key!r} holds a value that is not a number ({err})") from None
        if not np.isfinite(array).all():
            raise self.error(f"key {key!r} holds a NaN or infinite value")
        return array

    def edges(self, pairs: Any, key: str, num_nodes: int) -> np.ndarray:
        """[E, 2] int64 node indices from a list of [src, dst] pairs, each in [0, num_nodes)."""
        if not isinstance(pairs, list):
            raise self.error(f"key {key!r} must be a list of [src, dst] pairs, got {type(pairs).__name__}")
        if not pairs:
            return np.zeros((0, 2), dtype=np.int64)
        try:
            array = np.asarray(pairs, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.error(f"key {key!r} must be a list of [src, dst] pairs of node indices") from None
        if array.ndim != 2 or array.shape[1] != 2 or (array != np.round(array)).any():
            raise self.error(f"key {key!r} must be a list of [src, dst] pairs of node indices")
        array = array.astype(np.int64)
        if array.min() < 0 or array.max() >= num_nodes:
            raise self.error(f"key {key!r} names a node outside 0..{num_nodes - 1}")
        return array

    def weights(self, values: Any, key: str, num_edges: int) -> np.ndarray:
        array = self.numbers(values, key).reshape(-1)
        if len(array) != num_edges:
            raise self.error(f"key {key!r} has {len(array)} weights for {num_edges} edges")
        return array


def _load_json(path: str | Path, layout: str) -> tuple[Any, _Layout]:
    path = Path(path)
    check = _Layout(path, layout)
    if not path.is_file():
        raise FileNotFoundError(
            f"PyTorch Geometric Temporal file not found: {path}. 'recur data fetch pyg-temporal' downloads the "
            "JSONs into <data root>/pytorch_geometric_temporal"
        )
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise check.error(f"not valid JSON ({err})") from None
    return data, check


def read_chickenpox(path: str | Path) -> GraphSeries:
    """Hungarian chickenpox cases (weekly, 20 counties): ``FX`` [T, N] with the county graph.

    The values are as the file stores them (PyG-Temporal ships them z-scored per county).
    """
    data, check = _load_json(path, "chickenpox")
    values = check.table(check.key(data, "FX"), "FX")
    node_ids = check.key(data, "node_ids")
    if not isinstance(node_ids, Mapping) or len(node_ids) != values.shape[1]:
        raise check.error(f"key 'node_ids' must map the {values.shape[1]} node names to their column indices")
    order = sorted(node_ids, key=lambda name: node_ids[name])
    if [node_ids[name] for name in order] != list(range(values.shape[1])):
        raise check.error(f"key 'node_ids' must give the indices 0..{values.shape[1] - 1} once each")
    edges = check.edges(check.key(data, "edges"), "edges", values.shape[1])
    return GraphSeries(Path(path).stem, values, edges, node_names=tuple(order))


def read_pedalme(path: str | Path) -> GraphSeries:
    """PedalMe London deliveries (weekly, 15 zones): ``X`` [T, N] with the weighted zone graph."""
    data, check = _load_json(path, "pedalme")
    values = check.table(check.key(data, "X"), "X")
    edges = check.edges(check.key(data, "edges"), "edges", values.shape[1])
    weights = check.weights(check.key(data, "weights"), "weights", len(edges))
    return GraphSeries(Path(path).stem, values, edges, weights)


def read_montevideo_bus(path: str | Path) -> GraphSeries:
    """Montevideo bus-stop inflow (hourly, 675 stops): each node's ``y`` as a column, links by node id."""
    data, check = _load_json(path, "montevideo_bus")
    nodes = check.key(data, "nodes")
    if not isinstance(nodes, list) or not nodes:
        raise check.error("key 'nodes' must be a non-empty list of node objects")
    ids = [check.key(node, "id", f"nodes[{i}]") for i, node in enumerate(nodes)]
    columns = check.table([check.key(node, "y", f"nodes[{i}]") for i, node in enumerate(nodes)], "nodes[].y")
    index = {node_id: i for i, node_id in enumerate(ids)}
    if len(index) != len(ids):
        raise check.error("two nodes share an 'id'")
    links = check.key(data, "links")
    if not isinstance(links, list):
        raise check.error("key 'links' must be a list of link objects")
    pairs, weights = [], []
    for i, link in enumerate(links):
        source, target = check.key(link, "source", f"links[{i}]"), check.key(link, "target", f"links[{i}]")
        if source not in index or target not in index:
            raise check.error(f"links[{i}] joins {source!r} and {target!r}, which are not both node ids")
        pairs.append((index[source], index[target]))
        weights.append(link.get("weight", 1.0))
    edges = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return GraphSeries(
        Path(path).stem,
        columns.T.copy(),
        edges,
        check.weights(weights, "links[].weight", len(edges)),
        node_names=tuple(str(node_id) for node_id in ids),
    )


def _dynamic_graph(
    check: _Layout, edge_lists: Sequence[Any], weight_lists: Sequence[Any], where: Callable[[int], str], num_nodes: int
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """The union of per-snapshot edges (weights summed) and the snapshots' own edge arrays."""
    snapshots, weights = [], []
    for t, (pairs, values) in enumerate(zip(edge_lists, weight_lists)):
        snapshots.append(check.edges(pairs, where(t) + " edges", num_nodes))
        weights.append(check.weights(values, where(t) + " weights", len(snapshots[-1])))
    union, inverse = np.unique(np.concatenate(snapshots), axis=0, return_inverse=True)
    summed = np.bincount(inverse.reshape(-1), weights=np.concatenate(weights), minlength=len(union))
    return union.astype(np.int64).reshape(-1, 2), summed, tuple(snapshots)


def _time_periods(check: _Layout, data: Any, expected: int | None = None) -> int:
    periods = check.key(data, "time_periods")
    if not isinstance(periods, int) or periods < 1 or (expected is not None and periods != expected):
        have = f"{expected} rows of 'y'" if expected is not None else "a positive number of steps"
        raise check.error(f"key 'time_periods' is {periods!r}, not {have}")
    return periods


def read_england_covid(path: str | Path) -> GraphSeries:
    """England COVID-19 cases (daily, NUTS3 regions): ``y`` [T, N] with a mobility graph per day."""
    data, check = _load_json(path, "england_covid")
    values = check.table(check.key(data, "y"), "y")
    steps = _time_periods(check, data, expected=values.shape[0])
    mapping = check.key(data, "edge_mapping")
    index, weight = check.key(mapping, "edge_index", "edge_mapping"), check.key(mapping, "edge_weight", "edge_mapping")
    edge_lists = [check.key(index, str(t), "edge_mapping.edge_index") for t in range(steps)]
    weight_lists = [check.key(weight, str(t), "edge_mapping.edge_weight") for t in range(steps)]
    edges, weights, snapshots = _dynamic_graph(
        check, edge_lists, weight_lists, lambda t: f"edge_mapping[{str(t)!r}]", values.shape[1]
    )
    return GraphSeries(Path(path).stem, values, edges, weights, snapshot_edges=snapshots)


def read_twitter_tennis(path: str | Path) -> GraphSeries:
    """Twitter tennis mention graphs (hourly snapshots, 1000 nodes): each snapshot's ``y`` as row t."""
    data, check = _load_json(path, "twitter_tennis")
    steps = _time_periods(check, data)
    snapshots = [check.key(data, str(t)) for t in range(steps)]
    values = check.table([check.key(s, "y", f"[{str(t)!r}]") for t, s in enumerate(snapshots)], "[t].y")
    edges, weights, per_step = _dynamic_graph(
        check,
        [check.key(s, "edges", f"[{str(t)!r}]") for t, s in enumerate(snapshots)],
        [check.key(s, "weights", f"[{str(t)!r}]") for t, s in enumerate(snapshots)],
        lambda t: f"[{str(t)!r}]",
        values.shape[1],
    )
    return GraphSeries(Path(path).stem, values, edges, weights, snapshot_edges=per_step)


# dataset name -> (file under the catalogue folder, reader)
PYG_TEMPORAL_DATASETS: dict[str, tuple[str, Callable[[str | Path], GraphSeries]]] = {
    "chickenpox": ("chickenpox.json", read_chickenpox),
    "pedalme": ("pedalme_london.json", read_pedalme),
    "montevideo_bus": ("montevideo_bus.json", read_montevideo_bus),
    "england_covid": ("england_covid.json", read_england_covid),
    "twitter_tennis_rg17": ("twitter_tennis_rg17.json", read_twitter_tennis),
    "twitter_tennis_uo17": ("twitter_tennis_uo17.json", read_twitter_tennis),
}


def read_pyg_temporal(path: str | Path, dataset: str | None = None) -> GraphSeries:
    """Read one JSON with the reader of ``dataset`` (default: the one whose file name ``path`` has)."""
    path = Path(path)
    if dataset is None:
        by_file = {file: name for name, (file, _) in PYG_TEMPORAL_DATASETS.items()}
        dataset = by_file.get(path.name)
        if dataset is None:
            raise ValueError(
                f"{path}: cannot tell the layout from the file name; pass dataset= one of "
                f"{', '.join(PYG_TEMPORAL_DATASETS)}"
            )
    if dataset not in PYG_TEMPORAL_DATASETS:
        raise ValueError(f"unknown PyG-Temporal dataset {dataset!r}; valid names: {', '.join(PYG_TEMPORAL_DATASETS)}")
    return PYG_TEMPORAL_DATASETS[dataset][1](path)


def load_pyg_temporal(dataset: str, root: str | None = None) -> GraphSeries:
    """The dataset by name from ``<root>/pytorch_geometric_temporal`` (catalogue entry ``pyg-temporal``).

    A missing file is the catalogue's one-line ``dataset ... not found ...: run 'recur data fetch
    pyg-temporal' or set RECUR_DATA``.
    """
    if dataset not in PYG_TEMPORAL_DATASETS:
        raise ValueError(f"unknown PyG-Temporal dataset {dataset!r}; valid names: {', '.join(PYG_TEMPORAL_DATASETS)}")
    file, reader = PYG_TEMPORAL_DATASETS[dataset]
    return reader(dataset_file("pyg-temporal", file, root, label=dataset))


def graph_forecast_windows(
    series: GraphSeries,
    input_len: int,
    horizon: int,
    splits: Sequence[float] = (0.7, 0.1, 0.2),
    normalization: str = "max",
    period: int | None = None,
) -> dict[str, ForecastWindows]:
    """Chronological train / val / test :class:`ForecastWindows` of a graph series, normalised with training statistics.

    The T rows are cut into consecutive stretches of ``splits`` shares (the test split takes the
    rows left after rounding); val and test borrow the ``input_len`` rows before them, so their
    first window forecasts their first row (the ETT convention). ``normalization="max"`` divides
    every variable by its largest absolute training value (ReGENN's ``main.py`` normalises each
    variable by its maximum; the absolute value keeps z-scored files such as chickenpox in
    [-1, 1]); ``"zscore"`` subtracts the training mean and divides by the standard deviation.

    Raises:
        ValueError: bad shares or normalisation, or a split too short for one window.
    """
    if normalization not in ("max", "zscore"):
        raise ValueError(f"normalization must be 'max' or 'zscore', got {normalization!r}")
    shares = np.asarray(splits, dtype=np.float64)
    if shares.shape != (3,) or (shares <= 0).any() or shares.sum() > 1 + 1e-9:
        raise ValueError(f"splits must be three positive shares (train, val, test) summing to at most 1, got {splits}")
    steps = series.num_steps
    train, val = int(steps * shares[0]), int(steps * shares[1])
    sizes = (train, val, min(steps - train - val, round(steps * shares[2])))
    if train < input_len + horizon or min(sizes[1:]) < horizon:
        raise ValueError(
            f"{series.name}: {steps} steps split {shares.tolist()} into {list(sizes)} rows, too few for windows of "
            f"input_len={input_len} + horizon={horizon} (train needs {input_len + horizon}, val and test {horizon} "
            "each); lower input_len/horizon or change splits"
        )
    parts = split_with_lookback(series.values, sizes, lookback=input_len)
    if normalization == "max":
        scale = np.abs(parts[0]).max(axis=0)
        parts = [part / np.where(scale > 0, scale, 1.0) for part in parts]
    else:
        standardizer = Standardizer.fit(parts[0])
        parts = [standardizer.transform(part) for part in parts]
    return {
        split: ForecastWindows(part, input_len, horizon, period=period)
        for split, part in zip(("train", "val", "test"), parts)
    }
