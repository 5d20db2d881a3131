"""The KITTI 3D object benchmark in its on-disk format, read and written as OpenPCDet does.

Layout of a KITTI object folder (``<data root>/kitti_object``)::

    training/velodyne/NNNNNN.bin   float32 little-endian x y z reflectance, LiDAR frame (x forward, y left, z up)
    training/label_2/NNNNNN.txt    one object per line, 15 fields (16 with a detection score):
                                   type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]
    training/calib/NNNNNN.txt      P0..P3 (3x4), R0_rect (3x3), Tr_velo_to_cam (3x4), row-major
    training/image_2/NNNNNN.png    the left colour camera
    ImageSets/{train,val}.txt      frame ids, one a line

A label's box is in the rectified camera frame (x right, y down, z forward): ``(x, y, z)`` is the
centre of the box's bottom face, ``h w l`` its height, width and length and ``rotation_y`` its yaw
about the camera's y axis. A LiDAR box is OpenPCDet's ``(x, y, z, dx, dy, dz, heading)``: the centre,
the length, width and height, and the heading counter-clockwise from x about z, so that
``heading = -(rotation_y + pi/2)`` and ``z_lidar = z(bottom) + h/2``
(``pcdet.utils.box_utils.boxes3d_kitti_camera_to_lidar``).

Shapes: points ``[N, 4]``; LiDAR boxes ``[M, 7]``; image boxes ``[M, 4]`` (x1, y1, x2, y2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "KittiCalib",
    "KittiObject",
    "KittiObjects",
    "box_corners_camera",
    "boxes_camera_to_lidar",
    "boxes_lidar_to_camera",
    "crop_points_to_range",
    "field_of_view_mask",
    "image_boxes",
    "read_calib",
    "read_label",
    "read_points",
    "write_calib",
    "write_label",
    "write_points",
]

DATASET = "kitti_object"
CLASSES = ("Car", "Pedestrian", "Cyclist")
_LABEL_FIELDS = 15


# ----- points -----------------------------------------------------------------------------------------


def read_points(path: str | os.PathLike) -> np.ndarray:
    """A Velodyne scan ``[N, 4]`` float32 (x, y, z, reflectance) from a KITTI ``.bin``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the size is not a multiple of 16 bytes (4 float32 per point), or the file is empty.
    """
    path = Path(path)
    size = path.stat().st_size
    if size % 16:
        raise ValueError(
            f"{path}: {size} bytes is not a multiple of 16 (x y z reflectance as float32 per point); "
            "the file is truncated or not a KITTI velodyne scan"
        )
    if size == 0:
        raise ValueError(f"{path}: empty point cloud (0 points); a KITTI velodyne scan holds at least one point")
    return np.fromfile(path, dtype="<f4").reshape(-1, 4)


def write_points(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write ``points [N, 4]`` (x, y, z, reflectance) as a KITTI ``.bin`` (float32 little-endian)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f"points must be [N, 4] (x, y, z, reflectance), got shape {points.shape}")
    points.astype("<f4").tofile(path)


# ----- labels -----------------------------------------------------------------------------------------


@dataclass
class KittiObjects:
    """The objects of one frame, as the columns of its label file (``M`` objects).

    Attributes:
        name: ``[M]`` class names (``Car``, ``Van``, ``Pedestrian``, ``DontCare``, ...).
        truncated: ``[M]`` float in [0, 1] (-1 for DontCare).
        occluded: ``[M]`` int 0 (fully visible) .. 3 (unknown); -1 for DontCare.
        alpha: ``[M]`` observation angle in [-pi, pi].
        bbox: ``[M, 4]`` image box x1 y1 x2 y2 in pixels.
        dimensions: ``[M, 3]`` height, width, length in metres (the file's order).
        location: ``[M, 3]`` bottom-face centre x y z in the rectified camera frame.
        rotation_y: ``[M]`` yaw about the camera's y axis.
        score: ``[M]`` detection confidence; -1 where the file has no 16th field (ground truth).
    """

    name: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    bbox: np.ndarray
    dimensions: np.ndarray
    location: np.ndarray
    rotation_y: np.ndarray
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        m = len(self.name)
        self.name = np.asarray(self.name, dtype=object).reshape(m)
        for column, width in (("bbox", 4), ("dimensions", 3), ("location", 3)):
            setattr(self, column, np.asarray(getattr(self, column), dtype=np.float64).reshape(m, width))
        for column in ("truncated", "alpha", "rotation_y"):
            setattr(self, column, np.asarray(getattr(self, column), dtype=np.float64).reshape(m))
        self.occluded = np.asarray(self.occluded, dtype=np.int64).reshape(m)
        self.score = np.full(m, -1.0) if len(self.score) == 0 and m else np.asarray(self.score, np.float64).reshape(m)

    def __len__(self) -> int:
        return len(self.name)

    def select(self, keep: np.ndarray) -> KittiObjects:
        """The objects where the boolean or index array ``keep`` selects them."""
        return KittiObjects(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    @classmethod
    def empty(cls) -> KittiObjects:
        return cls(np.zeros(0, object), [], [], [], np.zeros((0, 4)), np.zeros((0, 3)), np.zeros((0, 3)), [])


def read_label(path: str | os.PathLike) -> KittiObjects:
    """The objects of a KITTI ``label_2`` file (ground truth, 15 fields) or a result file (16, with a score).

    Raises:
        ValueError: a line has another number of fields, or a field that is not a number.
    """
    path = Path(path)
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    for number, row in enumerate(rows, start=1):
        if len(row) not in (_LABEL_FIELDS, _LABEL_FIELDS + 1):
            raise ValueError(
                f"{path} line {number}: {len(row)} fields; a KITTI label line has 15 (type truncated occluded alpha "
                "x1 y1 x2 y2 h w l x y z rotation_y) or 16 with a score"
            )
    if not rows:
        return KittiObjects.empty()
    try:
        values = np.array([[float(v) for v in row[1:15]] for row in rows])
        score = np.array([float(row[15]) if len(row) == 16 else -1.0 for row in rows])
    except ValueError as err:
        raise ValueError(f"{path}: a label field is not a number ({err})") from None
    return KittiObjects(
        name=np.array([row[0] for row in rows], dtype=object),
        truncated=values[:, 0],
        occluded=values[:, 1].astype(np.int64),
        alpha=values[:, 2],
        bbox=values[:, 3:7],
        dimensions=values[:, 7:10],
        location=values[:, 10:13],
        rotation_y=values[:, 13],
        score=score,
    )


def write_label(path: str | os.PathLike, objects: KittiObjects, with_score: bool = False) -> None:
    """Write ``objects`` as a KITTI label file (2 decimals, as the devkit), with the score column if asked."""
    lines = []
    for i in range(len(objects)):
        numbers = [
            objects.alpha[i],
            *objects.bbox[i],
            *objects.dimensions[i],
            *objects.location[i],
            objects.rotation_y[i],
        ]
        line = f"{objects.name[i]} {objects.truncated[i]:.2f} {objects.occluded[i]:d} " + " ".join(
            f"{v:.2f}" for v in numbers
        )
        lines.append(line + (f" {objects.score[i]:.4f}" if with_score else ""))
    Path(path).write_text("".join(line + "\n" for line in lines))


# ----- calibration ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KittiCalib:
    """A frame's calibration: camera projections, rectification and the LiDAR -> camera transform.

    Attributes:
        P: ``[4, 3, 4]`` projection matrices P0..P3 (P2: the left colour camera of ``image_2``).
        R0_rect: ``[3, 3]`` rectifying rotation of the reference camera.
        Tr_velo_to_cam: ``[3, 4]`` LiDAR -> reference camera.
    """

    P: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray

    @property
    def P2(self) -> np.ndarray:
        return self.P[2]

    def lidar_to_rect(self, points: np.ndarray) -> np.ndarray:
        """LiDAR ``[N, 3]`` -> rectified camera ``[N, 3]``: ``R0_rect (Tr_velo_to_cam [p; 1])``."""
        return (np.asarray(points[:, :3], np.float64) @ self.Tr_velo_to_cam[:, :3].T + self.Tr_velo_to_cam[:, 3]) @ (
            self.R0_rect.T
        )

    def rect_to_lidar(self, points: np.ndarray) -> np.ndarray:
        """Rectified camera ``[N, 3]`` -> LiDAR ``[N, 3]``, the inverse of :meth:`lidar_to_rect`."""
        # the file's matrices are rounded, so not exactly orthogonal: solve rather than transpose
        reference = np.linalg.solve(self.R0_rect, np.asarray(points, np.float64).T)
        rotation, translation = self.Tr_velo_to_cam[:, :3], self.Tr_velo_to_cam[:, 3:]
        return np.linalg.solve(rotation, reference - translation).T

    def rect_to_image(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rectified camera ``[N, 3]`` -> pixels ``[N, 2]`` in ``image_2`` and depth ``[N]`` in front of the camera."""
        projected = np.asarray(points, np.float64) @ self.P2[:, :3].T + self.P2[:, 3]
        # P2's third row carries a small offset of the colour camera along z; the depth excludes it
        return projected[:, :2] / projected[:, 2:3], projected[:, 2] - self.P2[2, 3]


def read_calib(path: str | os.PathLike) -> KittiCalib:
    """A KITTI ``calib`` file (``P0: ...`` to ``Tr_velo_to_cam: ...``).

    Raises:
        ValueError: a required matrix is missing or has the wrong number of values.
    """
    path = Path(path)
    entries: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        key, sep, values = line.partition(":")
        if sep:
            try:
                entries[key.strip()] = [float(v) for v in values.split()]
            except ValueError:
                raise ValueError(f"{path}: the values of {key.strip()} are not all numbers") from None
    shapes = {"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9, "Tr_velo_to_cam": 12}
    for key, count in shapes.items():
        if key not in entries:
            raise ValueError(f"{path}: no {key} line; a KITTI object calib file has P0-P3, R0_rect and Tr_velo_to_cam")
        if len(entries[key]) != count:
            raise ValueError(f"{path}: {key} has {len(entries[key])} values, expected {count}")
    return KittiCalib(
        P=np.array([entries[f"P{i}"] for i in range(4)]).reshape(4, 3, 4),
        R0_rect=np.array(entries["R0_rect"]).reshape(3, 3),
        Tr_velo_to_cam=np.array(entries["Tr_velo_to_cam"]).reshape(3, 4),
    )


def write_calib(path: str | os.PathLike, calib: KittiCalib) -> None:
    """Write ``calib`` in the KITTI object format (Tr_imu_to_velo as the identity, which nothing here reads)."""
    matrices = {f"P{i}": calib.P[i] for i in range(4)}
    matrices |= {"R0_rect": calib.R0_rect, "Tr_velo_to_cam": calib.Tr_velo_to_cam, "Tr_imu_to_velo": np.eye(3, 4)}
    Path(path).write_text(
        "".join(f"{k}: " + " ".join(f"{v:.12e}" for v in m.ravel()) + "\n" for k, m in matrices.items())
    )


# ----- boxes ------------------------------------------------------------------------------------------


def boxes_camera_to_lidar(objects: KittiObjects, calib: KittiCalib) -> np.ndarray:
    """LiDAR boxes ``[M, 7]`` (x, y, z, dx, dy, dz, heading) of the labels' camera boxes."""
    height, width, length = objects.dimensions.T
    centre = calib.rect_to_lidar(objects.location)
    centre[:, 2] += height / 2
    heading = -(objects.rotation_y + np.pi / 2)
    return np.concatenate([centre, np.stack([length, width, height, heading], axis=1)], axis=1)


def boxes_lidar_to_camera(boxes: np.ndarray, calib: KittiCalib) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera ``location [M, 3]`` (bottom centre), ``dimensions [M, 3]`` (h w l), ``rotation_y [M]`` of LiDAR boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    bottom = boxes[:, :3].copy()
    bottom[:, 2] -= boxes[:, 5] / 2
    location = calib.lidar_to_rect(bottom)
    dimensions = boxes[:, [5, 4, 3]]
    return location, dimensions, -boxes[:, 6] - np.pi / 2


def box_corners_camera(location: np.ndarray, dimensions: np.ndarray, rotation_y: np.ndarray) -> np.ndarray:
    """The 8 corners ``[M, 8, 3]`` of camera boxes: bottom face (y = location y) first, then the top (y - h)."""
    height, width, length = np.asarray(dimensions, np.float64).reshape(-1, 3).T
    sign_x = np.array([1, 1, -1, -1, 1, 1, -1, -1]) / 2
    sign_z = np.array([1, -1, -1, 1, 1, -1, -1, 1]) / 2
    top = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    x, z = length[:, None] * sign_x, width[:, None] * sign_z
    y = -height[:, None] * top
    cos, sin = np.cos(rotation_y)[:, None], np.sin(rotation_y)[:, None]
    # rotation about the camera's y axis by rotation_y
    corners = np.stack([cos * x + sin * z, y, -sin * x + cos * z], axis=-1)
    return corners + np.asarray(location, np.float64).reshape(-1, 1, 3)


def image_boxes(objects: KittiObjects, calib: KittiCalib, image_size: tuple[int, int]) -> np.ndarray:
    """Image boxes ``[M, 4]`` (x1 y1 x2 y2) around the projected corners, clipped to ``image_size`` = (H, W).

    This is how OpenPCDet gives a LiDAR detection the 2D box that the KITTI metric reads
    (``boxes3d_kitti_camera_to_imageboxes``).
    """
    corners = box_corners_camera(objects.location, objects.dimensions, objects.rotation_y)
    pixels, _ = calib.rect_to_image(corners.reshape(-1, 3))
    pixels = pixels.reshape(-1, 8, 2)
    low, high = pixels.min(axis=1), pixels.max(axis=1)
    h, w = image_size
    return np.concatenate(
        [
            np.clip(low[:, :1], 0, w - 1),
            np.clip(low[:, 1:], 0, h - 1),
            np.clip(high[:, :1], 0, w - 1),
            np.clip(high[:, 1:], 0, h - 1),
        ],
        axis=1,
    )


# ----- point filters ----------------------------------------------------------------------------------


def crop_points_to_range(points: np.ndarray, point_range: tuple[float, ...]) -> np.ndarray:
    """The points with ``x_min <= x <= x_max`` and ``y_min <= y <= y_max``, ``point_range`` = (x0, y0, z0, x1, y1, z1).

    As OpenPCDet's ``mask_points_by_range``, only x and y are tested: the voxeliser drops points outside z.
    """
    if len(point_range) != 6 or not (point_range[0] < point_range[3] and point_range[1] < point_range[4]):
        raise ValueError(f"point_range must be (x_min, y_min, z_min, x_max, y_max, z_max), got {point_range}")
    x, y = points[:, 0], points[:, 1]
    keep = (x >= point_range[0]) & (x <= point_range[3]) & (y >= point_range[1]) & (y <= point_range[4])
    return points[keep]


def field_of_view_mask(points: np.ndarray, calib: KittiCalib, image_size: tuple[int, int]) -> np.ndarray:
    """``[N]`` True for points that project inside ``image_2`` (``image_size`` = (H, W)) in front of the camera."""
    pixels, depth = calib.rect_to_image(calib.lidar_to_rect(points[:, :3]))
    h, w = image_size
    return (pixels[:, 0] >= 0) & (pixels[:, 0] < w) & (pixels[:, 1] >= 0) & (pixels[:, 1] < h) & (depth >= 0)


# ----- frames -----------------------------------------------------------------------------------------


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width


class KittiObject(Dataset):
    """Frames of the KITTI object benchmark's ``training`` part.

    Args:
        root: the KITTI object folder (``training/``, ``ImageSets/``); default the ``kitti_object``
            dataset under the data root.
        split: read the frame ids from ``ImageSets/<split>.txt``; ``None`` takes every
            ``training/velodyne/*.bin``.
        classes: the classes whose boxes a frame's ``boxes`` hold, in this order of ``labels``.
        point_range: keep the points inside (x0, y0, z0, x1, y1, z1) in x and y (:func:`crop_points_to_range`).
        fov_only: keep only the points seen by ``image_2`` (as OpenPCDet's ``FOV_POINTS_ONLY``).

    Each item is a dict: ``frame_id`` (str), ``points`` ``[N, 4]`` float32, ``boxes`` ``[M, 7]``
    float32 LiDAR boxes of ``classes``, ``labels`` ``[M]`` int64 indices into ``classes``,
    ``objects`` (every label of the frame, DontCare included, for the metric), ``calib`` and
    ``image_size`` (H, W).

    Raises:
        DatasetNotFoundError: no ``training/velodyne`` under the folder (says how to get KITTI).
        FileNotFoundError: the split file is missing, or lists a frame whose files are not there.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        split: str | None = "train",
        classes: tuple[str, ...] = CLASSES,
        point_range: tuple[float, ...] | None = None,
        fov_only: bool = True,
    ) -> None:
        self.root = _kitti_folder(root)
        self.classes = tuple(classes)
        self.point_range = None if point_range is None else tuple(point_range)
        self.fov_only = fov_only
        training = self.root / "training"
        if split is None:
            self.frame_ids = sorted(p.stem for p in (training / "velodyne").glob("*.bin"))
        else:
            listing = self.root / "ImageSets" / f"{split}.txt"
            if not listing.is_file():
                raise FileNotFoundError(
                    f"no split file {listing}; run 'recur data fetch kitti_object' for ImageSets/, or use split=None "
                    "for every frame in training/velodyne"
                )
            self.frame_ids = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        for frame_id in self.frame_ids:
            for path in self._paths(frame_id).values():
                if not path.is_file():
                    where = f"ImageSets/{split}.txt" if split is not None else "training/velodyne"
                    raise FileNotFoundError(
                        f"{where} lists frame {frame_id} but {path} does not exist; unpack every KITTI archive "
                        f"(velodyne, image_2, label_2, calib) into {self.root}"
                    )
        if not self.frame_ids:
            raise FileNotFoundError(f"no frames in {training / 'velodyne'}; unpack data_object_velodyne.zip there")

    def _paths(self, frame_id: str) -> dict[str, Path]:
        training = self.root / "training"
        return {
            "points": training / "velodyne" / f"{frame_id}.bin",
            "label": training / "label_2" / f"{frame_id}.txt",
            "calib": training / "calib" / f"{frame_id}.txt",
            "image": training / "image_2" / f"{frame_id}.png",
        }

    def image_path(self, index: int) -> Path:
        return self._paths(self.frame_ids[index])["image"]

    def __len__(self) -> int:
        return len(self.frame_ids)

    def __getitem__(self, index: int) -> dict:
        frame_id = self.frame_ids[index]
        paths = self._paths(frame_id)
        points = read_points(paths["points"])
        calib = read_calib(paths["calib"])
        objects = read_label(paths["label"])
        image_size = _image_size(paths["image"])
        if self.fov_only:
            points = points[field_of_view_mask(points, calib, image_size)]
        if self.point_range is not None:
            points = crop_points_to_range(points, self.point_range)
        wanted = np.isin(objects.name, self.classes)
        kept = objects.select(wanted)
        boxes = boxes_camera_to_lidar(kept, calib) if len(kept) else np.zeros((0, 7))
        labels = np.array([self.classes.index(n) for n in kept.name], dtype=np.int64)
        return {
            "frame_id": frame_id,
            "points": torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)),
            "boxes": torch.from_numpy(boxes.astype(np.float32)),
            "labels": torch.from_numpy(labels),
            "objects": objects,
            "calib": calib,
            "image_size": image_size,
        }


def _kitti_folder(root: str | os.PathLike | None) -> Path:
    """The KITTI object folder: ``root`` if given, else the catalogue's folder under the data root."""
    from recur_core.data import data_root, get_dataset
    from recur_core.data.root import DatasetNotFoundError, not_found_message

    if root is not None:
        folder = Path(root)
        if not (folder / "training" / "velodyne").is_dir():
            raise FileNotFoundError(f"{folder} has no training/velodyne folder; give the KITTI object folder")
        return folder
    spec = get_dataset(DATASET)
    folder = data_root() / spec.folder
    if not (folder / "training" / "velodyne").is_dir():
        raise DatasetNotFoundError(not_found_message(spec, DATASET, folder, manual=True))
    return folder
