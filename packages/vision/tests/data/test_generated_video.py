import time

import numpy as np
import pytest

from recur_vision.data.generated_video import (
    ACTION_CLASSES,
    REVERSED_CLASSES,
    render_action_video,
    write_generated_ucf101,
    write_video,
)
from recur_vision.data.video import VideoClips, read_ucf101_split, read_video_frames


def test_classes_of_motion():
    assert len(ACTION_CLASSES) >= 10 and len(set(ACTION_CLASSES)) == len(ACTION_CLASSES)
    video = render_action_video("Bounce", frames=12, size=32, seed=1)
    assert video.shape == (12, 32, 32, 3) and video.dtype == np.uint8
    # the scene moves: consecutive frames differ
    assert np.abs(np.diff(video.astype(np.int16), axis=0)).mean() > 1


def test_deterministic_for_a_seed():
    for action in ACTION_CLASSES:
        a = render_action_video(action, frames=8, size=32, seed=5)
        np.testing.assert_array_equal(a, render_action_video(action, frames=8, size=32, seed=5))
        assert not np.array_equal(a, render_action_video(action, frames=8, size=32, seed=6))


@pytest.mark.parametrize(("reversed_class", "forward"), sorted(REVERSED_CLASSES.items()))
def test_paired_classes_differ_only_in_the_order_of_frames(reversed_class, forward):
    backward = render_action_video(reversed_class, frames=16, size=32, seed=3)
    ahead = render_action_video(forward, frames=16, size=32, seed=3)
    np.testing.assert_array_equal(backward, ahead[::-1])
    # the same set of frames: no single frame tells the two classes apart
    as_set = lambda v: sorted(f.tobytes() for f in v)  # noqa: E731
    assert as_set(backward) == as_set(ahead)
    assert not np.array_equal(backward, ahead)


def test_motion_goes_the_named_way():
    # on clean renders (same scene, no jitter or noise) the pixels that change are the moving object's
    def centre(action, seed, axis):
        video = render_action_video(action, frames=16, size=64, seed=seed, clean=True).astype(np.float32)
        moving = np.abs(video - np.median(video, axis=0)).sum(-1) > 40
        coords = np.arange(64, dtype=np.float32)
        counts = moving.sum(axis=(1, 2))
        return (moving.sum(axis=1 if axis == "x" else 2) * coords).sum(-1) / np.maximum(counts, 1)

    for seed in range(3):
        assert np.diff(centre("MoveLeft", seed, "x")).mean() < -1
        assert np.diff(centre("MoveRight", seed, "x")).mean() > 1
        assert np.diff(centre("MoveUp", seed, "y")).mean() < -1
        assert np.diff(centre("MoveDown", seed, "y")).mean() > 1
    noisy = render_action_video("Grow", frames=8, size=32, seed=1)
    assert not np.array_equal(noisy, render_action_video("Grow", frames=8, size=32, seed=1, clean=True))


def test_written_in_the_ucf101_layout_and_read_back(tmp_path):
    start = time.perf_counter()
    folder = write_generated_ucf101(tmp_path / "gen", videos_per_class=3, frames=16, size=32, seed=2)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"writing 39 short videos took {elapsed:.1f} s"
    train = read_ucf101_split(folder, 1, "train")
    test = read_ucf101_split(folder, 1, "test")
    assert train.classes == ACTION_CLASSES
    assert len(train.entries) == 2 * len(ACTION_CLASSES) and len(test.entries) == len(ACTION_CLASSES)
    assert sorted(train.labels.tolist() + test.labels.tolist()) == sorted(list(range(len(ACTION_CLASSES))) * 3)
    entry = test.entries[4]
    assert entry.path.suffix == ".mp4" and entry.name == f"{ACTION_CLASSES[4]}/v_{ACTION_CLASSES[4]}_g01_c01.mp4"
    decoded = read_video_frames(entry.path).astype(np.float32)
    rendered = render_action_video(ACTION_CLASSES[4], 16, 32, np.random.default_rng([2, 4, 0]))
    assert decoded.shape == rendered.shape
    assert np.abs(decoded - rendered).mean() < 12
    clip, label = VideoClips(train.entries, clip_len=8, train=True, crop_size=28)[(0, 5)]
    assert clip.shape == (8, 3, 28, 28) and label == train.entries[5].label


def test_same_seed_same_files_and_reuse(tmp_path):
    a = write_generated_ucf101(tmp_path / "a", videos_per_class=2, frames=6, size=32, seed=4)
    b = write_generated_ucf101(tmp_path / "b", videos_per_class=2, frames=6, size=32, seed=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    stamp = (a / "UCF-101" / "Grow" / "v_Grow_g01_c01.mp4").stat().st_mtime_ns
    write_generated_ucf101(tmp_path / "a", videos_per_class=2, frames=6, size=32, seed=4)
    assert (a / "UCF-101" / "Grow" / "v_Grow_g01_c01.mp4").stat().st_mtime_ns == stamp


def test_mpeg4_files_are_the_same_bytes_every_time(tmp_path):
    video = render_action_video("Shrink", frames=10, size=32, seed=8)
    paths = [write_video(tmp_path / f"{i}.mp4", video) for i in range(4)]
    assert len({p.read_bytes() for p in paths}) == 1
    assert np.abs(read_video_frames(paths[0]).astype(np.float32) - video).mean() < 12
    # H.264 on request: close to the rendered frames (x264 is not bit-exact from run to run)
    h264 = write_video(tmp_path / "h264.mp4", video, codec="libx264")
    assert np.abs(read_video_frames(h264).astype(np.float32) - video).mean() < 12


def test_bad_arguments(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    for call, match in [
        (lambda: write_generated_ucf101(tmp_path / "used", 2, 6, 32), "is not empty"),
        (lambda: write_generated_ucf101(tmp_path / "x", 1), "videos_per_class must be >= 2"),
        (lambda: render_action_video("Juggle"), "unknown action 'Juggle'"),
        (lambda: write_video(tmp_path / "odd.mp4", np.zeros((2, 5, 6, 3), np.uint8)), "must be even"),
        (lambda: write_video(tmp_path / "f.mp4", np.zeros((2, 4, 4, 3), np.float32)), "must be uint8"),
    ]:
        with pytest.raises(ValueError, match=match) as info:
            call()
        assert "\n" not in str(info.value)
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"
