"""Training tasks of recur_vision: LightningModules that wrap the plain models of :mod:`recur_vision.models`.

- :class:`CaptioningModule`: LRCN's captioner (``lrcn_captioner``) trained by teacher forcing, scored
  by BLEU / CIDEr / ROUGE-L (and METEOR where Java runs) with greedy and beam decoding, beside the
  nearest-neighbour caption baseline.
- :class:`VideoClassificationModule`: LRCN activity recognition and its single-frame network on
  clips of frames (per-timestep softmax loss, clip scores averaged over time, video scores over clips).
- :class:`FeatureClassificationModule`: TS-LSTM, Temporal-Inception and the feature baselines on
  per-frame feature matrices.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.engine import RecurModule, check_data_matches
from recur_core.registry import get_model

__all__ = ["CaptioningModule", "FeatureClassificationModule", "VideoClassificationModule"]


class CaptioningModule(RecurModule):
    """LRCN image captioning (Donahue et al. 2015, https://arxiv.org/abs/1411.4389) on ``CaptionData``.

    Trains :class:`~recur_vision.models.captioning.LRCNCaptioner` by teacher forcing: the
    cross-entropy of every target word, padding (-1) ignored. Validation decodes greedily and logs
    ``val/bleu4``, ``val/cider`` (the checkpoint monitor) and ``val/rouge_l``. Test logs, by the COCO
    evaluation code (:func:`~recur_vision.metrics.caption_scores`):

    - ``test/bleu1..4``, ``test/cider``, ``test/rouge_l``: greedy decoding;
    - ``test/<metric>_beam``: beam search of width ``beam_size`` (length penalty ``length_penalty``);
    - ``test/<metric>_nn``: the nearest-neighbour caption baseline (Devlin et al. 2015) on the
      model's own image features φ, the training images' captions as candidates (``nn_k`` neighbours);
    - ``test/meteor`` (and ``_beam``, ``_nn``) when ``meteor`` and Java runs, else a message says it is skipped;

    and writes ``captions_test.json`` (every test image: references, greedy, beam and
    nearest-neighbour captions) and ``captions_test.png`` (the first ``samples`` images with their
    captions) into the run folder.

    Args:
        vocab_size: entries of the data's vocabulary (EOS and ``<unk>`` included); must equal the DataModule's.
        d_model, feature_dim, layer, layer_kwargs, encoder, encoder_kwargs, freeze_encoder, dropout,
            max_steps, static_init: see :class:`~recur_vision.models.captioning.CaptionerConfig` (defaults:
            the paper's sizes).
        beam_size: width of the test's beam search.
        length_penalty: α of the beam search's ``log p / len^α`` (0: the official search).
        nn_k: neighbours of the nearest-neighbour baseline.
        meteor: compute METEOR at test (needs Java; skipped with a message without it).
        samples: test images drawn with their captions in ``captions_test.png``.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/cider"
    monitor_mode = "max"

    def __init__(
        self,
        vocab_size: int = 8801,
        d_model: int = 1000,
        feature_dim: int = 1000,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        encoder: str = "small",
        encoder_kwargs: dict[str, Any] | None = None,
        freeze_encoder: bool = False,
        dropout: float = 0.0,
        max_steps: int = 20,
        static_init: float = 0.08,
        beam_size: int = 3,
        length_penalty: float = 0.0,
        nn_k: int = 1,
        meteor: bool = True,
        samples: int = 12,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if beam_size < 1 or nn_k < 1 or samples < 0:
            raise ValueError(f"beam_size and nn_k must be >= 1 and samples >= 0, got {beam_size}, {nn_k}, {samples}")
        self.samples = samples
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
        self.save_hyperparameters()
        self.net = get_model(
            "lrcn_captioner",
            vocab_size=vocab_size,
            d_model=d_model,
            feature_dim=feature_dim,
            layer=layer,
            layer_kwargs=layer_kwargs,
            encoder=encoder,
            encoder_kwargs=encoder_kwargs,
            freeze_encoder=freeze_encoder,
            max_steps=max_steps,
            dropout=dropout,
            static_init=static_init,
        )
        self.words: tuple[str, ...] | None = None
        self._outputs: dict[str, list] = {}

    # ----- vocabulary -----------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("vocab_size",))
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and hasattr(data, "vocab"):
            self.words = tuple(data.vocab.words)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.words is not None:
            checkpoint["vocabulary"] = list(self.words)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "vocabulary" in checkpoint:
            self.words = tuple(checkpoint["vocabulary"])

    def decode(self, tokens: Tensor) -> list[str]:
        """Captions ``[B, L]`` of word ids as text (up to the first EOS)."""
        if self.words is None:
            raise ValueError("the module has no vocabulary: train it with a CaptionData or load a checkpoint")
        from recur_vision.data.captions import Vocabulary

        vocab = Vocabulary(self.words[2:])
        return [" ".join(vocab.decode(row)) for row in tokens.tolist()]

    # ----- steps ----------------------------------------------------------------------------------

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(images, input_ids, lengths)

    def _loss(self, batch: dict[str, Any], features: Tensor, stage: str) -> Tensor:
        # grouped training batches hold several captions per image: each caption reads its image's feature
        if "image_index" in batch:
            features = features[batch["image_index"]]
        logits = self.net.caption_logits(features, batch["input_ids"], batch["lengths"])
        targets = batch["target_ids"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
        scored = targets != -1
        accuracy = (logits.argmax(-1) == targets)[scored].float().mean()
        logged = {"on_step": stage == "train", "on_epoch": True, "batch_size": int(scored.sum())}
        self.log(f"{stage}/loss", loss, prog_bar=True, **logged)
        self.log(f"{stage}/word_acc", accuracy, **logged)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._loss(batch, self.net.encode(batch["images"]), "train")

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        features = self.net.encode(batch["images"])
        self._loss(batch, features, stage)
        out = self._outputs.setdefault(stage, [])
        greedy = self.decode(self.net.greedy(features).tokens)
        beam = None
        if stage == "test":
            beam = self.decode(
                self.net.beam_search(features, self.hparams.beam_size, self.hparams.length_penalty).tokens
            )
        for i, refs in enumerate(batch["references"]):
            out.append({"references": refs, "greedy": greedy[i], "beam": beam[i] if beam else None})
        if stage == "test":
            self._outputs.setdefault("features", []).append(features.detach().float().cpu())

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs.pop("val", None)

    def on_test_epoch_start(self) -> None:
        self._outputs.pop("test", None)
        self._outputs.pop("features", None)

    def _log_scores(self, stage: str, references: list, hypotheses: list[str], suffix: str = "") -> dict[str, float]:
        from recur_vision.metrics import caption_scores

        scores = caption_scores(references, hypotheses)
        for name, value in scores.items():
            self.log(f"{stage}/{name}{suffix}", value, prog_bar=name in ("bleu4", "cider") and not suffix)
        return scores

    def on_validation_epoch_end(self) -> None:
        outputs = self._outputs.pop("val", [])
        if outputs and not self.trainer.sanity_checking:
            self._log_scores("val", [o["references"] for o in outputs], [o["greedy"] for o in outputs])

    def on_test_epoch_end(self) -> None:
        outputs = self._outputs.pop("test", [])
        features = self._outputs.pop("features", [])
        if not outputs:
            return
        references = [o["references"] for o in outputs]
        nearest = self._nearest_neighbour_captions(torch.cat(features))
        captions = {
            "": [o["greedy"] for o in outputs],
            "_beam": [o["beam"] for o in outputs],
            "_nn": nearest,
        }
        for suffix, hypotheses in captions.items():
            self._log_scores("test", references, hypotheses, suffix)
        if self.hparams.meteor:
            self._log_meteor(references, captions)
        self._write_samples(outputs, nearest)

    def _log_meteor(self, references: list, captions: dict[str, list[str]]) -> None:
        from recur_vision.metrics import meteor_scores, meteor_unavailable

        reason = meteor_unavailable()
        if reason is not None:
            print(f"recur-vision: {reason}")
            return
        try:
            scores = meteor_scores(references, captions)
        except RuntimeError as err:
            print(f"recur-vision: METEOR skipped: {err}")
            return
        for suffix, value in scores.items():
            self.log(f"test/meteor{suffix}", value)

    @torch.no_grad()
    def _nearest_neighbour_captions(self, test_features: Tensor, batch_size: int = 256) -> list[str]:
        """The nearest-neighbour baseline's caption of each test image, on this model's features φ."""
        from recur_vision.models.captioning import NearestNeighbourCaptioner

        data = self.trainer.datamodule
        train = data.dataset("train")
        was_training = self.net.training
        self.net.eval()
        features = []
        for start in range(0, len(train.images), batch_size):
            images = torch.stack([train.image(i) for i in range(start, min(start + batch_size, len(train.images)))])
            features.append(self.net.encode(images.to(self.device)).float().cpu())
        self.net.train(was_training)
        references = [train.references(i) for i in range(len(train.images))]
        return NearestNeighbourCaptioner(torch.cat(features), references, self.hparams.nn_k)(test_features)

    def _write_samples(self, outputs: list[dict], nearest: list[str]) -> None:
        root = getattr(self.trainer, "default_root_dir", None)
        if not root or self.trainer.global_rank != 0:
            return
        data = self.trainer.datamodule
        images = data.dataset("test").images
        rows = [
            {"image": str(image.path), **o, "nearest_neighbour": nn} for image, o, nn in zip(images, outputs, nearest)
        ]
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / "captions_test.json").write_text(json.dumps(rows, indent=1) + "\n")
        if self.samples == 0:
            return
        from recur_vision.plots import plot_captions

        test = data.dataset("test")
        shown = range(min(self.samples, len(rows)))
        labelled = [
            {"ref": o["references"][0], "greedy": o["greedy"], "beam": o["beam"], "nn": n}
            for o, n in zip(outputs, nearest)
        ]
        plot_captions(
            [self._viewable(test.image(i)) for i in shown],
            [labelled[i] for i in shown],
            Path(root) / "captions_test.png",
            title="test images: a reference, greedy and beam captions, the nearest-neighbour caption",
        )

    def _viewable(self, image: Tensor) -> Tensor:
        """An image of the dataset back in [0, 1] (undoing the DataModule's mean/std normalisation)."""
        data = self.trainer.datamodule
        mean, std = getattr(data, "mean", None), getattr(data, "std", None)
        if mean is None or std is None:
            return image
        return image * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[str]:
        return self.decode(self.net.caption(batch["images"], "beam", self.hparams.beam_size).tokens)


# ---------------------------------------------------------------------------------------------
# video classification


def _video_scores(clip_probs: Tensor, video: Tensor, num_videos: int) -> Tensor:
    """The mean of each video's clip scores: ``[N, C]`` clip probabilities, ``video [N]`` -> ``[num_videos, C]``."""
    sums = clip_probs.new_zeros(num_videos, clip_probs.shape[1]).index_add_(0, video, clip_probs)
    counts = torch.bincount(video, minlength=num_videos).clamp_min(1).to(clip_probs.dtype)
    return sums / counts[:, None]


def _majority_accuracy(train_labels: Any, test_labels: Any) -> float:
    """Accuracy on ``test_labels`` of always answering the most frequent training class."""
    train = torch.as_tensor(train_labels)
    majority = int(torch.bincount(train).argmax())
    return float((torch.as_tensor(test_labels) == majority).double().mean())


class VideoClassificationModule(RecurModule):
    """Activity recognition from clips of frames: LRCN (``lrcn``) or its single-frame network (``lrcn_single_frame``).

    Donahue et al. 2015 (https://arxiv.org/abs/1411.4389), as the official Caffe code: the model
    gives logits at every timestep of a clip (``[N, T, C]``); the loss is the softmax cross-entropy
    at every timestep against the video's label; a clip's score is the mean of its per-timestep
    softmax, and a video's score the mean of its test clips' scores. Batches come from
    :class:`~recur_vision.datamodules.VideoData` (one random clip per training video; every clip,
    16 frames every 8, of a validation/test video).

    The paper's two stages: fit ``lrcn/single_frame`` first, then ``lrcn/activity`` with
    ``--model.init_from <its checkpoint>``: the CNN and fc6 (``net.encoder``) start from the
    single-frame network's (loaded at the start of ``fit``; a resumed run takes its weights from
    the checkpoint it resumes). Optimiser: AdamW (the paper: SGD with momentum, lr 1e-3 divided by
    10 every 10k iterations, weight decay 5e-3, gradient clipping 5 via ``trainer.gradient_clip_val``).

    Logs ``train/loss``, ``train/acc`` (clip accuracy), ``val/loss``, ``val/acc`` (video accuracy;
    picks the best checkpoint), ``val/clip_acc`` and the same under ``test/``. Test also logs the
    baselines on the same videos: ``test/acc_majority`` (the most frequent training class),
    ``test/acc_chance`` (1 / C) and, when ``init_from`` names a checkpoint that exists,
    ``test/acc_<its model>`` (e.g. ``test/acc_lrcn_single_frame``: the stage-one network LRCN
    started from).

    Args:
        model: ``lrcn`` or ``lrcn_single_frame`` (or any registered model with the same interface).
        model_kwargs: its own options (``{"layer": "gla"}``, ``{"backbone": "caffenet", "fc6_dim": 4096}``, ...).
        num_classes: C; must equal the data's.
        init_from: a checkpoint whose ``net.encoder`` (CNN + fc6) initialises this model's.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "lrcn",
        model_kwargs: dict[str, Any] | None = None,
        num_classes: int = 13,
        init_from: str | None = None,
        lr: float = 1e-3,
        weight_decay: float = 5e-3,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.save_hyperparameters()
        self.net = get_model(model, num_classes=num_classes, **(model_kwargs or {}))
        self.baseline: torch.nn.Module | None = None
        self._baseline_name = ""

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("num_classes",))
        if stage == "fit" and self.hparams.init_from:
            self.load_encoder(self.hparams.init_from)

    def load_encoder(self, path: str | Path) -> None:
        """Copy the frame encoder (``net.encoder``: CNN + fc6) of the checkpoint at ``path`` into this model.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: not a checkpoint, no frame encoder in it, or one that does not fit this model's.
        """
        encoder = getattr(self.net, "encoder", None)
        if encoder is None:
            raise ValueError(f"--model.init_from: model {self.hparams.model!r} has no frame encoder to initialise")
        state = _checkpoint(path)["state_dict"]
        prefix = "net.encoder."
        weights = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        if not weights:
            raise ValueError(f"--model.init_from {path}: the checkpoint has no frame encoder (net.encoder)")
        try:
            encoder.load_state_dict(weights)
        except RuntimeError as err:
            first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
            raise ValueError(
                f"--model.init_from {path}: its frame encoder does not fit this model's ({first}); give "
                "--model.model_kwargs the backbone and fc6_dim of the run that wrote it"
            ) from None

    def forward(self, clips: Tensor) -> Tensor:
        return self.net(clips)

    def _frame_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Softmax cross-entropy at every timestep: logits ``[N, T, C]``, one label per clip ``[N]``."""
        steps = logits.shape[1]
        return F.cross_entropy(logits.flatten(0, 1), labels.repeat_interleave(steps))

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self(batch["clips"])
        labels = batch["labels"][batch["video"]]
        loss = self._frame_loss(logits, labels)
        accuracy = (logits.softmax(-1).mean(1).argmax(-1) == labels).float().mean()
        logged = {"on_step": False, "on_epoch": True, "batch_size": len(labels)}
        self.log("train/loss", loss, prog_bar=True, **logged)
        self.log("train/acc", accuracy, **logged)
        return loss

    def video_scores(self, batch: dict[str, Tensor], net: torch.nn.Module | None = None) -> tuple[Tensor, Tensor]:
        """``(per-timestep logits [N, T, C], video scores [B, C])``: each clip's mean softmax, averaged per video."""
        logits = (net or self.net)(batch["clips"])
        clip_probs = logits.softmax(-1).mean(1)
        return logits, _video_scores(clip_probs, batch["video"], len(batch["labels"]))

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        logits, scores = self.video_scores(batch)
        labels = batch["labels"]
        clip_labels = labels[batch["video"]]
        logged = {"on_step": False, "on_epoch": True, "sync_dist": True}
        self.log(f"{stage}/loss", self._frame_loss(logits, clip_labels), batch_size=len(clip_labels), **logged)
        clip_acc = (logits.softmax(-1).mean(1).argmax(-1) == clip_labels).float().mean()
        self.log(f"{stage}/clip_acc", clip_acc, batch_size=len(clip_labels), **logged)
        accuracy = (scores.argmax(-1) == labels).float().mean()
        self.log(f"{stage}/acc", accuracy, prog_bar=True, batch_size=len(labels), **logged)
        if stage == "test" and self.baseline is not None:
            _, baseline_scores = self.video_scores(batch, self.baseline)
            accuracy = (baseline_scores.argmax(-1) == labels).float().mean()
            self.log(f"test/acc_{self._baseline_name}", accuracy, batch_size=len(labels), **logged)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_test_start(self) -> None:
        """Load the stage-one network of ``init_from`` (when the file exists) to score it beside the model."""
        path = self.hparams.init_from
        self.baseline = None
        if path and Path(path).is_file():
            checkpoint = _checkpoint(path)
            state, hparams = checkpoint["state_dict"], checkpoint.get("hyper_parameters", {})
            name = hparams.get("model")
            if name:
                net = get_model(name, num_classes=self.hparams.num_classes, **(hparams.get("model_kwargs") or {}))
                net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
                self.baseline, self._baseline_name = net.to(self.device).eval(), name

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.log("test/acc_chance", 1.0 / self.hparams.num_classes)
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and hasattr(data, "dataset"):
            train, test = data.dataset("train"), data.dataset("test")
            if hasattr(train, "labels") and hasattr(test, "labels"):
                self.log("test/acc_majority", _majority_accuracy(train.labels, test.labels))
        self.baseline = None

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """The predicted class of each video of the batch ``[B]``."""
        return self.video_scores(batch)[1].argmax(-1)


def _checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint (``state_dict``, ``hyper_parameters``); a missing or foreign file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--model.init_from {path}: no such file; fit lrcn/single_frame first")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if "state_dict" not in checkpoint:
            raise KeyError("state_dict")
        return checkpoint
    except Exception as err:
        raise ValueError(f"--model.init_from {path}: not a recur checkpoint ({type(err).__name__})") from None


class FeatureClassificationModule(RecurModule):
    """Activity recognition from per-frame feature matrices ``[B, D, T]``: TS-LSTM, Temporal-Inception, baselines.

    Ma et al. 2019 (https://arxiv.org/abs/1703.10667): one prediction per video, trained with the
    softmax cross-entropy (the official code's LogSoftMax + NLL). The model is chosen by name
    (``tslstm``, ``temporal_inception``, ``feature_lstm``, ``mean_pool``, ``frame_average``) and built
    as ``get_model(model, feature_dim=D, num_frames=T, num_classes=C, **model_kwargs)``. Optimiser:
    AdamW (the official code: Adam, lr 1e-4 for TS-LSTM, 5e-5 with weight decay 0.1 for
    Temporal-Inception; element-wise gradient clamping ±5 is ``trainer.gradient_clip_algorithm: value``).

    Logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc`` (video accuracy; picks the best
    checkpoint) and ``test/loss``, ``test/acc``. Test also logs the baselines on the same videos:
    ``test/acc_mean_pool_probe`` (a logistic regression on time-averaged features, fitted on the
    training split by :func:`~recur_vision.models.baselines.fit_mean_pool_probe`: it cannot use the
    order of frames), ``test/acc_majority`` and ``test/acc_chance``.

    Args:
        model: registered model name.
        model_kwargs: its own options (``{"layer": "gla"}``, ``{"hidden": 256}``, ...).
        feature_dim, num_frames, num_classes: D, T and C; must equal the data's.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "tslstm",
        model_kwargs: dict[str, Any] | None = None,
        feature_dim: int = 2048,
        num_frames: int = 25,
        num_classes: int = 13,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if min(feature_dim, num_frames) < 1 or num_classes < 2:
            raise ValueError(
                f"feature_dim and num_frames must be >= 1 and num_classes >= 2, got {feature_dim}, {num_frames}, "
                f"{num_classes}"
            )
        self.save_hyperparameters()
        options = dict(feature_dim=feature_dim, num_frames=num_frames, num_classes=num_classes)
        self.net = get_model(model, **options, **(model_kwargs or {}))

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("feature_dim", "num_frames", "num_classes"))

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        features, labels = batch
        logits = self(features)
        loss = F.cross_entropy(logits, labels)
        logged = {"on_step": False, "on_epoch": True, "batch_size": len(labels), "sync_dist": stage != "train"}
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train", **logged)
        self.log(f"{stage}/acc", (logits.argmax(-1) == labels).float().mean(), prog_bar=stage != "train", **logged)
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        from recur_vision.models.baselines import fit_mean_pool_probe

        self.log("test/acc_chance", 1.0 / self.hparams.num_classes)
        data = getattr(self.trainer, "datamodule", None)
        if data is None or not hasattr(data, "dataset"):
            return
        train, test = data.dataset("train"), data.dataset("test")
        if not (hasattr(train, "features") and hasattr(test, "features")):
            return
        probe = fit_mean_pool_probe(train.features, train.labels, self.hparams.num_classes)
        accuracy = (probe(test.features).argmax(-1) == test.labels).double().mean()
        self.log("test/acc_mean_pool_probe", float(accuracy))
        self.log("test/acc_majority", _majority_accuracy(train.labels, test.labels))

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The predicted class of each video ``[B]``."""
        return self(batch[0]).argmax(-1)
