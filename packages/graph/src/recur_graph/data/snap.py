"""SNAP signed networks: Bitcoin-OTC and Bitcoin-Alpha who-trusts-whom.

Kumar et al., "Edge Weight Prediction in Weighted Signed Networks", ICDM 2016;
https://snap.stanford.edu/data/soc-sign-bitcoin-otc.html and ``...-bitcoin-alpha.html``.

Format: one rating per line, ``SOURCE,TARGET,RATING,TIME`` with RATING in -10..10 and TIME in
seconds since the epoch. The SNAP files have no header and are gzipped; copies elsewhere are
often unpacked and carry a header line (``from,to,feature,time``): both are read.

Processing, as the official EvolveGCN ``bitcoin_dl.py``: node ids become 0..N-1 in sorted order;
time stamps become snapshots of ``1.2e6`` s (about two weeks); a rating's sign is +1 when it is
positive and -1 otherwise; the graph is made undirected; the ratings of one pair in one snapshot
merge into one edge whose weight is their number and whose class (for edge classification) is
1 when positive ratings outnumber negative ones, else 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from recur_core.data import dataset_file
from recur_graph.data.catalogue import BITCOIN_ALPHA, BITCOIN_OTC
from recur_graph.data.snapshots import TemporalGraph, bucket_times
from recur_graph.data.tables import read_table

__all__ = [
    "BITCOIN_DATASETS",
    "BITCOIN_SNAPSHOT_SECONDS",
    "SIGNED_COLUMNS",
    "bitcoin_path",
    "load_bitcoin",
    "read_signed_network",
]

SIGNED_COLUMNS = ("source", "target", "rating", "time")
BITCOIN_SNAPSHOT_SECONDS = 1_200_000
# each network's catalogue entry: one file in bitcoin-signed-networks/ under the data root
BITCOIN_DATASETS = {"otc": BITCOIN_OTC, "alpha": BITCOIN_ALPHA}


def read_signed_network(path: str | Path, snapshot_seconds: float = BITCOIN_SNAPSHOT_SECONDS) -> TemporalGraph:
    """Read a SNAP signed network CSV (plain or gzipped, with or without a header line).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: with file and line, for a wrong number of columns, a non-numeric rating or
            time stamp, or a node id that is not a non-negative integer.
    """
    table = read_table(
        path,
        SIGNED_COLUMNS,
        separator=",",
        id_columns=("source", "target"),
        time_column="time",
        what="SNAP signed network CSV",
    )
    ids, contiguous = np.unique(table[:, :2].astype(np.int64), return_inverse=True)
    contiguous = contiguous.reshape(-1, 2)
    return TemporalGraph.from_events(
        num_nodes=len(ids),
        source_ids=contiguous[:, 0],
        target_ids=contiguous[:, 1],
        snapshot=bucket_times(table[:, 3], snapshot_seconds),
        sign=np.where(table[:, 2] > 0, 1.0, -1.0),
        symmetric=True,
        source=str(path),
    )


def bitcoin_path(network: Literal["otc", "alpha"], root: str | Path | None = None) -> Path:
    """The file of Bitcoin-OTC or Bitcoin-Alpha under the data root (:func:`recur_core.data.data_root` of ``root``).

    Raises:
        ValueError: an unknown network.
        FileNotFoundError: the file is not there; one line naming ``recur data fetch bitcoin-otc``
            (or ``bitcoin-alpha``).
    """
    if network not in BITCOIN_DATASETS:
        raise ValueError(f"unknown Bitcoin network {network!r}; choose one of {', '.join(BITCOIN_DATASETS)}")
    spec = BITCOIN_DATASETS[network]
    return dataset_file(spec.name, spec.files[0].path, root, label=spec.name)


def load_bitcoin(
    network: Literal["otc", "alpha"], path: str | Path | None = None, root: str | Path | None = None
) -> TemporalGraph:
    """Bitcoin-OTC or Bitcoin-Alpha from ``path`` (a copy elsewhere), or from the data root when None."""
    return read_signed_network(path or bitcoin_path(network, root))
