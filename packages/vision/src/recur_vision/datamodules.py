"""DataModules of recur_vision: each holds its options and makes the train/val/test datasets.

- :class:`CaptionData`: images with LRCN caption streams, from Karpathy's COCO JSON or the
  generated shape scenes (the embedded default).
- :class:`VideoData`: clips of video frames (LRCN, its single-frame network) from a UCF101-layout
  set, the generated action videos by default (:func:`generated_video_folder`).
- :class:`CaptionAttackData`: pairs of caption images (a source and a target) for the controlled
  caption attack.
- :class:`FeatureData`: per-frame CNN feature matrices ``[D, T]`` (TS-LSTM, Temporal-Inception,
  the feature baselines), read from ``recur-vision extract`` files or computed on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.data.generated import generated_cache
from recur_core.engine import Split, SplitDataModule
from recur_vision.data.captions import (
    EOS,
    IGNORE_INDEX,
    MAX_STEPS,
    CaptionedImage,
    Captions,
    Vocabulary,
    caption_splits,
    caption_streams,
    coco_karpathy_json,
    collate_captions,
    read_karpathy_json,
)
from recur_vision.data.video import VideoClips

__all__ = [
    "AttackPairs",
    "CaptionAttackData",
    "CaptionData",
    "CaptionGroups",
    "FeatureData",
    "FeatureMatrices",
    "VideoData",
    "VideoTestClips",
    "collate_attack_pairs",
    "collate_caption_groups",
    "collate_video_clips",
    "generated_cache",
    "generated_video_folder",
]


class CaptionGroups(Dataset):
    """One item per image with the streams of *every* caption: ``(image, [(input, target), ...], references)``.

    LRCN's training streams are (image, caption) pairs; grouping an image's captions into one item
    gives the same pairs each epoch while the CNN runs once per image instead of once per caption.

    Args:
        captions: the :class:`~recur_vision.data.captions.Captions` dataset whose images and vocabulary are used.
    """

    def __init__(self, captions: Captions) -> None:
        self.captions = captions
        self.images = captions.images

    def __len__(self) -> int:
        return len(self.images)

    def image(self, i: int) -> torch.Tensor:
        return self.captions.image(i)

    def references(self, i: int) -> list[str]:
        return self.captions.references(i)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[tuple[list[int], list[int]]], list[str]]:
        vocab, steps = self.captions.vocab, self.captions.max_steps
        streams = [caption_streams(vocab.encode(c), steps) for c in self.images[i].captions]
        return self.image(i), streams, self.references(i)


def collate_caption_groups(batch: Sequence[tuple[torch.Tensor, list, list[str]]]) -> dict:
    """Stack :class:`CaptionGroups` items: ``images [B, 3, H, W]``, and per caption ``image_index [N]`` (its
    image's row), ``input_ids [N, L]`` (EOS-padded), ``target_ids [N, L]`` (-1-padded), ``lengths [N]``;
    ``references`` per image."""
    pairs = [(b, inputs, targets) for b, (_, streams, _) in enumerate(batch) for inputs, targets in streams]
    longest = max(len(inputs) for _, inputs, _ in pairs)
    input_ids = torch.full((len(pairs), longest), EOS, dtype=torch.long)
    target_ids = torch.full((len(pairs), longest), IGNORE_INDEX, dtype=torch.long)
    for n, (_, inputs, targets) in enumerate(pairs):
        input_ids[n, : len(inputs)] = torch.tensor(inputs, dtype=torch.long)
        target_ids[n, : len(targets)] = torch.tensor(targets, dtype=torch.long)
    return {
        "images": torch.stack([image for image, _, _ in batch]),
        "image_index": torch.tensor([b for b, _, _ in pairs], dtype=torch.long),
        "input_ids": input_ids,
        "target_ids": target_ids,
        "lengths": torch.tensor([len(inputs) for _, inputs, _ in pairs], dtype=torch.long),
        "references": [refs for _, _, refs in batch],
    }


class CaptionData(SplitDataModule):
    """Images and their captions for LRCN captioning: ``images [B, 3, S, S]``, streams, lengths, references.

    Training items are (image, caption) pairs, each caption of an image once per epoch (LRCN's
    streams); with ``group_captions`` (the default) an item is an image with all its captions
    (:class:`CaptionGroups`), so ``batch_size`` counts images and the CNN runs once per image.
    Validation and test items are images, each with all its reference captions. The
    vocabulary (:class:`~recur_vision.data.captions.Vocabulary`: EOS = 0, ``<unk>`` = 1, words seen
    ``min_count`` times in the training captions) is built from the training split; ``vocab_size``
    must equal the model's.

    Args:
        dataset: ``"generated"`` (shape scenes with template captions, written once under
            :func:`generated_cache` or ``folder``) or ``"coco-karpathy"`` (``dataset_coco.json`` and
            the COCO images under ``<data root>/coco``; restval joins train).
        root: the data root for ``coco-karpathy`` (None: ``$RECUR_DATA``, else the user cache).
        folder: where the generated scenes are written (None: a folder of :func:`generated_cache`
            named by the options below).
        train_images, val_images, test_images: generated images per split.
        image_size: side of the square images (generated scenes are drawn at it; COCO images are resized).
        min_count: a word enters the vocabulary when seen this often in the training captions (LRCN: 5).
        max_steps: longest caption stream (LRCN: 20).
        group_captions: batch the training captions by image (see above); False: LRCN's independent pairs.
        colours, shapes: the generated scenes' space, the first ``colours`` of 10 colours and ``shapes`` of
            5 shapes (default 7 x 4; :mod:`recur_vision.data.generated_captions`).
        mean, std: per-channel normalisation after scaling to [0, 1]; None keeps [0, 1].
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`;
            ``seed`` also seeds the generated scenes.
    """

    def __init__(
        self,
        dataset: Literal["generated", "coco-karpathy"] = "generated",
        root: str | None = None,
        folder: str | None = None,
        train_images: int = 2000,
        val_images: int = 200,
        test_images: int = 200,
        image_size: int = 64,
        min_count: int = 5,
        max_steps: int = MAX_STEPS,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        group_captions: bool = True,
        colours: int = 7,
        shapes: int = 4,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in ("generated", "coco-karpathy"):
            raise ValueError(f"dataset must be 'generated' or 'coco-karpathy', got {dataset!r}")
        if min(train_images, val_images, test_images) < 1:
            raise ValueError(
                f"every split needs at least one image, got train_images={train_images}, "
                f"val_images={val_images}, test_images={test_images}"
            )
        if image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
        if min_count < 1 or max_steps < 2:
            raise ValueError(f"min_count must be >= 1 and max_steps >= 2, got {min_count} and {max_steps}")
        if (mean is None) != (std is None):
            raise ValueError("give both --data.mean and --data.std, or neither")
        from recur_vision.data.generated_captions import check_scene_space

        check_scene_space(colours, shapes)
        self.dataset_name = dataset
        self.root = root
        self.folder = folder
        self.train_images, self.val_images, self.test_images = train_images, val_images, test_images
        self.image_size = image_size
        self.min_count = min_count
        self.max_steps = max_steps
        self.mean, self.std = mean, std
        self.group_captions = group_captions
        self.colours, self.shapes = colours, shapes
        self._splits: dict[str, list[CaptionedImage]] | None = None
        self._vocab: Vocabulary | None = None

    def caption_json(self) -> Path:
        """The Karpathy-layout JSON read: the generated scenes' (written on first use) or COCO's."""
        if self.dataset_name == "coco-karpathy":
            return coco_karpathy_json(self.root)
        from recur_vision.data.generated_captions import GENERATED_FORMAT, write_generated_captions

        name = (
            f"shape-captions-v{GENERATED_FORMAT}-s{self.image_size}"
            f"-n{self.train_images}-{self.val_images}-{self.test_images}-c{self.colours}x{self.shapes}-seed{self.seed}"
        )
        folder = Path(self.folder) if self.folder is not None else generated_cache() / name
        written = write_generated_captions(
            folder,
            self.train_images,
            self.val_images,
            self.test_images,
            self.image_size,
            self.seed,
            self.colours,
            self.shapes,
        )
        return written / "dataset_coco.json"

    def splits(self) -> dict[str, list[CaptionedImage]]:
        """``{"train", "val", "test"}`` -> images (read once)."""
        if self._splits is None:
            splits = caption_splits(read_karpathy_json(self.caption_json()))
            empty = [name for name in ("train", "val", "test") if not splits.get(name)]
            if empty:
                raise ValueError(f"the caption JSON has no {'/'.join(empty)} images; each split needs at least one")
            self._splits = splits
        return self._splits

    @property
    def vocab(self) -> Vocabulary:
        """The vocabulary of the training captions."""
        if self._vocab is None:
            self._vocab = Vocabulary.from_images(self.splits()["train"], self.min_count)
        return self._vocab

    @property
    def vocab_size(self) -> int:
        """Entries of :attr:`vocab` (EOS and ``<unk>`` included): the model's ``vocab_size``."""
        return len(self.vocab)

    def make_dataset(self, split: Split) -> Captions | CaptionGroups:
        captions = Captions(
            self.splits()[split],
            self.vocab,
            items="captions" if split == "train" else "images",
            image_size=(self.image_size, self.image_size),
            resize=self.dataset_name != "generated",
            mean=self.mean,
            std=self.std,
            max_steps=self.max_steps,
        )
        return CaptionGroups(captions) if split == "train" and self.group_captions else captions

    def collate_fn(self) -> Callable[[list[Any]], Any]:
        return _collate_any


def _collate_any(batch: list) -> dict:
    """:func:`collate_caption_groups` for :class:`CaptionGroups` items, else :func:`collate_captions`."""
    return collate_caption_groups(batch) if isinstance(batch[0][1], list) else collate_captions(batch)


# ---------------------------------------------------------------------------------------------
# video: clips of pixels (LRCN) and feature matrices (TS-LSTM, Temporal-Inception)


def generated_video_folder(
    folder: str | None = None, videos_per_class: int = 40, frames: int = 16, size: int = 64, seed: int = 0
) -> Path:
    """The generated action videos in the UCF101 layout, written on first use (under :func:`generated_cache`,
    in a folder named by the options, unless ``folder`` is given) and reused after."""
    from recur_vision.data.generated_video import write_generated_ucf101

    name = f"ucf101-actions-v{videos_per_class}-f{frames}-s{size}-seed{seed}"
    target = Path(folder) if folder is not None else generated_cache() / name
    return write_generated_ucf101(target, videos_per_class, frames, size, seed)


class _VideoSource:
    """The options that name a UCF101-layout video set, shared by :class:`VideoData` and :class:`FeatureData`."""

    def _init_source(
        self,
        dataset: str,
        root: str | None,
        folder: str | None,
        split: int,
        videos_per_class: int,
        video_frames: int,
        video_size: int,
        video_seed: int,
    ) -> None:
        if dataset not in ("generated", "ucf101"):
            raise ValueError(f"dataset must be 'generated' (the embedded videos) or 'ucf101', got {dataset!r}")
        if split not in (1, 2, 3):
            raise ValueError(f"split must be 1, 2 or 3 (the official UCF101 splits), got {split!r}")
        if dataset == "generated" and split != 1:
            raise ValueError("the generated videos have one split: set --data.split 1")
        if videos_per_class < 2 or video_frames < 2 or video_size < 16:
            raise ValueError(
                "videos_per_class and video_frames must be >= 2 and video_size >= 16, got "
                f"{videos_per_class}, {video_frames} and {video_size}"
            )
        self.dataset_name = dataset
        self.root, self.folder, self.split = root, folder, split
        self.videos_per_class, self.video_frames = videos_per_class, video_frames
        self.video_size, self.video_seed = video_size, video_seed

    def video_folder(self) -> Path:
        """The UCF101-layout folder read: the generated videos (written on first use) or UCF101 under the data root."""
        if self.dataset_name == "ucf101":
            from recur_core.data import dataset_dir

            return dataset_dir("ucf101", self.root, label="UCF101")
        return generated_video_folder(
            self.folder, self.videos_per_class, self.video_frames, self.video_size, self.video_seed
        )


def collate_video_clips(items: list[tuple[Tensor, int]]) -> dict[str, Tensor]:
    """Training clips ``[T, 3, H, W]`` or a video's test clips ``[K, T, 3, H, W]`` -> one batch.

    Returns ``clips [N, T, 3, H, W]`` (every clip of the batch), ``video [N]`` (the batch row of the
    video each clip comes from) and ``labels [B]`` (one per video).
    """
    clips = [c if c.dim() == 5 else c.unsqueeze(0) for c, _ in items]
    video = torch.cat([torch.full((len(c),), i, dtype=torch.int64) for i, c in enumerate(clips)])
    labels = torch.tensor([label for _, label in items], dtype=torch.int64)
    return {"clips": torch.cat(clips), "video": video, "labels": labels}


class VideoTestClips(Dataset):
    """``(clips [K, T, 3, H, W], label)``: every test clip of a video, ``clip_len`` frames every ``stride``, centred."""

    def __init__(self, clips: VideoClips, stride: int = 8) -> None:
        self.clips, self.stride = clips, stride

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def labels(self) -> np.ndarray:
        return self.clips.labels

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.clips.test_clips(index, self.stride), self.clips.entries[index].label


class VideoData(_VideoSource, SplitDataModule):
    """Clips of video frames for LRCN and its single-frame network, from a UCF101-layout video set.

    Training items are one clip per video and epoch: ``clip_len`` (16) consecutive frames from a
    random start, one random crop and (``flip``) mirror for the whole clip (LRCN's ``sequence_input_layer.py``),
    drawn from ``(seed, epoch, index)``. Validation and test items are every clip of a video, one
    every ``test_stride`` (8) frames, centre-cropped; the task averages their scores per video.
    UCF101 has no validation list, so validation reads the test list (as LRCN's and TS-LSTM's code):
    the two splits are one dataset object.
    Batches: see :func:`collate_video_clips`.

    Args:
        dataset: ``"generated"`` (the 13 motion classes of
            :mod:`~recur_vision.data.generated_video`, written once under :func:`generated_cache`
            or ``folder``) or ``"ucf101"`` (``<data root>/UCF101``, any UCF101-layout set there).
        root: the data root for ``ucf101`` (None: ``$RECUR_DATA``, else the user cache).
        folder: where the generated videos are written (None: a folder of :func:`generated_cache`).
        split: official split 1, 2 or 3 (the generated videos have split 1 only).
        clip_len: frames per clip (16).
        test_stride: frames between test clips (8).
        crop_size: side of the square crop (LRCN: 227 of 240 x 320 frames; 56 of the 64 x 64
            generated frames); None keeps whole frames.
        resize: ``[H, W]`` frames are resized to before cropping; None keeps their size.
        normalize: subtract ImageNet's channel means and divide by its standard deviations.
        flip: mirror training clips at random; None (default): on for ``ucf101``, off for
            ``generated``, whose classes a mirror swaps (left/right, clockwise/anticlockwise).
        cache_frames: keep the decoded frames in memory; None (default): on for ``generated`` (about
            190 MB for the recipes' 3,900 videos of 16 x 32 x 32), off for ``ucf101``.
        videos_per_class, video_frames, video_size, video_seed: the generated videos' options.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.

    Attributes:
        num_classes: classes of the set (13 generated, 101 UCF101; read from ``classInd.txt``).
    """

    epoch_indexed = True

    def __init__(
        self,
        dataset: Literal["generated", "ucf101"] = "generated",
        root: str | None = None,
        folder: str | None = None,
        split: int = 1,
        clip_len: int = 16,
        test_stride: int = 8,
        crop_size: int | None = 56,
        resize: tuple[int, int] | None = None,
        normalize: bool = True,
        flip: bool | None = None,
        cache_frames: bool | None = None,
        videos_per_class: int = 40,
        video_frames: int = 16,
        video_size: int = 64,
        video_seed: int = 0,
        *,
        batch_size: int = 8,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        self._init_source(dataset, root, folder, split, videos_per_class, video_frames, video_size, video_seed)
        if clip_len < 1 or test_stride < 1:
            raise ValueError(f"clip_len and test_stride must be >= 1, got {clip_len} and {test_stride}")
        if crop_size is not None and crop_size < 1:
            raise ValueError(f"crop_size must be >= 1 or None (whole frames), got {crop_size}")
        self.clip_len, self.test_stride = clip_len, test_stride
        self.crop_size = crop_size
        self.resize = tuple(resize) if resize is not None else None
        self.normalize = normalize
        self.flip = dataset != "generated" if flip is None else flip
        self.cache_frames = dataset == "generated" if cache_frames is None else cache_frames
        self.num_classes = len(_action_classes()) if dataset == "generated" else None

    def make_dataset(self, split: Split) -> Dataset:
        from recur_vision.data.video import read_ucf101_split
        from recur_vision.extract import IMAGENET_MEAN, IMAGENET_STD

        if split != "train":
            # val and test read the same list: one dataset for both
            shared = self.datasets.get("test" if split == "val" else "val")
            if shared is not None:
                return shared
        videos = read_ucf101_split(self.video_folder(), self.split, "train" if split == "train" else "test")
        self.num_classes = len(videos.classes)
        norm = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD) if self.normalize else {}
        clips = VideoClips(
            videos.entries,
            "lrcn",
            clip_len=self.clip_len,
            train=split == "train",
            crop_size=self.crop_size,
            resize=self.resize,
            seed=self.seed,
            flip=self.flip,
            cache_frames=self.cache_frames,
            **norm,
        )
        return clips if split == "train" else VideoTestClips(clips, self.test_stride)

    def collate_fn(self) -> Callable[[list[Any]], Any]:
        return collate_video_clips


def _action_classes() -> tuple[str, ...]:
    from recur_vision.data.generated_video import ACTION_CLASSES

    return ACTION_CLASSES


class FeatureMatrices(Dataset):
    """``(features [D, T], label)`` of each video of a feature file (see :mod:`recur_vision.extract`)."""

    def __init__(self, features: Tensor, labels: Tensor) -> None:
        self.features, self.labels = features, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.features[index], self.labels[index]


class FeatureData(_VideoSource, SplitDataModule):
    """Per-frame CNN feature matrices ``[D, T]`` of a video set, for TS-LSTM, Temporal-Inception and the baselines.

    The matrices are ``recur-vision extract``'s files (:mod:`recur_vision.extract`): read from
    ``features_dir`` when given, else computed on first use from the video set's train and test
    lists with ``backbone`` and cached under :func:`generated_cache` (``features/<set>/<options>/``),
    so the default recipes run on a fresh clone. Validation reads the test list (UCF101 has no
    validation list; TS-LSTM's code evaluates on the test list). Batches: ``(features [B, D, T], labels [B])``.

    Args:
        dataset, root, folder, split, videos_per_class, video_frames, video_size, video_seed: the
            video set, as :class:`VideoData`.
        features_dir: a folder of ``recur-vision extract`` files (``feat_{train,test}_<tag>_<T>f_sp<split>.pt``
            or ``.npy``); ``tag`` is ``backbone``.
        backbone: the frame CNN (``small``, ``caffenet`` or a torchvision classifier), randomly
            initialised from ``backbone_seed``; its tag in ``features_dir``.
        backbone_seed: seed of that initialisation.
        extractor_ckpt: a recur-vision video checkpoint (e.g. ``lrcn/single_frame``'s) whose trained
            frame CNN computes the features instead (the paper's CNN fine-tuned on the training
            frames); tag ``ckpt``. Cached by the checkpoint's path, size and time.
        num_frames: T, equally spaced frames per video (25).
        resize, crop_size: frame resizing and centre crop before the CNN (None: as stored).
        standardize: each feature (row of the matrices) minus its mean over the training videos and
            frames, over its standard deviation there, in both splits. The official data script has this
            step written and commented out (``Temporal-ConvNet/data-2Stream.lua``); Temporal-Inception
            needs it on features whose rows differ in scale, as its temporal filters are shared by
            every row (the other models start with a per-feature batch normalisation).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.

    Attributes (after ``setup``):
        feature_dim, num_classes: D and the classes of the files.
    """

    def __init__(
        self,
        dataset: Literal["generated", "ucf101"] = "generated",
        root: str | None = None,
        folder: str | None = None,
        split: int = 1,
        features_dir: str | None = None,
        backbone: str = "small",
        backbone_seed: int = 0,
        extractor_ckpt: str | None = None,
        num_frames: int = 25,
        resize: tuple[int, int] | None = None,
        crop_size: int | None = None,
        standardize: bool = False,
        videos_per_class: int = 40,
        video_frames: int = 16,
        video_size: int = 64,
        video_seed: int = 0,
        *,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        self._init_source(dataset, root, folder, split, videos_per_class, video_frames, video_size, video_seed)
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.features_dir = features_dir
        self.backbone, self.backbone_seed = backbone, backbone_seed
        self.extractor_ckpt = extractor_ckpt
        self.tag = "ckpt" if extractor_ckpt is not None else backbone
        self.num_frames = num_frames
        self.resize = tuple(resize) if resize is not None else None
        self.crop_size = crop_size
        self.standardize = standardize
        self.feature_dim: int | None = None
        self.num_classes: int | None = None
        self._files: dict[str, dict[str, Any]] | None = None

    def feature_folder(self) -> Path:
        """The folder of the feature files: ``features_dir``, else the cache folder (filled on first use)."""
        from recur_vision.extract import feature_file_name, frame_feature_extractor, write_split_features

        if self.features_dir is not None:
            return Path(self.features_dir)
        videos = self.video_folder()
        options = f"{self.backbone}-seed{self.backbone_seed}"
        if self.extractor_ckpt is not None:
            ckpt = Path(self.extractor_ckpt)
            if not ckpt.is_file():
                raise FileNotFoundError(f"--data.extractor_ckpt {ckpt}: no such file; fit lrcn/single_frame first")
            stat = ckpt.stat()
            key = hashlib.sha1(f"{ckpt.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
            options = f"ckpt-{key}"
        if self.resize is not None:
            options += f"-r{self.resize[0]}x{self.resize[1]}"
        if self.crop_size is not None:
            options += f"-c{self.crop_size}"
        where = "ucf101" if self.dataset_name == "ucf101" else videos.name
        cache = generated_cache() / "features" / where / options
        names = [feature_file_name(s, self.tag, self.num_frames, self.split) for s in ("train", "test")]
        if not all((cache / name).is_file() for name in names):
            cnn = frame_feature_extractor(self.backbone, self.backbone_seed, self.extractor_ckpt)
            write_split_features(videos, cache, cnn, self.tag, self.split, self.num_frames, self.resize, self.crop_size)
        return cache

    def files(self) -> dict[str, dict[str, Any]]:
        """``{"train", "test"}`` -> the feature file's content (read once)."""
        from recur_vision.extract import feature_file_name, read_feature_file

        if self._files is None:
            folder = self.feature_folder()
            files = {}
            for subset in ("train", "test"):
                candidates = [
                    folder / feature_file_name(subset, self.tag, self.num_frames, self.split, f) for f in ("pt", "npy")
                ]
                found = next((c for c in candidates if c.is_file()), None)
                if found is None:
                    raise FileNotFoundError(
                        f"no {candidates[0].name} (or .npy) in {folder}; write it with 'recur-vision extract "
                        f"--backbone "
                        f"{self.backbone} --num_frames {self.num_frames} --split {self.split} --out {folder}'"
                    )
                files[subset] = read_feature_file(found)
            shapes = {tuple(f["features"].shape[1:]) for f in files.values()}
            if len(shapes) > 1 or list(files["train"]["classes"]) != list(files["test"]["classes"]):
                raise ValueError(f"{folder}: the train and test files disagree in shape {sorted(shapes)} or classes")
            dim, frames = shapes.pop()
            if frames != self.num_frames:
                raise ValueError(f"{folder}: the files have {frames} frames per video; set --data.num_frames {frames}")
            self._files = files
            self.feature_dim, self.num_classes = dim, len(files["train"]["classes"])
        return self._files

    def make_dataset(self, split: Split) -> FeatureMatrices:
        files = self.files()
        content = files["train" if split == "train" else "test"]
        features = content["features"]
        if self.standardize:
            train = files["train"]["features"]
            mean = train.mean((0, 2), keepdim=True)
            features = (features - mean) / train.std((0, 2), keepdim=True).clamp_min(1e-6)
        return FeatureMatrices(features, content["labels"])


# ---------------------------------------------------------------------------------------------
# the controlled caption attack: pairs of a source image and a target image


class AttackPairs(Dataset):
    """``(image [3, H, W], target image [3, H, W], index, target index)``: each image of a split with another one.

    The target of image ``i`` is another image of the same split drawn at random: for training
    (``epoch_indexed``: items are asked for as ``(epoch, i)``) anew every epoch from
    ``(seed, epoch, i)``; for evaluation once, from ``(seed, i)``, so every run attacks the same pairs.
    Images are in [0, 1] (the attack's pixel units).

    Args:
        captions: the split's :class:`~recur_vision.data.captions.Captions` (images, one item each).
        seed: seeds the pairing.
        train: draw a new target every epoch (``(epoch, index)`` items) instead of a fixed one.
    """

    def __init__(self, captions: Captions, seed: int, train: bool) -> None:
        if len(captions.images) < 2:
            raise ValueError(
                f"an attack split needs at least two images (a source and a target), got {len(captions.images)}"
            )
        self.captions, self.seed, self.train = captions, seed, train
        self.images = captions.images
        self.targets = None if train else [self._target(None, i) for i in range(len(self.images))]

    def _target(self, epoch: int | None, index: int) -> int:
        key = [self.seed, index] if epoch is None else [self.seed, epoch, index]
        draw = int(np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0] % (len(self.images) - 1))
        # any image but the source itself
        return (index + 1 + draw) % len(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def image(self, i: int) -> Tensor:
        return self.captions.image(i)

    def target(self, i: int) -> int:
        """The fixed target image of image ``i`` (evaluation splits)."""
        if self.targets is None:
            raise ValueError("training pairs draw a new target every epoch; index them with (epoch, index)")
        return self.targets[i]

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[Tensor, Tensor, int, int]:
        if self.train:
            epoch, index = item if isinstance(item, tuple) else (0, item)
            target = self._target(epoch, index)
        else:
            index = item
            target = self.targets[index]
        return self.image(index), self.image(target), index, target


def collate_attack_pairs(items: Sequence[tuple[Tensor, Tensor, int, int]]) -> dict[str, Tensor]:
    """Stack :class:`AttackPairs` items: ``images [B, 3, H, W]``, ``target_images [B, 3, H, W]``, ``index [B]``,
    ``target_index [B]``."""
    return {
        "images": torch.stack([image for image, _, _, _ in items]),
        "target_images": torch.stack([target for _, target, _, _ in items]),
        "index": torch.tensor([i for _, _, i, _ in items], dtype=torch.long),
        "target_index": torch.tensor([j for _, _, _, j in items], dtype=torch.long),
    }


class CaptionAttackData(SplitDataModule):
    """Pairs ``(x, x_t)`` of caption images for the controlled caption attack (``CaptionAttackModule``).

    The images are :class:`CaptionData`'s (the generated shape scenes by default, or COCO in
    Karpathy's split from the data root), read in [0, 1]: the attack's ε is in those pixel units,
    and the task applies the victim's own normalisation. Attack the images the victim was trained
    and tested on by giving the options its ``lrcn/captioning`` run had (the defaults are that
    recipe's). Each image is paired with another image of its split (:class:`AttackPairs`): a new
    random target every training epoch, a fixed one for validation and test. Batches: see
    :func:`collate_attack_pairs`.

    Args:
        dataset, root, folder, train_images, val_images, test_images, image_size, colours, shapes: the
            images, as :class:`CaptionData`.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`;
            ``seed`` also seeds the generated scenes and the pairing.
    """

    epoch_indexed = True

    def __init__(
        self,
        dataset: Literal["generated", "coco-karpathy"] = "generated",
        root: str | None = None,
        folder: str | None = None,
        train_images: int = 2000,
        val_images: int = 200,
        test_images: int = 200,
        image_size: int = 64,
        colours: int = 7,
        shapes: int = 4,
        *,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if min(train_images, val_images, test_images) < 2:
            raise ValueError(
                "every split needs at least two images (a source and a target), got "
                f"train_images={train_images}, val_images={val_images}, test_images={test_images}"
            )
        # the images (and their validation) come from CaptionData; min_count=1: every caption word is in its
        # vocabulary, which CaptionAttackModule.setup checks against the victim's
        self.captions = CaptionData(
            dataset,
            root,
            folder,
            train_images,
            val_images,
            test_images,
            image_size,
            min_count=1,
            colours=colours,
            shapes=shapes,
            batch_size=batch_size,
            seed=seed,
        )
        self.dataset_name, self.image_size = dataset, image_size

    def make_dataset(self, split: Split) -> AttackPairs:
        images = Captions(
            self.captions.splits()[split],
            self.captions.vocab,
            items="images",
            image_size=(self.image_size, self.image_size),
            resize=self.dataset_name != "generated",
        )
        return AttackPairs(images, self.seed, train=split == "train")

    def collate_fn(self) -> Callable[[list[Any]], Any]:
        return collate_attack_pairs
