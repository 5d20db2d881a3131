"""Where datasets live: the data root, each dataset's folder in it, and the one-line error when one is missing.

Loaders never read paths relative to the working directory or the checkout: they ask
:func:`dataset_file` or :func:`dataset_dir`, which look under :func:`data_root` and, when the data
is not there, raise :class:`DatasetNotFoundError` naming ``recur data fetch NAME`` (or the manual
download instructions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, NamedTuple

from recur_core.data.catalogue import DatasetSpec, get_dataset

__all__ = [
    "DatasetNotFoundError",
    "DatasetStatus",
    "data_root",
    "dataset_dir",
    "dataset_file",
    "dataset_status",
    "missing_paths",
    "not_found_message",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset (or one of its files) is not under the data root; the message says how to get it."""


class DataFileError(ValueError):
    """A data file that is there but cannot be read or is malformed (an undecodable video, a truncated image).

    Readers raise it whenever they find such a file, mid-run included: the CLI reports it as one line naming
    the file at any time, where a plain ``ValueError`` raised once batches run is taken for a bug.
    """


class DatasetStatus(NamedTuple):
    """How much of a dataset is under the data root, and the folder it is expected in."""

    state: Literal["present", "partial", "missing"]
    folder: Path


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds every dataset's folder, as an absolute path.

    An explicit ``root`` wins, then ``$RECUR_DATA``, then ``$XDG_CACHE_HOME/recur/data``, then
    ``~/.cache/recur/data``. Empty environment variables count as unset.
    """
    if root is not None:
        chosen = Path(root)
    elif os.environ.get("RECUR_DATA"):
        chosen = Path(os.environ["RECUR_DATA"])
    elif os.environ.get("XDG_CACHE_HOME"):
        chosen = Path(os.environ["XDG_CACHE_HOME"]) / "recur" / "data"
    else:
        chosen = Path.home() / ".cache" / "recur" / "data"
    return Path(os.path.abspath(chosen.expanduser()))


def missing_paths(spec: DatasetSpec, folder: Path) -> list[str]:
    """The catalogue paths of ``spec`` that are not in ``folder``."""
    return [path for path in spec.paths if not (folder / path).exists()]


def dataset_status(name: str, root: str | os.PathLike | None = None) -> DatasetStatus:
    """Whether all (``present``), some (``partial``) or none (``missing``) of a dataset's files are there."""
    spec = get_dataset(name)
    folder = data_root(root) / spec.folder
    missing = len(missing_paths(spec, folder))
    state = "present" if missing == 0 else "missing" if missing == len(spec.paths) else "partial"
    return DatasetStatus(state, folder)


def _needs_manual_download(spec: DatasetSpec, paths: list[str]) -> bool:
    """True when some of ``paths`` (catalogue paths of ``spec``) can only be downloaded by hand."""
    urls = {f.path: f.url for f in spec.files} | {m: a.url for a in spec.archives for m in a.members}
    return any(urls[path] is None for path in paths)


def not_found_message(spec: DatasetSpec, label: str, where: Path | str, manual: bool) -> str:
    """``dataset 'ETTh1' not found under /root/ETT-small: run 'recur data fetch ett' or set RECUR_DATA``.

    ``manual``: the missing part has no download URL, so the message gives the dataset's instructions.
    """
    how = spec.instructions if manual else f"run 'recur data fetch {spec.name}' or set RECUR_DATA"
    return f"dataset {label!r} not found under {where}: {how}"


def dataset_file(name: str, path: str, root: str | os.PathLike | None = None, label: str | None = None) -> Path:
    """``data_root(root)/<folder>/<path>`` for dataset ``name``, checked to exist.

    Args:
        name: the catalogue name (``ett``).
        path: the file inside the dataset's folder (``ETTh1.csv``).
        root: the data root; default :func:`data_root`'s choice.
        label: the name the user knows the file by, for the error (default ``path``).

    Raises:
        DatasetNotFoundError: the file is not there; one line naming ``recur data fetch NAME``,
            or the manual download instructions when the file has no URL.
        ValueError: ``name`` is not in the catalogue.
    """
    spec = get_dataset(name)
    folder = data_root(root) / spec.folder
    target = folder / path
    if not target.is_file():
        manual = _needs_manual_download(spec, [path]) if path in spec.paths else spec.manual
        raise DatasetNotFoundError(not_found_message(spec, label or path, folder, manual))
    return target


def dataset_dir(name: str, root: str | os.PathLike | None = None, label: str | None = None) -> Path:
    """``data_root(root)/<folder>`` for a dataset read as a whole folder, checked to be complete.

    Raises:
        DatasetNotFoundError: some file of the dataset is missing; the one-line message names the
            missing files when only some are, and says how to get them.
        ValueError: ``name`` is not in the catalogue.
    """
    spec = get_dataset(name)
    folder = data_root(root) / spec.folder
    missing = missing_paths(spec, folder)
    if missing:
        where = folder if len(missing) == len(spec.paths) else f"{folder} (missing {', '.join(missing)})"
        raise DatasetNotFoundError(not_found_message(spec, label or name, where, _needs_manual_download(spec, missing)))
    return folder
