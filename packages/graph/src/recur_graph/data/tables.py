"""Reading the numeric edge tables the graph datasets ship as, with errors that name file and line.

SNAP, KONECT and the EvolveGCN SBM files are all "one edge per line, a few numeric columns",
differing in separator, header and compression. :func:`read_table` reads any of them: gzip is
recognised by its magic bytes whatever the file is called, an optional header line (a first line
that is not numeric) is checked for its column count and skipped, and ``%`` comment lines
(KONECT) are skipped.
"""

from __future__ import annotations

import gzip
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MAX_NODE_ID", "read_table", "read_text"]

# ids are multiplied together when edges are keyed by (time, source, target); 2**31 keeps that in int64
MAX_NODE_ID = 2**31 - 1
_GZIP_MAGIC = b"\x1f\x8b"


def read_text(path: Path) -> str:
    """The file's text, gunzipped when it starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file (byte {err.start}); expected a CSV or text edge list") from err


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def read_table(
    path: str | Path,
    columns: Sequence[str],
    separator: str | None = ",",
    id_columns: Sequence[str] = (),
    time_column: str | None = None,
    min_id: int = 0,
    what: str = "edge list",
) -> np.ndarray:
    """Read a numeric table and check every value.

    Args:
        path: the file (plain or gzipped text).
        columns: the expected column names, in order (used in messages and for the header check).
        separator: field separator; None splits on any whitespace.
        id_columns: columns that hold node ids: integers in ``min_id .. MAX_NODE_ID``.
        time_column: the time stamp column (named as such in messages).
        min_id: the smallest valid node id (1 for formats that count from 1).
        what: what the file holds, for the not-found message.

    Returns:
        [rows, len(columns)] float64 values.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: ``"<path>, line <n>: ..."`` for a wrong number of columns, a value that is not
            a number, a non-numeric time stamp, or a node id that does not fit.
    """
    path = Path(path)
    if not path.is_file():
        expected = (separator or " ").join(columns)
        raise FileNotFoundError(f"{path}: no such {what}; expected one line per edge with the columns {expected}")
    text = read_text(path)
    spec = _Spec(path, tuple(columns), separator, tuple(id_columns), time_column, min_id)
    # numpy's C parser reads a clean file; any doubt goes to the line-by-line check, which names the line
    values = _parse_fast(text, spec)
    if values is None or not _valid(values, spec):
        values = _parse_checked(text, spec)
    return values


@dataclass(frozen=True)
class _Spec:
    path: Path
    columns: tuple[str, ...]
    separator: str | None
    id_columns: tuple[str, ...]
    time_column: str | None
    min_id: int

    @property
    def expected(self) -> str:
        return (self.separator or " ").join(self.columns)


def _split(line: str, separator: str | None) -> list[str]:
    return [f.strip() for f in line.split(separator)] if separator else line.split()


def _parse_fast(text: str, spec: _Spec) -> np.ndarray | None:
    header = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("%"):
            if not any(_is_number(f) for f in _split(stripped, spec.separator)):
                header = number
            break
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            values = np.loadtxt(io.StringIO(text), delimiter=spec.separator, comments="%", skiprows=header, ndmin=2)
    except (ValueError, UserWarning):
        return None
    return values if values.shape[1:] == (len(spec.columns),) and len(values) else None


def _valid(values: np.ndarray, spec: _Spec) -> bool:
    for j, name in enumerate(spec.columns):
        column = values[:, j]
        if name == spec.time_column and not np.isfinite(column).all():
            return False
        if name in spec.id_columns and (_fractional(column).any() or _outside(column, spec.min_id).any()):
            return False
    return True


def _fractional(ids: np.ndarray) -> np.ndarray:
    return ~np.isfinite(ids) | (ids != np.round(ids))


def _outside(ids: np.ndarray, min_id: int) -> np.ndarray:
    return (ids < min_id) | (ids > MAX_NODE_ID)


def _parse_checked(text: str, spec: _Spec) -> np.ndarray:
    """Line-by-line parse that raises at the first bad line, naming it."""
    path, columns = spec.path, spec.columns
    lines, rows = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("%"):
            lines.append(number)
            rows.append(_split(stripped, spec.separator))
    if rows and len(rows[0]) == len(columns) and not any(_is_number(f) for f in rows[0]):
        # a header line: right number of columns, no numbers
        lines, rows = lines[1:], rows[1:]
    if not rows:
        raise ValueError(f"{path}: no data lines; expected one line per edge with the columns {spec.expected}")
    for number, fields in zip(lines, rows):
        if len(fields) != len(columns):
            raise ValueError(
                f"{path}, line {number}: expected {len(columns)} columns ({spec.expected}), found {len(fields)}: "
                f"{(spec.separator or ' ').join(fields)!r}"
            )
    for j, name in enumerate(columns):
        bad = next((i for i, fields in enumerate(rows) if not _is_number(fields[j])), None)
        if bad is not None:
            kind = "time stamp" if name == spec.time_column else name
            raise ValueError(f"{path}, line {lines[bad]}: {kind} {rows[bad][j]!r} is not a number")
    values = np.array(rows, dtype=np.float64)
    for j, name in enumerate(columns):
        column = values[:, j]
        if name == spec.time_column and not np.isfinite(column).all():
            bad = int(np.flatnonzero(~np.isfinite(column))[0])
            raise ValueError(f"{path}, line {lines[bad]}: time stamp {rows[bad][j]!r} is not a finite number")
        if name not in spec.id_columns:
            continue
        if _fractional(column).any():
            bad = int(np.flatnonzero(_fractional(column))[0])
            raise ValueError(f"{path}, line {lines[bad]}: {name} node id {rows[bad][j]!r} is not an integer")
        if _outside(column, spec.min_id).any():
            bad = int(np.flatnonzero(_outside(column, spec.min_id))[0])
            raise ValueError(
                f"{path}, line {lines[bad]}: {name} node id {rows[bad][j]!r} does not fit: "
                f"ids must lie in {spec.min_id}..{MAX_NODE_ID}"
            )
    return values
