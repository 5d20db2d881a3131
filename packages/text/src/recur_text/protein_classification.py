"""Binary protein classification (the QTN paper's subcellular-location task) on core's engine.

- :class:`ProteinData`: a FASTA file (under the data root or any path) with labels from a side CSV or the
  headers, or the embedded default (:func:`recur_text.data.proteins.write_generated_proteins`, written once
  as FASTA + CSV and read back by the same reader); one seeded train/val/test split of the records.
- :class:`ProteinTask`: any registered protein model (``qtn_chain``, ``qtn_tree``, ``protein_rnn``,
  ``protein_mps``) trained with binary cross-entropy on its one logit; accuracy, F1 and AUROC of the positive
  class (torchmetrics) on val and test; at test also the majority-class baseline (the training split's
  most frequent class) and the model's parameter count, printed beside the model's accuracy.

.. code-block:: bash

    recur-text fit --config qtn/rnn_circuit
    recur-text test --config qtn/rnn_circuit --ckpt_path <run>/checkpoints/best.ckpt
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.data import Dataset
from torchmetrics.functional.classification import binary_accuracy, binary_auroc, binary_f1_score

from recur_core.data.root import data_root
from recur_core.engine import RecurModule, Split, SplitDataModule
from recur_core.registry import get_model
from recur_text.data.proteins import ProteinSequences, collate_proteins, read_proteins, write_generated_proteins

__all__ = ["ProteinData", "ProteinTask"]


@rank_zero_only
def _print(line: str) -> None:
    print(line, flush=True)


class ProteinData(SplitDataModule):
    """Proteins with two classes, split once into train / val / test by a permutation seeded with ``seed``.

    Args:
        fasta: the FASTA file: an absolute path, or one relative to the data root (``RECUR_DATA``, or
            ``root``); None: the embedded default (generated, see :mod:`recur_text.data.proteins`).
        labels: a CSV ``id,label`` (same path rules); None: labels from the headers by ``header_label``.
        header_label: regular expression whose first group is a header's label.
        classes: the two class names, negative first; None: the two labels found, sorted.
        unknown: B Z J U O X residues: ``"map"`` (to X), ``"drop"`` or ``"error"``.
        max_len: residues kept per sequence (longer ones are truncated and counted).
        root: the data root (default ``RECUR_DATA``).
        num_sequences, length, membrane_fraction, segment_length: the embedded default's generator options.
        val_fraction, test_fraction: shares of the records in val and test.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`; ``seed`` also
            seeds the generator and the split.

    Batches: ``{"tokens": [B, T] long (0 = right padding), "lengths": [B], "labels": [B] long}``.
    """

    def __init__(
        self,
        fasta: str | None = None,
        labels: str | None = None,
        header_label: str = r"label=(\S+)",
        classes: list[str] | None = None,
        unknown: Literal["map", "drop", "error"] = "map",
        max_len: int = 256,
        root: str | None = None,
        num_sequences: int = 2000,
        length: tuple[int, int] = (60, 140),
        membrane_fraction: float = 0.4,
        segment_length: tuple[int, int] = (18, 24),
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if unknown not in ("map", "drop", "error"):
            raise ValueError(f"unknown must be 'map', 'drop' or 'error', got {unknown!r}")
        if not (val_fraction > 0 and test_fraction > 0 and val_fraction + test_fraction < 1):
            raise ValueError(
                f"val_fraction and test_fraction must be positive with a sum below 1, got {val_fraction}, "
                f"{test_fraction}"
            )
        if labels is not None and fasta is None:
            raise ValueError("--data.labels names the labels of a FASTA file; pass --data.fasta too")
        self.fasta, self.labels, self.header_label = fasta, labels, header_label
        self.classes = list(classes) if classes is not None else None
        self.unknown, self.max_len, self.root = unknown, max_len, root
        self.generator_options = {
            "num_sequences": num_sequences,
            "seed": seed,
            "length": list(length),
            "membrane_fraction": membrane_fraction,
            "segment_length": list(segment_length),
        }
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self._records: ProteinSequences | None = None

    def _path(self, value: str, option: str) -> Path:
        path = Path(os.path.expanduser(value))
        if not path.is_absolute():
            path = data_root(self.root) / path
        if not path.is_file():
            raise FileNotFoundError(
                f"{option} {path} does not exist; put the file under the data root ({data_root(self.root)}) "
                f"or pass an absolute path (--data.{option})"
            )
        return path

    def records(self) -> ProteinSequences:
        """Every record, read once."""
        if self._records is None:
            if self.fasta is None:
                folder = write_generated_proteins(**self.generator_options)
                fasta, labels = folder / "proteins.fasta", folder / "labels.csv"
            else:
                fasta = self._path(self.fasta, "fasta")
                labels = self._path(self.labels, "labels") if self.labels is not None else None
            self._records = read_proteins(
                fasta, labels, self.header_label, self.classes, unknown=self.unknown, max_len=self.max_len
            )
            if len(self._records) < 10:
                raise ValueError(f"{fasta} has {len(self._records)} records; a train/val/test split needs 10 or more")
        return self._records

    def split_indices(self) -> dict[str, Tensor]:
        """The records of each split (a permutation seeded with ``seed``)."""
        total = len(self.records())
        order = torch.randperm(total, generator=torch.Generator().manual_seed(self.seed + 7919))
        n_val = max(1, round(self.val_fraction * total))
        n_test = max(1, round(self.test_fraction * total))
        return {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}

    def make_dataset(self, split: Split) -> Dataset:
        return self.records().subset(self.split_indices()[split])

    def collate_fn(self):
        return collate_proteins


class ProteinTask(RecurModule):
    """Binary classification of proteins by a registered model (see the module docstring).

    Logged: ``train/loss``; ``val/loss``, ``val/acc`` (the best checkpoint's), ``val/f1``, ``val/auroc``; at
    test ``test/loss``, ``test/acc``, ``test/f1``, ``test/auroc``, ``test/acc_majority`` (the training split's
    most frequent class predicted for every test record) and ``test/params`` (the model's parameters).

    Args:
        model: registered model name: ``qtn_chain``, ``qtn_tree``, ``protein_rnn`` or ``protein_mps``.
        model_kwargs: the model's arguments (``wire_qubits``, ``d_model``, ``bond_dim``, ...).
        layer: the core recurrence of a model that has one (``protein_rnn``); None keeps the model's default.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "qtn_chain",
        model_kwargs: dict[str, Any] | None = None,
        layer: str | None = None,
        lr: float = 1e-2,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        self.save_hyperparameters()
        kwargs = dict(model_kwargs or {})
        if layer is not None:
            kwargs["layer"] = layer
        try:
            self.net = get_model(model, **kwargs)
        except TypeError as err:
            raise ValueError(f"model {model!r} does not take these arguments ({err}); see its docstring") from None
        self._outputs: list[tuple[float, int]] = []

    def forward(self, tokens: Tensor) -> Tensor:
        return self.net(tokens)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self(batch["tokens"])
        loss = F.binary_cross_entropy_with_logits(logits.float(), batch["labels"].float())
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=logits.shape[0])
        return loss

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        logits = self(batch["tokens"]).float()
        loss = F.binary_cross_entropy_with_logits(logits, batch["labels"].float())
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", batch_size=logits.shape[0])
        self._outputs.extend(zip(torch.sigmoid(logits).tolist(), batch["labels"].tolist()))

    def _scores(self) -> dict[str, float]:
        items = self.gather_from_ranks(self._outputs)
        self._outputs = []
        probs = torch.tensor([p for p, _ in items])
        labels = torch.tensor([y for _, y in items])
        scores = {
            "acc": float(binary_accuracy(probs, labels)),
            "f1": float(binary_f1_score(probs, labels)),
        }
        # AUROC needs both classes among the labels
        scores["auroc"] = float(binary_auroc(probs, labels)) if labels.unique().numel() == 2 else float("nan")
        return scores

    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        if not self._outputs:
            return
        for name, value in self._scores().items():
            self.log(f"val/{name}", value, prog_bar=name == "acc", sync_dist=False)

    def on_test_epoch_start(self) -> None:
        self._outputs = []

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        labels = torch.tensor([y for _, y in self.gather_from_ranks(self._outputs)])
        scores = self._scores()
        data = getattr(self.trainer, "datamodule", None)
        if isinstance(data, ProteinData):
            counts = data.dataset("train").class_counts()
            majority = int(counts[1] > counts[0])
            scores["acc_majority"] = float((labels == majority).float().mean())
            name = data.records().classes[majority]
        else:
            name, scores["acc_majority"] = "?", float("nan")
        scores["params"] = float(self.num_parameters())
        for key, value in scores.items():
            self.log(f"test/{key}", value, sync_dist=False)
        _print(
            f"test: {self.hparams.model} ({self.num_parameters()} parameters) acc {scores['acc']:.4f} "
            f"f1 {scores['f1']:.4f} auroc {scores['auroc']:.4f} | majority class {name!r} acc "
            f"{scores['acc_majority']:.4f} ({len(labels)} test records)"
        )
