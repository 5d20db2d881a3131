"""S3DIS (Armeni et al., CVPR 2016) in its on-disk format, ``Stanford3dDataset_v1.2_Aligned_Version``.

Layout (``<data root>/Stanford3dDataset_v1.2_Aligned_Version``)::

    Area_N/<room>/Annotations/<class>_<i>.txt   one annotated object: ``x y z r g b`` per line
                                                (metres, three decimals; colours 0-255)
    Area_N/<room>/<room>.txt                    the room's points, the annotation files concatenated

A room's points and labels are its annotation files read in name order, each file's label the class
named by its prefix (``chair_3.txt`` -> ``chair``), as PointNet's ``indoor3d_util.collect_point_label``
and the loaders built on it read them. Three quirks of the real archive are handled as those loaders do:

- a name outside the 13 classes (``stairs_1.txt``, in some rooms) is labelled ``clutter``;
- ``Area_5/hallway_6/Annotations/ceiling_1.txt`` holds a NUL byte between two colour values at line
  180389 (``185\\x00187``); NUL bytes are read as spaces, the fix mmdetection3d's
  ``collect_indoor3d_data.py`` and dgcnn.pytorch apply to the file;
- ``Area_5/office_36/Annotations/wall_3 (1).txt`` is a copy of ``wall_3.txt``; a file named
  ``<x> (1).txt`` beside ``<x>.txt`` is skipped, as loaders that delete the copy do.

The room files (``<room>.txt``) are not read: the annotations hold the same points with their
labels (and one room file, ``Area_3/hallway_2/hallway_2.txt``, holds a stray byte inside a number).

Shapes: a room's ``points`` ``[N, 6]`` float32 (x y z r g b, colours as in the files, 0-255) and
``labels`` ``[N]`` int64 indices into :data:`S3DIS_CLASSES`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from recur_pointcloud.data._text import parse_rows

__all__ = ["S3DIS_CLASSES", "S3DISRooms", "annotation_files", "class_of", "read_annotation", "read_room"]

DATASET = "s3dis"
# the official order (the index of a class is its label everywhere, as in PointNet's class_names.txt)
S3DIS_CLASSES = (
    "ceiling",
    "floor",
    "wall",
    "beam",
    "column",
    "window",
    "door",
    "table",
    "chair",
    "sofa",
    "bookcase",
    "board",
    "clutter",
)
_COLUMNS = 6


def read_annotation(path: str | os.PathLike) -> np.ndarray:
    """One S3DIS annotation (or room) file as ``[n, 6]`` float32 (x y z r g b).

    NUL bytes are read as spaces (the one in ``Area_5/hallway_6/Annotations/ceiling_1.txt``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file holds no points, or a line is not 6 numbers (the message names the line).
    """
    path = Path(path)
    text = path.read_bytes().replace(b"\x00", b" ").decode("ascii", errors="replace")
    if not text.strip():
        raise ValueError(f"{path}: empty annotation file (no points); an S3DIS annotation holds x y z r g b lines")
    points = parse_rows(text, _COLUMNS, np.float64, path, "6 numbers (x y z r g b)")
    return points.astype(np.float32)


def annotation_files(room: Path) -> list[Path]:
    """The room's ``Annotations/*.txt`` in name order, without ``<x> (1).txt`` copies of ``<x>.txt``.

    Raises:
        FileNotFoundError: no ``Annotations`` folder, or no ``.txt`` file in it.
    """
    folder = room / "Annotations"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{room} has no Annotations folder; every S3DIS room holds Annotations/<class>_<i>.txt "
            "(use the Aligned_Version archive, unpacked whole)"
        )
    files = sorted(folder.glob("*.txt"))
    names = {path.name for path in files}
    files = [path for path in files if not (path.stem.endswith(" (1)") and f"{path.stem[:-4]}.txt" in names)]
    if not files:
        raise FileNotFoundError(f"{folder} holds no <class>_<i>.txt file; the room is incomplete")
    return files


def class_of(path: Path) -> int:
    """The label of an annotation file: its name's prefix before ``_``, ``clutter`` when not a class."""
    name = path.stem.split("_")[0]
    return S3DIS_CLASSES.index(name) if name in S3DIS_CLASSES else S3DIS_CLASSES.index("clutter")


def read_room(room: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A room folder's points ``[N, 6]`` float32 and labels ``[N]`` int64 from its annotation files."""
    files = annotation_files(Path(room))
    parts = [read_annotation(path) for path in files]
    labels = np.repeat([class_of(path) for path in files], [len(p) for p in parts]).astype(np.int64)
    return np.concatenate(parts), labels


class S3DISRooms(Dataset):
    """The rooms of some S3DIS areas, one item per room.

    Args:
        root: the folder holding ``Area_1`` ... (``Stanford3dDataset_v1.2_Aligned_Version``, or a
            synthetic set from :func:`~recur_pointcloud.data.synthetic_rooms.synthetic_rooms_root`);
            None: the ``s3dis`` dataset under the data root.
        areas: the area numbers to read (the usual split: train on 1-4 and 6, test on 5).
        cache_dir: where parsed rooms are kept as ``.npy`` (keyed by the annotation files' names,
            sizes and times) so that later epochs skip the text parsing; None: parse every time.
            A user folder such as ``~/.cache/recur/s3dis``, never the dataset's own folder.

    Item i is a dict: ``points`` ``[N, 6]`` float32 (x y z r g b, colours 0-255), ``labels`` ``[N]``
    int64 indices into :data:`S3DIS_CLASSES` and ``room`` (``"Area_1/office_3"``).

    Raises:
        DatasetNotFoundError: ``root`` None and no S3DIS under the data root (says how to get it).
        FileNotFoundError: an area folder is missing, an area holds no room, or a room has no
            annotation files.
        ValueError: no area given.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        areas: Sequence[int] = (1, 2, 3, 4, 6),
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.root = _s3dis_folder(root)
        if not areas:
            raise ValueError("areas is empty; give the area numbers to read, e.g. [1, 2, 3, 4, 6]")
        self.areas = tuple(int(area) for area in areas)
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self.rooms: list[str] = []
        for area in self.areas:
            folder = self.root / f"Area_{area}"
            if not folder.is_dir():
                present = sorted(p.name for p in self.root.glob("Area_*") if p.is_dir())
                raise FileNotFoundError(
                    f"no folder {folder} (present: {', '.join(present) or 'none'}); choose areas among those, "
                    "or unpack the whole Stanford3dDataset_v1.2_Aligned_Version.zip"
                )
            rooms = sorted(p.name for p in folder.iterdir() if p.is_dir())
            if not rooms:
                raise FileNotFoundError(f"{folder} holds no room folder; unpack the whole S3DIS archive")
            self.rooms += [f"Area_{area}/{room}" for room in rooms]
        self._files = {room: annotation_files(self.root / room) for room in self.rooms}

    def __len__(self) -> int:
        return len(self.rooms)

    def _cached(self, room: str) -> Path | None:
        if self.cache_dir is None:
            return None
        stats = [(path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in self._files[room]]
        digest = hashlib.sha256(repr((str(self.root / room), stats)).encode()).hexdigest()[:16]
        return self.cache_dir / f"{room.replace('/', '_')}-{digest}.npy"

    def __getitem__(self, index: int) -> dict:
        room = self.rooms[index]
        cached = self._cached(room)
        if cached is not None and cached.is_file():
            table = np.load(cached)
            points, labels = table[:, :_COLUMNS], table[:, _COLUMNS].astype(np.int64)
        else:
            points, labels = read_room(self.root / room)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                # written beside, then renamed: a reader in another worker never sees half a file
                partial = cached.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(partial, np.concatenate([points, labels[:, None].astype(np.float32)], axis=1))
                os.replace(partial, cached)
        return {
            "points": torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)),
            "labels": torch.from_numpy(labels),
            "room": room,
        }


def _s3dis_folder(root: str | os.PathLike | None) -> Path:
    """The S3DIS folder: ``root`` if given, else the catalogue's folder under the data root."""
    from recur_core.data import data_root, get_dataset
    from recur_core.data.root import DatasetNotFoundError, not_found_message

    if root is not None:
        folder = Path(root)
        if not folder.is_dir():
            raise FileNotFoundError(f"no folder {folder}; give the folder that holds Area_1 ... Area_6")
        return folder
    spec = get_dataset(DATASET)
    folder = data_root() / spec.folder
    if not any(folder.glob("Area_*")):
        raise DatasetNotFoundError(not_found_message(spec, DATASET, folder, manual=True))
    return folder
