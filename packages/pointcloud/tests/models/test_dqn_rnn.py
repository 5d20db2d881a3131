"""3DCNN-DQN-RNN's networks: the registry contract with two core layers, the window voxelisation by hand,
the scan order of the RNN's sequences, and bad input."""

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_pointcloud.models.dqn_rnn import (
    NUM_ACTIONS,
    VOXEL_CHANNELS,
    WHOLE_ROOM,
    normalise_room,
    point_features,
    voxelize_windows,
)

DQN_RNN_MODELS = ["cnn3d_window", "dqn_rnn", "dqn_rnn_labeller", "eye_window_qnet"]


@pytest.mark.parametrize("name", DQN_RNN_MODELS)
def test_registered_models_pass_the_model_contract(name, one_thread):
    assert name in list_models("pointcloud")
    small = {"cnn3d_window": {"grid": 8}, "dqn_rnn": {"grid": 8}}.get(name, {})
    check_model(get_model(name, **small))


@pytest.mark.parametrize("layer", ["lstm", "gla"])
def test_the_labeller_and_the_parser_take_any_core_layer(layer, one_thread):
    model = get_model("dqn_rnn", grid=8, layer=layer, d_model=32)
    check_model(model)
    out = model(*model.example_input(3, seq_len=7))
    assert out.voxel_logits.shape == (3, 13, 8, 8, 8)
    assert out.point_logits.shape == (3, 7, 13) and out.q_values.shape == (3, NUM_ACTIONS)
    rnn_only = get_model("dqn_rnn_labeller", window_feature_dim=0, voxel_feature_dim=0, layer=layer, d_model=32)
    assert not rnn_only.uses_cnn
    check_model(rnn_only)


@pytest.mark.parametrize("norm", [True, False])
def test_the_window_cnn_normalises_its_convolutions_unless_told_not_to(norm, one_thread):
    cnn = get_model("cnn3d_window", grid=8, width=12, norm=norm)
    norms = [m for m in cnn.modules() if isinstance(m, torch.nn.GroupNorm)]
    # two per block; 8 groups where the channels allow (12 channels: 4 groups)
    assert [(m.num_groups, m.num_channels) for m in norms] == ([(4, 12)] * 2 + [(8, 24)] * 2 + [(8, 48)] * 2) * norm
    check_model(cnn)


def test_voxelize_windows_by_hand():
    # a 2 m x 1 m x 1 m room: points at its corners and one in the middle, colours 0, 255 and 51
    points = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0, 0, 0],
            [2.0, 1.0, 1.0, 255, 255, 255],
            [1.0, 0.5, 0.5, 51, 102, 153],
            [0.9, 0.4, 0.4, 51, 102, 153],
        ]
    )
    room = normalise_room(points)
    torch.testing.assert_close(room[1], torch.ones(6))
    torch.testing.assert_close(room[2], torch.tensor([0.5, 0.5, 0.5, 0.2, 0.4, 0.6]))
    # the whole room, and its lower-left octant (its corner point 0; points 2 and 3 in its far voxel, the
    # middle point on its boundary)
    windows = torch.tensor([WHOLE_ROOM, (0.25, 0.25, 0.25, 0.5, 0.5, 0.5)])
    pairs = voxelize_windows(room, windows, grid=4)
    assert pairs.voxels.shape == (2, VOXEL_CHANNELS, 4, 4, 4)
    assert pairs.window.tolist() == [0, 0, 0, 0, 1, 1, 1] and pairs.point.tolist() == [0, 1, 2, 3, 0, 2, 3]
    # room 0.5 -> window offset 0 -> voxel 2 on each axis; 0.45 -> offset -0.1 -> voxel 1
    assert pairs.voxel.tolist() == [0, 63, (2 * 4 + 2) * 4 + 2, (1 * 4 + 1) * 4 + 1, 0, 63, 63]
    assert pairs.voxels[0, 0].sum() == 4 and pairs.voxels[1, 0].sum() == 2
    # the middle voxel holds point 2 alone: its colour and room position
    torch.testing.assert_close(pairs.voxels[0, :, 2, 2, 2], torch.tensor([1.0, 0.2, 0.4, 0.6, 0.5, 0.5, 0.5]))
    torch.testing.assert_close(pairs.local[2], torch.zeros(3))
    # sequences: window 0 in voxel order (0, 21, 42, 63), then window 1 (a voxel's points in index order)
    assert pairs.point[pairs.order].tolist() == [0, 3, 2, 1, 0, 2, 3]
    assert point_features(room, pairs).shape == (7, 9)


def test_voxel_means_average_the_points_of_a_voxel():
    points = torch.tensor([[0.0, 0, 0, 0, 0, 0], [0.01, 0, 0, 255, 0, 0], [1.0, 1, 1, 0, 0, 0]])
    pairs = voxelize_windows(normalise_room(points), torch.tensor([WHOLE_ROOM]), grid=4)
    torch.testing.assert_close(pairs.voxels[0, :4, 0, 0, 0], torch.tensor([1.0, 0.5, 0.0, 0.0]))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="non-empty room"):
        normalise_room(torch.zeros(0, 6))
    with pytest.raises(ValueError, match=r"windows \[W, 6\]"):
        voxelize_windows(torch.rand(5, 6), torch.rand(2, 4))
    with pytest.raises(ValueError, match="multiple of 4"):
        get_model("cnn3d_window", grid=6)
    with pytest.raises(ValueError, match="expected voxels"):
        get_model("cnn3d_window", grid=8)(torch.rand(1, VOXEL_CHANNELS, 4, 4, 4))
    with pytest.raises(ValueError, match="no_such"):
        get_model("dqn_rnn_labeller", layer="no_such")
