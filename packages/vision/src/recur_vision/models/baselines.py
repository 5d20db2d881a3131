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

__all__ = ["FeatureLSTM", "FrameAverage", "MeanPool", "fit_mean_pool_probe"]


class _FeatureClassifier(nn.Module):
    """Base of the classifiers of feature matrices ``[B, D, T]`` -> logits ``[B, C]``.

    Holds ``feature_dim`` (D), ``num_classes`` (C) and ``num_frames`` (T), checks the input's shape
    (T must equal ``num_frames`` unless the subclass sets ``any_length``) and gives ``example_input``.
    A subclass's ``forward`` starts with ``features = self.check(features)``.
    """

    any_length = False  # True: any number of frames is accepted (the order-blind pools, the plain recurrence)

    def __init__(self, feature_dim: int, num_classes: int, num_frames: int) -> None:
        super().__init__()
        if min(feature_dim, num_frames) < 1 or num_classes < 2:
            raise ValueError(
                f"feature_dim and num_frames must be >= 1 and num_classes >= 2, got {feature_dim}, {num_frames}, "
                f"{num_classes}"
            )
        self.feature_dim, self.num_classes, self.num_frames = feature_dim, num_classes, num_frames

    def check(self, features: Tensor) -> Tensor:
        """``features`` if it is ``[B, D, T]`` (T = ``num_frames`` unless ``any_length``), else a ValueError."""
        frames = "T" if self.any_length else str(self.num_frames)
        if (
            features.dim() != 3
            or features.shape[1] != self.feature_dim
            or (not self.any_length and features.shape[2] != self.num_frames)
        ):
            raise ValueError(
                f"expected feature matrices [B, {self.feature_dim}, {frames}] (features x frames), "
                f"got {tuple(features.shape)}"
            )
        return features

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch_size, self.feature_dim, self.num_frames),)


@register_model("frame_average")
class FrameAverage(_FeatureClassifier):
    """Single-frame baseline on features: per-frame BN + linear classifier, logits averaged over frames.

    Shapes:
        features ``[B, D, T]`` -> logits ``[B, C]``.
    """

    any_length = True

    def __init__(self, feature_dim: int = 2048, num_classes: int = 13, num_frames: int = 25, dropout: float = 0.0):
        super().__init__(feature_dim, num_classes, num_frames)
        self.norm = nn.BatchNorm1d(feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        features = self.check(features)
        return self.classifier(self.dropout(self.norm(features)).transpose(1, 2)).mean(1)


@register_model("mean_pool")
class MeanPool(_FeatureClassifier):
    """Mean-pool baseline on features: averaged over frames, BN, linear classifier.

    Shapes:
        features ``[B, D, T]`` -> logits ``[B, C]``.
    """

    any_length = True

    def __init__(self, feature_dim: int = 2048, num_classes: int = 13, num_frames: int = 25, dropout: float = 0.0):
        super().__init__(feature_dim, num_classes, num_frames)
        self.norm = nn.BatchNorm1d(feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        features = self.check(features)
        return self.classifier(self.dropout(self.norm(features.mean(-1))))


@register_model("feature_lstm")
class FeatureLSTM(_FeatureClassifier):
    """Plain-LSTM baseline on features: BN, linear to ``hidden``, ``layer`` over every frame, last output, linear.

    Args:
        hidden: width of the recurrence (512).
        layer, layer_kwargs: the recurrence, ``build_layer(layer, d_model=hidden, **layer_kwargs)``.

    Shapes:
        features ``[B, D, T]`` -> logits ``[B, C]``.
    """

    any_length = True

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
        super().__init__(feature_dim, num_classes, num_frames)
        self.norm = nn.BatchNorm1d(feature_dim)
        self.proj = nn.Linear(feature_dim, hidden)
        self.layer = build_layer(layer, d_model=hidden, **(layer_kwargs or {}))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        features = self.check(features)
        outputs, _ = self.layer(self.proj(self.norm(features).transpose(1, 2)))
        return self.classifier(self.dropout(outputs[:, -1]))


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
