"""Point-cloud metrics: :mod:`~recur_pointcloud.metrics.kitti_ap` (the KITTI detection AP as OpenPCDet computes it)."""

from recur_pointcloud.metrics.kitti_ap import average_precision, kitti_eval, precision_curve

__all__ = ["average_precision", "kitti_eval", "precision_curve"]
