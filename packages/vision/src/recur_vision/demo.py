"""``recur demo vision``: every model of the member beside its baseline, on tiny generated data, in about a minute.

Everything is generated on the spot or once under the user cache (no data, no download). Each part trains its
model and its baseline with the package's own LightningModule and a Lightning Trainer, as the CLI does, tests both
on held-out data, and prints the numbers beside each other with which is ahead; none is claimed in advance.

1. **Videos of one time-reversed pair** (``MoveLeft`` / ``MoveRight`` of
   :mod:`recur_vision.data.generated_video`: a ``MoveRight`` video is a ``MoveLeft`` video played
   backwards, so every frame of one class could be a frame of the other and a model that ignores
   the order of frames cannot beat 50%), 300 training and 60 test videos of 16 frames at 32 x 32. Each
   rendered ``MoveLeft`` video is also the ``MoveRight`` video (played backwards): appearance is no clue
   at all, and a model blind to the order scores both videos of a pair alike, exactly 50%.

   a. LRCN (Donahue et al. 2015, https://arxiv.org/abs/1411.4389; ``lrcn``, LSTM head) beside its
      single-frame network (``lrcn_single_frame``), both trained from pixels for 3 epochs
      (:class:`~recur_vision.task.VideoClassificationModule`); also each model on the test clips with
      their frames shuffled, where LRCN would lose what the order gives it. The single-frame network
      stays at chance, as the pair is built for. LRCN does not learn the direction from pixels in
      this budget either (the demo's setting: 0.50, and 0.50 with shuffled frames, 3 epochs; before the
      videos were paired, 5 epochs: 0.58 and 0.58; other settings tried then:
      16 or 8 frames, 24 or 32 px, CNN widths 8-16-32 to 32-64-128, fc6 and LSTM 64 or 128, 5 to 10
      epochs, batch 8 or 16, lr 1e-3 to 1e-2, one seed each: 0.42-0.58 on the 60 test videos). Why, from
      probes on these videos (plain PyTorch loops, one seed each, 2026-12-04):

      - with each training video in one direction only, both networks *memorise* the training videos'
        backgrounds: training accuracy climbs (LRCN on 4-frame clips: 0.95 after 20 epochs, the
        single-frame network 0.75 after 6) while the test accuracy equals the shuffled-frames score at
        every epoch (LRCN 0.65 and 0.65 at the end): what it learned is appearance, not order;
      - with every training video used in both directions (nothing left to memorise), LRCN stays at
        exactly 0.50, training and test, for 6 to 40 epochs of 16-, 8- or 4-frame clips, for this pair
        and for ``Grow`` / ``Shrink``, and so does an LSTM head on the frozen random CNN's features
        (15 epochs); the same LRCN learns a brightness ramp and its reversal in one epoch.

      A small object's displacement in the per-frame features of a CNN that starts at random is too
      faint a signal for the head's gradient to find in a few hundred steps; the recipes
      ``lrcn/single_frame`` then ``lrcn/activity`` (2,730 videos of 13 classes, 12 epochs, minutes) reach
      0.748 against the single-frame network's 0.208; there a single frame does say something (which of
      the six pairs, or ``Bounce``), a signal that can teach the CNN to find the objects before the order
      matters (our reading, not measured). Part 1b shows a recurrent head reading the order.
   b. TS-LSTM (Ma et al. 2019, https://arxiv.org/abs/1703.10667; ``tslstm``) beside the mean-pool
      model (``mean_pool``) and the mean-pool logistic-regression probe, on per-frame features of
      the same videos from the small frame CNN, randomly initialised
      (:func:`~recur_vision.extract.frame_feature_extractor`, :class:`~recur_vision.task.FeatureClassificationModule`).

2. **Captions** of the generated shape scenes (:mod:`recur_vision.data.generated_captions`): the LRCN
   captioner (``lrcn_captioner``, LSTM layers, a frozen random CNN; :class:`~recur_vision.task.CaptioningModule`)
   trained for a few hundred steps; greedy and beam-search captions of a few test scenes beside their
   references, and BLEU-4 / CIDEr of both beside the nearest-neighbour caption baseline.

3. **The controlled caption attack** (Aafaq et al. 2021, https://arxiv.org/abs/2107.03050;
   :class:`~recur_vision.task.CaptionAttackModule`) against that captioner for two epochs, beside random
   sign noise of the same ε and the clean images: exact and keyword success of the target caption, and
   the feature distance the attack lowers. Two epochs are far from the full training
   (``tools/repro/caption_attack.py``).

4. **Lanes**: SCNN (Pan et al. 2018, https://arxiv.org/abs/1712.06080; :class:`~recur_vision.lanes.LaneDetectionModule`)
   beside the same network without message passing, on generated roads in the TuSimple layout,
   scored with the official TuSimple accuracy / FP / FN and on the occluded and dashed lanes. At this size
   (120 frames at 72 x 40, 4 epochs, ~2 s a network) neither network finds lanes yet (a measured run: accuracy
   0.45 for both, FP and FN 1.00); ``tools/repro/scnn.py`` trains the recipe.

5. **Remote-sensing VQA**: RSVQA (Lobry et al. 2020, https://arxiv.org/abs/2003.07333;
   :class:`~recur_vision.vqa.VQAModule`, a ViR image branch) beside its question-only model and the
   question prior (the language bias), per question type, on generated tiles in the RSVQA layout. A
   few-second fit does not get past the language bias (a measured run: OA 0.61 against 0.62 for the
   question-only model and 0.63 for the prior); ``tools/repro/rsvqa.py`` trains the recipe.

6. **ViR** (Hatamizadeh et al. 2023, https://arxiv.org/abs/2310.19731;
   :class:`~recur_vision.classify.ImageClassificationModule`) beside the same-size ViT on the rendered
   shapes, and both on the test images at twice the side, ViR in its chunkwise form. In 3 epochs ViR has
   not left chance (a measured run: 0.07 against ViT's 0.16, chance 0.10); ``vir/classify`` and
   ``vit/classify`` train for 30 epochs.

``recur demo vision`` took 56.5 s of wall time (54 s by its own count, 49 s in the parts, 42 s of it in the
fits; 53.6 s of CPU) from an empty cache (every generated set written on the way), one thread, on a 2-core
machine where another job held the other core (load average 2.1), 2026-12-04 17:56 UTC; the run before the
pair was paired and LRCN's epochs cut from 5 to 3 took 67 s (load 2.4-2.7). Printed: LRCN 0.50 and the
single-frame network 0.50 (tied; both 0.50 with shuffled frames); TS-LSTM 0.80 against 0.50 for the mean-pool
model and its probe; the captioner's CIDEr 1.53 (beam) against the nearest neighbour's 1.42; the attack's exact
success 0.03 against 0.00 for noise; SCNN and the network without message passing both 0.45 (no lanes found);
RSVQA 0.60 against the question-only 0.62 and the prior 0.63; ViR 0.09 against ViT 0.16 (chance 0.10).
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.engine import SplitDataModule, quiet_trainer
from recur_vision.classify import ImageClassificationModule, ImageData
from recur_vision.data.generated_video import render_action_video
from recur_vision.datamodules import CaptionAttackData, CaptionData, FeatureMatrices, collate_video_clips
from recur_vision.extract import IMAGENET_MEAN, IMAGENET_STD, frame_feature_extractor
from recur_vision.lanes import LaneData, LaneDetectionModule
from recur_vision.task import (
    CaptionAttackModule,
    CaptioningModule,
    FeatureClassificationModule,
    VideoClassificationModule,
)
from recur_vision.vqa import RSVQAData, VQAModule

__all__ = [
    "PAIR",
    "main",
    "pair_splits",
    "pair_videos",
    "run_attack_demo",
    "run_caption_demo",
    "run_demo",
    "run_feature_demo",
    "run_lane_demo",
    "run_lrcn_demo",
    "run_vir_demo",
    "run_vqa_demo",
]

# one time-reversed pair of the generated action classes: label 0 and label 1
PAIR = ("MoveLeft", "MoveRight")
_TRAIN_SEED, _TEST_SEED = 0, 1
# the pair's videos (part 1): frames per clip, side in pixels, videos per class
FRAMES, FRAME_SIZE, TRAIN_PER_CLASS, TEST_PER_CLASS = 16, 32, 150, 30
LRCN_EPOCHS = 3
# training epochs of the demo's caption attack (13 batches of 16 pairs each)
ATTACK_EPOCHS = 2
CAPTION_STEPS = 300
# parts 4-6: SCNN's roads, RSVQA's tiles, the ViR/ViT images
ROAD_FRAMES, ROAD_EPOCHS = 120, 4
TILES, VQA_EPOCHS = 150, 4
IMAGES, IMAGE_EPOCHS = 2000, 3


class _Clips(Dataset):
    """``(clip [T, 3, H, W], label)`` of videos held in memory; ``labels`` for the majority baseline."""

    def __init__(self, clips: Tensor, labels: Tensor) -> None:
        self.clips, self.labels = clips, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.clips[index], int(self.labels[index])


class _Prepared(SplitDataModule):
    """A DataModule over datasets made beforehand (validation reads the test split, as the video recipes).

    ``attributes`` (``num_classes``, ``feature_dim``, ...) are set on it, so the tasks check the model against them.
    """

    def __init__(
        self,
        train: Dataset,
        test: Dataset,
        batch_size: int,
        collate: Callable[[list[Any]], Any] | None = None,
        **attributes: Any,
    ) -> None:
        super().__init__(batch_size=batch_size)
        self._made = {"train": train, "val": test, "test": test}
        self._collate = collate
        for name, value in attributes.items():
            setattr(self, name, value)

    def make_dataset(self, split: str) -> Dataset:
        return self._made[split]

    def collate_fn(self) -> Callable[[list[Any]], Any] | None:
        return self._collate


def pair_videos(per_class: int, seed: int, frames: int = FRAMES, size: int = FRAME_SIZE) -> tuple[Tensor, Tensor]:
    """``per_class`` generated videos of each class of :data:`PAIR`, ImageNet-normalised as the video DataModules.

    Video ``k`` of both classes is rendered from ``default_rng([seed, k])``: the ``MoveRight`` video is the
    ``MoveLeft`` video played backwards, so every video's appearance (background, shapes, colours) comes
    in both classes and memorising it gains nothing (with the classes drawn apart, both networks of part
    1a learned the training backgrounds instead of the order: the module docstring).

    Returns:
        clips float32 ``[2 * per_class, frames, 3, size, size]`` and labels int64 ``[2 * per_class]``.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    videos = [
        render_action_video(action, frames, size, np.random.default_rng([seed, k]))
        for action in PAIR
        for k in range(per_class)
    ]
    clips = torch.from_numpy(np.stack(videos)).permute(0, 1, 4, 2, 3).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1)
    labels = torch.arange(len(PAIR)).repeat_interleave(per_class)
    return (clips - mean) / std, labels


