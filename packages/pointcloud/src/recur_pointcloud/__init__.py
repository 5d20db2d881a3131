"""recur_pointcloud: 3D point clouds on the recur core (issue 18).

What is here so far: the KITTI object benchmark in its on-disk format
(:mod:`recur_pointcloud.data.kitti`: points, labels, calibration, camera <-> LiDAR boxes, range crop,
field-of-view filter), rotated-box overlaps (:mod:`recur_pointcloud.boxes`), the KITTI AP metric as
OpenPCDet's ``kitti_object_eval_python`` computes it (:mod:`recur_pointcloud.metrics.kitti_ap`) and a
check figure of boxes drawn onto the camera image (:mod:`recur_pointcloud.plots`). Importing this
package imports nothing else.
"""

__version__ = "0.1.0"
