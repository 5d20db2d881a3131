"""LightningModules: the engine side of a model. Each wraps a plain ``nn.Module`` in ``self.net``,
so importing or exporting a model never needs Lightning."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.models.sequence_model import SequenceModel
from recur_core.schedules import warmup_constant, warmup_cosine

__all__ = ["RecurModule", "SequenceRegressionTask", "SequenceTask", "check_data_matches"]


class RecurModule(L.LightningModule):
    """Base of recur's LightningModules: AdamW with optional warmup and cosine decay.

    Subclasses build ``self.net`` (a plain ``nn.Module``), log ``train/loss`` and ``val/loss``,
    and may override :meth:`on_fit_plots` to write PNGs a person would rather look at.

    Under DDP (several processes, each reading its :class:`~recur_core.engine.RankShard` of a split) what
    is logged is what one process would log: :meth:`log` reduces across processes by default, and
    metrics scored on a whole split at the epoch's end gather its items with :meth:`gather_from_ranks`.

    Args:
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warmup from 0 to ``lr`` over this many optimizer steps.
        scheduler: ``"constant"`` after warmup, or ``"cosine"`` decay to 0 at the last step.

    Attributes:
        monitor, monitor_mode: the metric the best checkpoint is chosen by.
        optimizer_steps_per_batch: the optimizer steps one training batch takes, as Lightning counts them
            in ``global_step`` (which ``--trainer.max_steps`` bounds): 1, except in a module with manual
            optimisation that steps k optimisers per batch (a GAN's generator and discriminator: 2).
    """

    monitor: str = "val/loss"
    monitor_mode: Literal["min", "max"] = "min"
    optimizer_steps_per_batch: int = 1

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__()
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.scheduler = scheduler

    def scheduled_steps(self) -> int:
        """The scheduler steps of the whole fit: one per optimizer step, or per batch in manual optimisation.

        ``trainer.estimated_stepping_batches``: ``max_epochs`` x the batches of an epoch (over
        ``accumulate_grad_batches``), or ``max_steps`` when that is fewer. ``max_steps`` counts Lightning's
        ``global_step``, i.e. every optimiser's steps: a fit whose batches each take
        ``optimizer_steps_per_batch`` = k steps stops after ``ceil(max_steps / k)`` batches, where its
        cosine must end.
        """
        total = self.trainer.estimated_stepping_batches
        steps_per_batch = self.optimizer_steps_per_batch
        if steps_per_batch > 1 and self.trainer.max_steps >= 0:
            total = min(total, math.ceil(self.trainer.max_steps / steps_per_batch))
        return max(1, int(total))

    def lr_schedule(self) -> Callable[[int], float] | None:
        """The learning-rate multiplier per scheduler step (``warmup_steps``, ``scheduler``); None: constant.

        The warm-up counts scheduler steps (one per optimizer step; in a module with manual optimisation, one
        per batch, each optimiser's own steps), and the cosine ends at :meth:`scheduled_steps`. Modules with
        their own optimisers build their ``LambdaLR`` from this too.
        """
        if self.warmup_steps == 0 and self.scheduler == "constant":
            return None
        return self._lr_multiplier

    def _lr_multiplier(self, step: int) -> float:
        if self.scheduler == "constant":
            return warmup_constant(step, self.warmup_steps)
        if step <= self.warmup_steps:
            # the cosine's length does not matter yet: the LambdaLR's first call comes from configure_optimizers,
            # before Lightning restores a checkpoint, and scheduled_steps() there would load the training data
            # then, losing the loader's mid-epoch position that the checkpoint restores
            return warmup_cosine(step, self.warmup_steps, self.warmup_steps + 1)
        return warmup_cosine(step, self.warmup_steps, self.scheduled_steps())

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = self.lr_schedule()
        if schedule is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def log(self, name: str, value: Any, *args: Any, sync_dist: bool = True, **kwargs: Any) -> None:
        """Lightning's ``log``, but reduced across processes unless ``sync_dist=False``.

        Under DDP an epoch's value is then the batch-size-weighted mean over every process's batches, which
        is the one-process value when each process reads its :class:`~recur_core.engine.RankShard` (Lightning's
        default logs rank 0's share alone). Every process must log the same names; outside DDP nothing changes.
        """
        super().log(name, value, *args, sync_dist=sync_dist, **kwargs)

    def gather_from_ranks(self, items: list) -> list:
        """Every process's ``items`` (picklable, one per evaluated item), in the order one process collects them.

        Process ``r`` of ``W`` evaluates the items at positions ``r, r + W, ...``
        (:class:`~recur_core.engine.RankShard`), so the one-process order interleaves the processes' lists
        item by item. Epoch-end metrics that are not means of per-batch values (a corpus WER, CIDEr, a metric
        over the whole split) gather their items with this first, so every process scores, and logs, the
        whole split. Outside DDP it returns ``items``.
        """
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return items
        lists: list[list] = [[] for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather_object(lists, items)
        longest = max(len(share) for share in lists)
        return [share[i] for i in range(longest) for share in lists if i < len(share)]

    def on_fit_plots(self, run_dir: Path) -> None:
        """Write model-specific PNGs into ``run_dir`` after fit (rank zero only). Default: none."""


def sizes_from_data(module: L.LightningModule, names: tuple[str, ...]) -> None:
    """Fill each of ``names`` that the module's hparams leave ``None`` from the trainer's DataModule (the
    vocabulary size, classes, input width that the data states), for modules that build their network in
    ``setup``; a size neither gives is a one-line error naming the option to set."""
    data = getattr(module.trainer, "datamodule", None)
    for name in names:
        if module.hparams[name] is None:
            value = getattr(data, name, None)
            if value is None:
                raise ValueError(f"model.{name} is not set and the data does not state it; set --model.{name}")
            module.hparams[name] = int(value)


def check_data_matches(module: L.LightningModule, names: tuple[str, ...]) -> None:
    """Raise if the trainer's DataModule states one of ``names`` differently from the module's hparams.

    The message names both values and the override that fixes it (``--model.p 24``, and
    ``--data.p 8`` where the DataModule takes that option). Options the DataModule does not have
    are not checked.
    """
    data = getattr(module.trainer, "datamodule", None)
    for name in names:
        mine, theirs = module.hparams[name], getattr(data, name, None)
        if theirs is not None and theirs != mine:
            data_option = name in inspect.signature(type(data)).parameters
            other = f"--data.{name} {mine}" if data_option else "change the data options"
            fix = f"set --model.{name} {theirs} (or {other})"
            raise ValueError(f"model.{name} = {mine!r} but the data has {name} = {theirs!r}; {fix}")


class _SequenceModelTask(RecurModule):
    """Shared by the tasks that train a :class:`SequenceModel` (``self.net``) on padded batches:
    ``forward`` and the train/val/test steps, each delegating to the subclass's ``_step(batch, stage)``."""

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(inputs, lengths=lengths)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")


class SequenceTask(_SequenceModelTask):
    """Classification with :class:`~recur_core.models.SequenceModel` on the diagnostic tasks.

    Consumes batches ``{"inputs": [B, T] ids, "targets": [B] or [B, T] (-100 = no loss),
    "lengths": [B]}`` and logs loss and accuracy. Any registered layer name works for
    ``layer``, so ``--model.layer gla`` swaps the recurrence.

    Args:
        layer: registered layer name.
        d_model, n_layers, mlp_ratio, dropout, layer_kwargs: see :class:`SequenceModelConfig`.
        vocab_size: number of input token ids.
        num_classes: number of output classes.
        readout: ``"token"`` (per-position labels) or ``"last"`` / ``"mean"`` (one label per sequence).
        lr, weight_decay, warmup_steps, scheduler: see :class:`RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        layer: str = "lstm",
        d_model: int = 64,
        n_layers: int = 2,
        vocab_size: int = 2,
        num_classes: int = 2,
        readout: Literal["token", "last", "mean"] = "last",
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        layer_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        self.save_hyperparameters()
        self.net = SequenceModel(
            layer=layer,
            d_model=d_model,
            n_layers=n_layers,
            vocab_size=vocab_size,
            output_dim=num_classes,
            readout=readout,
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            layer_kwargs=layer_kwargs or {},
        )

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("vocab_size", "num_classes", "readout"))

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self(batch["inputs"], batch.get("lengths"))
        targets = batch["targets"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        scored = targets != -100
        accuracy = (logits.argmax(-1) == targets)[scored].float().mean()
        # weight epoch averages by scored positions, so token tasks average over tokens, not batches
        logged = {"on_step": stage == "train", "on_epoch": True, "batch_size": int(scored.sum()), "sync_dist": True}
        self.log(f"{stage}/loss", loss, prog_bar=True, **logged)
        self.log(f"{stage}/acc", accuracy, prog_bar=True, **logged)
        return loss

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self(batch["inputs"], batch.get("lengths")).argmax(-1)


class SequenceRegressionTask(_SequenceModelTask):
    """Regression with :class:`~recur_core.models.SequenceModel` on real-valued feature sequences.

    Consumes batches ``{"inputs": [B, T, input_dim] float, "targets": [B] or [B, num_outputs]
    float, "lengths": [B]}`` (e.g. :class:`~recur_core.tasks.AddingData`); the model has a linear
    stem and reads one vector per sequence out. Loss and logged metric: mean squared error
    (``train/loss``, ``val/loss``; the best checkpoint has the lowest ``val/loss``).

    Args:
        layer: registered layer name.
        d_model, n_layers, mlp_ratio, dropout, layer_kwargs: see :class:`SequenceModelConfig`.
        input_dim: features per step.
        num_outputs: regression targets per sequence.
        readout: ``"last"`` (the last valid step) or ``"mean"`` (the mean over valid steps).
        lr, weight_decay, warmup_steps, scheduler: see :class:`RecurModule`.
    """

    def __init__(
        self,
        layer: str = "lstm",
        d_model: int = 64,
        n_layers: int = 2,
        input_dim: int = 2,
        num_outputs: int = 1,
        readout: Literal["last", "mean"] = "last",
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        layer_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        self.save_hyperparameters()
        if readout not in ("last", "mean"):
            raise ValueError(f"readout must be 'last' or 'mean' (one prediction per sequence), got {readout!r}")
        self.net = SequenceModel(
            layer=layer,
            d_model=d_model,
            n_layers=n_layers,
            input_dim=input_dim,
            output_dim=num_outputs,
            readout=readout,
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            layer_kwargs=layer_kwargs or {},
        )

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("input_dim", "num_outputs", "readout"))

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        targets = batch["targets"]
        predictions = self(batch["inputs"], batch.get("lengths")).reshape(targets.shape)
        loss = F.mse_loss(predictions, targets)
        logged = {"on_step": stage == "train", "on_epoch": True, "batch_size": targets.shape[0], "sync_dist": True}
        self.log(f"{stage}/loss", loss, prog_bar=True, **logged)
        return loss

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self(batch["inputs"], batch.get("lengths"))
