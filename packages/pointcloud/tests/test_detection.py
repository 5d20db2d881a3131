"""Detection data and task: augmentation, frames and batches, KITTI result labels, and the CLI end to end."""

import csv
import math

import numpy as np
import pytest
import torch

from recur_core.engine import console_main, run_cli
from recur_pointcloud.data.kitti import boxes_camera_to_lidar
from recur_pointcloud.data.synthetic_kitti import write_synthetic_kitti
from recur_pointcloud.detection import DetectionData, augment_frame, detections_to_kitti
from recur_pointcloud.metrics.kitti_ap import kitti_eval

# a detector and scenes small enough for seconds on one core
TINY = [
    "--model.voxel_size=[0.8, 0.8, 1.0]",
    "--model.vfe_channels=[8, 8]",
    "--model.dim=8",
    "--model.bev_layer_nums=[1, 1]",
    "--model.bev_filters=[8, 16]",
    "--model.bev_upsample_filters=[8, 8]",
    "--data.frames=4",
    "--data.test_frames=2",
    "--data.beams=16",
    "--data.columns=256",
    "--data.batch_size=2",
    "--trainer.max_epochs=1",
    "--trainer.check_val_every_n_epoch=1",  # the recipes validate every 10 epochs
]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return write_synthetic_kitti(tmp_path_factory.mktemp("scenes"), frames=4, beams=16, columns=256, test_frames=2)


def test_augmentation_moves_points_and_boxes_together():
    box = torch.tensor([[10.0, 2.0, -1.0, 4.0, 1.6, 1.5, 0.4]])
    # the box's centre and a point 1 m ahead of it along its heading
    ahead = box[0, :3] + torch.tensor([math.cos(0.4), math.sin(0.4), 0.0])
    points = torch.cat([torch.stack([box[0, :3], ahead]), torch.ones(2, 1)], dim=1)
    for seed in range(6):
        moved_points, moved = augment_frame(points, box, torch.Generator().manual_seed(seed))
        torch.testing.assert_close(moved_points[0, :3], moved[0, :3])
        factor = moved[0, 3] / 4.0
        heading = torch.tensor([torch.cos(moved[0, 6]), torch.sin(moved[0, 6]), 0.0])
        torch.testing.assert_close(moved_points[1, :3], moved[0, :3] + factor * heading)
        assert 0.95 <= factor <= 1.05 and -math.pi <= moved[0, 6] < math.pi
        assert moved_points[0, 3] == 1.0


def test_frames_batches_and_seeded_augmentation(scenes):
    data = DetectionData(
        root=None, folder=str(scenes), frames=4, beams=16, columns=256, test_frames=2, test_split="test", batch_size=2
    )
    point_range = data.point_range
    train = data.dataset("train")
    assert len(train) == 3 and len(data.dataset("val")) == 1
    # the held-out test frames come after the train and val frames
    assert [data.dataset("test")[i]["frame"].frame_id for i in range(2)] == ["000004", "000005"]
    first, again = train[(0, 1)], train[(0, 1)]
    assert torch.equal(first["points"], again["points"]) and not torch.equal(train[(1, 1)]["points"], first["points"])
    boxes = first["boxes"]
    assert ((boxes[:, 0] >= point_range[0]) & (boxes[:, 0] <= point_range[3])).all()
    batch = data.collate_fn()([data.dataset("val")[0], first])
    assert set(batch) == {"points", "boxes", "labels", "frames"} and len(batch["points"]) == 2
    assert batch["frames"][0].image_path.is_file()


