"""Point-cloud datasets in their real on-disk formats.

- :mod:`~recur_pointcloud.data.kitti`: the KITTI object benchmark (points, labels, calibration,
  camera <-> LiDAR boxes, point-range crop, field-of-view filter, :class:`KittiObject` frames).
- :mod:`~recur_pointcloud.data.synthetic_kitti`: the embedded default, ray-cast synthetic LiDAR
  scenes written as KITTI object files (:func:`write_synthetic_kitti`).

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
    | {"write_synthetic_kitti": "recur_pointcloud.data.synthetic_kitti"},
)
