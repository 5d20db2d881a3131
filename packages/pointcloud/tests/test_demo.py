"""``recur demo pointcloud``: each part on a tiny setting (numbers finite and in range, the figures written), the
entry point, and the whole demo (slow)."""

import math
from importlib.metadata import entry_points

import pytest

from recur_pointcloud.demo import (
    OPERATORS,
    detection_data,
    main,
    run_detection_demo,
    run_parsing_demo,
    run_throughput_demo,
)
from recur_pointcloud.parsing import METHODS

TINY_ROOMS = {"rooms_per_area": 1, "points_per_room": 1000, "max_points": 200}
TINY_PARSER = {"grid": 8, "cnn_width": 4, "feature_dim": 8, "d_model": 8, "n_layers": 1, "q_hidden": 16}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The generated rooms and LiDAR frames go to a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_demo_is_registered():
    [demo] = entry_points(group="recur.demos", name="pointcloud")
    assert demo.value == "recur_pointcloud.demo:main" and demo.load() is main


def test_parsing_demo_scores_the_model_beside_its_baselines(cache, tmp_path, one_thread):
    parsing = run_parsing_demo(
        labeller_epochs=1, dqn_steps_per_room=4, rooms=TINY_ROOMS, parser=TINY_PARSER, out=tmp_path
    )
    assert set(parsing["scores"]) == set(METHODS)
    for miou, oa in parsing["scores"].values():
        assert 0 <= miou <= 1 and 0 <= oa <= 1
    assert 0 <= parsing["dqn_iou"] <= 1 and 0 < parsing["room_iou"] <= 1
    assert parsing["train_rooms"] == 2 and parsing["test_points"] == 200
    assert parsing["figure"] == tmp_path / "dqn_rnn_room.png" and parsing["figure"].stat().st_size > 10_000


def test_lion_demo_times_every_operator_then_trains_and_draws(cache, tmp_path, one_thread):
    data = detection_data(frames=4)
    rows = run_throughput_demo(data, operators=("mamba", "gla"), repeats=1)
    assert [row["operator"] for row in rows] == ["mamba", "gla"] and rows[0]["vs_first"] == 1
    for row in rows:
        assert row["voxels"] > 100 and row["seconds"] > 0
        assert row["voxels_per_s"] == pytest.approx(row["voxels"] / row["seconds"])
    detection = run_detection_demo(data, epochs=1, out=tmp_path / "figures")
    # 4 frames: 3 train (batch 1), 1 val
    assert detection["steps"] == 3 and detection["val_frames"] == 1 and detection["val_cars"] >= 1
    assert math.isfinite(detection["loss_first"]) and math.isfinite(detection["loss_last"])
    assert 0 <= detection["ap_3d"] <= 100 and 0 <= detection["ap_bev"] <= 100 and detection["detections"] >= 0
    [figure] = detection["figures"]
    assert figure.parent == tmp_path / "figures" and figure.stat().st_size > 10_000
    assert "attention" in OPERATORS and "mamba" in OPERATORS


@pytest.mark.slow
def test_the_demo_prints_both_parts_and_writes_its_figures(cache, runs_dir, capsys):
    results = main()
    out = capsys.readouterr().out
    for row in ("3DCNN-DQN-RNN ", "3D CNN only ", "RNN only ", *(f"\n{op} " for op in OPERATORS), "Car AP_R40"):
        assert row in out, row
    assert {path.name for path in (runs_dir / "demo" / "pointcloud").iterdir()} >= {"dqn_rnn_room.png"}
    assert all(path.is_file() for path in results["detection"]["figures"])
    (model, _), (cnn, _) = results["parsing"]["scores"]["dqn_rnn"], results["parsing"]["scores"]["cnn"]
    assert model > cnn, results["parsing"]["scores"]
