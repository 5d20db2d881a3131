"""Image classification: ViR and its same-size ViT on an embedded image set (rendered shapes or sklearn digits).

- :class:`ShapeImages`: the images (``uint8 [N, 3, S, S]``) and labels of one split.
- :func:`render_shape_image`: one image of the set, drawn from a seed.
- :class:`ImageData`: the DataModule: the shapes rendered in memory from the seed on first use, or the
  digits bundled with scikit-learn (no file, no download either way).
- :class:`ImageClassificationModule`: cross-entropy training of a registered image classifier (``vir``,
  ``vit``); test logs the majority-class and chance accuracies beside it and, with ``test_image_size``,
  the same test images upscaled and classified in ``test_form`` (ViR's chunkwise or recurrent form:
  the high-resolution inference path whose memory is flat in the number of tokens).

The set (Hatamizadeh et al. 2023 use ImageNet; the issue asks for an embedded set): 10 classes, one
of the five shapes of :data:`recur_vision.data.render.SHAPES` drawn once or twice
(``"1 circle"`` ... ``"2 plus"``), each copy with its own colour, size, rotation and position, on a
random textured background (:func:`~recur_vision.data.render.textured_background`). Telling the
shape needs the pixels of one patch neighbourhood; telling one copy from two needs the whole image,
which a causal retention network sees only in its last token (where ViR reads its class token) or in
the mean of its tokens (``pool="avg"``, what the ``vir/classify`` recipe reads).
The images are rendered at ``render_size`` and upscaled bilinearly to ``image_size``.

The second set (``dataset="digits"``): scikit-learn's bundled handwritten digits
(:func:`sklearn.datasets.load_digits`, the UCI optical digits test set: 1,797 grey 8 x 8 images, 10
classes, pixel values 0..16), split once by a permutation drawn from ``seed`` into
:data:`DIGITS_SPLIT_SIZES` (1,257 train / 180 val / 360 test), the grey channel repeated to three and
upscaled bilinearly to ``image_size`` as the shapes are (64 px with patch 8: one token per original pixel).
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.engine import RecurModule, Split, SplitDataModule, check_data_matches
from recur_core.registry import get_model
from recur_vision.task import classification_loss, majority_accuracy

__all__ = [
    "DIGITS_SPLIT_SIZES",
    "SHAPE_CLASSES",
    "ImageClassificationModule",
    "ImageData",
    "ShapeImages",
    "render_shape_image",
]


def _shape_classes() -> tuple[str, ...]:
    from recur_vision.data.render import SHAPES

    return tuple(f"{count} {shape}" for count in (1, 2) for shape in SHAPES)


# "1 circle", ..., "1 plus", "2 circle", ..., "2 plus": label = (count - 1) * 5 + shape index
SHAPE_CLASSES: tuple[str, ...] = _shape_classes()
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
# the 1,797 digits split 70 / 10 / 20
DIGITS_SPLIT_SIZES: dict[str, int] = {"train": 1257, "val": 180, "test": 360}


def render_shape_image(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    """The image of class ``label`` (:data:`SHAPE_CLASSES`) at ``size`` x ``size``, drawn from ``rng``.

    Returns:
        float32 ``[size, size, 3]`` in [0, 1].
    """
    from recur_vision.data.render import SHAPES, composite, shape_alpha, textured_background

    shape, count = SHAPES[label % len(SHAPES)], label // len(SHAPES) + 1
    image = textured_background(rng, size, size)
    grid = np.arange(size, dtype=np.float32) + 0.5
    xs, ys = np.meshgrid(grid, grid)
    placed: list[tuple[float, float, float]] = []
    for _ in range(count):
        radius = float(rng.uniform(0.13, 0.2) * size)
        # copies do not touch (a touching pair would read as one blob); 50 tries leave a miss ~0.6^50 likely
        for _ in range(50):
            cx, cy = rng.uniform(radius, size - radius, size=2)
            if all(np.hypot(cx - x, cy - y) > radius + r + 1.0 for x, y, r in placed):
                break
        placed.append((float(cx), float(cy), radius))
        # a colour far from the background under the shape, so that the shape always shows
        under = image[int(cy), int(cx)]
        colour = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
        if np.abs(colour - under).sum() < 0.9:
            colour = np.where(under > 0.5, rng.uniform(0.0, 0.2, 3), rng.uniform(0.8, 1.0, 3)).astype(np.float32)
        alpha = shape_alpha(shape, xs, ys, cx, cy, radius, rng.uniform(0.0, 2 * np.pi))
        composite(image, alpha, colour)
    return image


class ShapeImages(Dataset):
    """One split of the image set: ``(image [3, S, S] float in [-1, 1], label)`` items.

    Args:
        images: ``uint8 [N, 3, S, S]``.
        labels: ``int64 [N]``, indices into the data's ``classes``.
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index].float() / 127.5 - 1.0, self.labels[index]


