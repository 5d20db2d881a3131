"""SCNN: DULR against its slice-by-slice reference, the update of every row and column, the baselines,
the architecture's sizes, the loss, the post-processing and bad input."""

import math

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import assert_op_matches_reference, check_model
from recur_vision.models.scnn import (
    SCNN,
    ParallelSpatialConv,
    SCNNConfig,
    SCNNOutput,
    SpatialMessagePassing,
    ViRBackbone,
    decode_lanes,
    dulr_reference,
    lanes_from_probabilities,
    lanes_to_points,
    resnet_backbone,
    scnn_loss,
    vgg16_backbone,
)


@pytest.mark.parametrize("message_passing", ["scnn", "none", "conv"])
def test_registered_and_pass_the_model_contract(message_passing, one_thread):
    assert "scnn" in list_models("vision")
    model = get_model("scnn", message_passing=message_passing)
    check_model(model)
    out = model(*model.example_input(2))
    assert out.segmentation.shape == (2, 5, 64, 160) and out.existence.shape == (2, 4)


def test_vir_backbone_lane_network_trains_a_step_with_the_right_shapes(one_thread):
    # issue 16: ViR as the image branch of SCNN-free lane segmentation (no message passing, the same heads)
    torch.manual_seed(0)
    model = get_model("scnn", backbone="vir", width=1.0, message_passing="none", input_size=(32, 64))
    assert isinstance(model.backbone, ViRBackbone) and isinstance(model.message_passing, torch.nn.Identity)
    check_model(model)
    images = torch.randn(2, 3, 32, 64)
    assert model.backbone(images).shape == (2, 64, 4, 8)
    out = model(images)
    assert out.segmentation.shape == (2, 5, 32, 64) and out.existence.shape == (2, 4)
    masks, existence = torch.randint(0, 5, (2, 32, 64)), torch.ones(2, 4)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = scnn_loss(model(images), masks, existence).total
    before.backward()
    optimiser.step()
    model.eval()  # no dropout: the same batch's loss falls after one step
    assert scnn_loss(model(images), masks, existence).total < before


def test_vir_backbone_map_reads_the_whole_image(one_thread):
    # each cell is a reversed-half token, which has read every patch; a forward-only cell would not see below it
    torch.manual_seed(0)
    backbone = ViRBackbone((32, 64)).double()
    for block in backbone.vir.blocks:
        block.ls1.scale.data.fill_(1.0)
    images = torch.randn(1, 3, 32, 64, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(64, dtype=torch.float64)  # a projection: a LayerNorm's outputs sum to a constant
    (grad,) = torch.autograd.grad(backbone(images)[0, :, 0, 0] @ weights, images)
    reach = grad.abs().sum((0, 1)).unfold(0, 8, 8).unfold(1, 8, 8).sum((-1, -2))
    assert reach.shape == (4, 8) and (reach > 0).all(), "the top-left cell must read the last patch too"


def _kernels(channels, taps, generator, scale=0.3):
    return [scale * torch.randn(channels, channels, taps, generator=generator, dtype=torch.float64) for _ in range(4)]


def _module_with(kernels):
    module = SpatialMessagePassing(kernels[0].shape[0], kernels[0].shape[-1]).double()
    with torch.no_grad():
        for conv, k in zip(module.convs(), kernels):
            conv.weight.copy_(k.view(conv.weight.shape))
    return module


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 9, 4)])
def test_dulr_equals_the_slice_by_slice_reference_in_float64(shape, one_thread):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64)
    down, up, right, left = _kernels(shape[1], 5, generator)

    def fast(x, down, up, right, left):
        module = SpatialMessagePassing(shape[1], 5).double()
        for conv, k in zip(module.convs(), (down, up, right, left)):
            del conv.weight
            conv.weight = k.view(k.shape[0], k.shape[1], *conv.kernel_size)
        return module(x)

    inputs = {"x": x, "down": down, "up": up, "right": right, "left": left}
    assert_op_matches_reference(fast, dulr_reference, inputs, what="DULR")


def test_every_row_and_column_is_updated_including_row_and_column_zero(one_thread):
    # only one direction active at a time: the pass must update every slice but the one it starts from
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(1, 2, 6, 8, generator=generator, dtype=torch.float64)
    positive = torch.rand(2, 2, 3, generator=generator, dtype=torch.float64) + 0.1
    zero = torch.zeros_like(positive)
    for direction, unchanged in (("down", (2, 0)), ("up", (2, -1)), ("right", (3, 0)), ("left", (3, -1))):
        kernels = [positive if d == direction else zero for d in ("down", "up", "right", "left")]
        y = _module_with(kernels)(x)
        dim, start = unchanged
        assert torch.equal(y.select(dim, start), x.select(dim, start)), f"{direction}: the first slice changed"
        others = [i for i in range(x.shape[dim]) if i != start % x.shape[dim]]
        changed = (y - x).index_select(dim, torch.tensor(others)).abs()
        changed = changed.amin(dim=tuple(d for d in range(4) if d != dim))
        # lanedet's up and left loops stop before row/column 0: that slice would show 0 here
        assert (changed > 0).all(), f"{direction}: slices {[o for o, c in zip(others, changed) if c == 0]} skipped"


