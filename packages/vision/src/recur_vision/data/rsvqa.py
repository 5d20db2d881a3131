"""RSVQA: the LR / HR JSON splits, the official question and answer encodings, and a torch Dataset.

Lobry, Marcos, Murray & Tuia, "RSVQA: Visual Question Answering for Remote Sensing Data", IEEE TGRS
58(12), 2020, https://arxiv.org/abs/2003.07333. Official code: ``syvlo/RSVQA``
(``VQA_model/VQALoader.py``, ``VQA_model/VocabEncoder.py``, ``AutomaticDB/DataSpecification.md``).

Layout (``<data root>/RSVQA_LR`` and ``<data root>/RSVQA_HR``, as the Zenodo archives unpack)::

    LR:  LR_split_{train,val,test}_{images,questions,answers}.json            Images_LR/{id}.tif
    HR:  USGS_split_{train,val,test,test_phili}_{images,questions,answers}.json  Data/{id}.tif

Each JSON holds one list (other keys of a row are ignored)::

    {"images":    [{"id", "active", "questions_ids": [...]}, ...]}
    {"questions": [{"id", "img_id", "type", "question", "answers_ids": [...], "active"}, ...]}
    {"answers":   [{"id", "question_id", "answer", "active"}, ...]}

Rows are joined by id (the official loader indexes the lists by position, which equals the id in
the released files). Only ``active`` rows are read: every active image, its active questions in the
order ``questions_ids`` lists them, and for each the first active answer of ``answers_ids`` (one
answer per question, as the official loader's ``answers_ids[0]``). Question types: LR ``presence``,
``comp``, ``count``, ``rural_urban``; HR ``presence``, ``comp``, ``count``, ``area``; test set 2 of
HR (``test_phili``) is Philadelphia, an unseen area and sensor.

Encodings, as ``VocabEncoder.py``:

- a question loses one trailing ``?`` or ``.``, is split on whitespace and lower-cased; its ids are
  the words then ``<EOS>`` (0), cut at 20 (:data:`MAX_QUESTION_LENGTH`; a question of 20 words or
  more loses its EOS, as the official encoder's padding to 20 does);
- an answer is normalised the same way, token by token; on LR (``bin_counts``) a number token and on
  both sets an area token ``<N>m2`` is replaced by its bin: ``0`` stays, 1-10 ``between 0 and 10``,
  11-100 ``between 10 and 100``, 101-1000 ``between 100 and 1000``, above ``more than 1000`` (areas
  with ``m2`` after each number: ``between 0m2 and 10m2`` ...); HR counts are not binned;
- the answer classes are ``<EOS>`` (0, never a target) and the 100 most frequent answers
  (:data:`MAX_ANSWERS`; ties in first-seen order, as the official stable sort).

Deliberate differences, each for a stated reason:

- Both vocabularies are built on the training split (the official code builds them on
  ``all_questions.json`` / ``all_answers.json`` of every split), so nothing is learnt from the test
  questions; the question vocabulary therefore has ``<unk>`` (1) for words that training never saw
  (the official one has no unknown word: it covers every split).
- An answer outside the answer classes (possible on HR, whose counts are not binned) gets
  :data:`IGNORE_INDEX` (-100): the cross-entropy skips it and the accuracy counts it as wrong (the
  official encoder raises a ``KeyError`` there).
- Images are scaled to [0, 1] before the ImageNet normalisation. The official loader stores the
  tiles in a float64 array, so ``ToTensor`` does not divide by 255 and the normalisation sees 0..255.

Augmentation (training, as the official loader): with probability 0.5 each, an up-down flip, a
left-right flip, a rotation by 90 degrees and one by 270 degrees, except for questions that name
``top``, ``bottom``, ``left`` or ``right``. Draws come from ``(seed, epoch, index)`` so that any
worker and a resumed run repeat them.

Shapes of an item: image float32 [3, H, W]; question int64 [L] (L <= 20); answer int64 []; type str.
:func:`collate_rsvqa` pads a batch: images [B, 3, H, W], questions [B, L_max] (EOS-padded), lengths
[B], answers [B], types list[str].
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.data import data_root, dataset_file, get_dataset
from recur_vision.extract import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "EOS",
    "IGNORE_INDEX",
    "MAX_ANSWERS",
    "MAX_QUESTION_LENGTH",
    "RELATIONAL_WORDS",
    "RSVQA_VARIANTS",
    "UNK",
    "AnswerVocabulary",
    "QuestionVocabulary",
    "RSVQABatch",
    "RSVQADataset",
    "RSVQAItem",
    "RSVQASample",
    "RSVQASplit",
    "RSVQAVariant",
    "bin_answer",
    "build_vocabularies",
    "collate_rsvqa",
    "default_rsvqa_folder",
    "normalise_answer",
    "question_tokens",
    "read_rsvqa_image",
    "read_rsvqa_split",
    "rsvqa_split_files",
]

EOS = 0
UNK = 1
EOS_WORD = "<EOS>"
UNK_WORD = "<unk>"
IGNORE_INDEX = -100
MAX_QUESTION_LENGTH = 20
MAX_ANSWERS = 100
RELATIONAL_WORDS = frozenset({"top", "bottom", "left", "right"})
_KINDS = ("images", "questions", "answers")
_ROW_KEYS = {
    "images": ("id", "active", "questions_ids"),
    "questions": ("id", "img_id", "type", "question", "answers_ids", "active"),
    "answers": ("id", "question_id", "answer", "active"),
}


@dataclass(frozen=True)
class RSVQAVariant:
    """One of the two RSVQA sets: its file prefix, image folder, splits and answer binning.

    Args:
        dataset: the catalogue name (``rsvqa-lr``).
        prefix: the split files' prefix (``LR``: ``LR_split_train_questions.json``).
        image_dir: the tiles' folder inside the dataset folder.
        splits: the split names the release has.
        bin_counts: bin the count answers (LR) as well as the areas (both sets).
        image_size: side of the released tiles in pixels.
    """

    dataset: str
    prefix: str
    image_dir: str
    splits: tuple[str, ...]
    bin_counts: bool
    image_size: int

    def file_name(self, split: str, kind: str) -> str:
        """``{prefix}_split_{split}_{kind}.json``."""
        return f"{self.prefix}_split_{split}_{kind}.json"

    @property
    def layout(self) -> str:
        """The folder's layout in one phrase, for error messages."""
        splits = ",".join(self.splits)
        return f"{self.prefix}_split_{{{splits}}}_{{images,questions,answers}}.json and {self.image_dir}/{{id}}.tif"


