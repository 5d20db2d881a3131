"""CLI smoke run of recur-graph: a shipped recipe with overrides, the run folder, and a model restored from it."""

import csv

import pytest
import yaml

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_graph.task import TemporalGraphTask

TINY = [
    "--data.num_nodes",
    "40",
    "--data.num_snapshots",
    "12",
    "--data.p_in",
    "0.3",
    "--data.p_out",
    "0.03",
    "--data.history",
    "3",
    "--data.negatives",
    "3",
    "--model.hidden_features",
    "8",
    "--model.out_features",
    "8",
    "--model.head_hidden",
    "8",
]


def test_fit_a_shipped_recipe_then_test_its_checkpoint(runs_dir):
    cli = run_cli(
        "graph",
        [
            "fit",
            "--config",
            "evolvegcn/sbm_link_pred",
            "--model.model",
            "evolvegcn_h",
            "--trainer.max_epochs",
            "2",
            "--trainer.check_val_every_n_epoch",
            "1",
            *TINY,
        ],
    )
    assert isinstance(cli.model, TemporalGraphTask) and cli.model.hparams.model == "evolvegcn_h"
    run = cli.run_dir
    assert run.is_relative_to(runs_dir) and "evolvegcn" in run.parts and "sbm_link_pred" in run.parts
    for name in ("config.yaml", "metrics.csv", "metrics.png", "val_by_snapshot.png", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["init_args"]["model"] == "evolvegcn_h"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {r["epoch"] for r in rows if r.get("val/map")} == {"0", "1"}
    # the checkpoint rebuilds the model on its own: in_features was taken from the data and saved
    restored = TemporalGraphTask.load_from_checkpoint(run / "checkpoints" / "best.ckpt")
    result = cli.trainer.test(restored, cli.datamodule, verbose=False)[0]
    assert {"test/map", "test/mrr"} <= set(result)


@pytest.mark.parametrize("name", sorted(list_recipes("graph")))
def test_every_recipe_builds_its_model_and_names_its_data(name, runs_dir):
    path = list_recipes("graph")[name]
    assert path.read_text().splitlines()[0] == f"# recur-graph fit --config {name}"
    cli = run_cli("graph", ["--config", name], run=False)
    assert isinstance(cli.model, TemporalGraphTask) and cli.model.hparams.task == cli.datamodule.task
    # the model builds: a recurrence only where the model has one (static_gcn has none)
    options = yaml.safe_load(path.read_text())["model"]["init_args"]
    assert TemporalGraphTask(**options, in_features=4).net is not None
    # a recipe names its dataset (or generates one); where it lies comes from the data root
    assert cli.datamodule.path is None and getattr(cli.datamodule, "root", None) is None
