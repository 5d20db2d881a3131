"""UCF101-layout action videos: split files, PyAV decoding or extracted frames, LRCN / TS-LSTM clip sampling.

Format (UCF101, Soomro et al. 2012, https://www.crcv.ucf.edu/data/UCF101.php), as the official
archives unpack under one folder (``<data root>/UCF101`` for the real set)::

    UCF-101/<Class>/v_<Class>_gGG_cCC.avi       the videos (or a folder of frames per video, below)
    ucfTrainTestlist/classInd.txt                "1 ApplyEyeMakeup": 1-based index, class name
    ucfTrainTestlist/trainlist0N.txt             "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
    ucfTrainTestlist/testlist0N.txt              "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"

for the three official splits N = 1, 2, 3. The split files may also sit directly in the folder.
A test line has no label: the class is the folder part of the name. A video is a file decoded with
PyAV (any container/codec FFmpeg reads: ``.avi``, ``.mp4``), or, in place of the file, a folder of
extracted frames named as the video without its extension (``UCF-101/<Class>/v_..._c01/``) holding
``.jpg``/``.jpeg``/``.png`` images in natural order (``1.jpg`` < ``2.jpg`` < ``10.jpg``).

Frames are ``uint8 [T, H, W, 3]`` (RGB) when read and ``float32 [T, 3, H, W]`` in [0, 1] (then
optionally normalised) in the Dataset. Only the frames a clip needs are converted; decoding stops
after the last one needed.

Clip sampling:

- **LRCN** (Donahue et al., CVPR 2015, https://arxiv.org/abs/1411.4389; the official Caffe code's
  ``sequence_input_layer.py``): 16 consecutive frames from a random start for training, with one
  random crop and one random horizontal flip for the whole clip; at test time clips of 16 every 8
  frames, centre-cropped, whose scores the model averages.
- **TS-LSTM** (Ma et al., Signal Processing: Image Communication 2019,
  https://arxiv.org/abs/1703.10667): 25 frames equally spaced from the first frame to the last.

A video shorter than what is asked repeats its last frame (indices are clamped), and a video whose
container reports more frames than it decodes is treated the same way. Random draws come from a
``numpy`` generator seeded by ``(seed, epoch, index)``, so an item is the same in any worker and
in a resumed run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from torch.utils.data import Dataset

from recur_core.data import DataFileError

__all__ = [
    "FRAME_SUFFIXES",
    "SPLIT_DIR",
    "VIDEO_DIR",
    "UCF101Split",
    "VideoClips",
    "VideoEntry",
    "crop_and_flip",
    "lrcn_clip_indices",
    "lrcn_test_clip_starts",
    "read_class_index",
    "read_split_list",
    "read_ucf101_split",
    "read_video_frames",
    "sample_crop",
    "tslstm_frame_indices",
    "ucf101_split",
    "video_frame_count",
]

VIDEO_DIR = "UCF-101"
SPLIT_DIR = "ucfTrainTestlist"
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
_LAYOUT = "a UCF101 folder holds UCF-101/<Class>/<video> and ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt"


# ---------------------------------------------------------------------------------------------
# split files


def read_class_index(path: str | Path) -> tuple[str, ...]:
    """Class names from ``classInd.txt``, in index order (line ``"1 ApplyEyeMakeup"`` is class 0).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a line is not ``<index> <name>``, the indices are not 1, 2, 3, ... in order,
            a name repeats, or the file lists no class.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class index not found: {path} ({_LAYOUT})")
    classes: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[0].isdigit():
            raise ValueError(
                f"{path}:{number}: {line.strip()!r} is not '<index> <ClassName>' (e.g. '1 ApplyEyeMakeup')"
            )
        if int(fields[0]) != len(classes) + 1:
            raise ValueError(f"{path}:{number}: index {fields[0]} out of order; expected {len(classes) + 1}")
        if fields[1] in classes:
            raise ValueError(f"{path}:{number}: class {fields[1]!r} is listed twice")
        classes.append(fields[1])
    if not classes:
        raise ValueError(f"{path}: no class listed; each line is '<index> <ClassName>'")
    return tuple(classes)