def test_detections_become_the_kitti_labels_they_came_from(scenes):
    data = DetectionData(folder=str(scenes), frames=4, beams=16, columns=256, test_frames=2, augment=False)
    frame = data.dataset("val")[0]["frame"]
    truth = frame.objects.select(np.isin(frame.objects.name, ["Car", "Pedestrian", "Cyclist"]))
    boxes = boxes_camera_to_lidar(truth, frame.calib)
    labels = np.array([["Car", "Pedestrian", "Cyclist"].index(n) for n in truth.name])
    scores = np.linspace(0.9, 0.5, len(boxes))
    found = detections_to_kitti(boxes, scores, labels, frame, ("Car", "Pedestrian", "Cyclist"))
    assert list(found.name) == list(truth.name)
    np.testing.assert_allclose(boxes_camera_to_lidar(found, frame.calib), boxes, atol=1e-9)
    # the label files round to 2 decimals
    np.testing.assert_allclose(found.bbox, truth.bbox, atol=0.5)
    np.testing.assert_allclose(found.alpha, truth.alpha, atol=0.02)
    # scored as the ground truth itself would be (the KITTI AP of 3 perfect cars is 5 at R40, as the official code)
    truth.score = scores
    assert kitti_eval([frame.objects], [found]) == pytest.approx(kitti_eval([frame.objects], [truth]))
    assert kitti_eval([frame.objects], [found])["Car_3d_moderate"] > 0


def test_the_training_targets_decode_to_a_perfect_kitti_score(scenes):
    """Oracle: the ground truth encoded as the head's targets, decoded and scored, is the truth's own score.

    The chain a trained detector's output takes (anchors on the recipe's grid, target assignment, residual
    coder, direction bins, NMS, LiDAR -> camera labels, the in-range filter, KITTI AP) with perfect predictions.
    """
    from recur_pointcloud.detection import _truth_in_range
    from recur_pointcloud.models.anchor_head import AnchorHead

    point_range = (0.0, -20.0, -3.0, 40.0, 20.0, 1.0)  # lion/synthetic's grid: 0.4 m cells
    classes = ("Car", "Pedestrian", "Cyclist")
    head = AnchorHead(8, point_range, (100, 100))
    data = DetectionData(
        folder=str(scenes), frames=4, beams=16, columns=256, test_frames=2, test_split="test", point_range=point_range
    )
    # every frame of the scenes: train (unaugmented), val, test
    frames = [data.dataset("train").frames[i] for i in range(3)] + [data.dataset("val")[0]]
    frames += [data.dataset("test")[i] for i in range(2)]
    truth, found, itself = [], [], []
    for item in frames:
        labels, codes = head.targets([item["boxes"]], [item["labels"]])
        positive = labels[0] > 0
        logits = torch.full((1, labels.shape[1], 3), -20.0)
        logits[0, positive, labels[0, positive] - 1] = 20.0
        heading = codes[0, :, 6] + head.anchors.reshape(-1, 7)[:, 6]
        bins = (torch.remainder(heading - head.dir_offset, 2 * math.pi) >= math.pi).long()
        cells = head.anchors.shape[:2]
        preds = {
            "cls": logits.view(1, *cells, -1),
            "box": codes.view(1, *cells, -1),
            "dir": (torch.nn.functional.one_hot(bins, 2).float() * 10).view(1, *cells, -1),
        }
        [detection] = head.detect(preds)
        # every box comes back once, exactly, heading included
        assert len(detection["boxes"]) == len(item["boxes"])
        order = torch.cdist(item["boxes"][:, :2], detection["boxes"][:, :2]).argmin(dim=1)
        torch.testing.assert_close(detection["boxes"][order, :6], item["boxes"][:, :6], rtol=0, atol=1e-4)
        turn = torch.remainder(detection["boxes"][order, 6] - item["boxes"][:, 6] + math.pi, 2 * math.pi) - math.pi
        assert turn.abs().max() < 1e-4 and torch.equal(detection["labels"][order], item["labels"])
        frame = item["frame"]
        truth.append(_truth_in_range(frame, point_range))
        found.append(
            detections_to_kitti(
                detection["boxes"].double().numpy(),
                detection["scores"].double().numpy(),
                detection["labels"].numpy(),
                frame,
                classes,
            )
        )
        scored = truth[-1].select(truth[-1].name != "DontCare")
        scored.score = np.ones(len(scored))
        itself.append(scored)
    oracle, perfect = kitti_eval(truth, found, classes=classes), kitti_eval(truth, itself, classes=classes)
    # the truth's own score (AP_R40 is below 100 with fewer than 40 objects, as in the official code)
    for key in ("Car_3d_moderate_R40", "Car_bev_moderate_R40", "Car_3d_easy_R40", "Pedestrian_3d_moderate_R40"):
        assert oracle[key] == pytest.approx(perfect[key], abs=1e-6)
    assert oracle["Car_3d_moderate_R40"] > 10


