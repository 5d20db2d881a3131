"""The task module of recur_graph: a registered graph model plus a head, trained one window per step.

:class:`TemporalGraphTask` trains any registered graph model (``evolvegcn_h``, ``evolvegcn_o``,
``static_gcn``, ``gcn_gru``) with a head for link prediction, edge classification or node
classification, as the official EvolveGCN trainer does: one window of snapshots per step, the
last snapshot's embeddings feed the head, class-weighted cross-entropy, Adam. Validation and
test report MAP and MRR over all node pairs (link prediction), or the minority class's F1 and,
threshold-free, its AP (per snapshot, size-weighted mean: the official MAP taken for that class).
The DataModules that feed it are in :mod:`recur_graph.datamodules`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from recur_core.engine import RecurModule, check_data_matches
from recur_core.registry import get_model
from recur_graph.data.snapshots import TASKS, Task
from recur_graph.datamodules import TemporalGraphData
from recur_graph.metrics import average_precision, class_counts, f1_from_counts, rank_all_pairs
from recur_graph.models.heads import EdgeClassifier, NodeClassifier, weighted_cross_entropy

__all__ = ["TemporalGraphTask"]


class TemporalGraphTask(RecurModule):
    """A registered graph model plus a task head, trained one window of snapshots per step.

    Batches are :class:`~recur_graph.data.WindowDataset` items. The model and head are built
    when the data is known (``configure_model``), since one-hot degree features are as wide as
    the graph's largest degree; pass ``in_features`` to build them at once.

    Logs ``<stage>/loss``; link prediction ``map`` and ``mrr`` (all pairs); classification ``f1``
    of ``target_class`` at argmax and that class's ``ap``. A classification ``test`` also logs
    ``test/f1_input_blind``, the F1 of predicting ``target_class`` everywhere, beside the model.

    Args:
        model: registered graph model: ``evolvegcn_h``, ``evolvegcn_o``, ``static_gcn``, ``gcn_gru``.
        task: ``link_pred``, ``edge_cls`` or ``node_cls``; must match the data's.
        hidden_features: width after the first graph convolution (official ``layer_1_feats``).
        out_features: node embedding width (official ``layer_2_feats``).
        layer: the model's recurrence, any causal core layer (EvolveGCN's weight evolution,
            GCN-GRU's per-node recurrence); None keeps the model's default, the paper's ``gru``.
            static_gcn has no recurrence: leave it None.
        layer_kwargs: extra arguments of ``layer`` (e.g. ``{num_heads: 2}`` for ``attention``).
        head_hidden: hidden width of the classifier (official ``cls_feats``).
        class_weights: loss weight per class (official ``class_weights``); None weighs all alike.
        target_class: the class whose F1 is reported (None: the data's minority class).
        in_features: node feature width; None takes it from the data.
        model_kwargs: more model options (e.g. ``activation``).
        eval_chunk_elements: about how many floats one chunk of all-pairs scoring may hold.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`
            (the official optimizer is Adam: AdamW with weight_decay 0).
    """

    def __init__(
        self,
        model: str = "evolvegcn_o",
        task: Task = "link_pred",
        hidden_features: int = 100,
        out_features: int = 100,
        layer: str | None = None,
        layer_kwargs: dict[str, Any] | None = None,
        head_hidden: int = 100,
        class_weights: list[float] | None = None,
        target_class: int | None = None,
        in_features: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        eval_chunk_elements: int = 2**22,
        lr: float = 0.005,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        self.save_hyperparameters()
        self.monitor = "val/map" if task == "link_pred" else "val/f1"
        self.monitor_mode = "max"
        self.net: torch.nn.Module | None = None
        self.head: torch.nn.Module | None = None
        self._counts: dict[str, Tensor] = {}
        self.snapshot_scores: dict[str, dict[int, float]] = {}
        if in_features is not None:
            self._build(in_features)

    def _build(self, in_features: int) -> None:
        hp = self.hparams
        kwargs = {"in_features": in_features, "hidden_features": hp.hidden_features, "out_features": hp.out_features}
        # only a recurrence that is set goes to the model: static_gcn takes none
        recurrence = {name: hp[name] for name in ("layer", "layer_kwargs") if hp[name] is not None}
        self.net = get_model(hp.model, **kwargs, **recurrence, **(hp.model_kwargs or {}))
        head = NodeClassifier if hp.task == "node_cls" else EdgeClassifier
        self.head = head(hp.out_features, hp.head_hidden, 2)

    def configure_model(self) -> None:
        # load_from_checkpoint calls this with no trainer: the saved in_features built the model already
        data = self._trainer.datamodule if self._trainer is not None else None
        if data is not None:
            check_data_matches(self, ("task",))
        # also when in_features was given: the reported class comes from the data unless set
        if isinstance(data, TemporalGraphData) and self.hparams.target_class is None and data.task != "link_pred":
            self.hparams.target_class = data.minority_class
        if self.net is not None:
            return
        if not isinstance(data, TemporalGraphData):
            raise ValueError("in_features is unset and there is no recur_graph DataModule to take it from")
        self.hparams.in_features = data.num_features
        self._build(data.num_features)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """The last snapshot's node embeddings, [N, out_features]."""
        return self.net(x, edge_index, edge_weight)[-1]

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        weights = self.hparams.class_weights or [1.0] * logits.shape[-1]
        return weighted_cross_entropy(logits, labels, weights)

    def _logits(self, h: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return self.head(h, batch["nodes"] if self.hparams.task == "node_cls" else batch["pairs"])

    def _count(self, stage: str, logits: Tensor, labels: Tensor) -> None:
        counts = class_counts(logits.argmax(-1), labels, self.hparams.target_class)
        self._counts[stage] = self._counts.get(stage, torch.zeros_like(counts)) + counts

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        h = self(batch["x"], batch["edge_index"], batch["edge_weight"])
        logits = self._logits(h, batch)
        loss = self._loss(logits, batch["labels"])
        size = batch["labels"].numel()
        self.log("train/loss", loss, on_step=True, on_epoch=True, batch_size=size, prog_bar=True)
        if self.hparams.task == "link_pred":
            ap = average_precision(torch.softmax(logits.detach(), -1)[:, 1], batch["labels"])
            self.log("train/map", ap, on_step=False, on_epoch=True, batch_size=size)
        else:
            self._count("train", logits.detach(), batch["labels"])
        return loss

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        h = self(batch["x"], batch["edge_index"], batch["edge_weight"])
        snapshot = int(batch["snapshot"])
        if self.hparams.task == "link_pred":
            nodes = h.shape[0]
            rows = max(1, self.hparams.eval_chunk_elements // (nodes * self.hparams.head_hidden))

            ap, mrr = rank_all_pairs(
                lambda sources: self.head.class_probability_rows(h, sources), nodes, batch["positives"], rows
            )
            self.snapshot_scores.setdefault(stage, {})[snapshot] = ap
            kwargs = {"on_step": False, "on_epoch": True, "batch_size": nodes * nodes, "sync_dist": True}
            self.log(f"{stage}/map", ap, prog_bar=True, **kwargs)
            self.log(f"{stage}/mrr", mrr, **kwargs)
            return
        logits = self._logits(h, batch)
        self.log(
            f"{stage}/loss",
            self._loss(logits, batch["labels"]),
            on_epoch=True,
            batch_size=batch["labels"].numel(),
            sync_dist=True,
        )
        self._count(stage, logits, batch["labels"])
        target = self.hparams.target_class
        # threshold-free: the official per-snapshot MAP, taken for the reported class
        ap = average_precision(torch.softmax(logits, -1)[:, target], batch["labels"] == target)
        self.log(f"{stage}/ap", ap, on_epoch=True, batch_size=batch["labels"].numel(), sync_dist=True)
        counts = class_counts(logits.argmax(-1), batch["labels"], target)
        self.snapshot_scores.setdefault(stage, {})[snapshot] = f1_from_counts(counts)
        if stage == "test":
            # the input-blind reference: the reported class predicted everywhere
            blind = class_counts(torch.full_like(batch["labels"], target), batch["labels"], target)
            self._counts["input_blind"] = self._counts.get("input_blind", torch.zeros_like(blind)) + blind

    def _log_f1(self, stage: str, name: str = "f1", counted: str | None = None) -> None:
        counts = self._counts.pop(counted or stage, None)
        if counts is None:
            return
        counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        self.log(f"{stage}/{name}", f1_from_counts(counts), prog_bar=stage != "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return {
            "snapshot": batch["snapshot"],
            "embeddings": self(batch["x"], batch["edge_index"], batch["edge_weight"]),
        }

    def on_train_epoch_end(self) -> None:
        self._log_f1("train")

    def on_validation_epoch_start(self) -> None:
        self.snapshot_scores["val"] = {}

    def on_validation_epoch_end(self) -> None:
        self._log_f1("val")

    def on_test_epoch_end(self) -> None:
        self._log_f1("test")
        self._log_f1("test", "f1_input_blind", counted="input_blind")

    def on_fit_plots(self, run_dir: Path) -> None:
        """``val_by_snapshot.png``: the last validation's score per predicted snapshot."""
        scores = self.snapshot_scores.get("val")
        if not scores:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3))
        snapshots = sorted(scores)
        ax.plot(snapshots, [scores[t] for t in snapshots], marker="o")
        ax.set_xlabel("snapshot t (window ends here)")
        ax.set_ylabel("AP of t + 1" if self.hparams.task == "link_pred" else f"F1 (class {self.hparams.target_class})")
        ax.set_title(f"{self.hparams.model}: validation by snapshot")
        fig.tight_layout()
        fig.savefig(run_dir / "val_by_snapshot.png", dpi=100)
        plt.close(fig)
