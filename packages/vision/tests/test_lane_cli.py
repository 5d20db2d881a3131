"""The SCNN recipes through the CLI on a tiny generated road set: fit, resume, test; the real TuSimple sample;
one-line errors for bad lane data."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_vision.lanes import LaneData, LaneDetectionModule, generated_roads_folder

RECIPES = ["scnn/synthetic", "scnn/tusimple", "scnn/culane"]


@pytest.fixture(scope="module")
def roads(tmp_path_factory):
    """The recipe's generated roads, tiny: 6 training, 2 val and 3 test frames of 64 x 112."""
    return str(generated_roads_folder(str(tmp_path_factory.mktemp("roads") / "gen"), 6, 2, 3, (64, 112), 0))


def tiny(roads):
    return [
        *("--data.folder", roads, "--data.train_frames", "6", "--data.val_frames", "2", "--data.test_frames", "3"),
        *("--data.frame_size", "[64, 112]", "--data.batch_size", "3"),
        *("--model.model_kwargs.width", "0.0625", "--model.model_kwargs.neck_channels", "16"),
        *("--model.model_kwargs.channels", "8", "--model.model_kwargs.existence_hidden", "8"),
    ]


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipes_open_with_their_command(recipe):
    path = list_recipes("vision")[recipe]
    first = path.read_text().splitlines()[0]
    assert first.startswith(f"# recur-vision {'fit' if recipe == 'scnn/synthetic' else ''}") and recipe in first
    config = yaml.safe_load(path.read_text())
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert model["image_size"] == data["image_size"] and model["model_kwargs"]["message_passing"] == "scnn"
    assert data["dataset"] == recipe.removeprefix("scnn/").replace("synthetic", "generated")


def test_fit_then_test_writes_tusimple_predictions_and_subsets(roads, runs_dir, one_thread, capsys):
    fitted = run_cli("vision", ["fit", "--config", "scnn/synthetic", "--trainer.max_epochs", "1", *tiny(roads)])
    assert isinstance(fitted.model, LaneDetectionModule) and isinstance(fitted.datamodule, LaneData)
    assert {"train/loss", "val/acc", "val/fp", "val/fn", "val/score"} <= set(fitted.trainer.callback_metrics)
    checkpoint = fitted.run_dir / "checkpoints" / "last.ckpt"
    none = ["--model.model_kwargs.message_passing", "none", "--trainer.max_steps", "1"]
    baseline = run_cli("vision", ["fit", "--config", "scnn/synthetic", *tiny(roads), *none])
    baselines = ["--model.baselines", f"[{baseline.run_dir / 'checkpoints' / 'last.ckpt'}]"]
    tested = run_cli(
        "vision", ["test", "--config", "scnn/synthetic", *tiny(roads), *baselines, "--ckpt_path", str(checkpoint)]
    )
    result = tested.trainer.callback_metrics
    for name in ("test/acc", "test/fp", "test/fn", "test/f1", "test/acc_occluded", "test/acc_visible"):
        assert name in result and f"{name}_none" in result, name
    # the printed test line holds the baseline's scores beside the model's
    out = capsys.readouterr().out
    printed = [line for line in out.splitlines() if line.startswith("test ")][-1]
    assert "test/acc " in printed and "test/acc_none " in printed and "no baselines scored" not in out
    # and the untrained lane prior's (the mean training lanes), which needs no second run
    assert "test/acc_prior " in printed and "test/acc_occluded_prior" in result
    assert float(result["test/lanes_dashed"]) + float(result["test/lanes_solid"]) == float(
        result["test/lanes_occluded"]
    ) + float(result["test/lanes_visible"])
    lines = [json.loads(line) for line in (tested.run_dir / "lanes_test.json").read_text().splitlines()]
    labels = [json.loads(line) for line in (Path(roads) / "test_label.json").read_text().splitlines()]
    # the points behind a vehicle, scored for the model, the baseline and the prior when the test frames have any
    hidden = sum(flag for label in labels for lane in label["hidden"] for flag in lane)
    assert hidden > 0 and float(result["test/points_hidden"]) == hidden
    assert {"test/hit_hidden", "test/hit_hidden_none", "test/hit_hidden_prior"} <= set(result)
    assert [line["raw_file"] for line in lines] == [label["raw_file"] for label in labels]
    assert all(len(lane) == len(line["h_samples"]) and line["run_time"] > 0 for line in lines for lane in line["lanes"])