def test_messages_cross_the_whole_map_sequentially_but_not_through_the_parallel_conv(one_thread):
    channels = 2
    kernels = [torch.full((channels, channels, 3), 0.5, dtype=torch.float64) for _ in range(4)]
    x = torch.zeros(1, channels, 12, 12, dtype=torch.float64)
    x[..., 0, 0] = 1.0
    scnn_out = _module_with(kernels)(x)
    assert scnn_out[..., -1, -1].min() > 0, "the top-left impulse must reach the bottom-right corner"
    parallel = ParallelSpatialConv(channels, 3).double()
    with torch.no_grad():
        for conv, k in zip(parallel.convs, kernels):
            conv.weight.copy_(k.view(conv.weight.shape))
    reach = parallel(x)[0, 0].nonzero()
    assert reach.max() <= 2, "four 3-tap kernels move a message at most 1 pixel each, 2 per axis"


def test_conv_baseline_has_the_same_parameters_and_none_has_none():
    sizes = {}
    for mp in ("scnn", "conv", "none"):
        model = get_model("scnn", message_passing=mp, channels=16)
        sizes[mp] = sum(p.numel() for p in model.message_passing.parameters())
        shapes = sorted(tuple(p.shape) for p in model.message_passing.parameters())
        if mp != "none":
            assert shapes == [(16, 16, 1, 9)] * 2 + [(16, 16, 9, 1)] * 2
    assert sizes == {"scnn": 4 * 9 * 16 * 16, "conv": 4 * 9 * 16 * 16, "none": 0}


def test_official_initialisation_and_no_bias():
    torch.manual_seed(0)
    module = SpatialMessagePassing(128, 9)
    expected = math.sqrt(2 / (9 * 128 * 128 * 5))
    for conv in module.convs():
        assert conv.bias is None
        assert abs(conv.weight.std().item() / expected - 1) < 0.02


def test_backbones_keep_one_eighth_and_the_paper_network_has_its_sizes(one_thread):
    features, channels = vgg16_backbone(width=0.125)
    pools = [m for m in features if isinstance(m, torch.nn.MaxPool2d)]
    dilated = [m.dilation for m in features if isinstance(m, torch.nn.Conv2d)][-3:]
    assert len(pools) == 3 and dilated == [(2, 2)] * 3 and channels == 64
    assert features(torch.randn(1, 3, 32, 48)).shape == (1, 64, 4, 6)
    resnet, channels = resnet_backbone(18)
    assert channels == 512 and resnet.eval()(torch.randn(1, 3, 32, 48)).shape == (1, 512, 4, 6)
    paper = SCNN(SCNNConfig())
    # torchvision's vgg16_bn(weights=None).features has 14,723,136 parameters; pools have none
    assert sum(p.numel() for p in paper.backbone.parameters()) == 14_723_136
    assert paper.existence[1].in_features == 4500  # 5 x 18 x 50 for 288 x 800
    assert [paper.neck[0].out_channels, paper.neck[3].out_channels, paper.neck[0].dilation] == [1024, 128, (4, 4)]
    assert sum(t.shape[1] for t in paper.message_passing.kernels()) == 4 * 128


def test_loss_is_weighted_cross_entropy_plus_a_tenth_of_bce():
    generator = torch.Generator().manual_seed(0)
    output = SCNNOutput(torch.randn(2, 5, 4, 6, generator=generator), torch.randn(2, 4, generator=generator))
    masks = torch.randint(0, 5, (2, 4, 6), generator=generator)
    masks[0, 0, 0] = 255
    exist = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1]])
    loss = scnn_loss(output, masks, exist)
    log_p = output.segmentation.log_softmax(1)
    weights = torch.tensor([0.4, 1, 1, 1, 1])
    valid = masks != 255
    safe = masks.clamp(max=4)
    picked = -log_p.gather(1, safe[:, None])[:, 0] * weights[safe]
    ce = picked[valid].sum() / weights[safe][valid].sum()
    p = output.existence.sigmoid()
    bce = -(exist * p.log() + (1 - exist) * (1 - p).log()).mean()
    torch.testing.assert_close(loss.segmentation, ce)
    torch.testing.assert_close(loss.existence, bce)
    torch.testing.assert_close(loss.total, ce + 0.1 * bce)


def _probabilities(height=36, width=100):
    probs = torch.zeros(5, height, width)
    probs[0] = 1.0
    for lane, column in ((1, 20), (2, 70)):
        probs[0, :, column] = 0.0
        probs[lane, :, column] = 1.0
    return probs


