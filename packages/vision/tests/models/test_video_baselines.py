"""The feature baselines: order-blind where they should be, and the mean-pool probe learns what a mean shows."""

import pytest
import torch

from recur_core import get_model
from recur_vision.models.baselines import fit_mean_pool_probe


def test_mean_pool_and_frame_average_cannot_see_the_order():
    for name in ("mean_pool", "frame_average"):
        model = get_model(name, feature_dim=6, num_classes=3).eval()
        features = torch.randn(4, 6, 25)
        torch.testing.assert_close(model(features.flip(-1)), model(features))


def test_probe_separates_classes_by_their_mean_and_not_by_their_order():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, 1, generator=generator) * 3
    labels = torch.arange(60) % 3
    features = centres[labels] + torch.randn(60, 8, 25, generator=generator)
    predict = fit_mean_pool_probe(features[:45], labels[:45], 3)
    assert (predict(features[45:]).argmax(-1) == labels[45:]).float().mean() > 0.9
    torch.testing.assert_close(predict(features.flip(-1)), predict(features))


def test_feature_models_share_one_shape_check():
    with pytest.raises(ValueError, match=r"\[B, 6, T\] \(features x frames\), got \(2, 25, 6\)"):
        get_model("mean_pool", feature_dim=6)(torch.randn(2, 25, 6))
    # the order-blind pools and the plain recurrence read any length; TS-LSTM needs its 25 frames
    assert get_model("feature_lstm", feature_dim=6, hidden=8)(torch.randn(2, 6, 9)).shape == (2, 13)
    with pytest.raises(ValueError, match=r"\[B, 6, 25\]"):
        get_model("tslstm", feature_dim=6, hidden=8)(torch.randn(2, 6, 9))
    with pytest.raises(ValueError, match="num_classes >= 2"):
        get_model("frame_average", num_classes=1)
