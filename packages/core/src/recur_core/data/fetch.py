"""Download datasets from their official URLs and check them against the catalogue.

A dataset's folder only ever receives complete, checked files: bytes in flight go to
``<root>/.partial/<name>/<path>.part``; once the download is complete its sha256 (and size) are
checked, a gzip-served file is decompressed and an archive unpacked (also under ``.partial``), and
only then is each file moved into place with an atomic ``os.replace``. An interrupted download
keeps its ``.part`` file, and the next fetch resumes it with an HTTP ``Range`` request (starting
afresh when the server answers 200). A failed check deletes the download.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from recur_core.data.catalogue import DataArchive, DataFile, DatasetSpec, get_dataset
from recur_core.data.root import data_root

__all__ = ["MISMATCH", "MISSING", "OK", "UNCHECKED", "DataFetchError", "fetch_dataset", "sha256_of", "verify_dataset"]

OK = "ok"
MISMATCH = "MISMATCH"
MISSING = "missing"
UNCHECKED = "present (no checksum)"

PARTIAL_FOLDER = ".partial"
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60
_USER_AGENT = "recur-data/0.1 (python urllib)"


class DataFetchError(RuntimeError):
    """A download or a check failed; the one-line message names the file and what to do next."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _verdict(expected_sha256: str | None, expected_size: int | None, path: Path) -> tuple[str, str | None]:
    """(``ok`` / ``MISMATCH`` / ``present (no checksum)``, the actual sha256 when one was expected)."""
    if expected_size is not None and path.stat().st_size != expected_size:
        return MISMATCH, None
    if expected_sha256 is None:
        return UNCHECKED, None
    actual = sha256_of(path)
    return (OK if actual == expected_sha256 else MISMATCH), actual


def _mismatch(what: str, expected_sha256: str | None, expected_size: int | None, path: Path, actual: str | None) -> str:
    if actual is not None:
        return f"sha256 mismatch for {what}: expected {expected_sha256}, got {actual}"
    return f"size mismatch for {what}: expected {expected_size} bytes, got {path.stat().st_size}"


def verify_dataset(name: str, root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """Check every present file of dataset ``name`` against the catalogue.

    Returns:
        ``(path inside the dataset folder, verdict)`` for every catalogue path, the verdict one of
        ``ok``, ``MISMATCH``, ``missing`` and ``present (no checksum)`` (archive members have no
        checksum of their own).
    """
    spec = get_dataset(name)
    folder = data_root(root) / spec.folder
    results = []
    for item in spec.files:
        path = folder / item.path
        results.append((item.path, _verdict(item.sha256, item.size, path)[0] if path.is_file() else MISSING))
    for archive in spec.archives:
        results.extend((m, UNCHECKED if (folder / m).exists() else MISSING) for m in archive.members)
    return results


class _NoProgress:
    """Stands in for a tqdm bar when no terminal is watching."""

    def update(self, _: int) -> None:
        """No bar to advance."""

    def close(self) -> None:
        """No bar to close."""


def _progress_bar(enabled: bool, total: int | None, initial: int, label: str):
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False)


