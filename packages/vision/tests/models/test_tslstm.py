"""TS-LSTM and Temporal-Inception: the registry contract, two core layers, the official code's shapes, bad input."""

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_vision.models.tslstm import TSLSTM, TemporalInception, segment_frames

FEATURE_MODELS = ["tslstm", "temporal_inception", "mean_pool", "frame_average", "feature_lstm"]


@pytest.mark.parametrize("name", FEATURE_MODELS)
def test_registered_and_pass_the_model_contract(name, one_thread):
    assert name in list_models("vision")
    check_model(get_model(name, feature_dim=32, num_classes=5))


@pytest.mark.parametrize("name", ["tslstm", "feature_lstm"])
@pytest.mark.parametrize("layer", ["lstm", "gru", "gla"])
def test_recurrent_feature_models_run_with_core_layers(name, layer, one_thread):
    model = get_model(name, feature_dim=16, hidden=32, layer=layer, num_classes=3)
    assert model.layer.layer_name == layer
    check_model(model)


def test_three_segments_of_eight_frames_drop_frame_25():
    assert segment_frames(25, 3) == (8, 24)
    model = TSLSTM(feature_dim=4, num_classes=3, hidden=8).eval()
    features = torch.randn(2, 4, 25)
    changed = features.clone()
    changed[..., 24] += 100.0
    # the 25th frame is not read, as the official code
    torch.testing.assert_close(model(changed), model(features))
    # the segment vector is the max over its 8 frames after that segment's own BN (identity at init, eval)
    expected = torch.stack([features[..., s * 8 : (s + 1) * 8].amax(-1) for s in range(3)], dim=1)
    torch.testing.assert_close(model.segments(features), expected, atol=1e-4, rtol=1e-4)
    assert len(model.segment_norms) == 3


def test_tslstm_sees_the_order_of_segments():
    torch.manual_seed(0)
    model = TSLSTM(feature_dim=4, num_classes=3, hidden=8).eval()
    features = torch.randn(1, 4, 25)
    reversed_segments = torch.cat(
        [features[..., 16:24], features[..., 8:16], features[..., :8], features[..., 24:]], -1
    )
    assert not torch.allclose(model(reversed_segments), model(features))


def test_temporal_inception_follows_the_official_stages():
    model = TemporalInception(feature_dim=8, num_classes=4)
    channels = [sum(b[0].out_channels for b in stage.branches) for stage in model.stages]
    kernels = [[b[0].kernel_size for b in stage.branches] for stage in model.stages]
    pools = [stage.branches[0][3].kernel_size for stage in model.stages]
    assert channels == [2, 4, 8, 16] and kernels == [[(1, 5), (1, 7)]] * 4 and pools == [(1, 2), (1, 2), (1, 2), (1, 3)]
    assert [m.out_channels for m in model.reduce if isinstance(m, torch.nn.Conv2d)] == [4, 2, 1]
    assert model.fc[0].in_features == 8 and model.fc[0].out_features == 1024
    # only the time axis is convolved: each feature row is processed with the same filters
    assert model(torch.randn(3, 8, 25)).shape == (3, 4)


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match=r"\[B, 16, 25\]"):
        get_model("tslstm", feature_dim=16)(torch.randn(2, 25, 16))
    with pytest.raises(ValueError, match="num_frames must be >= 24"):
        TemporalInception(num_frames=12)
    with pytest.raises(ValueError, match="num_segments"):
        segment_frames(2, 3)
