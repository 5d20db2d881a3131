"""voxelize: cells, means, ordering, the crop to the grid and the batch index, on hand-built points."""

import pytest
import torch

from recur_pointcloud.voxels import grid_size_of, voxelize

RANGE = (0.0, -2.0, -1.0, 4.0, 2.0, 1.0)
SIZE = (1.0, 1.0, 0.5)


def test_grid_size_rounds_as_openpcdet():
    assert grid_size_of(RANGE, SIZE) == (4, 4, 4)
    assert grid_size_of((0, -40, -3, 70.4, 40, 1), (0.05, 0.05, 0.1)) == (1408, 1600, 40)


def test_points_in_one_cell_are_averaged_and_cells_are_sorted():
    points = torch.tensor(
        [
            [3.5, 1.5, 0.7, 0.2],  # cell x3 y3 z3
            [0.2, -1.8, -0.9, 0.4],  # cell x0 y0 z0
            [0.6, -1.2, -0.6, 0.8],  # the same cell
        ]
    )
    features, coords, grid = voxelize([points], RANGE, SIZE)
    assert grid == (4, 4, 4)
    assert coords.dtype == torch.long and coords.tolist() == [[0, 0, 0, 0], [0, 3, 3, 3]]
    torch.testing.assert_close(features, torch.tensor([[0.4, -1.5, -0.75, 0.6], [3.5, 1.5, 0.7, 0.2]]))


def test_points_outside_the_grid_are_dropped():
    points = torch.tensor([[-0.1, 0.0, 0.0, 1.0], [4.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.2, 1.0], [1.0, 0.0, 0.0, 0.5]])
    features, coords, _ = voxelize([points], RANGE, SIZE)
    assert coords.tolist() == [[0, 2, 2, 1]]
    torch.testing.assert_close(features, points[3:])


def test_the_batch_index_separates_samples_with_the_same_cell():
    point = torch.tensor([[1.5, 0.5, 0.2, 0.3]])
    features, coords, _ = voxelize([point, torch.zeros(0, 4), point * 1.1], RANGE, SIZE)
    assert coords.tolist() == [[0, 2, 2, 1], [2, 2, 2, 1]]
    torch.testing.assert_close(features, torch.cat([point, point * 1.1]))


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        voxelize([torch.zeros(3, 3)], RANGE, SIZE)
    with pytest.raises(ValueError, match="x0 < x1"):
        voxelize([torch.zeros(3, 4)], (0, 0, 0, -1, 1, 1), SIZE)