def _fit_and_test(
    module: L.LightningModule, data: L.LightningDataModule, save_to: Path | None = None, **trainer: Any
) -> dict[str, float]:
    """Fit ``module`` (no validation), save it to ``save_to`` if given, test it: test metrics and ``fit_seconds``."""
    run = quiet_trainer(num_sanity_val_steps=0, limit_val_batches=0, **trainer)
    start = time.perf_counter()
    run.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    if save_to is not None:
        run.save_checkpoint(save_to)
    scores = {k: float(v) for k, v in run.test(module, datamodule=data, verbose=False)[0].items()}
    return {**scores, "fit_seconds": seconds}


Videos = dict[str, tuple[Tensor, Tensor]]


def pair_splits(
    train_per_class: int = TRAIN_PER_CLASS,
    test_per_class: int = TEST_PER_CLASS,
    frames: int = FRAMES,
    size: int = FRAME_SIZE,
) -> Videos:
    """``{"train", "test"}``: :func:`pair_videos` of the training and the test seed (parts 1a and 1b read both)."""
    return {
        "train": pair_videos(train_per_class, _TRAIN_SEED, frames, size),
        "test": pair_videos(test_per_class, _TEST_SEED, frames, size),
    }


def run_lrcn_demo(
    videos: Videos, epochs: int = LRCN_EPOCHS, lr: float = 3e-3, cnn_channels: Sequence[int] = (16, 32, 64)
) -> dict[str, dict[str, float]]:
    """LRCN and its single-frame network, trained from pixels for ``epochs`` on ``videos["train"]``; tested on
    ``videos["test"]``.

    Both have the same per-frame CNN (``small`` with ``cnn_channels``, fc6 64 wide); LRCN's LSTM (64 units)
    reads the frames in order, the single-frame network averages its frames' softmax.

    Returns:
        ``{"LRCN": ..., "single frame": ...}``, each the test metrics (``test/acc``: video accuracy,
        ``test/acc_frames_shuffled``: the same model on the test clips with their frames shuffled,
        ``test/acc_majority``, ``test/acc_chance``) and ``fit_seconds``.
    """
    train, test = _Clips(*videos["train"]), _Clips(*videos["test"])
    small = {"fc6_dim": 64, "fc6_dropout": 0.2, "cnn_channels": list(cnn_channels)}
    models = {"LRCN": ("lrcn", {**small, "hidden": 64, "dropout": 0.2}), "single frame": ("lrcn_single_frame", small)}
    results = {}
    for name, (model, options) in models.items():
        L.seed_everything(0, verbose=False)
        data = _Prepared(train, test, batch_size=16, collate=collate_video_clips, num_classes=len(PAIR))
        module = VideoClassificationModule(model, options, num_classes=len(PAIR), lr=lr, scheduler="cosine")
        results[name] = _fit_and_test(module, data, max_epochs=epochs, gradient_clip_val=5)
    return results


