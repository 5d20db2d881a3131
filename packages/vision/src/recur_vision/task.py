"""Training tasks of recur_vision: LightningModules that wrap the plain models of :mod:`recur_vision.models`.

- :class:`CaptioningModule`: LRCN's captioner (``lrcn_captioner``) trained by teacher forcing, scored
  by BLEU / CIDEr / ROUGE-L (and METEOR where Java runs) with greedy and beam decoding, beside the
  nearest-neighbour caption baseline.
- :class:`VisualConceptModule`: stage one of two-stage captioning, the captioner's image encoder
  trained to predict the words and word pairs of an image's captions (mean average precision).
- :class:`VideoClassificationModule`: LRCN activity recognition and its single-frame network on
  clips of frames (per-timestep softmax loss, clip scores averaged over time, video scores over clips).
- :class:`FeatureClassificationModule`: TS-LSTM, Temporal-Inception and the feature baselines on
  per-frame feature matrices.
- :class:`CaptionAttackModule`: the controlled caption attack (Aafaq et al. 2021) on a trained
  captioner: a perturbation generator and a discriminator, scored by Show-and-Fool's protocol.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.engine import RecurModule, check_data_matches, read_checkpoint
from recur_core.registry import get_model
from recur_vision.data.generated_captions import COLOURS, SCENE_SHAPES

__all__ = [
    "CaptionAttackModule",
    "CaptioningModule",
    "FeatureClassificationModule",
    "VideoClassificationModule",
    "VisualConceptModule",
    "attack_scores",
    "classification_loss",
    "load_encoder_weights",
    "majority_accuracy",
    "plot_attack_examples",
]


class CaptioningModule(RecurModule):
    """LRCN image captioning (Donahue et al. 2015, https://arxiv.org/abs/1411.4389) on ``CaptionData``.

    Trains :class:`~recur_vision.models.captioning.LRCNCaptioner` by teacher forcing: the
    cross-entropy of every target word, padding (-1) ignored (the paper's only objective). With
    ``scst_epochs`` > 0 the last epochs train by self-critical sequence training instead (Rennie et al.,
    "Self-critical Sequence Training for Image Captioning", CVPR 2017, https://arxiv.org/abs/1612.00563; a later
    technique than LRCN, not the paper's): for each image ``x`` of the batch, ``K = scst_samples`` captions
    ``w^k`` are drawn from the model (temperature 1) and its greedy caption ``ŵ`` is decoded, both without
    gradient; the reward is CIDEr-D against the image's references (:class:`~recur_vision.metrics.CiderD`, the
    document frequencies of the training references), the greedy caption's reward the baseline:

    .. math::
        \\mathcal{L} = -\\frac{1}{B K} \\sum_{b, k} \\big(r(w^{b,k}) - r(\\hat w^b)\\big)
            \\log p(w^{b,k} \\mid x_b)

    ``log p`` is the caption's summed word log-probability (its EOS included), by the teacher-forced pass
    (:meth:`~recur_vision.models.captioning.LRCNCaptioner.log_prob`), with gradient into the encoder as in the
    cross-entropy epochs. Normalisation: the mean over the ``B K`` samples, not over their words, because the
    gradient of the expected reward is the advantage times the gradient of the whole caption's log-probability;
    dividing each caption's term by its length (as some implementations do) would weigh short captions' rewards
    more. Logs ``train/reward`` (the samples' mean CIDEr-D), ``train/reward_greedy`` (the baseline's) and
    ``train/scst_loss``.

    With ``init_from`` its image encoder starts from a stage-one run's (:class:`VisualConceptModule`, the
    stand-in for LRCN's ImageNet CNN), and is fine-tuned with the rest. Validation decodes greedily and logs
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
        init_from: a checkpoint whose image encoder (``net.encoder``) the captioner starts from, loaded at
            the start of ``fit`` (the two-stage recipe: ``lrcn/visual_concepts``'s run; a resumed run takes
            its weights from the checkpoint it resumes). None: the encoder starts at random.
        beam_size: width of the test's beam search.
        length_penalty: α of the beam search's ``log p / len^α`` (0: the official search).
        nn_k: neighbours of the nearest-neighbour baseline.
        meteor: compute METEOR at test (needs Java; skipped with a message without it).
        samples: test images drawn with their captions in ``captions_test.png``.
        scst_epochs: the last epochs of ``trainer.max_epochs`` trained by self-critical sequence training
            instead of cross-entropy (0: cross-entropy throughout, the paper's training).
        scst_samples: captions K drawn per image in a self-critical step.
        scst_xe_weight: λ of the cross-entropy of the batch's reference captions added to the self-critical
            loss in its epochs (0: the self-critical loss alone, as Rennie et al.).
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
        init_from: str | None = None,
        dropout: float = 0.0,
        max_steps: int = 20,
        static_init: float = 0.08,
        beam_size: int = 3,
        length_penalty: float = 0.0,
        nn_k: int = 1,
        meteor: bool = True,
        samples: int = 12,
        scst_epochs: int = 0,
        scst_samples: int = 5,
        scst_xe_weight: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if beam_size < 1 or nn_k < 1 or samples < 0:
            raise ValueError(f"beam_size and nn_k must be >= 1 and samples >= 0, got {beam_size}, {nn_k}, {samples}")
        if scst_epochs < 0 or scst_samples < 1 or scst_xe_weight < 0:
            raise ValueError(
                "scst_epochs and scst_xe_weight must be >= 0 and scst_samples >= 1, "
                f"got {scst_epochs}, {scst_xe_weight}, {scst_samples}"
            )
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
        self._vocab = None
        self._outputs: dict[str, list] = {}
        self._cider = None

    # ----- vocabulary -----------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("vocab_size",))
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and hasattr(data, "vocab"):
            self.words = tuple(data.vocab.words)
        if stage == "fit" and self.hparams.init_from:
            self.load_encoder(self.hparams.init_from)
        if stage == "fit" and self.hparams.scst_epochs:
            self._prepare_self_critical(data)

    def _prepare_self_critical(self, data: Any) -> None:
        """Check that the fit has epochs to count from, and build the reward: CIDEr-D with the training
        references' document frequencies."""
        from recur_vision.metrics import CiderD

        epochs = self.trainer.max_epochs
        if epochs is None or epochs < self.hparams.scst_epochs:
            raise ValueError(
                f"scst_epochs={self.hparams.scst_epochs} counts the last epochs of trainer.max_epochs, which is "
                f"{epochs}; set --trainer.max_epochs to at least scst_epochs"
            )
        train = data.dataset("train")
        self._cider = CiderD([train.references(i) for i in range(len(train.images))])

    def load_encoder(self, path: str | Path) -> None:
        """Copy the image encoder (``net.encoder``) of a checkpoint at ``path`` into the captioner's.

        The stage-one run of the two-stage recipe (``lrcn/visual_concepts``) writes one; so does
        another captioner's run.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: not a checkpoint, no image encoder in it, or one that does not fit this model's.
        """
        load_encoder_weights(
            self.net.encoder,
            path,
            what="image encoder",
            stage_one="fit lrcn/visual_concepts first",
            options="--model.encoder, --model.encoder_kwargs and --model.feature_dim",
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.words is not None:
            checkpoint["vocabulary"] = list(self.words)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "vocabulary" in checkpoint:
            self.words = tuple(checkpoint["vocabulary"])

    @property
    def words(self) -> tuple[str, ...] | None:
        """The vocabulary's words in id order (EOS and ``<unk>`` first); None before data or a checkpoint set it."""
        return None if self._vocab is None else self._vocab.words

    @words.setter
    def words(self, words: Sequence[str] | None) -> None:
        from recur_vision.data.captions import Vocabulary

        # built once here, not on every decode
        self._vocab = None if words is None else Vocabulary(tuple(words)[2:])

    def decode(self, tokens: Tensor) -> list[str]:
        """Captions ``[B, L]`` of word ids as text (up to the first EOS)."""
        if self._vocab is None:
            raise ValueError("the module has no vocabulary: train it with a CaptionData or load a checkpoint")
        return [" ".join(self._vocab.decode(row)) for row in tokens.tolist()]

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
        features = self.net.encode(batch["images"])
        scst = self.hparams.scst_epochs
        if scst and self.current_epoch >= self.trainer.max_epochs - scst:
            loss = self.self_critical_loss(features, batch["references"])
            if self.hparams.scst_xe_weight:
                loss = loss + self.hparams.scst_xe_weight * self._loss(batch, features, "train")
            return loss
        return self._loss(batch, features, "train")

    def self_critical_loss(self, features: Tensor, references: Sequence[Sequence[str]]) -> Tensor:
        """The self-critical loss (see the class docstring) of images with features ``[B, F]`` and their
        reference lists; the reward needs a fit's setup (or ``_cider`` set) first."""
        k = self.hparams.scst_samples
        repeated = features.repeat_interleave(k, dim=0)
        sampled = self.net.sample(repeated.detach()).tokens
        greedy = self.decode(self.net.greedy(features.detach()).tokens)
        sampled_refs = [refs for refs in references for _ in range(k)]
        reward = torch.tensor(self._cider(sampled_refs, self.decode(sampled)), device=features.device)
        baseline = torch.tensor(self._cider(references, greedy), device=features.device)
        advantage = reward.view(-1, k) - baseline[:, None]
        log_prob = self.net.log_prob(repeated, sampled).view(-1, k)
        loss = -(advantage * log_prob).mean()
        logged = {"on_step": True, "on_epoch": True, "batch_size": len(references)}
        self.log("train/scst_loss", loss, **logged)
        self.log("train/reward", reward.mean(), prog_bar=True, **logged)
        self.log("train/reward_greedy", baseline.mean(), **logged)
        return loss

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
        outputs = self.gather_from_ranks(self._outputs.pop("val", []))
        if outputs and not self.trainer.sanity_checking:
            self._log_scores("val", [o["references"] for o in outputs], [o["greedy"] for o in outputs])

    def on_test_epoch_end(self) -> None:
        outputs = self.gather_from_ranks(self._outputs.pop("test", []))
        features = self.gather_from_ranks([row for batch in self._outputs.pop("features", []) for row in batch])
        if not outputs:
            return
        references = [o["references"] for o in outputs]
        nearest = self._nearest_neighbour_captions(torch.stack(features))
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


class VisualConceptModule(RecurModule):
    """Stage one of the two-stage captioning recipe: the captioner's image encoder as a visual-concept classifier.

    Trains :class:`~recur_vision.models.captioning.VisualConcepts` on ``CaptionData``'s training
    images: for every concept, whether any of the image's captions uses it (binary cross-entropy, one
    logistic output per concept; Fang et al. 2015's visual concepts, https://arxiv.org/abs/1411.4952,
    are the words). The concepts are the vocabulary's words but EOS and ``<unk>``, then the
    ``bigrams`` most frequent pairs of adjacent vocabulary words in the training captions (a pair such
    as "red circle" ties a colour to a shape, which a bag of words cannot). Only training captions are
    read, so it runs on COCO as on the embedded scenes. It stands in for LRCN's ImageNet-pretrained
    CNN: stage two, ``recur-vision fit --config lrcn/captioning --model.init_from <this
    run>/checkpoints/best.ckpt``, starts the captioner's encoder from this one's (encoder options
    must match).

    Logs ``train/loss``, ``val/loss``, ``val/map`` (mean average precision over the concepts, the
    checkpoint monitor) and at test ``test/loss``, ``test/map``, ``test/f1`` (micro F1 of the concepts
    with probability >= 0.5) beside the prior (each concept scored by the share of training images
    whose captions use it; ``test/map_prior``, and ``test/f1_prior`` for the concepts used by more
    than half). On the generated scenes it also logs how well the encoder binds colour to shape
    (:meth:`binding_scores`), at validation and test: ``<stage>/map_pairs_two_objects`` and
    ``<stage>/ap_pairs_per_image``.

    Args:
        vocab_size: entries of the data's vocabulary (EOS and ``<unk>`` included); must equal the DataModule's.
        bigrams: word pairs added as concepts, the most frequent first (ties alphabetical); 0: words only.
        feature_dim, encoder, encoder_kwargs: the captioner's (see
            :class:`~recur_vision.models.captioning.CaptionerConfig`); stage two needs the same.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/map"
    monitor_mode = "max"

    def __init__(
        self,
        vocab_size: int = 8801,
        bigrams: int = 0,
        feature_dim: int = 1000,
        encoder: str = "small",
        encoder_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if vocab_size < 3 or bigrams < 0:
            raise ValueError(
                f"vocab_size must be at least 3 (EOS, <unk> and a word) and bigrams >= 0, got {vocab_size}, {bigrams}"
            )
        self.save_hyperparameters()
        self.net = get_model(
            "visual_concepts",
            num_concepts=vocab_size - 2 + bigrams,
            feature_dim=feature_dim,
            encoder=encoder,
            encoder_kwargs=encoder_kwargs,
        )
        self._vocab = None
        self._pairs: dict[tuple[int, int], int] = {}
        self._object_pairs: list[int] = []
        self.concepts: list[str] = []
        self._outputs: dict[str, list[Tensor]] = {}

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("vocab_size",))
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and hasattr(data, "vocab"):
            train = data.dataset("train")
            self.set_concepts(data.vocab, [train.references(i) for i in range(len(train.images))])

    def set_concepts(self, vocab: Any, train_references: Sequence[Sequence[str]]) -> None:
        """The concepts: ``vocab``'s words (from id 2), then the ``bigrams`` commonest pairs of ``train_references``."""
        counts: Counter = Counter()
        for refs in train_references:
            for ref in refs:
                ids = vocab.encode(ref.split())
                counts.update(pair for pair in itertools.pairwise(ids) if min(pair) >= 2)
        wanted = self.hparams.bigrams
        if len(counts) < wanted:
            raise ValueError(
                f"the training captions have {len(counts)} distinct pairs of vocabulary words, fewer than "
                f"bigrams = {wanted}; set --model.bigrams {len(counts)} or less"
            )
        pairs = sorted(counts, key=lambda pair: (-counts[pair], vocab.words[pair[0]], vocab.words[pair[1]]))[:wanted]
        offset = len(vocab) - 2
        self._vocab = vocab
        self._pairs = {pair: offset + n for n, pair in enumerate(pairs)}
        self.concepts = [*vocab.words[2:], *(f"{vocab.words[a]} {vocab.words[b]}" for a, b in pairs)]
        # the generated scenes' colour-shape pairs ("red circle"), the binding the probe metrics score
        self._object_pairs = [
            index
            for (a, b), index in self._pairs.items()
            if vocab.words[a] in COLOURS and vocab.words[b] in SCENE_SHAPES
        ]

    def concept_targets(self, references: Sequence[Sequence[str]]) -> Tensor:
        """``[B, num_concepts]`` 0/1: the concepts (words from id 2, then the bigrams) of each image's captions."""
        if self._vocab is None:
            raise ValueError("the module has no vocabulary: train or test it with a CaptionData")
        rows = []
        for refs in references:
            row = set()
            for ref in refs:
                ids = self._vocab.encode(ref.split())
                row.update(i - 2 for i in ids if i >= 2)
                row.update(self._pairs[pair] for pair in itertools.pairwise(ids) if pair in self._pairs)
            rows.append(sorted(row))
        image = torch.tensor([b for b, row in enumerate(rows) for _ in row], dtype=torch.long)
        concept = torch.tensor([i for row in rows for i in row], dtype=torch.long)
        targets = torch.zeros(len(rows), self.hparams.vocab_size - 2 + self.hparams.bigrams)
        targets[image, concept] = 1.0
        return targets.to(self.device)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)

    def _step(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        logits = self.net(batch["images"])
        targets = self.concept_targets(batch["references"])
        loss = F.binary_cross_entropy_with_logits(logits, targets)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train", on_step=False, on_epoch=True, batch_size=len(logits))
        return loss, logits, targets

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "train")[0]

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        _, logits, targets = self._step(batch, stage)
        self._outputs.setdefault(stage, []).append(torch.stack([logits.detach().float(), targets]).cpu())

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs.pop("val", None)

    def on_test_epoch_start(self) -> None:
        self._outputs.pop("test", None)

    def _scores(self, stage: str) -> tuple[Tensor, Tensor] | None:
        outputs = self.gather_from_ranks(self._outputs.pop(stage, []))
        if not outputs:
            return None
        logits, targets = torch.cat(outputs, dim=1)
        return logits, targets

    def binding_scores(self, logits: Tensor, targets: Tensor) -> dict[str, float]:
        """How well the colour-shape pairs ("red circle") are told in two-object scenes (the generated scenes' binding).

        On the images whose captions name two colour-shape pairs, with only those concepts scored:
        ``map_pairs_two_objects``, the pairs' mean average precision over these images, and
        ``ap_pairs_per_image``, each image's average precision of its two pairs among all colour-shape
        pairs, averaged. Empty when the concepts hold no colour-shape pairs or no image has two.
        """
        from recur_vision.metrics import mean_average_precision

        if not self._object_pairs:
            return {}
        columns = torch.tensor(self._object_pairs, device=logits.device)
        logits, targets = logits[:, columns], targets[:, columns]
        two = targets.sum(1) >= 2
        if not bool(two.any()):
            return {}
        logits, targets = logits[two], targets[two]
        return {
            "map_pairs_two_objects": mean_average_precision(logits, targets),
            "ap_pairs_per_image": mean_average_precision(logits.T, targets.T),
        }

    def on_validation_epoch_end(self) -> None:
        from recur_vision.metrics import mean_average_precision

        scores = self._scores("val")
        if scores is not None and not self.trainer.sanity_checking:
            self.log("val/map", mean_average_precision(*scores), prog_bar=True)
            for name, value in self.binding_scores(*scores).items():
                self.log(f"val/{name}", value)

    def on_test_epoch_end(self) -> None:
        from recur_vision.metrics import mean_average_precision

        scores = self._scores("test")
        if scores is None:
            return
        logits, targets = scores
        train = self.trainer.datamodule.dataset("train")
        share = self.concept_targets([train.references(i) for i in range(len(train.images))]).mean(0).cpu()
        prior = share.expand_as(targets)
        self.log("test/map", mean_average_precision(logits, targets))
        self.log("test/map_prior", mean_average_precision(prior, targets))
        self.log("test/f1", _micro_f1(logits > 0, targets))
        self.log("test/f1_prior", _micro_f1(prior > 0.5, targets))
        for name, value in self.binding_scores(logits, targets).items():
            self.log(f"test/{name}", value)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[list[str]]:
        """The concepts each image's captions are predicted to use (probability >= 0.5), most probable first."""
        if not self.concepts:
            raise ValueError("the module has no concepts: predict with a CaptionData")
        logits = self.net(batch["images"]).detach().cpu()
        return [[self.concepts[i] for i in row.argsort(descending=True).tolist() if row[i] >= 0] for row in logits]


def _micro_f1(predicted: Tensor, targets: Tensor) -> float:
    """Micro-averaged F1 of 0/1 ``predicted`` against 0/1 ``targets`` (both ``[N, C]``)."""
    predicted, targets = predicted.float(), targets.float()
    true_pos = float((predicted * targets).sum())
    return 2 * true_pos / max(float(predicted.sum() + targets.sum()), 1.0)


# ---------------------------------------------------------------------------------------------
# video classification


def _video_scores(clip_probs: Tensor, video: Tensor, num_videos: int) -> Tensor:
    """The mean of each video's clip scores: ``[N, C]`` clip probabilities, ``video [N]`` -> ``[num_videos, C]``."""
    sums = clip_probs.new_zeros(num_videos, clip_probs.shape[1]).index_add_(0, video, clip_probs)
    counts = torch.bincount(video, minlength=num_videos).clamp_min(1).to(clip_probs.dtype)
    return sums / counts[:, None]


def majority_accuracy(train_labels: Any, test_labels: Any) -> float:
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
    started from); and ``test/acc_frames_shuffled``, the model itself on the test clips with their
    frames in a shuffled order (the single-frame network scores the same; LRCN drops by what the
    order of frames gives it).

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
        load_encoder_weights(
            encoder,
            path,
            what="frame encoder",
            stage_one="fit lrcn/single_frame first",
            options="--model.model_kwargs the backbone, cnn_channels and fc6_dim",
        )

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

    def _evaluate(self, batch: dict[str, Tensor], stage: str, batch_idx: int = 0) -> None:
        logits, scores = self.video_scores(batch)
        labels = batch["labels"]
        clip_labels = labels[batch["video"]]
        logged = {"on_step": False, "on_epoch": True, "sync_dist": True}
        self.log(f"{stage}/loss", self._frame_loss(logits, clip_labels), batch_size=len(clip_labels), **logged)
        clip_acc = (logits.softmax(-1).mean(1).argmax(-1) == clip_labels).float().mean()
        self.log(f"{stage}/clip_acc", clip_acc, batch_size=len(clip_labels), **logged)
        accuracy = (scores.argmax(-1) == labels).float().mean()
        self.log(f"{stage}/acc", accuracy, prog_bar=True, batch_size=len(labels), **logged)
        if stage != "test":
            return
        # the same model on the same clips with their frames in a shuffled order: what order adds
        steps = batch["clips"].shape[1]
        order = torch.randperm(steps, generator=torch.Generator().manual_seed(batch_idx)).to(labels.device)
        _, shuffled = self.video_scores({**batch, "clips": batch["clips"][:, order]})
        accuracy = (shuffled.argmax(-1) == labels).float().mean()
        self.log("test/acc_frames_shuffled", accuracy, batch_size=len(labels), **logged)
        if self.baseline is not None:
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
            checkpoint = read_checkpoint(path, "--model.init_from")
            state, hparams = checkpoint["state_dict"], checkpoint.get("hyper_parameters", {})
            name = hparams.get("model")
            if name:
                net = get_model(name, num_classes=self.hparams.num_classes, **(hparams.get("model_kwargs") or {}))
                net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
                self.baseline, self._baseline_name = net.to(self.device).eval(), name

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test", batch_idx)

    def on_test_epoch_end(self) -> None:
        self.log("test/acc_chance", 1.0 / self.hparams.num_classes)
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and hasattr(data, "dataset"):
            train, test = data.dataset("train"), data.dataset("test")
            if hasattr(train, "labels") and hasattr(test, "labels"):
                self.log("test/acc_majority", majority_accuracy(train.labels, test.labels))
        self.baseline = None

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """The predicted class of each video of the batch ``[B]``."""
        return self.video_scores(batch)[1].argmax(-1)


def load_encoder_weights(encoder: torch.nn.Module, path: str | Path, what: str, stage_one: str, options: str) -> None:
    """Copy ``net.encoder`` of the checkpoint at ``path`` into ``encoder`` (the two-stage recipes' ``init_from``).

    Args:
        encoder: the module to load into.
        path: a checkpoint of the stage-one run.
        what: the encoder's name in messages ("frame encoder", "image encoder").
        stage_one: how to make the checkpoint, said when the file is missing.
        options: the options that must match the stage-one run's, said when the weights do not fit.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a checkpoint, no ``net.encoder`` in it, or one that does not fit ``encoder``.
    """
    try:
        state = read_checkpoint(path, "--model.init_from")["state_dict"]
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err}; {stage_one}") from None
    prefix = "net.encoder."
    weights = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise ValueError(f"--model.init_from {path}: the checkpoint has no {what} (net.encoder)")
    try:
        encoder.load_state_dict(weights)
    except RuntimeError as err:
        lines = str(err).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(err)
        raise ValueError(
            f"--model.init_from {path}: its {what} does not fit this model's ({first}); give "
            f"{options} of the run that wrote it"
        ) from None


def classification_loss(module: RecurModule, logits: Tensor, labels: Tensor, stage: str) -> Tensor:
    """Cross-entropy of ``logits`` [B, C] against ``labels`` [B]; logs ``<stage>/loss`` and ``<stage>/acc``."""
    loss = F.cross_entropy(logits, labels)
    logged = {"on_step": False, "on_epoch": True, "batch_size": len(labels)}
    module.log(f"{stage}/loss", loss, prog_bar=stage == "train", **logged)
    module.log(f"{stage}/acc", (logits.argmax(-1) == labels).float().mean(), prog_bar=stage != "train", **logged)
    return loss


class FeatureClassificationModule(RecurModule):
    """Activity recognition from per-frame feature matrices ``[B, D, T]``: TS-LSTM, Temporal-Inception, baselines.

    Ma et al. 2019 (https://arxiv.org/abs/1703.10667): one prediction per video, trained with the
    softmax cross-entropy (the official code's LogSoftMax + NLL). The model is chosen by name
    (``tslstm``, ``temporal_inception``, ``feature_lstm``, ``mean_pool``, ``frame_average``) and built
    as ``get_model(model, feature_dim=D, num_frames=T, num_classes=C, **model_kwargs)``. Optimiser:
    AdamW (the official code: Adam, lr 1e-4 for TS-LSTM, 5e-5 with weight decay 0.1 for
    Temporal-Inception; element-wise gradient clamping ±5 is ``trainer.gradient_clip_algorithm: value``).
    The official weight decay is Torch ``optim.adam``'s, which adds ``wd * w`` to the gradient before
    Adam's normalisation (a coupled L2 penalty, not AdamW's decoupled decay): that is ``l2``, the
    penalty ``l2 / 2 * sum(w ** 2)`` over every parameter added to the training loss.

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
        l2: weight of the coupled L2 penalty (the official Temporal-Inception's ``-w 0.1``; 0 = none).
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
        l2: float = 0.0,
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if min(feature_dim, num_frames) < 1 or num_classes < 2 or l2 < 0:
            raise ValueError(
                f"feature_dim and num_frames must be >= 1, num_classes >= 2 and l2 >= 0, got {feature_dim}, "
                f"{num_frames}, {num_classes}, {l2}"
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
        return classification_loss(self, self(features), labels, stage)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")
        if self.hparams.l2 > 0:
            loss = loss + 0.5 * self.hparams.l2 * sum(p.square().sum() for p in self.parameters())
        return loss

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
        self.log("test/acc_majority", majority_accuracy(train.labels, test.labels))

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The predicted class of each video ``[B]``."""
        return self(batch[0]).argmax(-1)


# ---------------------------------------------------------------------------------------------
# the controlled caption attack


_VICTIM_HOWTO = (
    "train a captioner first: recur-vision fit --config lrcn/captioning (its checkpoint is "
    "runs/vision/lrcn/captioning/<stamp>/checkpoints/best.ckpt)"
)


def _load_captioner(path: str | None, option: str) -> tuple[CaptioningModule, tuple[Tensor, Tensor] | None]:
    """The captioning module of an ``lrcn/captioning`` checkpoint, frozen, and its image normalisation.

    The normalisation ``(mean, std)`` is read from the run's ``config.yaml`` (``data.init_args.mean/std``,
    beside the ``checkpoints`` folder) when there is one and it sets them; None: the captioner read [0, 1] images.

    Raises:
        ValueError: no path, not a checkpoint, or not a captioning checkpoint (each names the fix).
        FileNotFoundError: no file at ``path``.
    """
    if not path:
        raise ValueError(
            f"{option} is required: the lrcn/captioning checkpoint to attack (to test or resume an attack, the one "
            f"it was trained against); {_VICTIM_HOWTO}"
        )
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{option} {path}: no such file; {_VICTIM_HOWTO}")
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{option} {path}: not a recur checkpoint ({type(err).__name__}); {_VICTIM_HOWTO}") from None
    state = checkpoint.get("state_dict", {}) if isinstance(checkpoint, dict) else {}
    if "vocabulary" not in checkpoint or "net.embedding.weight" not in state or "net.static_in.weight" not in state:
        raise ValueError(
            f"{option} {path}: not an lrcn/captioning checkpoint (no captioner or vocabulary); {_VICTIM_HOWTO}"
        )
    try:
        module = CaptioningModule.load_from_checkpoint(file, map_location="cpu", weights_only=True)
    except (TypeError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(
            f"{option} {path}: the checkpoint does not fit this version's captioner ({first}); {_VICTIM_HOWTO}"
        ) from None
    module.eval().requires_grad_(False)
    norm = None
    config = file.parent.parent / "config.yaml"
    if config.is_file():
        import yaml

        data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
        options = data.get("init_args") or {}
        if options.get("mean") is not None and options.get("std") is not None:
            norm = (torch.tensor(options["mean"]).view(1, -1, 1, 1), torch.tensor(options["std"]).view(1, -1, 1, 1))
    return module, norm


def _fingerprint(net: torch.nn.Module) -> str:
    """A SHA-1 of a network's weights and buffers: which captioner an attack was trained against."""
    import hashlib

    digest = hashlib.sha1()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class CaptionAttackModule(RecurModule):
    """The controlled caption attack (Aafaq et al. 2021, https://arxiv.org/abs/2107.03050) on a trained LRCN captioner.

    Trains the perturbation generator ``G`` (``self.net``, ``caption_attack_generator``) and the patch
    discriminator ``D`` (``caption_attack_discriminator``) against a frozen ``lrcn/captioning``
    checkpoint, the victim (``--model.victim``): on pairs ``(x, x_t)`` of
    :class:`~recur_vision.datamodules.CaptionAttackData`, ``x' = clamp(x + G(x, φ(x_t)), 0, 1)`` with
    ``φ`` the victim's image feature (:meth:`~recur_vision.models.captioning.LRCNCaptioner.encode`), and
    the objective of :mod:`recur_vision.models.caption_attack` (``λf`` mimic + ``λadv`` GAN + ``λn``
    perturbation energy). Each training batch takes one step of ``D`` (Adam), then one of ``G``
    (Lightning's manual optimisation; both optimisers' states, and their schedulers', are in every
    checkpoint, so ``--ckpt_path last`` resumes exactly). Lightning's ``global_step`` counts both steps, so
    ``--trainer.max_steps N`` (and ``--checkpoint_every_n_steps``) count 2 a batch: N / 2 batches (N
    with ``lambda_adv`` 0, where ``D`` never steps); the warm-up and the cosine count batches and end
    with the fit's last batch either way (:meth:`~recur_core.engine.RecurModule.scheduled_steps`).
    The victim's and the transfer captioner's weights are not stored in the attack's checkpoints: they
    are read from their own files, and resuming or testing against another victim than the one
    trained against is an error.

    Evaluation, Show-and-Fool's protocol (Chen et al. 2018, https://arxiv.org/abs/1712.02051), on the
    fixed pairs of the validation or test split: the target caption of ``x`` is the victim's own
    greedy caption of ``x_t`` (another random image); the adversarial caption is the victim's greedy
    caption of ``x'``. Test logs, over the pairs:

    - ``test/exact``: the adversarial caption equals the target caption word for word;
    - ``test/keyword{K}``, K = 1, 2, 3: all K keywords, drawn at random from the target caption's
      content words (:func:`~recur_vision.models.caption_attack.draw_keywords`), appear in it (over the
      pairs whose target has K content words: ``test/keyword{K}_pairs``);
    - ``test/l2``, ``test/linf``: mean ℓ2 and ℓ∞ norms of ``x' − x`` in [0, 1] pixel units;
    - ``test/mimic``: the feature distance ``mean (φ(x') − φ(x_t))²``;
    - the baselines, same scores: ``_noise`` for random sign noise ``clamp(x ± ε, 0, 1)`` (each
      pixel value's sign drawn at random), ``_clean`` for the clean image's own caption;
    - with ``--model.transfer`` (a second captioner on the same vocabulary: another encoder or
      another core layer), ``test/transfer_*``: the same scores of that captioner's captions of the
      same adversarial images, its target being its own caption of ``x_t`` (black-box transfer).

    and writes ``caption_attack_test.json`` (every pair's captions) and ``caption_attack_test.png``
    (the first ``samples`` pairs: the clean image with its caption, the adversarial image with its
    caption and the target caption, the target image) into the run folder. Validation logs
    ``val/exact`` (picks the best checkpoint), ``val/keyword1`` and ``val/mimic``.

    Args:
        victim: the ``lrcn/captioning`` checkpoint attacked (required).
        transfer: a second captioning checkpoint with the same vocabulary, scored on the same images.
        epsilon: the ℓ∞ bound of the perturbation, [0, 1] pixel units [unverified].
        lambda_feature, lambda_adv, lambda_norm: ``λf``, ``λadv``, ``λn`` [unverified].
        generator_kwargs: options of ``caption_attack_generator`` (``channels``, ``residual_blocks``, ...).
        discriminator_kwargs: options of ``caption_attack_discriminator`` (``channels``).
        samples: pairs drawn in ``caption_attack_test.png``.
        lr: the generator's learning rate (Adam, β = ``betas``).
        lr_discriminator: the discriminator's (None: ``lr``).
        betas: Adam's (β1, β2) for both (GANs' usual 0.5, 0.999).
        weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule` (both optimisers;
            ``warmup_steps`` counts batches).
    """

    monitor = "val/exact"
    monitor_mode = "max"
    max_keywords = 3

    def __init__(
        self,
        victim: str | None = None,
        transfer: str | None = None,
        epsilon: float = 32 / 255,
        lambda_feature: float = 1.0,
        lambda_adv: float = 0.001,
        lambda_norm: float = 1.0,
        generator_kwargs: dict[str, Any] | None = None,
        discriminator_kwargs: dict[str, Any] | None = None,
        samples: int = 8,
        lr: float = 1e-3,
        lr_discriminator: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if not 0 < epsilon <= 1:
            raise ValueError(f"epsilon must be in (0, 1] ([0, 1] pixel units: 16/255 = 0.0627), got {epsilon}")
        if min(lambda_feature, lambda_adv, lambda_norm) < 0 or lambda_feature == 0:
            raise ValueError(
                "lambda_feature must be > 0 and lambda_adv, lambda_norm >= 0, got "
                f"{lambda_feature}, {lambda_adv}, {lambda_norm}"
            )
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        # the captioners' paths are not hyper-parameters, and a captioner may move: they are given at test, and the
        # victim's weights are checked instead (on_load_checkpoint)
        self.save_hyperparameters(ignore=["victim", "transfer"])
        self.automatic_optimization = False
        # D's step and G's: what global_step (and max_steps) counts per batch
        self.optimizer_steps_per_batch = 2 if lambda_adv > 0 else 1
        self.victim_path, self.transfer_path = victim, transfer
        module, norm = _load_captioner(victim, "--model.victim")
        self.words: tuple[str, ...] = tuple(module.words)
        # the victim's decoder (its vocabulary is built once); the module itself stays out of the state
        self._decode = module.decode
        # the frozen captioners are kept out of the module's state (and its checkpoints): a plain dict
        self._frozen: dict[str, torch.nn.Module] = {"victim": module.net}
        self._norms: dict[str, tuple[Tensor, Tensor] | None] = {"victim": norm}
        self.victim_fingerprint = _fingerprint(module.net)
        if transfer:
            other, other_norm = _load_captioner(transfer, "--model.transfer")
            if tuple(other.words) != self.words:
                raise ValueError(
                    f"--model.transfer {transfer}: its vocabulary ({len(other.words)} entries) differs from the "
                    f"victim's ({len(self.words)}); train both captioners on the same caption data"
                )
            self._frozen["transfer"], self._norms["transfer"] = other.net, other_norm
        feature_dim = module.net.config.feature_dim
        self.net = get_model(
            "caption_attack_generator", feature_dim=feature_dim, epsilon=epsilon, **(generator_kwargs or {})
        )
        self.discriminator = get_model("caption_attack_discriminator", **(discriminator_kwargs or {}))
        self._outputs: dict[str, list] = {}

    # ----- the frozen captioners -------------------------------------------------------------------

    def captioner(self, name: str = "victim") -> torch.nn.Module:
        """The frozen captioner ``name`` (``victim`` or ``transfer``), on this module's device, in eval mode."""
        net = self._frozen[name]
        if next(net.parameters()).device != self.device:
            net.to(self.device)
        return net.eval()

    def features(self, images: Tensor, name: str = "victim") -> Tensor:
        """φ of images in [0, 1] ``[B, 3, H, W]`` by the captioner ``name`` (after its own normalisation)."""
        norm = self._norms[name]
        if norm is not None:
            images = (images - norm[0].to(images)) / norm[1].to(images)
        return self.captioner(name).encode(images)

    @torch.no_grad()
    def captions(self, features: Tensor, name: str = "victim") -> list[str]:
        """Greedy captions of features ``[B, F]`` by the captioner ``name``, as text."""
        tokens = self.captioner(name).greedy(features).tokens
        return self._decode(tokens)

    def forward(self, images: Tensor, target_images: Tensor) -> Tensor:
        """Adversarial images ``[B, 3, H, W]`` of ``images`` aimed at ``target_images`` (both in [0, 1])."""
        with torch.no_grad():
            target = self.features(target_images)
        return self.net.attack(images, target)

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        captions = getattr(data, "captions", None)
        if captions is not None:
            unknown = sorted(set(captions.vocab.words[2:]) - set(self.words))
            if unknown:
                raise ValueError(
                    f"the attack's caption data has words the victim never learned ({', '.join(unknown[:5])}): "
                    "attack it on the data it was trained on (the --data options of its lrcn/captioning run)"
                )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["caption_attack"] = {
            "victim": str(self.victim_path),
            "victim_fingerprint": self.victim_fingerprint,
            "vocabulary": list(self.words),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("caption_attack", {}).get("victim_fingerprint")
        if saved is not None and saved != self.victim_fingerprint:
            raise ValueError(
                f"--model.victim {self.victim_path} is not the captioner this attack was trained against (its "
                "weights differ); give that checkpoint as --model.victim (another captioner: --model.transfer)"
            )

    # ----- training -------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        betas = tuple(self.hparams.betas)
        lr_d = self.hparams.lr_discriminator or self.lr
        opt_g = torch.optim.Adam(self.net.parameters(), lr=self.lr, betas=betas, weight_decay=self.weight_decay)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr_d, betas=betas, weight_decay=self.weight_decay)
        # one scheduler step per training batch (each batch steps each optimiser once), ending at the last batch
        schedule = self.lr_schedule()
        if schedule is None:
            return [opt_g, opt_d]
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], [{"scheduler": s, "interval": "step"} for s in schedulers]

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        from recur_vision.models.caption_attack import (
            gan_losses,
            generator_gan_loss,
            mimic_loss,
            perturbation_penalty,
        )

        opt_g, opt_d = self.optimizers()
        images = batch["images"]
        with torch.no_grad():
            target = self.features(batch["target_images"])
        perturbation = self.net(images, target)
        adversarial = (images + perturbation).clamp(0.0, 1.0)
        logged = {"on_step": False, "on_epoch": True, "batch_size": len(images)}
        adv_weight = self.hparams.lambda_adv
        if adv_weight > 0:
            d_loss = gan_losses(self.discriminator(images), self.discriminator(adversarial.detach()))
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
            self.log("train/d_loss", d_loss, **logged)
        mimic = mimic_loss(self.features(adversarial), target)
        loss = self.hparams.lambda_feature * mimic + self.hparams.lambda_norm * perturbation_penalty(perturbation)
        if adv_weight > 0:
            g_adv = generator_gan_loss(self.discriminator(adversarial))
            loss = loss + adv_weight * g_adv
            self.log("train/g_adv", g_adv, **logged)
        opt_g.zero_grad()
        self.manual_backward(loss)
        opt_g.step()
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()
        self.log("train/loss", loss, prog_bar=True, **logged)
        self.log("train/mimic", mimic, **logged)
        return loss.detach()

    # ----- evaluation -----------------------------------------------------------------------------

    def _seed(self) -> int:
        return int(getattr(getattr(self.trainer, "datamodule", None), "seed", 0) or 0)

    @torch.no_grad()
    def _evaluate(self, batch: dict[str, Tensor], batch_idx: int, stage: str) -> None:
        from recur_vision.models.caption_attack import draw_keywords

        images, target_images = batch["images"], batch["target_images"]
        seed = self._seed()
        names = ["victim", "transfer"] if stage == "test" and "transfer" in self._frozen else ["victim"]
        target = self.features(target_images)
        adversarial = self.net.attack(images, target)
        inputs = {"adversarial": adversarial, "clean": images}
        if stage == "test":
            generator = torch.Generator().manual_seed(seed * 1_000_003 + batch_idx)
            signs = torch.randint(0, 2, images.shape, generator=generator).to(images) * 2 - 1
            inputs["noise"] = (images + self.hparams.epsilon * signs).clamp(0.0, 1.0)
        records = [{"index": int(i), "target_index": int(j)} for i, j in zip(batch["index"], batch["target_index"])]
        for name in names:
            prefix = "" if name == "victim" else "transfer_"
            target_features = target if name == "victim" else self.features(target_images, name)
            targets = self.captions(target_features, name)
            for kind, x in inputs.items():
                features = self.features(x, name)
                distance = (features - target_features).pow(2).mean(-1)
                for record, caption, d in zip(records, self.captions(features, name), distance.tolist()):
                    record[f"{prefix}{kind}"] = caption
                    record[f"{prefix}{kind}_mimic"] = d
            for record, caption in zip(records, targets):
                record[f"{prefix}target"] = caption
                record[f"{prefix}keywords"] = [
                    draw_keywords(caption, k, random.Random(f"{seed}:{record['index']}:{k}"), record[f"{prefix}clean"])
                    for k in range(1, self.max_keywords + 1)
                ]
        for kind in inputs:
            if kind == "clean":
                continue
            delta = (inputs[kind] - images).flatten(1)
            for record, l2, linf in zip(records, delta.norm(dim=1).tolist(), delta.abs().amax(1).tolist()):
                record[f"{kind}_l2"], record[f"{kind}_linf"] = l2, linf
        self._outputs.setdefault(stage, []).extend(records)
        if stage == "test" and len(self._outputs.setdefault("images", [])) < self.hparams.samples:
            room = self.hparams.samples - len(self._outputs["images"])
            for i in range(min(room, len(images))):
                self._outputs["images"].append((images[i].cpu(), adversarial[i].cpu(), target_images[i].cpu()))

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs.pop("val", None)

    def on_test_epoch_start(self) -> None:
        self._outputs.pop("test", None)
        self._outputs.pop("images", None)

    def on_validation_epoch_end(self) -> None:
        records = self.gather_from_ranks(self._outputs.pop("val", []))
        if not records or self.trainer.sanity_checking:
            return
        scores = attack_scores(records, "", max_keywords=1)
        for name in ("exact", "keyword1", "mimic", "exact_clean"):
            self.log(f"val/{name}", scores[name], prog_bar=name == "exact")

    def on_test_epoch_end(self) -> None:
        records = self.gather_from_ranks(self._outputs.pop("test", []))
        if not records:
            return
        scores = attack_scores(records, "", self.max_keywords)
        if "transfer_target" in records[0]:
            scores.update(attack_scores(records, "transfer_", self.max_keywords))
        for name, value in scores.items():
            self.log(f"test/{name}", value)
        self._write_samples(records, self._outputs.pop("images", []))

    def _write_samples(self, records: list[dict], images: list[tuple[Tensor, Tensor, Tensor]]) -> None:
        root = getattr(self.trainer, "default_root_dir", None)
        if not root or self.trainer.global_rank != 0:
            return
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / "caption_attack_test.json").write_text(json.dumps(records, indent=1) + "\n")
        if images:
            plot_attack_examples(images, records, Path(root) / "caption_attack_test.png", self.hparams.epsilon)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> list[str]:
        """The victim's captions of the adversarial images of the batch's pairs."""
        return self.captions(self.features(self(batch["images"], batch["target_images"])))


def attack_scores(records: list[dict[str, Any]], prefix: str = "", max_keywords: int = 3) -> dict[str, float]:
    """Show-and-Fool's success rates of one captioner over the evaluated pairs (see :class:`CaptionAttackModule`).

    ``records`` hold, per pair, the captions ``<prefix>target`` / ``adversarial`` / ``clean`` (/ ``noise``),
    ``<prefix>keywords`` (per K, the drawn keywords or None), the feature distances ``<kind>_mimic``
    and the norms ``<kind>_l2`` / ``_linf``. Returns ``<prefix>exact``, ``<prefix>keyword{K}``
    (``_pairs``: how many pairs had K content words), ``<prefix>mimic`` and their ``_noise`` /
    ``_clean`` forms, and (no prefix) ``l2``, ``linf``, ``l2_noise``, ``linf_noise``.
    """
    from recur_vision.models.caption_attack import exact_success, keyword_success

    scores: dict[str, float] = {}
    targets = [r[f"{prefix}target"] for r in records]
    for kind in ("adversarial", "noise", "clean"):
        if f"{prefix}{kind}" not in records[0]:
            continue
        suffix = "" if kind == "adversarial" else f"_{kind}"
        outputs = [r[f"{prefix}{kind}"] for r in records]
        scores[f"{prefix}exact{suffix}"] = sum(exact_success(outputs, targets)) / len(records)
        for k in range(1, max_keywords + 1):
            keywords = [r[f"{prefix}keywords"][k - 1] for r in records]
            hits = [h for h in keyword_success(outputs, keywords) if h is not None]
            scores[f"{prefix}keyword{k}{suffix}"] = sum(hits) / len(hits) if hits else float("nan")
            if kind == "adversarial":
                scores[f"{prefix}keyword{k}_pairs"] = float(len(hits))
        scores[f"{prefix}mimic{suffix}"] = sum(r[f"{prefix}{kind}_mimic"] for r in records) / len(records)
        if not prefix and kind != "clean":
            norm_suffix = "" if kind == "adversarial" else f"_{kind}"
            scores[f"l2{norm_suffix}"] = sum(r[f"{kind}_l2"] for r in records) / len(records)
            scores[f"linf{norm_suffix}"] = sum(r[f"{kind}_linf"] for r in records) / len(records)
    return scores


def plot_attack_examples(
    images: list[tuple[Tensor, Tensor, Tensor]], records: list[dict[str, Any]], path: Path, epsilon: float
) -> Path:
    """A PNG of attacked pairs: the clean image and its caption, the adversarial image with its caption and the
    target caption, the target image (three panels per pair, two pairs per row)."""
    from recur_vision.plots import plot_captions

    panels, captions = [], []
    for (clean, adversarial, target), record in zip(images, records):
        panels += [clean, adversarial, target]
        captions += [
            {"clean": record["clean"]},
            {"adversarial": record["adversarial"], "target": record["target"]},
            {"target image": record["target"]},
        ]
    return plot_captions(
        panels,
        captions,
        path,
        columns=6,
        title=f"controlled caption attack (eps = {epsilon * 255:.0f}/255): clean | adversarial | target image",
    )
