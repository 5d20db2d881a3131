"""Pointer networks on the engine: the geometric tasks' DataModule and the training module.

.. code-block:: bash

    recur-text fit --config pointer/convex_hull
    recur-text test --config pointer/convex_hull --ckpt_path last

Batches (:class:`PointerData`) are dicts: ``points`` [B, n, 2] (zeros after ``lengths``), ``lengths`` [B],
``targets`` [B, L] (1..n points, 0 end, -100 padding).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from recur_core.engine import RecurModule, SplitDataModule, check_data_matches
from recur_core.engine.datamodule import Split
from recur_core.registry import get_model
from recur_text.data.geometry import (
    END,
    IGNORE_INDEX,
    POINTER_TASKS,
    PointSets,
    generate_points,
    hull_labels,
    nearest_neighbour_tour,
)
from recur_text.pointer_metrics import (
    exact_sequence,
    extreme_points_hull,
    fan_triangulation,
    hull_coverage,
    tour_ratio,
    triangle_coverage,
)

__all__ = ["PointerData", "PointerModule", "score_pointer_sequences"]

# how each task's pointer network decodes: a permutation (hull, TSP) or with repeats (triangles)
TASK_MODEL_OPTIONS = {
    "convex_hull": {"mask_chosen": True, "fixed_length": False},
    "tsp": {"mask_chosen": True, "fixed_length": True},
    "delaunay": {"mask_chosen": False, "fixed_length": False},
}


class PointerData(SplitDataModule):
    """Uniform planar point sets with exact labels (:func:`~recur_text.data.geometry.generate_points`).

    Args:
        task: ``"convex_hull"``, ``"delaunay"`` or ``"tsp"``.
        num_train, num_val, num_test: sets per split.
        sizes: inclusive range of n for train and val.
        test_sizes: the test split's range (default ``sizes``; larger n tests generalisation).
        exact_up_to: TSP: exact labels (Held-Karp) up to this n, 2-opt beyond.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    def __init__(
        self,
        task: Literal["convex_hull", "delaunay", "tsp"] = "convex_hull",
        num_train: int = 20000,
        num_val: int = 500,
        num_test: int = 1000,
        sizes: tuple[int, int] = (5, 20),
        test_sizes: tuple[int, int] | None = None,
        exact_up_to: int = 10,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if task not in POINTER_TASKS:
            raise ValueError(f"task must be one of {', '.join(POINTER_TASKS)}, got {task!r}")
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.task = task
        self.sizes_per_split = {"train": tuple(sizes), "val": tuple(sizes), "test": tuple(test_sizes or sizes)}
        self.counts = {"train": num_train, "val": num_val, "test": num_test}
        self.exact_up_to = exact_up_to
        # check the ranges now (one-line errors before any data is drawn)
        for split in ("train", "test"):
            generate_points(task, 1, self.sizes_per_split[split], seed, split, exact_up_to=min(exact_up_to, 6))

    def make_dataset(self, split: Split) -> PointSets:
        return generate_points(
            self.task, self.counts[split], self.sizes_per_split[split], self.seed, split, self.exact_up_to
        )

    def collate_fn(self):
        def collate(items: list[dict[str, Tensor]]) -> dict[str, Tensor]:
            return {
                "points": pad_sequence([item["points"] for item in items], batch_first=True),
                "lengths": torch.tensor([len(item["points"]) for item in items]),
                "targets": pad_sequence(
                    [item["targets"] for item in items], batch_first=True, padding_value=IGNORE_INDEX
                ),
            }

        return collate


def _sequence(row: list[int]) -> list[int]:
    """Pointers up to (not including) the first end or padding."""
    out = []
    for i in row:
        if i <= END:
            break
        out.append(i)
    return out


def score_pointer_sequences(
    task: str, points: Tensor, lengths: Tensor, predicted: Tensor, targets: Tensor
) -> list[dict[str, float]]:
    """Per-instance scores of ``predicted`` [B, L] against ``targets`` [B, L'], and the task's baseline's.

    Keys: ``exact``, ``n``; hull ``coverage``; TSP ``ratio`` and ``valid``; Delaunay ``coverage``; and the
    same with the suffix ``_baseline`` for the heuristic (extreme points / nearest neighbour / hull fan).
    """
    rows = []
    pts = points.detach().cpu().double().numpy()
    for b, (pred_row, label_row) in enumerate(zip(predicted.tolist(), targets.tolist())):
        n = int(lengths[b])
        p, pred, label = pts[b, :n], _sequence(pred_row), _sequence(label_row)
        row: dict[str, float] = {"n": n, "exact": float(exact_sequence(pred, label, task, n))}
        if task == "convex_hull":
            base = extreme_points_hull(p)
            row["coverage"] = hull_coverage(p, pred, label)
            row["coverage_baseline"] = hull_coverage(p, base, label)
            row["exact_baseline"] = float(base == label)
        elif task == "tsp":
            base = (nearest_neighbour_tour(p[None])[0] + 1).tolist()
            row["valid"] = float(np.isfinite(tour_ratio(p, pred, label)))
            row["ratio"] = tour_ratio(p, pred, label)
            row["ratio_baseline"] = tour_ratio(p, base, label)
            row["exact_baseline"] = float(exact_sequence(base, label, task, n))
        else:
            hull = hull_labels(p)[:-1]
            base = fan_triangulation(hull)
            row["coverage"] = triangle_coverage(pred, label)
            row["coverage_baseline"] = triangle_coverage(base, label)
            row["exact_baseline"] = float(base == label)
        rows.append(row)
    return rows


class PointerModule(RecurModule):
    """Teacher-forced training of a registered pointer network; greedy and beam decoding scored per task.

    Logged: ``train/loss``, ``val/loss``, ``val/exact`` (greedy; the best checkpoint has the highest) and
    ``val/<metric>``; at test, for greedy (``test/...``) and beam (``test/..._beam``) decoding and the task's
    heuristic (``test/..._baseline``): ``exact``, and ``coverage`` (hull area / Delaunay triangles) or ``ratio``
    (tour length over the label's) and ``valid``; ``test/exact_n<n>`` per set size.

    Args:
        task: the data's task; sets the decoder's masking (:data:`TASK_MODEL_OPTIONS`).
        model: registered model name (``pointer_net``).
        model_kwargs: the model's other arguments (``layer``, ``d_model``, ``n_layers``, ...).
        beam_size, length_penalty: the test-time beam search (1: greedy only).
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/exact"
    monitor_mode = "max"

    def __init__(
        self,
        task: Literal["convex_hull", "delaunay", "tsp"] = "convex_hull",
        model: str = "pointer_net",
        model_kwargs: dict[str, Any] | None = None,
        beam_size: int = 4,
        length_penalty: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if task not in POINTER_TASKS:
            raise ValueError(f"task must be one of {', '.join(POINTER_TASKS)}, got {task!r}")
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        self.save_hyperparameters()
        self.net = get_model(model, **{**TASK_MODEL_OPTIONS[task], **(model_kwargs or {})})
        self._rows: list[dict[str, float]] = []

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("task",))

    def forward(self, points: Tensor, lengths: Tensor, targets: Tensor) -> Tensor:
        return self.net(points, lengths, targets)

    def _loss(self, batch: dict[str, Tensor]) -> Tensor:
        logits = self(batch["points"], batch["lengths"], batch["targets"])
        targets = batch["targets"]
        # a masked (-inf) score never meets a scored target; ignored positions may be all -inf: zero them
        logits = logits.masked_fill((targets == IGNORE_INDEX)[..., None], 0.0)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch["points"].shape[0])
        return loss

    def _scores(self, batch: dict[str, Tensor], method: str) -> list[dict[str, float]]:
        decoded = self.net.decode(
            batch["points"], batch["lengths"], method=method, beam_size=self.hparams.beam_size,
            length_penalty=self.hparams.length_penalty,
        )  # fmt: skip
        return score_pointer_sequences(
            self.hparams.task, batch["points"], batch["lengths"], decoded.tokens, batch["targets"]
        )

    def on_validation_epoch_start(self) -> None:
        self._rows = []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch), prog_bar=True, batch_size=batch["points"].shape[0])
        self._rows.extend(self._scores(batch, "greedy"))

    def on_validation_epoch_end(self) -> None:
        rows = self.gather_from_ranks(self._rows)
        if not rows:
            return
        for key in ("exact", "coverage", "ratio"):
            if key in rows[0]:
                self.log(f"val/{key}", float(np.mean([r[key] for r in rows])), prog_bar=key == "exact", sync_dist=False)

    def on_test_epoch_start(self) -> None:
        self._rows = []

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.log("test/loss", self._loss(batch), batch_size=batch["points"].shape[0])
        greedy = self._scores(batch, "greedy")
        if self.hparams.beam_size > 1:
            for row, beam in zip(greedy, self._scores(batch, "beam")):
                row.update({f"{k}_beam": v for k, v in beam.items() if k != "n" and not k.endswith("_baseline")})
        self._rows.extend(greedy)

    def on_test_epoch_end(self) -> None:
        rows = self.gather_from_ranks(self._rows)
        if not rows:
            return
        for key in rows[0]:
            if key == "n":
                continue
            values = [r[key] for r in rows]
            if key.startswith("ratio"):
                # invalid tours are counted by valid*, the ratio averages the valid ones
                values = [v for v in values if np.isfinite(v)] or [float("nan")]
            self.log(f"test/{key}", float(np.mean(values)), sync_dist=False)
        for n in sorted({int(r["n"]) for r in rows}):
            self.log(f"test/exact_n{n}", float(np.mean([r["exact"] for r in rows if r["n"] == n])), sync_dist=False)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        method = "beam" if self.hparams.beam_size > 1 else "greedy"
        return self.net.decode(
            batch["points"], batch["lengths"], method=method, beam_size=self.hparams.beam_size
        ).tokens
