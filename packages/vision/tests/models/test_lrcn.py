"""LRCN and its single-frame network: the registry contract, two core layers, the frame CNNs, bad input."""

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_vision.models.lrcn import LRCN, SingleFrame, caffenet_cnn, frame_cnn, small_cnn, torchvision_cnn

VIDEO_MODELS = ["lrcn", "lrcn_single_frame"]


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_registered_and_pass_the_model_contract(name, one_thread):
    assert name in list_models("vision")
    check_model(get_model(name, fc6_dim=32))


@pytest.mark.parametrize("layer", ["lstm", "gla"])
def test_lrcn_runs_with_core_layers(layer, one_thread):
    model = get_model("lrcn", fc6_dim=32, hidden=32, layer=layer, num_classes=5)
    assert isinstance(model, LRCN) and model.layer.layer_name == layer
    check_model(model)
    assert model(torch.randn(2, 3, 3, 40, 40)).shape == (2, 3, 5)


def test_one_softmax_per_timestep_and_the_recurrence_sees_the_order(one_thread):
    torch.manual_seed(0)
    model = get_model("lrcn", fc6_dim=16, hidden=16, num_classes=4).eval()
    clip = torch.randn(1, 6, 3, 32, 32)
    logits = model(clip)
    # causal: step t depends on frames 0..t only
    changed = clip.clone()
    changed[:, -1] += 1.0
    torch.testing.assert_close(model(changed)[:, :-1], logits[:, :-1])
    # reversing the frames changes the scores of LRCN but not those of the single-frame network
    assert not torch.allclose(model(clip.flip(1)).mean(1), logits.mean(1), atol=1e-5)
    single = get_model("lrcn_single_frame", fc6_dim=16, num_classes=4).eval()
    torch.testing.assert_close(single(clip.flip(1)).mean(1), single(clip).mean(1))


def test_frame_cnns_give_their_width(one_thread):
    images = torch.randn(2, 3, 67, 67)
    for build in (small_cnn, caffenet_cnn):
        cnn, width = build()
        assert cnn(images).shape == (2, width)
    cnn, width = caffenet_cnn()
    assert width == 384 * 6 * 6 and cnn.eval()(torch.randn(1, 3, 227, 227)).shape == (1, width)
    cnn, width = torchvision_cnn("resnet18")
    assert width == 512 and cnn(images).shape == (2, 512)
    assert frame_cnn("small")[1] == small_cnn()[1]
    # the small CNN's widths (the recipes' narrower CNN); a 4 x 4 grid keeps where things are
    narrow = get_model("lrcn", cnn_channels=[8, 16])
    assert narrow.encoder.cnn_dim == 16 * 4 * 4 and narrow(torch.randn(1, 3, 3, 28, 28)).shape == (1, 3, 13)
    assert [m.out_channels for m in narrow.encoder.cnn if isinstance(m, torch.nn.Conv2d)] == [8, 16]
    assert get_model("lrcn_single_frame", cnn_channels=[8, 16]).encoder.state_dict().keys() == (
        narrow.encoder.state_dict().keys()
    )


def test_caffenet_stack_follows_the_prototxt():
    convs = [m for m in caffenet_cnn()[0] if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0], c.groups) for c in convs] == [
        (96, 7, 2, 1),
        (384, 5, 2, 2),
        (512, 3, 1, 1),
        (512, 3, 1, 2),
        (384, 3, 1, 2),
    ]


def test_single_frame_and_lrcn_share_the_encoder_layout():
    single, lrcn = SingleFrame(fc6_dim=24), get_model("lrcn", fc6_dim=24)
    assert single.encoder.state_dict().keys() == lrcn.encoder.state_dict().keys()
    lrcn.encoder.load_state_dict(single.encoder.state_dict())


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match=r"clips \[B, T, 3, H, W\]"):
        get_model("lrcn")(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="unknown backbone 'nonet'"):
        frame_cnn("nonet")
    with pytest.raises(ValueError, match="fc6_dropout"):
        get_model("lrcn", fc6_dropout=1.0)
    with pytest.raises(ValueError, match="takes none"):
        get_model("lrcn", backbone="caffenet", cnn_channels=[8])
    with pytest.raises(ValueError, match="cnn_channels must be positive"):
        get_model("lrcn", cnn_channels=[])
