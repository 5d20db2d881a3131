"""CULane lane detection: list files, ``.lines.txt`` lanes, ``laneseg_label_w16`` masks and the per-scenario test.

Layout (Pan et al., AAAI 2018, https://xingangpan.github.io/projects/CULane.html; ``<data root>/CULane``)::

    driver_23_30frame/05151640_0419.MP4/00000.jpg          a 1640x590 frame
    driver_23_30frame/05151640_0419.MP4/00000.lines.txt    its lanes, one per line: "x y x y ..."
    laneseg_label_w16/driver_23_30frame/05151640_0419.MP4/00000.png   lane ids 0..4, 16 px wide
    list/train_gt.txt, list/val_gt.txt    "/driver_.../00000.jpg /laneseg_label_w16/.../00000.png 1 1 1 0"
    list/train.txt, list/val.txt, list/test.txt                 "/driver_.../00000.jpg"
    list/test_split/test{0..8}_{normal,crowd,hlight,shadow,noline,arrow,curve,cross,night}.txt

A list line names the image, then optionally its mask and the existence of lanes 1..4 (left to
right). Paths are relative to the dataset folder (a leading ``/`` is dropped). Predictions are
written as the official evaluator reads them: one ``.lines.txt`` per image, at the image's relative
path under a prediction folder (:func:`write_culane_lines`, :func:`evaluate_culane`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from recur_core.data import data_root, get_dataset
from recur_core.data.root import DatasetNotFoundError, not_found_message
from recur_vision.data.tusimple import read_lane_image
from recur_vision.lane_metrics import LaneCounts, culane_split_counts

__all__ = [
    "CULANE_LISTS",
    "CULANE_TEST_SPLITS",
    "CULaneEntry",
    "CULaneLanes",
    "culane_folder",
    "culane_lines_path",
    "culane_split",
    "evaluate_culane",
    "read_culane_annotations",
    "read_culane_lines",
    "read_culane_list",
    "read_culane_test_splits",
    "write_culane_lines",
]

CULANE_LISTS = {"train": "list/train_gt.txt", "val": "list/val_gt.txt", "test": "list/test.txt"}
CULANE_TEST_SPLITS = (
    "test0_normal",
    "test1_crowd",
    "test2_hlight",
    "test3_shadow",
    "test4_noline",
    "test5_arrow",
    "test6_curve",
    "test7_cross",
    "test8_night",
)


@dataclass(frozen=True)
class CULaneEntry:
    """One list line: the image, and in ``*_gt.txt`` lists its mask and lane existence (ids 1..4)."""

    image: str
    mask: str | None = None
    exist: tuple[int, int, int, int] | None = None


def culane_folder(root: str | None = None) -> Path:
    """``<data root>/CULane``."""
    return data_root(root) / get_dataset("culane").folder


def read_culane_list(path: str | os.PathLike) -> list[CULaneEntry]:
    """Entries of a CULane list: ``img`` lines or ``img mask e1 e2 e3 e4`` lines (existence 0/1).

    Raises:
        FileNotFoundError: the list is missing.
        ValueError: a line of another shape, naming ``file:line``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CULane list not found: {path}")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 1:
            entries.append(CULaneEntry(fields[0].lstrip("/")))
        elif len(fields) == 6 and all(flag in ("0", "1") for flag in fields[2:]):
            exist = tuple(int(flag) for flag in fields[2:])
            entries.append(CULaneEntry(fields[0].lstrip("/"), fields[1].lstrip("/"), exist))
        else:
            raise ValueError(
                f"{path.name}:{number}: {len(fields)} fields; a CULane list line is '/image.jpg' or "
                "'/image.jpg /mask.png e1 e2 e3 e4' with existence flags 0 or 1"
            )
    if not entries:
        raise ValueError(f"{path}: the list names no image")
    return entries


def culane_lines_path(image: str | os.PathLike) -> Path:
    """``.../00000.jpg`` -> ``.../00000.lines.txt``, the annotation (or prediction) beside an image."""
    return Path(image).with_suffix(".lines.txt")


def read_culane_lines(path: str | os.PathLike) -> list[np.ndarray]:
    """Lanes of a ``.lines.txt``: one ``[N, 2]`` float64 array of ``(x, y)`` per non-empty line.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a line with an odd count of numbers or a value that is not a number, naming ``file:line``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CULane lanes file not found: {path}")
    lanes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) % 2:
            raise ValueError(f"{path.name}:{number}: {len(fields)} numbers; a lane line is 'x y x y ...' pairs")
        try:
            values = np.asarray([float(v) for v in fields], dtype=np.float64)
        except ValueError:
            raise ValueError(f"{path.name}:{number}: a value is not a number; a lane line is 'x y x y ...'") from None
        lanes.append(values.reshape(-1, 2))
    return lanes


def write_culane_lines(path: str | os.PathLike, lanes: Sequence[np.ndarray | Sequence[Sequence[float]]]) -> Path:
    """Write lanes (each ``[N, 2]`` ``(x, y)``) as a ``.lines.txt``: one lane per line, ``x y x y ...``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for lane in lanes:
        points = np.asarray(lane, dtype=np.float64).reshape(-1, 2)
        lines.append(" ".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in points.ravel()))
    path.write_text("".join(line + "\n" for line in lines))
    return path


