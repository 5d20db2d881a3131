"""What ``ltsf_ett.py`` and ``tpgn.py`` share: a shipped forecasting recipe, re-pointed and trained the CLI's way.

:func:`from_recipe` reads a ``recur-timeseries`` recipe (``tpgn/etth1_96``, ...) and instantiates its
``model`` and ``data`` sections (:class:`recur_timeseries.task.ForecastModule` and
:class:`recur_timeseries.datamodules.ETTForecastData`) with the dataset, features, window and batch
overridden, as ``recur-timeseries fit --config <recipe> --data.dataset ... --model.horizon ...`` would;
the recipe's ``trainer`` section is left out (the scripts set their own budget). :func:`train_and_test`
fits it with a quiet Lightning Trainer, keeps the weights of the best validation pass in memory and
runs the module's own ``test``, which logs ``test/mse``, ``test/mae`` and the naive and least-squares
baselines on the same windows (``test/mse_<baseline>``).
"""

from __future__ import annotations

import copy
import importlib
import math
import time
from typing import Any

import lightning as L
import yaml

from recur_core.engine import quiet_trainer
from recur_core.recipes import list_recipes

BASELINES = ("repeat_last", "seasonal_naive", "least_squares")
BASELINE_LABELS = {"repeat_last": "repeat-last", "seasonal_naive": "seasonal naive", "least_squares": "least squares"}


def _instantiate(section: dict[str, Any], overrides: dict[str, Any]) -> Any:
    module, _, name = section["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return cls(**{**section.get("init_args", {}), **overrides})


def from_recipe(
    recipe: str,
    dataset: str,
    features: str,
    input_len: int,
    horizon: int,
    batch_size: int,
    model_kwargs: dict[str, Any] | None = None,
    splits: tuple[int, int, int] | None = None,
) -> tuple[L.LightningModule, L.LightningDataModule, dict[str, Any]]:
    """The recipe's module and DataModule on (dataset, features, L → H), seeded by its ``seed_everything``.

    ``model_kwargs`` are merged into the recipe's (``{"layer": "gla"}``); ``splits`` are row counts
    (None: the DataModule's standard 12/4/4 months). Returns the module, the DataModule and the
    recipe's model options as used (for the CSV).
    """
    path = list_recipes("timeseries")[recipe]
    config = yaml.safe_load(path.read_text())
    L.seed_everything(config.get("seed_everything", 0), verbose=False)
    channels = 7 if features == "M" else 1
    model_section = config["model"]
    kwargs = {**model_section["init_args"].get("model_kwargs", {}), **(model_kwargs or {})}
    model = _instantiate(
        model_section,
        {"input_len": input_len, "horizon": horizon, "channels": channels, "model_kwargs": kwargs},
    )
    data_overrides: dict[str, Any] = {
        "dataset": dataset,
        "features": features,
        "input_len": input_len,
        "horizon": horizon,
        "batch_size": batch_size,
    }
    if splits is not None:
        data_overrides["splits"] = tuple(splits)
    data = _instantiate(config["data"], data_overrides)
    return model, data, dict(model.hparams)


class _KeepBest(L.Callback):
    """After every validation pass: record (step, val/mse) and keep a copy of the weights if it is the lowest."""

    def __init__(self) -> None:
        self.curve: list[tuple[int, float]] = []
        self.best = math.inf
        self.state: dict[str, Any] | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = float(trainer.callback_metrics["val/mse"])
        self.curve.append((trainer.global_step, value))
        if value < self.best:
            self.best = value
            self.state = copy.deepcopy(module.state_dict())


def train_and_test(
    module: L.LightningModule,
    data: L.LightningDataModule,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    val_every: int | None = None,
) -> dict[str, Any]:
    """Fit for ``steps`` optimizer steps (validating every ``val_every``) or ``epochs`` epochs (validating after
    each); test the weights of the lowest validation MSE.

    Returns ``test/*`` metrics of the module's test run (the model and the baselines), plus
    ``val_mse`` (the best), ``best_step``, ``steps`` (taken), ``curve`` (every validation pass) and
    ``fit_seconds`` (wall time of the fit, validation included).
    """
    if (steps is None) == (epochs is None):
        raise ValueError(f"give steps or epochs, not both or neither (got steps={steps}, epochs={epochs})")
    keep = _KeepBest()
    if steps is not None:
        every = min(val_every or steps, steps)
        budget = {"max_steps": steps, "max_epochs": -1, "val_check_interval": every, "check_val_every_n_epoch": None}
    else:
        budget = {"max_epochs": epochs}
    trainer = quiet_trainer(callbacks=[keep], num_sanity_val_steps=0, **budget)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    if not keep.curve or keep.curve[-1][0] != trainer.global_step:
        trainer.validate(module, datamodule=data, verbose=False)  # the final weights are candidates too
    seconds = time.perf_counter() - start
    module.load_state_dict(keep.state)
    metrics = {k: float(v) for k, v in trainer.test(module, datamodule=data, verbose=False)[0].items()}
    return {
        **metrics,
        "val_mse": keep.best,
        "best_step": min(keep.curve, key=lambda point: point[1])[0],
        "steps": trainer.global_step,
        "curve": keep.curve,
        "fit_seconds": seconds,
    }
