from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from recur_core.data import DatasetNotFoundError
from recur_vision.data.video import (
    VideoClips,
    crop_and_flip,
    lrcn_clip_indices,
    lrcn_test_clip_starts,
    read_class_index,
    read_split_list,
    read_ucf101_split,
    read_video_frames,
    sample_crop,
    tslstm_frame_indices,
    ucf101_split,
    video_frame_count,
)

CLASSES = ("ApplyEyeMakeup", "YoYo")
FRAMES = 20
SIDE = 32


def grey_frames(count: int = FRAMES, side: int = SIDE) -> np.ndarray:
    """Frame i is a flat grey of level 10 * i, so a decoded frame tells its index."""
    return np.repeat((np.arange(count, dtype=np.uint8) * 10)[:, None, None, None], side * side * 3).reshape(
        count, side, side, 3
    )


def write_mp4(path: Path, frames: np.ndarray) -> Path:
    """A real H.264 .mp4, encoded with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "0"}
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_frames(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, array in enumerate(frames):
        Image.fromarray(array).save(folder / f"{i + 1}.png")
    return folder


def write_ucf(root: Path, frames_folders: bool = False, train_lines=None, test_lines=None) -> Path:
    """A two-class UCF101-layout folder: two videos per class, group 1 tests, group 2 trains."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    for c in CLASSES:
        for g in (1, 2):
            name = f"v_{c}_g{g:02d}_c01"
            if frames_folders:
                write_frames(root / "UCF-101" / c / name, grey_frames())
            else:
                write_mp4(root / "UCF-101" / c / f"{name}.mp4", grey_frames())
    if train_lines is None:
        train_lines = [f"{c}/v_{c}_g02_c01.mp4 {i + 1}" for i, c in enumerate(CLASSES)]
    if test_lines is None:
        test_lines = [f"{c}/v_{c}_g01_c01.mp4" for c in CLASSES]
    (lists / "trainlist01.txt").write_text("\n".join(train_lines) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test_lines) + "\n")
    return root


