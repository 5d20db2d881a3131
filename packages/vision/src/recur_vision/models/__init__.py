"""Models of recur_vision (importing this package registers them).

- :mod:`~recur_vision.models.caption_attack`: the controlled caption attack (Aafaq et al. 2021): the
  perturbation generator (``caption_attack_generator``), its patch discriminator
  (``caption_attack_discriminator``), the losses and the Show-and-Fool success scores.
- :mod:`~recur_vision.models.captioning`: LRCN's factored two-layer image captioner (``lrcn_captioner``),
  its image encoders, greedy and beam-search decoding, and the nearest-neighbour caption baseline.
- :mod:`~recur_vision.models.lrcn`: LRCN activity recognition (``lrcn``) and its single-frame network
  (``lrcn_single_frame``), with the frame CNNs (small, CaffeNet-like, any torchvision classifier).
- :mod:`~recur_vision.models.tslstm`: TS-LSTM (``tslstm``) and Temporal-Inception (``temporal_inception``)
  on feature matrices.
- :mod:`~recur_vision.models.baselines`: the video baselines on features (``frame_average``,
  ``mean_pool``, ``feature_lstm``) and the mean-pool logistic-regression probe.
"""

from recur_vision.models.baselines import FeatureLSTM, FrameAverage, MeanPool, fit_mean_pool_probe
from recur_vision.models.caption_attack import (
    PatchDiscriminator,
    PerturbationGenerator,
    caption_attack_discriminator,
    caption_attack_generator,
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
from recur_vision.models.tslstm import TSLSTM, TemporalInception, segment_frames

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
    "PatchDiscriminator",
    "PerturbationGenerator",
    "SingleFrame",
    "SmallCNN",
    "TemporalInception",
    "build_image_encoder",
    "caffenet_cnn",
    "caption_attack_discriminator",
    "caption_attack_generator",
    "consensus_caption",
    "fit_mean_pool_probe",
    "frame_cnn",
    "lrcn",
    "lrcn_captioner",
    "lrcn_single_frame",
    "segment_frames",
    "small_cnn",
    "torchvision_cnn",
]
