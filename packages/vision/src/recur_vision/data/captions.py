"""Image captions in Karpathy's ``dataset_coco.json`` layout, with LRCN's vocabulary and caption streams.

Format (Karpathy and Fei-Fei, CVPR 2015, https://cs.stanford.edu/people/karpathy/deepimagesent/;
the split every COCO captioning paper reports on)::

    {"images": [{"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg",
                 "split": "test",            # train | val | test | restval
                 "cocoid": 391895,           # or "imgid" (Flickr8k/30k files have no filepath)
                 "sentences": [{"tokens": ["a", "man", "riding", ...], "raw": "A man riding ..."}, ...]},
                ...]}

The image of an entry is ``<image root>/<filepath>/<filename>``, the image root being the JSON's
folder unless given (``<data root>/coco`` holds ``dataset_coco.json``, ``train2014/`` and
``val2014/``). ``restval`` (the 30,504 validation images outside Karpathy's val/test) is training
data, as in every paper that uses the split.

LRCN's vocabulary and streams (Donahue et al., CVPR 2015; the official Caffe code's
``examples/coco_caption/coco_to_hdf5_data.py``):

- words seen at least ``min_count = 5`` times in the training captions, ordered by decreasing
  count then alphabetically; index 0 is EOS (``<EOS>``), 1 is ``<unk>``, the words follow. The
  official code maps the words to ``vocabulary index + 1`` so that 0 is free for EOS; here the
  table already includes EOS.
- a caption of ids ``w`` gives the input stream ``[EOS] + w`` and the target stream ``w + [EOS]``,
  both cut to ``max_steps = 20`` (a caption of 20 words or more loses its final EOS, as in the
  official code). Padding is EOS in the input stream (masked by the lengths) and
  :data:`IGNORE_INDEX` (-1, the official code's pad) in the target stream; pass
  ``ignore_index=IGNORE_INDEX`` to the loss.
- Unknown words become ``<unk>``. Tokens are lower-cased.

Image policy (documented here, enforced by :func:`read_caption_image`, and from the headers alone by
:func:`check_caption_image` for every image when a :class:`Captions` split is built): an RGB image is used as
it is; a greyscale (``L``) image, of which COCO holds a few hundred, is repeated over three
channels, as every COCO loader does; a palette image without transparency and a ``CMYK`` or
``YCbCr`` image are converted to RGB (a change of colour space only). An image with an alpha
channel (``RGBA``, ``LA``, ``PA``, a palette with transparency) or of another pixel type (binary
``1``, 16/32-bit ``I``, float ``F``) is an error that says to convert it to RGB, so that nothing
is dropped or rescaled silently. With ``resize=True`` images of any size are resized to
``image_size`` (COCO's images vary in size); with ``resize=False`` an image of another size is an
error (the generated scenes are all one size).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from torch.utils.data import Dataset

__all__ = [
    "EOS",
    "IGNORE_INDEX",
    "KARPATHY_SPLITS",
    "MAX_STEPS",
    "UNK",
    "CaptionedImage",
    "Captions",
    "Vocabulary",
    "caption_splits",
    "caption_streams",
    "check_caption_image",
    "coco_karpathy_json",
    "collate_captions",
    "read_caption_image",
    "read_karpathy_json",
]

EOS = 0
UNK = 1
IGNORE_INDEX = -1
MAX_STEPS = 20
KARPATHY_SPLITS = ("train", "val", "test", "restval")
_EOS_WORD = "<EOS>"
# 8-bit modes converted to RGB without losing anything but the colour space
_CONVERTED_MODES = ("L", "CMYK", "YCbCr")
_UNK_WORD = "<unk>"
_ENTRY = "each image is {'filepath', 'filename', 'split', 'sentences': [{'tokens': [...], 'raw': ...}]}"


@dataclass(frozen=True)
class CaptionedImage:
    """One image of a Karpathy-layout JSON: its file, split, id and reference captions (tokens and raw text)."""

    path: Path
    split: str
    image_id: int | str
    captions: tuple[tuple[str, ...], ...]
    raw: tuple[str, ...]


def _tokens(path: Path, i: int, j: int, sentence: object) -> tuple[str, ...]:
    where = f"{path}: image {i}, sentence {j}"
    if not isinstance(sentence, dict) or "tokens" not in sentence:
        raise ValueError(f"{where} has no 'tokens'; {_ENTRY}")
    tokens = sentence["tokens"]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{where}: 'tokens' must be a list of strings; {_ENTRY}")
    return tuple(t.lower() for t in tokens)


def read_karpathy_json(path: str | Path, image_root: str | Path | None = None) -> list[CaptionedImage]:
    """Every image of a Karpathy-layout caption JSON, checked (see the module docstring for the layout).

    Args:
        path: the JSON (``dataset_coco.json``, or the generated scenes' one).
        image_root: the folder ``filepath/filename`` is relative to; default the JSON's folder.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not JSON, no ``images`` list, or an image without ``filename``, with a split
            outside train/val/test/restval, without ``sentences`` or with a sentence without ``tokens``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption JSON not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a JSON file ({err}); expected Karpathy's dataset_coco.json layout") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path}: no 'images' list at the top level; expected {{'images': [...]}} where {_ENTRY}")
    root = Path(image_root) if image_root is not None else path.parent
    images = []
    for i, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            raise ValueError(f"{path}: image {i} has no 'filename'; {_ENTRY}")
        name = entry["filename"]
        if entry.get("split") not in KARPATHY_SPLITS:
            raise ValueError(
                f"{path}: image {i} ({name}) has split {entry.get('split')!r}; expected one of {KARPATHY_SPLITS}"
            )
        sentences = entry.get("sentences")
        if not isinstance(sentences, list) or not sentences:
            raise ValueError(f"{path}: image {i} ({name}) has no 'sentences'; {_ENTRY}")
        captions = tuple(_tokens(path, i, j, s) for j, s in enumerate(sentences))
        raw = tuple(str(s.get("raw", " ".join(c))) for s, c in zip(sentences, captions))
        image_id = entry.get("cocoid", entry.get("imgid", i))
        images.append(CaptionedImage(root / entry.get("filepath", "") / name, entry["split"], image_id, captions, raw))
    return images


def caption_splits(images: Iterable[CaptionedImage], restval_as_train: bool = True) -> dict[str, list[CaptionedImage]]:
    """``{"train", "val", "test"}`` -> images; ``restval`` joins ``train`` (Karpathy's convention) unless not wanted."""
    splits: dict[str, list[CaptionedImage]] = {"train": [], "val": [], "test": []}
    for image in images:
        split = "train" if image.split == "restval" and restval_as_train else image.split
        splits.setdefault(split, []).append(image)
    return splits


def coco_karpathy_json(root: str | Path | None = None) -> Path:
    """``<data root>/coco/dataset_coco.json``; missing, a one-line error saying how to get it."""
    from recur_core.data import dataset_file

    return dataset_file("coco-karpathy", "dataset_coco.json", root)


class Vocabulary:
    """LRCN's caption vocabulary: ``<EOS>`` = 0, ``<unk>`` = 1, then the words by decreasing count.

    Args:
        words: the words after EOS and ``<unk>``, in index order.
    """

    def __init__(self, words: Sequence[str]) -> None:
        words = [w for w in words if w not in (_EOS_WORD, _UNK_WORD)]
        self.words: tuple[str, ...] = (_EOS_WORD, _UNK_WORD, *words)
        self._index = {w: i for i, w in enumerate(self.words)}
        if len(self._index) != len(self.words):
            raise ValueError("a vocabulary word is listed twice")

    @classmethod
    def build(cls, captions: Iterable[Sequence[str]], min_count: int = 5) -> Vocabulary:
        """Words seen ``min_count`` times or more in ``captions`` (token lists); most frequent first, then A-Z."""
        counts = Counter(token for caption in captions for token in caption)
        ordered = sorted(counts, key=lambda w: (-counts[w], w))
        return cls([w for w in ordered if counts[w] >= min_count])

    @classmethod
    def from_images(cls, images: Iterable[CaptionedImage], min_count: int = 5) -> Vocabulary:
        """:meth:`build` over every caption of ``images`` (pass the training images only)."""
        return cls.build((c for image in images for c in image.captions), min_count)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.words == self.words

    def __hash__(self) -> int:
        return hash(self.words)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} entries: {', '.join(self.words[:6])}{', ...' if len(self) > 6 else ''})"

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Word ids of ``tokens`` (lower-cased); unknown words are ``<unk>`` (1). No EOS is added."""
        return [self._index.get(t.lower(), UNK) for t in tokens]

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True) -> list[str]:
        """Words of ``ids``, up to the first EOS when ``stop_at_eos`` (padding, negative ids, is skipped)."""
        words = []
        for i in ids:
            i = int(i)
            if i == EOS and stop_at_eos:
                break
            if i < 0:
                continue
            if i >= len(self.words):
                raise ValueError(f"word id {i} is outside the vocabulary of {len(self.words)} entries")
            words.append(self.words[i])
        return words

    def save(self, path: str | Path) -> Path:
        """One word per line, EOS and ``<unk>`` first (``vocabulary.txt``)."""
        path = Path(path)
        path.write_text("".join(f"{w}\n" for w in self.words))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """The vocabulary :meth:`save` wrote."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        lines = path.read_text().split("\n")
        if lines[:2] != [_EOS_WORD, _UNK_WORD]:
            raise ValueError(f"{path}: a vocabulary file starts with the lines {_EOS_WORD} and {_UNK_WORD}")
        return cls([w for w in lines[2:] if w])


