import re

import lightning as L
import pytest

from recur_timeseries.datamodules import GeneratedForecastData
from recur_timeseries.task import ForecastModule


class _EpochLR(L.Callback):
    """Records the optimizer's learning rate at the start of every training epoch and after the last one."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def _fit(module: ForecastModule, epochs: int) -> list[float]:
    data = GeneratedForecastData(input_len=24, horizon=12, n_train=200, n_val=60, n_test=60, batch_size=64)
    record = _EpochLR()
    trainer = L.Trainer(
        max_epochs=epochs,
        callbacks=[record],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
    )
    trainer.fit(module, datamodule=data)
    return record.lrs


def test_lr_decay_multiplies_the_learning_rate_once_per_epoch():
    module = ForecastModule(
        model="linear", input_len=24, horizon=12, channels=7, lr=0.01, scheduler="constant", lr_decay=0.5
    )
    lrs = _fit(module, epochs=3)
    # several optimizer steps per epoch, yet the rate changes only between epochs: lr * decay^k after k epochs
    assert lrs == pytest.approx([0.01 * 0.5**k for k in range(4)], rel=1e-12)


def test_without_lr_decay_a_constant_schedule_stays_constant():
    module = ForecastModule(model="linear", input_len=24, horizon=12, channels=7, lr=0.01, scheduler="constant")
    assert _fit(module, epochs=2) == pytest.approx([0.01] * 3)


@pytest.mark.parametrize("decay", [0.0, -0.1, 1.5])
def test_lr_decay_outside_zero_one_is_rejected(decay):
    with pytest.raises(ValueError, match=r"lr_decay must be in \(0, 1\]"):
        ForecastModule(model="linear", scheduler="constant", lr_decay=decay)


@pytest.mark.parametrize("options", [{"scheduler": "cosine"}, {"scheduler": "constant", "warmup_steps": 10}])
def test_lr_decay_with_cosine_or_warmup_is_rejected(options):
    fix = re.escape("set --model.scheduler constant and --model.warmup_steps 0")
    with pytest.raises(ValueError, match=fix) as error:
        ForecastModule(model="linear", lr_decay=0.9, **options)
    assert "\n" not in str(error.value)
