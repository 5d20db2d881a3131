"""Dynamic-graph datasets in their real on-disk formats, the embedded SBM generator, and snapshots.

- :mod:`~recur_graph.data.snap`: SNAP signed networks (Bitcoin-OTC, Bitcoin-Alpha).
- :mod:`~recur_graph.data.uci`: UC Irvine messages (SNAP CollegeMsg or KONECT).
- :mod:`~recur_graph.data.sbm`: the dynamic stochastic block model and its CSV.
- :mod:`~recur_graph.data.elliptic`: Elliptic transactions (Kaggle CSVs).
- :mod:`~recur_graph.data.snapshots`: :class:`TemporalGraph`, windows, splits, negative sampling.

Real files are read in place from the data root (:func:`recur_core.data.data_root`: ``$RECUR_DATA``,
else ``~/.cache/recur/data``), where ``recur data fetch NAME`` puts them; the catalogue entries
(:mod:`~recur_graph.data.catalogue`) say what each folder holds.
"""

from recur_graph.data.elliptic import load_elliptic, read_elliptic
from recur_graph.data.sbm import DynamicSBM, generate_sbm, generated_sbm_graph, read_sbm_csv, write_sbm_csv
from recur_graph.data.snap import load_bitcoin, read_signed_network
from recur_graph.data.snapshots import (
    TemporalGraph,
    WindowDataset,
    bucket_times,
    chronological_split,
    sample_negative_edges,
)
from recur_graph.data.uci import load_uci, read_uci_messages

__all__ = [
    "DynamicSBM",
    "TemporalGraph",
    "WindowDataset",
    "bucket_times",
    "chronological_split",
    "generate_sbm",
    "generated_sbm_graph",
    "load_bitcoin",
    "load_elliptic",
    "load_uci",
    "read_elliptic",
    "read_sbm_csv",
    "read_signed_network",
    "read_uci_messages",
    "sample_negative_edges",
    "write_sbm_csv",
]