def run_feature_demo(videos: Videos, epochs: int = 5, lr: float = 1e-3) -> dict[str, dict[str, float]]:
    """TS-LSTM and the mean-pool model on per-frame features of ``videos`` (random small CNN, seed 0).

    Returns:
        ``{"TS-LSTM": ..., "mean-pool": ...}``, each the test metrics (``test/acc``,
        ``test/acc_mean_pool_probe``, ``test/acc_majority``, ``test/acc_chance``) and ``fit_seconds``.
    """
    cnn = frame_feature_extractor("small", seed=0)
    splits = {}
    for split, (clips, labels) in videos.items():
        with torch.no_grad():
            features = cnn(clips.flatten(0, 1)).view(*clips.shape[:2], -1)
        # FeatureMatrices hold [N, D, T]
        splits[split] = FeatureMatrices(features.transpose(1, 2).contiguous(), labels)
    feature_dim, frames = splits["train"].features.shape[1:]
    models = {"TS-LSTM": ("tslstm", {"hidden": 64}), "mean-pool": ("mean_pool", {})}
    results = {}
    for name, (model, options) in models.items():
        L.seed_everything(0, verbose=False)
        sizes = dict(feature_dim=feature_dim, num_frames=frames, num_classes=len(PAIR))
        data = _Prepared(splits["train"], splits["test"], batch_size=16, **sizes)
        module = FeatureClassificationModule(model, options, **sizes, lr=lr)
        results[name] = _fit_and_test(module, data, max_epochs=epochs, gradient_clip_val=5)
    return results