@pytest.mark.parametrize("recipe", ["lion/synthetic_no_backbone", "lion/synthetic"])
def test_fit_then_test_a_recipe_through_the_cli(recipe, scenes, runs_dir, one_thread):
    cli = run_cli("pointcloud", ["fit", "--config", recipe, f"--data.folder={scenes}", *TINY])
    run = cli.run_dir
    assert run.is_relative_to(runs_dir) and (run / "checkpoints" / "best.ckpt").is_file()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert any(r.get("val/Car_3d_moderate_R40") not in (None, "") for r in rows)
    tested = run_cli(
        "pointcloud",
        [
            "test",
            "--config",
            recipe,
            f"--data.folder={scenes}",
            *TINY,
            "--ckpt_path",
            str(run / "checkpoints" / "best.ckpt"),
            # a trained baseline scored beside the model: here the model's own checkpoint
            f"--model.baseline_ckpt={run / 'checkpoints' / 'best.ckpt'}",
        ],
    )
    metrics = tested.trainer.callback_metrics
    assert {"test/Car_3d_moderate_R40", "test/Car_bev_moderate", "test/geometric_Car_3d_moderate_R40"} <= set(metrics)
    assert float(metrics["test/trained_Car_3d_moderate_R40"]) == float(metrics["test/Car_3d_moderate_R40"])
    assert list(tested.run_dir.glob("detections_*.png"))
    # the recipe tests on the held-out split; every method's detections are written as KITTI results
    model = "lion_no_backbone" if recipe.endswith("no_backbone") else "lion"
    for method in (model, "geometric", "trained"):
        assert sorted(p.stem for p in (tested.run_dir / "kitti_results" / method).iterdir()) == ["000004", "000005"]


def test_the_real_kitti_frames_run_end_to_end(dataset_root, runs_dir, one_thread):
    dataset_root("kitti_object", "training/velodyne/000000.bin", "training/label_2/000000.txt")
    cli = run_cli(
        "pointcloud",
        ["test", "--config", "lion/kitti", "--data.test_split=all", "--model.figure_frames=1", *TINY[:6]],
    )
    metrics = cli.trainer.callback_metrics
    assert "test/Car_3d_moderate_R40" in metrics and 0.0 <= float(metrics["test/Car_3d_moderate_R40"]) <= 100.0
    assert len(list(cli.run_dir.glob("detections_*.png"))) == 1


def test_a_missing_kitti_folder_is_one_line(capsys, runs_dir, tmp_path):
    with pytest.raises(SystemExit) as exited:
        console_main("pointcloud", ["test", "--config", "lion/kitti", f"--data.root={tmp_path / 'nowhere'}"])
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "\n" not in message and "training/velodyne" in message


def test_a_baseline_checkpoint_that_is_missing_or_foreign_is_one_line(tmp_path):
    from recur_pointcloud.detection import load_detector

    with pytest.raises(FileNotFoundError, match=r"--model\.baseline_ckpt .*none\.ckpt: no such file"):
        load_detector(tmp_path / "none.ckpt", ("Car",))
    torch.save({"weights": 1}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not a recur checkpoint"):
        load_detector(tmp_path / "other.ckpt", ("Car",))
    segmenter = {"hyper_parameters": {"model": "dqn_rnn"}, "state_dict": {}, "global_step": 0}
    torch.save(segmenter, tmp_path / "s.ckpt")
    with pytest.raises(ValueError, match="not a recur detection checkpoint"):
        load_detector(tmp_path / "s.ckpt", ("Car",))
    cars_only = {
        "hyper_parameters": {"model": "lion_no_backbone", "classes": ["Car"]},
        "state_dict": {},
        "global_step": 0,
    }
    torch.save(cars_only, tmp_path / "c.ckpt")
    with pytest.raises(ValueError, match="detects \\['Car'\\], the model \\['Car', 'Cyclist'\\]"):
        load_detector(tmp_path / "c.ckpt", ("Car", "Cyclist"))
