"""The recur-pointcloud console script: wired as the other members' are, with one-line errors; every shipped recipe
builds its model and its data through the CLI machinery (no training), and a recipe on the data root without its
data stops with the one-line missing-data error.

Fitting and testing the recipes is tested with their tasks (test_detection.py, test_parsing.py).
"""

import sys
from importlib.metadata import entry_points

import pytest
import torch
import yaml

from recur_core.data.root import dataset_status
from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_core.registry import installed_members
from recur_pointcloud.detection import DetectionData, DetectionModule
from recur_pointcloud.parsing import METHODS, RoomsData, SceneParsingModule

RECIPES = sorted(list_recipes("pointcloud"))
# each recipe family's task and DataModule
TASKS = {"lion": (DetectionModule, DetectionData), "dqn_rnn": (SceneParsingModule, RoomsData)}


def _dataset(name):
    """The dataset a recipe names (``data.init_args.dataset``)."""
    return yaml.safe_load(list_recipes("pointcloud")[name].read_text())["data"]["init_args"]["dataset"]


# recipes whose data lies under the data root (the others generate theirs under the user cache)
ON_DATA_ROOT = [name for name in RECIPES if _dataset(name) in ("kitti_object", "s3dis")]


def test_console_script_and_member_are_wired(monkeypatch, capsys):
    [script] = entry_points(group="console_scripts", name="recur-pointcloud")
    assert script.value == "recur_pointcloud.cli:main"
    assert installed_members()["pointcloud"] == "recur_pointcloud"
    monkeypatch.setattr(sys, "argv", ["recur-pointcloud", "--help"])
    with pytest.raises(SystemExit) as exited:
        script.load()()
    assert exited.value.code == 0 and "{fit,validate,test,predict}" in capsys.readouterr().out


def test_an_unknown_recipe_is_one_line(capsys, runs_dir):
    with pytest.raises(SystemExit) as exited:
        console_main("pointcloud", ["fit", "--config", "lion/no_such_recipe"])
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and message.startswith("recur-pointcloud: error:") and "\n" not in message
    assert "lion/no_such_recipe" in message


def test_every_recipe_family_is_known():
    assert RECIPES and {name.split("/")[0] for name in RECIPES} <= set(TASKS)
    assert {"kitti_object", "s3dis"} == {_dataset(name) for name in ON_DATA_ROOT}


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_builds_its_model_and_data(name, runs_dir, one_thread):
    path = list_recipes("pointcloud")[name]
    assert path.read_text().splitlines()[0] == f"# recur-pointcloud fit --config {name}"
    cli = run_cli("pointcloud", ["--config", name], run=False)
    task, datamodule = TASKS[name.split("/")[0]]
    model, data = cli.model, cli.datamodule
    assert isinstance(model, task) and isinstance(data, datamodule)
    # a recipe names its dataset; where it lies comes from the data root (or the generator's cache)
    assert data.dataset_name == _dataset(name) and data.root is None
    torch.manual_seed(0)
    model.eval()
    with torch.no_grad():
        if isinstance(model, DetectionModule):
            # the detector the recipe describes runs: anchors on its BEV map, one class score per anchor and class
            assert tuple(model.hparams.classes) == tuple(data.classes)
            preds = model(*model.net.example_input(1))
            assert preds["cls"].shape[:3] == preds["box"].shape[:3] and preds["cls"].shape[0] == 1
            assert preds["cls"].shape[-1] % len(data.classes) == 0 and preds["box"].shape[-1] % 7 == 0
        else:
            # the parser the recipe describes labels a room by each method
            room = torch.cat([torch.rand(300, 3) * 5, torch.randint(0, 256, (300, 3)).float()], 1)
            labels, windows, _ = model.parse_room(room)
            assert set(labels) == set(METHODS) and windows.shape == (model.hparams.num_classes, 6)
            assert all(len(v) == 300 and int(v.max()) < data.num_classes for v in labels.values())


@pytest.mark.parametrize("name", ON_DATA_ROOT)
def test_a_recipe_without_its_data_under_the_data_root_is_one_line(name, tmp_path, monkeypatch, runs_dir, capsys):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty_data_root"))
    with pytest.raises(SystemExit) as exited:
        console_main("pointcloud", ["fit", "--config", name])
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and message.startswith("recur-pointcloud: error:") and "\n" not in message
    assert f"dataset {_dataset(name)!r} not found under {tmp_path / 'empty_data_root'}" in message, message


@pytest.mark.parametrize("name", ON_DATA_ROOT)
def test_a_recipe_reads_its_data_from_the_data_root(name, runs_dir):
    dataset = _dataset(name)
    state, folder = dataset_status(dataset)
    if dataset == "kitti_object":
        if not (folder / "training" / "velodyne").is_dir():
            pytest.skip(f"no KITTI object frames under {folder}")
        # every frame in training/velodyne: the split files are fetched apart from the frames
        cli = run_cli("pointcloud", ["--config", name, "--data.test_split", "all"], run=False)
        frame = cli.datamodule.dataset("test")[0]
        assert frame["points"].ndim == 2 and frame["points"].shape[1] == 4 and len(frame["points"]) > 1000
        with torch.no_grad():
            preds = cli.model.eval()([frame["points"]])
        assert torch.isfinite(preds["cls"]).all()
    else:
        if state == "missing":
            pytest.skip(f"no S3DIS under {folder}")
        cli = run_cli("pointcloud", ["--config", name], run=False)
        assert len(cli.datamodule.dataset("test")) > 0
