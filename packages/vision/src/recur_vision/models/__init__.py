"""Models of recur_vision (importing this package registers them).

- :mod:`~recur_vision.models.captioning`: LRCN's factored two-layer image captioner (``lrcn_captioner``),
  its image encoders, greedy and beam-search decoding, and the nearest-neighbour caption baseline.
- :mod:`~recur_vision.models.lrcn`: LRCN activity recognition (``lrcn``) and its single-frame network
  (``lrcn_single_frame``), with the frame CNNs (small, CaffeNet-like, any torchvision classifier).
- :mod:`~recur_vision.models.tslstm`: TS-LSTM (``tslstm``) and Temporal-Inception (``temporal_inception``)
  on feature matrices.
- :mod:`~recur_vision.models.baselines`: the video baselines on features (``frame_average``,
  ``mean_pool``, ``feature_lstm``) and the mean-pool logistic-regression probe.
"""

from recur_vision.models.baselines import (
    FeatureLSTM,
    FrameAverage,
    MeanPool,
    feature_lstm,
    fit_mean_pool_probe,
    frame_average,
    mean_pool,
)
from recur_vision.models.captioning import (
    CaptionerConfig,
    Decoded,
    LRCNCaptioner,
    NearestNeighbourCaptioner,
    SmallCNN,
    build_image_encoder,
    consensus_caption,
    lrcn_captioner,
)
from recur_vision.models.lrcn import (
    LRCN,
    FrameEncoder,
    SingleFrame,
    caffenet_cnn,
    frame_cnn,
    lrcn,
    lrcn_single_frame,
    small_cnn,
    torchvision_cnn,
)
from recur_vision.models.tslstm import TSLSTM, TemporalInception, segment_frames, temporal_inception, tslstm

__all__ = [
    "LRCN",
    "TSLSTM",
    "CaptionerConfig",
    "Decoded",
    "FeatureLSTM",
    "FrameAverage",
    "FrameEncoder",
    "LRCNCaptioner",
    "MeanPool",
    "NearestNeighbourCaptioner",
    "SingleFrame",
    "SmallCNN",
    "TemporalInception",
    "build_image_encoder",
    "caffenet_cnn",
    "consensus_caption",
    "feature_lstm",
    "fit_mean_pool_probe",
    "frame_average",
    "frame_cnn",
    "lrcn",
    "lrcn_captioner",
    "lrcn_single_frame",
    "mean_pool",
    "segment_frames",
    "small_cnn",
    "temporal_inception",
    "torchvision_cnn",
    "tslstm",
]
