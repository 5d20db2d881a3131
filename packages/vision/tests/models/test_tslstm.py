"""TS-LSTM and Temporal-Inception: the registry contract, two core layers, the official code's segments and stages,
order learnt from a time reversal (which mean-pooling provably cannot), the ±0.1 initialisation, bad input."""

import copy

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_vision.models.tslstm import TSLSTM, TemporalInception, segment_frames, temporal_inception_reference

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


def test_segment_boundaries_fall_after_frames_8_and_16():
    model = TSLSTM(feature_dim=4, num_classes=3, hidden=8).eval()
    features = torch.rand(2, 4, 25)
    base = model.segments(features)
    for frame, segment in ((0, 0), (7, 0), (8, 1), (15, 1), (16, 2), (23, 2)):
        bumped = features.clone()
        bumped[..., frame] += 10.0
        changed = (model.segments(bumped) - base).abs().amax(dim=(0, 2)) > 1.0
        assert changed.tolist() == [s == segment for s in range(3)], (frame, changed)


def _reversal_pairs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: features that rise over time along one direction (plus noise and a random offset);
    class 1: the same matrices played backwards, so each pair has the same set of frames."""
    generator = torch.Generator().manual_seed(seed)
    direction = torch.tensor([1.0, -1.0, 0.5, 0.0, 1.0, -0.5])[:, None]
    ramp = direction * torch.linspace(-1.0, 1.0, 25) * (0.5 + torch.rand(n, 1, 1, generator=generator))
    forward = ramp + 0.3 * torch.randn(n, 6, 25, generator=generator) + torch.randn(n, 6, 1, generator=generator)
    features = torch.cat([forward, forward.flip(-1)])
    return features, torch.cat([torch.zeros(n), torch.ones(n)]).long()


@pytest.mark.parametrize("name", ["tslstm", "temporal_inception", "mean_pool"])
def test_time_reversal_is_learnt_by_the_ordered_models_and_not_by_mean_pooling(name, one_thread):
    torch.manual_seed(0)
    train, train_labels = _reversal_pairs(64, seed=1)
    test, test_labels = _reversal_pairs(32, seed=2)
    kwargs = {"hidden": 16} if name == "tslstm" else {"fc_dim": 32} if name == "temporal_inception" else {}
    model = get_model(name, feature_dim=6, num_classes=2, **kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(train), train_labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    accuracy = (model(test).argmax(-1) == test_labels).float().mean().item()
    if name == "mean_pool":
        # a video and its reversal have the same mean: identical scores, so one of each pair is wrong
        torch.testing.assert_close(model(test[:32].flip(-1)), model(test[:32]))
        assert accuracy <= 0.5
    else:
        assert accuracy > 0.9


def test_tslstm_can_start_uniform_in_the_official_range():
    model = TSLSTM(feature_dim=8, num_classes=3, hidden=16, init_range=0.1)
    weights = torch.cat([model.proj.weight.flatten(), model.classifier.weight.flatten(), model.classifier.bias])
    assert weights.abs().max() <= 0.1 and weights.abs().max() > 0.09
    assert torch.equal(model.norm.weight, torch.ones(16)) and torch.equal(model.segment_norms[0].bias, torch.zeros(8))
    # the default keeps PyTorch's initialisation: Linear(8, 16) weights within ±1/sqrt(8), wider than ±0.1
    assert TSLSTM(feature_dim=8, num_classes=3, hidden=16).proj.weight.abs().max() > 0.2


def test_temporal_inception_follows_the_official_stages():
    model = TemporalInception(feature_dim=8, num_classes=4)
    channels = [sum(conv.out_channels for conv in stage.convs) for stage in model.stages]
    kernels = [[conv.kernel_size for conv in stage.convs] for stage in model.stages]
    pools = [stage.pool for stage in model.stages]
    assert channels == [2, 4, 8, 16] and kernels == [[(1, 5), (1, 7)]] * 4 and pools == [2, 2, 2, 3]
    assert [m.out_channels for m in model.reduce if isinstance(m, torch.nn.Conv2d)] == [4, 2, 1]
    assert model.fc[0].in_features == 8 and model.fc[0].out_features == 1024
    # only the time axis is convolved: each feature row is processed with the same filters
    assert model(torch.randn(3, 8, 25)).shape == (3, 4)


@pytest.mark.parametrize("train", [True, False])
def test_temporal_inception_matrix_form_equals_the_official_conv2d_form_in_float64(train):
    torch.manual_seed(0)
    model = TemporalInception(feature_dim=6, num_classes=4).double().train(train)
    reference = copy.deepcopy(model)
    features = torch.randn(3, 6, 25, dtype=torch.float64)
    # the same dropout masks in both passes
    torch.manual_seed(1)
    ours = model(features)
    torch.manual_seed(1)
    theirs = temporal_inception_reference(reference, features)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    for (name, a), b in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12, msg=name)
    for a, b in zip(model.buffers(), reference.buffers()):
        torch.testing.assert_close(a, b)


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match=r"\[B, 16, 25\]"):
        get_model("tslstm", feature_dim=16)(torch.randn(2, 25, 16))
    with pytest.raises(ValueError, match="num_frames must be >= 24"):
        TemporalInception(num_frames=12)
    with pytest.raises(ValueError, match="num_segments"):
        segment_frames(2, 3)


def test_l2_is_the_official_coupled_weight_decay(one_thread):
    """Torch's optim.adam with weightDecay wd adds wd * w to every parameter's gradient: the task's ``l2``."""
    from recur_vision.task import FeatureClassificationModule

    torch.manual_seed(0)
    batch = (torch.randn(4, 6, 25), torch.tensor([0, 1, 2, 0]))
    plain = FeatureClassificationModule(model="mean_pool", feature_dim=6, num_classes=3)
    decayed = FeatureClassificationModule(model="mean_pool", feature_dim=6, num_classes=3, l2=0.5)
    decayed.load_state_dict(plain.state_dict())
    for module in (plain, decayed):
        module.training_step(batch, 0).backward()
    for p, q in zip(plain.parameters(), decayed.parameters()):
        torch.testing.assert_close(q.grad, p.grad + 0.5 * p.detach())
    with pytest.raises(ValueError, match="l2 >= 0"):
        FeatureClassificationModule(model="mean_pool", l2=-1.0)
