"""VideoData and FeatureData on tiny generated videos, and ``recur-vision extract`` (files, formats, errors)."""

from pathlib import Path

import pytest
import torch

from recur_vision.datamodules import FeatureData, VideoData, collate_video_clips, generated_video_folder
from recur_vision.extract import (
    extract_features,
    feature_file_name,
    frame_feature_extractor,
    main,
    read_feature_file,
    write_feature_file,
)

TINY = dict(videos_per_class=2, video_frames=24, video_size=32)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """13 classes x 2 generated videos of 24 frames, 32 x 32 (one train and one test video per class)."""
    return generated_video_folder(str(tmp_path_factory.mktemp("videos") / "gen"), 2, 24, 32, 0)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "recur" / "generated"


def test_video_data_gives_random_training_clips_and_every_test_clip(videos, one_thread):
    data = VideoData(folder=str(videos), crop_size=28, batch_size=4, **TINY)
    data.setup("fit")
    assert data.num_classes == 13 and len(data.dataset("train")) == 13 and len(data.dataset("val")) == 13
    batch = next(iter(data.train_dataloader()))
    assert batch["clips"].shape == (4, 16, 3, 28, 28) and batch["video"].tolist() == [0, 1, 2, 3]
    # the same item of the same epoch is drawn the same way, another epoch differently
    train = data.dataset("train")
    torch.testing.assert_close(train[(3, 5)][0], train[(3, 5)][0])
    assert not torch.equal(train[(3, 5)][0], train[(4, 5)][0])
    # 24 frames: test clips start at 0 and 8
    val = next(iter(data.val_dataloader()))
    assert val["clips"].shape == (8, 16, 3, 28, 28) and val["video"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert val["labels"].shape == (4,)
    # validation reads the test list: one dataset for both
    assert data.dataset("val") is data.dataset("test")
    # a mirror swaps the generated classes (left/right), so the generated videos are never flipped;
    # their frames stay in memory after the first read
    assert data.flip is False and train.flip is False and train.cache_frames
    ucf = VideoData(dataset="ucf101")
    assert ucf.flip is True and ucf.cache_frames is False


def test_collate_mixes_videos_of_different_clip_counts():
    items = [(torch.zeros(3, 2, 3, 4, 4), 1), (torch.zeros(1, 2, 3, 4, 4), 0)]
    batch = collate_video_clips(items)
    assert (
        batch["clips"].shape[0] == 4 and batch["video"].tolist() == [0, 0, 0, 1] and batch["labels"].tolist() == [1, 0]
    )


def test_feature_data_computes_caches_and_reuses_the_features(videos, cache, one_thread):
    data = FeatureData(folder=str(videos), batch_size=5, **TINY)
    data.setup("fit")
    assert (data.feature_dim, data.num_classes) == (2048, 13)
    features, labels = next(iter(data.train_dataloader()))
    assert features.shape == (5, 2048, 25) and labels.dtype == torch.int64
    folder = data.feature_folder()
    assert folder.is_relative_to(cache) and (folder / feature_file_name("train", "small")).is_file()
    stamp = (folder / feature_file_name("test", "small")).stat().st_mtime_ns
    again = FeatureData(folder=str(videos), **TINY)
    again.setup("test")
    assert (folder / feature_file_name("test", "small")).stat().st_mtime_ns == stamp
    torch.testing.assert_close(again.dataset("test").features, data.dataset("test").features)
    # standardised: every row zero-mean, unit-deviation over the training videos and frames; the test
    # split moved by the training statistics, not its own
    scaled = FeatureData(folder=str(videos), standardize=True, **TINY)
    scaled.setup("fit")
    raw, train = data.dataset("train").features, scaled.dataset("train").features
    varying = raw.std((0, 2)) > 1e-3
    torch.testing.assert_close(train.mean((0, 2))[varying], torch.zeros(int(varying.sum())), atol=1e-4, rtol=0)
    torch.testing.assert_close(train.std((0, 2))[varying], torch.ones(int(varying.sum())), atol=1e-4, rtol=0)
    mean, std = raw.mean((0, 2), keepdim=True), raw.std((0, 2), keepdim=True)
    restored = scaled.dataset("test").features * std + mean
    torch.testing.assert_close(restored[:, varying], data.dataset("test").features[:, varying], atol=1e-5, rtol=1e-4)


def test_extract_writes_pt_and_npy_that_read_back(videos, tmp_path, capsys, one_thread):
    assert main(["--folder", str(videos), "--out", str(tmp_path / "pt")]) == 0
    content = read_feature_file(tmp_path / "pt" / "feat_train_small_25f_sp1.pt")
    assert content["features"].shape == (13, 2048, 25) and content["labels"].tolist() == list(range(13))
    assert content["names"][0] == "MoveLeft/v_MoveLeft_g02_c01.mp4" and len(content["classes"]) == 13
    assert main(["--folder", str(videos), "--out", str(tmp_path / "npy"), "--format", "npy", "--num_frames", "25"]) == 0
    npy = read_feature_file(tmp_path / "npy" / "feat_train_small_25f_sp1.npy")
    torch.testing.assert_close(npy["features"], content["features"])
    # FeatureData reads a folder of extract's files
    data = FeatureData(folder=str(videos), features_dir=str(tmp_path / "npy"), **TINY)
    data.setup("test")
    torch.testing.assert_close(
        data.dataset("test").features, read_feature_file(tmp_path / "pt" / "feat_test_small_25f_sp1.pt")["features"]
    )
    assert "train: " in capsys.readouterr().out


def test_any_torchvision_backbone_and_a_seeded_initialisation(videos, one_thread):
    from recur_vision.data.video import read_ucf101_split

    entries = read_ucf101_split(videos, 1, "test").entries[:2]
    features = extract_features(entries, frame_feature_extractor("resnet18"), num_frames=5)
    assert features.shape == (2, 512, 5)
    again = extract_features(entries, frame_feature_extractor("resnet18"), num_frames=5)
    torch.testing.assert_close(features, again)


def test_bad_input_is_one_line(videos, tmp_path, capsys):
    assert main(["--folder", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("recur-vision extract: error: --folder") and "\n" not in error
    assert main(["--folder", str(videos), "--backbone", "nonet", "--out", str(tmp_path / "o")]) == 2
    assert "unknown backbone 'nonet'" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="not a feature file"):
        read_feature_file(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="features \\[N, D, T\\]"):
        write_feature_file(tmp_path / "x.pt", torch.zeros(2, 3), [0, 1], ["a", "b"], ["A"], "small")
    with pytest.raises(ValueError, match="dataset must be 'generated'"):
        VideoData(dataset="kinetics")
    with pytest.raises(ValueError, match=r"--data\.split 1"):
        FeatureData(split=2)
    data = FeatureData(folder=str(videos), features_dir=str(tmp_path / "empty"), **TINY)
    with pytest.raises(FileNotFoundError, match="recur-vision extract"):
        data.setup("fit")
    with pytest.raises(FileNotFoundError, match=r"recur data fetch|UCF101"):
        VideoData(dataset="ucf101", root=str(tmp_path)).setup("fit")
