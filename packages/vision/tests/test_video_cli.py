"""The video recipes through the CLI: fit for a few steps, then test from the checkpoint; one-line errors."""

import pytest
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_vision.datamodules import FeatureData, generated_video_folder
from recur_vision.task import FeatureClassificationModule, VideoClassificationModule

VIDEO_RECIPES = ["lrcn/activity", "lrcn/single_frame", "tslstm/features", "temporal_inception/features"]
FEW = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The recipes' generated videos, tiny: 2 per class, 16 frames, 32 x 32."""
    return str(generated_video_folder(str(tmp_path_factory.mktemp("videos") / "gen"), 2, 16, 32, 0))


def tiny_data(videos):
    return [
        "--data.folder",
        videos,
        "--data.videos_per_class",
        "2",
        "--data.video_size",
        "32",
        "--data.batch_size",
        "4",
    ]


@pytest.mark.parametrize("recipe", VIDEO_RECIPES)
def test_recipes_open_with_their_command_and_use_the_embedded_videos(recipe):
    path = list_recipes("vision")[recipe]
    assert path.read_text().splitlines()[0].startswith(f"# recur-vision fit --config {recipe}")
    config = yaml.safe_load(path.read_text())
    assert config["data"]["init_args"]["dataset"] == "generated" and config["trainer"]["max_epochs"] >= 1


def test_single_frame_then_lrcn_from_it_then_test(videos, runs_dir, one_thread):
    small = ["--data.crop_size", "28", "--model.model_kwargs.fc6_dim", "16", *tiny_data(videos)]
    first = run_cli("vision", ["fit", "--config", "lrcn/single_frame", *FEW, *small])
    assert isinstance(first.model, VideoClassificationModule) and first.model.hparams.model == "lrcn_single_frame"
    stage_one = first.run_dir / "checkpoints" / "last.ckpt"
    assert stage_one.is_file() and (first.run_dir / "metrics.csv").is_file()

    init = ["--model.init_from", str(stage_one)]
    second = run_cli("vision", ["fit", "--config", "lrcn/activity", *FEW, *small, *init])
    # the frame encoder started from stage one's (the LSTM head at random)
    assert second.model.hparams.model == "lrcn" and second.run_dir != first.run_dir
    tested = run_cli(
        "vision",
        [
            "test",
            "--config",
            "lrcn/activity",
            *small,
            *init,
            "--ckpt_path",
            str(second.run_dir / "checkpoints" / "last.ckpt"),
        ],
    )
    result = tested.trainer.callback_metrics
    for name in (
        "test/acc",
        "test/clip_acc",
        "test/loss",
        "test/acc_lrcn_single_frame",
        "test/acc_majority",
        "test/acc_chance",
        "test/acc_frames_shuffled",
    ):
        assert name in result, name
    assert float(result["test/acc_chance"]) == pytest.approx(1 / 13)
    # the single-frame network ignores the order of frames: shuffling them changes nothing
    alone = run_cli(
        "vision",
        ["test", "--config", "lrcn/single_frame", *small, "--ckpt_path", str(stage_one)],
    ).trainer.callback_metrics
    assert float(alone["test/acc_frames_shuffled"]) == pytest.approx(float(alone["test/acc"]))
    assert "test/acc_lrcn_single_frame" not in alone and "test/acc_majority" in alone


def test_encoder_is_copied_from_the_single_frame_checkpoint(videos, runs_dir, tmp_path, monkeypatch, one_thread):
    small = ["--data.crop_size", "28", "--model.model_kwargs.fc6_dim", "16", *tiny_data(videos)]
    first = run_cli("vision", ["fit", "--config", "lrcn/single_frame", *FEW, *small])
    stage_one = first.run_dir / "checkpoints" / "last.ckpt"
    kwargs = {"fc6_dim": 16, "cnn_channels": [16, 32, 64]}  # as the recipe's
    module = VideoClassificationModule(model="lrcn", model_kwargs=kwargs, init_from=str(stage_one))
    module.load_encoder(stage_one)
    for key, value in first.model.net.encoder.state_dict().items():
        assert module.net.encoder.state_dict()[key].equal(value), key
    # the trained frame CNN extracts the feature matrices (as the paper's fine-tuned CNN)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = FeatureData(folder=videos, extractor_ckpt=str(stage_one), videos_per_class=2, video_frames=16, video_size=32)
    data.setup("test")
    assert data.feature_dim == first.model.net.encoder.cnn_dim and data.tag == "ckpt"
    assert data.feature_folder().name.startswith("ckpt-")


@pytest.mark.parametrize("recipe", ["tslstm/features", "temporal_inception/features"])
def test_feature_recipes_fit_then_test_with_the_baselines(recipe, videos, runs_dir, tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fitted = run_cli("vision", ["fit", "--config", recipe, *FEW, *tiny_data(videos)])
    assert isinstance(fitted.model, FeatureClassificationModule)
    tested = run_cli(
        "vision",
        [
            "test",
            "--config",
            recipe,
            *tiny_data(videos),
            "--ckpt_path",
            str(fitted.run_dir / "checkpoints" / "last.ckpt"),
        ],
    )
    result = tested.trainer.callback_metrics
    for name in ("test/acc", "test/loss", "test/acc_mean_pool_probe", "test/acc_majority", "test/acc_chance"):
        assert name in result, name


def test_user_mistakes_are_one_line(videos, runs_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cases = [
        (
            ["fit", "--config", "tslstm/features", *FEW, *tiny_data(videos), "--model.feature_dim", "100"],
            "--model.feature_dim 2048",
        ),
        (
            [
                "fit",
                "--config",
                "lrcn/activity",
                *FEW,
                *tiny_data(videos),
                "--model.init_from",
                str(tmp_path / "no.ckpt"),
            ],
            "no such file",
        ),
        (
            ["fit", "--config", "lrcn/activity", *FEW, "--data.dataset", "kinetics"],
            "--data.dataset: expected one of 'generated', 'ucf101'",
        ),
        (
            ["fit", "--config", "lrcn/single_frame", *FEW, *tiny_data(videos), "--model.num_classes", "5"],
            "--model.num_classes 13",
        ),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            console_main("vision", args)
        error = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and message in error and "\n" not in error, error
