import csv

import pytest

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_timeseries.datamodules import ETTForecastData, ForecastData
from recur_timeseries.models import LeastSquaresForecaster
from recur_timeseries.models.baselines import forecast_repeat_last
from recur_timeseries.task import ForecastModule

# the generated series shortened for tests: 600 / 200 / 200 rows, 24 -> 12 steps
TINY = ["--data.n_train", "600", "--data.n_val", "200", "--data.n_test", "200", "--data.batch_size", "64"]
SHORT = ["--data.input_len", "24", "--data.horizon", "12", "--model.input_len", "24", "--model.horizon", "12"]


def _val_repeat_last_mse(cli) -> float:
    val = cli.datamodule.dataset("val")
    return float((forecast_repeat_last(val.inputs, val.horizon) - val.targets).square().mean())


LTSF_RECIPES = ("dlinear/generated", "dlinear/etth1_96", "seq2seq/generated", "seq2seq/etth1_96")


def test_ltsf_recipes_instantiate_and_agree_with_their_data(runs_dir):
    recipes = list_recipes("timeseries")
    for name in LTSF_RECIPES:
        assert recipes[name].read_text().splitlines()[0] == f"# recur-timeseries fit --config {name}"
        cli = run_cli("timeseries", ["--config", name], run=False)
        assert isinstance(cli.model, ForecastModule) and isinstance(cli.datamodule, ForecastData)
        for option in ("input_len", "horizon", "channels"):
            assert cli.model.hparams[option] == getattr(cli.datamodule, option)
        if isinstance(cli.datamodule, ETTForecastData):
            assert cli.datamodule.dataset_name == "ETTh1" and cli.datamodule.root is None


def test_fit_then_test_from_the_checkpoint_logs_the_baselines(runs_dir):
    args = [*TINY, *SHORT, "--trainer.max_epochs", "2"]
    fit = run_cli("timeseries", ["fit", "--config", "dlinear/generated", *args])
    for name in ("config.yaml", "metrics.csv", "forecasts.png", "checkpoints/best.ckpt"):
        assert (fit.run_dir / name).is_file(), name
    best = fit.run_dir / "checkpoints" / "best.ckpt"
    cli = run_cli("timeseries", ["test", "--config", "dlinear/generated", *args, "--ckpt_path", str(best)])
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    for baseline in ("repeat_last", "seasonal_naive", "least_squares"):
        assert {f"test/mse_{baseline}", f"test/mae_{baseline}", f"test/skill_{baseline}"} <= set(metrics)
    columns = next(csv.reader((cli.run_dir / "metrics.csv").open()))
    assert {"test/mse", "test/mae", "test/mse_repeat_last", "test/skill_least_squares"} <= set(columns)
    # the baselines by hand on the same test windows, in the same z-scored units
    train, test = cli.datamodule.dataset("train"), cli.datamodule.dataset("test")
    x, y = test.inputs.double(), test.targets.double()
    assert metrics["test/mse_repeat_last"] == pytest.approx(float((x[:, -1:] - y).square().mean()), rel=1e-6)
    assert metrics["test/mae_seasonal_naive"] == pytest.approx(float((x[:, -24:][:, :12] - y).abs().mean()), rel=1e-6)
    least_squares = LeastSquaresForecaster.fit(train.inputs, train.targets).predict(test.inputs)
    assert metrics["test/mse_least_squares"] == pytest.approx(float((least_squares - y).square().mean()), rel=1e-6)
    assert metrics["test/skill_repeat_last"] == pytest.approx(
        1 - metrics["test/mse"] / metrics["test/mse_repeat_last"], rel=1e-4
    )
    # two short epochs of DLinear already beat repeating the last value clearly
    assert metrics["test/skill_repeat_last"] > 0.4
    predictions = run_cli("timeseries", ["predict", "--config", "dlinear/generated", *args, "--ckpt_path", str(best)])
    assert predictions.trainer.predict_loop.predictions[0].shape[1:] == (12, 7)


def test_an_ett_recipe_runs_on_the_generated_series_by_name(runs_dir):
    args = ["--data.dataset", "generated", "--data.splits", "[600, 200, 200]", *SHORT, "--data.batch_size", "64"]
    cli = run_cli("timeseries", ["fit", "--config", "dlinear/etth1_96", *args, "--trainer.max_epochs", "4"])
    assert cli.datamodule.dataset_name == "generated"
    # four short epochs (36 steps) of DLinear already beat repeating the last value on the validation windows
    assert float(cli.trainer.callback_metrics["val/mse"]) < 0.8 * _val_repeat_last_mse(cli)


@pytest.mark.parametrize("layer", ["lstm", "gla"])
def test_seq2seq_recipe_trains_with_two_core_layers(runs_dir, layer):
    args = [
        *TINY,
        *SHORT,
        "--model.model_kwargs",
        f'{{"layer": "{layer}", "d_model": 16}}',
        "--model.lr",
        "0.01",
        "--trainer.max_epochs",
        "4",
    ]
    cli = run_cli("timeseries", ["fit", "--config", "seq2seq/generated", *args])
    assert cli.model.hparams.model_kwargs["layer"] == layer
    assert float(cli.trainer.callback_metrics["val/mse"]) < 0.9 * _val_repeat_last_mse(cli)


def test_module_options_and_mismatch_are_explained(runs_dir):
    with pytest.raises(ValueError, match="loss must be 'mse' or 'mae'"):
        ForecastModule(loss="huber")
    with pytest.raises(ValueError, match=r"model.horizon = 12 but the data has horizon = 24; set --model.horizon 24"):
        run_cli("timeseries", ["fit", "--config", "dlinear/generated", *TINY, *SHORT, "--data.horizon", "24"])
