"""The baselines the video papers compare with, on feature matrices ``[B, D, T]``.

- ``frame_average`` (:class:`FrameAverage`): each frame classified on its own, the logits averaged
  over time (late fusion): the single-frame baseline of LRCN (Donahue et al. 2015) and of TS-LSTM
  (Ma et al. 2019), on features. On pixels, LRCN's own single-frame network is
  :class:`~recur_vision.models.lrcn.SingleFrame` (``lrcn_single_frame``).
- ``mean_pool`` (:class:`MeanPool`): the features averaged over time, then a classifier (TS-LSTM's
  "naive" temporal pooling).
- ``feature_lstm`` (:class:`FeatureLSTM`): a plain recurrence over all T frames, its last output
  classified (TS-LSTM's plain-LSTM baseline, without segments).
- :func:`fit_mean_pool_probe`: a multinomial logistic regression on mean-pooled, standardised
  features fitted by L-BFGS in a second; the feature task scores it beside the model in every test.

The first two cannot tell a video from the same video played backwards: they see the set of
frames, not their order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recur_core.registry import build_layer, register_model

__all__ = [
    "FeatureLSTM",
    "FrameAverage",
    "MeanPool",
    "feature_lstm",
    "fit_mean_pool_probe",
    "frame_average",
    "mean_pool",
]


def _check_matrix(features: Tensor, dim: int) -> None:
    if features.dim() != 3 or features.shape[1] != dim:
        raise ValueError(f"expected feature matrices [B, {dim}, T] (features x frames), got {tuple(features.shape)}")


class FrameAverage(nn.Module):
    """Per-frame BN + linear classifier, logits averaged over frames: ``[B, D, T]`` -> ``[B, C]``."""

    def __init__(self, feature_dim: int = 2048, num_classes: int = 13, num_frames: int = 25, dropout: float = 0.0):
        super().__init__()
        self.feature_dim, self.num_frames = feature_dim, num_frames
        self.norm = nn.BatchNorm1d(feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        _check_matrix(features, self.feature_dim)
        frames = self.dropout(self.norm(features)).transpose(1, 2)
        return self.classifier(frames).mean(1)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch_size, self.feature_dim, self.num_frames),)


class MeanPool(nn.Module):
    """Features averaged over frames, BN, linear classifier: ``[B, D, T]`` -> ``[B, C]``."""

    def __init__(self, feature_dim: int = 2048, num_classes: int = 13, num_frames: int = 25, dropout: float = 0.0):
        super().__init__()
        self.feature_dim, self.num_frames = feature_dim, num_frames
        self.norm = nn.BatchNorm1d(feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        _check_matrix(features, self.feature_dim)
        return self.classifier(self.dropout(self.norm(features.mean(-1))))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch_size, self.feature_dim, self.num_frames),)


class FeatureLSTM(nn.Module):
    """A plain recurrence over every frame: BN, linear to ``hidden``, ``layer``, last output, linear.

    Shapes:
        features ``[B, D, T]`` -> logits ``[B, C]``.
    """

    def __init__(
        self,
        feature_dim: int = 2048,
        num_classes: int = 13,
        num_frames: int = 25,
        hidden: int = 512,
        dropout: float = 0.0,
        layer: str = "lstm",
        layer_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self.feature_dim, self.num_frames = feature_dim, num_frames
        self.norm = nn.BatchNorm1d(feature_dim)
        self.proj = nn.Linear(feature_dim, hidden)
        self.layer = build_layer(layer, d_model=hidden, **(layer_kwargs or {}))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        _check_matrix(features, self.feature_dim)
        outputs, _ = self.layer(self.proj(self.norm(features).transpose(1, 2)))
        return self.classifier(self.dropout(outputs[:, -1]))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch_size, self.feature_dim, self.num_frames),)


def fit_mean_pool_probe(
    features: Tensor, labels: Tensor, num_classes: int, l2: float = 1e-3, max_iter: int = 200
) -> Callable[[Tensor], Tensor]:
    """A logistic regression on time-averaged, standardised features, fitted by L-BFGS (deterministic).

    Args:
        features: training matrices ``[N, D, T]``.
        labels: int64 ``[N]``.
        num_classes: C.
        l2: weight of the squared-norm penalty on the weights.
        max_iter: L-BFGS iterations.

    Returns:
        ``predict(features [M, D, T]) -> logits [M, C]``.
    """
    # a test loop runs under inference mode, which enable_grad alone does not lift
    with torch.inference_mode(False), torch.enable_grad():
        x = features.double().mean(-1)
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
        x = (x - mean) / std
        weight = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(x @ weight + bias, labels.clone()) + l2 * weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        weight, bias = weight.detach(), bias.detach()

    def predict(matrices: Tensor) -> Tensor:
        return ((matrices.double().mean(-1) - mean) / std) @ weight + bias

    return predict


@register_model("frame_average")
def frame_average(
    feature_dim: int = 2048, num_classes: int = 13, num_frames: int = 25, dropout: float = 0.0
) -> FrameAverage:
    """Single-frame baseline on features (:class:`FrameAverage`)."""
    return FrameAverage(feature_dim, num_classes, num_frames, dropout)


@register_model("mean_pool")
def mean_pool(feature_dim: int = 2048, num_classes: int = 13, num_frames: int = 25, dropout: float = 0.0) -> MeanPool:
    """Mean-pool baseline on features (:class:`MeanPool`)."""
    return MeanPool(feature_dim, num_classes, num_frames, dropout)


@register_model("feature_lstm")
def feature_lstm(
    feature_dim: int = 2048,
    num_classes: int = 13,
    num_frames: int = 25,
    hidden: int = 512,
    dropout: float = 0.0,
    layer: str = "lstm",
    layer_kwargs: dict | None = None,
) -> FeatureLSTM:
    """Plain-LSTM baseline on features (:class:`FeatureLSTM`)."""
    return FeatureLSTM(feature_dim, num_classes, num_frames, hidden, dropout, layer, layer_kwargs)