def one_line_error(kind, call, match):
    with pytest.raises(kind, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


# the layout


def test_reads_both_subsets_of_a_split(tmp_path):
    root = write_ucf(tmp_path)
    train = read_ucf101_split(root, 1, "train")
    assert train.classes == CLASSES
    assert [e.name for e in train.entries] == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.mp4", "YoYo/v_YoYo_g02_c01.mp4"]
    assert train.labels.tolist() == [0, 1]
    test = read_ucf101_split(root, 1, "test")
    assert test.labels.tolist() == [0, 1]
    assert test.entries[1].path == root / "UCF-101" / "YoYo" / "v_YoYo_g01_c01.mp4"


def test_split_files_may_sit_in_the_folder_itself(tmp_path):
    root = write_ucf(tmp_path)
    for f in (root / "ucfTrainTestlist").iterdir():
        f.rename(root / f.name)
    assert len(read_ucf101_split(root, 1, "test").entries) == 2


def test_frames_folders_stand_for_videos(tmp_path):
    root = write_ucf(tmp_path, frames_folders=True)
    entry = read_ucf101_split(root, 1, "train").entries[0]
    assert entry.path.is_dir() and entry.path.name == "v_ApplyEyeMakeup_g02_c01"
    assert video_frame_count(entry.path) == FRAMES
    # natural order: 10.png after 9.png
    np.testing.assert_array_equal(read_video_frames(entry.path, [9, 10, 19])[:, 0, 0, 0], [90, 100, 190])


# decoding


def test_decodes_a_real_mp4(tmp_path):
    path = write_mp4(tmp_path / "clip.mp4", grey_frames())
    assert video_frame_count(path) == FRAMES
    frames = read_video_frames(path)
    assert frames.shape == (FRAMES, SIDE, SIDE, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(frames.mean(axis=(1, 2, 3)), np.arange(FRAMES) * 10, atol=3)
    some = read_video_frames(path, [7, 3, 3])
    np.testing.assert_allclose(some.mean(axis=(1, 2, 3)), [70, 30, 30], atol=3)
    # past the end: the last frame
    np.testing.assert_allclose(read_video_frames(path, [FRAMES + 5]).mean(), 190, atol=3)


def test_decodes_an_mpeg4_avi(tmp_path):
    path = tmp_path / "clip.avi"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIDE, SIDE, "yuv420p"
        stream.bit_rate = 2_000_000
        for array in grey_frames(12):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    assert video_frame_count(path) == 12
    np.testing.assert_allclose(read_video_frames(path, [11]).mean(), 110, atol=4)


# clip sampling


def test_lrcn_clips_are_consecutive_frames():
    np.testing.assert_array_equal(lrcn_clip_indices(40, 16, 5), np.arange(5, 21))
    # a short video repeats its last frame
    np.testing.assert_array_equal(lrcn_clip_indices(10, 16, 0), np.minimum(np.arange(16), 9))
    np.testing.assert_array_equal(lrcn_test_clip_starts(40, 16, 8), [0, 8, 16, 24])
    np.testing.assert_array_equal(lrcn_test_clip_starts(10, 16, 8), [0])


def test_tslstm_takes_25_equally_spaced_frames():
    indices = tslstm_frame_indices(100, 25)
    assert len(indices) == 25 and indices[0] == 0 and indices[-1] == 99
    steps = np.diff(indices)
    assert set(steps.tolist()) <= {4, 5} and abs(indices - np.linspace(0, 99, 25)).max() <= 0.5
    short = tslstm_frame_indices(10, 25)
    assert len(short) == 25 and (np.diff(short) >= 0).all() and set(short.tolist()) == set(range(10))


def test_one_crop_and_flip_for_the_whole_clip(tmp_path):
    # frame t = a fixed random pattern + 5 t: after the transform every frame minus the first is flat
    base = np.random.default_rng(0).integers(0, 100, size=(SIDE, SIDE, 3), dtype=np.uint8)
    frames = np.stack([base + 5 * t for t in range(FRAMES)]).astype(np.uint8)
    root = tmp_path / "ucf"
    write_ucf(root, frames_folders=True)
    video = root / "UCF-101" / "YoYo" / "v_YoYo_g02_c01"
    for f in video.iterdir():
        f.unlink()
    write_frames(video, frames)
    entries = read_ucf101_split(root, 1, "train").entries
    data = VideoClips(entries, sampling="lrcn", clip_len=16, train=True, crop_size=24, seed=3)
    flips = set()
    for epoch in range(6):
        clip, label = data[(epoch, 1)]
        assert clip.shape == (16, 3, 24, 24) and label == 1
        values = (clip * 255).round()
        # every frame is the first plus 5 per step: consecutive frames, one crop and flip for all
        steps = values - values[:1]
        assert torch.equal(steps, (torch.arange(16) * 5.0).view(16, 1, 1, 1).expand_as(steps))
        first = values[0].permute(1, 2, 0).numpy().astype(np.int64)

        def window(top, left, flip):
            crop = base[top : top + 24, left : left + 24].astype(np.int64)
            return crop[:, ::-1] if flip else crop

        matches = [
            (top, left, flip)
            for top in range(SIDE - 24 + 1)
            for left in range(SIDE - 24 + 1)
            for flip in (False, True)
            for start in range(FRAMES - 16 + 1)
            if np.array_equal(window(top, left, flip) + 5 * start, first)
        ]
        assert matches, "the first frame is not a crop of the pattern at any start"
        flips.update(flip for _, _, flip in matches)
        # deterministic from (seed, epoch, index)
        assert torch.equal(data[(epoch, 1)][0], clip)
    assert flips == {False, True}


def test_evaluation_is_the_middle_clip_centre_cropped(tmp_path):
    root = write_ucf(tmp_path, frames_folders=True)
    entries = read_ucf101_split(root, 1, "test").entries
    data = VideoClips(entries, sampling="lrcn", crop_size=16)
    clip, _ = data[0]
    # 20 frames, 16 per clip: starts 0..4, the middle is 2
    np.testing.assert_allclose((clip[:, 0, 0, 0] * 255).round().numpy(), np.arange(2, 18) * 10)
    assert data.test_clips(0, stride=2).shape == (3, 16, 3, 16, 16)
    spaced = VideoClips(entries, sampling="tslstm", num_frames=25, resize=(8, 8))
    frames, _ = spaced[1]
    assert frames.shape == (25, 3, 8, 8)
    np.testing.assert_allclose((frames[:, 0, 0, 0] * 255).round().numpy(), tslstm_frame_indices(FRAMES) * 10)


def test_flip_off_and_cached_frames_give_the_same_clips(tmp_path, monkeypatch):
    import recur_vision.data.video as video

    # a random pattern (a mirror changes it) + 5 per frame
    base = np.random.default_rng(0).integers(0, 100, size=(SIDE, SIDE, 3), dtype=np.uint8)
    root = write_ucf(tmp_path, frames_folders=True)
    video_folder = root / "UCF-101" / "YoYo" / "v_YoYo_g02_c01"
    for f in video_folder.iterdir():
        f.unlink()
    write_frames(video_folder, np.stack([base + 5 * t for t in range(FRAMES)]).astype(np.uint8))
    entries = read_ucf101_split(root, 1, "train").entries
    plain = VideoClips(entries, train=True, crop_size=24, seed=3, flip=False)
    mirrored = VideoClips(entries, train=True, crop_size=24, seed=3)
    cached = VideoClips(entries, train=True, crop_size=24, seed=3, flip=False, cache_frames=True)
    reads = []
    decode = video.read_video_frames
    monkeypatch.setattr(video, "read_video_frames", lambda path, *a: reads.append(path) or decode(path, *a))
    mirrored_epochs = 0
    for epoch in range(6):
        clip = plain[(epoch, 1)][0]
        torch.testing.assert_close(cached[(epoch, 1)][0], clip)
        other = mirrored[(epoch, 1)][0]
        # the same draws: the same window, mirrored or not
        assert torch.equal(other, clip) or torch.equal(other, clip.flip(-1))
        mirrored_epochs += not torch.equal(other, clip)
    assert 0 < mirrored_epochs < 6
    # plain and mirrored decode every item; the cache read the video once
    assert reads.count(entries[1].path) == 6 + 6 + 1


def test_overlapping_test_clips_share_their_decoded_frames(tmp_path, monkeypatch):
    import recur_vision.data.video as video

    root = write_ucf(tmp_path, frames_folders=True)
    entries = read_ucf101_split(root, 1, "test").entries
    data = VideoClips(entries, crop_size=16)
    asked = []
    decode = video.read_video_frames
    monkeypatch.setattr(video, "read_video_frames", lambda path, i: asked.append(list(i)) or decode(path, i))
    clips = data.test_clips(0, stride=2)
    # 20 frames, clips of 16 every 2 frames start at 0, 2, 4: one read of the 20 frames, each once
    assert clips.shape == (3, 16, 3, 16, 16) and asked == [list(range(FRAMES))]
    for k, start in enumerate((0, 2, 4)):
        alone = data.transform(decode(entries[0].path, lrcn_clip_indices(FRAMES, 16, start)), None)
        torch.testing.assert_close(clips[k], alone)


def test_crop_helpers():
    rng = np.random.default_rng(0)
    assert sample_crop(10, 12, 4, None) == (3, 4, False)
    top, left, _ = sample_crop(10, 12, 4, rng)
    assert 0 <= top <= 6 and 0 <= left <= 8
    clip = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    assert torch.equal(crop_and_flip(clip, 1, 2, 2, True), clip[..., 1:3, 2:4].flip(-1))
    one_line_error(ValueError, lambda: sample_crop(10, 12, 11, rng), "larger than the frames")


# bad input


def test_undecodable_video(tmp_path):
    path = tmp_path / "broken.avi"
    path.write_bytes(b"this is not a video" * 50)
    one_line_error(ValueError, lambda: video_frame_count(path), "cannot decode")
    one_line_error(ValueError, lambda: read_video_frames(path, [0]), "cannot decode")


def test_zero_frame_video(tmp_path):
    path = tmp_path / "empty.avi"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIDE, SIDE, "yuv420p"
        container.start_encoding()
    one_line_error(ValueError, lambda: video_frame_count(path), "zero frames")
    one_line_error(ValueError, lambda: read_video_frames(path, [0]), "zero frames")
    (tmp_path / "bad_frames").mkdir()
    (tmp_path / "bad_frames" / "1.jpg").write_bytes(b"not a jpeg")
    one_line_error(ValueError, lambda: read_video_frames(tmp_path / "bad_frames", [0]), "not an image")
    (tmp_path / "no_frames").mkdir()
    one_line_error(ValueError, lambda: video_frame_count(tmp_path / "no_frames"), "zero-frame")
    one_line_error(FileNotFoundError, lambda: read_video_frames(tmp_path / "absent.mp4"), "not found")


def test_split_naming_a_missing_video(tmp_path):
    root = write_ucf(tmp_path, test_lines=["YoYo/v_YoYo_g01_c01.mp4", "YoYo/v_YoYo_g09_c01.mp4"])
    message = one_line_error(FileNotFoundError, lambda: read_ucf101_split(root, 1, "test"), "names 1 video")
    assert "YoYo/v_YoYo_g09_c01.mp4" in message


def test_unknown_class(tmp_path):
    root = write_ucf(tmp_path, test_lines=["Archery/v_Archery_g01_c01.mp4"])
    one_line_error(ValueError, lambda: read_ucf101_split(root, 1, "test"), "unknown class 'Archery'")


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("YoYo/v_YoYo_g02_c01.mp4", "is not '<Class>/<video> <label>'"),
        ("YoYo/v_YoYo_g02_c01.mp4 2 7", "is not '<Class>/<video> <label>'"),
        ("YoYo/v_YoYo_g02_c01.mp4 two", "not an integer"),
        ("YoYo/v_YoYo_g02_c01.mp4 3", r"outside 1\.\.2"),
        ("YoYo/v_YoYo_g02_c01.mp4 1", "disagrees with the folder 'YoYo'"),
        ("v_YoYo_g02_c01.mp4 2", "is not '<Class>/<video>'"),
    ],
)
def test_malformed_training_lines(tmp_path, line, match):
    root = write_ucf(tmp_path, train_lines=[line])
    one_line_error(ValueError, lambda: read_ucf101_split(root, 1, "train"), match)


