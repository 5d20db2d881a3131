r"""TS-LSTM and Temporal-Inception: video classifiers on per-frame CNN feature matrices.

Ma, Chen, Kira and AlRegib, "TS-LSTM and Temporal-Inception: Exploiting Spatiotemporal Dynamics
for Activity Recognition", Signal Processing: Image Communication 2019,
https://arxiv.org/abs/1703.10667. Official Torch7 code: ``chihyaoma/Activity-Recognition-with-CNN-and-RNN``
(``RNN/model.lua`` ``tempSeg_BN_max_LSTM_BN_FC``, ``Temporal-ConvNet/model-Conv-Inception-v1.lua``).

Both read a video as its feature matrix ``[D, T]``: D-dimensional CNN features (2048-d ResNet-101
pool features per stream in the paper) at T = 25 equally spaced frames, as
``recur-vision extract`` writes them.

**TS-LSTM** (temporal segments): the T frames are cut into S = 3 segments of ``T // S`` = 8
frames; as the official code, **frame 25 is dropped** (3 x 8 = 24; the code takes segments of
⌊25/3⌋ frames from the start). Each segment has its own batch normalisation, then a max over its
frames; an LSTM (512 units) reads the S segment vectors; its last output goes through batch
normalisation (and optional dropout) to a linear classifier:

.. math::
    v_s = \max_{t \in \text{seg}_s} \mathrm{BN}_s(x_t), \quad
    h_s = \mathrm{LSTM}(v_s, h_{s-1}), \quad
    \text{logits} = W\, \mathrm{BN}(h_S) + b

**Temporal-Inception**: the matrix is a one-channel ``D x T`` image. Four stages, each with two
parallel temporal-only convolutions (kernels 1 x 5 and 1 x 7, "same" padding) + BN + ReLU + a
temporal max pool, concatenated: channels 1 -> 2 -> 4 -> 8 -> 16, pools 2, 2, 2, 3 take 25 frames
to 12, 6, 3, 1. Then 1 x 1 convolutions 16 -> 4 -> 2 -> 1 (each BN + ReLU), spatial dropout, and
FC D -> 1024 (BN, ReLU, dropout) -> classes.

Deviations, on purpose: the recurrence of TS-LSTM is any core layer (``layer``; ``lstm`` is the
paper's). A core layer maps width D to D, so the segment vectors are first projected linearly to
``hidden`` (512); the official LSTM reads them directly (its input weights are then a
factorisation of Torch's). The official code initialises every parameter uniformly in ±0.1
(``-uniform 0.1``): ``init_range=0.1`` does the same for the weights and biases (the batch
normalisations keep scale 1, shift 0); the default None keeps PyTorch's initialisation, which
is kept because ±0.1 on the 2048-wide input projection (PyTorch: ±1/sqrt(2048)) overfitted
sooner on the generated videos' features.

Temporal-Inception is exactly the official network; its filters are shared by all D feature rows, so
rows on very different scales (the generated videos' random-CNN features: row means from 1e-6 to
0.19) need standardising first (``FeatureData(standardize=True)``, a step the official data script
has commented out), and its weight decay is the official coupled L2 penalty
(``FeatureClassificationModule(l2=0.1)``), not AdamW's. On raw features with AdamW it scored below the
mean-pool network (0.108 against 0.156 after 2 epochs).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recur_core.registry import build_layer, register_model
from recur_vision.models.baselines import _FeatureClassifier

__all__ = ["TSLSTM", "TemporalInception", "segment_frames", "temporal_conv_matrix", "temporal_inception_reference"]


def segment_frames(num_frames: int, num_segments: int) -> tuple[int, int]:
    """``(frames_per_segment, frames_used)``: ``num_frames // num_segments`` each, the remainder dropped at the end.

    25 frames in 3 segments: 8 each, 24 used (frame 25 dropped, as the official code).
    """
    if num_segments < 1 or num_frames < num_segments:
        raise ValueError(f"need 1 <= num_segments <= num_frames, got {num_segments} segments of {num_frames} frames")
    per = num_frames // num_segments
    return per, per * num_segments


@register_model("tslstm")
class TSLSTM(_FeatureClassifier):
    """TS-LSTM (see the module docstring): 3 segments of 8 frames (frame 25 dropped), BN, max, LSTM 512, BN, linear.

    Args:
        feature_dim: D, features per frame (4096 for the paper's two streams).
        num_classes: classes C.
        num_frames: T, frames per matrix (25).
        num_segments: S (3).
        hidden: width of the recurrence (512).
        dropout: dropout before the classifier (the official ``-dropout``; 0 = none).
        layer, layer_kwargs: the recurrence, ``build_layer(layer, d_model=hidden, **layer_kwargs)``.
        init_range: weights and biases drawn uniformly in ``±init_range`` (the official ``-uniform 0.1``);
            None keeps PyTorch's initialisation.

    Shapes:
        features ``[B, D, T]`` -> logits ``[B, C]``.
    """

    def __init__(
        self,
        feature_dim: int = 2048,
        num_classes: int = 13,
        num_frames: int = 25,
        num_segments: int = 3,
        hidden: int = 512,
        dropout: float = 0.0,
        layer: str = "lstm",
        layer_kwargs: dict | None = None,
        init_range: float | None = None,
    ) -> None:
        super().__init__(feature_dim, num_classes, num_frames)
        self.segment_len, self.frames_used = segment_frames(num_frames, num_segments)
        self.num_segments = num_segments
        self.segment_norms = nn.ModuleList(nn.BatchNorm1d(feature_dim) for _ in range(num_segments))
        self.proj = nn.Linear(feature_dim, hidden)
        self.layer = build_layer(layer, d_model=hidden, **(layer_kwargs or {}))
        self.norm = nn.BatchNorm1d(hidden)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)
        if init_range is not None:
            norms = {id(p) for m in self.modules() if isinstance(m, nn.BatchNorm1d) for p in m.parameters()}
            with torch.no_grad():
                for parameter in self.parameters():
                    if id(parameter) not in norms:
                        parameter.uniform_(-init_range, init_range)

    def segments(self, features: Tensor) -> Tensor:
        """``[B, D, T]`` -> the S max-pooled, normalised segment vectors ``[B, S, D]``."""
        features = self.check(features)
        chunks = features[..., : self.frames_used].split(self.segment_len, dim=-1)
        return torch.stack([norm(chunk).amax(-1) for norm, chunk in zip(self.segment_norms, chunks)], dim=1)

    def forward(self, features: Tensor) -> Tensor:
        outputs, _ = self.layer(self.proj(self.segments(features)))
        return self.classifier(self.dropout(self.norm(outputs[:, -1])))


def temporal_conv_matrix(weight: Tensor, frames: int) -> Tensor:
    """A temporal convolution's weight ``[C_out, C_in, 1, k]`` (odd k, "same" zero padding) as a matrix.

    Entry ``[o * T + t, i * T + s]`` (output channel o at frame t, input channel i at frame s) is
    ``weight[o, i, 0, s - t + (k - 1) // 2]``, zero outside the kernel: for rows laid out ``[C_in, T, N]``
    the convolution of each of the N rows is ``matrix @ x.reshape(C_in * T, N)`` -> ``[C_out * T, N]``.
    """
    cout, cin, _, k = weight.shape
    t = torch.arange(frames, device=weight.device)
    # tap[t, s] of input frame s for output frame t: PyTorch convolutions are cross-correlations
    tap = t[None, :] - t[:, None] + (k - 1) // 2
    valid = (tap >= 0) & (tap < k)
    entries = weight[:, :, 0, tap.clamp(0, k - 1)] * valid  # [C_out, C_in, T (t), T (s)]
    return entries.transpose(1, 2).reshape(cout * frames, cin * frames)


class _TemporalBranches(nn.Module):
    """One Inception stage: parallel temporal convs (kernels 5 and 7) + BN + ReLU + max pool, concatenated.

    The branches' batch normalisations are one ``BatchNorm2d`` over their concatenated channels (BN is
    per channel: the same as one per branch). Each feature row is convolved on its own, so the stage
    reads ``[C_in, T, N]`` (N = batch x features, last) and both branches are one matrix product with
    :func:`temporal_conv_matrix`. On one CPU thread the four stages on a batch of 32 matrices
    ``[2048, 25]`` ran 4.0-5.3x faster forward and 3.6-3.9x faster forward + backward than ``Conv2d`` on
    the one-channel image (:func:`temporal_inception_reference`'s form), in two runs on a shared machine
    (``tools/bench/temporal_inception.py``: 47 vs 248 ms and 211 vs 818 ms).
    """

    def __init__(self, cin: int, cout: int, pool: int, kernels: tuple[int, ...] = (5, 7)) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(cin, cout, (1, k), padding=(0, (k - 1) // 2)) for k in kernels)
        self.norm = nn.BatchNorm2d(cout * len(kernels))
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        """``[C_in, T, N]`` -> ``[C_out x branches, T // pool, N]``."""
        _, frames, rows = x.shape
        matrix = torch.cat([temporal_conv_matrix(conv.weight, frames) for conv in self.convs])
        bias = torch.cat([conv.bias for conv in self.convs]).repeat_interleave(frames)
        y = torch.addmm(bias[:, None], matrix, x.reshape(-1, rows)).view(1, -1, frames, rows)
        y = F.relu(self.norm(y))[0]
        # max over each window of `pool` frames (MaxPool's floor mode); an elementwise maximum of the
        # window's frames is much faster than max_pool2d along a middle axis
        steps = frames // self.pool
        return functools.reduce(torch.maximum, y[:, : steps * self.pool].view(-1, steps, self.pool, rows).unbind(2))


@register_model("temporal_inception")
class TemporalInception(_FeatureClassifier):
    """Temporal-Inception (see the module docstring): four stages of temporal convs 5/7, 1 x 1 convs, FC 1024.

    Args:
        feature_dim: D.
        num_classes: classes C.
        num_frames: T (25; at least 24, which the pools 2, 2, 2, 3 take to 1).
        fc_dim: width of the hidden FC layer (1024).
        dropout1: spatial dropout after the 1 x 1 convolutions (0.2 in the official runs).
        dropout2: dropout after the hidden FC layer (0.2).

    Shapes:
        features ``[B, D, T]`` -> logits ``[B, C]``.
    """

    pools = (2, 2, 2, 3)

    def __init__(
        self,
        feature_dim: int = 2048,
        num_classes: int = 13,
        num_frames: int = 25,
        fc_dim: int = 1024,
        dropout1: float = 0.2,
        dropout2: float = 0.2,
    ) -> None:
        super().__init__(feature_dim, num_classes, num_frames)
        steps = num_frames
        for pool in self.pools:
            steps //= pool
        if steps < 1:
            raise ValueError(f"num_frames must be >= 24 (the temporal pools 2, 2, 2, 3), got {num_frames}")
        # each stage's two branches have as many channels as the stage's input: 1 -> 2 -> 4 -> 8 -> 16
        self.stages = nn.Sequential(*(_TemporalBranches(2**i, 2**i, pool) for i, pool in enumerate(self.pools)))
        reduce: list[nn.Module] = []
        for cin, cout in ((16, 4), (4, 2), (2, 1)):
            reduce += [nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.reduce = nn.Sequential(*reduce, nn.Dropout2d(dropout1))
        self.fc = nn.Sequential(
            nn.Linear(feature_dim * steps, fc_dim), nn.BatchNorm1d(fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout2)
        )
        self.classifier = nn.Linear(fc_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        batch, dim, frames = self.check(features).shape
        # each feature row on its own: [1, T, B x D]
        x = self.stages(features.permute(2, 0, 1).reshape(1, frames, batch * dim))  # [16, steps, B x D]
        x = self.reduce(x.view(x.shape[0], -1, batch, dim).permute(2, 0, 3, 1))  # [B, 1, D, steps]
        return self.classifier(self.fc(x.flatten(1)))


def temporal_inception_reference(model: TemporalInception, features: Tensor) -> Tensor:
    """``model``'s forward pass written as the official code: ``Conv2d`` on the one-channel image ``[B, 1, D, T]``.

    The ground truth of the matrix form in :class:`_TemporalBranches` (the tests compare outputs and
    gradients); in training mode it updates the batch normalisations' running statistics as the model does.
    """
    x = model.check(features).unsqueeze(1)
    for stage in model.stages:
        x = torch.cat([conv(x) for conv in stage.convs], dim=1)
        x = F.max_pool2d(F.relu(stage.norm(x)), (1, stage.pool))
    return model.classifier(model.fc(model.reduce(x).flatten(1)))
