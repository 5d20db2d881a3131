"""PV-RNN through the CLI: the recipes instantiate, fit -> test from the checkpoint -> predict (streaming)."""

import csv

import pytest
import torch

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_planning.datamodules import TrajectoryData
from recur_planning.metrics import online_prediction_mse, repeat_last_predictions
from recur_planning.task import PredictiveCodingModule

PVRNN_RECIPES = ("pvrnn/default", "pvrnn/lissajous", "pvrnn/reacher")
TINY = [
    "--data.num_train", "4", "--data.num_val", "2", "--data.num_test", "2", "--data.length", "24",
    "--data.batch_size", "4", "--model.horizon", "4", "--model.eval_start", "4", "--model.val_steps", "16",
    "--model.window", "4", "--model.iterations", "3",
    "--model.model_kwargs", '{"d_sizes": [8, 6], "z_sizes": [2, 1], "taus": [2.0, 4.0], "w": [0.01, 0.01], '
    '"w_first": [1.0, 1.0]}',
    "--trainer.max_epochs", "2", "--trainer.check_val_every_n_epoch", "1",
]  # fmt: skip


def test_recipes_instantiate_and_open_with_their_command(runs_dir):
    recipes = list_recipes("planning")
    for name in PVRNN_RECIPES:
        assert recipes[name].read_text().splitlines()[0] == f"# recur-planning fit --config {name}"
        cli = run_cli("planning", ["--config", name], run=False)
        assert isinstance(cli.model, PredictiveCodingModule) and isinstance(cli.datamodule, TrajectoryData)


def test_fit_then_test_from_the_checkpoint_then_stream(runs_dir):
    fit = run_cli("planning", ["fit", "--config", "pvrnn/default", *TINY])
    for name in ("config.yaml", "metrics.csv", "predictions.png", "checkpoints/last.ckpt"):
        assert (fit.run_dir / name).is_file(), name
    assert fit.model.net.adaptive.shape == (4, 24, 2, 3)
    last = fit.run_dir / "checkpoints" / "last.ckpt"
    cli = run_cli("planning", ["test", "--config", "pvrnn/default", *TINY, "--ckpt_path", str(last)])
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    assert {"test/pred_mse", "test/pred_mse_repeat_last", "test/skill_repeat_last"} <= set(metrics)
    # repeat-last by hand on the same test sequences
    x = cli.datamodule.dataset("test").values.double()
    by_hand = ((x[:, 4:20, None] - torch.stack([x[:, 4 + h : 20 + h] for h in range(1, 5)], 2)) ** 2).mean()
    assert metrics["test/pred_mse_repeat_last"] == pytest.approx(float(by_hand), rel=1e-5)
    assert metrics["test/skill_repeat_last"] == pytest.approx(
        1 - metrics["test/pred_mse"] / metrics["test/pred_mse_repeat_last"], rel=1e-4
    )
    columns = next(csv.reader((cli.run_dir / "metrics.csv").open()))
    assert {"test/pred_mse", "test/pred_mse_repeat_last"} <= set(columns)
    stream = run_cli("planning", ["predict", "--config", "pvrnn/default", *TINY, "--ckpt_path", str(last)])
    (predictions,) = stream.trainer.predict_loop.predictions
    assert predictions.shape == (2, 24, 4, 2)
    rows = list(csv.DictReader((stream.run_dir / "stream.csv").open()))
    assert rows and {"ms_per_step", "mse", "mse_repeat_last"} <= set(rows[0])


def test_a_baseline_runs_through_the_same_recipe(runs_dir):
    cli = run_cli("planning", ["fit", "--config", "pvrnn/default", *TINY[:-6], "--model.model", "vrnn",
                               "--model.model_kwargs", '{"hidden_size": 8}', *TINY[-4:]])  # fmt: skip
    assert "val/pred_mse" in cli.trainer.callback_metrics


def test_a_checkpoint_for_another_training_split_is_a_one_line_error(runs_dir):
    cli = run_cli("planning", ["--config", "pvrnn/default", "--model.num_sequences", "5"], run=False)
    cli.trainer.datamodule = cli.datamodule
    cli.model.trainer = cli.trainer
    with pytest.raises(ValueError, match=r"model.num_sequences = 5 but the data has num_sequences = 32"):
        cli.model.setup("test")


def test_online_prediction_mse_scores_the_steps_with_a_full_horizon():
    x = torch.arange(10.0).reshape(1, 10, 1)
    predictions = repeat_last_predictions(x, 2)
    # x_t repeated vs x_{t+1}, x_{t+2}: errors 1 and 4
    assert online_prediction_mse(predictions, x, start=0) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="no step to score"):
        online_prediction_mse(predictions, x, start=8)


def test_bad_trajectory_options_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown trajectory source 'robot'; valid: lissajous, switching"):
        TrajectoryData(source="robot")
    with pytest.raises(ValueError, match="unknown model 'grnet' for online prediction; valid: pvrnn"):
        PredictiveCodingModule(model="grnet")
    with pytest.raises(ValueError, match=r"raise --model\.val_steps"):
        PredictiveCodingModule(val_steps=15, eval_start=10, horizon=10)
