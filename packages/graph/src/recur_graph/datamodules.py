"""The DataModules of recur_graph: one per dataset, each a dynamic graph cut into chronological windows.

Every DataModule is a :class:`~recur_core.engine.SplitDataModule` whose items are whole windows
(``batch_size=None``: a :class:`~recur_graph.data.WindowDataset` item is already one batch, as in
the official EvolveGCN trainer). The graph is read or generated once; :meth:`TemporalGraphData.make_dataset`
cuts one split of it with the official chronological splitter.

- :class:`SBMData`: the embedded default, a generated dynamic SBM (or an SBM CSV).
- :class:`BitcoinData`: SNAP Bitcoin-OTC / -Alpha (link prediction, edge classification).
- :class:`UCIData`: UC Irvine messages (link prediction).
- :class:`EllipticData`: Elliptic transactions (node classification).

The real datasets are read from the data root (``root``, else :func:`recur_core.data.data_root`:
``$RECUR_DATA`` or ``~/.cache/recur/data``) as ``recur data fetch NAME`` lays them out; a missing
one fails in :meth:`~recur_core.engine.SplitDataModule.setup` with a one-line error naming that
command. ``path`` reads a copy elsewhere instead (another file in the same format).
"""

from __future__ import annotations

import abc
from typing import Literal

import torch

from recur_core.engine import Split, SplitDataModule
from recur_graph.data.elliptic import load_elliptic
from recur_graph.data.sbm import DynamicSBM, generated_sbm_graph, read_sbm_csv
from recur_graph.data.snap import BITCOIN_SNAPSHOT_SECONDS, bitcoin_path, read_signed_network
from recur_graph.data.snapshots import TASKS, Features, Task, TemporalGraph, WindowDataset, chronological_split
from recur_graph.data.uci import UCI_SNAPSHOT_SECONDS, read_uci_messages, uci_path

__all__ = ["BitcoinData", "EllipticData", "SBMData", "TemporalGraphData", "UCIData"]