# the generated caption scenes of the demo (the captioner's and the attack's)
_SCENES = dict(train_images=200, val_images=2, test_images=40, image_size=32)


def run_caption_demo(steps: int = CAPTION_STEPS, shown: int = 3, save_to: Path | None = None) -> dict[str, Any]:
    """The LRCN captioner (width 64, frozen random CNN) trained for ``steps`` on generated 32 x 32 scenes.

    ``save_to``: where to save the trained captioner's checkpoint (for :func:`run_attack_demo`); None: nowhere.

    Returns:
        ``scores``: the test metrics (``test/bleu4``, ``test/cider`` greedy; ``_beam``: beam search,
        k = 3; ``_nn``: the nearest-neighbour caption baseline) and ``fit_seconds``; ``samples``: for
        the first ``shown`` test scenes, their references and the greedy and beam captions.
    """
    L.seed_everything(0, verbose=False)
    data = CaptionData(**_SCENES, min_count=1, batch_size=16)
    width = 64
    module = CaptioningModule(
        vocab_size=data.vocab_size,
        d_model=width,
        feature_dim=width,
        encoder_kwargs={"channels": [16, 32, 32, 32], "hidden": width, "dropout": 0.0},
        freeze_encoder=True,
        static_init=0.5,
        beam_size=3,
        meteor=False,
        samples=0,
        lr=1e-2,
        scheduler="cosine",
        warmup_steps=20,
    )
    # the test writes captions_test.json into the trainer's folder: a temporary one
    with tempfile.TemporaryDirectory() as folder:
        scores = _fit_and_test(module, data, save_to, max_steps=steps, gradient_clip_val=10, default_root_dir=folder)
    test = data.dataset("test")
    module.eval()
    with torch.no_grad():
        images = torch.stack([test.image(i) for i in range(shown)])
        features = module.net.encode(images)
        greedy = module.decode(module.net.greedy(features).tokens)
        beam = module.decode(module.net.beam_search(features, beam_size=3).tokens)
    samples = [{"references": test.references(i), "greedy": greedy[i], "beam": beam[i]} for i in range(shown)]
    return {"scores": scores, "samples": samples}