def test_malformed_class_index_and_arguments(tmp_path):
    path = tmp_path / "classInd.txt"
    path.write_text("1 ApplyEyeMakeup\n3 YoYo\n")
    one_line_error(ValueError, lambda: read_class_index(path), "out of order")
    path.write_text("ApplyEyeMakeup\n")
    one_line_error(ValueError, lambda: read_class_index(path), "is not '<index> <ClassName>'")
    path.write_text("")
    one_line_error(ValueError, lambda: read_class_index(path), "no class")
    lst = tmp_path / "testlist01.txt"
    lst.write_text("\n")
    one_line_error(ValueError, lambda: read_split_list(lst, CLASSES, labelled=False), "no video")
    root = write_ucf(tmp_path / "ucf")
    one_line_error(ValueError, lambda: read_ucf101_split(root, 4), "split must be 1, 2 or 3")
    one_line_error(FileNotFoundError, lambda: read_ucf101_split(root, 2), "split file not found")
    one_line_error(ValueError, lambda: VideoClips([], sampling="tsn"), "sampling must be")


def test_missing_dataset_says_how_to_get_it(tmp_path):
    message = one_line_error(DatasetNotFoundError, lambda: ucf101_split(root=tmp_path), "UCF101")
    assert "UCF101.rar" in message and "crcv.ucf.edu" in message


def test_the_real_ucf101_split_when_present(dataset_root):
    folder = dataset_root("ucf101", "ucfTrainTestlist/classInd.txt", "ucfTrainTestlist/testlist01.txt")
    test = read_ucf101_split(folder, 1, "test")
    assert len(test.classes) == 101 and test.classes[0] == "ApplyEyeMakeup"
    clip, label = VideoClips(test.entries[:1], crop_size=112)[0]
    assert clip.shape == (16, 3, 112, 112) and label == test.entries[0].label
