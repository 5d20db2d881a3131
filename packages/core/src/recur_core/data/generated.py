"""Write a generated dataset folder once, atomically, keyed by the generator's options.

The members' generators of embedded datasets (videos, caption scenes, roads, remote-sensing tiles, the
espeak-ng speech corpus) write their files in the real dataset's layout through :func:`write_once`: into
a hidden temporary folder beside the target, then renamed into place with ``generated.json`` (the
options) inside. A folder whose ``generated.json`` equals the options is complete and reused; a second
process that finishes the same folder meanwhile is not an error. By default they write under
:func:`generated_cache`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "generated_cache", "write_once"]

MARKER = "generated.json"


def generated_cache() -> Path:
    """Where generated datasets are written once and reused: ``$XDG_CACHE_HOME/recur/generated`` or
    ``~/.cache/recur/generated`` (never the data root, which may be read-only)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "recur" / "generated"


def _complete(folder: Path, options: dict[str, Any]) -> bool:
    marker = folder / MARKER
    return marker.is_file() and json.loads(marker.read_text()) == options


def write_once(folder: str | Path, options: dict[str, Any], writer: str, write: Callable[[Path], None]) -> Path:
    """``folder``, written by ``write(tmp)`` unless it already holds a complete set with these ``options``.

    Args:
        folder: the dataset folder.
        options: the generator's arguments (JSON-serialisable); stored as ``generated.json``.
        writer: the generator's name, for the error message.
        write: fills the temporary folder it is given (which exists and is empty).

    Raises:
        ValueError: ``folder`` exists, is not empty and was not written with these options.
    """
    folder = Path(folder)
    if _complete(folder, options):
        return folder
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(
            f"{folder} is not empty and was not written by {writer} with these arguments; "
            "choose an empty folder or delete it"
        )
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        (tmp / MARKER).write_text(json.dumps(options, indent=1) + "\n")
        if _complete(folder, options):
            # another process (a second run started at the same time) wrote the same folder meanwhile
            return folder
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
