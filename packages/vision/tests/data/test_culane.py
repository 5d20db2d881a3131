import numpy as np
import pytest
import torch
from PIL import Image

from recur_core.data.root import DatasetNotFoundError
from recur_vision.data.culane import (
    CULANE_TEST_SPLITS,
    CULaneEntry,
    culane_lines_path,
    culane_split,
    evaluate_culane,
    read_culane_lines,
    read_culane_list,
    read_culane_test_splits,
    write_culane_lines,
)
from recur_vision.lane_metrics import LaneCounts

CLIP = "driver_23_30frame/05151640_0419.MP4"
LEFT = np.array([[500.0, 590.0], [600.0, 450.0], [700.0, 300.0]])
RIGHT = np.array([[1200.0, 590.0], [1050.0, 450.0], [900.0, 300.0]])


def write_culane(folder, frames=3):
    """A CULane folder with ``frames`` images of 1640x590 reduced to 164x59, masks, lanes and lists."""
    images = [f"{CLIP}/{i:05d}.jpg" for i in range(frames)]
    for i, image in enumerate(images):
        (folder / image).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((59, 164, 3), 40 * i, dtype=np.uint8)).save(folder / image)
        write_culane_lines(folder / culane_lines_path(image), [LEFT, RIGHT][: 2 - i % 2])
        mask = np.zeros((59, 164), dtype=np.uint8)
        mask[:, 50:52], mask[:, 110:112] = 2, 3
        target = folder / "laneseg_label_w16" / image.replace(".jpg", ".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(target)
    (folder / "list" / "test_split").mkdir(parents=True)
    gt_lines = [f"/{image} /laneseg_label_w16/{image[:-4]}.png 0 1 1 0" for image in images]
    (folder / "list" / "train_gt.txt").write_text("\n".join(gt_lines) + "\n")
    (folder / "list" / "test.txt").write_text("".join(f"/{image}\n" for image in images))
    for k, split in enumerate(CULANE_TEST_SPLITS):
        # the official split files name the images without the leading slash
        (folder / "list" / "test_split" / f"{split}.txt").write_text(f"{images[k % frames]}\n")
    return images


def test_lists_in_both_forms(tmp_path):
    images = write_culane(tmp_path)
    entries = read_culane_list(tmp_path / "list" / "train_gt.txt")
    assert entries[0] == CULaneEntry(images[0], f"laneseg_label_w16/{CLIP}/00000.png", (0, 1, 1, 0))
    assert [e.image for e in read_culane_list(tmp_path / "list" / "test.txt")] == images
    splits = read_culane_test_splits(tmp_path)
    assert list(splits) == list(CULANE_TEST_SPLITS) and splits["test1_crowd"] == [images[1]]


def test_bad_list_line_names_file_and_line(tmp_path):
    (tmp_path / "train_gt.txt").write_text(f"/{CLIP}/00000.jpg /m.png 0 1 1 0\n/{CLIP}/00001.jpg /m.png 0 1\n")
    with pytest.raises(ValueError, match=r"train_gt.txt:2: 4 fields; a CULane list line is") as err:
        read_culane_list(tmp_path / "train_gt.txt")
    assert "\n" not in str(err.value)


def test_lines_round_trip_and_bad_lines(tmp_path):
    path = write_culane_lines(tmp_path / "a.lines.txt", [LEFT, RIGHT + 0.25])
    assert path.read_text().splitlines()[0] == "500 590 600 450 700 300"
    lanes = read_culane_lines(path)
    assert np.array_equal(lanes[0], LEFT) and np.array_equal(lanes[1], RIGHT + 0.25)
    path.write_text("1 2 3\n")
    with pytest.raises(ValueError, match=r"a.lines.txt:1: 3 numbers"):
        read_culane_lines(path)
    path.write_text("1 2 3 x\n")
    with pytest.raises(ValueError, match=r"a.lines.txt:1: a value is not a number"):
        read_culane_lines(path)


def test_dataset_items_and_masks(tmp_path):
    write_culane(tmp_path)
    train = culane_split("train", folder=tmp_path, image_size=None)
    item = train[1]
    assert item["image"].shape == (3, 59, 164) and item["mask"].dtype == torch.int64
    assert set(item["mask"].unique().tolist()) == {0, 2, 3} and item["exist"].tolist() == [0, 1, 1, 0]
    resized = culane_split("train", folder=tmp_path, image_size=(30, 82))[0]
    assert resized["image"].shape == (3, 30, 82) and set(resized["mask"].unique().tolist()) <= {0, 2, 3}
    test = culane_split("test", folder=tmp_path, image_size=(30, 82))
    assert set(test[0]) == {"image", "size", "index"} and test[0]["size"].tolist() == [59, 164]
    assert [lane.shape for lane in test.lanes(1)] == [(3, 2)]


def test_list_naming_absent_files_is_one_line_with_the_fix(tmp_path):
    images = write_culane(tmp_path)
    (tmp_path / images[1]).unlink()
    (tmp_path / "laneseg_label_w16" / images[2].replace(".jpg", ".png")).unlink()
    with pytest.raises(
        DatasetNotFoundError, match=rf"list/train_gt.txt names absent files under .*{images[1]} and 1 more"
    ):
        culane_split("train", folder=tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"xingangpan\.github\.io"):
        culane_split("train", root=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="unknown CULane split 'dev'"):
        culane_split("dev", folder=tmp_path)


def test_official_per_split_evaluation_from_prediction_files(tmp_path):
    images = write_culane(tmp_path / "CULane")
    predictions = tmp_path / "pred"
    # image 0 (two lanes): both found; image 1 (one lane): found plus a spurious lane; image 2: no file
    write_culane_lines(predictions / culane_lines_path(images[0]), [LEFT + np.array([5, 0]), RIGHT])
    write_culane_lines(predictions / culane_lines_path(images[1]), [LEFT, np.array([[100.0, 590.0], [120.0, 300.0]])])
    scores = evaluate_culane(predictions, folder=tmp_path / "CULane")
    assert list(scores) == list(CULANE_TEST_SPLITS)
    assert scores["test0_normal"] == LaneCounts(2, 0, 0)
    assert scores["test1_crowd"] == LaneCounts(1, 1, 0)
    assert scores["test2_hlight"] == LaneCounts(0, 0, 2)
    assert scores["test0_normal"].f1 == 1.0
    only = evaluate_culane(predictions, folder=tmp_path / "CULane", splits=["test7_cross"])
    assert list(only) == ["test7_cross"]
    with pytest.raises(ValueError, match="unknown CULane test split 'test9_rain'"):
        evaluate_culane(predictions, folder=tmp_path / "CULane", splits=["test9_rain"])
