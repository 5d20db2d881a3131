"""The Lightning side of recur_graph: the task module and one DataModule per dataset.

:class:`TemporalGraphTask` trains any registered graph model (``evolvegcn_h``, ``evolvegcn_o``,
``static_gcn``, ``gcn_gru``) with a head for link prediction, edge classification or node
classification, as the official EvolveGCN trainer does: one window of snapshots per step, the
last snapshot's embeddings feed the head, class-weighted cross-entropy, Adam. Validation and
test report MAP and MRR over all node pairs (link prediction), or the minority class's F1 and,
threshold-free, its AP (per snapshot, size-weighted mean: the official MAP taken for that class).

DataModules: :class:`SBMData` (the embedded default: a generated dynamic SBM, or an SBM CSV),
:class:`BitcoinData` (SNAP Bitcoin-OTC / -Alpha), :class:`UCIData` (UC Irvine messages) and
:class:`EllipticData` (Elliptic transactions).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader

from recur_core.engine import RecurModule
from recur_core.registry import get_model
from recur_graph.data.elliptic import ELLIPTIC_FOLDER, read_elliptic
from recur_graph.data.paths import shared_data_path
from recur_graph.data.sbm import DynamicSBM, generated_sbm_graph, read_sbm_csv
from recur_graph.data.snap import BITCOIN_SNAPSHOT_SECONDS, bitcoin_path, read_signed_network
from recur_graph.data.snapshots import TASKS, Task, TemporalGraph, WindowDataset, chronological_split
from recur_graph.data.uci import UCI_FILE, UCI_SNAPSHOT_SECONDS, read_uci_messages
from recur_graph.metrics import average_precision, class_counts, f1_from_counts, rank_all_pairs
from recur_graph.models.heads import EdgeClassifier, NodeClassifier, weighted_cross_entropy

__all__ = ["BitcoinData", "EllipticData", "SBMData", "TemporalGraphData", "TemporalGraphTask", "UCIData"]

# the keyword each model takes its recurrence under
_RECURRENCE = {"evolvegcn_h": "evolve_layer", "evolvegcn_o": "evolve_layer", "gcn_gru": "rnn_layer"}


class TemporalGraphTask(RecurModule):
    """A registered graph model plus a task head, trained one window of snapshots per step.

    Batches are :class:`~recur_graph.data.WindowDataset` items. The model and head are built
    when the data is known (``configure_model``), since one-hot degree features are as wide as
    the graph's largest degree; pass ``in_features`` to build them at once.

    Args:
        model: registered graph model: ``evolvegcn_h``, ``evolvegcn_o``, ``static_gcn``, ``gcn_gru``.
        task: ``link_pred``, ``edge_cls`` or ``node_cls``; must match the data's.
        hidden_features: width after the first graph convolution (official ``layer_1_feats``).
        out_features: node embedding width (official ``layer_2_feats``).
        layer: the model's recurrence, any causal core layer (EvolveGCN's ``evolve_layer``,
            GCN-GRU's ``rnn_layer``; static_gcn has none).
        head_hidden: hidden width of the classifier (official ``cls_feats``).
        class_weights: loss weight per class (official ``class_weights``); None weighs all alike.
        target_class: the class whose F1 is reported (None: the data's minority class).
        in_features: node feature width; None takes it from the data.
        model_kwargs: more model options (e.g. ``activation``, ``layer_kwargs``).
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
        layer: str = "gru",
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
        if hp.model in _RECURRENCE:
            kwargs[_RECURRENCE[hp.model]] = hp.layer
        self.net = get_model(hp.model, **kwargs, **(hp.model_kwargs or {}))
        head = NodeClassifier if hp.task == "node_cls" else EdgeClassifier
        self.head = head(hp.out_features, hp.head_hidden, 2)

    def configure_model(self) -> None:
        if self.net is not None:
            return
        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, TemporalGraphData):
            raise ValueError("in_features is unset and there is no recur_graph DataModule to take it from")
        if data.task != self.hparams.task:
            raise ValueError(
                f"model.task = {self.hparams.task!r} but the data has task = {data.task!r}; "
                f"set --model.task {data.task} (or change --data.task)"
            )
        self.hparams.in_features = data.num_features
        if self.hparams.target_class is None and data.task != "link_pred":
            self.hparams.target_class = data.minority_class
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

    def _log_f1(self, stage: str) -> None:
        counts = self._counts.pop(stage, None)
        if counts is None:
            return
        counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        self.log(f"{stage}/f1", f1_from_counts(counts), prog_bar=stage != "train")

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