def run_attack_demo(victim: Path, epochs: int = ATTACK_EPOCHS, epsilon: float = 32 / 255) -> dict[str, float]:
    """``epochs`` of the controlled caption attack on the captioner saved at ``victim``, on the same scenes.

    Aafaq et al. 2021 (https://arxiv.org/abs/2107.03050), :class:`~recur_vision.task.CaptionAttackModule`
    with a small generator and discriminator; each batch takes one discriminator and one generator step.

    Returns:
        the test metrics over the fixed test pairs (``test/exact``, ``test/keyword1``, the same with
        ``_noise``: random sign noise of the same ε, ``_clean``: the clean image's caption;
        ``test/linf``, ``test/l2``) and ``fit_seconds``.
    """
    L.seed_everything(0, verbose=False)
    data = CaptionAttackData(**_SCENES, batch_size=16)
    size = _SCENES["image_size"]
    module = CaptionAttackModule(
        victim=str(victim),
        epsilon=epsilon,
        generator_kwargs={"channels": [8, 16, 32], "residual_blocks": 1, "image_size": size},
        discriminator_kwargs={"channels": [8, 16], "image_size": size},
        samples=0,
        lr=2e-3,
    )
    with tempfile.TemporaryDirectory() as folder:
        return _fit_and_test(module, data, max_epochs=epochs, default_root_dir=folder)


# the generated roads of part 4: frames drawn at 72 x 128, the network's input 40 x 72 (a 5 x 9 map)
_ROADS = dict(frame_size=(72, 128), image_size=(40, 72), lane_width=30)
_SCNN_SIZE = dict(backbone="vgg16_bn", width=0.0625, neck_channels=32, channels=16, existence_hidden=16)


def run_lane_demo(
    train_frames: int = ROAD_FRAMES, test_frames: int = 40, epochs: int = ROAD_EPOCHS, lr: float = 3e-3
) -> dict[str, dict[str, float]]:
    """SCNN (Pan et al. 2018) and the same network without message passing, on generated roads.

    :class:`~recur_vision.lanes.LaneDetectionModule` with ``scnn`` (VGG16-BN at 1/16 width, its DULR
    passes on the 5 x 9 map) and ``message_passing="none"``, trained for ``epochs`` on ``train_frames``
    roads of :class:`~recur_vision.lanes.LaneData` (written once under the cache in the TuSimple layout).

    Returns:
        ``{"SCNN": ..., "no message passing": ...}``, each the test metrics (the official TuSimple
        ``test/acc``, ``test/fp``, ``test/fn``; lane accuracy of the ``occluded`` / ``visible``,
        ``dashed`` / ``solid`` lanes: ``test/acc_occluded``, ...) and ``fit_seconds``.
    """
    data = LaneData(train_frames=train_frames, val_frames=1, test_frames=test_frames, batch_size=8, **_ROADS)
    results = {}
    for name, passing in (("SCNN", "scnn"), ("no message passing", "none")):
        L.seed_everything(0, verbose=False)
        options = {**_SCNN_SIZE, "message_passing": passing}
        module = LaneDetectionModule(
            "scnn", options, image_size=_ROADS["image_size"], lr=lr, scheduler="cosine", baselines=[]
        )
        # the test writes lanes_test.json into the trainer's folder: a temporary one
        with tempfile.TemporaryDirectory() as folder:
            results[name] = _fit_and_test(module, data, max_epochs=epochs, default_root_dir=folder)
    return results


# RSVQA's tiles of part 5 (rsvqa/synthetic's question mix, at 32 x 32)
_TILES = dict(
    tile_size=32, questions_per_tile=20, type_weights={"presence": 0.3, "comp": 0.25, "count": 0.25, "area": 0.2}
)


