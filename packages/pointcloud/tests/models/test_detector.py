"""The voxel detector: HeightCompression, the BEV backbone, and both registered models through the model contract."""

import importlib.util

import pytest
import torch

from recur_core.registry import get_model, list_models
from recur_core.testing import check_model
from recur_pointcloud.models.detector import BEVBackbone, scatter_to_bev

TINY = dict(
    point_range=(0.0, -4.0, -2.0, 8.0, 4.0, 2.0),
    voxel_size=(0.5, 0.5, 1.0),
    vfe_channels=(8, 8),
    dim=8,
    bev_layer_nums=(1, 1),
    bev_filters=(8, 16),
    bev_upsample_filters=(8, 8),
)
HAS_LION = importlib.util.find_spec("recur_pointcloud.models.lion") is not None


def test_scatter_to_bev_stacks_channels_and_heights():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    coords = torch.tensor([[0, 1, 2, 3], [1, 0, 0, 0]])
    bev = scatter_to_bev(features, coords, batch_size=2, grid_size=(4, 3, 2))
    assert bev.shape == (2, 4, 3, 4)
    # channel c * Z + z
    assert bev[0, 0 * 2 + 1, 2, 3] == 1.0 and bev[0, 1 * 2 + 1, 2, 3] == 2.0
    assert bev[1, 0, 0, 0] == 3.0 and bev[1, 2, 0, 0] == 4.0
    assert bev.abs().sum() == 10.0


@pytest.mark.parametrize("size", [(16, 16), (15, 13)])
def test_bev_backbone_keeps_the_map_size(size):
    backbone = BEVBackbone(4, (1, 1), (1, 2), (8, 16), (1, 2), (8, 8))
    assert backbone(torch.randn(2, 4, *size)).shape == (2, 16, *size)


def test_both_models_are_registered():
    assert {"lion", "lion_no_backbone"} <= set(list_models("pointcloud"))


def test_the_baseline_honours_the_model_contract_and_its_outputs_cover_the_anchors(one_thread):
    model = get_model("lion_no_backbone", **TINY)
    check_model(model, batch_size=2)
    preds = model(*model.example_input(1))
    # 16 x 16 cells, 3 classes x 2 headings
    assert preds["cls"].shape == (1, 16, 16, 18) and preds["box"].shape == (1, 16, 16, 42)
    assert preds["dir"].shape == (1, 16, 16, 12)


@pytest.mark.skipif(not HAS_LION, reason="recur_pointcloud.models.lion is not there yet")
@pytest.mark.parametrize("layer", ["mamba", "retention"])
def test_lion_honours_the_model_contract_with_core_layers(one_thread, layer):
    check_model(get_model("lion", layer=layer, **TINY), batch_size=2)


def test_bad_options_are_value_errors():
    with pytest.raises(ValueError, match="subset of Car, Pedestrian, Cyclist"):
        get_model("lion_no_backbone", classes=("Truck",), **TINY)
    with pytest.raises(ValueError, match="x0 < x1"):
        get_model("lion_no_backbone", **{**TINY, "point_range": (0, 0, 0, -1, 1, 1)})


@pytest.mark.skipif(not HAS_LION, reason="recur_pointcloud.models.lion is not there yet")
def test_a_single_point_lands_in_its_own_bev_cell_after_the_lion_backbone():
    # a transposed coordinate anywhere between voxelisation and HeightCompression would move it
    from recur_pointcloud.voxels import voxelize

    model = get_model("lion", **TINY).eval()
    point = torch.tensor([[5.3, -2.2, 0.4, 0.5]])  # cell x = 10, y = 3, z = 2 of the 16 x 16 x 4 grid
    features, coords, _ = voxelize([point], model.point_range, model.voxel_size)
    assert coords.tolist() == [[0, 2, 3, 10]]
    with torch.no_grad():
        out, out_coords = model.backbone(model.vfe(features, coords), coords, 1)
    bev = scatter_to_bev(out, out_coords, 1, model.bev_grid)
    occupied = (bev.abs().sum(1)[0] > 0).nonzero().tolist()
    assert occupied == [[3, 10]]


