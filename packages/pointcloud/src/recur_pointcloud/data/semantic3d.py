"""Semantic3D (Hackel et al., ISPRS Annals 2017), semantic-8, in its on-disk format.

A scan is two text files side by side (``<data root>/semantic3d``)::

    <scan>.txt      one point per line: x y z intensity r g b (metres; intensity -2048..2047; colours 0-255)
    <scan>.labels   one integer per line, the class of the same line's point: 0 unlabeled, 1-8 as
                    :data:`SEMANTIC3D_CLASSES` (the test scans have no .labels)

The scans are large (the benchmark holds over four billion labelled points), so a scan is read in
runs of ``chunk_rows`` lines from both files at once, and an optional voxel grid reduces each run as it
is read: every occupied voxel keeps the mean of its points (xyz, intensity, colour) and their majority
label (counting 0 like any class, ties to the smaller label), as the grid subsampling of KPConv and
RandLA-Net does; runs are merged voxel by voxel, so the result does not depend on ``chunk_rows``.

Shapes: ``points`` ``[N, 7]`` float32 (x y z intensity r g b) and ``labels`` ``[N]`` int64 in 0..8.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from recur_pointcloud.data._text import parse_rows
from recur_pointcloud.data.catalogue import SEMANTIC3D_SCANS

__all__ = ["SEMANTIC3D_CLASSES", "TRAINING_SCANS", "Semantic3DScans", "read_scan", "voxel_subsample"]

DATASET = "semantic3d"
# index = the label in the .labels files
SEMANTIC3D_CLASSES = (
    "unlabeled",
    "man-made terrain",
    "natural terrain",
    "high vegetation",
    "low vegetation",
    "buildings",
    "hard scape",
    "scanning artefacts",
    "cars",
)
# the semantic-8 training scans, named as their .txt and .labels files
TRAINING_SCANS = SEMANTIC3D_SCANS
_COLUMNS = 7
_CLASSES = len(SEMANTIC3D_CLASSES)


class _VoxelSums:
    """Per-voxel sums of point values, point counts and label counts, merged run by run.

    A voxel's key packs its integer (x, y, z) index into one int64, 21 bits an axis, so that
    sorting the keys sorts the voxels lexicographically.
    """

    def __init__(self, voxel_size: float) -> None:
        self.voxel_size = voxel_size
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def _keys(self, xyz: np.ndarray) -> np.ndarray:
        index = np.floor(xyz / self.voxel_size).astype(np.int64) + (1 << 20)
        if index.min() < 0 or index.max() >= 1 << 21:
            raise ValueError(
                f"voxel_size {self.voxel_size} is too small for the scan's extent (at most 2^20 voxels on each "
                "side of the origin per axis); choose a larger voxel_size"
            )
        return (index[:, 0] << 42) | (index[:, 1] << 21) | index[:, 2]

    @staticmethod
    def _sum_by_key(keys: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct keys ``[V]``, each row's voxel ``[n]`` and the column sums of ``table [n, K]`` per voxel."""
        voxels, inverse = np.unique(keys, return_inverse=True)
        summed = np.stack([np.bincount(inverse, column, minlength=len(voxels)) for column in table.T], 1)
        return voxels, inverse, summed

    def add(self, points: np.ndarray, labels: np.ndarray) -> None:
        # columns: the point values, then the point count (a column of ones), then the label counts
        voxels, inverse, sums = self._sum_by_key(self._keys(points[:, :3]), np.c_[points, np.ones(len(points))])
        votes = np.bincount(inverse * _CLASSES + labels, minlength=len(voxels) * _CLASSES).reshape(-1, _CLASSES)
        self.parts.append((voxels, np.concatenate([sums, votes], axis=1)))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Per voxel: the mean of its points ``[V, C]`` and its majority label ``[V]``."""
        keys, tables = (np.concatenate(part) for part in zip(*self.parts))
        _, _, table = self._sum_by_key(keys, tables)
        sums, count, votes = table[:, : -_CLASSES - 1], table[:, -_CLASSES - 1 : -_CLASSES], table[:, -_CLASSES:]
        return sums / count, votes.argmax(1)


def voxel_subsample(points: np.ndarray, labels: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """One point per occupied voxel of side ``voxel_size``: the mean of its points ``[V, C]`` and the
    majority of their labels ``[V]`` (ties to the smaller label). Voxels come in lexicographic order of
    their integer (x, y, z) index."""
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0, got {voxel_size}")
    grid = _VoxelSums(voxel_size)
    grid.add(np.asarray(points, dtype=np.float64), np.asarray(labels, dtype=np.int64))
    return grid.result()


def _count_lines(handle) -> int:
    return sum(1 for line in handle if line.strip())


def read_scan(
    path: str | os.PathLike,
    labels: bool = True,
    voxel_size: float | None = None,
    chunk_rows: int = 1_000_000,
    max_points: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A Semantic3D scan: ``points [N, 7]`` float32 and ``labels [N]`` int64 (None when ``labels`` is False).

    Args:
        path: the scan's ``.txt``; its labels are read from the ``.labels`` beside it.
        labels: read the ``.labels`` file (the test scans have none).
        voxel_size: if given, keep one point per voxel of this side (metres): mean values, majority label.
        chunk_rows: lines read and parsed at a time (bounds the memory besides the result).
        max_points: read only the first this many lines of both files (a look at a large scan).

    Raises:
        FileNotFoundError: no ``.txt``, or no ``.labels`` while ``labels`` is True.
        ValueError: a line of the ``.txt`` is not 7 numbers or a line of the ``.labels`` not one integer,
            a label is outside 0..8, the two files have different numbers of lines, the scan is empty,
            or ``voxel_size`` / ``chunk_rows`` is not positive.
    """
    path = Path(path)
    labels_path = path.with_suffix(".labels")
    if voxel_size is not None and voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0 (metres) or None, got {voxel_size}")
    if chunk_rows < 1 or (max_points is not None and max_points < 1):
        raise ValueError(f"chunk_rows and max_points must be >= 1, got {chunk_rows} and {max_points}")
    if labels and not labels_path.is_file():
        raise FileNotFoundError(
            f"no {labels_path} beside {path.name}; unpack sem8_labels_training.7z there, or read a test scan "
            "with labels=False"
        )
    grid = _VoxelSums(voxel_size) if voxel_size is not None else None
    point_runs, label_runs = [], []
    first_line, read = 1, 0
    with open(path, errors="replace") as point_file, open(labels_path) if labels else nullcontext() as label_file:
        head = point_file if max_points is None else islice(point_file, max_points)
        while lines := list(islice(head, chunk_rows)):
            points = parse_rows(lines, _COLUMNS, np.float64, path, "7 numbers (x y z intensity r g b)", first_line)
            if labels:
                label_lines = list(islice(label_file, len(lines)))
                run = (
                    parse_rows(label_lines, 1, np.int64, labels_path, "one integer label", first_line)[:, 0]
                    if label_lines
                    else np.zeros(0, dtype=np.int64)
                )
                if len(run) != len(points):
                    total = first_line - 1 + len(points) + _count_lines(point_file)
                    total_labels = first_line - 1 + len(run) + _count_lines(label_file)
                    raise ValueError(
                        f"{path.name} has {total} points but {labels_path.name} has {total_labels} labels; "
                        "the files are from different scans or one is truncated, unpack them again"
                    )
                outside = (run < 0) | (run >= _CLASSES)
                if outside.any():
                    at = int(np.argmax(outside))
                    raise ValueError(
                        f"{labels_path} line {first_line + at}: label {run[at]} is outside 0..8 "
                        "(semantic-8: 0 unlabeled, 1-8 the classes); not a semantic-8 .labels file"
                    )
            else:
                run = np.zeros(len(points), dtype=np.int64)
            read += len(points)
            if grid is not None and len(points):
                grid.add(points, run)
            else:
                point_runs.append(points.astype(np.float32))
                label_runs.append(run)
            first_line += len(lines)
        if labels and max_points is None and (extra := _count_lines(label_file)):
            raise ValueError(
                f"{path.name} has {first_line - 1} points but {labels_path.name} has {first_line - 1 + extra} "
                "labels; the files are from different scans or one is truncated, unpack them again"
            )
    if read == 0:
        raise ValueError(f"{path}: empty scan (no points); a Semantic3D scan holds x y z intensity r g b lines")
    if grid is not None:
        points, run = grid.result()
        return points.astype(np.float32), (run if labels else None)
    return np.concatenate(point_runs), (np.concatenate(label_runs) if labels else None)


