"""TuSimple lane detection: the label JSON lines, the ``clips/`` frames, segmentation targets and prediction files.

Layout (the TuSimple benchmark, https://github.com/TuSimple/tusimple-benchmark; ``<data root>/tusimple``)::

    label_data_0313.json  label_data_0531.json  label_data_0601.json    training labels (train_set.zip)
    test_label.json                                                    test ground truth
    test_tasks_0627.json                                               the test frames (test_set.zip)
    clips/<date>/<clip>/20.jpg                                         the labelled 20th frame of each clip

One JSON object per line::

    {"lanes": [[-2, -2, 632, 625, ...], ...], "h_samples": [240, 250, ..., 710],
     "raw_file": "clips/0313-1/6040/20.jpg"}

``lanes[k][i]`` is lane ``k``'s x at row ``h_samples[i]`` (``-2``: no lane there); frames are 1280x720.
Other keys (``classes`` in some copies, the generated roads' per-lane ``dashed``/``occluded`` and per-point
``hidden`` flags) are kept in :attr:`TuSimpleFrame.extra` as read and written back by
:meth:`TuSimpleFrame.as_json`. Prediction files are the same lines with ``run_time`` (ms) added.

Splits (the SCNN ports' choice): train = 0313 + 0601, val = 0531, test = ``test_label.json`` (or
``test_tasks_0627.json`` when that one carries the lanes, as in the copy under the shared data root).
A frame is looked for beside its label file, then in the dataset folder and its ``train_set/`` and
``test_set/`` subfolders (where the official zips may have been unpacked).

Segmentation targets follow the SCNN PyTorch port (harryhan618/SCNN_Pytorch ``dataset/Tusimple.py``):
lanes with at least two points are sorted by the angle ``atan2(y_last - y_first, x_first - x_last)``;
the last lane at or below 90 degrees is the ego lane's left line (id 2), the one before it id 1,
the first above 90 degrees the right line (id 3), the next id 4. A slot's lane is drawn (ids painted
in order 1..4) and marked present only when it has at least 4 points, with ``cv2.line`` thickness 15
on a 1280x720 frame (8 px either side of the line), the width scaled with the mask's.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from recur_core.data import data_root, dataset_file, get_dataset
from recur_vision.lane_metrics import TUSIMPLE_PIXEL_THRESHOLD, TuSimpleScore, polyline_mask, tusimple_scores

__all__ = [
    "TUSIMPLE_ABSENT",
    "TUSIMPLE_LANE_WIDTH",
    "TUSIMPLE_MIN_POINTS",
    "TUSIMPLE_SIZE",
    "TUSIMPLE_SPLITS",
    "TUSIMPLE_TEST_TASKS",
    "TuSimpleFrame",
    "TuSimpleLanes",
    "evaluate_tusimple",
    "read_lane_image",
    "read_tusimple_json",
    "tusimple_lane_slots",
    "tusimple_segmentation",
    "tusimple_split",
    "tusimple_split_files",
    "write_tusimple_json",
]

TUSIMPLE_SIZE = (720, 1280)  # (height, width) of the benchmark's frames
TUSIMPLE_ABSENT = -2
TUSIMPLE_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("label_data_0313.json", "label_data_0601.json"),
    "val": ("label_data_0531.json",),
    "test": ("test_label.json",),
}
TUSIMPLE_TEST_TASKS = "test_tasks_0627.json"
# the SCNN port's cv2.line thickness (SEG_WIDTH // 2) on a 1280-wide frame
TUSIMPLE_LANE_WIDTH = 15.0
# the SCNN port leaves a lane of fewer points out of the mask and marks it absent
TUSIMPLE_MIN_POINTS = 4
_LAYOUT = "unpack the TuSimple train_set.zip / test_set.zip so that clips/ sits beside the label files"


@dataclass(frozen=True)
class TuSimpleFrame:
    """One TuSimple JSON line: a labelled (or predicted) frame.

    Args:
        raw_file: the frame's path relative to the dataset folder (``clips/0313-1/6040/20.jpg``).
        h_samples: the rows the lanes are sampled at.
        lanes: per lane, one x per ``h_samples`` row; ``-2`` (any negative) where the lane is absent.
        run_time: a prediction's run time in ms; None for labels.
        extra: any other keys of the line, kept as read.
        source: ``file:line`` the frame was read from, for messages (empty when built in code).

    Raises:
        ValueError: a lane whose length differs from ``h_samples``.
    """

    raw_file: str
    h_samples: tuple[int, ...]
    lanes: tuple[tuple[float, ...], ...]
    run_time: float | None = None
    extra: Mapping = field(default_factory=dict, compare=False)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "h_samples", tuple(int(y) for y in self.h_samples))
        object.__setattr__(self, "lanes", tuple(tuple(float(x) for x in lane) for lane in self.lanes))
        where = f"{self.source}: " if self.source else f"frame {self.raw_file!r}: "
        for k, lane in enumerate(self.lanes):
            if len(lane) != len(self.h_samples):
                raise ValueError(
                    f"{where}lane {k} has {len(lane)} x values but h_samples has {len(self.h_samples)}; "
                    "every lane gives one x (or -2) per h_samples row"
                )

    def lane_points(self, k: int) -> np.ndarray:
        """``[N, 2]`` float64 ``(x, y)`` points of lane ``k`` where it is present, top to bottom as stored."""
        xs, ys = np.asarray(self.lanes[k], dtype=np.float64), np.asarray(self.h_samples, dtype=np.float64)
        present = xs >= 0
        return np.stack([xs[present], ys[present]], axis=1)

    def as_json(self) -> dict:
        """The JSON line as a dict (integral x values written as ints, as in the benchmark's files)."""
        line = {
            "lanes": [[int(x) if x.is_integer() else x for x in lane] for lane in self.lanes],
            "h_samples": list(self.h_samples),
            "raw_file": self.raw_file,
        }
        if self.run_time is not None:
            line["run_time"] = self.run_time
        return {**line, **{k: v for k, v in self.extra.items() if k not in line}}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _frame_from_line(text: str, source: str, require_lanes: bool) -> TuSimpleFrame:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{source}: not valid JSON ({err.msg} at column {err.colno}); each line is one JSON object "
            "with raw_file, lanes and h_samples"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(
            f"{source}: a JSON {type(obj).__name__}, expected an object with raw_file, lanes and h_samples"
        )
    needed = ("raw_file", "h_samples", "lanes") if require_lanes else ("raw_file", "h_samples")
    absent = [key for key in needed if key not in obj]
    if absent:
        raise ValueError(f"{source}: missing key {absent[0]!r}; each line has raw_file, lanes and h_samples")
    lanes, h_samples, run_time = obj.get("lanes", []), obj["h_samples"], obj.get("run_time")
    if not isinstance(h_samples, list) or not all(_is_number(y) for y in h_samples):
        raise ValueError(f"{source}: 'h_samples' must be a list of row numbers")
    if not isinstance(lanes, list) or not all(isinstance(lane, list) and all(map(_is_number, lane)) for lane in lanes):
        raise ValueError(f"{source}: 'lanes' must be a list of lists of x values (-2 where absent)")
    if run_time is not None and not _is_number(run_time):
        raise ValueError(f"{source}: 'run_time' must be a number of milliseconds")
    extra = {k: v for k, v in obj.items() if k not in ("raw_file", "h_samples", "lanes", "run_time")}
    return TuSimpleFrame(
        str(obj["raw_file"]), h_samples, lanes, None if run_time is None else float(run_time), extra, source
    )


def read_tusimple_json(path: str | os.PathLike, require_lanes: bool = True) -> list[TuSimpleFrame]:
    """Every line of a TuSimple label / test-task / prediction file (blank lines are skipped).

    Args:
        path: the JSON-lines file.
        require_lanes: a line without ``lanes`` is an error (False accepts the bare test tasks).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a line that is not JSON, lacks a key, or has a lane whose length differs from
            ``h_samples`` — one line naming ``file:line``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TuSimple label file not found: {path}")
    frames = []
    with path.open() as lines:
        for number, text in enumerate(lines, start=1):
            if text.strip():
                frames.append(_frame_from_line(text, f"{path.name}:{number}", require_lanes))
    if not frames:
        raise ValueError(f"{path}: no frame in the file; each line is one JSON object")
    return frames


def write_tusimple_json(path: str | os.PathLike, frames: Iterable[TuSimpleFrame]) -> Path:
    """Write frames as TuSimple JSON lines (labels, or predictions with ``run_time`` for the benchmark)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as out:
        for frame in frames:
            out.write(json.dumps(frame.as_json(), separators=(", ", ": ")) + "\n")
    os.replace(tmp, path)
    return path


def evaluate_tusimple(
    pred_file: str | os.PathLike, gt_file: str | os.PathLike, pixel_threshold: float = TUSIMPLE_PIXEL_THRESHOLD
) -> TuSimpleScore:
    """The benchmark's ``bench_one_submit`` on two files: accuracy, FP and FN over the ground-truth frames.

    ``pixel_threshold``: 20 for 1280-px frames (:func:`~recur_vision.lane_metrics.tusimple_pixel_threshold`).
    """
    preds = read_tusimple_json(pred_file)
    gts = read_tusimple_json(gt_file)
    return tusimple_scores((f.as_json() for f in preds), (f.as_json() for f in gts), pixel_threshold)


def _carries_lanes(path: Path) -> bool:
    """True when ``path`` exists and its first line has lanes (a test-task file that holds the ground truth)."""
    if not path.is_file():
        return False
    with path.open() as lines:
        first = next((text for text in lines if text.strip()), "")
    try:
        return bool(json.loads(first).get("lanes")) if first else False
    except (json.JSONDecodeError, AttributeError):
        return False


def tusimple_split_files(split: str, folder: str | os.PathLike | None = None, root: str | None = None) -> list[Path]:
    """The label files of ``split`` (``train`` | ``val`` | ``test``).

    Args:
        split: the split name.
        folder: a TuSimple-layout folder (a generated set); default ``<data root>/tusimple``.
        root: the data root when ``folder`` is None.

    Raises:
        ValueError: an unknown split.
        FileNotFoundError: a label file is missing (the catalogue's one-line message for the real data).
    """
    if split not in TUSIMPLE_SPLITS:
        raise ValueError(f"unknown TuSimple split {split!r}; valid splits: {', '.join(TUSIMPLE_SPLITS)}")
    names = TUSIMPLE_SPLITS[split]
    base = Path(folder) if folder is not None else data_root(root) / get_dataset("tusimple").folder
    if split == "test" and not (base / names[0]).is_file() and _carries_lanes(base / TUSIMPLE_TEST_TASKS):
        names = (TUSIMPLE_TEST_TASKS,)
    if folder is not None:
        missing = [name for name in names if not (base / name).is_file()]
        if missing:
            raise FileNotFoundError(f"TuSimple label file {missing[0]} not found in {base}")
        return [base / name for name in names]
    return [dataset_file("tusimple", name, root) for name in names]


def tusimple_lane_slots(frame: TuSimpleFrame) -> tuple[int | None, int | None, int | None, int | None]:
    """Indices into ``frame.lanes`` of lane ids 1..4 (left-left, left, right, right-right), None when empty."""
    candidates, angles = [], []
    for k in range(len(frame.lanes)):
        points = frame.lane_points(k)
        if len(points) > 1:
            candidates.append(k)
            (x0, y0), (x1, y1) = points[0], points[-1]
            angles.append(math.degrees(math.atan2(y1 - y0, x0 - x1)))
    order = np.argsort(angles, kind="stable")
    ordered = [candidates[i] for i in order]
    angles = [angles[i] for i in order]
    slots: list[int | None] = [None, None, None, None]
    for i, angle in enumerate(angles):
        if angle <= 90:
            slots[1] = ordered[i]
            slots[0] = ordered[i - 1] if i > 0 else None
        else:
            slots[2] = ordered[i]
            slots[3] = ordered[i + 1] if i + 1 < len(ordered) else None
            break
    return slots[0], slots[1], slots[2], slots[3]


def tusimple_segmentation(
    frame: TuSimpleFrame,
    size: tuple[int, int],
    source_size: tuple[int, int] = TUSIMPLE_SIZE,
    lane_width: float = TUSIMPLE_LANE_WIDTH,
) -> tuple[np.ndarray, np.ndarray]:
    """SCNN's targets for one frame: the lane-id mask and the existence vector.

    Args:
        frame: the labelled frame.
        size: ``(H, W)`` of the mask; the lanes are scaled from ``source_size`` to it.
        source_size: ``(H, W)`` of the frame the label's coordinates refer to (1280x720).
        lane_width: the ``cv2.line`` thickness on a 1280-wide frame (15), scaled to ``W``.

    Returns:
        uint8 ``[H, W]`` with 0 = background and lane ids 1..4, float32 ``[4]`` existence (0/1).
    """
    height, width = size
    sy, sx = height / source_size[0], width / source_size[1]
    # cv2.line draws an odd integer thickness t as (t + 1) / 2 either side (15: 8 px, a 16 px wide band) on the
    # 1280-px frame; that band is scaled to the mask and drawn as it is (opencv_odd=False: the rule applies once)
    drawn = lane_width + lane_width % 2 if float(lane_width).is_integer() else lane_width
    thickness = drawn * width / TUSIMPLE_SIZE[1]
    mask = np.zeros((height, width), dtype=np.uint8)
    exist = np.zeros(4, dtype=np.float32)
    for slot, k in enumerate(tusimple_lane_slots(frame)):
        if k is None:
            continue
        points = frame.lane_points(k)
        if len(points) < TUSIMPLE_MIN_POINTS:
            continue
        # pixel centres map as a resize maps them: x' = (x + 0.5) s - 0.5 (as drawing at full size, then resizing)
        scaled = (points + 0.5) * (sx, sy) - 0.5
        mask[polyline_mask(scaled, height, width, thickness, opencv_odd=False)] = slot + 1
        exist[slot] = 1.0
    return mask, exist


def read_lane_image(
    path: str | os.PathLike,
    size: tuple[int, int] | None = None,
    mean: torch.Tensor | None = None,
    std: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """A frame as float32 ``[3, H, W]`` in [0, 1] (then ``(x - mean) / std`` when given), and its own ``(H, W)``.

    ``size``: ``(H, W)`` to resize to (bilinear); None keeps the frame's. ``mean``/``std`` are ``[3, 1, 1]``.
    The reader of the TuSimple and CULane datasets.

    Raises:
        ValueError: a file PIL cannot read as an image (one line naming it).
    """
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except (OSError, Image.UnidentifiedImageError) as err:
        raise ValueError(f"{path}: not an image PIL reads ({type(err).__name__}); replace the frame") from None
    source = (image.height, image.width)
    size = tuple(size) if size is not None else source
    if size != source:
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    tensor = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div_(255.0)
    if mean is not None:
        tensor = (tensor - mean) / std
    return tensor, source


def _find_frame(raw_file: str, places: Sequence[Path]) -> Path | None:
    for place in places:
        candidate = place / raw_file
        if candidate.is_file():
            return candidate
    return None


class TuSimpleLanes(Dataset):
    """TuSimple frames with SCNN targets: ``{"image", "mask", "exist", "size", "index"}`` per item.

    Args:
        label_files: TuSimple JSON-lines files (a split's, or any others such as the 512x288 sample's).
        folder: the dataset folder the frames are also looked for in (with ``train_set/`` and
            ``test_set/``); default the first label file's folder.
        image_size: ``(H, W)`` of the returned image and mask (SCNN: 288x800); None keeps each frame's.
        lane_width: mask line width on a 1280-wide frame (:data:`TUSIMPLE_LANE_WIDTH`).
        mean, std: per-channel normalisation after scaling to [0, 1]; None skips it.
        missing_frames: ``"error"`` (a missing frame is a one-line error) or ``"skip"`` (only the
            frames present are used; at least one must be).

    Items: ``image`` float32 ``[3, H, W]``, ``mask`` int64 ``[H, W]`` (0..4), ``exist`` float32 ``[4]``,
    ``size`` int64 ``[2]`` (the frame's own height and width, which the label's coordinates refer to)
    and ``index`` (into :attr:`frames`, whose lanes are the ground truth for the metric).
    """

    def __init__(
        self,
        label_files: Sequence[str | os.PathLike],
        folder: str | os.PathLike | None = None,
        image_size: tuple[int, int] | None = (288, 800),
        lane_width: float = TUSIMPLE_LANE_WIDTH,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        missing_frames: Literal["error", "skip"] = "error",
    ) -> None:
        if missing_frames not in ("error", "skip"):
            raise ValueError(f"missing_frames must be 'error' or 'skip', got {missing_frames!r}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        if not label_files:
            raise ValueError("no TuSimple label file given")
        files = [Path(f) for f in label_files]
        base = Path(folder) if folder is not None else files[0].parent
        frames, paths, absent = [], [], []
        for file in files:
            places = list(dict.fromkeys([file.parent, base, base / "train_set", base / "test_set"]))
            for frame in read_tusimple_json(file):
                path = _find_frame(frame.raw_file, places)
                if path is None:
                    absent.append(frame)
                else:
                    frames.append(frame)
                    paths.append(path)
        if absent and (missing_frames == "error" or not frames):
            more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
            raise FileNotFoundError(
                f"frame {absent[0].raw_file} ({absent[0].source}){more} not found under {base}: {_LAYOUT} "
                "(or set RECUR_DATA to the folder holding tusimple/); missing_frames='skip' uses the frames present"
            )
        self.frames: tuple[TuSimpleFrame, ...] = tuple(frames)
        self.paths: tuple[Path, ...] = tuple(paths)
        self.image_size = tuple(image_size) if image_size is not None else None
        self.lane_width = lane_width
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        tensor, source = read_lane_image(self.paths[index], self.image_size, self.mean, self.std)
        size = tuple(tensor.shape[1:])
        mask, exist = tusimple_segmentation(self.frames[index], size, source, self.lane_width)
        return {
            "image": tensor,
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "exist": torch.from_numpy(exist),
            "size": torch.tensor(source, dtype=torch.long),
            "index": index,
        }


def tusimple_split(
    split: str,
    root: str | None = None,
    folder: str | os.PathLike | None = None,
    **options,
) -> TuSimpleLanes:
    """:class:`TuSimpleLanes` of a split: the real data under the data root, or a TuSimple-layout ``folder``.

    ``options`` go to :class:`TuSimpleLanes` (``image_size``, ``missing_frames``, ...).
    """
    files = tusimple_split_files(split, folder, root)
    base = Path(folder) if folder is not None else files[0].parent
    return TuSimpleLanes(files, folder=base, **options)