def caption_streams(ids: Sequence[int], max_steps: int = MAX_STEPS) -> tuple[list[int], list[int]]:
    """LRCN's ``(input, target)`` streams of word ids: ``[EOS] + ids`` and ``ids + [EOS]``, cut to ``max_steps``."""
    ids = [int(i) for i in ids]
    return ([EOS, *ids])[:max_steps], ([*ids, EOS])[:max_steps]


def _open_image(path: Path) -> Image.Image:
    """``path`` opened by PIL (the header only until ``load``), or a one-line error."""
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        return Image.open(path)
    except (OSError, Image.UnidentifiedImageError) as err:
        raise ValueError(f"{path}: not an image PIL reads ({type(err).__name__})") from None


def _check_header(path: Path, image: Image.Image, image_size: tuple[int, int] | None, resize: bool) -> None:
    """The module's image policy on what an image's header tells (its mode and size): a one-line error."""
    mode = image.mode
    if mode != "RGB" and mode not in _CONVERTED_MODES and not (mode == "P" and "transparency" not in image.info):
        raise ValueError(
            f"{path}: image mode {mode} ({len(image.getbands())} channels); captions read RGB, greyscale, palette, "
            "CMYK or YCbCr images without alpha: convert it to RGB"
        )
    if image_size is not None and not resize and (image.height, image.width) != tuple(image_size):
        raise ValueError(
            f"{path}: image is {image.height}x{image.width}, expected {image_size[0]}x{image_size[1]}; "
            "resize it or read with resize=True"
        )