class TemporalGraphData(LightningDataModule, abc.ABC):
    """Base DataModule: a dynamic graph cut into chronological train / validation / test windows.

    Subclasses implement :meth:`load`. Each batch is one window (see
    :class:`~recur_graph.data.WindowDataset`); training windows come in time order, as in the
    official code, unless ``shuffle``.

    Args:
        task: ``link_pred``, ``edge_cls`` or ``node_cls``.
        history: snapshots per window (official ``num_hist_steps + 1``).
        train_fraction, val_fraction: the chronological split (official 0.7 / 0.1).
        negatives: non-edges sampled per true edge in link-prediction training
            (official ``negative_mult_training``); validation and test score all pairs.
        features: ``"degree"`` (one-hot out-degree, official ``use_1_hot_node_feats``) or ``"given"``.
        shuffle: shuffle the training windows each epoch.
        num_workers: DataLoader worker processes.
        seed: seeds negative sampling and shuffling.
        eval_windows: validate and test on only the first this many windows of each split
            (None: all). Scoring all N² pairs per snapshot is what costs on a CPU.
    """

    supported_tasks: tuple[str, ...] = TASKS

    def __init__(
        self,
        task: Task = "link_pred",
        history: int = 6,
        train_fraction: float = 0.7,
        val_fraction: float = 0.1,
        negatives: int = 10,
        features: Literal["degree", "given"] = "degree",
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
        eval_windows: int | None = None,
    ) -> None:
        super().__init__()
        if task not in self.supported_tasks:
            raise ValueError(f"{type(self).__name__} supports task {' or '.join(self.supported_tasks)}, got {task!r}")
        if negatives < 1:
            raise ValueError(f"negatives must be at least 1 per true edge, got {negatives}")
        self.task = task
        self.history = history
        self.fractions = (train_fraction, val_fraction)
        self.negatives = negatives
        self.features = features
        self.shuffle = shuffle
        self.num_workers = num_workers
        self.seed = seed
        self.eval_windows = eval_windows
        self.graph: TemporalGraph | None = None
        self.datasets: dict[str, WindowDataset] = {}

    @abc.abstractmethod
    def load(self) -> TemporalGraph:
        """Read or generate the graph."""

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.graph = self.load()
        splits = chronological_split(
            self.graph.num_snapshots, self.history, self.task, *self.fractions, source=self.graph.source
        )
        max_degree = int(self.graph.out_degrees().max()) if self.graph.num_snapshots else 0
        for split, targets in splits.items():
            if split != "train" and self.eval_windows is not None:
                targets = targets[: self.eval_windows]
            negatives = self.negatives if split == "train" and self.task == "link_pred" else None
            self.datasets[split] = WindowDataset(
                self.graph, targets, self.history, self.task, self.features, max_degree, negatives, self.seed
            )

    @property
    def num_features(self) -> int:
        """Node feature width (after :meth:`setup`)."""
        return self.datasets["train"].num_features

    @property
    def minority_class(self) -> int:
        """The rarer class among the training labels (after :meth:`setup`; classification tasks)."""
        train = self.datasets["train"]
        labels = torch.cat([train[i]["labels"] for i in range(len(train))])
        return int(torch.bincount(labels, minlength=2).argmin())

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            self.datasets[split],
            batch_size=None,
            shuffle=shuffle,
            num_workers=self.num_workers,
            generator=generator,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")


