"""The feature baselines: order-blind where they should be, and the mean-pool probe learns what a mean shows."""

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
