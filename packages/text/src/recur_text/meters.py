"""Poem-meter classification on recur's engine: the DataModule over the four corpora and the task.

Yousef et al. 2019 (arXiv:1905.05700) and Al-shaibani et al. 2020 (Pattern Recognition Letters 136):
a verse, cleaned and character-encoded (one-hot, binary or two-hot; diacritics kept or stripped), is
classified into its meter by a stacked bidirectional recurrent network
(:class:`~recur_text.models.meters.MeterRNN`), trained with the cross-entropy weighted against class
imbalance, ``w_c = (1/n_c) / sum_c' (1/n_c')`` with ``n_c`` the training verses of meter ``c``
(Yousef et al., section 5).

.. code-block:: bash

    recur-text fit --config meters/english_generated          # no data file: cmudict-generated English verses
    recur-text fit --config meters/metrec                     # MetRec baits.zip under the data root
    recur-text test --config meters/metrec --ckpt_path <run>/checkpoints/best.ckpt

Data (:class:`MeterData`, option ``dataset``):

- ``english_generated``: lines of the 4 English meters built from cmudict stress patterns
  (:mod:`recur_text.data.english_meters`), written once to the generated cache as an EPD-layout CSV and
  read by the EPD reader; split 80/10/10 (seeded).
- ``epd``: EPD CSVs of the ``apcd`` dataset (default ``downsampled_iambic.csv``, the paper's 4-meter
  set); split 80/10/10.
- ``apcd``: APCD CSVs (default the balanced ``full_sample_100.csv``, 16 meters); split 80/10/10.
- ``metrec``: MetRec's official train/test split; validation is a seeded 10% of train.

Batches are dicts: ``inputs`` [B, T, D] float (zero rows after each verse), ``lengths`` [B], ``targets`` [B].

Logged: ``train/loss``, ``train/acc``; ``val/loss``, ``val/acc`` (the best checkpoint has the highest),
``val/acc_macro``; at test ``test/loss``, ``test/acc`` (overall accuracy), ``test/acc_macro`` (the mean of
the per-meter accuracies), ``test/acc_<meter>`` (per meter: the share of its verses classified right) and
``test/acc_majority`` (always the most frequent training meter), printed on one line; test also writes
``confusion_matrix.png`` (rows: true meter, normalised) into the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_confusion_matrix

from recur_core.data import dataset_file
from recur_core.engine import RecurModule, Split, SplitDataModule, check_data_matches, sizes_from_data
from recur_core.registry import get_model
from recur_text.data.alphabets import ARABIC, ENGLISH, Alphabet
from recur_text.data.encodings import ENCODINGS, encoding_width, token_indices
from recur_text.data.english_meters import write_english_verses
from recur_text.data.meters import APCD_METERS, EPD_METERS, MeterVerses, read_apcd_csv, read_epd_csv, read_metrec

__all__ = [
    "DATASETS",
    "EncodedVerses",
    "MeterClassificationModule",
    "MeterData",
    "collate_verses",
    "encoding_table",
    "imbalance_weights",
    "meter_labels",
    "plot_confusion",
]

DATASETS = ("english_generated", "epd", "apcd", "metrec")
_DEFAULT_FILES = {
    "epd": ["English_Poetry_RNN/downsampled_iambic.csv"],
    "apcd": ["Code/Arabic_Poetry/src/lib/full_sample_100.csv"],
}
_NUM_CLASSES = {"english_generated": len(EPD_METERS), "epd": len(EPD_METERS), "apcd": len(APCD_METERS), "metrec": 14}
# the APCD meters in Latin letters (al-Khalil's order), for metric names and figure labels
_APCD_LATIN = (
    "tawil",
    "madid",
    "basit",
    "wafir",
    "kamil",
    "hazaj",
    "rajaz",
    "ramal",
    "sari",
    "munsarih",
    "khafif",
    "mudari",
    "muqtadab",
    "mujtathth",
    "mutaqarib",
    "mutadarik",
)


def meter_labels(meters: tuple[str, ...]) -> list[str]:
    """Latin names of ``meters`` (APCD's Arabic names transliterated; MetRec's and EPD's kept)."""
    latin = dict(zip(APCD_METERS, _APCD_LATIN))
    return [latin.get(m, m) for m in meters]


def encoding_table(encoding: str, alphabet: Alphabet) -> Tensor:
    """Rows ``[alphabet.size + 1, D]``: row 0 a padding row of zeros, row ``k + 1`` token ``k`` in ``encoding``.

    Indexing it with ``token_indices + 1`` gives what :data:`recur_text.data.encodings.ENCODERS` gives for
    the verse (a test checks this), for a whole padded batch in one gather.
    """
    width = encoding_width(encoding, alphabet)
    tokens = torch.arange(alphabet.size)
    table = torch.zeros(alphabet.size + 1, width)
    if encoding == "one_hot":
        table[1:] = torch.eye(alphabet.size)
    elif encoding == "binary":
        shifts = torch.arange(width - 1, -1, -1)
        table[1:] = (((tokens + 1)[:, None] >> shifts) & 1).float()
    else:
        per_letter, letters = len(alphabet.diacritics) + 1, len(alphabet.letters)
        is_letter = tokens < letters * per_letter
        symbol = torch.where(is_letter, tokens // per_letter, letters + tokens - letters * per_letter)
        mark = torch.where(is_letter, tokens % per_letter, 0)
        table[1 + tokens, symbol] = 1.0
        marked = mark > 0
        table[1 + tokens[marked], len(alphabet.symbols) + mark[marked] - 1] = 1.0
    return table


class EncodedVerses(Dataset):
    """Verses as token indices (computed once), encoded per batch by :meth:`collate`.

    Item ``i`` is ``(token indices [T_i] int64, meter index)``.

    Args:
        verses: cleaned verses with their meters.
        encoding: ``one_hot``, ``binary`` or ``two_hot``.
    """

    def __init__(self, verses: MeterVerses, encoding: str) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
        self.verses = verses
        self.labels = verses.labels
        self.meters = verses.meters
        self.tokens = [token_indices(text, verses.alphabet) for text in verses.texts]
        self.table = encoding_table(encoding, verses.alphabet)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.tokens[index], int(self.labels[index])

    def counts(self) -> Tensor:
        """Verses per meter ``[len(meters)]``."""
        return torch.bincount(self.labels, minlength=len(self.meters))

    def collate(self, items: list[tuple[Tensor, int]]) -> dict[str, Tensor]:
        """A batch of items: see :func:`collate_verses`."""
        return collate_verses(items, self.table)


def collate_verses(items: list[tuple[Tensor, int]], table: Tensor) -> dict[str, Tensor]:
    """``inputs`` [B, T, D] (rows of ``table`` at the token indices + 1; zero rows after each verse),
    ``lengths`` [B] and ``targets`` [B] of ``(token indices [T_i], meter index)`` items."""
    lengths = torch.tensor([len(tokens) for tokens, _ in items])
    padded = torch.nn.utils.rnn.pad_sequence([tokens + 1 for tokens, _ in items], batch_first=True)
    return {"inputs": table[padded], "lengths": lengths, "targets": torch.tensor([label for _, label in items])}


def _subset(verses: MeterVerses, index: np.ndarray) -> MeterVerses:
    """The verses at ``index`` (same meters, alphabet and cleaning counts)."""
    keep = torch.from_numpy(np.asarray(index, dtype=np.int64))
    return MeterVerses(
        [verses.texts[i] for i in keep.tolist()],
        verses.labels[keep],
        verses.meters,
        verses.alphabet,
        mapped=verses.mapped,
        dropped=verses.dropped,
        skipped=verses.skipped,
        source=verses.source,
    )


def _concatenate(parts: list[MeterVerses]) -> MeterVerses:
    first = parts[0]
    return MeterVerses(
        [t for p in parts for t in p.texts],
        torch.cat([p.labels for p in parts]),
        first.meters,
        first.alphabet,
        mapped=sum((p.mapped for p in parts), type(first.mapped)()),
        dropped=sum((p.dropped for p in parts), type(first.dropped)()),
        skipped=sum((p.skipped for p in parts), type(first.skipped)()),
        source="; ".join(p.source for p in parts),
    )


class MeterData(SplitDataModule):
    """Poem-meter verses, cleaned and character-encoded, for :class:`MeterClassificationModule`.

    Args:
        dataset: ``english_generated`` (default; no data file), ``epd``, ``apcd`` or ``metrec`` (see the
            module docstring).
        files: CSVs of ``epd`` / ``apcd``, relative to the dataset's folder under the data root (or
            absolute paths of CSVs in the same format); default ``downsampled_iambic.csv`` /
            ``full_sample_100.csv``. Read together, then split.
        encoding: ``one_hot``, ``binary`` or ``two_hot`` (Yousef et al., section 4.2).
        diacritics: keep the Arabic diacritics (``apcd``, ``metrec``); False strips them.
        other_meters: rows of a meter outside the dataset's: ``error`` or ``skip`` (``english_dataset.csv``
            holds pyrrhic and spondee lines).
        val_fraction, test_fraction: shares of the verses held out (``test_fraction`` is unused by ``metrec``,
            which has its official test split; its validation comes from train).
        train_limit, val_limit, test_limit: keep a seeded random subset of at most this many verses of the
            split (None: all), to fit a CPU budget.
        lines_per_meter, variation: options of the ``english_generated`` verses
            (:func:`recur_text.data.english_meters.write_english_verses`).
        generated_folder: where the generated CSV goes (default: the generated cache).
        root: the data root (default: ``RECUR_DATA`` / the configured root).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`; ``seed``
            also draws the held-out verses and the subsets.
    """

    def __init__(
        self,
        dataset: Literal["english_generated", "epd", "apcd", "metrec"] = "english_generated",
        files: list[str] | None = None,
        encoding: Literal["one_hot", "binary", "two_hot"] = "one_hot",
        diacritics: bool = False,
        other_meters: Literal["error", "skip"] = "error",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        train_limit: int | None = None,
        val_limit: int | None = None,
        test_limit: int | None = None,
        lines_per_meter: int = 2000,
        variation: float = 0.15,
        generated_folder: str | None = None,
        root: str | None = None,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; choose from {', '.join(ENCODINGS)}")
        if diacritics and dataset in ("english_generated", "epd"):
            raise ValueError(f"diacritics applies to the Arabic datasets (apcd, metrec), not {dataset!r}; drop it")
        if files is not None and dataset not in _DEFAULT_FILES:
            raise ValueError(f"files applies to the epd and apcd datasets, not {dataset!r}; drop it")
        if files is not None and not files:
            raise ValueError("files is empty; name at least one CSV (or leave it unset for the default)")
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < value < 0.5:
                raise ValueError(f"{name} must lie in (0, 0.5), got {value}")
        for name, value in (("train_limit", train_limit), ("val_limit", val_limit), ("test_limit", test_limit)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive number of verses (or null: all), got {value}")
        self.dataset_name = dataset
        self.files = files
        self.encoding = encoding
        self.diacritics = diacritics
        self.other_meters = other_meters
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.limits = {"train": train_limit, "val": val_limit, "test": test_limit}
        self.lines_per_meter = lines_per_meter
        self.variation = variation
        self.generated_folder = generated_folder
        self.root = root
        self.alphabet = ENGLISH if dataset in ("english_generated", "epd") else ARABIC
        self.input_dim = encoding_width(encoding, self.alphabet)
        self.num_classes = _NUM_CLASSES[dataset]
        self._table = encoding_table(encoding, self.alphabet)
        self._splits: dict[str, MeterVerses] | None = None

    def _csvs(self) -> list[Path]:
        paths = []
        for name in self.files or _DEFAULT_FILES[self.dataset_name]:
            path = Path(name)
            paths.append(path if path.is_absolute() else dataset_file("apcd", name, self.root, label=name))
        return paths

    def _read(self) -> dict[str, MeterVerses]:
        """The three splits, read once."""
        if self.dataset_name == "metrec":
            train = read_metrec("train", root=self.root, diacritics=self.diacritics)
            held = {"test": read_metrec("test", root=self.root, diacritics=self.diacritics)}
            order = np.random.default_rng(self.seed).permutation(len(train))
            n_val = round(self.val_fraction * len(train))
            splits = {"train": _subset(train, order[n_val:]), "val": _subset(train, order[:n_val]), **held}
        else:
            if self.dataset_name == "english_generated":
                csv = write_english_verses(
                    self.generated_folder,
                    lines_per_meter=self.lines_per_meter,
                    variation=self.variation,
                    seed=self.seed,
                )
                verses = read_epd_csv(csv)
            elif self.dataset_name == "epd":
                verses = _concatenate([read_epd_csv(p, other_meters=self.other_meters) for p in self._csvs()])
            else:
                parts = [
                    read_apcd_csv(p, diacritics=self.diacritics, other_meters=self.other_meters) for p in self._csvs()
                ]
                verses = _concatenate(parts)
            order = np.random.default_rng(self.seed).permutation(len(verses))
            n_val, n_test = round(self.val_fraction * len(verses)), round(self.test_fraction * len(verses))
            if len(verses) - n_val - n_test < 1 or n_val < 1 or n_test < 1:
                raise ValueError(
                    f"{len(verses)} verses are too few to split into train/val/test "
                    f"({self.val_fraction:g}/{self.test_fraction:g} held out); pass more verses"
                )
            splits = {
                "test": _subset(verses, order[:n_test]),
                "val": _subset(verses, order[n_test : n_test + n_val]),
                "train": _subset(verses, order[n_test + n_val :]),
            }
        for split, limit in self.limits.items():
            if limit is not None and limit < len(splits[split]):
                rng = np.random.default_rng([self.seed, ("train", "val", "test").index(split)])
                splits[split] = _subset(splits[split], np.sort(rng.permutation(len(splits[split]))[:limit]))
        return splits

    def verses(self, split: Split) -> MeterVerses:
        """The cleaned verses of ``split`` (text, meters, cleaning counts)."""
        if self._splits is None:
            self._splits = self._read()
        return self._splits[split]

    def make_dataset(self, split: Split) -> EncodedVerses:
        return EncodedVerses(self.verses(split), self.encoding)

    def collate_fn(self) -> Callable[[list[Any]], Any]:
        return self._collate

    def _collate(self, items: list[tuple[Tensor, int]]) -> dict[str, Tensor]:
        return collate_verses(items, self._table)


def imbalance_weights(counts: Tensor) -> Tensor:
    """Yousef et al.'s class weights ``w_c = (1/n_c) / sum_c' (1/n_c')`` from training counts ``[C]``.

    A meter without training verses gets weight 0 (it never occurs as a target in training).
    """
    counts = counts.double()
    inverse = torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))
    if inverse.sum() == 0:
        raise ValueError("the training split holds no verse: nothing to weight")
    return (inverse / inverse.sum()).float()


def plot_confusion(matrix: Tensor, labels: list[str], path: Path, title: str = "") -> None:
    """The confusion matrix ``[C, C]`` (rows true meter, columns predicted), each row normalised, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = matrix.double()
    rates = (counts / counts.sum(1, keepdim=True).clamp(min=1)).numpy()
    size = 1.6 + 0.42 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted meter")
    ax.set_ylabel("true meter")
    if len(labels) <= 16:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if rates[i, j] >= 0.01:
                    color = "white" if rates[i, j] > 0.6 else "black"
                    ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


class MeterClassificationModule(RecurModule):
    """Meter classification of encoded verses (Yousef et al. 2019; Al-shaibani et al. 2020).

    The model (by registered name, default ``meter_birnn``) maps ``inputs`` [B, T, D] and ``lengths`` [B]
    to meter logits [B, C]; the loss is the cross-entropy, weighted against class imbalance with
    :func:`imbalance_weights` of the training counts when ``class_weighting``. Metrics: see the module
    docstring.

    Args:
        model: registered model name.
        model_kwargs: its options (``hidden_size``, ``n_layers``, ``layer``, ``bidirectional``, ...).
        input_dim, num_classes: the encoding's width and the meters; None takes them from the DataModule
            at setup (so one recipe runs with any encoding); a value that contradicts the data is a
            one-line error.
        class_weighting: the papers' loss weighting (False: plain cross-entropy).
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule` (the papers:
            Adam, its default rate 1e-3).
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "meter_birnn",
        model_kwargs: dict[str, Any] | None = None,
        input_dim: int | None = None,
        num_classes: int | None = None,
        class_weighting: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        if input_dim is not None and num_classes is not None:
            self._build()
        self._outputs: dict[str, list[tuple[int, int]]] = {}

    def _build(self) -> None:
        hp = self.hparams
        self.net = get_model(hp.model, input_dim=hp.input_dim, num_classes=hp.num_classes, **(hp.model_kwargs or {}))
        self.register_buffer("class_weight", torch.ones(hp.num_classes))

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        sizes_from_data(self, ("input_dim", "num_classes"))
        check_data_matches(self, ("input_dim", "num_classes"))
        if self.net is None:
            self._build()
        if stage == "fit" and self.hparams.class_weighting and data is not None:
            self.class_weight.copy_(imbalance_weights(data.dataset("train").counts()))

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(inputs, lengths)

    def _loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        weight = self.class_weight if self.hparams.class_weighting else None
        return F.cross_entropy(logits, targets, weight=weight)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self(batch["inputs"], batch["lengths"])
        loss = self._loss(logits, batch["targets"])
        accuracy = (logits.argmax(-1) == batch["targets"]).float().mean()
        logged = {"on_step": True, "on_epoch": True, "batch_size": len(logits)}
        self.log("train/loss", loss, prog_bar=True, **logged)
        self.log("train/acc", accuracy, **logged)
        return loss

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        logits = self(batch["inputs"], batch["lengths"])
        self.log(f"{stage}/loss", self._loss(logits, batch["targets"]), batch_size=len(logits))
        self._outputs.setdefault(stage, []).extend(zip(logits.argmax(-1).tolist(), batch["targets"].tolist()))

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs.pop("val", None)

    def on_test_epoch_start(self) -> None:
        self._outputs.pop("test", None)

    def _scores(self, stage: str) -> tuple[Tensor, Tensor] | None:
        """Predictions and targets ``[N]`` of the whole split (every process's), or None when empty."""
        pairs = self.gather_from_ranks(self._outputs.pop(stage, []))
        if not pairs:
            return None
        predictions, targets = torch.tensor(pairs).T
        return predictions, targets

    def on_validation_epoch_end(self) -> None:
        scored = self._scores("val")
        if scored is None:
            return
        predictions, targets = scored
        classes = self.hparams.num_classes
        self.log("val/acc", multiclass_accuracy(predictions, targets, classes, average="micro"), prog_bar=True)
        self.log("val/acc_macro", multiclass_accuracy(predictions, targets, classes, average="macro"))

    def on_test_epoch_end(self) -> None:
        scored = self._scores("test")
        if scored is None:
            return
        predictions, targets = scored
        classes = self.hparams.num_classes
        data = getattr(self.trainer, "datamodule", None)
        meters = tuple(data.dataset("test").meters) if data is not None else tuple(map(str, range(classes)))
        labels = meter_labels(meters)
        self.log("test/acc", multiclass_accuracy(predictions, targets, classes, average="micro"))
        self.log("test/acc_macro", multiclass_accuracy(predictions, targets, classes, average="macro"))
        per_meter = multiclass_accuracy(predictions, targets, classes, average=None)
        present = torch.bincount(targets, minlength=classes) > 0
        for label, value, here in zip(labels, per_meter.tolist(), present.tolist()):
            if here:
                self.log(f"test/acc_{label}", value)
        if data is not None:
            majority = int(data.dataset("train").counts().argmax())
            self.log("test/acc_majority", (targets == majority).float().mean())
        root = getattr(self.trainer, "default_root_dir", None)
        if root and self.trainer.global_rank == 0:
            matrix = multiclass_confusion_matrix(predictions, targets, classes)
            accuracy = float((predictions == targets).float().mean())
            title = f"{len(targets)} test verses, accuracy {accuracy:.3f}"
            plot_confusion(matrix, labels, Path(root) / "confusion_matrix.png", title)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """The predicted meter index of each verse ``[B]``."""
        return self(batch["inputs"], batch["lengths"]).argmax(-1)