def test_post_processing_follows_get_lane():
    probs = _probabilities()
    probs[2, :30] = 0.0  # lane 2 only in the bottom 6 map rows
    probs[2, 30:, 70] = 0.35
    exist = torch.tensor([0.9, 0.9, 0.9, 0.2])
    rows = [590 - 20 * i for i in range(18)]
    lanes = lanes_from_probabilities(probs, exist, rows, (590, 1640), crop_top=240)
    # lane 3 exists but has no pixels above 0.3; lane 4's existence is below 0.5
    assert len(lanes) == 2
    # getLane: uint16(id * W / w) - 1 with the 1-based column id = c + 1
    x1 = int((20 + 1) * 1640 / 100 + 0.5) - 1
    assert lanes[0] == [x1] * 18
    # map row of image row y: round((y - 240) * 36 / 350) - 1 >= 30 for y >= 540 only (y = 590, 570, 550)
    assert lanes[1][:3] == [int(71 * 16.4 + 0.5) - 1] * 3 and lanes[1][3:] == [-2] * 15
    assert lanes_to_points(lanes, rows)[1] == [(lanes[1][0], 590), (lanes[1][0], 570), (lanes[1][0], 550)]
    # the official output writes CULane's rows one up (y - 1)
    assert lanes_to_points(lanes, rows, row_offset=-1)[1][0] == (lanes[1][0], 589)
    # a lane with one point is dropped; rows above the crop have no points
    assert lanes_from_probabilities(probs, exist, [rows[0], 100, 120], (590, 1640), crop_top=240) == []
    above = lanes_from_probabilities(probs, exist, [100, 300, 400], (590, 1640), crop_top=240)
    assert above[0][0] == -2 and above[0][1:] == [x1, x1]


def test_zero_based_rows_read_the_map_row_under_them():
    # a 288 x 512 frame read from a 72 x 256 map: image row 284 lies on map row 71, row 280 on map row 70
    probs = torch.zeros(5, 72, 256)
    probs[0] = 1.0
    for row, column in ((71, 100), (70, 50)):
        probs[0, row, column], probs[1, row, column] = 0.0, 1.0
    exist = torch.tensor([0.9, 0.1, 0.1, 0.1])
    assert lanes_from_probabilities(probs, exist, [284, 280], (288, 512), zero_based=True) == [[200, 100]]
    # getLane's 1-based formula reads rows 70 and 69: one point (x = round(51 * 2) - 1), so no lane
    assert lanes_from_probabilities(probs, exist, [284, 280], (288, 512)) == []
    assert lanes_from_probabilities(probs, exist, [284, 280, 285], (288, 512)) == [[101, -2, 101]]


def test_decode_lanes_reads_logits_in_tusimple_form():
    probs = _probabilities(36, 100)
    output = SCNNOutput(torch.log(probs * 0.98 + 0.004)[None].repeat(2, 1, 1, 1), torch.tensor([[3.0, -3, 3, 3]] * 2))
    h_samples = list(range(160, 720, 10))
    decoded = decode_lanes(output, h_samples, (720, 1280))
    assert len(decoded) == 2 and [len(lane) for lane in decoded[0]] == [len(h_samples)]
    assert decoded[0][0] == [int(21 * 12.8 + 0.5) - 1] * len(h_samples)


def test_bad_input_is_one_line():
    model = get_model("scnn")
    with pytest.raises(ValueError, match=r"SCNN expects images \[B, 3, 64, 160\].*input_size"):
        model(torch.randn(1, 3, 64, 128))
    with pytest.raises(ValueError, match="unknown message_passing 'crf'"):
        get_model("scnn", message_passing="crf")
    with pytest.raises(ValueError, match="unknown backbone 'vgg19'"):
        get_model("scnn", backbone="vgg19")
    with pytest.raises(ValueError, match=r"width=1\.0 with backbone='resnet18'"):
        get_model("scnn", backbone="resnet18")
    with pytest.raises(ValueError, match=r"width=1\.0 with backbone='vir'"):
        get_model("scnn", backbone="vir")
    with pytest.raises(ValueError, match="multiples of 8"):
        get_model("scnn", input_size=(60, 160))
    with pytest.raises(ValueError, match=r"feature map \[B, 32, H, W\]"):
        model.message_passing(torch.randn(1, 16, 4, 4))
    with pytest.raises(ValueError, match="kernel_width"):
        SpatialMessagePassing(8, 4)
    out = model(*model.example_input(1))
    with pytest.raises(ValueError, match="masks must be"):
        scnn_loss(out, torch.zeros(1, 8, 20, dtype=torch.long), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="crop_top"):
        lanes_from_probabilities(_probabilities(), torch.ones(4), [10], (590, 1640), crop_top=600)
