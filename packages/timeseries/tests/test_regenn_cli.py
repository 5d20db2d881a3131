"""CLI smoke run of the ReGENN recipes: fit the embedded default for a few steps, then test its checkpoint."""

import csv

import pytest
import yaml

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_timeseries.datamodules import GRAPH_SERIES, GraphSeriesData
from recur_timeseries.task import ForecastModule

SMALL = ["--data.steps", "160", "--data.batch_size", "16", "--model.model_kwargs.feedforward", "16"]


def test_fit_the_diffusion_recipe_then_test_its_checkpoint(runs_dir, one_thread):
    cli = run_cli(
        "timeseries",
        [
            "fit",
            "--config",
            "regenn/diffusion",
            "--trainer.max_epochs",
            "2",
            "--trainer.limit_train_batches",
            "3",
            *SMALL,
        ],
    )
    assert isinstance(cli.model, ForecastModule) and cli.model.hparams.model == "regenn"
    assert cli.model.hparams.loss == "mae" and cli.trainer.gradient_clip_val == 10
    run = cli.run_dir
    assert run.is_relative_to(runs_dir) and "regenn" in run.parts and "diffusion" in run.parts
    for name in ("config.yaml", "metrics.csv", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["init_args"]["dataset"] == "diffusion"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {r["epoch"] for r in rows if r.get("val/mae")} == {"0", "1"}
    # the checkpoint carries the frozen co-occurrence graph
    restored = ForecastModule.load_from_checkpoint(run / "checkpoints" / "best.ckpt")
    assert bool(restored.net.source.frozen) and restored.net.source.adjacency.abs().sum() > 0
    tested = run_cli(
        "timeseries",
        ["test", "--config", "regenn/diffusion", "--ckpt_path", str(run / "checkpoints" / "best.ckpt"), *SMALL],
    )
    result = tested.trainer.callback_metrics
    for name in ("test/mae", "test/mse", "test/mae_repeat_last", "test/mae_per_variable_ar"):
        assert name in result, name


@pytest.mark.parametrize("dataset", ["diffusion", "chickenpox", "pedalme", "montevideo_bus", "england_covid"])
def test_every_recipe_names_its_dataset_and_node_count(dataset):
    path = list_recipes("timeseries")[f"regenn/{dataset}"]
    assert path.read_text().splitlines()[0] == f"# recur-timeseries fit --config regenn/{dataset}"
    config = yaml.safe_load(path.read_text())
    data, model = config["data"]["init_args"], config["model"]["init_args"]
    assert data["dataset"] == dataset and model["model"] == "regenn" and model["loss"] == "mae"
    assert (data["input_len"], data["horizon"]) == (model["input_len"], model["horizon"])
    assert model["channels"] == GRAPH_SERIES[dataset][0] and config["trainer"]["gradient_clip_val"] == 10


def test_real_data_recipe_builds_on_the_real_file(dataset_root):
    root = dataset_root("pyg-temporal", "chickenpox.json").parent
    data = GraphSeriesData(dataset="chickenpox", root=str(root), input_len=12, horizon=4)
    data.setup("fit")
    assert data.dataset("train").inputs.shape[1:] == (12, 20) and data.graph.node_names[0] == "BACS"
    with pytest.raises(ValueError, match=r"--data\.channels 20 --model\.channels 20"):
        GraphSeriesData(dataset="chickenpox", root=str(root), channels=7).setup("fit")