RSVQA_VARIANTS: dict[str, RSVQAVariant] = {
    "lr": RSVQAVariant("rsvqa-lr", "LR", "Images_LR", ("train", "val", "test"), bin_counts=True, image_size=256),
    "hr": RSVQAVariant(
        "rsvqa-hr", "USGS", "Data", ("train", "val", "test", "test_phili"), bin_counts=False, image_size=512
    ),
}


def _variant(variant: str) -> RSVQAVariant:
    if variant not in RSVQA_VARIANTS:
        raise ValueError(f"unknown RSVQA variant {variant!r}; use 'lr' (Sentinel-2, 256 px) or 'hr' (USGS, 512 px)")
    return RSVQA_VARIANTS[variant]


# ----- text normalisation ------------------------------------------------------------------------


def _strip_final_mark(text: str) -> str:
    text = text.strip()
    return text[:-1] if text[-1:] in ("?", ".") else text


def question_tokens(question: str) -> list[str]:
    """The official normalisation: one trailing ``?``/``.`` removed, split on whitespace, lower-cased.

    >>> question_tokens("Is there a Water area?")
    ['is', 'there', 'a', 'water', 'area']
    """
    return [token.lower() for token in _strip_final_mark(question).split()]


def _bin(number: int, unit: str) -> str:
    if number == 0:
        return f"0{unit}"
    for high, low in ((10, 0), (100, 10), (1000, 100)):
        if number <= high:
            return f"between {low}{unit} and {high}{unit}"
    return f"more than 1000{unit}"


def bin_answer(token: str, bin_counts: bool) -> str:
    """One answer token as the official encoder maps it: counts (when ``bin_counts``) and ``<N>m2`` areas binned.

    >>> bin_answer("12", True), bin_answer("12", False), bin_answer("1500m2", False), bin_answer("0", True)
    ('between 10 and 100', '12', 'more than 1000m2', '0')
    """
    if bin_counts and token.isdigit():
        return _bin(int(token), "")
    if token.endswith("m2") and token[:-2].isdigit():
        return _bin(int(token[:-2]), "m2")
    return token


