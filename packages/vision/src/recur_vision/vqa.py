"""RSVQA end to end: :class:`RSVQAData` (the generated tiles, RSVQA LR or HR) and :class:`VQAModule`.

Lobry et al., "RSVQA: Visual Question Answering for Remote Sensing Data", IEEE TGRS 2020,
https://arxiv.org/abs/2003.07333. The recipes ``rsvqa/synthetic`` (the embedded default: generated
tiles in the RSVQA LR layout, no download) and ``rsvqa/lr`` (the real LR set under the data root)
train :func:`~recur_vision.models.rsvqa.rsvqa`; the same CLI trains its baselines with
``--model.model rsvqa_question_only`` / ``rsvqa_image_only``.

Batches hold each tile once with all its questions (``group_questions``, the default): the image
branch runs once per tile instead of once per question (20 times fewer backbone passes on the
generated set, ~100 on LR), and every question still sees its own tile. With ``augment`` (the
official flips and rotations), a tile's questions naming ``top``/``bottom``/``left``/``right`` get
the tile as it is and the others the augmented one, as the official per-question loader.

Test scores, beside the model's (``test/oa``, ``test/aa``, ``test/acc_<type>``):

- ``test/*_question_prior``: the best answer a question alone gives — for each question text of the
  test split, the answer it has most often in the training split (else the most frequent training
  answer of its type). Counted inside ``test`` from the training split, no training; the language
  bias (a question-only network cannot do better on questions it has seen, and does no better on
  ones it has not);
- ``test/*_<model>`` for each checkpoint in ``--model.baselines`` (e.g. the question-only and
  image-only networks fitted with the same recipe), scored on the same test batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.engine import RecurModule, Split, SplitDataModule, check_data_matches, read_checkpoint
from recur_core.registry import get_model
from recur_vision.data.rsvqa import (
    EOS,
    IGNORE_INDEX,
    RSVQA_VARIANTS,
    AnswerVocabulary,
    QuestionVocabulary,
    RSVQADataset,
    RSVQASplit,
    build_vocabularies,
    collate_rsvqa,
    read_rsvqa_split,
)
from recur_vision.vqa_metrics import vqa_scores

__all__ = ["RSVQAData", "RSVQATiles", "VQAModule", "collate_rsvqa_tiles", "question_prior"]


class RSVQATiles(Dataset):
    """One item per tile: ``(images [1 or 2, 3, H, W], answers [Q], questions (Q tensors), types, slots [Q])``.

    The questions of :class:`~recur_vision.data.rsvqa.RSVQADataset` grouped by tile. Without
    augmentation ``images`` is the tile; with it, the tile augmented with the draw of the tile's first
    question and, when one of its questions names a side, the tile as it is; ``slots`` gives each
    question's image. Index with ``(epoch, tile)`` when augmenting (an ``epoch_indexed`` DataModule).
    """

    def __init__(self, questions: RSVQADataset) -> None:
        self.questions = questions
        groups: dict[int, list[int]] = {}
        for index, sample in enumerate(questions.samples):
            groups.setdefault(sample.image_id, []).append(index)
        self.groups = list(groups.values())

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, Tensor, list[Tensor], list[str], Tensor]:
        epoch, tile = key if isinstance(key, tuple) else (0, key)
        data, members = self.questions, self.groups[tile]
        augment = data.augment
        turns = [augment and data.may_turn(i) for i in members]
        images = [data.image(members[0], epoch)] if any(turns) else []
        if not all(turns):
            # the plain tile: image() does not augment when augment is off, and spares side questions
            plain = next(i for i, t in zip(members, turns) if not t)
            images.append(data.image(plain, epoch))
        slots = torch.tensor([0 if t else len(images) - 1 for t in turns], dtype=torch.long)
        items = [data.encoded(i) for i in members]
        return (
            torch.stack(images),
            torch.stack([answer for _, answer in items]),
            [question for question, _ in items],
            [data.samples[i].type for i in members],
            slots,
        )


def _pad_questions(questions: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(q) for q in questions], dtype=torch.long)
    padded = torch.full((len(questions), int(lengths.max())), EOS, dtype=torch.long)
    for row, question in enumerate(questions):
        padded[row, : len(question)] = question
    return padded, lengths


def collate_rsvqa_tiles(items: Sequence[tuple[Tensor, Tensor, list[Tensor], list[str], Tensor]]) -> dict[str, Any]:
    """Tiles with their questions -> ``images [M, 3, H, W]``, ``image_index [N]`` (each question's image),
    ``questions [N, L]`` (EOS-padded), ``lengths [N]``, ``answers [N]``, ``types`` (N strings)."""
    offsets = torch.tensor([0] + [len(images) for images, *_ in items]).cumsum(0)
    padded, lengths = _pad_questions([q for _, _, questions, _, _ in items for q in questions])
    return {
        "images": torch.cat([images for images, *_ in items]),
        "image_index": torch.cat([slots + offsets[k] for k, (*_, slots) in enumerate(items)]),
        "questions": padded,
        "lengths": lengths,
        "answers": torch.cat([answers for _, answers, *_ in items]),
        "types": [t for _, _, _, types, _ in items for t in types],
    }


def _collate_questions(items: Sequence[Any]) -> dict[str, Any]:
    """One question an item (:func:`~recur_vision.data.rsvqa.collate_rsvqa`) as the same dict, ``image_index`` None."""
    batch = collate_rsvqa(items)
    return {**batch._asdict(), "image_index": None}


class RSVQAData(SplitDataModule):
    """RSVQA questions on tiles: the generated set (default), RSVQA LR or HR.

    The answer classes (EOS + the ``max_answers`` most frequent answers) and the question vocabulary
    come from the training split (:func:`~recur_vision.data.rsvqa.build_vocabularies`);
    ``vocab_size``, ``num_answers`` and ``image_size`` must equal the model's.

    Args:
        dataset: ``"generated"`` (tiles and questions drawn from object lists,
            :func:`~recur_vision.data.generated_tiles.write_generated_rsvqa`, written once under
            :func:`~recur_vision.datamodules.generated_cache` or ``folder``), ``"lr"`` or ``"hr"`` (the
            real sets, under ``<data root>/RSVQA_LR`` / ``RSVQA_HR`` or ``folder``).
        root: the data root for ``lr`` / ``hr`` (None: ``$RECUR_DATA``, else the user cache).
        folder: an RSVQA-layout folder to read (or, for ``generated``, to write).
        layout: the generated set's layout, ``"lr"`` (presence / comp / count + rural/urban) or ``"hr"``.
        train_tiles, val_tiles, test_tiles, tile_size, questions_per_tile, type_weights: the generated
            set (see :func:`~recur_vision.data.generated_tiles.write_generated_rsvqa`; ``seed`` seeds it).
        image_size: resize tiles to this side; None keeps the tiles' (generated ``tile_size``, LR 256, HR 512).
        max_answers: answer classes besides EOS (the paper: 100).
        augment: the official flips and rotations of training tiles (never for side questions).
        group_questions: a batch item is a tile with all its questions (``batch_size`` counts tiles; the
            image branch runs once per tile); False: one question an item, as the official loader.
        cache_images: decode every tile once, when the split is made (a damaged tile is then an error
            before training starts); False reads tiles as batches need them (HR: 8 GB of tiles).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    def __init__(
        self,
        dataset: Literal["generated", "lr", "hr"] = "generated",
        root: str | None = None,
        folder: str | None = None,
        layout: Literal["lr", "hr"] = "lr",
        train_tiles: int = 200,
        val_tiles: int = 40,
        test_tiles: int = 40,
        tile_size: int = 64,
        questions_per_tile: int = 20,
        type_weights: dict[str, float] | None = None,
        image_size: int | None = None,
        max_answers: int = 100,
        augment: bool = False,
        group_questions: bool = True,
        cache_images: bool = True,
        *,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in ("generated", "lr", "hr"):
            raise ValueError(f"dataset must be 'generated', 'lr' or 'hr', got {dataset!r}")
        if layout not in RSVQA_VARIANTS:
            raise ValueError(f"layout must be 'lr' or 'hr', got {layout!r}")
        if max_answers < 1:
            raise ValueError(f"max_answers must be at least 1, got {max_answers}")
        if image_size is not None and image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
        self.dataset_name = dataset
        self.root, self.folder, self.layout = root, folder, layout
        self.tiles = (train_tiles, val_tiles, test_tiles)
        self.tile_size, self.questions_per_tile = tile_size, questions_per_tile
        self.type_weights = type_weights
        self.variant = layout if dataset == "generated" else dataset
        native = tile_size if dataset == "generated" else RSVQA_VARIANTS[dataset].image_size
        self.image_size = image_size if image_size is not None else native
        self._resize = image_size if image_size is not None and image_size != native else None
        self.max_answers = max_answers
        self.augment, self.group_questions, self.cache_images = augment, group_questions, cache_images
        self.epoch_indexed = augment
        self._splits: dict[str, RSVQASplit] = {}
        self._vocabularies: tuple[QuestionVocabulary, AnswerVocabulary] | None = None

    def rsvqa_folder(self) -> Path | None:
        """The folder read: the generated set (written on first use), ``folder``, or None (the data root's)."""
        if self.dataset_name != "generated":
            return None if self.folder is None else Path(self.folder)
        from recur_vision.data.generated_tiles import _FORMAT_VERSION, write_generated_rsvqa
        from recur_vision.datamodules import generated_cache

        train, val, test = self.tiles
        weights = ""
        if self.type_weights:
            weights = "-w" + "-".join(f"{k}{v:g}" for k, v in sorted(self.type_weights.items()))
        name = (
            f"rsvqa-tiles-v{_FORMAT_VERSION}-{self.layout}-s{self.tile_size}-n{train}-{val}-{test}"
            f"-q{self.questions_per_tile}{weights}-seed{self.seed}"
        )
        target = Path(self.folder) if self.folder is not None else generated_cache() / name
        return write_generated_rsvqa(
            target,
            train,
            val,
            test,
            self.tile_size,
            self.questions_per_tile,
            self.layout,
            self.seed,
            type_weights=self.type_weights,
        )

    def split(self, name: str) -> RSVQASplit:
        """The read split ``name`` (``train`` / ``val`` / ``test``, HR also ``test_phili``)."""
        if name not in self._splits:
            self._splits[name] = read_rsvqa_split(name, self.variant, self.rsvqa_folder(), self.root)
        return self._splits[name]

    @property
    def vocabularies(self) -> tuple[QuestionVocabulary, AnswerVocabulary]:
        """``(question words, answer classes)`` of the training split."""
        if self._vocabularies is None:
            self._vocabularies = build_vocabularies(self.split("train"), self.max_answers)
        return self._vocabularies

    @property
    def vocab_size(self) -> int:
        """Question words (EOS and ``<unk>`` included): the model's ``vocab_size``."""
        return len(self.vocabularies[0])

    @property
    def num_answers(self) -> int:
        """Answer classes (EOS included): the model's ``num_answers``."""
        return len(self.vocabularies[1])

    def make_dataset(self, split: Split) -> Dataset:
        questions = RSVQADataset(
            self.split(split),
            *self.vocabularies,
            image_size=self._resize,
            augment=self.augment and split == "train",
            seed=self.seed,
            cache_images=self.cache_images,
        )
        if self.cache_images:
            for image_id in dict.fromkeys(s.image_id for s in questions.samples):
                questions.tile(image_id)
        return RSVQATiles(questions) if self.group_questions else questions

    def collate_fn(self) -> Callable[[list[Any]], Any]:
        return collate_rsvqa_tiles if self.group_questions else _collate_questions


def question_prior(
    train: RSVQASplit, questions: QuestionVocabulary, answers: AnswerVocabulary
) -> Callable[[Sequence[tuple[int, ...]], Sequence[str]], Tensor]:
    """The question-prior baseline fitted on ``train``: encoded questions and their types -> answer classes.

    A question seen in training gets its most frequent training answer (ties: the first seen), an
    unseen one the most frequent answer of its type (else of the whole split).
    """
    by_question: dict[tuple[int, ...], Counter] = {}
    by_type: dict[str, Counter] = {}
    for sample in train.samples:
        answer = answers.encode(sample.answer)
        if answer == IGNORE_INDEX:
            continue
        by_question.setdefault(tuple(questions.encode(sample.question)), Counter())[answer] += 1
        by_type.setdefault(sample.type, Counter())[answer] += 1
    overall = sum(by_type.values(), Counter())
    best = {key: counts.most_common(1)[0][0] for key, counts in by_question.items()}
    best_type = {key: counts.most_common(1)[0][0] for key, counts in by_type.items()}
    fallback = overall.most_common(1)[0][0] if overall else 0

    def predict(encoded: Sequence[tuple[int, ...]], types: Sequence[str]) -> Tensor:
        guesses = [best.get(q, best_type.get(t, fallback)) for q, t in zip(encoded, types)]
        return torch.tensor(guesses, dtype=torch.long)

    return predict


class VQAModule(RecurModule):
    """RSVQA and its single-modality baselines: cross-entropy over the answer classes, RSVQA's scores.

    Logs ``train/loss``, ``val/loss`` and, per epoch, RSVQA's scores (:func:`~recur_vision.vqa_metrics.vqa_scores`)
    ``val/oa`` (the checkpoint monitor), ``val/aa``, ``val/acc_<type>``; the same under ``test/``,
    with the baselines of the module docstring beside them (``test/oa_question_prior``,
    ``test/acc_<type>_<baseline model>``, ...).

    Args:
        model: ``rsvqa`` (image and question), ``rsvqa_question_only`` or ``rsvqa_image_only``.
        model_kwargs: the model's own options (:class:`~recur_vision.models.rsvqa.RSVQAConfig`:
            ``backbone``, ``backbone_kwargs``, ``backbone_weights``, ``question_dim``, ``layer``, ...).
        vocab_size, num_answers, image_size: must equal the data's.
        baselines: checkpoints of other models fitted on the same data (e.g. the question-only and
            image-only runs), scored beside this one at test (not saved in this model's checkpoint).
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`
            (the paper: Adam, lr 1e-5, 150 epochs, for frozen pretrained features).
    """

    monitor = "val/oa"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "rsvqa",
        model_kwargs: dict[str, Any] | None = None,
        vocab_size: int = 1000,
        num_answers: int = 101,
        image_size: int = 64,
        baselines: list[str] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        fixed = {"vocab_size", "num_answers", "image_size", "inputs"} & set(model_kwargs or {})
        if fixed:
            raise ValueError(
                f"set {', '.join(sorted(fixed))} as --model.<name>, not in model_kwargs (inputs: pick the model)"
            )
        # other runs' checkpoints chosen at test, not a hyper-parameter of this network: kept out of its checkpoint
        self.save_hyperparameters(ignore=["baselines"])
        self.baselines = list(baselines or [])
        self.net = get_model(
            model, vocab_size=vocab_size, num_answers=num_answers, image_size=image_size, **(model_kwargs or {})
        )
        self._outputs: dict[str, list[tuple[Tensor, Tensor, list[str]]]] = {}
        self._baselines: dict[str, torch.nn.Module] = {}
        self._prior: Callable[[Sequence[tuple[int, ...]], Sequence[str]], Tensor] | None = None

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("vocab_size", "num_answers", "image_size"))

    def forward(self, batch: Mapping[str, Any], net: torch.nn.Module | None = None) -> Tensor:
        """Answer logits ``[N, num_answers]`` of a batch of :class:`RSVQAData`."""
        return (net or self.net)(batch["images"], batch["questions"], batch["lengths"], batch.get("image_index"))

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        loss = F.cross_entropy(self(batch), batch["answers"], ignore_index=IGNORE_INDEX)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["answers"]))
        return loss

    def _evaluate(self, batch: Mapping[str, Any], stage: str) -> None:
        logits = self(batch)
        answers = batch["answers"]
        loss = F.cross_entropy(logits, answers, ignore_index=IGNORE_INDEX)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=len(answers))
        outputs = self._outputs.setdefault(stage, [])
        outputs.append((logits.argmax(-1).cpu(), answers.cpu(), list(batch["types"])))
        if stage != "test":
            return
        if self._prior is not None:
            rows = zip(batch["questions"].tolist(), batch["lengths"].tolist())
            encoded = [tuple(row[:length]) for row, length in rows]
            predicted = self._prior(encoded, batch["types"])
            self._outputs.setdefault("test_question_prior", []).append((predicted, answers.cpu(), batch["types"]))
        for name, net in self._baselines.items():
            predicted = self(batch, net).argmax(-1).cpu()
            self._outputs.setdefault(f"test_{name}", []).append((predicted, answers.cpu(), batch["types"]))

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _log_scores(self, key: str, stage: str, suffix: str = "") -> None:
        # one (predicted, answer, question type) per question, every process's
        outputs = self.gather_from_ranks(
            [item for p, a, t in self._outputs.pop(key, []) for item in zip(p.tolist(), a.tolist(), t)]
        )
        if not outputs:
            return
        predicted, answers, types = zip(*outputs)
        predicted, answers, types = torch.tensor(predicted), torch.tensor(answers), list(types)
        scores = vqa_scores(predicted, answers, types).as_dict(f"{stage}/")
        for name, value in scores.items():
            self.log(f"{name}{suffix}", value, prog_bar=name in (f"{stage}/oa", f"{stage}/aa") and not suffix)

    def on_validation_epoch_start(self) -> None:
        self._outputs.pop("val", None)

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val", "val")

    def on_test_epoch_start(self) -> None:
        """Fit the question prior on the training split and load the ``baselines`` checkpoints."""
        self._outputs = {}
        data = getattr(self.trainer, "datamodule", None)
        self._prior = None
        if isinstance(data, RSVQAData):
            self._prior = question_prior(data.split("train"), *data.vocabularies)
        self._baselines = {}
        for path in self.baselines:
            name, net = self._load_baseline(path)
            if name in self._baselines or name == "question_prior":
                raise ValueError(f"--model.baselines: two baselines are {name!r} models; give each model once")
            self._baselines[name] = net.to(self.device).eval()

    def _load_baseline(self, path: str) -> tuple[str, torch.nn.Module]:
        checkpoint = read_checkpoint(path, "--model.baselines")
        hparams = checkpoint.get("hyper_parameters", {})
        if "vocab_size" not in hparams or "num_answers" not in hparams:
            raise ValueError(f"--model.baselines {path}: not an rsvqa checkpoint (fit one with the rsvqa recipes)")
        for name in ("vocab_size", "num_answers", "image_size"):
            if hparams.get(name) != self.hparams[name]:
                raise ValueError(
                    f"--model.baselines {path}: its {name} is {hparams.get(name)} but this model's is "
                    f"{self.hparams[name]}; give a baseline fitted on the same data"
                )
        model = hparams["model"]
        net = get_model(
            model,
            vocab_size=hparams["vocab_size"],
            num_answers=hparams["num_answers"],
            image_size=hparams["image_size"],
            **(hparams.get("model_kwargs") or {}),
        )
        state = checkpoint["state_dict"]
        net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
        return model.removeprefix("rsvqa_"), net

    def on_test_epoch_end(self) -> None:
        self._log_scores("test", "test")
        self._log_scores("test_question_prior", "test", "_question_prior")
        for name in self._baselines:
            self._log_scores(f"test_{name}", "test", f"_{name}")
        self._baselines = {}

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        """The predicted answer class of each question ``[N]``."""
        return self(batch).argmax(-1)
