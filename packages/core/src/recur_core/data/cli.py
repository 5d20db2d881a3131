"""``recur data list | fetch NAME | verify [NAME]``: see, get and check the real datasets under the data root.

Hooked into the ``recur`` umbrella command as its ``data`` subcommand. User errors (an unknown
dataset, a manual-only dataset, a checksum mismatch, a network failure) end as one line
``recur: error: <message>`` with exit code 2; ``RECUR_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys

from recur_core.data.catalogue import get_dataset, list_datasets
from recur_core.data.fetch import MISMATCH, DataFetchError, fetch_dataset, verify_dataset
from recur_core.data.root import data_root, dataset_status

__all__ = ["add_data_command", "run_data_command"]

_ROOT_HELP = "data root (default: $RECUR_DATA, else $XDG_CACHE_HOME/recur/data, else ~/.cache/recur/data)"


def add_data_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data`` with its ``list``, ``fetch`` and ``verify`` actions to the umbrella's subparsers."""
    data = subparsers.add_parser("data", help="list, fetch and verify the real datasets under the data root")
    actions = data.add_subparsers(dest="data_command", required=True)
    listing = actions.add_parser("list", help="every dataset: present / partial / missing, folder, size, licence")
    listing.add_argument("--root", default=None, help=_ROOT_HELP)
    fetch = actions.add_parser("fetch", help="download a dataset from its official URLs and check its sha256")
    fetch.add_argument("name", help="the dataset's name, as 'recur data list' shows it")
    fetch.add_argument("--root", default=None, help=_ROOT_HELP)
    verify = actions.add_parser("verify", help="compare the sha256 of every present file with the catalogue")
    verify.add_argument("name", nargs="?", default=None, help="one dataset (default: all)")
    verify.add_argument("--root", default=None, help=_ROOT_HELP)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _table(rows: list[tuple[str, ...]]) -> None:
    """Print rows as left-aligned columns, the last one unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip())


def _list(root: str | None) -> int:
    print(f"data root: {data_root(root)}")
    rows = [("name", "state", "size", "licence", "folder")]
    for name in list_datasets():
        spec = get_dataset(name)
        state, folder = dataset_status(name, root)
        if spec.size_complete:
            size = _megabytes(spec.known_size)
        else:
            size = f">={_megabytes(spec.known_size)}" if spec.known_size else "?"
        rows.append((name, state, size, spec.licence, str(folder)))
    _table(rows)
    return 0


def _fetch(name: str, root: str | None) -> int:
    folder = fetch_dataset(name, root, progress=sys.stderr.isatty(), log=print)
    print(f"dataset {name!r} is in {folder}")
    return 0


def _verify(name: str | None, root: str | None) -> int:
    names = [name] if name else list_datasets()
    rows = [("name", "file", "verdict")]
    mismatches = []
    for dataset in names:
        folder = get_dataset(dataset).folder
        for path, verdict in verify_dataset(dataset, root):
            rows.append((dataset, f"{folder}/{path}", verdict))
            if verdict == MISMATCH:
                mismatches.append(f"{folder}/{path}")
    _table(rows)
    if mismatches:
        print(f"recur: {len(mismatches)} file(s) differ from the catalogue: {', '.join(mismatches)}", file=sys.stderr)
        return 1
    return 0


def run_data_command(args: argparse.Namespace) -> int:
    """Run the parsed ``recur data`` action; returns the exit code (0 ok, 1 verify mismatch, 2 user error)."""
    try:
        if args.data_command == "list":
            return _list(args.root)
        if args.data_command == "fetch":
            return _fetch(args.name, args.root)
        return _verify(args.name, args.root)
    except BrokenPipeError:
        # the reader stopped early (`recur data list | head`): the caller ends quietly
        raise
    except (DataFetchError, ValueError, OSError) as err:
        if os.environ.get("RECUR_DEBUG") == "1":
            raise
        print(f"recur: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recur: interrupted; the same fetch resumes the download", file=sys.stderr)
        return 130
