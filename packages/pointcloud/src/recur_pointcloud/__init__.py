"""recur_pointcloud: 3D point clouds on the recur core (issue 18).

What is here so far:

- :mod:`recur_pointcloud.data.kitti`: the KITTI object benchmark in its on-disk format (points,
  labels, calibration, camera <-> LiDAR boxes, point-range crop, field-of-view filter);
- :mod:`recur_pointcloud.data.synthetic_kitti`: ray-cast synthetic LiDAR scenes written in that format;
- :mod:`recur_pointcloud.boxes`: rotated-box overlaps (BEV and 3D IoU);
- :mod:`recur_pointcloud.metrics.kitti_ap`: the KITTI AP as OpenPCDet's ``kitti_object_eval_python``;
- :mod:`recur_pointcloud.plots`: a check figure of boxes drawn onto the camera image and in bird's-eye view.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
