"""Where the real datasets live: ``$RECUR_SHARED_DATA``, by default ``<repo>/../shared/data``.

The files are read in place and never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_data_dir", "shared_data_path"]

# packages/graph/src/recur_graph/data/paths.py -> the checkout's root
_REPO = Path(__file__).resolve().parents[5]


def shared_data_dir() -> Path:
    """``$RECUR_SHARED_DATA`` when set, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("RECUR_SHARED_DATA", _REPO.parent / "shared" / "data"))


def shared_data_path(relative: str) -> Path:
    """A file under the shared data folder; FileNotFoundError says where it should be when it is not there."""
    path = shared_data_dir() / relative
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. Put the dataset at that path under the shared data folder "
            f"({shared_data_dir()}; set RECUR_SHARED_DATA to move it), or pass the file's path "
            f"(--data.path) explicitly."
        )
    return path
