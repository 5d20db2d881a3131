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

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DynamicSBM": "recur_graph.data.sbm",
        "TemporalGraph": "recur_graph.data.snapshots",
        "WindowDataset": "recur_graph.data.snapshots",
        "bucket_times": "recur_graph.data.snapshots",
        "chronological_split": "recur_graph.data.snapshots",
        "generate_sbm": "recur_graph.data.sbm",
        "generated_sbm_graph": "recur_graph.data.sbm",
        "load_bitcoin": "recur_graph.data.snap",
        "load_elliptic": "recur_graph.data.elliptic",
        "load_uci": "recur_graph.data.uci",
        "read_elliptic": "recur_graph.data.elliptic",
        "read_sbm_csv": "recur_graph.data.sbm",
        "read_signed_network": "recur_graph.data.snap",
        "read_uci_messages": "recur_graph.data.uci",
        "reputation_features": "recur_graph.data.snapshots",
        "sample_negative_edges": "recur_graph.data.snapshots",
        "write_sbm_csv": "recur_graph.data.sbm",
    },
)
