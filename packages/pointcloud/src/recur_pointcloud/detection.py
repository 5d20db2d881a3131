"""3D object detection on KITTI-format frames: the DataModule and the LightningModule of LION's detector.

- :class:`DetectionData`: frames of :class:`~recur_pointcloud.data.kitti.KittiObject`, either the
  synthetic ray-cast scenes (:func:`~recur_pointcloud.data.synthetic_kitti.write_synthetic_kitti`,
  written once under the user cache: the embedded default) or the real KITTI object benchmark under the
  data root. Training frames are augmented as OpenPCDet's KITTI configuration: a random flip along x,
  a world rotation in [-pi/4, pi/4] and a world scaling in [0.95, 1.05]; boxes whose centre leaves the
  point range are dropped (``mask_points_and_boxes_outside_range``). GT-sampling is not done.
- :class:`DetectionModule`: trains :class:`~recur_pointcloud.models.detector.VoxelDetector` (``lion`` or
  the baseline ``lion_no_backbone``) with OpenPCDet's ``adam_onecycle`` (AdamW with betas (0.9, 0.99),
  one-cycle learning rate and momentum), and scores validation and test frames by the KITTI AP
  (:func:`~recur_pointcloud.metrics.kitti_ap.kitti_eval`: AP_R11 and AP_R40 of every class, difficulty and
  of the image, BEV and 3D boxes) on the detections converted to KITTI camera-frame labels, as OpenPCDet's
  ``generate_prediction_dicts``. The test writes figures of predicted (red) vs true (green) boxes, and
  scores the plain baselines on the same frames beside the model: the geometric detector
  (:class:`~recur_pointcloud.models.baselines.GeometricDetector`: ground removed, BEV clusters, a mean-size
  box per cluster; nothing to train) and, given ``baseline_ckpt``, a trained detector's checkpoint
  (``lion_no_backbone``: the same detector without LION's backbone).

A batch is a dict: ``points`` (list of ``[N_i, 4]``), ``boxes`` (list of ``[M_i, 7]`` LiDAR boxes),
``labels`` (list of ``[M_i]`` class indices) and ``frames`` (list of :class:`Frame`: labels, calibration,
image size and path, for the metric and the figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.data.generated import generated_cache
from recur_core.engine import RecurModule, Split, SplitDataModule, read_checkpoint
from recur_core.registry import get_model
from recur_pointcloud.data.kitti import (
    KittiCalib,
    KittiObject,
    KittiObjects,
    boxes_camera_to_lidar,
    boxes_lidar_to_camera,
    image_boxes,
    write_label,
)

__all__ = [
    "AugmentedFrames",
    "DetectionData",
    "DetectionModule",
    "Frame",
    "augment_frame",
    "baseline_table",
    "collate_frames",
    "detections_to_kitti",
    "load_detector",
]


class Frame:
    """What the metric and the figures need of a frame: its labels, calibration, image size and path."""

    def __init__(self, frame_id: str, objects: KittiObjects, calib: KittiCalib, image_size: tuple, image_path: Path):
        self.frame_id, self.objects, self.calib = frame_id, objects, calib
        self.image_size, self.image_path = tuple(image_size), Path(image_path)


def _in_range(boxes: Tensor, point_range: Sequence[float]) -> Tensor:
    """``[M]`` True for the boxes whose centre lies inside the range in x and y."""
    x, y = boxes[:, 0], boxes[:, 1]
    return (x >= point_range[0]) & (x <= point_range[3]) & (y >= point_range[1]) & (y <= point_range[4])


def augment_frame(
    points: Tensor,
    boxes: Tensor,
    generator: torch.Generator,
    flip: bool = True,
    rotation: float = math.pi / 4,
    scale: tuple[float, float] = (0.95, 1.05),
) -> tuple[Tensor, Tensor]:
    """OpenPCDet's world augmentations of ``points [N, 4]`` and LiDAR ``boxes [M, 7]``, in its order.

    ``random_world_flip`` along x (y -> -y, heading -> -heading) with probability 1/2;
    ``random_world_rotation`` by an angle uniform in ``[-rotation, rotation]`` about z;
    ``random_world_scaling`` by a factor uniform in ``scale``. Headings are kept in [-pi, pi).
    """
    points, boxes = points.clone(), boxes.clone()
    if flip and torch.rand((), generator=generator) < 0.5:
        points[:, 1] = -points[:, 1]
        boxes[:, 1] = -boxes[:, 1]
        boxes[:, 6] = -boxes[:, 6]
    angle = float((torch.rand((), generator=generator) * 2 - 1) * rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    turn = torch.tensor([[cos, sin], [-sin, cos]], dtype=points.dtype)
    points[:, :2] = points[:, :2] @ turn
    boxes[:, :2] = boxes[:, :2] @ turn.to(boxes.dtype)
    boxes[:, 6] += angle
    factor = float(scale[0] + torch.rand((), generator=generator) * (scale[1] - scale[0]))
    points[:, :3] *= factor
    boxes[:, :6] *= factor
    boxes[:, 6] = boxes[:, 6] - torch.floor(boxes[:, 6] / (2 * math.pi) + 0.5) * 2 * math.pi
    return points, boxes


class AugmentedFrames(Dataset):
    """Training frames indexed by ``(epoch, index)``, each augmented with a draw seeded by ``(seed, epoch, index)``.

    Args:
        frames: a :class:`DetectionFrames`.
        seed: with the epoch and index, seeds each frame's augmentation.
        flip, rotation, scale: see :func:`augment_frame`.
        point_range: boxes whose centre leaves it after augmentation are dropped.
    """

    def __init__(self, frames: Dataset, seed: int, flip: bool, rotation: float, scale: tuple, point_range) -> None:
        self.frames, self.seed = frames, seed
        self.flip, self.rotation, self.scale, self.point_range = flip, rotation, tuple(scale), point_range

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        item = dict(self.frames[index])
        state = np.random.SeedSequence([self.seed, epoch, index]).generate_state(1, dtype=np.uint64)[0]
        generator = torch.Generator().manual_seed(int(state))
        item["points"], boxes = augment_frame(
            item["points"], item["boxes"], generator, self.flip, self.rotation, self.scale
        )
        kept = _in_range(boxes, self.point_range)
        item["boxes"], item["labels"] = boxes[kept], item["labels"][kept]
        return item


class DetectionFrames(Dataset):
    """A :class:`KittiObject` whose items carry a :class:`Frame` and only the boxes inside the point range."""

    def __init__(self, frames: KittiObject, point_range: Sequence[float]) -> None:
        self.frames, self.point_range = frames, tuple(point_range)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        item = self.frames[index]
        kept = _in_range(item["boxes"], self.point_range)
        frame = Frame(
            item["frame_id"], item["objects"], item["calib"], item["image_size"], self.frames.image_path(index)
        )
        return {"points": item["points"], "boxes": item["boxes"][kept], "labels": item["labels"][kept], "frame": frame}


def collate_frames(items: list[dict]) -> dict[str, list]:
    """Frames of different sizes as lists: ``points``, ``boxes``, ``labels``, ``frames``."""
    return {
        "points": [item["points"] for item in items],
        "boxes": [item["boxes"] for item in items],
        "labels": [item["labels"] for item in items],
        "frames": [item["frame"] for item in items],
    }


class DetectionData(SplitDataModule):
    """KITTI-format detection frames: the synthetic scenes (default) or the KITTI object benchmark.

    Args:
        dataset: ``"synthetic"`` (written once under :func:`generated_cache`, or ``folder``) or
            ``"kitti_object"`` (under the data root, or ``root``).
        root: the KITTI object folder for ``kitti_object`` (None: the catalogue's folder under the data root).
        folder: where the synthetic scenes are written (None: a folder of the cache named by the options).
        frames, val_fraction, cars, pedestrians, cyclists, beams, columns, test_frames: the synthetic scenes
            (:func:`~recur_pointcloud.data.synthetic_kitti.write_synthetic_kitti`); ``seed`` seeds them.
            ``test_frames`` more scenes form the split ``test``, held out from training and validation.
        test_split: the ImageSets split the test reads (``val``; ``test`` for the synthetic ``test_frames``),
            or ``all`` for every frame in ``training/velodyne`` (no split files needed).
        point_range: the points kept (x, y; z is cut by the voxels) and the boxes trained on.
        classes: the classes trained on.
        fov_only: keep only the points the camera sees (OpenPCDet's ``FOV_POINTS_ONLY``).
        augment: the training augmentations; ``flip``, ``rotation`` (radians), ``scale``: see :func:`augment_frame`.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    epoch_indexed = True

    def __init__(
        self,
        dataset: Literal["synthetic", "kitti_object"] = "synthetic",
        root: str | None = None,
        folder: str | None = None,
        frames: int = 64,
        val_fraction: float = 0.25,
        cars: tuple[int, int] = (4, 10),
        pedestrians: tuple[int, int] = (0, 4),
        cyclists: tuple[int, int] = (0, 3),
        beams: int = 64,
        columns: int = 1024,
        test_frames: int = 0,
        test_split: str = "val",
        point_range: tuple[float, float, float, float, float, float] = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0),
        classes: tuple[str, ...] = ("Car", "Pedestrian", "Cyclist"),
        fov_only: bool = True,
        augment: bool = True,
        flip: bool = True,
        rotation: float = math.pi / 4,
        scale: tuple[float, float] = (0.95, 1.05),
        *,
        batch_size: int = 4,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in ("synthetic", "kitti_object"):
            raise ValueError(f"dataset must be 'synthetic' or 'kitti_object', got {dataset!r}")
        if len(point_range) != 6 or any(point_range[i + 3] <= point_range[i] for i in range(3)):
            raise ValueError(f"point_range must be (x0, y0, z0, x1, y1, z1) with x0 < x1 etc., got {point_range}")
        if not 0 <= rotation <= math.pi or not 0 < scale[0] <= scale[1]:
            raise ValueError(
                f"rotation must be in [0, pi] and scale (low, high) with 0 < low <= high, got {rotation}, {scale}"
            )
        self.dataset_name, self.root, self.folder = dataset, root, folder
        self.synthetic = dict(
            frames=frames,
            val_fraction=val_fraction,
            cars=tuple(cars),
            pedestrians=tuple(pedestrians),
            cyclists=tuple(cyclists),
            beams=beams,
            columns=columns,
            test_frames=test_frames,
        )
        self.test_split = test_split
        self.point_range = tuple(float(v) for v in point_range)
        self.classes = tuple(classes)
        self.fov_only = fov_only
        self.augment, self.flip, self.rotation, self.scale = augment, flip, rotation, tuple(scale)

    def kitti_folder(self) -> Path | None:
        """The folder read: the synthetic scenes (written on first use), ``root``, or None (the data root's KITTI)."""
        if self.dataset_name == "kitti_object":
            return None if self.root is None else Path(self.root)
        from recur_pointcloud.data.synthetic_kitti import GENERATED_FORMAT, write_synthetic_kitti

        options = self.synthetic
        name = (
            f"synthetic-kitti-v{GENERATED_FORMAT}-n{options['frames']}-v{options['val_fraction']}"
            f"-c{'_'.join(map(str, options['cars']))}-p{'_'.join(map(str, options['pedestrians']))}"
            f"-y{'_'.join(map(str, options['cyclists']))}-b{options['beams']}x{options['columns']}-seed{self.seed}"
            + (f"-t{options['test_frames']}" if options["test_frames"] else "")
        )
        folder = Path(self.folder) if self.folder is not None else generated_cache() / name
        return write_synthetic_kitti(folder, seed=self.seed, **options)

    def make_dataset(self, split: Split) -> Dataset:
        name = {"train": "train", "val": "val", "test": self.test_split}[split]
        frames = KittiObject(
            self.kitti_folder(),
            split=None if name == "all" else name,
            classes=self.classes,
            point_range=self.point_range,
            fov_only=self.fov_only,
        )
        dataset = DetectionFrames(frames, self.point_range)
        if split == "train":
            rotation = self.rotation if self.augment else 0.0
            scale = self.scale if self.augment else (1.0, 1.0)
            return AugmentedFrames(dataset, self.seed, self.augment and self.flip, rotation, scale, self.point_range)
        return dataset

    def collate_fn(self) -> Callable[[list[Any]], Any]:
        return collate_frames


def detections_to_kitti(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, frame: Frame, classes: Sequence[str]
) -> KittiObjects:
    """LiDAR detections as KITTI result labels in the camera frame (OpenPCDet's ``generate_prediction_dicts``).

    ``alpha = -arctan2(-y, x) + rotation_y``; the image box is that of the projected corners, clipped to the image.
    """
    location, dimensions, rotation_y = boxes_lidar_to_camera(boxes, frame.calib)
    objects = KittiObjects(
        name=np.array([classes[i] for i in labels], dtype=object),
        truncated=np.zeros(len(boxes)),
        occluded=np.zeros(len(boxes), dtype=np.int64),
        alpha=-np.arctan2(-boxes[:, 1], boxes[:, 0]) + rotation_y,
        bbox=np.zeros((len(boxes), 4)),
        dimensions=dimensions,
        location=location,
        rotation_y=rotation_y,
        score=np.asarray(scores, np.float64),
    )
    if len(objects):
        objects.bbox = image_boxes(objects, frame.calib, frame.image_size)
    return objects


def _truth_in_range(frame: Frame, point_range: Sequence[float]) -> KittiObjects:
    """The frame's labels without the objects (DontCare kept) whose centre lies outside the point range."""
    objects = frame.objects
    scored = objects.name != "DontCare"
    if not scored.any():
        return objects
    centres = boxes_camera_to_lidar(objects.select(scored), frame.calib)[:, :2]
    inside = np.ones(len(objects), dtype=bool)
    inside[scored] = (
        (centres[:, 0] >= point_range[0])
        & (centres[:, 0] <= point_range[3])
        & (centres[:, 1] >= point_range[1])
        & (centres[:, 1] <= point_range[4])
    )
    return objects.select(inside)


def baseline_table(scores: dict[str, dict[str, float]], classes: Sequence[str]) -> str:
    """Rows of moderate AP_R40 (3D and BEV per class), one per method: what the test prints, the model first."""
    columns = [(name, metric) for name in classes for metric in ("3d", "bev")]
    width = max(len(method) for method in scores) + 2
    lines = [
        "AP_R40, moderate".ljust(width) + "".join(f"{name[:10]} {metric.upper()}".rjust(16) for name, metric in columns)
    ]
    for method, values in scores.items():
        cells = [values.get(f"{name}_{metric}_moderate_R40", float("nan")) for name, metric in columns]
        lines.append(method.ljust(width) + "".join(f"{cell:16.2f}" for cell in cells))
    return "\n".join(lines)


def load_detector(path: str | Path, classes: Sequence[str]) -> torch.nn.Module:
    """The detector (``net``) of a ``DetectionModule`` checkpoint, for a test to score beside its model.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a recur detection checkpoint, or one trained on other classes than ``classes``.
    """
    checkpoint = read_checkpoint(path, "--model.baseline_ckpt")
    hparams, state = checkpoint.get("hyper_parameters", {}), checkpoint["state_dict"]
    name = hparams.get("model")
    if name not in ("lion", "lion_no_backbone"):
        raise ValueError(
            f"--model.baseline_ckpt {path}: not a recur detection checkpoint; fit lion/synthetic_no_backbone and "
            "pass its best.ckpt"
        )
    if tuple(hparams.get("classes", ())) != tuple(classes):
        raise ValueError(
            f"--model.baseline_ckpt {path} detects {list(hparams.get('classes', ()))}, the model {list(classes)}; "
            "give a baseline trained on the same classes"
        )
    keys = [
        "point_range",
        "voxel_size",
        "vfe",
        "vfe_channels",
        "dim",
        "bev_layer_nums",
        "bev_layer_strides",
        "bev_filters",
        "bev_upsample_strides",
        "bev_upsample_filters",
        "classes",
        "head_kwargs",
    ]
    options = {key: hparams[key] for key in keys if key in hparams}
    if name == "lion":
        options |= {key: hparams.get(key) for key in ("layer", "layer_kwargs", "backbone_kwargs")}
    net = get_model(name, **options)
    net.load_state_dict({key.removeprefix("net."): value for key, value in state.items() if key.startswith("net.")})
    return net


class DetectionModule(RecurModule):
    """LION's detector (``model="lion"``) or its baseline without the 3D backbone (``"lion_no_backbone"``).

    Logs ``train/loss`` (and its ``cls``, ``box``, ``dir`` parts), ``val/loss`` and, on the whole split,
    ``val/<Class>_<image|bev|3d>_<easy|moderate|hard>`` (AP_R11) and the same with ``_R40``
    (the checkpoint monitor: ``val/Car_3d_moderate_R40``); the test the same under ``test/`` and
    ``detections_<frame>.png`` for the first ``figure_frames`` frames in the run folder. Beside the model,
    the test scores its baselines on the same frames, logs their AP_R40 as ``test/<baseline>_<key>_R40``
    (``geometric``; ``trained`` for ``baseline_ckpt``) and prints the moderate AP_R40 of each class in 3D
    and BEV, the model's row first; each method's detections go to ``kitti_results/<method>/<frame>.txt``
    (KITTI result labels with scores) in the run folder, for any later analysis.

    Args:
        model: ``lion`` or ``lion_no_backbone``.
        layer, layer_kwargs, backbone_kwargs, point_range, voxel_size, vfe, vfe_channels, dim, bev_layer_nums,
            bev_layer_strides, bev_filters, bev_upsample_strides, bev_upsample_filters, classes, head_kwargs:
            see :class:`~recur_pointcloud.models.detector.VoxelDetector` (defaults: LION's KITTI configuration).
        lr, weight_decay: AdamW's peak learning rate and decoupled weight decay (official 0.003, 0.01).
        moms: beta1 of Adam cycled from the first to the second value and back (0.95, 0.85).
        pct_start, div_factor: the one-cycle schedule: from ``lr / div_factor`` up to ``lr`` over the
            first ``pct_start`` of the steps, then down to ``lr / div_factor / 1e4`` (cosine; 0.4, 10).
        score_in_range: score only the ground truths whose centre lies inside ``point_range`` (a
            detector cannot see beyond it); False scores every label of the frame, as OpenPCDet.
        figure_frames: test frames drawn with their predicted and true boxes.
        geometric_baseline: score :class:`~recur_pointcloud.models.baselines.GeometricDetector` beside the
            model at test (its classes and point range are the model's).
        baseline_ckpt: a checkpoint of a trained ``DetectionModule`` (``lion/synthetic_no_backbone``'s
            ``best.ckpt``, say) scored beside the model at test; None: none. Its classes must be the model's.
    """

    monitor = "val/Car_3d_moderate_R40"
    monitor_mode = "max"

    def __init__(
        self,
        model: Literal["lion", "lion_no_backbone"] = "lion",
        layer: str = "mamba",
        layer_kwargs: dict[str, Any] | None = None,
        backbone_kwargs: dict[str, Any] | None = None,
        point_range: tuple[float, float, float, float, float, float] = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0),
        voxel_size: tuple[float, float, float] = (0.2, 0.2, 0.125),
        vfe: Literal["mean", "points"] = "mean",
        vfe_channels: tuple[int, ...] = (64, 64),
        dim: int = 64,
        bev_layer_nums: tuple[int, ...] = (5, 5),
        bev_layer_strides: tuple[int, ...] = (1, 2),
        bev_filters: tuple[int, ...] = (128, 256),
        bev_upsample_strides: tuple[int, ...] = (1, 2),
        bev_upsample_filters: tuple[int, ...] = (256, 256),
        classes: tuple[str, ...] = ("Car", "Pedestrian", "Cyclist"),
        head_kwargs: dict[str, Any] | None = None,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        moms: tuple[float, float] = (0.95, 0.85),
        pct_start: float = 0.4,
        div_factor: float = 10.0,
        score_in_range: bool = False,
        figure_frames: int = 2,
        geometric_baseline: bool = True,
        baseline_ckpt: str | None = None,
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay)
        if model not in ("lion", "lion_no_backbone"):
            raise ValueError(f"model must be 'lion' or 'lion_no_backbone', got {model!r}")
        if not 0 < pct_start < 1 or div_factor < 1:
            raise ValueError(f"need 0 < pct_start < 1 and div_factor >= 1, got {pct_start} and {div_factor}")
        # the test's baselines are not hyperparameters of the trained detector (chosen at test, another run's
        # checkpoint): kept out of its checkpoint
        self.save_hyperparameters(ignore=["geometric_baseline", "baseline_ckpt"])
        self.geometric_baseline, self.baseline_ckpt = geometric_baseline, baseline_ckpt
        options = dict(
            point_range=point_range,
            voxel_size=voxel_size,
            vfe=vfe,
            vfe_channels=vfe_channels,
            dim=dim,
            bev_layer_nums=bev_layer_nums,
            bev_layer_strides=bev_layer_strides,
            bev_filters=bev_filters,
            bev_upsample_strides=bev_upsample_strides,
            bev_upsample_filters=bev_upsample_filters,
            classes=classes,
            head_kwargs=head_kwargs,
        )
        if model == "lion":
            options |= dict(layer=layer, layer_kwargs=layer_kwargs, backbone_kwargs=backbone_kwargs)
        self.net = get_model(model, **options)
        self._outputs: dict[str, list] = {}
        # the test's baselines, by name: each maps a batch's points to per-frame detections (set in on_test_start)
        self._baselines: dict[str, Callable[[list[Tensor]], list[dict[str, Tensor]]]] = {}

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        theirs = getattr(data, "classes", None)
        if theirs is not None and tuple(theirs) != tuple(self.hparams.classes):
            raise ValueError(
                f"model.classes = {list(self.hparams.classes)} but the data has classes = {list(theirs)}; "
                "set --model.classes and --data.classes alike"
            )

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.lr, betas=(self.hparams.moms[0], 0.99), weight_decay=self.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=self.lr,
            total_steps=self.scheduled_steps(),
            pct_start=self.hparams.pct_start,
            div_factor=self.hparams.div_factor,
            final_div_factor=1e4,
            base_momentum=self.hparams.moms[1],
            max_momentum=self.hparams.moms[0],
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def forward(self, points: Sequence[Tensor]) -> dict[str, Tensor]:
        return self.net(points)

    def _losses(self, batch: dict[str, list], stage: str) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        preds = self.net(batch["points"])
        losses = self.net.loss(preds, batch["boxes"], batch["labels"])
        size = len(batch["points"])
        self.log(
            f"{stage}/loss", losses["total"], prog_bar=True, on_step=stage == "train", on_epoch=True, batch_size=size
        )
        if stage == "train":
            for part in ("cls", "box", "dir"):
                self.log(f"train/loss_{part}", losses[part], on_step=False, on_epoch=True, batch_size=size)
        return preds, losses

    def training_step(self, batch: dict[str, list], batch_idx: int) -> Tensor:
        return self._losses(batch, "train")[1]["total"]

    def _collect(self, key: str, detections: list[dict[str, Tensor]], frames: list[Frame]) -> None:
        rows = self._outputs.setdefault(key, [])
        for detection, frame in zip(detections, frames):
            found = detections_to_kitti(
                detection["boxes"].double().cpu().numpy(),
                detection["scores"].double().cpu().numpy(),
                detection["labels"].cpu().numpy(),
                frame,
                self.hparams.classes,
            )
            rows.append((frame, found))

    def _evaluate(self, batch: dict[str, list], stage: str) -> None:
        preds, _ = self._losses(batch, stage)
        self._collect(stage, self.net.detect(preds), batch["frames"])
        if stage == "test":
            for name, detect in self._baselines.items():
                self._collect(f"test_{name}", detect(batch["points"]), batch["frames"])

    def validation_step(self, batch: dict[str, list], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, list], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs.pop("val", None)

    def on_test_epoch_start(self) -> None:
        for key in [key for key in self._outputs if key.startswith("test")]:
            self._outputs.pop(key)

    def on_test_start(self) -> None:
        """Build the baselines the test scores beside the model (``geometric_baseline``, ``baseline_ckpt``)."""
        from recur_pointcloud.models.baselines import GeometricDetector

        self._baselines = {}
        if self.geometric_baseline:
            self._baselines["geometric"] = GeometricDetector(self.hparams.classes, self.hparams.point_range).detect
        if self.baseline_ckpt:
            net = load_detector(self.baseline_ckpt, self.hparams.classes).to(self.device).eval()

            def trained(points: list[Tensor]) -> list[dict[str, Tensor]]:
                with torch.no_grad():
                    return net.detect(net(points))

            self._baselines["trained"] = trained

    def _kitti_scores(self, key: str) -> tuple[list, dict[str, float]]:
        """The gathered ``(frame, detections)`` rows collected under ``key`` and their KITTI AP (empty: none)."""
        from recur_pointcloud.metrics.kitti_ap import kitti_eval

        rows = self.gather_from_ranks(self._outputs.pop(key, []))
        if not rows:
            return rows, {}
        point_range = self.hparams.point_range
        truth = [
            _truth_in_range(frame, point_range) if self.hparams.score_in_range else frame.objects for frame, _ in rows
        ]
        return rows, kitti_eval(truth, [objects for _, objects in rows], classes=self.hparams.classes)

    def _score(self, stage: str) -> tuple[list, dict[str, float]]:
        rows, scores = self._kitti_scores(stage)
        for key, value in scores.items():
            # validation logs AP_R40 only (the epoch line stays readable); the test logs both
            if stage == "test" or key.endswith("_R40"):
                self.log(f"{stage}/{key}", value, prog_bar=key == "Car_3d_moderate_R40")
        return rows, scores

    def on_validation_epoch_end(self) -> None:
        self._score("val")

    def on_test_epoch_end(self) -> None:
        rows, scores = self._score("test")
        table, results = {self._model_name(): scores}, {self.hparams.model: rows}
        for name in self._baselines:
            results[name], baseline = self._kitti_scores(f"test_{name}")
            for key, value in baseline.items():
                if key.endswith("_R40"):
                    self.log(f"test/{name}_{key}", value)
            table[f"{name} baseline"] = baseline
        root = getattr(self.trainer, "default_root_dir", None)
        if not self.trainer.is_global_zero:
            return
        if scores:
            print(baseline_table(table, self.hparams.classes))
        if root is not None:
            self._write_figures(rows[: self.hparams.figure_frames], Path(root))
            # every method's detections as KITTI result files, as OpenPCDet's final_result/data
            for method, method_rows in results.items():
                folder = Path(root) / "kitti_results" / method
                folder.mkdir(parents=True, exist_ok=True)
                for frame, found in method_rows:
                    write_label(folder / f"{frame.frame_id}.txt", found, with_score=True)

    def _model_name(self) -> str:
        model = self.hparams.model
        return f"{model} ({self.hparams.layer})" if model == "lion" else model

    def _write_figures(self, rows: list, folder: Path) -> None:
        from PIL import Image

        from recur_pointcloud.data.kitti import read_points
        from recur_pointcloud.plots import plot_kitti_frame

        x0, y0, _, x1, y1, _ = self.hparams.point_range
        folder.mkdir(parents=True, exist_ok=True)
        for frame, found in rows:
            with Image.open(frame.image_path) as image:
                pixels = np.asarray(image.convert("RGB"))
            points = read_points(frame.image_path.parent.parent / "velodyne" / f"{frame.frame_id}.bin")
            plot_kitti_frame(
                pixels,
                points,
                frame.calib,
                frame.objects,
                folder / f"detections_{frame.frame_id}.png",
                detections=found,
                bev_range=(x0, y0, x1, y1),
                title=f"frame {frame.frame_id}: truth (green) vs {self.hparams.model} (red)",
            )
