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
- :mod:`~recur_vision.models.scnn`: SCNN lane detection (``scnn``; ``message_passing="none"|"conv"`` are its
  baselines), the DULR module and its slice-by-slice reference, the loss and the lane post-processing.
- :mod:`~recur_vision.models.vir`: the vision retention network (``vir``) and its same-size ViT (``vit``).
- :mod:`~recur_vision.models.rsvqa`: RSVQA (Lobry et al. 2020): ResNet image branch, recurrent question
  branch, product fusion (``rsvqa``) and the single-modality baselines (``rsvqa_question_only``, ``rsvqa_image_only``).
- :mod:`~recur_vision.models.baselines`: the video baselines on features (``frame_average``,
  ``mean_pool``, ``feature_lstm``) and the mean-pool logistic-regression probe.

The builders named like their module (``lrcn``, ``rsvqa``, ``scnn``, ``vir``) are not re-exported here, so that
``recur_vision.models.lrcn`` and the others stay the modules: build them with ``get_model`` or import them from
their module.
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
    lrcn_single_frame,
    small_cnn,
    torchvision_cnn,
)
from recur_vision.models.rsvqa import RSVQAConfig, RSVQANet, rsvqa_image_only, rsvqa_question_only
from recur_vision.models.scnn import SCNN, SCNNConfig, SCNNOutput, SpatialMessagePassing, decode_lanes, scnn_loss
from recur_vision.models.tslstm import TSLSTM, TemporalInception, segment_frames
from recur_vision.models.vir import ViR, ViRConfig, ViT, ViTConfig, vit

__all__ = [
    "LRCN",
    "SCNN",
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
    "RSVQAConfig",
    "RSVQANet",
    "SCNNConfig",
    "SCNNOutput",
    "SingleFrame",
    "SmallCNN",
    "SpatialMessagePassing",
    "TemporalInception",
    "ViR",
    "ViRConfig",
    "ViT",
    "ViTConfig",
    "build_image_encoder",
    "caffenet_cnn",
    "caption_attack_discriminator",
    "caption_attack_generator",
    "consensus_caption",
    "decode_lanes",
    "fit_mean_pool_probe",
    "frame_cnn",
    "lrcn_captioner",
    "lrcn_single_frame",
    "rsvqa_image_only",
    "rsvqa_question_only",
    "scnn_loss",
    "segment_frames",
    "small_cnn",
    "torchvision_cnn",
    "vit",
]
