"""CLI runs of the poem-meter recipes: fit the embedded default, resume it exactly, test its checkpoint; errors."""

import csv

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_text.meters import MeterClassificationModule, MeterData

TINY = [
    "--data.lines_per_meter=24",
    "--data.batch_size=16",
    "--model.model_kwargs.hidden_size=8",
    "--model.model_kwargs.n_layers=1",
]
RECIPES = {"english_generated": "english_generated", "metrec": "metrec", "apcd_sample": "apcd", "english_epd": "epd"}


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp() / "meters-cli-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def test_fit_resume_exactly_then_test_from_the_checkpoint(runs_dir, cache, one_thread):
    fit = ["fit", "--config", "meters/english_generated", *TINY]
    # 76 training lines: 5 batches per epoch
    whole = run_cli("text", [*fit, "--trainer.max_epochs=2"])
    assert isinstance(whole.model, MeterClassificationModule) and isinstance(whole.datamodule, MeterData)
    run = whole.run_dir
    for name in ("config.yaml", "metrics.csv", "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {r["epoch"] for r in rows if r.get("val/acc")} == {"0", "1"}
    # the weights of the papers' loss weighting come from the training counts and travel in the checkpoint
    counts = whole.datamodule.dataset("train").counts().double()
    expected = (1 / counts) / (1 / counts).sum()
    torch.testing.assert_close(whole.model.class_weight, expected.float())
    # stopped after 7 of 10 steps, then resumed to the end: the same weights
    first = run_cli("text", [*fit, "--trainer.max_epochs=2", "--trainer.max_steps=7"])
    resumed = run_cli("text", [*fit, "--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert resumed.run_dir == first.run_dir
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    best = str(run / "checkpoints" / "best.ckpt")
    tested = run_cli("text", ["test", "--config", "meters/english_generated", *TINY, "--ckpt_path", best])
    result = tested.trainer.callback_metrics
    for name in ("acc", "acc_macro", "acc_majority", "acc_iambic", "acc_trochaic", "acc_anapaestic", "acc_dactylic"):
        assert f"test/{name}" in result, name
    assert (tested.run_dir / "confusion_matrix.png").is_file()
    # any core layer through the recipe
    gla = run_cli("text", [*fit, "--trainer.max_steps=2", "--model.model_kwargs.layer=gla"])
    assert gla.model.net.layers[0].forward_layer.layer_name == "gla"


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_builds_and_names_its_command(runs_dir, name):
    path = list_recipes("text")[f"meters/{name}"]
    assert path.read_text().splitlines()[0] == f"# recur-text fit --config meters/{name}"
    config = yaml.safe_load(path.read_text())
    assert config["data"]["init_args"]["dataset"] == RECIPES[name]
    # instantiating reads no data: a recipe builds on a fresh clone
    cli = run_cli("text", ["--config", f"meters/{name}"], run=False)
    assert isinstance(cli.model, MeterClassificationModule) and cli.model.net is None
    assert cli.datamodule.dataset_name == RECIPES[name]


def test_bad_input_from_the_cli_is_one_line(runs_dir, cache, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty_root"))
    cases = [
        (["fit", "--config", "meters/english_generated", "--data.encoding", "three_hot"], "three_hot"),
        (["fit", "--config", "meters/metrec"], "dataset 'metrec' not found"),
        (["fit", "--config", "meters/english_epd"], "recur data fetch apcd"),
        (
            ["fit", "--config", "meters/english_generated", *TINY, "--model.num_classes", "5"],
            "model.num_classes = 5 but the data has num_classes = 4",
        ),
        (["fit", "--config", "meters/english_generated", "--model.model_kwargs.layer", "nope"], "unknown layer 'nope'"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exited:
            console_main("text", args)
        assert exited.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
