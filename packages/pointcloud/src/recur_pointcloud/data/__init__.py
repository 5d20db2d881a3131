"""Point-cloud datasets in their real on-disk formats.

- :mod:`~recur_pointcloud.data.kitti`: the KITTI object benchmark (points, labels, calibration,
  camera <-> LiDAR boxes, point-range crop, field-of-view filter, :class:`KittiObject` frames).
- :mod:`~recur_pointcloud.data.synthetic_kitti`: the embedded default, ray-cast synthetic LiDAR
  scenes written as KITTI object files (:func:`write_synthetic_kitti`).
- :mod:`~recur_pointcloud.data.s3dis`: the Stanford indoor scenes (``Area_N/<room>/Annotations``,
  :class:`S3DISRooms`, the 13 classes).
- :mod:`~recur_pointcloud.data.semantic3d`: Semantic3D's semantic-8 scans (``.txt`` + ``.labels``,
  read in chunks, optional voxel-grid subsampling).
- :mod:`~recur_pointcloud.data.synthetic_rooms`: the embedded default for indoor parsing, furnished
  rooms written in the S3DIS layout (:func:`write_synthetic_rooms`, :func:`synthetic_rooms_root`).

Real files are read in place from the data root (:func:`recur_core.data.data_root`: ``$RECUR_DATA``,
else ``~/.cache/recur/data``); the catalogue entries (:mod:`~recur_pointcloud.data.catalogue`) say
what each folder holds.
"""

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: "recur_pointcloud.data.kitti"
        for name in (
            "KittiCalib",
            "KittiObject",
            "KittiObjects",
            "boxes_camera_to_lidar",
            "boxes_lidar_to_camera",
            "box_corners_camera",
            "crop_points_to_range",
            "field_of_view_mask",
            "image_boxes",
            "read_calib",
            "read_label",
            "read_points",
            "write_calib",
            "write_label",
            "write_points",
        )
    }
    | {"write_synthetic_kitti": "recur_pointcloud.data.synthetic_kitti"}
    | {n: "recur_pointcloud.data.s3dis" for n in ("S3DIS_CLASSES", "S3DISRooms", "read_annotation", "read_room")}
    | {
        n: "recur_pointcloud.data.semantic3d"
        for n in ("SEMANTIC3D_CLASSES", "Semantic3DScans", "read_scan", "voxel_subsample")
    }
    | {
        n: "recur_pointcloud.data.synthetic_rooms"
        for n in ("sample_room", "synthetic_rooms_root", "write_synthetic_rooms")
    },
)
