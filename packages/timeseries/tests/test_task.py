import csv

import pytest
import torch

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_timeseries.datamodules import ETTData
from recur_timeseries.models import sparsity_lambda
from recur_timeseries.task import ARNetModule

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


def test_every_recipe_instantiates(runs_dir):
    recipes = list_recipes("timeseries")
    assert {"arnet/ar3_sparse", "arnet/sunspots", "arnet/etth1", "arnet/ettm1"} <= set(recipes)
    for name, path in recipes.items():
        assert path.read_text().splitlines()[0] == f"# recur-timeseries fit --config {name}"
        cli = run_cli("timeseries", ["--config", name], run=False)
        assert isinstance(cli.model, ARNetModule) and cli.model.hparams.p == cli.datamodule.p
        if isinstance(cli.datamodule, ETTData):
            # a recipe names its dataset; the data root comes from RECUR_DATA, not from a path in the recipe
            assert cli.datamodule.dataset_name.lower() == name.removeprefix("arnet/")
            assert cli.datamodule.root is None


def test_fit_logs_stpe_and_writes_plots(runs_dir):
    cli = run_cli("timeseries", ["fit", "--config", "arnet/ar3_sparse", "--trainer.max_epochs", "2", *TINY_AR])
    run = cli.run_dir
    assert run.is_relative_to(runs_dir)
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
