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
