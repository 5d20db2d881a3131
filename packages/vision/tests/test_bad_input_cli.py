"""Issue 15's bad input through ``recur-vision fit`` / ``test``: each a one-line error (exit 2), no traceback.

An undecodable or zero-frame video, a split file naming a missing video, a caption JSON without
``sentences``, an image with the wrong channels (an alpha channel) or unreadable. An image of another
size is resized (and a greyscale one repeated over three channels), as COCO's images of every size are.
"""

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from recur_core.engine import console_main
from recur_vision.data.generated_captions import write_generated_captions
from recur_vision.data.generated_video import write_video

# the two classes the UCF101 catalogue looks for: a folder with them and three splits reads as UCF101
CLASSES = ("ApplyEyeMakeup", "YoYo")
FEW = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1"]


def _ucf101(root: Path) -> Path:
    """A two-class UCF101 layout under ``root/UCF101``, three equal splits: group 1 tests, group 2 trains; 8 frames."""
    folder = root / "UCF101"
    lists = folder / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    frames = np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    for c in CLASSES:
        for g in (1, 2):
            (folder / "UCF-101" / c).mkdir(parents=True, exist_ok=True)
            write_video(folder / "UCF-101" / c / f"v_{c}_g{g:02d}_c01.mp4", frames)
    for split in (1, 2, 3):
        train = "".join(f"{c}/v_{c}_g02_c01.mp4 {i + 1}\n" for i, c in enumerate(CLASSES))
        (lists / f"trainlist0{split}.txt").write_text(train)
        (lists / f"testlist0{split}.txt").write_text("".join(f"{c}/v_{c}_g01_c01.mp4\n" for c in CLASSES))
    return folder


def _video_args(root: Path, stage: str = "fit") -> list[str]:
    small = ["--data.clip_len", "4", "--data.crop_size", "28", "--data.batch_size", "2", "--data.num_workers", "0"]
    model = ["--model.num_classes", "2", "--model.model_kwargs.fc6_dim", "8", "--model.model_kwargs.cnn_channels=[4,4]"]
    return [stage, "--config", "lrcn/single_frame", "--data.dataset", "ucf101", f"--data.root={root}", *small, *model]


def _one_line_exit(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        console_main("vision", args)
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2, error
    assert error.startswith("recur-vision: error:") and "\n" not in error and "Traceback" not in error, error
    return error


def _zero_frame_video(path: Path) -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()


@pytest.mark.parametrize("stage", ["fit", "test"])
@pytest.mark.parametrize("broken", ["undecodable", "zero frames", "missing"])
def test_a_bad_video_is_one_line(broken, stage, tmp_path, runs_dir, capsys, one_thread):
    folder = _ucf101(tmp_path)
    # a video of the test list: in a fit, validation reads it after the first training step, where a video
    # read only when its batch is drawn would end in a traceback (an error once batches run is a bug)
    path = folder / "UCF-101" / "YoYo/v_YoYo_g01_c01.mp4"
    if broken == "undecodable":
        path.write_bytes(b"this is not a video" * 50)
    elif broken == "zero frames":
        _zero_frame_video(path)
    else:
        path.unlink()
    error = _one_line_exit([*_video_args(tmp_path, stage), *FEW], capsys)
    # an .mp4 that never received a frame has no video stream at all (an .avi one has a stream of zero frames)
    expected = {"undecodable": ("cannot decode",), "zero frames": ("zero frames", "no video stream")}
    assert any(text in error for text in expected.get(broken, ("names 1 video",))) and path.name in error, error


def _coco(root: Path) -> Path:
    """A tiny Karpathy-layout set under ``root/coco`` (generated scenes of 32 x 32: 4 train, 1 val, 1 test)."""
    return write_generated_captions(root / "coco", train=4, val=1, test=1, size=32, seed=0)


def _caption_args(root: Path, stage: str = "fit") -> list[str]:
    data = ["--data.dataset", "coco-karpathy", f"--data.root={root}", "--data.image_size", "32"]
    return [stage, "--config", "lrcn/captioning", *data, "--data.min_count", "1", "--data.batch_size", "2"]


@pytest.mark.parametrize("stage", ["fit", "test"])
def test_a_caption_json_without_sentences_is_one_line(stage, tmp_path, runs_dir, capsys):
    path = _coco(tmp_path) / "dataset_coco.json"
    content = json.loads(path.read_text())
    del content["images"][1]["sentences"]
    path.write_text(json.dumps(content))
    error = _one_line_exit([*_caption_args(tmp_path, stage), *FEW], capsys)
    assert "has no 'sentences'" in error and "dataset_coco.json" in error, error


@pytest.mark.parametrize("bad", ["alpha channel", "not an image"])
def test_an_image_with_the_wrong_channels_or_unreadable_is_one_line(bad, tmp_path, runs_dir, capsys):
    folder = _coco(tmp_path)
    # the validation image: read after the first training step, where a lazily found bad image would be a traceback
    entry = json.loads((folder / "dataset_coco.json").read_text())["images"][4]
    assert entry["split"] == "val"
    path = folder / entry["filepath"] / entry["filename"]
    if bad == "alpha channel":
        Image.new("RGBA", (32, 32)).save(path)
    else:
        path.write_bytes(b"not a png" * 20)
    error = _one_line_exit([*_caption_args(tmp_path), *FEW], capsys)
    assert path.name in error and ("image mode RGBA" if bad == "alpha channel" else "not an image") in error, error


def test_an_image_of_another_size_or_greyscale_is_read_as_rgb_at_the_data_size(tmp_path):
    from recur_vision.datamodules import CaptionData

    folder = _coco(tmp_path)
    entry = json.loads((folder / "dataset_coco.json").read_text())["images"][4]
    # greyscale, 40 x 48: read as RGB and resized to 32 x 32, as COCO's greyscale images of every size
    Image.new("L", (48, 40), color=128).save(folder / entry["filepath"] / entry["filename"])
    data = CaptionData(dataset="coco-karpathy", root=str(tmp_path), image_size=32, min_count=1, batch_size=1)
    data.setup("fit")
    assert next(iter(data.val_dataloader()))["images"].shape == (1, 3, 32, 32)


def test_a_scene_space_out_of_range_is_one_line(runs_dir, capsys):
    error = _one_line_exit(["fit", "--config", "lrcn/captioning", "--data.colours", "12", *FEW], capsys)
    assert "colours must be 1..10 and shapes 1..5" in error and "colours=12" in error, error
