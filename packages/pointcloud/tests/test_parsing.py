"""3DCNN-DQN-RNN scene parsing: sequences cut along the scan order, window averaging, the sliding tiles, a tiny
fit and test through the CLI (the model and its baselines logged and printed), and one-line errors."""

import csv

import pytest
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_pointcloud.models.dqn_rnn import WHOLE_ROOM, ResidualRNNLabeller, normalise_room, voxelize_windows
from recur_pointcloud.parsing import (
    RoomsData,
    SceneParsingModule,
    label_sequences,
    mean_over_windows,
    pack_sequences,
    sliding_windows,
)

TINY = [
    "--data.rooms_per_area", "1", "--data.points_per_room", "1000", "--data.max_points", "300",
    "--data.batch_size", "3", "--model.grid", "8", "--model.cnn_width", "4", "--model.feature_dim", "8",
    "--model.d_model", "8", "--model.n_layers", "1", "--model.q_hidden", "16", "--model.sequence_length", "64",
    "--model.random_windows", "1", "--model.labeller_epochs", "1", "--model.dqn_steps_per_room", "15",
    "--model.search_steps", "4", "--model.learning_starts", "10", "--model.dqn_batch_size", "8",
    "--trainer.max_epochs", "2",
]  # fmt: skip


def test_sliding_windows_tile_the_room():
    tiles = sliding_windows((2, 1, 3))
    assert tiles.shape == (6, 6)
    torch.testing.assert_close(tiles[0], torch.tensor([0.25, 0.5, 1 / 6, 0.5, 1.0, 1 / 3]))
    room = normalise_room(torch.rand(200, 6) * 5)
    pairs = voxelize_windows(room, tiles, grid=4)
    assert set(pairs.point.tolist()) == set(range(200))


