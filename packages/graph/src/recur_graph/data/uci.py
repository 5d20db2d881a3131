"""UC Irvine messages: private messages on a UC Irvine student community, as a temporal graph.

Panzarasa, Opsahl & Carley, "Patterns and dynamics of users' behavior and interaction: network
analysis of an online community", JASIST 2009. Two distributions of the same data:

- SNAP ``CollegeMsg.txt`` (https://snap.stanford.edu/data/CollegeMsg.html): ``SRC DST UNIXTS``,
  space-separated, no header.
- KONECT ``out.opsahl-ucsocial`` (the file the official EvolveGCN code reads): ``%`` comment
  lines, then ``SRC DST WEIGHT TIME``.

Node ids count from 1. Processing, as the official ``uc_irv_mess_dl.py``: N is the largest id,
ids become 0-based, the graph is made undirected, and time stamps become snapshots of
190,080 s (2.2 days); the edge weight is the number of messages.
"""

from __future__ import annotations

from pathlib import Path

from recur_core.data import dataset_file
from recur_graph.data.catalogue import UCI_MESSAGES
from recur_graph.data.snapshots import TemporalGraph, bucket_times
from recur_graph.data.tables import read_table, read_text

__all__ = ["UCI_SNAPSHOT_SECONDS", "load_uci", "read_uci_messages", "uci_path"]

UCI_SNAPSHOT_SECONDS = 190_080
_SNAP_COLUMNS = ("source", "target", "time")
_KONECT_COLUMNS = ("source", "target", "weight", "time")


def _columns(path: Path) -> tuple[str, ...]:
    """SNAP (3 columns) or KONECT (4), judged by the first data line."""
    if not path.is_file():
        return _SNAP_COLUMNS
    for line in read_text(path).splitlines():
        if line.strip() and not line.startswith("%"):
            return _KONECT_COLUMNS if len(line.split()) == 4 else _SNAP_COLUMNS
    return _SNAP_COLUMNS


def read_uci_messages(path: str | Path, snapshot_seconds: float = UCI_SNAPSHOT_SECONDS) -> TemporalGraph:
    """Read the UCI messages edge list (SNAP CollegeMsg or KONECT layout).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: with file and line, for a wrong number of columns, a non-numeric time stamp,
            or a node id that is not an integer from 1 up.
    """
    path = Path(path)
    columns = _columns(path)
    table = read_table(
        path,
        columns,
        separator=None,
        id_columns=("source", "target"),
        time_column="time",
        min_id=1,
        what="UCI messages edge list (SNAP CollegeMsg: SRC DST UNIXTS)",
    )
    ids = table[:, :2].astype("int64") - 1
    return TemporalGraph.from_events(
        num_nodes=int(ids.max()) + 1,
        source_ids=ids[:, 0],
        target_ids=ids[:, 1],
        snapshot=bucket_times(table[:, columns.index("time")], snapshot_seconds),
        symmetric=True,
        source=str(path),
    )


def uci_path(root: str | Path | None = None) -> Path:
    """SNAP's ``CollegeMsg.txt`` under the data root (:func:`recur_core.data.data_root` of ``root``).

    Raises:
        FileNotFoundError: the file is not there; one line naming ``recur data fetch uci-messages``.
    """
    return dataset_file(UCI_MESSAGES.name, UCI_MESSAGES.files[0].path, root, label=UCI_MESSAGES.name)


def load_uci(path: str | Path | None = None, root: str | Path | None = None) -> TemporalGraph:
    """UCI messages from ``path`` (a copy elsewhere, SNAP or KONECT layout), or from the data root when None."""
    return read_uci_messages(path or uci_path(root))
