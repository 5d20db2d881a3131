"""3DCNN-DQN-RNN scene parsing (Liu et al., ICCV 2017, https://arxiv.org/abs/1707.06783): rooms in, a class per
point out, beside the paper's two baselines.

- :class:`RoomsData`: S3DIS-layout rooms (the synthetic rooms by default, S3DIS under the data root), each
  room subsampled to at most ``max_points`` points, batches as lists of rooms.
- :class:`SceneParsingModule`: trains the networks of :class:`~recur_pointcloud.models.dqn_rnn.DQNRNN`
  and the RNN-only baseline, then the eye window's DQN, and scores

  - ``dqn_rnn`` (the model): one greedy eye-window search per class from the whole room
    (:func:`~recur_pointcloud.eye_window.search_windows`, the paper's class-wise windows); the points in
    the windows are labelled by the residual RNN on their raw attributes and the window's CNN features
    (a point in several windows: the mean of their class probabilities); points no window covers are
    labelled the same way on the sliding windows (``combine="fill"``; ``"mean"`` averages every window,
    class-wise and sliding);
  - ``cnn`` (baseline): the 3D CNN alone on the sliding windows, each point taking its voxel's labels;
  - ``rnn`` (baseline): the RNN alone on the sliding windows, without CNN features;
  - ``sliding`` (an ablation, recur's): the model's RNN with CNN features on the sliding windows, no DQN.

  The sliding windows tile the room, ``tiles`` per axis. Metrics (torchmetrics, over every point of a
  split): per-class IoU (``MulticlassJaccardIndex``), mean IoU over the classes the split's ground truth or
  predictions hold (a class in neither has no IoU), and overall accuracy (``MulticlassAccuracy``, micro).

Training is in two phases (recur's schedule; the paper's is not published): for ``labeller_epochs``
epochs the CNN (per-point cross-entropy of its voxel logits), the RNN (cross-entropy, CNN features
detached, so the CNN is exactly the CNN-only baseline) and the RNN-only baseline learn on the sliding
windows plus ``random_windows`` random windows per room; then the CNN is frozen and the DQN
(:class:`~recur_pointcloud.eye_window.DQNAgent`) runs ``dqn_steps_per_room`` ε-greedy steps in each
training room per epoch, the target class drawn from the room's classes, from random start windows. The
DQN's replay and target network are not in checkpoints: a run resumed in its DQN phase starts them afresh.
The DQN phase is one process's: its updates are not all-reduced, so under DDP the ranks' Q-networks drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from recur_core.engine import RecurModule, SplitDataModule, check_data_matches
from recur_core.engine.datamodule import Split
from recur_core.registry import get_model
from recur_pointcloud.eye_window import DQNAgent, DQNConfig, EyeWindowEnv, search_windows, window_iou
from recur_pointcloud.models.dqn_rnn import (
    DQNRNN,
    POINT_FEATURES,
    ResidualRNNLabeller,
    WindowPoints,
    normalise_room,
    point_features,
    voxelize_windows,
)

__all__ = [
    "METHODS",
    "RoomsData",
    "SceneParsingModule",
    "SubsampledRooms",
    "label_sequences",
    "mean_over_windows",
    "pack_sequences",
    "sliding_windows",
]

# the model first, then the baselines and the ablation
METHODS = ("dqn_rnn", "cnn", "rnn", "sliding")


# ----- data ----------------------------------------------------------------------------------------------------


class SubsampledRooms(Dataset):
    """Rooms with at most ``max_points`` points each: the same random subset of a room every time
    (drawn from ``seed`` and the room's index)."""

    def __init__(self, rooms: Dataset, max_points: int, seed: int) -> None:
        self.rooms, self.max_points, self.seed = rooms, max_points, seed

    def __len__(self) -> int:
        return len(self.rooms)

    def __getitem__(self, index: int) -> dict[str, Any]:
        room = self.rooms[index]
        count = len(room["labels"])
        if count > self.max_points:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
            keep = torch.randperm(count, generator=generator)[: self.max_points].sort().values
            room = {**room, "points": room["points"][keep], "labels": room["labels"][keep]}
        return room


def _room_list(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return items


class RoomsData(SplitDataModule):
    """Indoor rooms in the S3DIS layout for scene parsing; a batch is a list of rooms (dicts as
    :class:`~recur_pointcloud.data.s3dis.S3DISRooms` gives them).

    Args:
        dataset: ``"synthetic_rooms"`` (written once under the user cache by
            :func:`~recur_pointcloud.data.synthetic_rooms.synthetic_rooms_root`) or ``"s3dis"`` (under the data
            root, or ``root``).
        root: the S3DIS folder (``Stanford3dDataset_v1.2_Aligned_Version``) when not under the data root.
        train_areas, val_areas, test_areas: the areas of each split (S3DIS's usual test area is 5).
        max_points: points kept per room (a fixed random subset).
        rooms_per_area, points_per_room, data_seed: the synthetic rooms' options.
        cache_dir: where S3DIS rooms are kept parsed (``.npy``); None parses the text every time.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    num_classes = 13

    def __init__(
        self,
        dataset: Literal["synthetic_rooms", "s3dis"] = "synthetic_rooms",
        root: str | None = None,
        train_areas: Sequence[int] = (1, 2, 3, 4),
        val_areas: Sequence[int] = (6,),
        test_areas: Sequence[int] = (5,),
        max_points: int = 8192,
        rooms_per_area: int = 5,
        points_per_room: int = 20000,
        data_seed: int = 0,
        cache_dir: str | None = None,
        *,
        batch_size: int = 2,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in ("synthetic_rooms", "s3dis"):
            raise ValueError(f"dataset must be 'synthetic_rooms' or 's3dis', got {dataset!r}")
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, got {max_points}")
        self.dataset_name, self.root, self.cache_dir = dataset, root, cache_dir
        self.areas: dict[Split, tuple[int, ...]] = {
            "train": tuple(train_areas),
            "val": tuple(val_areas),
            "test": tuple(test_areas),
        }
        self.max_points = max_points
        self.synthetic = {"rooms_per_area": rooms_per_area, "points_per_room": points_per_room, "seed": data_seed}

    def folder(self) -> Path | None:
        """The rooms' folder (the synthetic rooms written on first use), or None for S3DIS under the data root."""
        if self.dataset_name == "s3dis":
            return None if self.root is None else Path(self.root)
        from recur_pointcloud.data.synthetic_rooms import synthetic_rooms_root

        areas = max(max(areas) for areas in self.areas.values())
        return synthetic_rooms_root(areas=areas, **self.synthetic)

    def make_dataset(self, split: Split) -> Dataset:
        from recur_pointcloud.data.s3dis import S3DISRooms

        rooms = S3DISRooms(self.folder(), self.areas[split], cache_dir=self.cache_dir)
        return SubsampledRooms(rooms, self.max_points, self.seed)

    def collate_fn(self):
        return _room_list


# ----- windows and sequences -----------------------------------------------------------------------------------


def sliding_windows(tiles: Sequence[int]) -> Tensor:
    """The windows ``[X * Y * Z, 6]`` that tile the room's unit cube, ``tiles = (X, Y, Z)`` per axis."""
    axes = [(torch.arange(n, dtype=torch.float32) + 0.5) / n for n in tiles]
    centres = torch.cartesian_prod(*axes).reshape(-1, 3)
    return torch.cat([centres, (1 / torch.tensor(tiles, dtype=torch.float32)).expand_as(centres)], 1)


class Sequences(NamedTuple):
    """Where each (window, point) pair sits in the RNN's batch: ``sequence [M]`` and ``position [M]``;
    ``lengths [S]`` and the window of each sequence ``window [S]``."""

    sequence: Tensor
    position: Tensor
    lengths: Tensor
    window: Tensor


def pack_sequences(pairs: WindowPoints, num_windows: int, length: int) -> Sequences:
    """Cut each window's points, in scan order (``pairs.order``), into sequences of at most ``length``."""
    counts = torch.bincount(pairs.window, minlength=num_windows)
    chunks = (counts + length - 1) // length
    window_sorted = pairs.window[pairs.order]
    rank = torch.arange(len(window_sorted)) - (counts.cumsum(0) - counts)[window_sorted]
    sequence, position = torch.empty_like(rank), torch.empty_like(rank)
    sequence[pairs.order] = (chunks.cumsum(0) - chunks)[window_sorted] + rank // length
    position[pairs.order] = rank % length
    lengths = torch.bincount(sequence, minlength=int(chunks.sum()))
    return Sequences(sequence, position, lengths, torch.repeat_interleave(torch.arange(num_windows), chunks))


def label_sequences(
    labeller: ResidualRNNLabeller,
    features: Tensor,
    sequences: Sequences,
    window_feature: Tensor | None = None,
    voxel_features: Tensor | None = None,
) -> Tensor:
    """The labeller's logits ``[M, K]`` for every pair, its inputs (``features [M, POINT_FEATURES]``, the
    pairs' ``voxel_features [M, C]``, the windows' ``window_feature [W, F]``) batched as ``sequences``."""
    if len(features) == 0:
        return features.new_zeros(0, labeller.rnn.config.output_dim)
    shape = (len(sequences.lengths), int(sequences.lengths.max()))
    where = (sequences.sequence, sequences.position)
    points = features.new_zeros(*shape, POINT_FEATURES).index_put_(where, features)
    voxels = None
    if voxel_features is not None:
        voxels = voxel_features.new_zeros(*shape, voxel_features.shape[-1]).index_put_(where, voxel_features)
    windows = None if window_feature is None else window_feature[sequences.window]
    return labeller(points, sequences.lengths, windows, voxels)[where]


def mean_over_windows(probabilities: Tensor, point: Tensor, num_points: int) -> tuple[Tensor, Tensor]:
    """Class probabilities ``[N, K]`` per room point, averaged over its pairs (``probabilities [M, K]``,
    ``point [M]``; 0 where no window covers the point), and the number of windows covering each point ``[N]``."""
    total = probabilities.new_zeros(num_points, probabilities.shape[1]).index_add_(0, point, probabilities)
    count = torch.bincount(point, minlength=num_points)
    return total / count.clamp_min(1)[:, None], count


# ----- the task ------------------------------------------------------------------------------------------------


class SceneParsingModule(RecurModule):
    """3DCNN-DQN-RNN point-cloud scene parsing beside the CNN-only and RNN-only baselines (module docstring).

    Logs ``<stage>/miou`` and ``<stage>/oa`` for the model (``val/miou`` picks the best checkpoint), the
    same with ``_cnn``, ``_rnn`` and ``_sliding`` for the baselines and the ablation,
    ``<stage>/dqn_coverage`` (the share of points the class-wise windows cover), ``<stage>/dqn_iou`` (the
    mean point IoU of the windows found for the classes a room holds with those classes' points) beside
    ``<stage>/room_iou`` (the same for the whole room, where every search starts), at test
    ``test/iou_<class>`` (and ``_cnn``, ``_rnn``, ``_sliding``) per class present, and prints the methods
    in a table.

    Args:
        num_classes: semantic classes (S3DIS: 13); must equal the data's.
        grid, cnn_width, cnn_norm, feature_dim, d_model, n_layers, layer, layer_kwargs, mlp_ratio, q_hidden: see
            :class:`~recur_pointcloud.models.dqn_rnn.DQNRNNConfig` (``layer``: any core layer, for the
            model's RNN and the RNN-only baseline alike).
        sequence_length: points per RNN sequence (a window's points in scan order, cut into pieces).
        tiles: sliding windows per axis (x, y, z).
        random_windows: random training windows per room (sides uniform in [0.2, 1]) besides the tiles.
        labeller_epochs: epochs that train the CNN and the RNNs; the epochs after them train the DQN.
        dqn_steps_per_room: DQN environment steps per training room and epoch.
        combine: how the model labels a point: ``"fill"`` (the mean over the class-wise windows covering it;
            the sliding windows only for points none covers) or ``"mean"`` (the mean over every window covering
            it, class-wise and sliding alike: the class windows add views to the tiles).
        search_steps, move, scale, min_size: the eye window's episode limit and actions
            (:class:`~recur_pointcloud.eye_window.EyeWindowEnv`).
        gamma, dqn_batch_size, buffer_size, target_sync, epsilon_decay_steps, learning_starts, dqn_lr: the DQN's
            (:class:`~recur_pointcloud.eye_window.DQNConfig`; Adam with ``dqn_lr``).
        lr, weight_decay, warmup_steps, scheduler: the labellers' AdamW (:class:`~recur_core.engine.RecurModule`).
    """

    monitor = "val/miou"
    monitor_mode = "max"

    def __init__(
        self,
        num_classes: int = 13,
        grid: int = 16,
        cnn_width: int = 16,
        cnn_norm: bool = True,
        feature_dim: int = 64,
        d_model: int = 64,
        n_layers: int = 2,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        mlp_ratio: float = 0.0,
        q_hidden: int = 128,
        sequence_length: int = 128,
        tiles: tuple[int, int, int] = (2, 2, 1),
        random_windows: int = 4,
        labeller_epochs: int = 10,
        dqn_steps_per_room: int = 200,
        combine: Literal["fill", "mean"] = "fill",
        search_steps: int = 20,
        move: float = 0.2,
        scale: float = 1.25,
        min_size: float = 0.1,
        gamma: float = 0.9,
        dqn_batch_size: int = 64,
        buffer_size: int = 10_000,
        target_sync: int = 100,
        epsilon_decay_steps: int = 2_000,
        learning_starts: int = 200,
        dqn_lr: float = 1e-3,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if sequence_length < 1 or random_windows < 0 or labeller_epochs < 0 or dqn_steps_per_room < 0:
            raise ValueError(
                "need sequence_length >= 1 and random_windows, labeller_epochs, dqn_steps_per_room >= 0; got "
                f"{sequence_length}, {random_windows}, {labeller_epochs}, {dqn_steps_per_room}"
            )
        if combine not in ("fill", "mean"):
            raise ValueError(f"combine must be 'fill' or 'mean', got {combine!r}")
        if len(tiles) != 3 or min(tiles) < 1:
            raise ValueError(f"tiles must be three counts >= 1 (x, y, z), got {tiles}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        sizes = {"num_classes": num_classes, "d_model": d_model, "n_layers": n_layers, "layer": layer}
        sizes.update(layer_kwargs=layer_kwargs, mlp_ratio=mlp_ratio)
        self.net: DQNRNN = get_model(
            "dqn_rnn",
            grid=grid,
            cnn_width=cnn_width,
            cnn_norm=cnn_norm,
            feature_dim=feature_dim,
            q_hidden=q_hidden,
            **sizes,
        )
        self.rnn_only: ResidualRNNLabeller = get_model(
            "dqn_rnn_labeller", window_feature_dim=0, voxel_feature_dim=0, **sizes
        )
        self.register_buffer("tiles", sliding_windows(tiles), persistent=False)
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_{method}": nn.ModuleDict(
                    {
                        "iou": MulticlassJaccardIndex(num_classes, average="none", zero_division=float("nan")),
                        "oa": MulticlassAccuracy(num_classes, average="micro"),
                    }
                )
                for stage in ("val", "test")
                for method in METHODS
            }
        )
        self._coverage: list[float] = []
        self._agent: DQNAgent | None = None

    # ----- optimisation -----------------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        labellers = [p for name, p in self.named_parameters() if not name.startswith("net.q_network.")]
        optimizer = torch.optim.AdamW(labellers, lr=self.lr, weight_decay=self.weight_decay)
        dqn = torch.optim.Adam(self.net.q_network.parameters(), lr=self.hparams.dqn_lr)
        schedule = self.lr_schedule()
        if schedule is None:
            return [optimizer, dqn]
        return [optimizer, dqn], [{"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)}]

    def scheduled_steps(self) -> int:
        """The labellers' scheduler steps: one per batch of the labeller epochs, so that a cosine ends with
        them (the DQN's epochs step no scheduler)."""
        return max(1, int(self.trainer.num_training_batches) * self.hparams.labeller_epochs)

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("num_classes",))
        max_epochs = getattr(self.trainer, "max_epochs", None)
        if stage == "fit" and max_epochs is not None and 0 <= max_epochs <= self.hparams.labeller_epochs:
            raise ValueError(
                f"--trainer.max_epochs {max_epochs} leaves no epoch for the DQN after labeller_epochs "
                f"{self.hparams.labeller_epochs}; raise --trainer.max_epochs or lower --model.labeller_epochs"
            )

    def _evidence(self, voxels: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net.cnn.evidence(voxels)

    def _dqn_agent(self) -> DQNAgent:
        if self._agent is None:
            h = self.hparams
            config = DQNConfig(
                gamma=h.gamma,
                buffer_size=h.buffer_size,
                batch_size=h.dqn_batch_size,
                target_sync=h.target_sync,
                epsilon_decay_steps=h.epsilon_decay_steps,
                learning_starts=h.learning_starts,
            )
            optimizer = self.optimizers()[1].optimizer
            self._agent = DQNAgent(self.net.q_network, self._evidence, config, optimizer, seed=self.global_step)
        return self._agent

    # ----- training ---------------------------------------------------------------------------------------------

    def _random_windows(self, count: int) -> Tensor:
        size = 0.2 + 0.8 * torch.rand(count, 3)
        centre = size / 2 + torch.rand(count, 3) * (1 - size)
        return torch.cat([centre, size], 1)

    def _labeller_losses(self, room: dict[str, Any]) -> dict[str, Tensor]:
        points, labels = normalise_room(room["points"]), room["labels"]
        windows = torch.cat([self.tiles, self._random_windows(self.hparams.random_windows)])
        pairs = voxelize_windows(points, windows, self.hparams.grid)
        target = labels[pairs.point]
        out = self.net.cnn(pairs.voxels)
        voxel_logits = out.voxel_logits.flatten(2)[pairs.window, :, pairs.voxel]
        voxel_features = out.voxel_features.flatten(2)[pairs.window, :, pairs.voxel]
        features = point_features(points, pairs)
        sequences = pack_sequences(pairs, len(windows), self.hparams.sequence_length)
        rnn = label_sequences(self.net.labeller, features, sequences, out.feature.detach(), voxel_features.detach())
        rnn_only = label_sequences(self.rnn_only, features, sequences)
        return {
            "cnn": F.cross_entropy(voxel_logits, target),
            "rnn": F.cross_entropy(rnn, target),
            "rnn_only": F.cross_entropy(rnn_only, target),
        }

    def training_step(self, batch: list[dict[str, Any]], batch_idx: int) -> None:
        if self.current_epoch < self.hparams.labeller_epochs:
            losses = [self._labeller_losses(room) for room in batch]
            parts = {name: torch.stack([loss[name] for loss in losses]).mean() for name in losses[0]}
            total = sum(parts.values())
            optimizer = self.optimizers()[0]
            optimizer.zero_grad()
            self.manual_backward(total)
            optimizer.step()
            schedulers = self.lr_schedulers()
            if schedulers is not None:
                schedulers.step()
            logged = {"on_step": True, "on_epoch": True, "batch_size": len(batch)}
            self.log("train/loss", total, prog_bar=True, **logged)
            for name, value in parts.items():
                self.log(f"train/loss_{name}", value, **logged)
            return
        agent, h = self._dqn_agent(), self.hparams
        returns = []
        for room in batch:
            env = EyeWindowEnv(
                room["points"],
                room["labels"],
                h.num_classes,
                h.grid,
                h.search_steps,
                h.move,
                h.scale,
                h.min_size,
                random_start=True,
            )
            returns += agent.run(env, h.dqn_steps_per_room, seed=int(torch.randint(0, 2**31 - 1, ())))
        if returns:
            self.log(
                "train/dqn_return", sum(returns) / len(returns), on_step=False, on_epoch=True, batch_size=len(returns)
            )
        self.log("train/epsilon", agent.epsilon(), on_step=False, on_epoch=True, batch_size=len(batch))

    # ----- parsing a room ---------------------------------------------------------------------------------------

    def _window_probabilities(self, room: Tensor, windows: Tensor) -> tuple[WindowPoints, dict[str, Tensor]]:
        """Per-pair class probabilities of the CNN, the model's RNN and the RNN-only baseline on ``windows``."""
        pairs = voxelize_windows(room, windows, self.hparams.grid)
        out = self.net.cnn(pairs.voxels)
        features = point_features(room, pairs)
        sequences = pack_sequences(pairs, len(windows), self.hparams.sequence_length)
        voxel_features = out.voxel_features.flatten(2)[pairs.window, :, pairs.voxel]
        logits = {
            "cnn": out.voxel_logits.flatten(2)[pairs.window, :, pairs.voxel],
            "rnn_cnn": label_sequences(self.net.labeller, features, sequences, out.feature, voxel_features),
            "rnn": label_sequences(self.rnn_only, features, sequences),
        }
        return pairs, {name: value.softmax(-1) for name, value in logits.items()}

    @torch.no_grad()
    def parse_room(self, points: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """Labels ``[N]`` of a room's points ``[N, 6]`` by each of ``METHODS``, the class-wise eye windows
        ``[num_classes, 6]`` (row k: the search for class k) and how many of them cover each point ``[N]``."""
        h = self.hparams
        room = normalise_room(points)
        pairs, probabilities = self._window_probabilities(room, self.tiles)
        sliding = {name: mean_over_windows(p, pairs.point, len(room)) for name, p in probabilities.items()}
        windows = search_windows(
            room,
            torch.arange(h.num_classes),
            self.net.cnn.evidence,
            self.net.q_network,
            h.grid,
            h.search_steps,
            h.move,
            h.scale,
            h.min_size,
        )
        pairs, probabilities = self._window_probabilities(room, windows)
        searched, count = mean_over_windows(probabilities["rnn_cnn"], pairs.point, len(room))
        tiled, tiles = sliding["rnn_cnn"]
        if h.combine == "fill":
            model = torch.where(count[:, None] > 0, searched, tiled)
        else:
            model = (searched * count[:, None] + tiled * tiles[:, None]) / (count + tiles)[:, None]
        labels = {"dqn_rnn": model, **{name: mean for name, (mean, _) in sliding.items()}}
        labels = {method: labels["rnn_cnn" if method == "sliding" else method].argmax(1) for method in METHODS}
        return labels, windows, count

    # ----- evaluation -------------------------------------------------------------------------------------------

    def _evaluate(self, batch: list[dict[str, Any]], stage: str) -> None:
        for room in batch:
            labels, windows, count = self.parse_room(room["points"])
            for method, predicted in labels.items():
                for metric in self.metrics[f"{stage}_{method}"].values():
                    metric.update(predicted, room["labels"])
            # the searches for the room's classes: their windows' IoU with the class, against the whole room's
            present = room["labels"].unique()
            masks = room["labels"][None] == present[:, None]
            xyz = normalise_room(room["points"])[:, :3]
            logged = {"on_step": False, "on_epoch": True, "batch_size": len(present)}
            self.log(f"{stage}/dqn_iou", window_iou(xyz, windows[present], masks).mean(), **logged)
            self.log(f"{stage}/room_iou", masks.float().mean(1).mean(), **logged)
            self.log(f"{stage}/dqn_coverage", (count > 0).float().mean(), on_step=False, on_epoch=True, batch_size=1)

    def validation_step(self, batch: list[dict[str, Any]], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: list[dict[str, Any]], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _log_scores(self, stage: str) -> dict[str, tuple[float, float]]:
        scores = {}
        for method in METHODS:
            metrics = self.metrics[f"{stage}_{method}"]
            iou = metrics["iou"].compute()
            present = ~iou.isnan()
            miou, oa = float(iou[present].mean()), float(metrics["oa"].compute())
            suffix = "" if method == "dqn_rnn" else f"_{method}"
            self.log(f"{stage}/miou{suffix}", miou, prog_bar=method == "dqn_rnn", sync_dist=False)
            self.log(f"{stage}/oa{suffix}", oa, sync_dist=False)
            if stage == "test":
                from recur_pointcloud.data.s3dis import S3DIS_CLASSES

                names = S3DIS_CLASSES if self.hparams.num_classes == len(S3DIS_CLASSES) else None
                for k in present.nonzero()[:, 0].tolist():
                    self.log(f"test/iou_{names[k] if names else k}{suffix}", float(iou[k]), sync_dist=False)
            scores[method] = (miou, oa)
            for metric in metrics.values():
                metric.reset()
        return scores

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            for metrics in self.metrics.values():
                for metric in metrics.values():
                    metric.reset()
            return
        self._log_scores("val")

    def on_test_epoch_end(self) -> None:
        scores = self._log_scores("test")
        if self.trainer.is_global_zero:
            names = {
                "dqn_rnn": "3DCNN-DQN-RNN",
                "cnn": "3D CNN only",
                "rnn": "RNN only",
                "sliding": "RNN + CNN, sliding",
            }
            print("method               mIoU    OA")
            for method, (miou, oa) in scores.items():
                print(f"{names[method]:<20} {miou:.3f}  {oa:.3f}")