def normalise_answer(answer: str, bin_counts: bool) -> str:
    """The answer class of a raw answer string: normalised like a question, each token through :func:`bin_answer`."""
    return " ".join(bin_answer(token, bin_counts) for token in question_tokens(answer))


# ----- vocabularies ------------------------------------------------------------------------------


class QuestionVocabulary:
    """Question words: ``<EOS>`` = 0, ``<unk>`` = 1, then the words by decreasing count (ties: first seen).

    Args:
        words: the words after EOS and ``<unk>``, in index order.
    """

    def __init__(self, words: Sequence[str]) -> None:
        self.words: tuple[str, ...] = (EOS_WORD, UNK_WORD, *(w for w in words if w not in (EOS_WORD, UNK_WORD)))
        self._index = {w: i for i, w in enumerate(self.words)}
        if len(self._index) != len(self.words):
            raise ValueError("a question word is listed twice in the vocabulary")

    @classmethod
    def build(cls, questions: Iterable[str]) -> QuestionVocabulary:
        """Every word of ``questions`` (raw strings; pass the training split's), most frequent first."""
        counts = Counter(token for question in questions for token in question_tokens(question))
        # Counter keeps first-seen order, and sorted() is stable: ties stay in that order
        return cls([word for word, _ in sorted(counts.items(), key=lambda kv: -kv[1])])

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QuestionVocabulary) and other.words == self.words

    def __hash__(self) -> int:
        return hash(self.words)

    def __repr__(self) -> str:
        return f"QuestionVocabulary({len(self)} entries: {', '.join(self.words[:6])}, ...)"

    def encode(self, question: str, max_length: int = MAX_QUESTION_LENGTH) -> list[int]:
        """Word ids then EOS, cut at ``max_length``; unknown words are ``<unk>``."""
        ids = [self._index.get(token, UNK) for token in question_tokens(question)] + [EOS]
        return ids[:max_length]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of ``ids`` up to the first EOS."""
        words = []
        for i in ids:
            if int(i) == EOS:
                break
            words.append(self.words[int(i)])
        return words


class AnswerVocabulary:
    """Answer classes: ``<EOS>`` = 0 (never a target, kept as the official encoder), then the top answers.

    Args:
        answers: the answer classes after EOS, in index order (normalised and binned strings).
    """

    def __init__(self, answers: Sequence[str]) -> None:
        self.words: tuple[str, ...] = (EOS_WORD, *(a for a in answers if a != EOS_WORD))
        self._index = {a: i for i, a in enumerate(self.words)}
        if len(self._index) != len(self.words):
            raise ValueError("an answer is listed twice in the vocabulary")

    @classmethod
    def build(cls, answers: Iterable[str], max_answers: int = MAX_ANSWERS) -> AnswerVocabulary:
        """The ``max_answers`` most frequent of ``answers`` (normalised; pass the training split's)."""
        if max_answers < 1:
            raise ValueError(f"max_answers must be at least 1, got {max_answers}")
        counts = Counter(answers)
        ordered = [answer for answer, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
        return cls(ordered[:max_answers])

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnswerVocabulary) and other.words == self.words

    def __hash__(self) -> int:
        return hash(self.words)

    def __repr__(self) -> str:
        return f"AnswerVocabulary({len(self)} entries: {', '.join(self.words[:6])}, ...)"

    def encode(self, answer: str) -> int:
        """The class of a normalised answer; :data:`IGNORE_INDEX` when it is not one of the classes."""
        return self._index.get(answer, IGNORE_INDEX)

    def decode(self, index: int) -> str:
        """The answer string of class ``index``."""
        return self.words[int(index)]


# ----- reading the split files -------------------------------------------------------------------


@dataclass(frozen=True)
class RSVQASample:
    """One active question with its answer.

    Attributes:
        question_id, image_id: the ids in the split files.
        question: the question as written.
        answer: the answer class (normalised and binned, :func:`normalise_answer`).
        raw_answer: the answer as written (``"1234m2"``).
        type: the question type (``presence``, ``comp``, ``count``, ``rural_urban``, ``area``).
    """

    question_id: int
    image_id: int
    question: str
    answer: str
    raw_answer: str
    type: str


@dataclass(frozen=True)
class RSVQASplit:
    """A read split: its samples and where its tiles are.

    Attributes:
        samples: the active questions, image by image.
        image_folder: the folder of ``{image_id}.tif``.
        variant: ``lr`` or ``hr``.
        split: the split name.
    """

    samples: tuple[RSVQASample, ...]
    image_folder: Path
    variant: str
    split: str

    def type_counts(self) -> dict[str, int]:
        """Questions per type, most frequent first."""
        return dict(Counter(s.type for s in self.samples).most_common())


def rsvqa_split_files(
    split: str, variant: str = "lr", folder: str | os.PathLike | None = None, root: str | None = None
) -> dict[str, Path]:
    """The ``images`` / ``questions`` / ``answers`` files of ``split``.

    Args:
        split: ``train``, ``val``, ``test`` (and ``test_phili`` on HR).
        variant: ``lr`` or ``hr``.
        folder: an RSVQA-layout folder (a generated set); default the dataset's folder under the data root.
        root: the data root when ``folder`` is None.

    Raises:
        ValueError: an unknown split or variant.
        FileNotFoundError: a split file is missing; one line naming the layout and how to get the data.
    """
    spec = _variant(variant)
    if split not in spec.splits:
        raise ValueError(f"unknown RSVQA {variant.upper()} split {split!r}; valid splits: {', '.join(spec.splits)}")
    names = {kind: spec.file_name(split, kind) for kind in _KINDS}
    if folder is None:
        label = f"RSVQA {variant.upper()}"
        return {kind: dataset_file(spec.dataset, name, root, f"{label} ({name})") for kind, name in names.items()}
    base = Path(folder)
    for name in names.values():
        if not (base / name).is_file():
            raise FileNotFoundError(
                f"RSVQA split file {name} not found in {base}: an RSVQA {variant.upper()} folder holds {spec.layout} "
                f"(get the real data with 'recur data list' / the {spec.dataset} instructions, or write a generated "
                "set with recur_vision.data.generated_tiles.write_generated_rsvqa)"
            )
    return {kind: base / name for kind, name in names.items()}


def _load_rows(path: Path, kind: str) -> list[dict]:
    try:
        with path.open() as handle:
            obj = json.load(handle)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); download the file again") from None
    rows = obj.get(kind) if isinstance(obj, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f'{path}: expected an object {{"{kind}": [...]}} (an RSVQA {kind} file)')
    for position, row in enumerate(rows):
        missing = [key for key in _ROW_KEYS[kind] if not isinstance(row, dict) or key not in row]
        if missing:
            raise ValueError(
                f"{path}: {kind} row {position} has no {missing[0]!r}; rows need {', '.join(_ROW_KEYS[kind])}"
            )
    return rows


