"""Lane detection end to end: the frames (:class:`LaneData`) and the task (:class:`LaneDetectionModule`).

SCNN (Pan et al., "Spatial As Deep: Spatial CNN for Traffic Scene Understanding", AAAI 2018,
https://arxiv.org/abs/1712.06080) and its baselines (the same network with ``message_passing``
``"none"`` or ``"conv"``, :mod:`recur_vision.models.scnn`) trained on SCNN's targets (lane-id masks
and lane existence) and scored with the official metrics:

- TuSimple layout (the generated roads, the default, and the real TuSimple benchmark): accuracy,
  FP and FN of the benchmark's ``lane.py`` (:mod:`recur_vision.lane_metrics`), its 20 px threshold
  scaled to each frame's width (``20 * W / 1280``; 8 px on the generated 512-px frames);
- CULane: the official F1 (30 px lanes, IoU > 0.5, Hungarian matching), and per scenario split when
  the test lists are there.

Predictions follow ``getLane.m`` (:func:`recur_vision.models.scnn.lanes_from_probabilities`; TuSimple's
0-based ``h_samples`` rows read as the SCNN PyTorch port reads them) and are written at test in the
benchmarks' formats under the run folder: ``lanes_test.json`` (TuSimple JSON
lines with ``run_time``) or ``lanes_test/<image>.lines.txt`` (CULane).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import Dataset

from recur_core.data import data_root, get_dataset
from recur_core.data.root import DatasetNotFoundError, not_found_message
from recur_core.engine import RecurModule, Split, SplitDataModule, check_data_matches, read_checkpoint
from recur_core.registry import get_model
from recur_vision.data.culane import CULaneLanes, culane_lines_path, culane_split, write_culane_lines
from recur_vision.data.tusimple import (
    TUSIMPLE_ABSENT,
    TUSIMPLE_LANE_WIDTH,
    TuSimpleFrame,
    TuSimpleLanes,
    tusimple_lane_slots,
    tusimple_split,
    write_tusimple_json,
)
from recur_vision.datamodules import generated_cache
from recur_vision.lane_metrics import (
    TuSimpleScore,
    culane_counts,
    tusimple_lane_subset,
    tusimple_pixel_threshold,
    tusimple_point_subset,
    tusimple_scores,
)
from recur_vision.models.scnn import lanes_from_probabilities, lanes_to_points, scnn_loss

__all__ = ["CULANE_ROWS", "LaneData", "LaneDetectionModule", "LanePrior", "generated_roads_folder"]

# getLane.m samples 18 rows every 20 px up from the bottom of a 590-row CULane frame
CULANE_ROWS = tuple(590 - 20 * i for i in range(18))
# the generated roads' per-lane flags scored as subsets at test: flag -> (name when set, name when not)
_SUBSETS = {"occluded": ("occluded", "visible"), "dashed": ("dashed", "solid")}
# the hidden points scored at test: name -> the unbroken run of hidden rows a lane needs for its hidden points to
# count (12 h_samples rows: 48 rows of a 288-row frame, 3 rows of SCNN's map at the recipe's 144-row input)
_HIDDEN_POINTS = {"hidden": 1, "hidden_long": 12}


def generated_roads_folder(
    folder: str | None = None,
    train: int = 1000,
    val: int = 100,
    test: int = 200,
    frame_size: Sequence[int] = (288, 512),
    seed: int = 0,
    long_occlusions: bool = False,
) -> Path:
    """The generated roads in the TuSimple layout, written on first use (under
    :func:`~recur_vision.datamodules.generated_cache`, in a folder named by the options, unless
    ``folder`` is given) and reused after. ``long_occlusions``: the scenes with trucks and long dash gaps."""
    from recur_vision.data.generated_roads import GENERATED_FORMAT, write_generated_tusimple

    height, width = frame_size
    kind = "-long" if long_occlusions else ""
    name = f"tusimple-roads-v{GENERATED_FORMAT}{kind}-{height}x{width}-n{train}-{val}-{test}-seed{seed}"
    target = Path(folder) if folder is not None else generated_cache() / name
    return write_generated_tusimple(target, train, val, test, height, width, seed, long_occlusions)


class LaneData(SplitDataModule):
    """Lane frames with SCNN's targets: ``image [B, 3, H, W]``, ``mask [B, H, W]`` (ids 0..4),
    ``exist [B, 4]``, ``size [B, 2]`` (each frame's own height and width) and ``index [B]``.

    Images are resized to ``image_size`` (the model's input) without cropping; the masks are drawn at
    that size (TuSimple layout: the SCNN port's lane slots and 15 px lines scaled from 1280 px; CULane:
    ``laneseg_label_w16`` resized nearest).

    Args:
        dataset: ``"generated"`` (the embedded default: road scenes rendered once under the cache,
            written in the TuSimple layout and read by the real TuSimple reader; their test labels flag
            occluded and dashed lanes), ``"tusimple"`` (``<data root>/tusimple``: train = 0313 + 0601,
            val = 0531, test = ``test_label.json``) or ``"culane"`` (``<data root>/CULane``: the
            ``list/{train_gt,val_gt,test}.txt`` lists).
        root: the data root of ``tusimple`` / ``culane`` (None: ``$RECUR_DATA``, else the user cache).
        folder: the dataset folder itself (a TuSimple- or CULane-layout folder; for ``generated``
            where the frames are written); None: the default place.
        train_frames, val_frames, test_frames: generated frames per split.
        frame_size: ``(H, W)`` of the generated frames (a 16:9 frame like TuSimple's, at 512 px by default).
        long_occlusions: the generated roads also hold trucks and trailers and dashed lines with long gaps,
            which hide lines over tens of metres (:func:`~recur_vision.data.generated_roads.render_road`).
        image_size: ``(H, W)`` the frames are resized to: the model's ``image_size``.
        lane_width: TuSimple mask line width on a 1280-px frame (the SCNN port's 15), scaled to ``image_size``.
        test_labels: TuSimple layout only: label files to test on instead of the test split, relative to
            the dataset folder (e.g. ``tusimple_sample_512x288/label_data.json``) or absolute.
        missing_frames: TuSimple layout: ``"error"`` (a frame the labels name but the disk lacks is a
            one-line error) or ``"skip"`` (only the frames present are used).
        mean, std: per-channel normalisation after scaling to [0, 1]; None keeps [0, 1].
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`;
            ``seed`` also seeds the generated roads.
    """

    def __init__(
        self,
        dataset: Literal["generated", "tusimple", "culane"] = "generated",
        root: str | None = None,
        folder: str | None = None,
        train_frames: int = 1000,
        val_frames: int = 100,
        test_frames: int = 200,
        frame_size: tuple[int, int] = (288, 512),
        long_occlusions: bool = False,
        image_size: tuple[int, int] = (72, 128),
        lane_width: float = TUSIMPLE_LANE_WIDTH,
        test_labels: list[str] | None = None,
        missing_frames: Literal["error", "skip"] = "error",
        mean: list[float] | None = None,
        std: list[float] | None = None,
        *,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in ("generated", "tusimple", "culane"):
            raise ValueError(f"dataset must be 'generated', 'tusimple' or 'culane', got {dataset!r}")
        if dataset == "generated" and (train_frames < 2 or min(val_frames, test_frames) < 1):
            raise ValueError(
                f"the generated roads need train_frames >= 2 and val_frames, test_frames >= 1, got "
                f"{train_frames}, {val_frames}, {test_frames}"
            )
        if len(image_size) != 2 or min(image_size) < 16 or any(s % 8 for s in image_size):
            raise ValueError(f"image_size must be (H, W), multiples of 8 of at least 16, got {list(image_size)}")
        if len(frame_size) != 2 or min(frame_size) < 32:
            raise ValueError(f"frame_size must be (H, W) of at least 32 pixels each, got {list(frame_size)}")
        if test_labels is not None and dataset == "culane":
            raise ValueError("test_labels names TuSimple label files; CULane tests on list/test.txt")
        if (mean is None) != (std is None):
            raise ValueError("give both --data.mean and --data.std, or neither")
        self.dataset_name = dataset
        self.root, self.folder = root, folder
        self.train_frames, self.val_frames, self.test_frames = train_frames, val_frames, test_frames
        self.frame_size = tuple(frame_size)
        self.long_occlusions = bool(long_occlusions)
        self.image_size = tuple(image_size)
        self.lane_width = lane_width
        self.test_labels = test_labels
        self.missing_frames = missing_frames
        self.mean, self.std = mean, std

    @property
    def metric(self) -> str:
        """``"tusimple"`` (accuracy / FP / FN) or ``"culane"`` (F1): the official metric of the dataset."""
        return "culane" if self.dataset_name == "culane" else "tusimple"

    def tusimple_folder(self) -> Path | None:
        """The TuSimple-layout folder read (the generated roads written on first use); None: the data root's."""
        if self.dataset_name == "generated":
            return generated_roads_folder(
                self.folder,
                self.train_frames,
                self.val_frames,
                self.test_frames,
                self.frame_size,
                self.seed,
                self.long_occlusions,
            )
        return Path(self.folder) if self.folder is not None else None

    def make_dataset(self, split: Split) -> Dataset:
        if self.dataset_name == "culane":
            return culane_split(split, self.root, self.folder, image_size=self.image_size, mean=self.mean, std=self.std)
        options = dict(
            image_size=self.image_size,
            lane_width=self.lane_width,
            mean=self.mean,
            std=self.std,
            missing_frames=self.missing_frames,
        )
        folder = self.tusimple_folder()
        if split == "test" and self.test_labels:
            return TuSimpleLanes(self._test_label_files(folder), folder=folder or self._tusimple_root(), **options)
        return tusimple_split(split, self.root, folder, **options)

    def _tusimple_root(self) -> Path:
        return data_root(self.root) / get_dataset("tusimple").folder

    def _test_label_files(self, folder: Path | None) -> list[Path]:
        """``test_labels`` as paths (relative ones inside the TuSimple folder), each checked to exist."""
        base = folder if folder is not None else self._tusimple_root()
        files = [Path(name) if Path(name).is_absolute() else base / name for name in self.test_labels]
        absent = [str(file) for file in files if not file.is_file()]
        if not absent:
            return files
        if folder is None and not base.is_dir():
            spec = get_dataset("tusimple")
            raise DatasetNotFoundError(not_found_message(spec, Path(absent[0]).name, base, manual=True))
        raise FileNotFoundError(
            f"--data.test_labels: {absent[0]} not found; name TuSimple label files inside {base} or give absolute "
            f"paths ({get_dataset('tusimple').instructions})"
        )


class LanePrior:
    """The untrained baseline printed beside a lane model at test: the mean training lanes, the same for every frame.

    From training frames (TuSimple form), each of SCNN's four lane slots (left-left, left, right, right-right:
    :func:`~recur_vision.data.tusimple.tusimple_lane_slots`) gets the mean ``x / W`` of its points in each of
    ``bins`` bands of ``y / H``. A slot present in more than half of the frames is predicted, at the rows whose
    band holds points of at least half of the frames where the slot is present; nothing is learnt from the
    image. It is the bar a detector must clear by finding the lanes of each frame rather than the usual ones.

    Args:
        frames: training frames with their labels.
        sizes: each frame's ``(H, W)``, which its coordinates refer to.
        bins: bands of ``y / H``.
    """

    def __init__(self, frames: Sequence[TuSimpleFrame], sizes: Sequence[tuple[int, int]], bins: int = 100) -> None:
        if not frames or len(frames) != len(sizes):
            raise ValueError(f"a lane prior needs frames and one size each, got {len(frames)} and {len(sizes)}")
        self.bins = bins
        total, count = np.zeros((4, bins)), np.zeros((4, bins))
        present = np.zeros(4)
        for frame, (height, width) in zip(frames, sizes):
            for slot, k in enumerate(tusimple_lane_slots(frame)):
                if k is None:
                    continue
                present[slot] += 1
                points = frame.lane_points(k)
                band = np.minimum((points[:, 1] / height * bins).astype(int), bins - 1)
                np.add.at(total[slot], band, points[:, 0] / width)
                np.add.at(count[slot], band, 1.0)
        keep = (present[:, None] > len(frames) / 2) & (count >= np.maximum(present[:, None], 1) / 2)
        self.x = np.where(keep, total / np.maximum(count, 1), np.nan)

    def lanes(self, rows: Sequence[int], size: tuple[int, int]) -> list[list[int]]:
        """The prior's lanes in TuSimple form (x per row, -2 none) for a frame of ``size`` at ``rows``."""
        height, width = size
        band = np.minimum((np.asarray(rows) / height * self.bins).astype(int), self.bins - 1)
        lanes = []
        for x in self.x[:, band]:
            xs = np.where(np.isnan(x), TUSIMPLE_ABSENT, np.rint(np.nan_to_num(x) * width)).astype(int)
            if (xs >= 0).sum() >= 2:
                lanes.append(xs.tolist())
        return lanes


class _Prediction(NamedTuple):
    """One frame's decoded lanes, the forward pass's time per frame (ms), its own ``(H, W)`` and rows."""

    lanes: list[list[int]]
    run_time: float
    size: tuple[int, int]
    rows: Sequence[int]


def _weighted_score(parts: Sequence[TuSimpleScore]) -> TuSimpleScore:
    """The frame-weighted mean of per-group scores (the benchmark's mean over all their frames)."""
    frames = sum(p.frames for p in parts)
    mean = [sum(getattr(p, name) * p.frames for p in parts) / frames for name in ("accuracy", "fp", "fn")]
    return TuSimpleScore(*mean, frames)


class LaneDetectionModule(RecurModule):
    """Lane detection with SCNN (``scnn``) or its baselines on :class:`LaneData`.

    Trains with SCNN's loss (:func:`~recur_vision.models.scnn.scnn_loss`: cross-entropy weighted
    [0.4, 1, 1, 1, 1] + 0.1 x existence BCE) and logs ``train/loss``, ``train/seg_loss``,
    ``train/exist_loss``. Validation and test decode lanes as ``getLane.m`` (existence >
    ``exist_threshold``, a point where the lane's probability > ``prob_threshold``, >= 2 points) at
    the label's rows in each frame's own pixels, and log the dataset's official metric:

    - TuSimple layout: ``<stage>/acc``, ``<stage>/fp``, ``<stage>/fn``, ``<stage>/f1`` (threshold
      ``20 * W / 1280`` px for a frame ``W`` wide); at test on the generated roads also the lane
      accuracy and match rate (>= 0.85) of the occluded and visible, dashed and solid lanes
      (``test/acc_occluded``, ``test/matched_occluded``, ``..._visible``, ``..._dashed``, ``..._solid``) and,
      where the labels flag the points behind a vehicle (``hidden``), the share of those points that the lane
      matched to theirs hits (``test/hit_hidden``), and of those of the lanes hidden over an unbroken run of
      at least 12 ``h_samples`` rows (``test/hit_hidden_long``; their counts ``test/points_hidden``, ...);
    - CULane: ``<stage>/f1``, ``<stage>/precision``, ``<stage>/recall`` (and ``test/f1_<split>`` per
      scenario when ``list/test_split`` is there);

    and ``<stage>/score`` (TuSimple accuracy or CULane F1), which picks the best checkpoint. Test writes
    the predictions under the run folder: ``lanes_test.json`` (TuSimple JSON lines with the forward
    pass's ``run_time`` in ms per frame) or ``lanes_test/<image>.lines.txt`` (CULane, rows written as
    ``y - 1`` as ``getLane.m``). The baselines are separate runs of the same recipe with
    ``--model.model_kwargs.message_passing none`` or ``conv``; given as ``--model.baselines`` checkpoints
    they are scored at test on the same frames, beside the model: every test metric again with the
    baseline's ``message_passing`` appended (``test/acc_none``, ``test/acc_occluded_conv``, ...); a test
    without them prints a line saying how to give them. On TuSimple-layout frames every test also scores the
    untrained :class:`LanePrior` (the mean training lanes, no second run needed) the same way, suffix ``_prior``
    (``test/acc_prior``, ``test/acc_occluded_prior``, ...).

    Args:
        model: a registered lane model (``scnn``) built as ``get_model(model, input_size=image_size, **model_kwargs)``.
        model_kwargs: its options (``{"message_passing": "none"}``, ``{"width": 0.25}``, ...).
        image_size: ``(H, W)`` of the network input; must equal the data's.
        prob_threshold, exist_threshold: getLane's point (0.3) and existence (0.5) thresholds.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
        baselines: checkpoints of lane models fitted with the same ``image_size`` (the ``none`` and
            ``conv`` runs), scored beside this one at test (not saved in this model's checkpoint); when not
            given, test prints how to give them (``[]``: none, and no such line).
    """

    monitor = "val/score"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "scnn",
        model_kwargs: dict[str, Any] | None = None,
        image_size: tuple[int, int] = (72, 128),
        prob_threshold: float = 0.3,
        exist_threshold: float = 0.5,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
        baselines: list[str] | None = None,
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if not (0 <= prob_threshold < 1 and 0 <= exist_threshold < 1):
            raise ValueError(
                f"prob_threshold and exist_threshold must lie in [0, 1), got {prob_threshold}, {exist_threshold}"
            )
        if "input_size" in (model_kwargs or {}):
            raise ValueError("give the input size as --model.image_size (it must equal --data.image_size)")
        image_size = tuple(image_size)
        # other runs' checkpoints chosen at test, not a hyper-parameter of this network: kept out of its checkpoint
        self.save_hyperparameters(ignore=["baselines"])
        self.hparams.image_size = image_size
        self.baselines = list(baselines or [])
        # None: the user said nothing, so test says how to give them; []: none wanted (the demo scores its own)
        self._hint_baselines = baselines is None
        self.net = get_model(model, input_size=image_size, **(model_kwargs or {}))
        # decoded frames by dataset index: "" for this model, the baselines under their names
        self._predictions: dict[str, dict[int, _Prediction]] = {}
        self._baselines: dict[str, nn.Module] = {}
        self._prior: LanePrior | None = None

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("image_size",))

    def forward(self, images: Tensor) -> Any:
        return self.net(images)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = scnn_loss(self(batch["image"]), batch["mask"], batch["exist"])
        logged = {"on_step": False, "on_epoch": True, "batch_size": len(batch["image"])}
        self.log("train/loss", loss.total, prog_bar=True, **logged)
        self.log("train/seg_loss", loss.segmentation, **logged)
        self.log("train/exist_loss", loss.existence, **logged)
        return loss.total

    def _dataset(self, stage: str) -> Dataset:
        return self.trainer.datamodule.dataset(stage)

    def decode(
        self, output: Any, sizes: Tensor, rows: Sequence[Sequence[int]], zero_based: bool = True
    ) -> list[list[list[int]]]:
        """Lanes per image (TuSimple form: x per row, -2 = none) at ``rows`` in each frame's own pixels.

        ``zero_based``: ``rows`` are 0-based (TuSimple's ``h_samples``) rather than getLane's 1-based
        CULane rows (:func:`~recur_vision.models.scnn.lanes_from_probabilities`).
        """
        probabilities = output.segmentation.detach().float().softmax(1)
        existence = output.existence.detach().float().sigmoid()
        return [
            lanes_from_probabilities(
                p,
                e,
                r,
                (int(s[0]), int(s[1])),
                prob_threshold=self.hparams.prob_threshold,
                exist_threshold=self.hparams.exist_threshold,
                zero_based=zero_based,
            )
            for p, e, s, r in zip(probabilities, existence, sizes, rows)
        ]

    def _rows(self, dataset: Dataset, indices: list[int], sizes: Tensor) -> list[Sequence[int]]:
        if isinstance(dataset, TuSimpleLanes):
            return [dataset.frames[i].h_samples for i in indices]
        return [CULANE_ROWS if int(s[0]) == 590 else [round(int(s[0]) * y / 590) for y in CULANE_ROWS] for s in sizes]

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        indices = [int(i) for i in batch["index"]]
        sizes = [(int(h), int(w)) for h, w in batch["size"]]
        dataset = self._dataset(stage)
        culane = isinstance(dataset, CULaneLanes)
        rows = self._rows(dataset, indices, batch["size"])
        if stage == "test" and self._prior is not None:
            predictions = self._predictions.setdefault("prior", {})
            for index, size, r in zip(indices, sizes, rows):
                predictions[index] = _Prediction(self._prior.lanes(r, size), 0.0, size, r)
        nets = {"": self.net, **(self._baselines if stage == "test" else {})}
        for name, net in nets.items():
            start = time.perf_counter()
            output = net(batch["image"])
            run_time = (time.perf_counter() - start) * 1000.0 / len(batch["image"])
            if not name and "mask" in batch:
                loss = scnn_loss(output, batch["mask"], batch["exist"])
                self.log(f"{stage}/loss", loss.total, on_step=False, on_epoch=True, batch_size=len(batch["image"]))
            decoded = self.decode(output, batch["size"], rows, zero_based=not culane)
            predictions = self._predictions.setdefault(name, {})
            for index, lanes, size, r in zip(indices, decoded, sizes, rows):
                predictions[index] = _Prediction(lanes, run_time, size, r)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._predictions = {}

    def on_test_epoch_start(self) -> None:
        """Load the ``baselines`` checkpoints, to be scored beside the model; without any, print how to give them."""
        self._predictions = {}
        self._baselines = {}
        self._prior = self._lane_prior()
        for path in self.baselines:
            name, net = self._load_baseline(path)
            if name in self._baselines:
                raise ValueError(f"--model.baselines: two baselines have message_passing {name!r}; give each once")
            self._baselines[name] = net.to(self.device).eval()
        if self._hint_baselines and self.trainer.global_rank == 0:
            # the baselines are trained runs of the same recipe: say how to score them beside this model
            print(
                "no baselines scored beside this model: fit the same recipe with --model.model_kwargs.message_passing "
                "none (and conv), then test with --model.baselines '[<none run>/checkpoints/last.ckpt, "
                "<conv run>/checkpoints/last.ckpt]'"
            )

    def _lane_prior(self) -> LanePrior | None:
        """The mean training lanes (:class:`LanePrior`) when the test frames are TuSimple-layout and the
        training split is there; else None (CULane, or no training frames)."""
        datamodule = self.trainer.datamodule
        if not isinstance(self._dataset("test"), TuSimpleLanes):
            return None
        try:
            train = datamodule.dataset("train")
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(train, TuSimpleLanes) or len(train) == 0:
            return None
        sizes = []
        for path in train.paths:
            with Image.open(path) as image:
                sizes.append((image.height, image.width))
        return LanePrior(train.frames, sizes)

    def _load_baseline(self, path: str) -> tuple[str, nn.Module]:
        """A lane checkpoint's network and its name (its ``message_passing``, else its model)."""
        checkpoint = read_checkpoint(path, "--model.baselines")
        hparams = checkpoint.get("hyper_parameters", {})
        if "prob_threshold" not in hparams or "model" not in hparams:
            raise ValueError(f"--model.baselines {path}: not a lane checkpoint (fit one with the scnn recipes)")
        size = tuple(hparams.get("image_size", ()))
        if size != tuple(self.hparams.image_size):
            raise ValueError(
                f"--model.baselines {path}: its image_size is {list(size)} but this model's is "
                f"{list(self.hparams.image_size)}; give a baseline fitted on the same input size"
            )
        options = hparams.get("model_kwargs") or {}
        net = get_model(hparams["model"], input_size=size, **options)
        state = checkpoint["state_dict"]
        net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
        return str(options.get("message_passing", hparams["model"])), net

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._score("val")
        self._predictions = {}

    def on_test_epoch_end(self) -> None:
        self._score("test")
        self._predictions = {}
        self._baselines = {}
        self._prior = None

    def _score(self, stage: str) -> None:
        dataset = self._dataset(stage)
        score = self._score_culane if isinstance(dataset, CULaneLanes) else self._score_tusimple
        for name, predictions in self._predictions.items():
            # every process's frames (each predicted its share of the split)
            predictions = dict(self.gather_from_ranks(list(predictions.items())))
            score(dataset, stage, predictions, f"_{name}" if name else "")

    def _run_dir(self) -> Path | None:
        root = getattr(self.trainer, "default_root_dir", None)
        return Path(root) if root and self.trainer.global_rank == 0 else None

    # ----- TuSimple layout ------------------------------------------------------------------------

    def _score_tusimple(
        self, dataset: TuSimpleLanes, stage: str, predictions: Mapping[int, _Prediction], suffix: str
    ) -> None:
        indices = sorted(predictions)
        frames = [dataset.frames[i] for i in indices]
        predicted = [
            TuSimpleFrame(f.raw_file, f.h_samples, predictions[i].lanes, run_time=predictions[i].run_time)
            for i, f in zip(indices, frames)
        ]
        # the threshold depends on the frame's width: score each width apart, then average over all frames
        groups: dict[float, tuple[list, list]] = defaultdict(lambda: ([], []))
        for i, frame, prediction in zip(indices, frames, predicted):
            width = float(predictions[i].size[1])
            groups[width][0].append(prediction.as_json())
            groups[width][1].append(frame.as_json())
        scores = [tusimple_scores(p, g, tusimple_pixel_threshold(w)) for w, (p, g) in groups.items()]
        score = _weighted_score(scores)
        for name, value in (("acc", score.accuracy), ("fp", score.fp), ("fn", score.fn), ("f1", score.f1)):
            self.log(f"{stage}/{name}{suffix}", value, prog_bar=name == "acc" and not suffix)
        self.log(f"{stage}/score{suffix}", score.accuracy)
        if stage != "test":
            return
        self._log_subsets(groups, suffix)
        self._log_hidden_points(groups, suffix)
        run_dir = self._run_dir()
        if run_dir is not None and not suffix:
            write_tusimple_json(run_dir / "lanes_test.json", predicted)

    def _log_subsets(self, groups: Mapping[float, tuple[list, list]], suffix: str) -> None:
        """Lane accuracy and match rate of the flagged lanes (the generated roads' ``occluded``/``dashed``)."""
        gts = [g for _, (_, gt) in groups.items() for g in gt]
        for flag, names in _SUBSETS.items():
            if not all(flag in g for g in gts):
                continue
            for value, name in zip((True, False), names):
                parts = [
                    tusimple_lane_subset(p, g, flag, value, tusimple_pixel_threshold(w)) for w, (p, g) in groups.items()
                ]
                lanes = sum(part.lanes for part in parts)
                if lanes == 0:
                    continue
                self.log(f"test/acc_{name}{suffix}", sum(part.accuracy * part.lanes for part in parts) / lanes)
                self.log(f"test/matched_{name}{suffix}", sum(part.matched * part.lanes for part in parts) / lanes)
                if not suffix:
                    self.log(f"test/lanes_{name}", float(lanes))

    def _log_hidden_points(self, groups: Mapping[float, tuple[list, list]], suffix: str) -> None:
        """The share of the points behind a vehicle (the generated roads' per-point ``hidden``) that are hit."""
        gts = [g for _, (_, gt) in groups.items() for g in gt]
        if not all("hidden" in g for g in gts):
            return
        for name, min_run in _HIDDEN_POINTS.items():
            parts = [
                tusimple_point_subset(p, g, "hidden", min_run, tusimple_pixel_threshold(w))
                for w, (p, g) in groups.items()
            ]
            points = sum(part.points for part in parts)
            if points == 0:
                continue
            self.log(f"test/hit_{name}{suffix}", sum(part.recall * part.points for part in parts) / points)
            if not suffix:
                self.log(f"test/points_{name}", float(points))

    # ----- CULane -----------------------------------------------------------------------------------

    def _score_culane(
        self, dataset: CULaneLanes, stage: str, predictions: Mapping[int, _Prediction], suffix: str
    ) -> None:
        indices = sorted(predictions)
        names = [dataset.entries[i].image for i in indices]
        annotations = {name: dataset.lanes(i) for name, i in zip(names, indices)}
        points = {
            name: lanes_to_points(predictions[i].lanes, predictions[i].rows, row_offset=-1)
            for name, i in zip(names, indices)
        }
        counts = culane_counts(points, annotations, names)
        for name, value in (("f1", counts.f1), ("precision", counts.precision), ("recall", counts.recall)):
            self.log(f"{stage}/{name}{suffix}", value, prog_bar=name == "f1" and not suffix)
        self.log(f"{stage}/score{suffix}", counts.f1)
        run_dir = self._run_dir()
        if stage != "test" or run_dir is None or suffix:
            return
        folder = run_dir / "lanes_test"
        for name, lanes in points.items():
            write_culane_lines(folder / culane_lines_path(name), lanes)
        if (dataset.folder / "list" / "test_split").is_dir():
            from recur_vision.data.culane import evaluate_culane

            for split, split_counts in evaluate_culane(folder, dataset.folder).items():
                self.log(f"test/f1_{split}", split_counts.f1)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[list[list[int]]]:
        """The lanes of each image of the batch (TuSimple form at the rows of its dataset)."""
        dataset = self.trainer.datamodule.dataset("test")
        indices = [int(i) for i in batch["index"]]
        rows = self._rows(dataset, indices, batch["size"])
        return self.decode(self(batch["image"]), batch["size"], rows, zero_based=not isinstance(dataset, CULaneLanes))
