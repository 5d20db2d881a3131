"""Elliptic: Bitcoin transactions labelled licit or illicit, for node classification.

Weber et al., "Anti-Money Laundering in Bitcoin: Experimenting with Graph Convolutional
Networks for Financial Forensics", KDD Workshop 2019; data on Kaggle as
``elliptic_bitcoin_dataset``. Three CSVs in one folder:

- ``elliptic_txs_features.csv``, no header: ``txId, time step (1..49), 165 features``;
- ``elliptic_txs_classes.csv``, header ``txId,class``: class ``1`` (illicit), ``2`` (licit) or ``unknown``;
- ``elliptic_txs_edgelist.csv``, header ``txId1,txId2``: payment flows between transactions.

Processing, as the official EvolveGCN ``elliptic_construction.md`` and loader: transactions are
numbered by their line in the features file, time steps count from 0, illicit is class 1, licit
class 0 and unknown -1; an edge belongs to the time step of its transactions (which must agree)
and is used in both directions. The node features are the 165 columns after the time step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recur_core.data import dataset_dir
from recur_graph.data.catalogue import ELLIPTIC
from recur_graph.data.snapshots import TemporalGraph
from recur_graph.data.tables import MAX_NODE_ID, read_text

__all__ = ["ELLIPTIC_FILES", "elliptic_dir", "load_elliptic", "read_elliptic"]

ELLIPTIC_FILES = {
    "features": "elliptic_txs_features.csv",
    "classes": "elliptic_txs_classes.csv",
    "edges": "elliptic_txs_edgelist.csv",
}
_CLASSES = {"1": 1, "2": 0, "unknown": -1}


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: not found. The Elliptic folder needs {', '.join(ELLIPTIC_FILES.values())} "
            "(the Kaggle elliptic_bitcoin_dataset, unchanged)"
        )
    return [
        (n, [f.strip() for f in line.split(",")])
        for n, line in enumerate(read_text(path).splitlines(), 1)
        if line.strip()
    ]


def _tx_id(path: Path, line: int, field: str) -> int:
    if not field.isdigit() or int(field) > MAX_NODE_ID:
        raise ValueError(
            f"{path}, line {line}: transaction id {field!r} does not fit: ids are integers 0..{MAX_NODE_ID}"
        )
    return int(field)


def _header(path: Path, lines: list[tuple[int, list[str]]], expected: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    if not lines or tuple(lines[0][1]) != expected:
        found = ",".join(lines[0][1]) if lines else "(empty file)"
        raise ValueError(f"{path}, line 1: expected the header {','.join(expected)}, found {found}")
    return lines[1:]


def read_elliptic(folder: str | Path) -> TemporalGraph:
    """Read the three Elliptic CSVs from ``folder``.

    Raises:
        FileNotFoundError: a file is missing (the message lists the three).
        ValueError: with file and line, for a wrong header or number of columns, a non-numeric
            feature or time step, an unknown class, a transaction id that does not fit or is
            not in the features file, or an edge between two time steps.
    """
    folder = Path(folder)
    paths = {key: folder / name for key, name in ELLIPTIC_FILES.items()}

    feature_lines = _lines(paths["features"])
    if not feature_lines:
        raise ValueError(f"{paths['features']}: no data lines")
    width = len(feature_lines[0][1])
    if width < 3:
        raise ValueError(f"{paths['features']}, line 1: expected txId, time step and features, found {width} columns")
    index: dict[int, int] = {}
    values = np.empty((len(feature_lines), width - 1))
    for row, (line, fields) in enumerate(feature_lines):
        if len(fields) != width:
            raise ValueError(
                f"{paths['features']}, line {line}: expected {width} columns like line 1, found {len(fields)}"
            )
        tx = _tx_id(paths["features"], line, fields[0])
        if tx in index:
            raise ValueError(f"{paths['features']}, line {line}: transaction {tx} is listed twice")
        index[tx] = row
        try:
            values[row] = [float(f) for f in fields[1:]]
        except ValueError:
            column = next(i for i, f in enumerate(fields) if i > 0 and not _is_float(f))
            what = "time step" if column == 1 else f"feature (column {column + 1})"
            raise ValueError(f"{paths['features']}, line {line}: {what} {fields[column]!r} is not a number") from None
    steps = values[:, 0]
    if (steps != np.round(steps)).any() or steps.min() < 1:
        row = int(np.flatnonzero((steps != np.round(steps)) | (steps < 1))[0])
        raise ValueError(
            f"{paths['features']}, line {feature_lines[row][0]}: time step {steps[row]} is not an integer from 1"
        )
    node_time = steps.astype(np.int64) - 1

    labels = np.full(len(index), -1, dtype=np.int64)
    for line, fields in _header(paths["classes"], _lines(paths["classes"]), ("txId", "class")):
        if len(fields) != 2:
            raise ValueError(f"{paths['classes']}, line {line}: expected 2 columns (txId,class), found {len(fields)}")
        row = _known(paths["classes"], line, _tx_id(paths["classes"], line, fields[0]), index)
        if fields[1] not in _CLASSES:
            raise ValueError(f"{paths['classes']}, line {line}: class {fields[1]!r} is not 1, 2 or unknown")
        labels[row] = _CLASSES[fields[1]]

    edges = []
    for line, fields in _header(paths["edges"], _lines(paths["edges"]), ("txId1", "txId2")):
        if len(fields) != 2:
            raise ValueError(f"{paths['edges']}, line {line}: expected 2 columns (txId1,txId2), found {len(fields)}")
        a, b = (_known(paths["edges"], line, _tx_id(paths["edges"], line, f), index) for f in fields)
        if node_time[a] != node_time[b]:
            raise ValueError(
                f"{paths['edges']}, line {line}: transactions {fields[0]} and {fields[1]} are in different "
                f"time steps ({node_time[a] + 1} and {node_time[b] + 1})"
            )
        edges.append((a, b))
    pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    return TemporalGraph.from_events(
        num_nodes=len(index),
        source_ids=pairs[:, 0],
        target_ids=pairs[:, 1],
        snapshot=node_time[pairs[:, 0]],
        symmetric=True,
        num_snapshots=int(node_time.max()) + 1,
        node_features=torch.from_numpy(values[:, 1:]).float(),
        node_label=torch.from_numpy(labels),
        node_time=torch.from_numpy(node_time),
        source=str(folder),
    )


def elliptic_dir(root: str | Path | None = None) -> Path:
    """The Kaggle ``elliptic_bitcoin_dataset/`` folder under the data root (:func:`recur_core.data.data_root`).

    Raises:
        FileNotFoundError: a file of the three is not there; one line saying how to download them by
            hand (Kaggle needs an account, so ``recur data fetch elliptic`` cannot).
    """
    return dataset_dir(ELLIPTIC.name, root, label=ELLIPTIC.name)


def load_elliptic(folder: str | Path | None = None, root: str | Path | None = None) -> TemporalGraph:
    """Elliptic from ``folder`` (a copy elsewhere), or from the data root when None."""
    return read_elliptic(folder or elliptic_dir(root))


def _is_float(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _known(path: Path, line: int, tx: int, index: dict[int, int]) -> int:
    if tx not in index:
        raise ValueError(f"{path}, line {line}: transaction {tx} is not in {ELLIPTIC_FILES['features']}")
    return index[tx]
