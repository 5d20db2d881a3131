"""recur_pointcloud: 3D point clouds on the recur core.

- :mod:`recur_pointcloud.data`: the KITTI object benchmark (points, labels, calibration, camera <-> LiDAR
  boxes, crops), S3DIS and Semantic3D in their on-disk formats, and the embedded defaults written in those
  formats: ray-cast synthetic LiDAR scenes and furnished synthetic rooms;
- :mod:`recur_pointcloud.boxes`: rotated-box overlaps (BEV and 3D IoU);
- :mod:`recur_pointcloud.metrics.kitti_ap`: the KITTI AP as OpenPCDet's ``kitti_object_eval_python``;
- :mod:`recur_pointcloud.voxels`, :mod:`recur_pointcloud.models.lion`, :mod:`recur_pointcloud.models.anchor_head`,
  :mod:`recur_pointcloud.models.detector`, :mod:`recur_pointcloud.detection`: LION (Liu et al., NeurIPS 2024),
  a SECOND-style detector whose 3D backbone groups voxels through any core layer, with its data and task;
- :mod:`recur_pointcloud.models.dqn_rnn`, :mod:`recur_pointcloud.eye_window`, :mod:`recur_pointcloud.parsing`:
  3DCNN-DQN-RNN scene parsing (Liu et al., ICCV 2017): a DQN-steered eye window and a residual RNN labeller;
- :mod:`recur_pointcloud.plots`: a check figure of boxes drawn onto the camera image and in bird's-eye view.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
