"""``recur demo vision``: LRCN, TS-LSTM, the LRCN captioner and the caption attack on tiny generated data.

Everything is generated on the spot (no data, no download) and small enough for a CPU in about a minute.

1. **Videos of one time-reversed pair** (``MoveLeft`` / ``MoveRight`` of
   :mod:`recur_vision.data.generated_video`: a ``MoveRight`` video is a ``MoveLeft`` video played
   backwards, so every frame of one class could be a frame of the other and a model that ignores
   the order of frames cannot beat 50%).

   a. LRCN (Donahue et al. 2015, https://arxiv.org/abs/1411.4389; ``lrcn``, LSTM head) beside its
      single-frame network (``lrcn_single_frame``), both trained from pixels for a few epochs on a
      few dozen clips. At this size neither has learned the direction yet: the recipes
      ``lrcn/single_frame`` then ``lrcn/activity`` train for minutes. The demo prints the numbers
      as they come and claims nothing.
   b. TS-LSTM (Ma et al. 2019, https://arxiv.org/abs/1703.10667; ``tslstm``) beside the mean-pool
      model (``mean_pool``) and the mean-pool logistic-regression probe, on per-frame features of
      the same kind of videos from the small frame CNN, randomly initialised
      (:func:`~recur_vision.extract.frame_feature_extractor`): the recurrent model reads the order,
      the mean-pool models cannot.

2. **Captions** of the generated shape scenes (:mod:`recur_vision.data.generated_captions`): the LRCN
   captioner (``lrcn_captioner``, LSTM layers, a frozen random CNN) trained for a few hundred steps;
   greedy and beam-search captions of a few test scenes beside their references, and BLEU-4 / CIDEr
   of both beside the nearest-neighbour caption baseline; at this size the two are close, and the
   demo prints which is ahead rather than claiming either.

3. **The controlled caption attack** (Aafaq et al. 2021, https://arxiv.org/abs/2107.03050;
   ``caption_attack_generator``) against that captioner for two epochs, beside random sign noise of
   the same ε and the clean images: exact and keyword success of the target caption, and the
   feature distance the attack lowers. Two epochs are far from the full training
   (``tools/repro/caption_attack.py``): the demo prints the numbers and claims nothing.

Models are trained by the package's own LightningModules (:class:`~recur_vision.task.VideoClassificationModule`,
:class:`~recur_vision.task.FeatureClassificationModule`, :class:`~recur_vision.task.CaptioningModule`,
:class:`~recur_vision.task.CaptionAttackModule`) with a Lightning Trainer, as the CLI does; the videos
are held in memory (:class:`_Prepared`), the caption scenes come from
:class:`~recur_vision.datamodules.CaptionData` / ``CaptionAttackData`` (written once under the user
cache and reused). ``recur demo vision`` took 19-20 s of CPU time on one thread; 45 s and 66 s of
wall time in two runs on a 2-core machine that other jobs kept busy (load average 6-7), generated
data included.
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
from recur_vision.data.generated_video import render_action_video
from recur_vision.datamodules import CaptionAttackData, CaptionData, FeatureMatrices, collate_video_clips
from recur_vision.extract import IMAGENET_MEAN, IMAGENET_STD, frame_feature_extractor
from recur_vision.task import (
    CaptionAttackModule,
    CaptioningModule,
    FeatureClassificationModule,
    VideoClassificationModule,
)

__all__ = [
    "PAIR",
    "main",
    "pair_videos",
    "run_attack_demo",
    "run_caption_demo",
    "run_demo",
    "run_feature_demo",
    "run_lrcn_demo",
]

# one time-reversed pair of the generated action classes: label 0 and label 1
PAIR = ("MoveLeft", "MoveRight")
_TRAIN_SEED, _TEST_SEED = 0, 1
# training epochs of the demo's caption attack (13 batches of 16 pairs each)
ATTACK_EPOCHS = 2
CAPTION_STEPS = 300


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


def pair_videos(per_class: int, seed: int, frames: int = 16, size: int = 32) -> tuple[Tensor, Tensor]:
    """``per_class`` generated videos of each class of :data:`PAIR`, ImageNet-normalised as the video DataModules.

    Video ``k`` of class ``c`` is rendered from ``default_rng([seed, c, k])``.

    Returns:
        clips float32 ``[2 * per_class, frames, 3, size, size]`` and labels int64 ``[2 * per_class]``.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    videos = [
        render_action_video(action, frames, size, np.random.default_rng([seed, c, k]))
        for c, action in enumerate(PAIR)
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


def run_lrcn_demo(train_per_class: int = 24, test_per_class: int = 16, epochs: int = 3) -> dict[str, dict[str, float]]:
    """LRCN and its single-frame network, each trained for ``epochs`` on the pair's clips; tested on new videos.

    Returns:
        ``{"LRCN": ..., "single frame": ...}``, each the test metrics (``test/acc``: video accuracy,
        ``test/acc_majority``, ``test/acc_chance``) and ``fit_seconds``.
    """
    train = _Clips(*pair_videos(train_per_class, _TRAIN_SEED))
    test = _Clips(*pair_videos(test_per_class, _TEST_SEED))
    small = {"fc6_dim": 64, "fc6_dropout": 0.2}
    models = {"LRCN": ("lrcn", {**small, "hidden": 64, "dropout": 0.2}), "single frame": ("lrcn_single_frame", small)}
    results = {}
    for name, (model, options) in models.items():
        L.seed_everything(0, verbose=False)
        data = _Prepared(train, test, batch_size=8, collate=collate_video_clips, num_classes=len(PAIR))
        module = VideoClassificationModule(model, options, num_classes=len(PAIR), lr=1e-3, scheduler="cosine")
        results[name] = _fit_and_test(module, data, max_epochs=epochs, gradient_clip_val=5)
    return results


def run_feature_demo(
    train_per_class: int = 150, test_per_class: int = 20, epochs: int = 5, lr: float = 1e-3
) -> dict[str, dict[str, float]]:
    """TS-LSTM and the mean-pool model on per-frame features of the pair's videos (random small CNN, seed 0).

    Returns:
        ``{"TS-LSTM": ..., "mean-pool": ...}``, each the test metrics (``test/acc``,
        ``test/acc_mean_pool_probe``, ``test/acc_majority``, ``test/acc_chance``) and ``fit_seconds``.
    """
    cnn = frame_feature_extractor("small", seed=0)
    splits = {}
    for split, per_class, seed in (("train", train_per_class, _TRAIN_SEED), ("test", test_per_class, _TEST_SEED)):
        clips, labels = pair_videos(per_class, seed)
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


def run_demo() -> dict[str, Any]:
    """All parts: ``{"lrcn", "features", "captions", "attack"}`` (see each ``run_*_demo``)."""
    results = {"lrcn": run_lrcn_demo(), "features": run_feature_demo()}
    with tempfile.TemporaryDirectory() as folder:
        victim = Path(folder) / "captioner.ckpt"
        results["captions"] = run_caption_demo(save_to=victim)
        results["attack"] = run_attack_demo(victim)
    return results


def _ahead(model: float, baseline: float, names: Sequence[str]) -> str:
    if model > baseline:
        return f"{names[0]} ahead"
    return f"{names[1]} ahead" if baseline > model else "tied"


def main() -> None:
    """Print the demo's tables."""
    start = time.perf_counter()
    # small models: two threads on a shared 2-core machine mostly wait for each other
    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # deprecation warnings Lightning and torchdata raise inside their own code would bury the tables
        warnings.filterwarnings("ignore", module=r"(lightning|torchdata)\.")
        results = run_demo()

    lrcn, features, captions = results["lrcn"], results["features"], results["captions"]
    pair = " / ".join(PAIR)
    print(f"{pair}: the same frames in opposite orders, so ignoring the order gives 50%")
    print("\n1a. from pixels (32 x 32, 16 frames), a few epochs on a few dozen clips: video accuracy on new videos")
    print(f"{'model':<14} {'accuracy':>8} {'fit s':>6}")
    for name in ("LRCN", "single frame"):
        print(f"{name:<14} {lrcn[name]['test/acc']:>8.2f} {lrcn[name]['fit_seconds']:>6.1f}")
    print(f"{'chance':<14} {lrcn['LRCN']['test/acc_chance']:>8.2f}")
    print(
        "    too small to learn the direction from pixels; the lrcn/single_frame + lrcn/activity recipes train "
        "for minutes"
    )
    print("\n1b. from per-frame features of a random small CNN: video accuracy on new videos")
    print(f"{'model':<16} {'accuracy':>8} {'fit s':>6}")
    for name in ("TS-LSTM", "mean-pool"):
        print(f"{name:<16} {features[name]['test/acc']:>8.2f} {features[name]['fit_seconds']:>6.1f}")
    ts = features["TS-LSTM"]
    print(f"{'mean-pool probe':<16} {ts['test/acc_mean_pool_probe']:>8.2f}")
    print(f"{'chance':<16} {ts['test/acc_chance']:>8.2f}")
    best_pool = max(features["mean-pool"]["test/acc"], ts["test/acc_mean_pool_probe"])
    print(f"    {_ahead(ts['test/acc'], best_pool, ('TS-LSTM', 'mean-pool'))} by {abs(ts['test/acc'] - best_pool):.2f}")

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
    attack = results["attack"]
    print(f"\n3. the controlled caption attack, {ATTACK_EPOCHS} epochs against that captioner (eps 32/255): test pairs")
    print(f"{'images':<20} {'exact':>6} {'keyword':>8} {'feature distance':>17}")
    rows = (("adversarial", ""), ("random sign noise", "_noise"), ("clean", "_clean"))
    for label, suffix in rows:
        exact, keyword, mimic = (attack[f"test/{m}{suffix}"] for m in ("exact", "keyword1", "mimic"))
        print(f"{label:<20} {exact:>6.2f} {keyword:>8.2f} {mimic:>17.3f}")
    print(
        "    exact: the victim's caption is the target image's; keyword: it holds a word of that caption, drawn at "
        "random\n    among those the clean caption lacks; feature distance: mean squared gap between the image's "
        "feature and the target's (what the attack lowers)"
    )
    fits = sum(r["fit_seconds"] for part in (lrcn, features) for r in part.values())
    fits += scores["fit_seconds"] + attack["fit_seconds"]
    print(f"(fits {fits:.0f} s; demo {time.perf_counter() - start:.0f} s)")
