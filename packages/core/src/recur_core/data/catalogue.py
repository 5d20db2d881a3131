"""The dataset catalogue: what each real dataset is, where its files come from and how to check them.

Every real dataset a member reads is described once by a :class:`DatasetSpec`: the folder it
occupies under the data root (laid out exactly as the official distribution is), its files with
their official download URLs and checksums, its licence and citation. ``recur data`` fetches and
verifies datasets from these entries, and loaders find their files through them.

Members add entries through the ``recur.datasets`` entry point group: its value is a module whose
import calls :func:`register_dataset`. The entry points are loaded on the first lookup, so
importing this module stays cheap and needs neither torch nor any member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import PurePosixPath
from typing import Literal

__all__ = ["DataArchive", "DataFile", "DatasetSpec", "get_dataset", "list_datasets", "register_dataset"]

ENTRY_POINT_GROUP = "recur.datasets"

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")

_CATALOGUE: dict[str, DatasetSpec] = {}
_ENTRY_POINTS_LOADED = False


def _check_relative(path: str, what: str) -> None:
    """Paths in the catalogue stay inside the dataset's folder, written with forward slashes."""
    parts = PurePosixPath(path).parts
    if not path or "\\" in path or PurePosixPath(path).is_absolute() or ".." in parts or "." in parts:
        raise ValueError(f"{what} {path!r} must be a relative path inside the dataset folder, with '/' separators")


def _check_checksum(sha256: str | None, size: int | None, what: str) -> None:
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise ValueError(f"{what}: sha256 {sha256!r} is not 64 lower-case hex digits")
    if size is not None and size < 0:
        raise ValueError(f"{what}: size {size} is negative")


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, downloaded on its own.

    Args:
        path: where the file sits inside the dataset's folder, as the official distribution lays
            it out and as the loaders read it (``ETTh1.csv``, ``training/calib/000000.txt``).
        url: the official download URL, or None when the file must be downloaded by hand.
        sha256: checksum of the file as stored (after decompression); None where unknown.
        size: bytes of the file as stored; None where unknown.
        compression: ``"gzip"`` when the URL serves the file gzipped and it is stored
            decompressed (SNAP's ``CollegeMsg.txt.gz`` stored as ``CollegeMsg.txt``).
    """

    path: str
    url: str | None
    sha256: str | None
    size: int | None
    compression: Literal["gzip"] | None = None

    def __post_init__(self) -> None:
        _check_relative(self.path, "data file path")
        _check_checksum(self.sha256, self.size, self.path)
        if self.compression not in (None, "gzip"):
            raise ValueError(f"{self.path}: compression {self.compression!r} is not supported; use None or 'gzip'")


@dataclass(frozen=True)
class DataArchive:
    """A zip or tar(.gz/.bz2/.xz) file that unpacks into the dataset's folder.

    Args:
        url: the official download URL, or None when it must be downloaded by hand.
        sha256: checksum of the archive itself; None where unknown.
        size: bytes of the archive; None where unknown.
        members: paths (inside the dataset's folder) the archive must produce; their presence
            tells whether the archive still has to be fetched.
    """

    url: str | None
    sha256: str | None
    size: int | None
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        what = f"archive {self.url or '(manual download)'}"
        if isinstance(self.members, str) or not self.members:
            raise ValueError(f"{what}: members must be a non-empty tuple of paths")
        for member in self.members:
            _check_relative(member, f"{what} member")
        _check_checksum(self.sha256, self.size, what)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """A real dataset: its folder under the data root, its files and archives, and where it comes from.

    Args:
        name: the catalogue key, used by ``recur data fetch NAME`` (lower case: ``ett``, ``bitcoin-otc``).
        folder: the dataset's folder under the data root, named as the official distribution names it.
        files: files downloaded one by one.
        archives: archives that unpack into ``folder``.
        description: one line saying what the data is.
        homepage: the official page of the data.
        licence: the data's licence as its publisher states it.
        citation: the work to cite when using the data.
        instructions: one line saying how to get the data by hand; required when any url is None.
    """

    name: str
    folder: str
    files: tuple[DataFile, ...] = ()
    archives: tuple[DataArchive, ...] = ()
    description: str
    homepage: str
    licence: str
    citation: str
    instructions: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"dataset name {self.name!r} must be lower case letters, digits, '.', '_' or '-'")
        _check_relative(self.folder, f"dataset {self.name!r}: folder")
        if not self.files and not self.archives:
            raise ValueError(f"dataset {self.name!r} has neither files nor archives")
        paths = self.paths
        if len(set(paths)) != len(paths):
            raise ValueError(f"dataset {self.name!r} lists a path twice: {', '.join(paths)}")
        if self.manual and not self.instructions:
            raise ValueError(f"dataset {self.name!r} has an item without url, so it needs instructions")
        if "\n" in self.instructions:
            raise ValueError(f"dataset {self.name!r}: instructions must be one line (they end an error message)")

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the dataset's folder holds when the dataset is complete."""
        return tuple(f.path for f in self.files) + tuple(m for a in self.archives for m in a.members)

    @property
    def manual(self) -> bool:
        """True when some file or archive has no URL and must be downloaded by hand."""
        return any(item.url is None for item in (*self.files, *self.archives))

    @property
    def known_size(self) -> int:
        """Bytes of the files and archives whose size is recorded."""
        return sum(item.size or 0 for item in (*self.files, *self.archives))

    @property
    def size_complete(self) -> bool:
        """True when every file and archive has a recorded size, so :attr:`known_size` is the total."""
        return all(item.size is not None for item in (*self.files, *self.archives))


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the catalogue; a second dataset with the same name is an error."""
    if spec.name in _CATALOGUE:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    _CATALOGUE[spec.name] = spec
    return spec


def _load_entry_points() -> None:
    """Import every module of the ``recur.datasets`` group once; each registers its datasets."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    # set first: a catalogue module that looks a dataset up while it is imported must not recurse
    _ENTRY_POINTS_LOADED = True
    try:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            ep.load()
    except BaseException:
        _ENTRY_POINTS_LOADED = False
        raise


def get_dataset(name: str) -> DatasetSpec:
    """The catalogue entry called ``name``; an unknown name is a ValueError listing the valid ones."""
    _load_entry_points()
    if name not in _CATALOGUE:
        valid = ", ".join(sorted(_CATALOGUE)) or "(none registered)"
        raise ValueError(f"unknown dataset {name!r}; valid names: {valid}")
    return _CATALOGUE[name]


def list_datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    _load_entry_points()
    return sorted(_CATALOGUE)
