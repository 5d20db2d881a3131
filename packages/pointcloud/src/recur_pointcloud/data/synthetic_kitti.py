"""Synthetic LiDAR scenes written as KITTI object files: the embedded default of the detection recipes.

A scene is a flat ground plane with cars, pedestrians and cyclists as boxes of KITTI's typical sizes,
scanned by a spinning 64-beam sensor modelled on the Velodyne HDL-64E of KITTI (beams from +2 to
-24.8 degrees, 1.73 m above the ground, 120 m range). Every ray is cast at once: the slab test
against every box (in the box's own frame) and the ground, the nearest hit wins, so objects shadow
what lies behind them. Returns drop out with a probability that grows with range, ranges get
Gaussian noise, and reflectance depends on the surface. The labels are what the real benchmark
would record: camera boxes, image boxes, truncation (share of the image box outside the image),
occlusion level (0 / 1 / 2 when more than 80% / more than 40% / less of the rays meeting the
object meet it first) and alpha;
objects the camera does not see are scanned but not labelled, as in KITTI. The image is a flat
render (sky, ground, boxes painted far to near). :class:`~recur_pointcloud.data.kitti.KittiObject`
reads the folder as it reads the real one, so the real reader and metric are what run.

Shapes: points ``[N, 4]`` (x, y, z, reflectance); boxes ``[M, 7]`` (x, y, z, dx, dy, dz, heading).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from recur_core.data.generated import write_once
from recur_pointcloud.data.kitti import (
    KittiCalib,
    KittiObjects,
    box_corners_camera,
    boxes_lidar_to_camera,
    image_boxes,
    write_calib,
    write_label,
    write_points,
)

__all__ = ["SIZES", "cast_rays", "kitti_like_calib", "sample_boxes", "scan_scene", "write_synthetic_kitti"]

GENERATED_FORMAT = 1
SENSOR_HEIGHT = 1.73
MAX_RANGE = 120.0
IMAGE_SIZE = (375, 1242)
# mean (length, width, height) and spread per class, from KITTI's label statistics
SIZES = {"Car": ((3.9, 1.6, 1.56), 0.08), "Pedestrian": ((0.8, 0.6, 1.73), 0.08), "Cyclist": ((1.76, 0.6, 1.73), 0.06)}
_COLOURS = {"Car": (200, 40, 40), "Pedestrian": (40, 170, 60), "Cyclist": (40, 80, 200)}


def kitti_like_calib() -> KittiCalib:
    """A calibration like KITTI's: camera 0.27 m ahead of the LiDAR and 0.08 m below, KITTI's intrinsics."""
    projection = np.array([[721.5, 0.0, 609.6, 44.9], [0.0, 721.5, 172.9, 0.2], [0.0, 0.0, 1.0, 0.003]])
    # LiDAR (x forward, y left, z up) -> camera (x right, y down, z forward)
    to_camera = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, -0.08], [1.0, 0.0, 0.0, -0.27]])
    return KittiCalib(P=np.stack([projection] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=to_camera)


def sample_boxes(rng: np.random.Generator, counts: dict[str, int], area: tuple[float, ...]) -> tuple[np.ndarray, list]:
    """Boxes ``[M, 7]`` on the ground inside ``area`` = (x0, y0, x1, y1), no two footprints within 0.5 m.

    Candidates are drawn in bulk and kept in order when their bounding circle clears every kept one.
    """
    names = [name for name, count in counts.items() for _ in range(count)]
    boxes, kept = [], []
    for name in names:
        mean, spread = SIZES[name]
        size = np.asarray(mean) * np.exp(rng.normal(0.0, spread, (64, 3)))
        centre = rng.uniform(area[:2], area[2:], (64, 2))
        radius = np.hypot(size[:, 0], size[:, 1]) / 2
        placed = np.array(boxes).reshape(-1, 7)
        gap = np.linalg.norm(centre[:, None, :] - placed[None, :, :2], axis=-1)
        reach = radius[:, None] + np.hypot(placed[:, 3], placed[:, 4])[None, :] / 2 + 0.5
        clear = (gap > reach).all(axis=1)
        if clear.any():
            i = int(np.argmax(clear))
            z = -SENSOR_HEIGHT + size[i, 2] / 2
            boxes.append(np.array([*centre[i], z, *size[i], rng.uniform(-np.pi, np.pi)]))
            kept.append(name)
    return (np.stack(boxes) if boxes else np.zeros((0, 7))), kept


def cast_rays(directions: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the first hit of unit rays ``[R, 3]`` from the origin, and what they hit.

    Returns ``distance [R]`` (inf for no hit within range), ``hit [R]`` (box index, -1 the ground,
    -2 nothing) and ``reaches [R, M]`` (whether the ray meets box m at all, hit first or not).
    """
    cos, sin = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    # the ray in each box's frame: rotate by -heading about z
    origin = -boxes[:, :3]
    o_local = np.stack(
        [cos * origin[:, 0] + sin * origin[:, 1], -sin * origin[:, 0] + cos * origin[:, 1], origin[:, 2]], 1
    )
    dx, dy = directions[:, 0:1], directions[:, 1:2]
    dz = np.broadcast_to(directions[:, 2:3], (len(directions), len(boxes)))
    d_local = np.stack([cos * dx + sin * dy, -sin * dx + cos * dy, dz], axis=-1)
    half = boxes[:, 3:6] / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o_local) / d_local
        t2 = (half - o_local) / d_local
    near = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf).max(axis=-1)
    far = np.nan_to_num(np.maximum(t1, t2), nan=np.inf).min(axis=-1)
    reaches = (near <= far) & (near > 0)
    box_t = np.where(reaches, near, np.inf)
    with np.errstate(divide="ignore"):
        ground_t = np.where(directions[:, 2] < 0, -SENSOR_HEIGHT / directions[:, 2], np.inf)
    all_t = np.concatenate([box_t, ground_t[:, None]], axis=1)
    first = all_t.argmin(axis=1)
    distance = all_t[np.arange(len(all_t)), first]
    hit = np.where(first == len(boxes), -1, first)
    distance = np.where(distance <= MAX_RANGE, distance, np.inf)
    hit = np.where(np.isfinite(distance), hit, -2)
    return distance, hit, reaches


