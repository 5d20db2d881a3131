import csv

import lightning as L
import numpy as np
import pytest
import torch

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_timeseries.data import PAPER_SPARSE_AR3
from recur_timeseries.engine import ARNetModule, ARProcessData, ETTData, SunspotsData
from recur_timeseries.models import sparsity_lambda

TINY_AR = ["--data.n_train", "200", "--data.n_val", "100", "--data.n_test", "100", "--data.batch_size", "100"]


def test_module_options():
    module = ARNetModule(p=10, p_data=2, lambda_scale=0.1)
    assert module.sparsity == pytest.approx(0.2)
    assert module.regularization_weight(0.5) == pytest.approx(sparsity_lambda(0.2, 0.1))
    assert module.regularization_weight(0.25) == pytest.approx(sparsity_lambda(0.2, 0.1) / 4)
    assert ARNetModule(p=10).regularization_weight(1.0) == 0.0
    with pytest.raises(ValueError, match="give sparsity or p_data, not both"):
        ARNetModule(p=10, sparsity=0.2, p_data=2)
    with pytest.raises(ValueError, match=r"sparsity must be in \(0, 1\]"):
        ARNetModule(p=10, sparsity=1.5)
    with pytest.raises(ValueError, match="loss must be"):
        ARNetModule(loss="l1")


def test_huber_loss_is_smaller_for_outliers():
    mse_module, huber_module = ARNetModule(p=2, loss="mse"), ARNetModule(p=2, loss="huber")
    prediction, target = torch.zeros(4, 1), torch.tensor([[0.5], [0.0], [0.0], [10.0]])
    assert huber_module._loss(prediction, target) < mse_module._loss(prediction, target)


def test_ar_process_splits_are_independent_and_seeded():
    data = ARProcessData(n_train=50, n_val=30, n_test=20, p=5, seed=1)
    data.setup()
    train, val, test = (data.dataset(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (50, 30, 20)
    assert not torch.allclose(train.lags[:20], val.lags[:20])
    again = ARProcessData(n_train=50, n_val=30, n_test=20, p=5, seed=1)
    torch.testing.assert_close(again.dataset("val").lags, val.lags)
    np.testing.assert_array_equal(data.true_coefficients, PAPER_SPARSE_AR3)
    lags, targets = next(iter(data.train_dataloader()))
    assert lags.shape == (50, 5) and targets.shape == (50, 1)


def test_sunspots_data_batches():
    data = SunspotsData(p=9, n_forecasts=2, batch_size=16)
    data.setup("fit")
    lags, targets = next(iter(data.val_dataloader()))
    assert lags.shape == (16, 9) and targets.shape == (16, 2)
    assert data.true_coefficients is None


def test_every_recipe_instantiates(runs_dir):
    recipes = list_recipes("timeseries")
    assert {"arnet/ar3_sparse", "arnet/sunspots", "arnet/etth1"} <= set(recipes)
    for name, path in recipes.items():
        assert path.read_text().splitlines()[0] == f"# recur-timeseries fit --config {name}"
        cli = run_cli("timeseries", ["--config", name], run=False)
        assert isinstance(cli.model, ARNetModule) and cli.model.hparams.p == cli.datamodule.p


def test_fit_logs_stpe_and_writes_plots(runs_dir):
    cli = run_cli("timeseries", ["fit", "--config", "arnet/ar3_sparse", "--trainer.max_epochs", "2", *TINY_AR])
    (run,) = (runs_dir / "arnet" / "ar3_sparse").iterdir()
    for name in ("config.yaml", "metrics.csv", "metrics.png", "arnet.png", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    columns = next(csv.reader((run / "metrics.csv").open()))
    assert {"train/loss", "val/loss", "val/mse", "val/mae", "val/stpe"} <= set(columns)
    assert 0 <= float(cli.trainer.callback_metrics["val/stpe"]) <= 100
    # λ ramps to its full value by half of training and stays there
    assert cli.model.regularization_weight() == pytest.approx(sparsity_lambda(3 / 20, 0.1))


def test_test_subcommand_reports_test_metrics(runs_dir):
    cli = run_cli("timeseries", ["test", "--config", "arnet/ar3_sparse", *TINY_AR])
    assert {"test/loss", "test/mse", "test/mae", "test/stpe"} <= set(cli.trainer.callback_metrics)


def test_model_and_data_disagreement_is_explained(runs_dir):
    with pytest.raises(ValueError, match=r"model.p = 8 but the data has p = 20; set --model.p 20"):
        run_cli("timeseries", ["fit", "--config", "arnet/ar3_sparse", "--model.p", "8", *TINY_AR])


def test_ett_data_fits_on_a_small_file(tmp_path):
    dates = np.datetime64("2016-07-01T00") + np.arange(120) * np.timedelta64(1, "h")
    rng = np.random.default_rng(0)
    rows = [",".join(["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"])]
    for date, values in zip(dates, rng.normal(size=(120, 7))):
        rows.append(str(date).replace("T", " ") + ":00:00," + ",".join(f"{v:.4f}" for v in values))
    path = tmp_path / "ETTh1.csv"
    path.write_text("\n".join(rows) + "\n")
    data = ETTData(path=str(path), splits=(80, 20, 20), p=6, batch_size=32)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(ARNetModule(p=6), datamodule=data)
    assert len(data.dataset("train")) == 74 and len(data.dataset("val")) == 20
    assert torch.isfinite(trainer.callback_metrics["val/mse"])
    with pytest.raises(FileNotFoundError, match="ETT file not found"):
        ETTData(path=str(tmp_path / "missing.csv")).setup("fit")
