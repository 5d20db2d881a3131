"""Dynamic stochastic block model: the generator (the embedded default dataset) and its CSV format.

The EvolveGCN paper's SBM set (``sbm_50t_1000n_adj.csv``) follows DynGEM (Goyal et al., 2018,
https://arxiv.org/abs/1805.11273): nodes sit in communities, edges appear with probability
``p_in`` inside a community and ``p_out`` across, and after every snapshot a few nodes leave
community 0 for another one (DynGEM's "community diminishing" series), so community sizes, and
with them node degrees, drift over time.

Format (the official file's): CSV with the header ``source,target,weight,time``, one directed edge
per line, node ids counting from 0 and ``time`` the snapshot index. Reading it as the official
``sbm_dl.py`` does: N is the largest id + 1, a weight >= 0 counts as 1 and a negative one as 0,
and edges are taken as listed (the generator lists both directions of each undirected edge).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from recur_graph.data.snapshots import TemporalGraph, bucket_times
from recur_graph.data.tables import read_table

__all__ = [
    "SBM_COLUMNS",
    "DynamicSBM",
    "generate_sbm",
    "generated_sbm_graph",
    "read_sbm_csv",
    "sbm_graph",
    "write_sbm_csv",
]

SBM_COLUMNS = ("source", "target", "weight", "time")


@dataclass(frozen=True)
class DynamicSBM:
    """Parameters of the dynamic stochastic block model.

    Defaults keep the paper's 1000 nodes and 50 snapshots at a density a CPU can train on
    (about 11k directed edges per snapshot; the paper's set has about 97k).
    """

    num_nodes: int = 1000  # N
    num_snapshots: int = 50  # T
    num_communities: int = 2  # C, assigned uniformly at random at t = 0
    p_in: float = 0.02  # edge probability inside a community, per snapshot
    p_out: float = 0.002  # edge probability across communities, per snapshot
    migrations: int = 10  # nodes moved out of community 0 after each snapshot
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_nodes < 2 or self.num_snapshots < 1 or self.num_communities < 1:
            raise ValueError(f"need num_nodes >= 2, num_snapshots >= 1, num_communities >= 1; got {self}")
        if not (0 <= self.p_out <= 1 and 0 <= self.p_in <= 1):
            raise ValueError(f"p_in and p_out are probabilities, got p_in={self.p_in}, p_out={self.p_out}")
        if not 0 <= self.migrations <= self.num_nodes:
            raise ValueError(f"migrations must lie in 0..num_nodes, got {self.migrations}")


def generate_sbm(params: DynamicSBM = DynamicSBM()) -> np.ndarray:
    """Sample the edges, in the CSV's columns: [M, 4] int64 rows ``(source, target, weight=1, time)``."""
    rng = np.random.default_rng(params.seed)
    n = params.num_nodes
    community = rng.integers(params.num_communities, size=n)
    upper_i, upper_j = np.triu_indices(n, k=1)
    rows = []
    for t in range(params.num_snapshots):
        same = community[upper_i] == community[upper_j]
        hit = rng.random(len(upper_i)) < np.where(same, params.p_in, params.p_out)
        i, j = upper_i[hit], upper_j[hit]
        time = np.full(2 * len(i), t)
        rows.append(np.stack([np.concatenate([i, j]), np.concatenate([j, i]), np.ones_like(time), time], 1))
        members = np.flatnonzero(community == 0)
        if params.num_communities > 1 and len(members):
            movers = rng.choice(members, size=min(params.migrations, len(members)), replace=False)
            community[movers] = rng.integers(1, params.num_communities, size=len(movers))
    return np.concatenate(rows).astype(np.int64)


def write_sbm_csv(path: str | Path, edges: np.ndarray) -> Path:
    """Write ``edges`` ([M, 4] rows of source, target, weight, time) in the SBM CSV format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, edges, fmt="%d", delimiter=",", header=",".join(SBM_COLUMNS), comments="")
    return path


def sbm_graph(edges: np.ndarray, source: str) -> TemporalGraph:
    """The graph of SBM CSV rows ``(source, target, weight, time)``, read as the official loader does."""
    ids = edges[:, :2].astype(np.int64)
    return TemporalGraph.from_events(
        num_nodes=int(ids.max()) + 1,
        source_ids=ids[:, 0],
        target_ids=ids[:, 1],
        snapshot=bucket_times(edges[:, 3], 1),
        weight=np.where(edges[:, 2] >= 0, 1.0, 0.0),
        symmetric=False,
        source=source,
    )


def read_sbm_csv(path: str | Path) -> TemporalGraph:
    """Read an SBM CSV (``source,target,weight,time``; the header line is optional).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: with file and line, for a wrong number of columns, a non-numeric value or
            time stamp, or a node id that is not a non-negative integer.
    """
    table = read_table(
        path,
        SBM_COLUMNS,
        separator=",",
        id_columns=("source", "target"),
        time_column="time",
        what="SBM CSV",
    )
    return sbm_graph(table, str(path))


def generated_sbm_graph(params: DynamicSBM = DynamicSBM()) -> TemporalGraph:
    """The generated SBM as a graph, exactly as writing it with :func:`write_sbm_csv` and reading it back gives."""
    described = ", ".join(f"{k}={v}" for k, v in asdict(params).items())
    return sbm_graph(generate_sbm(params), f"<dynamic SBM {described}>")