def read_culane_test_splits(folder: str | os.PathLike) -> dict[str, list[str]]:
    """``{"test0_normal": [image, ...], ...}`` from ``list/test_split/`` of a CULane folder.

    Raises:
        FileNotFoundError: a split file is missing.
    """
    folder = Path(folder)
    return {
        split: [entry.image for entry in read_culane_list(folder / "list" / "test_split" / f"{split}.txt")]
        for split in CULANE_TEST_SPLITS
    }


def _check_present(folder: Path, entries: Sequence[CULaneEntry], list_name: str) -> None:
    """One line naming the absent files a list refers to and how to get them."""
    absent = [
        name
        for entry in entries
        for name in (entry.image, entry.mask)
        if name is not None and not (folder / name).is_file()
    ]
    if absent:
        spec = get_dataset("culane")
        more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
        raise DatasetNotFoundError(
            f"{list_name} names absent files under {folder}: {absent[0]}{more}; " + spec.instructions
        )


class CULaneLanes(Dataset):
    """CULane frames of one list: ``{"image", "index"}`` plus ``"mask"``, ``"exist"`` for ``*_gt.txt`` lists.

    Args:
        folder: the CULane folder (``<data root>/CULane`` or one written in its layout).
        list_file: the list inside ``folder`` (``list/train_gt.txt``).
        image_size: ``(H, W)`` of the returned image and mask (SCNN: 288x800); None keeps 1640x590.
        mean, std: per-channel normalisation after scaling to [0, 1]; None skips it.

    Items: ``image`` float32 ``[3, H, W]``, ``size`` int64 ``[2]`` (the frame's own H, W), ``mask`` int64
    ``[H, W]`` (ids 0..4, resized nearest),
    ``exist`` float32 ``[4]``, ``index`` into :attr:`entries`. Every file the list names is checked to
    exist when the dataset is built.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        list_file: str,
        image_size: tuple[int, int] | None = (288, 800),
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.folder = Path(folder)
        list_path = self.folder / list_file
        if not list_path.is_file():
            spec = get_dataset("culane")
            raise DatasetNotFoundError(not_found_message(spec, list_file, self.folder, manual=True))
        self.entries: tuple[CULaneEntry, ...] = tuple(read_culane_list(list_path))
        _check_present(self.folder, self.entries, list_file)
        self.image_size = tuple(image_size) if image_size is not None else None
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.entries)

    def lanes(self, index: int) -> list[np.ndarray]:
        """The ground-truth lanes of item ``index`` from its ``.lines.txt`` (1640x590 pixels)."""
        return read_culane_lines(self.folder / culane_lines_path(self.entries[index].image))

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        tensor, source = read_lane_image(self.folder / entry.image, self.image_size, self.mean, self.std)
        size = tuple(tensor.shape[1:])
        item = {"image": tensor, "size": torch.tensor(source, dtype=torch.long), "index": index}
        if entry.mask is not None:
            with Image.open(self.folder / entry.mask) as mask:
                if mask.mode not in ("L", "P"):
                    mask = mask.convert("L")
                if size != (mask.height, mask.width):
                    mask = mask.resize((size[1], size[0]), Image.NEAREST)
                labels = np.asarray(mask, dtype=np.int64)
            if labels.max() > 4:
                raise ValueError(f"{entry.mask}: lane id {labels.max()} in the mask; laneseg_label_w16 ids are 0..4")
            item["mask"] = torch.from_numpy(labels.copy())
            item["exist"] = torch.tensor(entry.exist, dtype=torch.float32)
        return item


def culane_split(
    split: str, root: str | None = None, folder: str | os.PathLike | None = None, **options
) -> CULaneLanes:
    """:class:`CULaneLanes` of ``train`` | ``val`` | ``test`` (the lists of :data:`CULANE_LISTS`)."""
    if split not in CULANE_LISTS:
        raise ValueError(f"unknown CULane split {split!r}; valid splits: {', '.join(CULANE_LISTS)}")
    return CULaneLanes(folder if folder is not None else culane_folder(root), CULANE_LISTS[split], **options)


def read_culane_annotations(folder: str | os.PathLike, images: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """``{image: lanes}`` from the ``.lines.txt`` beside each image of a CULane-layout folder."""
    folder = Path(folder)
    return {image: read_culane_lines(folder / culane_lines_path(image)) for image in images}


def evaluate_culane(
    predictions: str | os.PathLike,
    folder: str | os.PathLike | None = None,
    root: str | None = None,
    splits: Sequence[str] = CULANE_TEST_SPLITS,
) -> dict[str, LaneCounts]:
    """The official per-scenario evaluation: ``{split: LaneCounts}`` for each ``list/test_split`` file.

    Args:
        predictions: a folder holding one ``.lines.txt`` per test image at the image's relative path;
            an image without one predicts no lane (as in the official evaluator).
        folder: the CULane folder with the annotations; default ``<data root>/CULane``.
        root: the data root when ``folder`` is None.
        splits: the scenario splits to score.
    """
    unknown = [split for split in splits if split not in CULANE_TEST_SPLITS]
    if unknown:
        raise ValueError(f"unknown CULane test split {unknown[0]!r}; valid splits: {', '.join(CULANE_TEST_SPLITS)}")
    folder = Path(folder) if folder is not None else culane_folder(root)
    predictions = Path(predictions)
    lists = read_culane_test_splits(folder)
    chosen = {split: lists[split] for split in splits}
    images = sorted({image for names in chosen.values() for image in names})
    annotations = read_culane_annotations(folder, images)
    predicted = {
        image: read_culane_lines(path) for image in images if (path := predictions / culane_lines_path(image)).is_file()
    }
    return culane_split_counts(predicted, annotations, chosen)