def _beam_directions(beams: int, columns: int) -> np.ndarray:
    elevation = np.deg2rad(np.linspace(2.0, -24.8, beams))
    azimuth = np.linspace(-np.pi, np.pi, columns, endpoint=False)
    el, az = np.meshgrid(elevation, azimuth, indexing="ij")
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1).reshape(-1, 3)


def scan_scene(
    rng: np.random.Generator, boxes: np.ndarray, beams: int = 64, columns: int = 1024, noise: float = 0.02
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sweep: points ``[N, 4]``, the box each point hit ``[N]`` (-1 ground) and each box's visible share ``[M]``.

    The visible share of a box is the fraction of the rays meeting it that meet it first.
    """
    directions = _beam_directions(beams, columns)
    distance, hit, reaches = cast_rays(directions, boxes)
    returned = np.isfinite(distance)
    # a return is lost with a probability growing with range: 2% near, about 30% at 120 m
    returned &= rng.random(len(distance)) >= 0.02 + 0.28 * np.where(returned, distance / MAX_RANGE, 0.0) ** 2
    measured = distance[returned] + rng.normal(0.0, noise, returned.sum())
    xyz = directions[returned] * measured[:, None]
    surface = np.concatenate([rng.uniform(0.2, 0.9, len(boxes)), [0.15]])
    reflectance = np.clip(surface[hit[returned]] + rng.normal(0.0, 0.05, returned.sum()), 0.0, 1.0)
    first = np.bincount(hit[hit >= 0], minlength=len(boxes))
    visible = first / np.maximum(reaches.sum(axis=0), 1)
    return np.concatenate([xyz, reflectance[:, None]], axis=1).astype(np.float32), hit[returned], visible


def _labels(boxes: np.ndarray, names: list, visible: np.ndarray, calib: KittiCalib) -> KittiObjects:
    """The KITTI labels of the boxes the camera sees (centre ahead and projecting into the image)."""
    location, dimensions, rotation_y = boxes_lidar_to_camera(boxes, calib)
    objects = KittiObjects(
        name=np.array(names, dtype=object),
        truncated=np.zeros(len(boxes)),
        occluded=np.where(visible > 0.8, 0, np.where(visible > 0.4, 1, 2)),
        alpha=rotation_y - np.arctan2(location[:, 0], location[:, 2]),
        bbox=np.zeros((len(boxes), 4)),
        dimensions=dimensions,
        location=location,
        rotation_y=rotation_y,
    )
    height, width = IMAGE_SIZE
    centre = location - dimensions[:, :1] * [0.0, 0.5, 0.0]
    pixels, depth = calib.rect_to_image(centre)
    seen = (depth > 1.0) & (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    objects = objects.select(seen)
    corners = box_corners_camera(objects.location, objects.dimensions, objects.rotation_y)
    projected = calib.rect_to_image(corners.reshape(-1, 3))[0].reshape(-1, 8, 2)
    unclipped = np.concatenate([projected.min(axis=1), projected.max(axis=1)], axis=1)
    objects.bbox = image_boxes(objects, calib, IMAGE_SIZE)
    # KITTI's truncation: the share of the object's image box outside the image
    clipped_area = (objects.bbox[:, 2] - objects.bbox[:, 0]) * (objects.bbox[:, 3] - objects.bbox[:, 1])
    full_area = (unclipped[:, 2] - unclipped[:, 0]) * (unclipped[:, 3] - unclipped[:, 1])
    objects.truncated = np.clip(1.0 - clipped_area / np.maximum(full_area, 1e-9), 0.0, 1.0)
    return objects


def _render(objects: KittiObjects, calib: KittiCalib) -> np.ndarray:
    """A flat ``[H, W, 3]`` uint8 picture: sky over ground, each box's faces painted far to near."""
    from PIL import Image, ImageDraw

    height, width = IMAGE_SIZE
    image = Image.new("RGB", (width, height), (150, 190, 230))
    draw = ImageDraw.Draw(image)
    # the horizon: where the ground far ahead projects
    horizon = calib.rect_to_image(np.array([[0.0, SENSOR_HEIGHT - 0.08, 1000.0]]))[0][0, 1]
    draw.rectangle([0, horizon, width, height], fill=(110, 110, 105))
    faces = [(0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    corners = box_corners_camera(objects.location, objects.dimensions, objects.rotation_y)
    for i in np.argsort(-objects.location[:, 2]):
        if (corners[i, :, 2] <= 0.1).any():
            continue
        pixels = calib.rect_to_image(corners[i])[0]
        colour = _COLOURS.get(str(objects.name[i]), (120, 120, 120))
        for face in faces:
            draw.polygon([tuple(pixels[k]) for k in face], fill=colour, outline=(20, 20, 20))
    return np.asarray(image)


def write_synthetic_kitti(
    folder: str | os.PathLike,
    frames: int = 64,
    val_fraction: float = 0.25,
    cars: tuple[int, int] = (4, 10),
    pedestrians: tuple[int, int] = (0, 4),
    cyclists: tuple[int, int] = (0, 3),
    beams: int = 64,
    columns: int = 1024,
    seed: int = 0,
    test_frames: int = 0,
) -> Path:
    """Write ``frames`` synthetic scenes in the KITTI object layout under ``folder`` and return it.

    Frame ``i`` (id ``%06d``) is drawn from ``default_rng([seed, i])``: ``cars``, ``pedestrians``
    and ``cyclists`` give the (low, high) number of each per scene, placed 4-60 m ahead and within
    25 m to the side. The last ``val_fraction`` of the frames form ``ImageSets/val.txt``, the rest
    ``ImageSets/train.txt``; ``test_frames`` more frames (ids ``frames`` on, drawn the same way, so the
    train and val frames do not depend on it) form ``ImageSets/test.txt``, a held-out split as large as a
    measurement needs. A folder already written with the same arguments is returned as it is.

    Raises:
        ValueError: fewer than 2 frames, a split that leaves train or val empty, a (low, high) range
            that is not ``0 <= low <= high``, or ``folder`` not empty and not written with these arguments.
    """
    val = round(frames * val_fraction)
    if frames < 2 or not 1 <= val < frames:
        raise ValueError(
            f"need frames >= 2 and a val_fraction leaving both splits non-empty, got {frames}, {val_fraction}"
        )
    if test_frames < 0:
        raise ValueError(f"test_frames must be 0 (no test split) or more, got {test_frames}")
    for name, (low, high) in (("cars", cars), ("pedestrians", pedestrians), ("cyclists", cyclists)):
        if not 0 <= low <= high:
            raise ValueError(f"{name} must be (low, high) with 0 <= low <= high, got {(low, high)}")
    options = dict(
        format=GENERATED_FORMAT,
        frames=frames,
        val_fraction=val_fraction,
        cars=list(cars),
        pedestrians=list(pedestrians),
        cyclists=list(cyclists),
        beams=beams,
        columns=columns,
        seed=seed,
    )
    # folders written before the test split existed keep their options (and stay valid)
    if test_frames:
        options["test_frames"] = test_frames
    calib = kitti_like_calib()

    def write(tmp: Path) -> None:
        from PIL import Image

        for kind in ("velodyne", "label_2", "calib", "image_2"):
            (tmp / "training" / kind).mkdir(parents=True)
        for i in range(frames + test_frames):
            rng = np.random.default_rng([seed, i])
            counts = {
                name: int(rng.integers(low, high + 1))
                for name, (low, high) in (("Car", cars), ("Pedestrian", pedestrians), ("Cyclist", cyclists))
            }
            boxes, names = sample_boxes(rng, counts, (4.0, -25.0, 60.0, 25.0))
            points, _, visible = scan_scene(rng, boxes, beams, columns)
            objects = _labels(boxes, names, visible, calib)
            frame = f"{i:06d}"
            write_points(tmp / "training" / "velodyne" / f"{frame}.bin", points)
            write_label(tmp / "training" / "label_2" / f"{frame}.txt", objects)
            write_calib(tmp / "training" / "calib" / f"{frame}.txt", calib)
            Image.fromarray(_render(objects, calib)).save(tmp / "training" / "image_2" / f"{frame}.png")
        (tmp / "ImageSets").mkdir()
        ids = [f"{i:06d}\n" for i in range(frames + test_frames)]
        (tmp / "ImageSets" / "train.txt").write_text("".join(ids[: frames - val]))
        (tmp / "ImageSets" / "val.txt").write_text("".join(ids[frames - val : frames]))
        if test_frames:
            (tmp / "ImageSets" / "test.txt").write_text("".join(ids[frames:]))

    return write_once(folder, options, "write_synthetic_kitti", write)