def read_split_list(path: str | Path, classes: Sequence[str], labelled: bool) -> list[tuple[str, int]]:
    """``(name, label)`` pairs of a ``trainlist0N.txt`` (``labelled``) or ``testlist0N.txt`` file.

    ``name`` is the line's ``<Class>/<file>``; ``label`` is the 0-based class index, read from the
    folder part and, in a labelled file, checked against the line's 1-based label.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a malformed line (wrong number of fields, no ``<Class>/`` folder, a label that
            is not an integer, out of range or disagreeing with the folder), an unknown class, or an
            empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path} ({_LAYOUT})")
    index = {name: i for i, name in enumerate(classes)}
    expected = "'<Class>/<video> <label>'" if labelled else "'<Class>/<video>'"
    entries: list[tuple[str, int]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        if len(fields) != (2 if labelled else 1):
            raise ValueError(f"{where}: {line.strip()!r} is not {expected}")
        name = fields[0]
        parts = name.split("/")
        if len(parts) != 2 or not all(parts):
            raise ValueError(
                f"{where}: {name!r} is not '<Class>/<video>' (e.g. 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi')"
            )
        if parts[0] not in index:
            raise ValueError(f"{where}: unknown class {parts[0]!r}; classInd.txt lists {len(classes)} classes")
        label = index[parts[0]]
        if labelled:
            if not fields[1].lstrip("-").isdigit():
                raise ValueError(f"{where}: label {fields[1]!r} is not an integer; expected {expected}")
            given = int(fields[1])
            if not 1 <= given <= len(classes):
                raise ValueError(f"{where}: label {given} is outside 1..{len(classes)} (the classes of classInd.txt)")
            if given != label + 1:
                raise ValueError(
                    f"{where}: label {given} ({classes[given - 1]}) disagrees with the folder {parts[0]!r} "
                    f"(class {label + 1} in classInd.txt)"
                )
        entries.append((name, label))
    if not entries:
        raise ValueError(f"{path}: no video listed; each line is {expected}")
    return entries


@dataclass(frozen=True)
class VideoEntry:
    """One video of a split.

    Attributes:
        name: as the split file writes it, ``<Class>/<file>``.
        path: the video file, or the folder of its extracted frames.
        label: the 0-based class index.
    """

    name: str
    path: Path
    label: int


@dataclass(frozen=True)
class UCF101Split:
    """The videos of one subset of one official split: the class names and an entry per video."""

    folder: Path
    split: int
    subset: Literal["train", "test"]
    classes: tuple[str, ...]
    entries: tuple[VideoEntry, ...]

    @property
    def labels(self) -> np.ndarray:
        """int64 ``[N]``: the 0-based class of each video."""
        return np.array([e.label for e in self.entries], dtype=np.int64)


def _split_dir(folder: Path) -> Path:
    nested = folder / SPLIT_DIR
    return nested if (nested / "classInd.txt").is_file() else folder


def _media_path(videos: Path, name: str) -> Path | None:
    """The video file ``videos/name``, else its frames folder (the name without extension), else None."""
    file = videos / name
    if file.is_file():
        return file
    for frames in (file.with_suffix(""), file):
        if frames.is_dir():
            return frames
    return None


def read_ucf101_split(
    folder: str | Path, split: int = 1, subset: Literal["train", "test"] = "train", videos: str = VIDEO_DIR
) -> UCF101Split:
    """Read one subset of one official split from a UCF101-layout ``folder`` (see the module docstring).

    Args:
        folder: the folder holding ``UCF-101/`` and ``ucfTrainTestlist/`` (or the split files directly).
        split: 1, 2 or 3 (``trainlist0N.txt`` / ``testlist0N.txt``).
        subset: ``"train"`` or ``"test"``.
        videos: the folder of class folders inside ``folder``.

    Raises:
        FileNotFoundError: a split file is missing, or the split names videos that are neither a
            file nor a frames folder under ``folder/videos`` (the first one and the count are named).
        ValueError: a bad ``split``/``subset``, or a malformed split file (see :func:`read_split_list`).
    """
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3 (the official UCF101 splits), got {split!r}")
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    folder = Path(folder)
    lists = _split_dir(folder)
    classes = read_class_index(lists / "classInd.txt")
    list_path = lists / f"{subset}list0{split}.txt"
    pairs = read_split_list(list_path, classes, labelled=subset == "train")
    root = folder / videos
    entries, missing = [], []
    for name, label in pairs:
        path = _media_path(root, name)
        if path is None:
            missing.append(name)
        else:
            entries.append(VideoEntry(name, path, label))
    if missing:
        raise FileNotFoundError(
            f"{list_path} names {len(missing)} video(s) not under {root}, the first {missing[0]!r} "
            f"(neither the file nor a folder of its frames); {_LAYOUT}"
        )
    return UCF101Split(folder, split, subset, classes, tuple(entries))


def ucf101_split(
    split: int = 1, subset: Literal["train", "test"] = "train", root: str | Path | None = None
) -> UCF101Split:
    """The real UCF101 split under the data root (``<root>/UCF101``); missing, a one-line error saying how to get it."""
    from recur_core.data import dataset_dir

    return read_ucf101_split(dataset_dir("ucf101", root, label="UCF101"), split, subset)


# ---------------------------------------------------------------------------------------------
# frames


def _natural_key(path: Path) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))


def _frame_files(folder: Path) -> list[Path]:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
    if not files:
        raise DataFileError(f"{folder}: a frames folder with no {'/'.join(FRAME_SUFFIXES)} frame (zero-frame video)")
    return files


def _undecodable(path: Path, err: Exception) -> DataFileError:
    reason = getattr(err, "strerror", None) or type(err).__name__
    return DataFileError(f"{path}: cannot decode the video ({reason}); expected a video file FFmpeg reads (.avi, .mp4)")


def video_frame_count(path: str | Path) -> int:
    """Frames of a video file (the container's count, else its packets) or of a frames folder.

    Raises:
        FileNotFoundError: nothing at ``path``.
        DataFileError: the file does not decode, has no video stream, or has zero frames.
    """
    path = Path(path)
    if path.is_dir():
        return len(_frame_files(path))
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataFileError(f"{path}: no video stream; expected a video file (.avi, .mp4)")
            stream = container.streams.video[0]
            count = stream.frames
            if count <= 0:
                count = sum(1 for packet in container.demux(stream) if packet.size > 0)
    except av.FFmpegError as err:
        raise _undecodable(path, err) from None
    if count == 0:
        raise DataFileError(f"{path}: the video has zero frames")
    return count


def _read_image_frames(folder: Path, indices: np.ndarray) -> np.ndarray:
    files = _frame_files(folder)
    indices = np.minimum(indices, len(files) - 1)
    cache: dict[int, np.ndarray] = {}
    for i in np.unique(indices):
        try:
            with Image.open(files[i]) as image:
                cache[int(i)] = np.asarray(image.convert("RGB"))
        except OSError as err:
            reason = type(err).__name__
            raise DataFileError(f"{files[i]}: not an image PIL reads ({reason}); a frame is a .jpg or .png") from None
    shapes = {a.shape for a in cache.values()}
    if len(shapes) > 1:
        raise DataFileError(
            f"{folder}: frames of different sizes {sorted(shapes)}; every frame of a video must be the same size"
        )
    return np.stack([cache[int(i)] for i in indices])


def _decode_frames(path: Path, indices: np.ndarray) -> np.ndarray:
    wanted = set(int(i) for i in indices)
    last_wanted = max(wanted)
    cache: dict[int, np.ndarray] = {}
    last_frame, decoded = None, 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataFileError(f"{path}: no video stream; expected a video file (.avi, .mp4)")
            for i, frame in enumerate(container.decode(container.streams.video[0])):
                decoded = i + 1
                last_frame = frame
                if i in wanted:
                    cache[i] = frame.to_ndarray(format="rgb24")
                if i >= last_wanted:
                    break
            if decoded and decoded - 1 not in cache and last_wanted >= decoded:
                cache[decoded - 1] = last_frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise _undecodable(path, err) from None
    if decoded == 0:
        raise DataFileError(f"{path}: the video has zero frames")
    return np.stack([cache[min(int(i), decoded - 1)] for i in indices])


def read_video_frames(path: str | Path, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Frames ``indices`` (default all) of a video file or a frames folder, as ``uint8 [T, H, W, 3]`` RGB.

    Indices past the last frame give the last frame. A file is decoded with PyAV up to the last
    index asked for; only the frames asked for are converted to RGB arrays.

    Raises:
        FileNotFoundError: nothing at ``path``.
        DataFileError: an undecodable file, no video stream, zero frames, or frames of different sizes in a
            folder (reported as one line by the CLI even mid-run).
        ValueError: no or a negative frame index.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if indices is None:
        indices = np.arange(video_frame_count(path))
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size == 0:
        raise ValueError(f"{path}: no frame index given")
    if indices.min() < 0:
        raise ValueError(f"{path}: frame indices must be >= 0, got {int(indices.min())}")
    if path.is_dir():
        return _read_image_frames(path, indices)
    return _decode_frames(path, indices)


# ---------------------------------------------------------------------------------------------
# clip sampling


def lrcn_clip_indices(num_frames: int, clip_len: int = 16, start: int = 0) -> np.ndarray:
    """int64 ``[clip_len]``: ``clip_len`` consecutive frames from ``start`` (past the end: the last frame)."""
    if num_frames < 1 or clip_len < 1:
        raise ValueError(f"num_frames and clip_len must be >= 1, got {num_frames} and {clip_len}")
    return np.minimum(start + np.arange(clip_len, dtype=np.int64), num_frames - 1)


def lrcn_test_clip_starts(num_frames: int, clip_len: int = 16, stride: int = 8) -> np.ndarray:
    """int64 starts of LRCN's test clips: every ``stride`` frames while a whole clip fits (at least one clip)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return np.arange(0, max(num_frames - clip_len, 0) + 1, stride, dtype=np.int64)


def tslstm_frame_indices(num_frames: int, count: int = 25) -> np.ndarray:
    """int64 ``[count]``: TS-LSTM's ``count`` frames, equally spaced from frame 0 to frame ``num_frames - 1``."""
    if num_frames < 1 or count < 1:
        raise ValueError(f"num_frames and count must be >= 1, got {num_frames} and {count}")
    return np.rint(np.linspace(0, num_frames - 1, count)).astype(np.int64)


def sample_crop(height: int, width: int, crop: int, rng: np.random.Generator | None) -> tuple[int, int, bool]:
    """``(top, left, flip)`` of one crop for a whole clip: random (and a fair-coin flip) with ``rng``, else centred."""
    if crop > height or crop > width:
        raise ValueError(f"crop {crop} is larger than the frames ({height}x{width}); lower crop_size or raise resize")
    if rng is None:
        return (height - crop) // 2, (width - crop) // 2, False
    top = int(rng.integers(0, height - crop + 1))
    left = int(rng.integers(0, width - crop + 1))
    return top, left, bool(rng.integers(0, 2))


def crop_and_flip(frames: torch.Tensor, top: int, left: int, crop: int, flip: bool) -> torch.Tensor:
    """The same ``crop`` x ``crop`` window (and mirror) of every frame of ``[T, C, H, W]``."""
    out = frames[..., top : top + crop, left : left + crop]
    return out.flip(-1) if flip else out


# ---------------------------------------------------------------------------------------------
# the Dataset


class VideoClips(Dataset):
    """``(frames float32 [T, 3, H, W], label)`` for each video, sampled as LRCN or as TS-LSTM.

    Args:
        entries: the videos (a :class:`UCF101Split`'s ``entries``).
        sampling: ``"lrcn"`` (``clip_len`` consecutive frames) or ``"tslstm"`` (``num_frames``
            equally spaced frames).
        clip_len: LRCN's clip length (16).
        num_frames: TS-LSTM's frame count (25).
        train: random clip start (LRCN), random crop and flip (both); otherwise the middle clip
            and a centre crop.
        crop_size: side of the square crop; None keeps the whole frame (no flip either).
        flip: mirror a training clip with probability 1/2 (LRCN's augmentation). Turn it off where a
            mirror changes the class (the generated videos: moving left mirrored is moving right).
        cache_frames: keep every video's decoded frames in memory after its first read (small sets
            such as the generated videos: each epoch then decodes nothing); False decodes each item.
        resize: ``(H, W)`` every frame is resized to (bilinear, antialiased) before cropping; None keeps the size.
        mean, std: per-channel normalisation after scaling to [0, 1]; None skips it.
        seed: the random draws of item ``i`` in epoch ``e`` come from ``default_rng([seed, e, i])``.

    Items are indexed by ``i`` or by ``(epoch, i)`` (core's epoch-indexed loading). Every video's frame
    count is read from its header when the dataset is made (:func:`video_frame_count`; about 1 ms a
    video, some 13 s for UCF101's 13,320), so a missing, undecodable or zero-frame video stops a run
    before its first batch (a file whose header reads but whose frames do not is found when decoded).

    Raises:
        FileNotFoundError, ValueError: a bad option, or a video :func:`video_frame_count` rejects.
    """

    def __init__(
        self,
        entries: Sequence[VideoEntry],
        sampling: Literal["lrcn", "tslstm"] = "lrcn",
        clip_len: int = 16,
        num_frames: int = 25,
        train: bool = False,
        crop_size: int | None = None,
        resize: tuple[int, int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        seed: int = 0,
        flip: bool = True,
        cache_frames: bool = False,
    ) -> None:
        if sampling not in ("lrcn", "tslstm"):
            raise ValueError(f"sampling must be 'lrcn' or 'tslstm', got {sampling!r}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.entries = tuple(entries)
        self.sampling = sampling
        self.clip_len = clip_len
        self.num_frames = num_frames
        self.train = train
        self.crop_size = crop_size
        self.resize = tuple(resize) if resize is not None else None
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.seed = seed
        self.flip = flip
        self.cache_frames = cache_frames
        # every video's frame count now, from its container's header (about a millisecond a video): a missing,
        # undecodable or zero-frame file is an error before training starts, not in the middle of an epoch
        self._counts: dict[int, int] = {i: video_frame_count(entry.path) for i, entry in enumerate(self.entries)}
        self._frames: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def labels(self) -> np.ndarray:
        return np.array([e.label for e in self.entries], dtype=np.int64)

    def frame_count(self, index: int) -> int:
        """Frames of video ``index`` (read once, then remembered)."""
        if self.cache_frames:
            return len(self._all_frames(index))
        if index not in self._counts:
            self._counts[index] = video_frame_count(self.entries[index].path)
        return self._counts[index]

    def frame_indices(self, index: int, rng: np.random.Generator | None) -> np.ndarray:
        """The frames item ``index`` reads: a random (``rng``) or middle LRCN clip, or TS-LSTM's spaced frames."""
        count = self.frame_count(index)
        if self.sampling == "tslstm":
            return tslstm_frame_indices(count, self.num_frames)
        last_start = max(count - self.clip_len, 0)
        start = int(rng.integers(0, last_start + 1)) if rng is not None else last_start // 2
        return lrcn_clip_indices(count, self.clip_len, start)

    def transform(self, frames: np.ndarray, rng: np.random.Generator | None) -> torch.Tensor:
        """``uint8 [T, H, W, 3]`` -> ``float32 [T, 3, H', W']``: scale, resize, one crop/flip per clip, normalise."""
        clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
        if self.resize is not None and tuple(clip.shape[-2:]) != self.resize:
            clip = F.interpolate(clip, size=self.resize, mode="bilinear", align_corners=False, antialias=True)
        if self.crop_size is not None:
            top, left, flip = sample_crop(clip.shape[-2], clip.shape[-1], self.crop_size, rng)
            clip = crop_and_flip(clip, top, left, self.crop_size, flip and self.flip)
        if self.mean is not None:
            clip = (clip - self.mean) / self.std
        return clip.contiguous()

    def _all_frames(self, index: int) -> np.ndarray:
        if index not in self._frames:
            self._frames[index] = read_video_frames(self.entries[index].path)
        return self._frames[index]

    def read(self, index: int, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` of video ``index`` (past the end: the last), from memory with ``cache_frames``."""
        if self.cache_frames:
            frames = self._all_frames(index)
            return frames[np.minimum(indices, len(frames) - 1)]
        return read_video_frames(self.entries[index].path, indices)

    def _rng(self, epoch: int, index: int) -> np.random.Generator | None:
        return np.random.default_rng([self.seed, epoch, index]) if self.train else None

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        epoch, index = item if isinstance(item, tuple) else (0, item)
        rng = self._rng(epoch, index)
        entry = self.entries[index]
        frames = self.read(index, self.frame_indices(index, rng))
        return self.transform(frames, rng), entry.label

    def test_clips(self, index: int, stride: int = 8) -> torch.Tensor:
        """LRCN's test clips of video ``index``: ``[K, clip_len, 3, H, W]``, one every ``stride`` frames, centred.

        Overlapping clips share their frames: each frame is decoded and transformed once, then gathered.
        """
        count = self.frame_count(index)
        starts = lrcn_test_clip_starts(count, self.clip_len, stride)
        indices = np.concatenate([lrcn_clip_indices(count, self.clip_len, int(s)) for s in starts])
        unique, position = np.unique(indices, return_inverse=True)
        frames = self.transform(self.read(index, unique), None)
        clips = frames[torch.from_numpy(position.reshape(-1))]
        return clips.view(len(starts), self.clip_len, *frames.shape[1:])