def run_vqa_demo(
    train_tiles: int = TILES, test_tiles: int = 40, epochs: int = VQA_EPOCHS, lr: float = 3e-3
) -> dict[str, dict[str, float]]:
    """RSVQA (Lobry et al. 2020) and its question-only baseline on generated remote-sensing tiles.

    :class:`~recur_vision.vqa.VQAModule` with ``rsvqa`` (a ViR image branch, a GRU question encoder,
    product fusion) and ``rsvqa_question_only`` (the same without the image), trained for ``epochs``
    on ``train_tiles`` tiles of :class:`~recur_vision.vqa.RSVQAData` (20 questions each).

    Returns:
        ``{"RSVQA": ..., "question only": ...}``, each the test metrics (``test/oa``, ``test/aa``,
        ``test/acc_<type>``; ``test/oa_question_prior``: each question's most frequent training
        answer) and ``fit_seconds``.
    """
    data = RSVQAData(train_tiles=train_tiles, val_tiles=1, test_tiles=test_tiles, batch_size=8, **_TILES)
    sizes = dict(vocab_size=data.vocab_size, num_answers=data.num_answers, image_size=_TILES["tile_size"])
    branches = dict(question_dim=64, fusion_dim=64, hidden_dim=64, dropout=0.1)
    image = dict(backbone="vir", backbone_kwargs={"size": "mini", "patch_size": 8})
    results = {}
    for name, model, options in (
        ("RSVQA", "rsvqa", {**branches, **image}),
        ("question only", "rsvqa_question_only", branches),
    ):
        L.seed_everything(0, verbose=False)
        module = VQAModule(model, options, **sizes, lr=lr, scheduler="cosine")
        results[name] = _fit_and_test(module, data, max_epochs=epochs, gradient_clip_val=5)
    return results


# the rendered shapes of part 6, drawn at 16 x 16 (10 classes: one or two of five shapes)
_IMAGE_SIZE, _PATCH = 16, 4


def run_vir_demo(
    train_images: int = IMAGES, test_images: int = 300, epochs: int = IMAGE_EPOCHS, lr: float = 3e-3
) -> dict[str, dict[str, float]]:
    """ViR (Hatamizadeh et al. 2023) and the same-size ViT as image classifiers of the rendered shapes.

    :class:`~recur_vision.classify.ImageClassificationModule` with ``vir`` and ``vit`` (``mini``: width 64,
    depth 2, patch 4 on 16 x 16 images), trained for ``epochs`` on ``train_images``; the test images are
    also upscaled to twice the side (64 tokens), ViR run in its chunkwise form (16 tokens at a time).

    Returns:
        ``{"ViR": ..., "ViT": ...}``, each the test metrics (``test/acc``, ``test/acc_32px``,
        ``test/acc_chance``, ``test/acc_majority``) and ``fit_seconds``.
    """
    size = _IMAGE_SIZE
    data = ImageData(train_images, 1, test_images, render_size=size, image_size=size, batch_size=32)
    results = {}
    for name, model, form in (("ViR", "vir", "chunkwise"), ("ViT", "vit", "parallel")):
        L.seed_everything(0, verbose=False)
        module = ImageClassificationModule(
            model,
            {"size": "mini", "patch_size": _PATCH},
            num_classes=data.num_classes,
            image_size=size,
            test_image_size=2 * size,
            test_form=form,
            chunk_size=16,
            lr=lr,
            warmup_steps=10,
            scheduler="cosine",
        )
        results[name] = _fit_and_test(module, data, max_epochs=epochs, gradient_clip_val=1)
    return results