def test_sequences_follow_each_windows_scan_order_in_pieces():
    room = normalise_room(torch.rand(50, 6))
    windows = torch.tensor([WHOLE_ROOM, (0.25, 0.5, 0.5, 0.5, 1, 1), (0.05, 0.05, 0.05, 0.01, 0.01, 0.01)])
    pairs = voxelize_windows(room, windows, grid=4)
    sequences = pack_sequences(pairs, 3, length=16)
    counts = torch.bincount(pairs.window, minlength=3)
    assert counts[0] == 50 and counts[2] == 0
    # 50 points -> 16 + 16 + 16 + 2; the half room's points likewise; the empty window has no sequence
    expected = [16, 16, 16, 2] + [16] * (int(counts[1]) // 16) + ([int(counts[1]) % 16] if counts[1] % 16 else [])
    assert sequences.lengths.tolist() == expected
    assert sequences.window.tolist() == [0] * 4 + [1] * (len(expected) - 4)
    # reading the pairs back by (sequence, position) gives the scan order
    key = sequences.sequence * 16 + sequences.position
    assert torch.equal(torch.argsort(key), pairs.order)


def test_label_sequences_matches_one_sequence_per_window():
    # an RNN over a window cut into pieces of 1000 points (one piece) reads the same as the labeller on it
    torch.manual_seed(0)
    room = normalise_room(torch.rand(40, 6))
    pairs = voxelize_windows(room, torch.tensor([WHOLE_ROOM]), grid=4)
    labeller = ResidualRNNLabeller(num_classes=5, window_feature_dim=3, voxel_feature_dim=2, d_model=8).eval()
    features = torch.cat([pairs.local, room[pairs.point]], 1)
    window_feature, voxel_features = torch.rand(1, 3), torch.rand(40, 2)
    logits = label_sequences(labeller, features, pack_sequences(pairs, 1, 1000), window_feature, voxel_features)
    order = pairs.order
    direct = labeller(features[order][None], torch.tensor([40]), window_feature, voxel_features[order][None])[0]
    torch.testing.assert_close(logits[order], direct)


def test_mean_over_windows_averages_and_marks_coverage():
    probabilities = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    mean, count = mean_over_windows(probabilities, torch.tensor([0, 0, 2]), 3)
    torch.testing.assert_close(mean, torch.tensor([[0.5, 0.5], [0.0, 0.0], [0.5, 0.5]]))
    assert count.tolist() == [2, 0, 1]


def test_miou_is_over_the_classes_present():
    metric = MulticlassJaccardIndex(4, average="none", zero_division=float("nan"))
    metric.update(torch.tensor([0, 1, 1, 3]), torch.tensor([0, 1, 3, 3]))
    iou = metric.compute()
    assert torch.isnan(iou[2]) and torch.allclose(iou[[0, 1, 3]], torch.tensor([1.0, 0.5, 0.5]))


@pytest.mark.parametrize("name", ["dqn_rnn/s3dis", "dqn_rnn/synthetic_rooms"])
def test_every_recipe_builds_and_names_its_data(name, runs_dir):
    path = list_recipes("pointcloud")[name]
    assert path.read_text().splitlines()[0] == f"# recur-pointcloud fit --config {name}"
    cli = run_cli("pointcloud", ["--config", name], run=False)
    assert isinstance(cli.model, SceneParsingModule) and isinstance(cli.datamodule, RoomsData)
    # a recipe names its dataset; where it lies comes from the data root (or the generator's cache)
    assert cli.datamodule.dataset_name == name.split("/")[1] and cli.datamodule.root is None


def test_a_tiny_fit_and_test_through_the_cli(runs_dir, one_thread, capsys):
    schedule = ["--model.scheduler", "cosine"]
    console_main("pointcloud", ["fit", "--config", "dqn_rnn/synthetic_rooms", *TINY, *schedule])
    [run] = (runs_dir / "pointcloud" / "dqn_rnn" / "synthetic_rooms").iterdir()
    # the cosine ends with the labeller epoch (2 of the 4 batches of the fit), not with the DQN's epoch
    [labellers] = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["lr_schedulers"]
    assert labellers["last_epoch"] == 2 and labellers["_last_lr"] == [0.0]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    logged = {name for row in rows for name, value in row.items() if value}
    assert {"train/loss_cnn_epoch", "train/loss_rnn_epoch", "train/loss_rnn_only_epoch", "train/epsilon"} <= logged
    assert {"val/miou", "val/miou_cnn", "val/miou_rnn", "val/miou_sliding", "val/oa_cnn", "val/dqn_coverage"} <= logged
    assert {"val/dqn_iou", "val/room_iou"} <= logged
    best = run / "checkpoints" / "best.ckpt"
    assert best.is_file()
    capsys.readouterr()
    # the class-wise windows fill in for the sliding ones, or join them
    for combine in ("fill", "mean"):
        test = ["test", "--config", "dqn_rnn/synthetic_rooms", *TINY, *schedule, "--model.combine", combine]
        console_main("pointcloud", [*test, "--ckpt_path", str(best)])
    printed = capsys.readouterr().out
    assert "3DCNN-DQN-RNN" in printed and "3D CNN only" in printed and "RNN only" in printed
    tested = [p for p in (runs_dir / "pointcloud" / "dqn_rnn" / "synthetic_rooms").iterdir() if p != run]
    assert len(tested) == 2
    # the test-time choice is the command line's, not the checkpoint's
    combined = {line.strip() for folder in tested for line in (folder / "config.yaml").read_text().splitlines()}
    assert {"combine: fill", "combine: mean"} <= combined
    for folder in tested:
        scores = [row for row in csv.DictReader((folder / "metrics.csv").open()) if row.get("test/miou")]
        assert 0 <= float(scores[0]["test/miou"]) <= 1 and float(scores[0]["test/iou_floor_cnn"]) >= 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["--trainer.max_epochs", "1"], "leaves no epoch for the DQN"),
        (["--model.tiles", "[2, 0, 1]"], "tiles must be three counts"),
        (["--model.combine", "max"], "combine"),
        (["--data.dataset", "s3dis", "--data.root", "/no/such/s3dis"], "/no/such/s3dis"),
    ],
)
def test_bad_options_are_one_line(override, message, runs_dir, capsys):
    with pytest.raises(SystemExit) as exited:
        console_main("pointcloud", ["fit", "--config", "dqn_rnn/synthetic_rooms", *TINY, *override])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "\n" not in err and message in err, err
