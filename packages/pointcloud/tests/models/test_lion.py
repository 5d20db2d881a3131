"""LION backbone: window serialisation against a tuple-sort reference, group padding, locality, voxel
generation on a hand-built case, and the backbone with several core layers as its group operator."""

import itertools

import pytest
import torch

from recur_pointcloud.models.lion import (
    IdentityOperator,
    LIONBackbone,
    LIONLayer,
    PositionEmbedding,
    generate_voxels,
    merge_voxels,
    window_groups,
    window_sort_keys,
)

GRID = (24, 20, 8)  # (X, Y, Z)
SHAPE = (8, 20, 24)  # (Z, Y, X)
SMALL = {
    "dim": 16,
    "depths": (2, 1),
    "group_sizes": (16, 8),
    "window_shapes": ((5, 5, 8), (5, 5, 4)),
    "out_group_size": 8,
}
# a fixed read-out of an 8-wide output (its plain sum would not do: a LayerNorm's outputs sum to a constant)
PROBE = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64)


def random_voxels(counts, grid=GRID, seed=0):
    """Distinct random voxels, ``counts[b]`` in sample b: coords [N, 4] (batch, z, y, x)."""
    generator = torch.Generator().manual_seed(seed)
    size_x, size_y, size_z = grid
    rows = []
    for batch, count in enumerate(counts):
        cells = torch.randperm(size_x * size_y * size_z, generator=generator)[:count]
        rows.append(
            torch.stack(
                [torch.full_like(cells, batch), cells // (size_y * size_x), cells // size_x % size_y, cells % size_x], 1
            )
        )
    return torch.cat(rows)


def reference_order(coords, window_shape, shift, direction):
    """The serialisation by a Python tuple sort: batch, window (x, y, z or y, x, z), inside (same)."""
    wx, wy, wz = window_shape
    offset = (wx // 2, wy // 2, wz // 2) if shift else (0, 0, 0)

    def key(i):
        b, z, y, x = coords[i].tolist()
        x, y, z = x + offset[0], y + offset[1], z + offset[2]
        window, inside = (x // wx, y // wy, z // wz), (x % wx, y % wy, z % wz)
        if direction == "y":
            window, inside = (window[1], window[0], window[2]), (inside[1], inside[0], inside[2])
        return (b, *window, *inside)

    return sorted(range(len(coords)), key=key)


@pytest.mark.parametrize(("shift", "direction"), itertools.product([False, True], ["x", "y"]))
def test_serialisation_sorts_by_window_then_position_inside(shift, direction):
    coords = random_voxels([70, 45])
    groups = window_groups(coords, 2, SHAPE, (5, 4, 3), 16, shift, direction)
    assert groups.order.tolist() == reference_order(coords, (5, 4, 3), shift, direction)
    # each window is one run of the sequence
    _, window = window_sort_keys(coords, SHAPE, (5, 4, 3), shift, direction)
    assert bool((window[groups.order].diff() >= 0).all())


def test_groups_are_a_padded_permutation_and_ungroup_inverts_group():
    coords = random_voxels([70, 45, 16])
    groups = window_groups(coords, 3, SHAPE, (5, 4, 3), 16, True, "x")
    # 70 -> 5 groups (last 6), 45 -> 3 groups (last 13), 16 -> 1 group
    assert groups.lengths.tolist() == [16, 16, 16, 16, 6, 16, 16, 13, 16]
    assert len(set(groups.voxel_slot.tolist())) == len(coords)
    features = torch.randn(len(coords), 3, dtype=torch.float64)
    grouped = groups.group(features)
    assert grouped.shape == (9, 16, 3)
    torch.testing.assert_close(groups.ungroup(grouped), features, rtol=0, atol=0)
    # valid rows are each group's prefix, the padding is zero, and a group holds one sample
    valid = torch.arange(16) < groups.lengths[:, None]
    assert bool((grouped[~valid] == 0).all()) and bool((grouped[valid] != 0).all())
    slot_sample = torch.full((9 * 16,), -1).index_copy(0, groups.voxel_slot, coords[:, 0]).view(9, 16)
    assert all(len(set(row[row >= 0].tolist())) == 1 for row in slot_sample)


def test_a_group_is_one_window_when_every_window_holds_one_group():
    # a full 4 x 4 x 1 grid in 2 x 2 x 1 windows: four voxels per window, groups of four
    cells = torch.arange(16)
    coords = torch.stack([torch.zeros_like(cells), torch.zeros_like(cells), cells // 4, cells % 4], 1)
    for direction in ("x", "y"):
        groups = window_groups(coords, 1, (1, 4, 4), (2, 2, 1), 4, False, direction)
        windows = (coords[groups.order, 3] // 2 * 10 + coords[groups.order, 2] // 2).view(4, 4)
        assert all(len(set(row.tolist())) == 1 for row in windows)
        assert len({row[0].item() for row in windows}) == 4


def test_an_output_depends_on_exactly_its_group_for_one_direction():
    torch.manual_seed(0)
    coords = random_voxels([60])
    layer = LIONLayer(8, (5, 4, 3), 16, layer="attention", layer_kwargs={"causal": False}, directions=("x",))
    layer = layer.double()
    groups = window_groups(coords, 1, SHAPE, (5, 4, 3), 16, False, "x")
    group_of = groups.voxel_slot // 16
    features = torch.randn(60, 8, dtype=torch.float64, requires_grad=True)
    for voxel in (0, 17, 59):
        (grad,) = torch.autograd.grad(layer(features, coords, SHAPE, 1)[voxel] @ PROBE, features)
        reads = grad.abs().sum(1) > 0
        assert reads.tolist() == (group_of == group_of[voxel]).tolist()


def test_without_a_group_operator_a_lion_layer_is_its_residual_norms_and_mixes_no_voxels():
    # layer="identity" (the ablation): per direction x + LN(x), each voxel read alone
    torch.manual_seed(0)
    coords = random_voxels([60])
    layer = LIONLayer(8, (5, 4, 3), 16, shift=True, layer="identity").double()
    for norm in layer.norms:
        torch.nn.init.normal_(norm.weight)
        torch.nn.init.normal_(norm.bias)
    features = torch.randn(60, 8, dtype=torch.float64, requires_grad=True)
    out = layer(features, coords, SHAPE, 1)
    after_x = features + layer.norms[0](features)
    torch.testing.assert_close(out, after_x + layer.norms[1](after_x), rtol=1e-12, atol=1e-12)
    for voxel in (0, 31, 59):
        (grad,) = torch.autograd.grad(out[voxel] @ PROBE, features, retain_graph=True)
        assert (grad.abs().sum(1) > 0).nonzero().flatten().tolist() == [voxel]


@pytest.mark.parametrize("official", [False, True])
def test_the_backbone_runs_without_its_group_operator(official):
    features, coords = scene((60, 40))
    options = dict(SMALL, bidirectional=official, post_norm=official)
    backbone = LIONBackbone(4, GRID, layer="identity", **options)
    operators = [op for m in backbone.modules() if isinstance(m, LIONLayer) for op in m.operators]
    assert len(operators) == 2 * (2 * (2 + 1) + 1) and all(isinstance(op, IdentityOperator) for op in operators)
    out, out_coords = backbone(features, coords, 2)
    out.square().mean().backward()
    assert out.shape == (len(out_coords), 16) and bool(torch.isfinite(out).all())
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in backbone.parameters())


def test_two_directions_read_only_the_x_groups_of_the_y_group_mates():
    torch.manual_seed(0)
    coords = random_voxels([60])
    layer = LIONLayer(8, (5, 4, 3), 16, shift=True, layer="gla").double()
    x_group = window_groups(coords, 1, SHAPE, (5, 4, 3), 16, True, "x").voxel_slot // 16
    y_group = window_groups(coords, 1, SHAPE, (5, 4, 3), 16, True, "y").voxel_slot // 16
    features = torch.randn(60, 8, dtype=torch.float64, requires_grad=True)
    voxel = 31
    (grad,) = torch.autograd.grad(layer(features, coords, SHAPE, 1)[voxel] @ PROBE, features)
    reachable = torch.isin(x_group, x_group[y_group == y_group[voxel]])
    assert not bool((grad.abs().sum(1) > 0)[~reachable].any())


def test_voxel_generation_adds_the_diagonal_neighbours_of_the_top_voxels():
    coords = torch.tensor(
        [
            [0, 1, 2, 2],  # sample 0: the most active voxel
            [0, 1, 3, 3],  # its (x + 1, y + 1) neighbour exists already
            [0, 0, 5, 5],
            [0, 0, 6, 6],
            [0, 0, 7, 7],
            [1, 0, 0, 0],  # sample 1: the most active voxel, in the grid's corner
            [1, 0, 4, 4],
            [1, 0, 6, 3],
            [1, 0, 2, 7],
            [1, 0, 1, 5],
        ]
    )
    features = torch.zeros(10, 2)
    features[0] = 5.0
    features[5] = 3.0
    features[6] = -9.0  # a large magnitude with a negative mean is not chosen (the official mean feature)
    out_features, out_coords = generate_voxels(features, coords, (2, 8, 8), 0.2, 2)
    new = {tuple(c) for c in out_coords[10:].tolist()}
    # sample 0, from (x, y) = (2, 2): (1, 3), (1, 1), (3, 1); (3, 3) exists
    expected_0 = {(0, 1, 3, 1), (0, 1, 1, 1), (0, 1, 1, 3)}
    # sample 1, from (0, 0) clamped to the grid: (0, 1), (1, 1), (1, 0); (0, 0) is the voxel itself
    expected_1 = {(1, 0, 1, 0), (1, 0, 1, 1), (1, 0, 0, 1)}
    assert new == expected_0 | expected_1 and len(out_coords) == 16
    assert torch.equal(out_coords[:10], coords) and bool((out_features[10:] == 0).all())
    assert torch.equal(out_features[:10], features)


def test_merge_sums_cells_and_inverse_maps_back():
    coords = torch.tensor([[0, 3, 1, 1], [0, 2, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0]])
    features = torch.tensor([[1.0], [2.0], [4.0], [8.0]])
    merged, merged_coords, shape, inverse = merge_voxels(features, coords, (4, 2, 2), (1, 1, 2))
    assert shape == (2, 2, 2)
    assert merged_coords.tolist() == [[0, 0, 0, 0], [0, 1, 1, 1], [1, 0, 0, 0]]
    assert merged.flatten().tolist() == [4.0, 3.0, 8.0] and inverse.tolist() == [1, 1, 0, 2]


def scene(counts=(150, 90), seed=0, dtype=torch.float32):
    coords = random_voxels(counts, seed=seed)
    features = torch.randn(len(coords), 4, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return features, coords


def test_backbone_shapes_and_output_grid():
    features, coords = scene()
    backbone = LIONBackbone(4, GRID, **SMALL)
    assert backbone.out_grid_size == (24, 20, 2) and backbone.out_channels == 16
    out, out_coords = backbone(features, coords, 2)
    assert out.shape == (len(out_coords), 16) and out_coords.dtype == torch.long
    assert len(out_coords) >= len(coords)
    # every input voxel's cell on the output grid is there, sorted by (batch, z, y, x)
    key = ((out_coords[:, 0] * 2 + out_coords[:, 1]) * 20 + out_coords[:, 2]) * 24 + out_coords[:, 3]
    assert bool((key.diff() > 0).all())
    cells = ((coords[:, 0] * 2 + coords[:, 1] // 4) * 20 + coords[:, 2]) * 24 + coords[:, 3]
    assert bool(torch.isin(cells, key).all())
    assert bool((out_coords[:, 1:] < torch.tensor([2, 20, 24])).all())


def test_gradient_reaches_every_parameter():
    features, coords = scene()
    backbone = LIONBackbone(4, GRID, **SMALL)
    out, _ = backbone(features, coords, 2)
    out.square().mean().backward()
    missing = [n for n, p in backbone.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not missing


@pytest.mark.parametrize(
    ("layer", "layer_kwargs"), [("mamba", None), ("attention", {"causal": False}), ("retention", None)]
)
def test_a_sample_gives_the_same_output_alone_as_in_a_padded_batch(layer, layer_kwargs):
    torch.manual_seed(0)
    features, coords = scene((101, 37), dtype=torch.float64)
    backbone = LIONBackbone(4, GRID, layer=layer, layer_kwargs=layer_kwargs, **SMALL).double().eval()
    with torch.no_grad():
        out, out_coords = backbone(features, coords, 2)
        for sample in (0, 1):
            mine = coords[:, 0] == sample
            alone_coords = coords[mine].clone()
            alone_coords[:, 0] = 0
            alone, alone_out_coords = backbone(features[mine], alone_coords, 1)
            rows = out_coords[:, 0] == sample
            assert torch.equal(out_coords[rows, 1:], alone_out_coords[:, 1:])
            torch.testing.assert_close(out[rows], alone, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "layer",
    ["mamba", "retention", "gla", "linear_attention", "attention", "deltanet", "slstm", "lstm", "bidirectional"],
)
def test_any_core_layer_is_the_group_operator(layer):
    features, coords = scene((60, 40))
    backbone = LIONBackbone(4, GRID, layer=layer, **SMALL)
    out, out_coords = backbone(features, coords, 2)
    out.sum().backward()
    assert out.shape == (len(out_coords), 16) and bool(torch.isfinite(out).all())
    assert all(p.grad is not None for p in backbone.parameters())


def test_a_sample_without_voxels_and_features_of_width_dim():
    features, coords = scene((30, 0, 20))
    backbone = LIONBackbone(16, GRID, **SMALL)
    assert isinstance(backbone.embed, torch.nn.Identity)
    out, out_coords = backbone(features.repeat(1, 4), coords, 3)
    assert set(out_coords[:, 0].tolist()) == {0, 2} and out.shape == (len(out_coords), 16)


def test_bad_input_is_one_line_error():
    with pytest.raises(ValueError, match="unknown layer"):
        LIONBackbone(4, GRID, layer="no_such_layer", **SMALL)
    backbone = LIONBackbone(4, GRID, **SMALL)
    features, coords = scene((10,))
    with pytest.raises(ValueError, match="must lie below"):
        backbone(features, coords + torch.tensor([0, 0, 0, 30]), 1)
    with pytest.raises(ValueError, match="expects features"):
        backbone(features[:, :3], coords, 1)
    with pytest.raises(ValueError, match="one group size"):
        LIONBackbone(4, GRID, depths=(1, 1, 1), group_sizes=(8, 8))


def _first_and_last_of_a_full_group(coords, group_size):
    groups = window_groups(coords, 1, SHAPE, (5, 4, 3), group_size, False, "x")
    first, last = groups.order[0].item(), groups.order[group_size - 1].item()
    return first, last


def test_bidirectional_reads_the_whole_group_both_ways_as_the_official_mamba():
    # the official LION Mamba scans every group forwards and backwards: the first voxel of a group reads
    # the last one (a causal operator alone would not)
    torch.manual_seed(0)
    coords = random_voxels([60])
    first, last = _first_and_last_of_a_full_group(coords, 16)
    features = torch.randn(60, 8, dtype=torch.float64, requires_grad=True)
    for bidirectional, reads in ((True, True), (False, False)):
        layer = LIONLayer(8, (5, 4, 3), 16, layer="gla", directions=("x",), bidirectional=bidirectional)
        layer = layer.double()
        (grad,) = torch.autograd.grad(layer(features, coords, SHAPE, 1)[first] @ PROBE, features)
        assert bool(grad[last].abs().sum() > 0) is reads


def test_post_norm_adds_a_layer_normed_update_as_the_official_mamba_block():
    # official Block(post_norm=True): x + LN(f(x)); the update of every voxel has zero mean and unit variance
    torch.manual_seed(0)
    coords = random_voxels([60])
    features = 3 * torch.randn(60, 8, dtype=torch.float64) + 1
    layer = LIONLayer(8, (5, 4, 3), 16, layer="mamba", directions=("x",), post_norm=True).double()
    update = layer(features, coords, SHAPE, 1) - features
    torch.testing.assert_close(update.mean(1), torch.zeros(60, dtype=torch.float64), atol=1e-6, rtol=0)
    # (a LayerNorm divides by sqrt(var + 1e-5), so a small update variance ends a little under 1)
    torch.testing.assert_close(update.var(1, unbiased=False), torch.ones(60, dtype=torch.float64), atol=0.05, rtol=0)
    pre_norm = LIONLayer(8, (5, 4, 3), 16, layer="mamba", directions=("x",)).double()
    pre_norm_variance = (pre_norm(features, coords, SHAPE, 1) - features).var(1, unbiased=False)
    assert bool(((pre_norm_variance - 1).abs() > 0.05).any())


def test_the_official_block_form_keeps_a_sample_independent_of_its_batch_mates():
    # bidirectional scans reverse each group within its valid length, so padding never reaches a voxel
    torch.manual_seed(0)
    features, coords = scene((101, 37), dtype=torch.float64)
    official = dict(SMALL, bidirectional=True, post_norm=True)
    backbone = LIONBackbone(4, GRID, layer="mamba", **official).double().eval()
    with torch.no_grad():
        out, out_coords = backbone(features, coords, 2)
        mine = coords[:, 0] == 1
        alone_coords = coords[mine].clone()
        alone_coords[:, 0] = 0
        alone, _ = backbone(features[mine], alone_coords, 1)
    torch.testing.assert_close(out[out_coords[:, 0] == 1], alone, rtol=1e-10, atol=1e-10)


def test_the_position_embedding_can_be_left_out():
    features, coords = scene((60, 40))
    backbone = LIONBackbone(4, GRID, layer="gla", position_embedding=False, **SMALL)
    assert not any(isinstance(m, PositionEmbedding) for m in backbone.modules())
    out, out_coords = backbone(features, coords, 2)
    assert out.shape == (len(out_coords), 16) and bool(torch.isfinite(out).all())