def _by_id(rows: list[dict], path: Path, kind: str) -> dict[int, dict]:
    table: dict[int, dict] = {}
    for row in rows:
        key = int(row["id"])
        if key in table:
            raise ValueError(f"{path}: {kind} id {key} appears twice; each id names one row")
        table[key] = row
    return table


def read_rsvqa_split(
    split: str, variant: str = "lr", folder: str | os.PathLike | None = None, root: str | None = None
) -> RSVQASplit:
    """Read one split: every active image's active questions with their first active answer.

    Args:
        split, variant, folder, root: as :func:`rsvqa_split_files`.

    Raises:
        FileNotFoundError: a split file is missing.
        ValueError: a file that is not JSON or lacks a key, an answer whose ``question_id`` no question
            has, a question naming an answer (or an image naming a question) that is not in the files,
            or an active question without an active answer — one line naming the file and the id.
    """
    spec = _variant(variant)
    files = rsvqa_split_files(split, variant, folder, root)
    rows = {kind: _load_rows(files[kind], kind) for kind in _KINDS}
    questions = _by_id(rows["questions"], files["questions"], "question")
    answers = _by_id(rows["answers"], files["answers"], "answer")
    for answer in rows["answers"]:
        if answer["active"] and int(answer["question_id"]) not in questions:
            raise ValueError(
                f"{files['answers']}: answer {answer['id']} belongs to question {answer['question_id']}, which no "
                f"question in {files['questions'].name} has; the three files of a split must come from one release"
            )
    samples = []
    for image in rows["images"]:
        if not image["active"]:
            continue
        image_id = int(image["id"])
        for question_id in image["questions_ids"]:
            question = questions.get(int(question_id))
            if question is None:
                raise ValueError(
                    f"{files['images']}: image {image_id} lists question {question_id}, which "
                    f"{files['questions'].name} does not have; the three files of a split must come from one release"
                )
            if not question["active"]:
                continue
            answer = None
            for answer_id in question["answers_ids"]:
                if int(answer_id) not in answers:
                    raise ValueError(
                        f"{files['questions']}: question {question_id} names answer {answer_id}, which "
                        f"{files['answers'].name} does not have; the three files of a split must come from one release"
                    )
                if answers[int(answer_id)]["active"]:
                    answer = answers[int(answer_id)]
                    break
            if answer is None:
                raise ValueError(
                    f"{files['questions']}: active question {question_id} has no active answer; each question needs one"
                )
            raw = str(answer["answer"])
            samples.append(
                RSVQASample(
                    question_id=int(question_id),
                    image_id=image_id,
                    question=str(question["question"]),
                    answer=normalise_answer(raw, spec.bin_counts),
                    raw_answer=raw,
                    type=str(question["type"]),
                )
            )
    if not samples:
        raise ValueError(f"{files['images']}: no active image with an active question in split {split!r}")
    return RSVQASplit(tuple(samples), files["images"].parent / spec.image_dir, variant, split)