def _content_range_start(response: http.client.HTTPResponse) -> int | None:
    """The first byte of a 206 answer (``Content-Range: bytes 100-199/200``), None when unreadable."""
    value = response.headers.get("Content-Range", "")
    unit, _, rest = value.partition(" ")
    start = rest.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _download(url: str, part: Path, progress: bool, label: str) -> None:
    """Download ``url`` into ``part``, resuming the bytes already there when the server allows it.

    Raises:
        DataFetchError: the server refused, the network failed or the connection closed before
            every byte arrived; what did arrive stays in ``part`` for the next fetch to resume.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        # 416: the partial file already holds every byte (a fetch stopped between download and check)
        if err.code == 416 and offset:
            return
        raise DataFetchError(f"could not download {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        raise DataFetchError(f"could not download {url}: {reason}") from None
    with response:
        resumed = response.status == 206
        if resumed and _content_range_start(response) != offset:
            part.unlink()
            raise DataFetchError(
                f"could not resume {url}: the server sent bytes that do not start at {offset}; "
                "the partial download was deleted, run the fetch again"
            )
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length", "")
        expected = int(length) if length.isdigit() else None
        received = 0
        bar = _progress_bar(progress, None if expected is None else offset + expected, offset, label)
        try:
            with open(part, "ab" if resumed else "wb") as out:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as err:
            raise DataFetchError(
                f"download of {url} failed after {offset + received} bytes ({err}); run the fetch again to resume"
            ) from None
        finally:
            bar.close()
    if expected is not None and received < expected:
        raise DataFetchError(
            f"download of {url} stopped after {offset + received} of {offset + expected} bytes; "
            "run the fetch again to resume"
        )


def _gunzip(source: Path, target: Path) -> None:
    with gzip.open(source, "rb") as packed, open(target, "wb") as out:
        shutil.copyfileobj(packed, out, _CHUNK_BYTES)


def _fetch_file(spec: DatasetSpec, item: DataFile, folder: Path, staging: Path, progress: bool) -> str:
    """Download, decompress and check one file, then move it into ``folder``; returns the verdict."""
    part = staging / f"{item.path}.part"
    what = f"{spec.folder}/{item.path} from {item.url}"
    _download(item.url, part, progress, item.path)
    ready = part
    if item.compression == "gzip":
        ready = staging / f"{item.path}.unpacked"
        try:
            _gunzip(part, ready)
        except (OSError, EOFError, zlib.error) as err:
            part.unlink()
            ready.unlink(missing_ok=True)
            raise DataFetchError(f"{what} is not a complete gzip file ({err}); the download was deleted") from None
    verdict, actual = _verdict(item.sha256, item.size, ready)
    if verdict == MISMATCH:
        message = _mismatch(what, item.sha256, item.size, ready, actual)
        part.unlink(missing_ok=True)
        ready.unlink(missing_ok=True)
        raise DataFetchError(f"{message}; the download was deleted")
    target = folder / item.path
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(ready, target)
    part.unlink(missing_ok=True)
    return verdict


def _unpack(archive: Path, into: Path, what: str) -> None:
    """Extract a zip or tar archive into ``into``; members that would land outside it are refused."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as packed:
                # ZipFile.extractall drops '..' and leading '/' from member names, keeping them inside
                packed.extractall(into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as packed:
                packed.extractall(into, filter="data")
        else:
            raise DataFetchError(f"{what} is neither a zip nor a tar archive; the download was deleted")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise DataFetchError(f"{what} could not be unpacked ({err}); the download was deleted") from None


def _fetch_archive(spec: DatasetSpec, archive: DataArchive, folder: Path, staging: Path, progress: bool) -> str:
    """Download and check one archive, unpack it under ``staging`` and move its files into ``folder``."""
    archive_name = PurePosixPath(urlsplit(archive.url).path).name or "archive"
    part = staging / f"{archive_name}.part"
    unpacked = staging / f"{archive_name}.unpacked"
    what = f"archive {archive.url}"
    _download(archive.url, part, progress, archive_name)
    try:
        verdict, actual = _verdict(archive.sha256, archive.size, part)
        if verdict == MISMATCH:
            raise DataFetchError(
                f"{_mismatch(what, archive.sha256, archive.size, part, actual)}; the download was deleted"
            )
        shutil.rmtree(unpacked, ignore_errors=True)
        _unpack(part, unpacked, what)
        absent = [m for m in archive.members if not (unpacked / m).exists()]
        if absent:
            raise DataFetchError(f"{what} does not contain {', '.join(absent)}; the download was deleted")
        for source in sorted(p for p in unpacked.rglob("*") if not p.is_dir()):
            target = folder / source.relative_to(unpacked)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(unpacked, ignore_errors=True)
    return verdict


def _remove_empty_folders(top: Path) -> None:
    """Remove ``top`` and the folders under it when they hold no file."""
    if not top.is_dir():
        return
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(top.iterdir()):
        top.rmdir()


def fetch_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Download every missing file of dataset ``name`` into ``data_root(root)/<folder>``.

    Present files are checked, not downloaded again. Files without a URL are left for the end:
    when any is missing, the error gives the dataset's instructions.

    Args:
        name: the catalogue name.
        root: the data root; default :func:`data_root`'s choice.
        progress: show a tqdm bar per download (for a terminal).
        log: called with one line per file (``ETT-small/ETTh1.csv: fetched, ok``).

    Returns:
        the dataset's folder.

    Raises:
        DataFetchError: a network failure, a checksum or size mismatch (the message names the file,
            the expected and the actual sha256), a present file that differs from the catalogue, or a
            file that must be downloaded by hand.
        ValueError: ``name`` is not in the catalogue.
    """
    spec = get_dataset(name)
    say = log or (lambda line: None)
    root_path = data_root(root)
    folder = root_path / spec.folder
    staging = root_path / PARTIAL_FOLDER / spec.name
    by_hand: list[str] = []
    try:
        for item in spec.files:
            target = folder / item.path
            shown = f"{spec.folder}/{item.path}"
            if target.is_file():
                verdict, actual = _verdict(item.sha256, item.size, target)
                if verdict == MISMATCH:
                    raise DataFetchError(
                        f"{_mismatch(shown, item.sha256, item.size, target, actual)}; the file is already there: "
                        f"move it away and run 'recur data fetch {spec.name}' again"
                    )
                say(f"{shown}: present, {verdict}")
            elif item.url is None:
                by_hand.append(item.path)
            else:
                say(f"{shown}: fetched, {_fetch_file(spec, item, folder, staging, progress)}")
        for archive in spec.archives:
            missing = [m for m in archive.members if not (folder / m).exists()]
            if not missing:
                say(f"{spec.folder}: {len(archive.members)} file(s) of {archive.url or 'a manual archive'} present")
            elif archive.url is None:
                by_hand.extend(missing)
            else:
                verdict = _fetch_archive(spec, archive, folder, staging, progress)
                say(f"{spec.folder}: fetched and unpacked {archive.url}, {verdict}")
    finally:
        _remove_empty_folders(staging)
        _remove_empty_folders(root_path / PARTIAL_FOLDER)
    if by_hand:
        raise DataFetchError(
            f"dataset {spec.name!r} must be downloaded by hand ({', '.join(by_hand)} missing under {folder}): "
            f"{spec.instructions}"
        )
    return folder