@pytest.mark.parametrize("baseline", ["none", "conv"])
def test_baselines_are_the_same_recipe(baseline, roads, runs_dir, one_thread):
    args = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--data.val_frames", "2"]
    fitted = run_cli(
        "vision",
        ["fit", "--config", "scnn/synthetic", *tiny(roads), *args, "--model.model_kwargs.message_passing", baseline],
    )
    kind = type(fitted.model.net.message_passing).__name__
    assert kind == {"none": "Identity", "conv": "ParallelSpatialConv"}[baseline]


def test_resume_is_exact(roads, runs_dir, one_thread):
    args = [*tiny(roads), "--model.scheduler", "constant", "--model.warmup_steps", "0"]
    whole = run_cli("vision", ["fit", "--config", "scnn/synthetic", "--trainer.max_epochs", "2", *args])
    first = run_cli("vision", ["fit", "--config", "scnn/synthetic", "--trainer.max_epochs", "1", *args])
    resumed = run_cli(
        "vision", ["fit", "--config", "scnn/synthetic", "--trainer.max_epochs", "2", "--ckpt_path", "last", *args]
    )
    assert resumed.run_dir == first.run_dir
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_tusimple_recipe_tests_a_synthetic_checkpoint_on_the_real_sample(
    roads, runs_dir, one_thread, monkeypatch, dataset_root, capsys
):
    tusimple = dataset_root("tusimple", "tusimple_sample_512x288/label_data.json")
    fitted = run_cli("vision", ["fit", "--config", "scnn/synthetic", "--trainer.max_steps", "1", *tiny(roads)])
    monkeypatch.setenv("RECUR_DATA", str(tusimple.parent))
    model = tiny(roads)[14:]  # the model options of the tiny run
    checkpoint = str(fitted.run_dir / "checkpoints" / "last.ckpt")
    tested = run_cli("vision", ["test", "--config", "scnn/tusimple", *model, "--ckpt_path", checkpoint])
    result = tested.trainer.callback_metrics
    assert {"test/acc", "test/fp", "test/fn"} <= set(result) and "test/acc_occluded" not in result
    # no --model.baselines: the test says how to score them beside the model
    assert "no baselines scored beside this model" in capsys.readouterr().out
    lines = (tested.run_dir / "lanes_test.json").read_text().splitlines()
    # the 10 frames of the 512 x 288 sample and the one 1280 x 720 test frame present
    assert len(lines) == 11


def _culane_folder(folder: Path, frames: int = 3) -> list[str]:
    """A CULane-layout folder: 1640 x 590 frames (plain grey), two lanes each, masks, lists, test splits."""
    from PIL import Image

    from recur_vision.data.culane import CULANE_TEST_SPLITS, culane_lines_path, write_culane_lines

    images = [f"driver_1/a.MP4/{i:05d}.jpg" for i in range(frames)]
    lanes = [np.array([[500.0, 589.0], [700.0, 289.0]]), np.array([[1200.0, 589.0], [900.0, 289.0]])]
    for image in images:
        (folder / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (1640, 590), (90, 90, 90)).save(folder / image)
        write_culane_lines(folder / culane_lines_path(image), lanes)
        mask = folder / "laneseg_label_w16" / image.replace(".jpg", ".png")
        mask.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (1640, 590), 0).save(mask)
    (folder / "list" / "test_split").mkdir(parents=True)
    for name in ("train_gt.txt", "val_gt.txt"):
        (folder / "list" / name).write_text("".join(f"/{i} /laneseg_label_w16/{i[:-4]}.png 0 1 1 0\n" for i in images))
    (folder / "list" / "test.txt").write_text("".join(f"/{image}\n" for image in images))
    for k, split in enumerate(CULANE_TEST_SPLITS):
        (folder / "list" / "test_split" / f"{split}.txt").write_text(f"{images[k % frames]}\n")
    return images


