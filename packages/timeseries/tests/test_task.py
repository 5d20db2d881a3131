import csv

import numpy as np
import pytest
import torch

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_timeseries.datamodules import ETTData
from recur_timeseries.models import ClassicAR, sparsity_lambda
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
    with pytest.raises(ValueError, match=r"L-BFGS takes its step length from a line search: set --model\.scheduler"):
        ARNetModule(optimizer="lbfgs")
    with pytest.raises(ValueError, match="optimizer must be 'adamw' or 'lbfgs'"):
        ARNetModule(optimizer="sgd")


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
        if not name.startswith("arnet/"):
            continue  # the other tasks' recipes are checked by their own tests (test_forecast_task.py, ...)
        assert isinstance(cli.model, ARNetModule) and cli.model.hparams.p == cli.datamodule.p
        if isinstance(cli.datamodule, ETTData):
            # a recipe names its dataset; the data root comes from RECUR_DATA, not from a path in the recipe
            assert cli.datamodule.dataset_name.lower() == name.removeprefix("arnet/").split("_")[0]
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


def test_test_subcommand_scores_the_baselines_on_the_model_windows(runs_dir):
    cli = run_cli("timeseries", ["test", "--config", "arnet/ar3_sparse", *TINY_AR])
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    train, test = cli.datamodule.dataset("train"), cli.datamodule.dataset("test")
    lags, targets = test.lags.double(), test.targets.double()
    # repeat-last by hand on the test windows; Classic-AR of the same order fitted on the training windows
    assert metrics["test/mse_repeat_last"] == pytest.approx(float((lags[:, :1] - targets).square().mean()), rel=1e-5)
    assert metrics["test/mae_repeat_last"] == pytest.approx(float((lags[:, :1] - targets).abs().mean()), rel=1e-5)
    classic = ClassicAR.fit(train.lags.double().numpy(), train.targets.double().numpy()).predict(lags.numpy())
    assert metrics["test/mse_classic_ar"] == pytest.approx(float(((classic - targets.numpy()) ** 2).mean()), rel=1e-5)
    assert metrics["test/skill_repeat_last"] == pytest.approx(
        1 - metrics["test/mse"] / metrics["test/mse_repeat_last"], rel=1e-4
    )
    # a simulated AR process has no season, so no seasonal-naive forecast
    assert "test/mse_seasonal_naive" not in metrics
    assert {"test/loss", "test/mae", "test/stpe", "test/skill_classic_ar"} <= set(metrics)


def test_short_fit_recovers_the_sparse_ar3_and_beats_repeat_last(runs_dir):
    # 1000 samples, 12 epochs of AdamW: the recipe's objective, shortened. The noise variance (1) is the
    # best one-step MSE; repeating the last value of this process costs about 2.3 (2 (1 - ρ_1) var y).
    args = ["--data.n_val", "200", "--data.batch_size", "50", "--model.lr", "0.01", "--trainer.max_epochs", "12"]
    fit = run_cli("timeseries", ["fit", "--config", "arnet/ar3_sparse", *args])
    best = fit.run_dir / "checkpoints" / "best.ckpt"
    cli = run_cli("timeseries", ["test", "--config", "arnet/ar3_sparse", *args, "--ckpt_path", str(best)])
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    assert metrics["test/mse"] < 1.1
    assert metrics["test/skill_repeat_last"] > 0.4
    assert metrics["test/skill_classic_ar"] > -0.02
    assert metrics["test/stpe"] < 20
    torch.testing.assert_close(cli.model.net.coefficients[0, :3], torch.tensor([0.2, 0.3, -0.5]), atol=0.08, rtol=0)


def test_lbfgs_reaches_least_squares(runs_dir):
    # full batch (one batch of all 1000 windows), no prior: the optimum is Classic-AR's fit
    args = ["--model.p_data", "null", "--model.optimizer", "lbfgs", "--model.scheduler", "constant", "--model.lr", "1"]
    args += ["--data.batch_size", "1000", "--data.n_val", "100", "--data.n_test", "100", "--trainer.max_epochs", "5"]
    cli = run_cli("timeseries", ["fit", "--config", "arnet/ar3_sparse", *args])
    train = cli.datamodule.dataset("train")
    classic = ClassicAR.fit(train.lags.double().numpy(), train.targets.double().numpy())
    np.testing.assert_allclose(cli.model.net.coefficients.detach().double().numpy(), classic.coefficients, atol=2e-3)


def test_model_and_data_disagreement_is_explained(runs_dir):
    with pytest.raises(ValueError, match=r"model.p = 8 but the data has p = 20; set --model.p 20"):
        run_cli("timeseries", ["fit", "--config", "arnet/ar3_sparse", "--model.p", "8", *TINY_AR])
