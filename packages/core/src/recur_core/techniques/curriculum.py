r"""Curricula over the lag N of N-parity / N-DMS: single-head and multi-head (cumulative).

Khajehabdollahi et al., "Emergent mechanisms for long timescales depend on training curriculum and
affect performance in memory tasks", ICLR 2024, https://openreview.net/forum?id=xwKt6bUkXj
(arXiv https://arxiv.org/abs/2309.12927). A network is trained on lag N; once its accuracy passes a
threshold (98% in the paper) N grows by one.

- **Single-head**: one readout, trained on the current N only (optionally re-initialised at each
  advance, ``reset_head=True``). Use :class:`~recur_core.engine.SequenceTask` as the model.
- **Multi-head**: :class:`MultiHeadLagTask` keeps a readout head per lag ``k = 1..N``; the loss sums
  every active head's cross-entropy on its own lag,

  .. math::
      \mathcal{L} = \sum_{k=1}^{N} \mathrm{CE}\big(W_k h_t,\; y^{(k)}_t\big),\qquad
      y^{(k)}_t = \bigoplus_{i=0}^{k-1} x_{t-i} \ \text{(parity)}\quad\text{or}\quad
      [x_t = x_{t-k}] \ \text{(DMS)},

  with the targets of every head computed from the input bits (:func:`lag_targets`), so the data
  module only has to carry the current N.

:class:`Curriculum` is the Lightning callback that advances N: after each validation it reads the
monitored metric and, when it is at least ``threshold``, calls ``set_n(n + 1)`` on the data module
(and on the model when it has ``set_n``). The Trainer needs ``reload_dataloaders_every_n_epochs=1``
so that the next epoch uses the new N.

Shapes:
    inputs [B, T] token ids (0 padding, bit b as b + 1); lag targets [B, T, K] (-100 = no loss).
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.engine.module import SequenceTask
from recur_core.tasks.base import IGNORE_INDEX, PAD_ID
from recur_core.tasks.n_parity import BIT_OFFSET

__all__ = ["Curriculum", "MultiHeadLagTask", "lag_targets"]

LagKind = Literal["n_parity", "n_dms"]


def lag_targets(inputs: Tensor, kind: LagKind, max_lag: int) -> Tensor:
    """Labels of every lag ``k = 1..max_lag`` at once, from N-parity / N-DMS token ids.

    Matches :func:`~recur_core.tasks.generate_n_parity` / :func:`~recur_core.tasks.generate_n_dms`
    for each ``k``: positions ``t < k`` and padding get ``-100``.

    Shapes:
        inputs [B, T] (ids: 0 padding, 1 = bit 0, 2 = bit 1) -> [B, T, max_lag] (int64; last dim is k - 1).
    """
    if kind not in ("n_parity", "n_dms"):
        raise ValueError(f"kind must be 'n_parity' or 'n_dms', got {kind!r}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be at least 1, got {max_lag}")
    padding = inputs == PAD_ID
    bits = (inputs - BIT_OFFSET).clamp_min(0)
    seq_len = inputs.shape[1]
    t = torch.arange(seq_len, device=inputs.device)[:, None]
    k = torch.arange(1, max_lag + 1, device=inputs.device)[None, :]
    if kind == "n_parity":
        # prefix parities with a leading 0: window (t-k, t] has parity P[t+1] xor P[t+1-k]
        prefix = F.pad(bits.cumsum(1) & 1, (1, 0))
        back = prefix[:, (t + 1 - k).clamp_min(0)]
        labels = prefix[:, 1:, None] ^ back
    else:
        back = bits[:, (t - k).clamp_min(0)]
        labels = (bits[:, :, None] == back).long()
    scored = (t >= k)[None] & ~padding[:, :, None]
    return labels.masked_fill(~scored, IGNORE_INDEX)


class MultiHeadLagTask(SequenceTask):
    """:class:`~recur_core.engine.SequenceTask` with one binary readout head per lag ``k = 1..n``.

    The model's head has ``2 * max_n`` outputs (head ``k`` owns outputs ``2(k-1), 2(k-1)+1``); the
    first ``n`` heads are trained, their losses summed (the paper's cumulative curriculum), and later
    heads stay unused until :meth:`set_n` activates them. Logs ``{stage}/loss`` (the sum),
    ``{stage}/acc`` (the newest head, lag ``n``) and ``{stage}/acc_min`` (the worst active head).

    Args:
        kind: ``"n_parity"`` or ``"n_dms"`` (which labels :func:`lag_targets` computes).
        n: lags trained from the start (heads ``1..n``).
        max_n: number of heads built.
        layer, d_model, n_layers, mlp_ratio, dropout, layer_kwargs, lr, weight_decay, warmup_steps,
            scheduler: see :class:`~recur_core.engine.SequenceTask`.

    Shapes:
        inputs [B, T] -> logits [B, T, 2 * max_n].
    """

    def __init__(
        self,
        kind: LagKind = "n_parity",
        n: int = 1,
        max_n: int = 32,
        layer: str = "leaky_rnn",
        d_model: int = 64,
        n_layers: int = 1,
        mlp_ratio: float = 0.0,
        dropout: float = 0.0,
        layer_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        if kind not in ("n_parity", "n_dms"):
            raise ValueError(f"kind must be 'n_parity' or 'n_dms', got {kind!r}")
        if not 1 <= n <= max_n:
            raise ValueError(f"need 1 <= n <= max_n, got n={n}, max_n={max_n}; raise max_n to train longer lags")
        super().__init__(
            layer=layer,
            d_model=d_model,
            n_layers=n_layers,
            vocab_size=BIT_OFFSET + 2,
            num_classes=2 * max_n,
            readout="token",
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            layer_kwargs=layer_kwargs,
            lr=lr,
            weight_decay=weight_decay,
            warmup_steps=warmup_steps,
            scheduler=scheduler,
        )
        self.save_hyperparameters()
        self.kind = kind
        self.max_n = max_n
        self.n = n

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and getattr(data, "vocab_size", BIT_OFFSET + 2) != BIT_OFFSET + 2:
            raise ValueError(f"MultiHeadLagTask reads N-parity / N-DMS bit streams, got data {type(data).__name__}")

    def set_n(self, n: int) -> None:
        """Train heads ``1..n`` from now on."""
        if not 1 <= n <= self.max_n:
            raise ValueError(f"need 1 <= n <= max_n = {self.max_n}, got {n}; build the task with a larger max_n")
        self.n = n
        self.hparams["n"] = n

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["curriculum_n"] = self.n

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.n = checkpoint.get("curriculum_n", self.n)

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        n = self.n
        logits = self(batch["inputs"], batch.get("lengths"))[..., : 2 * n].unflatten(-1, (n, 2))
        targets = lag_targets(batch["inputs"], self.kind, n)
        scored = targets != IGNORE_INDEX
        per_head = F.cross_entropy(logits.permute(0, 3, 1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none")
        loss = (per_head.sum((0, 1)) / scored.sum((0, 1)).clamp_min(1)).sum()
        correct = (logits.argmax(-1) == targets) & scored
        head_acc = correct.sum((0, 1)) / scored.sum((0, 1)).clamp_min(1)
        logged = {"on_step": stage == "train", "on_epoch": True, "sync_dist": True}
        newest = int(scored[..., -1].sum())
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=newest, **logged)
        self.log(f"{stage}/acc", head_acc[-1], prog_bar=True, batch_size=newest, **logged)
        self.log(f"{stage}/acc_min", head_acc.min(), batch_size=newest, **logged)
        return loss

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Predicted bits of every active head, [B, T, n]."""
        logits = self(batch["inputs"], batch.get("lengths"))[..., : 2 * self.n]
        return logits.unflatten(-1, (self.n, 2)).argmax(-1)


class Curriculum(L.Callback):
    """Grow the lag N of a data module with ``set_n`` when a validation metric passes a threshold.

    After every validation run (not the sanity check) it reads ``monitor`` from the trainer's
    metrics; if it is ``>= threshold`` and N < ``max_n``, N grows by ``step`` on the data module and,
    when the model has ``set_n`` (:class:`MultiHeadLagTask`), on the model. With ``reset_head=True``
    the model's readout (``pl_module.net.head``) is re-initialised at each advance (the single-head
    curriculum with a retrained readout). ``history`` lists ``(epoch, global_step, n)`` per advance;
    ``curriculum/n`` is logged every epoch.

    Args:
        threshold: metric value that advances N (the paper: 0.98 accuracy).
        max_n: stop growing at this N.
        monitor: logged metric to compare (default ``"val/acc"``).
        step: how much N grows per advance.
        reset_head: re-initialise ``pl_module.net.head`` at each advance.
    """

    def __init__(
        self,
        threshold: float = 0.98,
        max_n: int = 64,
        monitor: str = "val/acc",
        step: int = 1,
        reset_head: bool = False,
    ) -> None:
        if step < 1:
            raise ValueError(f"step must be at least 1, got {step}")
        self.threshold = threshold
        self.max_n = max_n
        self.monitor = monitor
        self.step = step
        self.reset_head = reset_head
        self.history: list[tuple[int, int, int]] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        data = trainer.datamodule
        if data is None or not hasattr(data, "set_n"):
            raise ValueError("Curriculum needs a data module with set_n (NParityData or NDMSData) passed to fit")
        if trainer.reload_dataloaders_every_n_epochs != 1:
            raise ValueError(
                "Curriculum changes N between epochs; build the Trainer with reload_dataloaders_every_n_epochs=1"
            )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        data = trainer.datamodule
        if self.monitor not in trainer.callback_metrics:
            raise KeyError(
                f"Curriculum monitors {self.monitor!r}, which is not logged; logged: {list(trainer.callback_metrics)}"
            )
        value = float(trainer.callback_metrics[self.monitor])
        if value < self.threshold or data.n >= self.max_n:
            return
        n = min(data.n + self.step, self.max_n)
        data.set_n(n)
        if hasattr(pl_module, "set_n"):
            pl_module.set_n(n)
        if self.reset_head:
            pl_module.net.head.reset_parameters()
        self.history.append((trainer.current_epoch, trainer.global_step, n))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.log("curriculum/n", float(trainer.datamodule.n), on_epoch=True, on_step=False)

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = [tuple(h) for h in state_dict.get("history", [])]