def run_demo(report: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """All parts, in order: ``{"lrcn", "features", "captions", "attack", "lanes", "vqa", "vir"}`` (see each
    ``run_*_demo``); ``report(part, result)`` is called as each part ends."""
    results: dict[str, Any] = {}

    def done(part: str, result: Any) -> None:
        results[part] = result
        if report is not None:
            report(part, result)

    videos = pair_splits()
    done("lrcn", run_lrcn_demo(videos))
    done("features", run_feature_demo(videos))
    with tempfile.TemporaryDirectory() as folder:
        victim = Path(folder) / "captioner.ckpt"
        done("captions", run_caption_demo(save_to=victim))
        done("attack", run_attack_demo(victim))
    done("lanes", run_lane_demo())
    done("vqa", run_vqa_demo())
    done("vir", run_vir_demo())
    return results


def _ahead(model: float, baseline: float, names: Sequence[str]) -> str:
    """Which of two scores is ahead, as the tables print them (two decimals)."""
    gap = round(model, 2) - round(baseline, 2)
    if abs(gap) < 0.005:
        return "tied"
    return f"{names[0] if gap > 0 else names[1]} ahead by {abs(gap):.2f}"


def _print_lrcn(lrcn: dict[str, dict[str, float]]) -> None:
    print(f"{' / '.join(PAIR)}: the same frames in opposite orders, so ignoring the order gives 50%")
    print(
        f"\n1a. from pixels ({FRAME_SIZE} x {FRAME_SIZE}, {FRAMES} frames, {2 * TRAIN_PER_CLASS} training videos): "
        "video accuracy on new videos"
    )
    print(f"{'model':<14} {'accuracy':>8} {'frames shuffled':>15} {'fit s':>6}")
    for name in ("LRCN", "single frame"):
        scores = lrcn[name]
        print(
            f"{name:<14} {scores['test/acc']:>8.2f} {scores['test/acc_frames_shuffled']:>15.2f} "
            f"{scores['fit_seconds']:>6.1f}"
        )
    print(f"{'chance':<14} {lrcn['LRCN']['test/acc_chance']:>8.2f}")
    model, baseline = lrcn["LRCN"]["test/acc"], lrcn["single frame"]["test/acc"]
    print(f"    {_ahead(model, baseline, ('LRCN', 'single frame'))}")
    order = model - lrcn["LRCN"]["test/acc_frames_shuffled"]
    print(f"    frames shuffled: the test clips with their frames in a random order; LRCN loses {order:.2f} there")
    if order < 0.1 or model - baseline < 0.1:
        print(
            "    LRCN has not learned the direction: a few seconds from a random CNN are not enough (the module "
            "docstring says why;\n    the lrcn/single_frame then lrcn/activity recipes train for minutes); 1b shows "
            "a recurrent head reading the order"
        )


def _print_features(features: dict[str, dict[str, float]]) -> None:
    print("\n1b. from per-frame features of a random small CNN (the same videos): video accuracy on new videos")
    print(f"{'model':<16} {'accuracy':>8} {'fit s':>6}")
    for name in ("TS-LSTM", "mean-pool"):
        print(f"{name:<16} {features[name]['test/acc']:>8.2f} {features[name]['fit_seconds']:>6.1f}")
    ts = features["TS-LSTM"]
    print(f"{'mean-pool probe':<16} {ts['test/acc_mean_pool_probe']:>8.2f}")
    print(f"{'chance':<16} {ts['test/acc_chance']:>8.2f}")
    best_pool = max(features["mean-pool"]["test/acc"], ts["test/acc_mean_pool_probe"])
    print(f"    {_ahead(ts['test/acc'], best_pool, ('TS-LSTM', 'mean-pool'))}")


def _print_captions(captions: dict[str, Any]) -> None:
    scores = captions["scores"]
    print(f"\n2. LRCN captioner on generated 32 x 32 scenes ({CAPTION_STEPS} steps): test scores")
    print(f"{'captions':<18} {'BLEU-4':>7} {'CIDEr':>7}")
    for label, suffix in (("greedy", ""), ("beam k=3", "_beam"), ("nearest neighbour", "_nn")):
        print(f"{label:<18} {scores[f'test/bleu4{suffix}']:>7.3f} {scores[f'test/cider{suffix}']:>7.3f}")
    best = max(scores["test/cider"], scores["test/cider_beam"])
    print(f"    CIDEr: {_ahead(best, scores['test/cider_nn'], ('captioner', 'nearest neighbour'))} at this size")
    for i, sample in enumerate(captions["samples"]):
        print(f"scene {i}: reference  {sample['references'][0]}")
        print(f"         greedy     {sample['greedy']}")
        print(f"         beam k=3   {sample['beam']}")


def _print_attack(attack: dict[str, float]) -> None:
    print(f"\n3. the controlled caption attack, {ATTACK_EPOCHS} epochs against that captioner (eps 32/255): test pairs")
    print(f"{'images':<20} {'exact':>6} {'keyword':>8} {'feature distance':>17}")
    for label, suffix in (("adversarial", ""), ("random sign noise", "_noise"), ("clean", "_clean")):
        exact, keyword, mimic = (attack[f"test/{m}{suffix}"] for m in ("exact", "keyword1", "mimic"))
        print(f"{label:<20} {exact:>6.2f} {keyword:>8.2f} {mimic:>17.3f}")
    print(
        "    exact: the victim's caption is the target image's; keyword: it holds a word of that caption, drawn at "
        "random\n    among those the clean caption lacks; feature distance: mean squared gap between the image's "
        "feature and the target's (what the attack lowers)"
    )


def _print_lanes(lanes: dict[str, dict[str, float]]) -> None:
    height, width = _ROADS["image_size"]
    print(
        f"\n4. SCNN lane detection on generated roads ({ROAD_FRAMES} training frames at {width} x {height}, "
        f"{ROAD_EPOCHS} epochs): official TuSimple scores of the test frames"
    )
    print(f"{'network':<20} {'accuracy':>8} {'FP':>5} {'FN':>5} {'occluded':>8} {'dashed':>7} {'fit s':>6}")
    for name in ("SCNN", "no message passing"):
        r = lanes[name]
        columns = [("acc", 8), ("fp", 5), ("fn", 5), ("acc_occluded", 8), ("acc_dashed", 7)]
        scores = " ".join(f"{r.get(f'test/{k}', float('nan')):>{w}.2f}" for k, w in columns)
        print(f"{name:<20} {scores} {r['fit_seconds']:>6.1f}")
    model, baseline = lanes["SCNN"]["test/acc"], lanes["no message passing"]["test/acc"]
    print(f"    {_ahead(model, baseline, ('SCNN', 'no message passing'))}")


def _print_vqa(vqa: dict[str, dict[str, float]]) -> None:
    print(
        f"\n5. RSVQA on generated remote-sensing tiles ({TILES} training tiles, 20 questions each, {VQA_EPOCHS} "
        "epochs): test accuracy"
    )
    model = vqa["RSVQA"]
    # the question types: their accuracies come with the question prior's
    types = [k.removeprefix("test/acc_") for k in model if k.startswith("test/acc_") and f"{k}_question_prior" in model]
    print(f"{'model':<18} {'OA':>5} {'AA':>5} " + " ".join(f"{t:>11}" for t in types) + f" {'fit s':>6}")
    rows = [(name, vqa[name], "") for name in ("RSVQA", "question only")] + [
        ("question prior", model, "_question_prior")
    ]
    for name, r, suffix in rows:
        per_type = " ".join(f"{r[f'test/acc_{t}{suffix}']:>11.2f}" for t in types)
        fit = f" {r['fit_seconds']:>6.1f}" if not suffix else ""
        print(f"{name:<18} {r[f'test/oa{suffix}']:>5.2f} {r[f'test/aa{suffix}']:>5.2f} {per_type}{fit}")
    best = max(vqa["question only"]["test/oa"], model["test/oa_question_prior"])
    print(f"    OA: {_ahead(model['test/oa'], best, ('RSVQA', 'the question alone'))}")


def _print_vir(vir: dict[str, dict[str, float]]) -> None:
    side = 2 * _IMAGE_SIZE
    print(
        f"\n6. ViR beside the same-size ViT on rendered shapes ({IMAGES} training images of {_IMAGE_SIZE} x "
        f"{_IMAGE_SIZE}, {IMAGE_EPOCHS} epochs): test accuracy"
    )
    print(f"{'model':<6} {'accuracy':>8} {f'at {side} x {side}':>10} {'fit s':>6}")
    for name in ("ViR", "ViT"):
        r = vir[name]
        print(f"{name:<6} {r['test/acc']:>8.2f} {r[f'test/acc_{side}px']:>10.2f} {r['fit_seconds']:>6.1f}")
    print(f"{'chance':<6} {vir['ViR']['test/acc_chance']:>8.2f}")
    print(f"    {_ahead(vir['ViR']['test/acc'], vir['ViT']['test/acc'], ('ViR', 'ViT'))}")
    print(
        f"    at {side} x {side}: the test images upscaled, ViR run chunkwise (16 tokens at a time, memory flat in the "
        "token count), ViT with full attention"
    )


_PRINTERS: dict[str, Callable[[Any], None]] = {
    "lrcn": _print_lrcn,
    "features": _print_features,
    "captions": _print_captions,
    "attack": _print_attack,
    "lanes": _print_lanes,
    "vqa": _print_vqa,
    "vir": _print_vir,
}


def main() -> dict[str, Any]:
    """Run every part, printing each one's table as it ends; returns :func:`run_demo`'s results."""
    start = time.perf_counter()
    # small models: two threads on a shared 2-core machine mostly wait for each other
    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    fits = 0.0

    def report(part: str, result: Any) -> None:
        nonlocal fits
        _PRINTERS[part](result)
        rows = [result["scores"]] if part == "captions" else [result] if part == "attack" else result.values()
        fits += sum(r["fit_seconds"] for r in rows)

    with warnings.catch_warnings():
        # deprecation warnings Lightning and torchdata raise inside their own code would bury the tables
        warnings.filterwarnings("ignore", module=r"(lightning|torchdata)\.")
        results = run_demo(report)
    print(f"\n(fits {fits:.0f} s; demo {time.perf_counter() - start:.0f} s)")
    return results