def test_culane_fit_then_test_writes_lines_files_and_split_scores(roads, runs_dir, tmp_path, one_thread):
    images = _culane_folder(tmp_path / "CULane")
    args = [*tiny(roads)[14:], "--data.folder", str(tmp_path / "CULane"), "--data.batch_size", "3"]
    fitted = run_cli("vision", ["fit", "--config", "scnn/culane", "--trainer.max_epochs", "1", *args])
    assert {"val/f1", "val/precision", "val/recall", "val/score"} <= set(fitted.trainer.callback_metrics)
    checkpoint = str(fitted.run_dir / "checkpoints" / "last.ckpt")
    tested = run_cli("vision", ["test", "--config", "scnn/culane", *args, "--ckpt_path", checkpoint])
    result = tested.trainer.callback_metrics
    assert {"test/f1", "test/f1_test0_normal", "test/f1_test8_night"} <= set(result)
    written = sorted((tested.run_dir / "lanes_test").rglob("*.lines.txt"))
    assert [str(p.relative_to(tested.run_dir / "lanes_test")) for p in written] == [
        image.replace(".jpg", ".lines.txt") for image in images
    ]
    # getLane's rows: 590 - 20 i written as y - 1
    for path in written:
        for line in path.read_text().splitlines():
            ys = [int(v) for v in line.split()[1::2]]
            assert all((589 - y) % 20 == 0 for y in ys), ys


def _one_line(capsys, argv, expected):
    with pytest.raises(SystemExit) as exit_info:
        console_main("vision", argv)
    message = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and expected in message and "\n" not in message, message


def _tusimple_folder(folder: Path, roads: str) -> Path:
    """A TuSimple-layout copy of the tiny roads' labels (frames referred to where they are)."""
    folder.mkdir()
    for name in ("label_data_0313.json", "label_data_0601.json", "label_data_0531.json", "test_label.json"):
        (folder / name).write_text((Path(roads) / name).read_text())
    (folder / "clips").symlink_to(Path(roads) / "clips")
    return folder


def test_bad_lane_data_is_one_line(roads, runs_dir, tmp_path, monkeypatch, capsys):
    fit = ["fit", "--config", "scnn/synthetic", "--trainer.max_steps", "1", *tiny(roads)]
    real = ["--data.dataset", "tusimple"]
    # a TuSimple line whose lanes and h_samples lengths differ
    bad = _tusimple_folder(tmp_path / "bad", roads)
    line = json.loads((bad / "label_data_0313.json").read_text().splitlines()[0])
    line["lanes"][0] = line["lanes"][0][:-1]
    (bad / "label_data_0313.json").write_text(json.dumps(line) + "\n")
    _one_line(capsys, [*fit, *real, "--data.folder", str(bad)], "label_data_0313.json:1: lane 0 has")
    # a label naming a frame that is not on disk
    missing = _tusimple_folder(tmp_path / "missing", roads)
    line = json.loads((missing / "label_data_0531.json").read_text().splitlines()[0])
    line["raw_file"] = "clips/0531/nowhere/20.jpg"
    (missing / "label_data_0531.json").write_text(json.dumps(line) + "\n")
    _one_line(capsys, [*fit, *real, "--data.folder", str(missing)], "frame clips/0531/nowhere/20.jpg")
    # a CULane list naming absent files
    culane = tmp_path / "CULane"
    (culane / "list").mkdir(parents=True)
    (culane / "list" / "train_gt.txt").write_text("/driver_1/a.MP4/00000.jpg /laneseg/00000.png 1 1 0 0\n")
    _one_line(capsys, [*fit, "--data.dataset", "culane", "--data.folder", str(culane)], "driver_1/a.MP4/00000.jpg")
    # no TuSimple or CULane under the data root: the message names the fix
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty"))
    _one_line(capsys, [*fit, *real, "--data.folder", "null"], "<data root>/tusimple")
    _one_line(capsys, ["test", "--config", "scnn/tusimple"], "tusimple-benchmark")
    _one_line(capsys, ["test", "--config", "scnn/culane"], "xingangpan.github.io/projects/CULane.html")
    # the model's input differs from the data's
    _one_line(capsys, [*fit, "--model.image_size", "[64, 112]"], "--model.image_size")


def test_a_bad_baseline_checkpoint_is_named_by_its_option(tmp_path):
    module = LaneDetectionModule()
    with pytest.raises(FileNotFoundError, match=r"^--model\.baselines .*absent\.ckpt: no such file$"):
        module._load_baseline(str(tmp_path / "absent.ckpt"))
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"^--model\.baselines .*notes\.ckpt: not a recur checkpoint$"):
        module._load_baseline(str(text))