class Semantic3DScans(Dataset):
    """Semantic3D scans, one item per scan.

    Args:
        root: the folder holding the ``<scan>.txt`` and ``<scan>.labels`` files; None: the
            ``semantic3d`` dataset under the data root.
        scans: the scan names (file names without ``.txt``); None: every ``.txt`` in ``root``.
        labels: read the labels (False for the test scans, which have none).
        voxel_size: if given, one point per voxel of this side (metres), as :func:`read_scan`.
        chunk_rows: lines parsed at a time (:func:`read_scan`).

    Item i is a dict: ``points`` ``[N, 7]`` float32 (x y z intensity r g b), ``labels`` ``[N]`` int64
    in 0..8 (with ``labels`` True) and ``scan`` (the name).

    Raises:
        DatasetNotFoundError: ``root`` None and no scan under the data root (says how to get them).
        FileNotFoundError: a named scan, or its ``.labels``, is not there; no scan in ``root``.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        scans: Sequence[str] | None = None,
        labels: bool = True,
        voxel_size: float | None = None,
        chunk_rows: int = 1_000_000,
    ) -> None:
        self.root = _semantic3d_folder(root)
        self.labels, self.voxel_size, self.chunk_rows = labels, voxel_size, chunk_rows
        self.scans = sorted(p.stem for p in self.root.glob("*.txt")) if scans is None else list(scans)
        if not self.scans:
            raise FileNotFoundError(f"no <scan>.txt in {self.root}; unpack the Semantic3D scans there")
        for scan in self.scans:
            for suffix in (".txt", ".labels") if labels else (".txt",):
                if not (self.root / f"{scan}{suffix}").is_file():
                    raise FileNotFoundError(
                        f"no {self.root / (scan + suffix)}; unpack the scan's archive (and sem8_labels_training.7z "
                        "for the labels) into that folder, or pass labels=False for a test scan"
                    )

    def __len__(self) -> int:
        return len(self.scans)

    def __getitem__(self, index: int) -> dict:
        scan = self.scans[index]
        points, labels = read_scan(self.root / f"{scan}.txt", self.labels, self.voxel_size, self.chunk_rows)
        item = {"points": torch.from_numpy(points), "scan": scan}
        if labels is not None:
            item["labels"] = torch.from_numpy(labels)
        return item


def _semantic3d_folder(root: str | os.PathLike | None) -> Path:
    """The Semantic3D folder: ``root`` if given, else the catalogue's folder under the data root."""
    from recur_core.data import data_root, get_dataset
    from recur_core.data.root import DatasetNotFoundError, not_found_message

    if root is not None:
        folder = Path(root)
        if not folder.is_dir():
            raise FileNotFoundError(f"no folder {folder}; give the folder that holds the <scan>.txt files")
        return folder
    spec = get_dataset(DATASET)
    folder = data_root() / spec.folder
    if not any(folder.glob("*.txt")):
        raise DatasetNotFoundError(not_found_message(spec, DATASET, folder, manual=True))
    return folder