class ImageData(SplitDataModule):
    """The embedded image set (module docstring): rendered shapes or sklearn digits, 10 classes.

    Shapes: item ``i`` of a split is drawn from ``(seed, split, i)`` alone, so a split is the same in
    every process and run, whatever the other splits' sizes. Digits: the fixed split
    :data:`DIGITS_SPLIT_SIZES` of a permutation drawn from ``seed``. Batches: ``(images [B, 3, S, S]
    in [-1, 1], labels [B])``.

    Args:
        train_images, val_images, test_images: images per split (shapes; the digits split is fixed).
        render_size: side the shapes are drawn at (digits: always 8).
        image_size: side the images are upscaled to (bilinear; equal to the drawn side: as drawn).
        dataset: ``"shapes"`` (rendered) or ``"digits"`` (:func:`sklearn.datasets.load_digits`).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.

    Attributes:
        num_classes: 10; classes: :data:`SHAPE_CLASSES` or the digits ``"0"`` .. ``"9"``.
    """

    def __init__(
        self,
        train_images: int = 4000,
        val_images: int = 500,
        test_images: int = 1000,
        render_size: int = 32,
        image_size: int = 64,
        dataset: Literal["shapes", "digits"] = "shapes",
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if min(train_images, val_images, test_images) < 1:
            raise ValueError(
                f"every split needs at least one image, got train_images={train_images}, "
                f"val_images={val_images}, test_images={test_images}"
            )
        if dataset not in ("shapes", "digits"):
            raise ValueError(f"dataset must be 'shapes' or 'digits', got {dataset!r}")
        if dataset == "digits":
            render_size = 8
        elif render_size < 16:
            raise ValueError(f"need render_size >= 16 for the shapes, got {render_size}")
        if image_size < render_size:
            raise ValueError(
                f"need image_size >= render_size ({render_size} for the {dataset}), got {image_size}; "
                "the images are drawn at render_size and upscaled"
            )
        self.dataset_name = dataset
        if dataset == "digits":
            self.sizes = dict(DIGITS_SPLIT_SIZES)
            self.classes = tuple(str(digit) for digit in range(10))
        else:
            self.sizes = {"train": train_images, "val": val_images, "test": test_images}
            self.classes = SHAPE_CLASSES
        self.render_size, self.image_size = render_size, image_size
        self.num_classes = len(self.classes)

    def _digits(self, split: Split) -> tuple[np.ndarray, list[int]]:
        """The split's digits as float32 ``[N, 8, 8, 3]`` in [0, 1] and their labels."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        order = np.random.default_rng(self.seed).permutation(len(digits.target))
        start = sum(DIGITS_SPLIT_SIZES[s] for s in ("train", "val", "test")[: _SPLIT_CODE[split]])
        chosen = order[start : start + DIGITS_SPLIT_SIZES[split]]
        grey = (digits.images[chosen] / 16.0).astype(np.float32)
        return np.repeat(grey[..., None], 3, axis=-1), digits.target[chosen].tolist()

    def make_dataset(self, split: Split) -> ShapeImages:
        if self.dataset_name == "digits":
            stacked, labels = self._digits(split)
        else:
            labels, images = [], []
            for index in range(self.sizes[split]):
                rng = np.random.default_rng([self.seed, _SPLIT_CODE[split], index])
                label = int(rng.integers(self.num_classes))
                labels.append(label)
                images.append(render_shape_image(rng, label, self.render_size))
            stacked = np.stack(images)
        pixels = torch.from_numpy(stacked).permute(0, 3, 1, 2)
        if self.image_size != self.render_size:
            pixels = F.interpolate(pixels, size=self.image_size, mode="bilinear", align_corners=False)
        pixels = (pixels * 255.0).round().clamp(0, 255).to(torch.uint8).contiguous()
        return ShapeImages(pixels, torch.tensor(labels, dtype=torch.long))


class ImageClassificationModule(RecurModule):
    """Image classification with a registered model: ViR (``vir``) or its same-size ViT (``vit``).

    The model is built as ``get_model(model, num_classes=C, image_size=S, **model_kwargs)`` and trained
    with the cross-entropy of its logits. Logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``
    (picks the best checkpoint) and ``test/loss``, ``test/acc``; test also logs ``test/acc_majority``
    (always the most frequent training class) and ``test/acc_chance`` (1 / C).

    High-resolution inference: with ``test_image_size`` (a multiple of the patch size), test also
    upscales every test image to that side (bilinear) and logs ``test/acc_<side>px``, computed in
    ``test_form``. The model resamples its position table to the larger grid (bicubic, as timm). ViR's
    ``"chunkwise"`` form runs ``chunk_size`` tokens at a time through all blocks, carrying each block's
    retention state, so the blocks' memory does not grow with the token count (``"recurrent"``: one
    token at a time); all of ViR's forms give the same logits. A model without forms (ViT) runs
    ``"parallel"`` only: full attention over every token.

    Args:
        model: registered model name (``vir``, ``vit``).
        model_kwargs: its own options (``{"size": "mini", "patch_size": 8}``, ``{"layer": "gla"}``, ...).
        num_classes: C; must equal the data's.
        image_size: the side the model is built for; must equal the data's.
        test_image_size: side of the high-resolution test (None: none).
        test_form: the form of the high-resolution test (``"parallel"``, ``"chunkwise"``, ``"recurrent"``).
        chunk_size: tokens per chunk of the chunkwise form.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "vir",
        model_kwargs: dict[str, Any] | None = None,
        num_classes: int = 10,
        image_size: int = 64,
        test_image_size: int | None = None,
        test_form: Literal["parallel", "chunkwise", "recurrent"] = "chunkwise",
        chunk_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of tokens, got {chunk_size}")
        self.save_hyperparameters()
        self.net = get_model(model, num_classes=num_classes, image_size=image_size, **(model_kwargs or {}))
        self._has_forms = "form" in inspect.signature(self.net.forward).parameters
        if test_form != "parallel" and not self._has_forms:
            raise ValueError(
                f"model {model!r} has no {test_form!r} form (only ViR has chunkwise/recurrent forms); "
                "set --model.test_form parallel"
            )
        patch = getattr(getattr(self.net, "config", None), "patch_size", 1)
        if test_image_size is not None and (test_image_size < patch or test_image_size % patch):
            raise ValueError(
                f"test_image_size must be a positive multiple of the patch size {patch}, got {test_image_size}"
            )

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("num_classes", "image_size"))

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images, labels = batch
        return classification_loss(self, self(images), labels, stage)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def high_resolution_logits(self, images: Tensor) -> Tensor:
        """Logits of ``images`` upscaled to ``test_image_size``, in ``test_form`` (``[B, C]``)."""
        side = self.hparams.test_image_size
        large = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)
        if not self._has_forms:
            return self.net(large)
        return self.net(large, form=self.hparams.test_form, chunk_size=self.hparams.chunk_size)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")
        side = self.hparams.test_image_size
        if side is None:
            return
        images, labels = batch
        accuracy = (self.high_resolution_logits(images).argmax(-1) == labels).float().mean()
        self.log(f"test/acc_{side}px", accuracy, on_step=False, on_epoch=True, batch_size=len(labels))

    def on_test_epoch_end(self) -> None:
        self.log("test/acc_chance", 1.0 / self.hparams.num_classes)
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and hasattr(data, "dataset"):
            train, test = data.dataset("train"), data.dataset("test")
            if hasattr(train, "labels") and hasattr(test, "labels"):
                self.log("test/acc_majority", majority_accuracy(train.labels, test.labels))

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The predicted class of each image ``[B]``."""
        return self(batch[0]).argmax(-1)