def check_caption_image(path: str | Path, image_size: tuple[int, int] | None = None, resize: bool = True) -> None:
    """Check an image file against the module's image policy from its header alone (no decoding).

    :class:`Captions` checks every image of a split when it is built, so that a bad file is an error before
    training starts, not in the middle of an epoch (a file whose header reads but whose pixels do not is
    still found only when :func:`read_caption_image` decodes it).

    Raises:
        FileNotFoundError, ValueError: as :func:`read_caption_image`, except for pixels that do not decode.
    """
    path = Path(path)
    with _open_image(path) as image:
        _check_header(path, image, image_size, resize)


def read_caption_image(
    path: str | Path, image_size: tuple[int, int] | None = None, resize: bool = True
) -> torch.Tensor:
    """An image as ``float32 [3, H, W]`` in [0, 1], under the module's image policy.

    Args:
        path: the image file.
        image_size: ``(H, W)``; None keeps the image's own size.
        resize: resize to ``image_size`` (bilinear, antialiased); False makes another size an error.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an image, an alpha channel or a mode that is not 8-bit colour or grey (see the
            module's image policy), or (``resize=False``) the wrong size.
    """
    path = Path(path)
    with _open_image(path) as image:
        try:
            image.load()
        except (OSError, Image.UnidentifiedImageError) as err:
            raise ValueError(f"{path}: not an image PIL reads ({type(err).__name__})") from None
        _check_header(path, image, image_size, resize)
        if image.mode != "RGB":
            image = image.convert("RGB")
    tensor = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
    if image_size is not None and tuple(tensor.shape[-2:]) != tuple(image_size):
        tensor = F.interpolate(
            tensor[None], size=tuple(image_size), mode="bilinear", align_corners=False, antialias=True
        )[0]
    return tensor