def test_the_point_vfe_max_pools_pfn_layers_per_voxel_as_a_loop_over_voxels_does():
    from recur_pointcloud.models.detector import PointVoxelFeatureEncoder

    torch.manual_seed(0)
    low, high = torch.tensor([0.0, -4.0, -2.0]), torch.tensor([8.0, 4.0, 2.0])
    # clumps of points so that voxels hold several; a second sample shares cells with the first
    first = torch.cat([low + torch.rand(40, 3) * (high - low) / 4, torch.rand(40, 1)], dim=1)
    second = torch.cat([low + torch.rand(25, 3) * (high - low), torch.rand(25, 1)], dim=1)
    vfe = PointVoxelFeatureEncoder(TINY["point_range"], TINY["voxel_size"], (8, 6)).eval()
    features, coords = vfe([first, second])
    assert features.shape == (len(coords), 6) and coords.shape[1] == 4
    size = torch.tensor(TINY["voxel_size"])
    for row, (b, z, y, x) in enumerate(coords.tolist()):
        cloud = (first, second)[b]
        cell = torch.floor((cloud[:, :3] - low) / size).long()
        inside = (cell == torch.tensor([x, y, z])).all(dim=1)
        pts = cloud[inside]
        centre = low + (torch.tensor([x, y, z]) + 0.5) * size
        h = torch.cat([pts, pts[:, :3] - pts[:, :3].mean(0), pts[:, :3] - centre], dim=1)
        h = vfe.layers[0](h)
        h = torch.cat([h, h.max(0).values.expand_as(h)], dim=1)
        torch.testing.assert_close(features[row], vfe.layers[1](h).max(0).values)
    with pytest.raises(ValueError, match="must be even"):
        PointVoxelFeatureEncoder(TINY["point_range"], TINY["voxel_size"], (7, 8))
    with pytest.raises(ValueError, match="vfe must be 'mean'"):
        get_model("lion_no_backbone", vfe="pillars", **TINY)


def test_the_detector_with_the_point_vfe_honours_the_model_contract(one_thread):
    check_model(get_model("lion_no_backbone", vfe="points", **TINY), batch_size=2)


def test_scatter_to_bev_and_the_bev_backbone_equal_their_plain_forms_in_float64():
    """HeightCompression written channel-first equals the channels-last grid permuted (values and gradients),
    and the padding inside the first convolution of a level equals OpenPCDet's ZeroPad2d before it."""
    torch.manual_seed(0)
    grid, batch = (6, 5, 3), 2
    cells = torch.randperm(batch * 3 * 5 * 6)[:40]
    coords = torch.stack([cells // 90, cells // 30 % 3, cells // 6 % 5, cells % 6], dim=1)
    features = torch.randn(40, 4, dtype=torch.float64, requires_grad=True)
    bev = scatter_to_bev(features, coords, batch, grid)
    dense = features.new_zeros(batch, 3, 5, 6, 4)
    dense[coords[:, 0], coords[:, 1], coords[:, 2], coords[:, 3]] = features
    plain = dense.permute(0, 4, 1, 2, 3).reshape(batch, 12, 5, 6)
    assert torch.equal(bev, plain)
    weights = torch.randn_like(bev)
    assert torch.equal(*(torch.autograd.grad((b * weights).sum(), features)[0] for b in (bev, plain)))
    backbone = BEVBackbone(12, (1, 1), (1, 2), (8, 16), (1, 2), (8, 8)).double().eval()
    level_input = plain.detach()
    for level, stride in zip(backbone.blocks, (1, 2)):
        conv = level[1]
        padded = torch.nn.functional.pad(level_input, (1, 1, 1, 1))
        torch.testing.assert_close(
            conv(level[0](level_input)),
            torch.nn.functional.conv2d(padded, conv.weight, stride=stride),
            rtol=0,
            atol=1e-12,
        )
        level_input = level(level_input)
    assert next(key for key in backbone.state_dict() if key.startswith("blocks.0.")) == "blocks.0.1.weight"