def _rsvqa_folder_hint(path: Path) -> str:
    for spec in RSVQA_VARIANTS.values():
        if path.parent.name == spec.image_dir:
            return (
                f"unpack the {spec.dataset} images archive again so that {spec.image_dir}/{path.name} is a valid TIFF"
            )
    return "write the tile again as an 8-bit RGB TIFF"


def read_rsvqa_image(path: str | os.PathLike) -> np.ndarray:
    """An RSVQA tile as uint8 ``[H, W, 3]`` RGB (Pillow; an RGBA tile loses its alpha, a grey one is repeated).

    Raises:
        FileNotFoundError: the tile is missing.
        ValueError: the file is not a readable TIFF, or not 8-bit: one line naming the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"RSVQA tile {path} not found: {_rsvqa_folder_hint(path)}")
    try:
        # a damaged file is reported by the error below; Pillow's warnings about it add nothing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.load()
                mode = image.mode
                if mode not in ("RGB", "RGBA", "L"):
                    raise ValueError(
                        f"RSVQA tile {path} is a {mode!r} image, expected 8-bit RGB; "
                        "convert it (e.g. gdal_translate -ot Byte)"
                    )
                array = np.array(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"cannot read RSVQA tile {path} ({reason}): {_rsvqa_folder_hint(path)}") from None
    return array


# ----- the Dataset -------------------------------------------------------------------------------


class RSVQAItem(NamedTuple):
    """One question: ``image`` float32 [3, H, W], ``question`` int64 [L], ``answer`` int64 [], ``type`` str."""

    image: Tensor
    question: Tensor
    answer: Tensor
    type: str


class RSVQABatch(NamedTuple):
    """A padded batch: images [B, 3, H, W], questions [B, L] (EOS after each end), lengths [B], answers [B], types."""

    images: Tensor
    questions: Tensor
    lengths: Tensor
    answers: Tensor
    types: list[str]


def collate_rsvqa(items: Sequence[RSVQAItem]) -> RSVQABatch:
    """Stack images and answers, pad the questions with EOS to the longest, keep the lengths and types."""
    lengths = torch.tensor([len(item.question) for item in items], dtype=torch.long)
    questions = torch.full((len(items), int(lengths.max())), EOS, dtype=torch.long)
    for row, item in enumerate(items):
        questions[row, : len(item.question)] = item.question
    return RSVQABatch(
        images=torch.stack([item.image for item in items]),
        questions=questions,
        lengths=lengths,
        answers=torch.stack([item.answer for item in items]),
        types=[item.type for item in items],
    )


class RSVQADataset(Dataset):
    """RSVQA questions as model inputs: ``RSVQAItem(image, question ids, answer id, type)`` per question.

    Args:
        split: a read split (:func:`read_rsvqa_split`).
        questions: the question vocabulary (built on the training split).
        answers: the answer classes (built on the training split).
        image_size: resize every tile to this square side (bilinear); None keeps the tiles' size.
        mean, std: per-channel normalisation after scaling to [0, 1] (ImageNet's, as the official
            transform); None skips it.
        augment: the official flips and rotations (see the module docstring); then index the
            dataset with ``(epoch, index)`` (an ``epoch_indexed`` DataModule), or with ``index``
            alone for epoch 0's draw.
        seed: with the epoch and the index, seeds the augmentation.
        cache_images: keep decoded tiles in memory (LR: 772 tiles, 150 MB; HR's 10,659 tiles of
            512 px take 8 GB: leave it off there).
    """

    def __init__(
        self,
        split: RSVQASplit,
        questions: QuestionVocabulary,
        answers: AnswerVocabulary,
        image_size: int | None = None,
        mean: Sequence[float] | None = IMAGENET_MEAN,
        std: Sequence[float] | None = IMAGENET_STD,
        augment: bool = False,
        seed: int = 0,
        cache_images: bool = True,
    ) -> None:
        if image_size is not None and image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels (one ResNet cell), got {image_size}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither (no normalisation)")
        self.split = split
        self.samples = split.samples
        self.question_vocab = questions
        self.answer_vocab = answers
        self.image_size = image_size
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32)[:, None, None]
        self.augment = augment
        self.seed = seed
        self._cache: dict[int, np.ndarray] | None = {} if cache_images else None
        self._encoded = [
            (
                torch.tensor(questions.encode(s.question), dtype=torch.long),
                torch.tensor(answers.encode(s.answer), dtype=torch.long),
                not RELATIONAL_WORDS.intersection(question_tokens(s.question)),
            )
            for s in self.samples
        ]

    def __len__(self) -> int:
        return len(self.samples)

    def tile(self, image_id: int) -> np.ndarray:
        """The tile ``image_id`` as uint8 ``[H, W, 3]``, resized to ``image_size`` when set."""
        if self._cache is not None and image_id in self._cache:
            return self._cache[image_id]
        array = read_rsvqa_image(self.split.image_folder / f"{image_id}.tif")
        if self.image_size is not None and array.shape[:2] != (self.image_size, self.image_size):
            resized = Image.fromarray(array).resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
            array = np.array(resized, dtype=np.uint8)
        if self._cache is not None:
            self._cache[image_id] = array
        return array

    def _augmented(self, array: np.ndarray, epoch: int, index: int) -> np.ndarray:
        draws = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, index])).random(4) < 0.5
        if draws[0]:
            array = array[::-1]
        if draws[1]:
            array = array[:, ::-1]
        if draws[2]:
            array = np.rot90(array, k=1)
        if draws[3]:
            array = np.rot90(array, k=3)
        return array

    def encoded(self, index: int) -> tuple[Tensor, Tensor]:
        """``(question ids [L], answer class [])`` of question ``index``."""
        question, answer, _ = self._encoded[index]
        return question, answer

    def may_turn(self, index: int) -> bool:
        """Whether question ``index`` may see a flipped or rotated tile (it names no side)."""
        return self._encoded[index][2]

    def image(self, index: int, epoch: int = 0) -> Tensor:
        """The normalised tile of question ``index`` ``[3, H, W]``, augmented with the draw of ``(epoch, index)``
        when ``augment`` is on and the question names no side."""
        array = self.tile(self.samples[index].image_id)
        if self.augment and self.may_turn(index):
            array = self._augmented(array, epoch, index)
        image = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float().div_(255.0)
        if self.mean is not None:
            image = (image - self.mean) / self.std
        return image

    def __getitem__(self, key: int | tuple[int, int]) -> RSVQAItem:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        question, answer, _ = self._encoded[index]
        return RSVQAItem(self.image(index, epoch), question, answer, self.samples[index].type)


def default_rsvqa_folder(variant: str = "lr", root: str | None = None) -> Path:
    """``<data root>/<catalogue folder>`` of the variant (whether or not it is there)."""
    return data_root(root) / get_dataset(_variant(variant).dataset).folder


def build_vocabularies(
    train: RSVQASplit, max_answers: int = MAX_ANSWERS
) -> tuple[QuestionVocabulary, AnswerVocabulary]:
    """The question vocabulary and the answer classes of a training split."""
    return (
        QuestionVocabulary.build(s.question for s in train.samples),
        AnswerVocabulary.build((s.answer for s in train.samples), max_answers),
    )