class Captions(Dataset):
    """Images with LRCN caption streams: ``(image [3, H, W], input_ids [L], target_ids [L], references)``.

    Args:
        images: the images of one split (:func:`read_karpathy_json`, then :func:`caption_splits`).
        vocab: the vocabulary (built from the training images: :meth:`Vocabulary.from_images`).
        items: ``"captions"``, one item per (image, caption) pair (LRCN's training streams), or
            ``"images"``, one item per image with its first caption's streams (evaluation).
        image_size: ``(H, W)`` of the tensors; None keeps each image's size.
        resize: resize images to ``image_size``; False makes another size an error.
        mean, std: per-channel normalisation after scaling to [0, 1]; None skips it.
        max_steps: the streams' length limit (20).

    ``references`` are every caption of the image as space-joined lower-case tokens, for BLEU/CIDEr.
    Every image file is checked when the dataset is built: that it exists, then its header against the
    image policy (:func:`check_caption_image`: a PIL header read, well under a millisecond an image), so a
    missing, unreadable or alpha-channel image stops the run before its first batch.
    """

    def __init__(
        self,
        images: Sequence[CaptionedImage],
        vocab: Vocabulary,
        items: Literal["captions", "images"] = "captions",
        image_size: tuple[int, int] | None = (224, 224),
        resize: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        max_steps: int = MAX_STEPS,
    ) -> None:
        if items not in ("captions", "images"):
            raise ValueError(f"items must be 'captions' or 'images', got {items!r}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.images = tuple(images)
        missing = [image.path for image in self.images if not image.path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image file(s) of the caption JSON are missing, the first {missing[0]}; "
                "the images sit at <image root>/<filepath>/<filename>"
            )
        self.vocab = vocab
        self.items = items
        self.image_size = tuple(image_size) if image_size is not None else None
        self.resize = resize
        for image in self.images:
            check_caption_image(image.path, self.image_size, resize)
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        self.max_steps = max_steps
        if items == "captions":
            self.index = [(i, j) for i, image in enumerate(self.images) for j in range(len(image.captions))]
        else:
            self.index = [(i, 0) for i in range(len(self.images))]

    def __len__(self) -> int:
        return len(self.index)

    def image(self, i: int) -> torch.Tensor:
        """Image ``i`` (of ``images``) as the dataset returns it."""
        tensor = read_caption_image(self.images[i].path, self.image_size, self.resize)
        if self.mean is not None:
            tensor = (tensor - self.mean) / self.std
        return tensor

    def references(self, i: int) -> list[str]:
        """Every caption of image ``i`` as space-joined tokens."""
        return [" ".join(c) for c in self.images[i].captions]

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
        i, j = self.index[item]
        inputs, targets = caption_streams(self.vocab.encode(self.images[i].captions[j]), self.max_steps)
        return (
            self.image(i),
            torch.tensor(inputs, dtype=torch.long),
            torch.tensor(targets, dtype=torch.long),
            self.references(i),
        )


def collate_captions(batch: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]]) -> dict:
    """Stack a batch of :class:`Captions` items, padding the streams to the longest.

    Returns:
        ``images [B, 3, H, W]``, ``input_ids [B, L]`` (padded with EOS), ``target_ids [B, L]``
        (padded with :data:`IGNORE_INDEX`), ``lengths [B]`` and ``references`` (a list per image).
    """
    lengths = torch.tensor([len(inputs) for _, inputs, _, _ in batch], dtype=torch.long)
    longest = int(lengths.max())
    input_ids = torch.full((len(batch), longest), EOS, dtype=torch.long)
    target_ids = torch.full((len(batch), longest), IGNORE_INDEX, dtype=torch.long)
    for b, (_, inputs, targets, _) in enumerate(batch):
        input_ids[b, : len(inputs)] = inputs
        target_ids[b, : len(targets)] = targets
    return {
        "images": torch.stack([image for image, _, _, _ in batch]),
        "input_ids": input_ids,
        "target_ids": target_ids,
        "lengths": lengths,
        "references": [refs for _, _, _, refs in batch],
    }