class SBMData(TemporalGraphData):
    """Dynamic stochastic block model: generated (the default, no download) or read from an SBM CSV.

    Args:
        path: an SBM CSV (``source,target,weight,time``); None generates one with the options below.
        num_nodes, num_snapshots, num_communities, p_in, p_out, migrations, generator_seed:
            see :class:`~recur_graph.data.DynamicSBM`.
        task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed,
        eval_windows: see :class:`TemporalGraphData` (link prediction only).
    """

    supported_tasks = ("link_pred",)

    def __init__(
        self,
        path: str | None = None,
        num_nodes: int = 1000,
        num_snapshots: int = 50,
        num_communities: int = 2,
        p_in: float = 0.02,
        p_out: float = 0.002,
        migrations: int = 10,
        generator_seed: int = 0,
        task: Task = "link_pred",
        history: int = 6,
        train_fraction: float = 0.7,
        val_fraction: float = 0.1,
        negatives: int = 10,
        features: Literal["degree", "given"] = "degree",
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
        eval_windows: int | None = None,
    ) -> None:
        super().__init__(
            task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed, eval_windows
        )
        self.path = path
        self.params = DynamicSBM(num_nodes, num_snapshots, num_communities, p_in, p_out, migrations, generator_seed)

    def load(self) -> TemporalGraph:
        return read_sbm_csv(self.path) if self.path else generated_sbm_graph(self.params)


class BitcoinData(TemporalGraphData):
    """SNAP Bitcoin-OTC or Bitcoin-Alpha, for link prediction or edge (trust / distrust) classification.

    Args:
        network: ``"otc"`` or ``"alpha"``.
        path: the CSV (plain or gzipped); None reads the shared data folder's copy.
        snapshot_seconds: snapshot width (official 1.2e6 s).
        task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed,
        eval_windows: see :class:`TemporalGraphData`.
    """

    supported_tasks = ("link_pred", "edge_cls")

    def __init__(
        self,
        network: Literal["otc", "alpha"] = "otc",
        path: str | None = None,
        snapshot_seconds: float = BITCOIN_SNAPSHOT_SECONDS,
        task: Task = "link_pred",
        history: int = 11,
        train_fraction: float = 0.7,
        val_fraction: float = 0.1,
        negatives: int = 100,
        features: Literal["degree", "given"] = "degree",
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
        eval_windows: int | None = None,
    ) -> None:
        super().__init__(
            task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed, eval_windows
        )
        self.network = network
        self.path = path
        self.snapshot_seconds = snapshot_seconds

    def load(self) -> TemporalGraph:
        return read_signed_network(self.path or bitcoin_path(self.network), self.snapshot_seconds)


class UCIData(TemporalGraphData):
    """UC Irvine messages (SNAP CollegeMsg or KONECT), for link prediction.

    Args:
        path: the edge list; None reads the shared data folder's CollegeMsg.txt.
        snapshot_seconds: snapshot width (official 190,080 s).
        task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed,
        eval_windows: see :class:`TemporalGraphData`.
    """

    supported_tasks = ("link_pred",)

    def __init__(
        self,
        path: str | None = None,
        snapshot_seconds: float = UCI_SNAPSHOT_SECONDS,
        task: Task = "link_pred",
        history: int = 11,
        train_fraction: float = 0.71,
        val_fraction: float = 0.1,
        negatives: int = 50,
        features: Literal["degree", "given"] = "degree",
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
        eval_windows: int | None = None,
    ) -> None:
        super().__init__(
            task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed, eval_windows
        )
        self.path = path
        self.snapshot_seconds = snapshot_seconds

    def load(self) -> TemporalGraph:
        return read_uci_messages(self.path or shared_data_path(UCI_FILE), self.snapshot_seconds)


class EllipticData(TemporalGraphData):
    """Elliptic transactions (the three Kaggle CSVs in one folder), for node classification.

    Args:
        path: the folder holding ``elliptic_txs_{features,classes,edgelist}.csv``; None reads
            ``elliptic_bitcoin_dataset/`` under the shared data folder.
        task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed,
        eval_windows: see :class:`TemporalGraphData` (official: history 6, fractions 0.65 / 0.1, given features).
    """

    supported_tasks = ("node_cls",)

    def __init__(
        self,
        path: str | None = None,
        task: Task = "node_cls",
        history: int = 6,
        train_fraction: float = 0.65,
        val_fraction: float = 0.1,
        negatives: int = 1,
        features: Literal["degree", "given"] = "given",
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
        eval_windows: int | None = None,
    ) -> None:
        super().__init__(
            task, history, train_fraction, val_fraction, negatives, features, shuffle, num_workers, seed, eval_windows
        )
        self.path = path

    def load(self) -> TemporalGraph:
        return read_elliptic(self.path or shared_data_path(ELLIPTIC_FOLDER))
