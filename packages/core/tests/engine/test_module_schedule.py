"""RecurModule's warm-up/cosine schedule ends at the fit's last step, however the fit is bounded: by epochs,
by ``max_steps`` with one optimizer step a batch, or by ``max_steps`` with k optimiser steps a batch (manual
optimisation, where Lightning's ``global_step`` counts every optimiser's steps)."""

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from recur_core.engine import RecurModule, quiet_trainer
from recur_core.schedules import warmup_cosine

BATCHES_PER_EPOCH = 5


def _loader() -> DataLoader:
    inputs = torch.randn(4 * BATCHES_PER_EPOCH, 3, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(inputs), batch_size=4)


class _Recorder(RecurModule):
    """Records the learning-rate multiplier each training batch ran with (``multipliers``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(lr=0.1, **options)
        self.net = torch.nn.Linear(3, 1)
        self.multipliers: list[float] = []

    def _record(self, optimizer: torch.optim.Optimizer) -> None:
        self.multipliers.append(optimizer.param_groups[0]["lr"] / self.lr)


class _OneOptimizer(_Recorder):
    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        self._record(self.optimizers().optimizer)
        return self.net(batch[0]).pow(2).mean()


class _TwoOptimizers(_Recorder):
    """A GAN-like module: manual optimisation, each batch steps two optimisers once (a generator's and a critic's)."""

    optimizer_steps_per_batch = 2

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.automatic_optimization = False
        self.critic = torch.nn.Linear(3, 1)

    def configure_optimizers(self) -> Any:
        optimizers = [torch.optim.SGD(net.parameters(), lr=self.lr) for net in (self.net, self.critic)]
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, self.lr_schedule()) for opt in optimizers]
        return optimizers, [{"scheduler": s, "interval": "step"} for s in schedulers]

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        optimizers = self.optimizers()
        self._record(optimizers[0].optimizer)
        for optimizer, net in zip(optimizers, (self.critic, self.net)):
            optimizer.zero_grad()
            self.manual_backward(net(batch[0]).pow(2).mean())
            optimizer.step()
        for scheduler in self.lr_schedulers():
            scheduler.step()


def _fit(module: _Recorder, **trainer: Any) -> list[float]:
    """The multipliers of every batch of the fit, and the one the schedulers ended at (appended last)."""
    run = quiet_trainer(limit_val_batches=0, num_sanity_val_steps=0, **trainer)
    run.fit(module, train_dataloaders=_loader())
    return [*module.multipliers, run.lr_scheduler_configs[0].scheduler.get_last_lr()[0] / module.lr]


@pytest.mark.parametrize(
    ("module", "trainer", "batches"),
    [
        (_OneOptimizer, {"max_epochs": 2}, 2 * BATCHES_PER_EPOCH),
        (_OneOptimizer, {"max_steps": 7, "max_epochs": 100}, 7),
        (_TwoOptimizers, {"max_epochs": 2}, 2 * BATCHES_PER_EPOCH),
        # 14 optimizer steps: 7 batches of two steps each
        (_TwoOptimizers, {"max_steps": 14, "max_epochs": 100}, 7),
        # an odd max_steps: Lightning stops after the batch that reaches it, the 8th
        (_TwoOptimizers, {"max_steps": 15, "max_epochs": 100}, 8),
        # the epochs end first
        (_TwoOptimizers, {"max_steps": 100, "max_epochs": 1}, BATCHES_PER_EPOCH),
    ],
)
def test_the_cosine_ends_at_zero_at_the_last_batch(module, trainer, batches):
    multipliers = _fit(module(scheduler="cosine", warmup_steps=2), **trainer)
    ran, end = multipliers[:-1], multipliers[-1]
    assert len(ran) == batches
    assert ran == pytest.approx([warmup_cosine(step, 2, batches) for step in range(batches)])
    assert ran[:2] == pytest.approx([0.5, 1.0]) and end == 0.0


def test_without_the_count_two_optimisers_under_max_steps_stop_half_way_down_the_cosine():
    # what optimizer_steps_per_batch is for: global_step counts both optimisers' steps
    class Uncounted(_TwoOptimizers):
        optimizer_steps_per_batch = 1

    end = _fit(Uncounted(scheduler="cosine"), max_steps=14, max_epochs=100)[-1]
    assert end == pytest.approx(warmup_cosine(7, 0, 14)) and end == pytest.approx(0.5)


@pytest.mark.parametrize("killed_at", [1, 3])
def test_a_cosine_fit_killed_mid_epoch_resumes_exactly(runs_dir, one_thread, tiny, killed_fit, killed_at):
    # the cosine's length is read once training runs: read in configure_optimizers, before Lightning restores the
    # checkpoint, it loaded the training data early and the resumed loader started its epoch again.
    # killed_at 3 (mid epoch 1): the resumed loader is built before Lightning's set_epoch, so it must start
    # at the restored epoch itself (it replayed epoch 0's order before)
    from recur_core.engine import SequenceTask, run_cli

    # 2 batches an epoch, 3 epochs; last.ckpt after every step; killed after step `killed_at`
    args = ["fit", "--config", "parity/lstm", *tiny, "--model.scheduler=cosine", "--model.warmup_steps=1"]
    args += ["--trainer.max_epochs=3", "--checkpoint_every_n_steps=1"]
    whole = run_cli("core", args)

    with killed_fit(SequenceTask, killed_at):
        run_cli("core", args)
    resumed = run_cli("core", [*args, "--ckpt_path", "last"])
    assert resumed.run_dir != whole.run_dir and resumed.trainer.global_step == whole.trainer.global_step == 6
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert resumed.trainer.optimizers[0].param_groups[0]["lr"] == 0.0
