"""Whitespace-separated numeric text, as the point-cloud benchmarks store points and labels, parsed fast.

:func:`parse_rows` reads with numpy's C parser; only when that fails does it walk the lines to name
the first bad one, so a corrupt file ends in one line that says where.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

__all__ = ["parse_rows"]


def _first_bad_line(lines: list[str], columns: int, dtype: type) -> tuple[int, str]:
    """The 0-based index and content of the first non-blank line that is not ``columns`` values of ``dtype``."""
    for index, line in enumerate(lines):
        fields = line.split()
        if not fields:
            continue
        try:
            np.array(fields, dtype=dtype)
        except ValueError:
            return index, line
        if len(fields) != columns:
            return index, line
    return 0, lines[0] if lines else ""


def parse_rows(
    text: str | list[str], columns: int, dtype: type, path: Path, what: str, first_line: int = 1
) -> np.ndarray:
    """``[n, columns]`` values of ``dtype`` from ``text`` (one string, or its lines); blank lines are skipped.

    Args:
        text: the file's text, or a run of its lines.
        columns: values per line.
        dtype: ``np.float64`` or ``np.int64``.
        path, what, first_line: for the message: the file, what a line should hold ("6 numbers (x y z r g b)")
            and the 1-based number of the first line of ``text`` in the file.

    Raises:
        ValueError: a line is not ``columns`` values of ``dtype`` (the message names it).
    """
    try:
        with warnings.catch_warnings():
            # only blank lines: numpy warns, and the run holds no row
            warnings.simplefilter("ignore", UserWarning)
            rows = np.loadtxt(io.StringIO(text) if isinstance(text, str) else text, dtype=dtype, ndmin=2)
        if rows.size == 0:
            return np.zeros((0, columns), dtype=dtype)
        if rows.shape[1] == columns:
            return rows
    except ValueError:
        pass
    lines = text.splitlines() if isinstance(text, str) else text
    index, line = _first_bad_line(lines, columns, dtype)
    raise ValueError(
        f"{path} line {first_line + index}: {line.strip()!r} is not {what}; "
        "the file is truncated or corrupt, unpack it again from the dataset's archive"
    )