class TemporalGraphData(SplitDataModule, abc.ABC):
    """Base DataModule: a dynamic graph cut into chronological train / validation / test windows.

    Subclasses implement :meth:`load`. Each batch is one window (see
    :class:`~recur_graph.data.WindowDataset`); training windows come in time order, as in the
    official code, unless ``shuffle``. The one-hot degree features are as wide as the whole
    graph's largest degree, so every split has the same width.

    Args (keyword-only):
        task: ``link_pred``, ``edge_cls`` or ``node_cls``.
        history: snapshots per window (official ``num_hist_steps + 1``).
        train_fraction, val_fraction: the chronological split (official 0.7 / 0.1).
        negatives: non-edges sampled per true edge in link-prediction training
            (official ``negative_mult_training``); validation and test score all pairs.
        smart_negatives: draw those non-edges' targets from the nodes seen in the window (official
            ``smart_neg_sampling``, the default); False draws both ends uniformly from all nodes.
        features: ``"degree"`` (one-hot out-degree, official ``use_1_hot_node_feats``), ``"given"``, or
            ``"reputation"`` (signed networks: each node's degree and earlier distrust record,
            :func:`~recur_graph.data.reputation_features`; recur's addition).
        eval_windows: validate and test on only the first this many windows of each split
            (None: all). Scoring all N² pairs per snapshot is what costs on a CPU.
        shuffle: reshuffle the training windows every epoch (official: time order).
        num_workers: DataLoader worker processes.
        seed: seeds negative sampling (with the epoch and the window) and shuffling.
    """

    supported_tasks: tuple[str, ...] = TASKS
    # link-prediction windows draw their negatives from (seed, epoch, window)
    epoch_indexed = True

    def __init__(
        self,
        *,
        task: Task = "link_pred",
        history: int = 6,
        train_fraction: float = 0.7,
        val_fraction: float = 0.1,
        negatives: int = 10,
        smart_negatives: bool = True,
        features: Features = "degree",
        eval_windows: int | None = None,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=None, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if task not in self.supported_tasks:
            raise ValueError(f"{type(self).__name__} supports task {' or '.join(self.supported_tasks)}, got {task!r}")
        if negatives < 1:
            raise ValueError(f"negatives must be at least 1 per true edge, got {negatives}")
        if eval_windows is not None and eval_windows < 1:
            raise ValueError(f"eval_windows must be at least 1 (or None for all), got {eval_windows}")
        self.task = task
        self.history = history
        self.train_fraction = train_fraction
        self.val_fraction = val_fraction
        self.negatives = negatives
        self.smart_negatives = smart_negatives
        self.features = features
        self.eval_windows = eval_windows
        self.graph: TemporalGraph | None = None

    @abc.abstractmethod
    def load(self) -> TemporalGraph:
        """Read or generate the graph (called once)."""

    def make_dataset(self, split: Split) -> WindowDataset:
        """The windows whose last snapshot falls in ``split``; link-prediction training samples negatives."""
        if self.graph is None:
            self.graph = self.load()
        targets = chronological_split(
            self.graph.num_snapshots,
            self.history,
            self.task,
            self.train_fraction,
            self.val_fraction,
            source=self.graph.source,
        )[split]
        if split != "train" and self.eval_windows is not None:
            targets = targets[: self.eval_windows]
        negatives = self.negatives if split == "train" and self.task == "link_pred" else None
        return WindowDataset(
            self.graph,
            targets,
            self.history,
            self.task,
            self.features,
            negatives=negatives,
            smart_negatives=self.smart_negatives,
            seed=self.seed,
        )

    @property
    def num_features(self) -> int:
        """Node feature width (reads the graph on first use)."""
        return self.dataset("train").num_features

    @property
    def minority_class(self) -> int:
        """The rarer class among the training labels (classification tasks; reads the graph on first use)."""
        train = self.dataset("train")
        labels = torch.cat([train[i]["labels"] for i in range(len(train))])
        return int(torch.bincount(labels, minlength=2).argmin())


class SBMData(TemporalGraphData):
    """Dynamic stochastic block model: generated (the default, no download) or read from an SBM CSV.

    Args:
        path: an SBM CSV (``source,target,weight,time``); None generates one with the options below.
        num_nodes, num_snapshots, num_communities, p_in, p_out, migrations, generator_seed:
            see :class:`~recur_graph.data.DynamicSBM`.
        task, history, train_fraction, val_fraction, negatives, smart_negatives, features, eval_windows, shuffle,
        num_workers, seed: see :class:`TemporalGraphData` (link prediction only).
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
        smart_negatives: bool = True,
        features: Features = "degree",
        eval_windows: int | None = None,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            task=task,
            history=history,
            train_fraction=train_fraction,
            val_fraction=val_fraction,
            negatives=negatives,
            smart_negatives=smart_negatives,
            features=features,
            eval_windows=eval_windows,
            shuffle=shuffle,
            num_workers=num_workers,
            seed=seed,
        )
        self.path = path
        self.params = DynamicSBM(num_nodes, num_snapshots, num_communities, p_in, p_out, migrations, generator_seed)

    def load(self) -> TemporalGraph:
        return read_sbm_csv(self.path) if self.path else generated_sbm_graph(self.params)


class BitcoinData(TemporalGraphData):
    """SNAP Bitcoin-OTC or Bitcoin-Alpha, for link prediction or edge (trust / distrust) classification.

    Args:
        network: ``"otc"`` or ``"alpha"`` (the datasets ``bitcoin-otc`` and ``bitcoin-alpha``).
        root: the data root; None: :func:`recur_core.data.data_root`'s choice.
        path: a SNAP signed-network CSV elsewhere (plain or gzipped) read instead of the data root's.
        snapshot_seconds: snapshot width (official 1.2e6 s).
        task, history, train_fraction, val_fraction, negatives, smart_negatives, features, eval_windows, shuffle,
        num_workers, seed: see :class:`TemporalGraphData`.
    """

    supported_tasks = ("link_pred", "edge_cls")

    def __init__(
        self,
        network: Literal["otc", "alpha"] = "otc",
        root: str | None = None,
        path: str | None = None,
        snapshot_seconds: float = BITCOIN_SNAPSHOT_SECONDS,
        task: Task = "link_pred",
        history: int = 11,
        train_fraction: float = 0.7,
        val_fraction: float = 0.1,
        negatives: int = 100,
        smart_negatives: bool = True,
        features: Features = "degree",
        eval_windows: int | None = None,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            task=task,
            history=history,
            train_fraction=train_fraction,
            val_fraction=val_fraction,
            negatives=negatives,
            smart_negatives=smart_negatives,
            features=features,
            eval_windows=eval_windows,
            shuffle=shuffle,
            num_workers=num_workers,
            seed=seed,
        )
        self.network = network
        self.root = root
        self.path = path
        self.snapshot_seconds = snapshot_seconds

    def load(self) -> TemporalGraph:
        return read_signed_network(self.path or bitcoin_path(self.network, self.root), self.snapshot_seconds)


class UCIData(TemporalGraphData):
    """UC Irvine messages (SNAP CollegeMsg or KONECT), for link prediction.

    Args:
        root: the data root holding the dataset ``uci-messages``; None: :func:`recur_core.data.data_root`'s choice.
        path: an edge list elsewhere read instead (SNAP CollegeMsg, or KONECT's ``out.opsahl-ucsocial``
            that the official code reads).
        snapshot_seconds: snapshot width (official 190,080 s).
        task, history, train_fraction, val_fraction, negatives, smart_negatives, features, eval_windows, shuffle,
        num_workers, seed: see :class:`TemporalGraphData`.
    """

    supported_tasks = ("link_pred",)

    def __init__(
        self,
        root: str | None = None,
        path: str | None = None,
        snapshot_seconds: float = UCI_SNAPSHOT_SECONDS,
        task: Task = "link_pred",
        history: int = 11,
        train_fraction: float = 0.71,
        val_fraction: float = 0.1,
        negatives: int = 50,
        smart_negatives: bool = True,
        features: Features = "degree",
        eval_windows: int | None = None,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            task=task,
            history=history,
            train_fraction=train_fraction,
            val_fraction=val_fraction,
            negatives=negatives,
            smart_negatives=smart_negatives,
            features=features,
            eval_windows=eval_windows,
            shuffle=shuffle,
            num_workers=num_workers,
            seed=seed,
        )
        self.root = root
        self.path = path
        self.snapshot_seconds = snapshot_seconds

    def load(self) -> TemporalGraph:
        return read_uci_messages(self.path or uci_path(self.root), self.snapshot_seconds)


class EllipticData(TemporalGraphData):
    """Elliptic transactions (the three Kaggle CSVs in one folder), for node classification.

    Args:
        root: the data root holding the dataset ``elliptic`` (Kaggle's ``elliptic_bitcoin_dataset/``,
            downloaded by hand); None: :func:`recur_core.data.data_root`'s choice.
        path: a folder elsewhere holding ``elliptic_txs_{features,classes,edgelist}.csv``, read instead.
        task, history, train_fraction, val_fraction, negatives, features, eval_windows, shuffle,
        num_workers, seed: see :class:`TemporalGraphData` (official: history 6, fractions 0.65 / 0.1,
        given features).
    """

    supported_tasks = ("node_cls",)

    def __init__(
        self,
        root: str | None = None,
        path: str | None = None,
        task: Task = "node_cls",
        history: int = 6,
        train_fraction: float = 0.65,
        val_fraction: float = 0.1,
        negatives: int = 1,
        features: Features = "given",
        eval_windows: int | None = None,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            task=task,
            history=history,
            train_fraction=train_fraction,
            val_fraction=val_fraction,
            negatives=negatives,
            features=features,
            eval_windows=eval_windows,
            shuffle=shuffle,
            num_workers=num_workers,
            seed=seed,
        )
        self.root = root
        self.path = path

    def load(self) -> TemporalGraph:
        return load_elliptic(self.path, self.root)
