"""Helpers of tools/repro/{lightnet_scan,aaren,mqar_ordering}.py: scan orders, the global read, state sizes."""

import pytest
import torch

from recur_core.registry import build_layer


@pytest.fixture(scope="module")
def lightnet_scan(repro_script):
    return repro_script("lightnet_scan")


def test_raster_orders_are_the_four_scan_directions(lightnet_scan):
    orders = lightnet_scan.raster_orders(3)
    assert [o.tolist() for o in orders] == [
        [0, 1, 2, 3, 4, 5, 6, 7, 8],
        [8, 7, 6, 5, 4, 3, 2, 1, 0],
        [0, 3, 6, 1, 4, 7, 2, 5, 8],
        [8, 5, 2, 7, 4, 1, 6, 3, 0],
    ]


def test_global_read_sees_every_token_and_ignores_their_order(lightnet_scan, one_thread):
    torch.manual_seed(0)
    layer = build_layer("lightnet", 16, num_heads=2).double()
    read = lightnet_scan.GlobalRead(layer)
    x = torch.randn(3, 9, 16, dtype=torch.float64)
    y = read(x)[0]
    # the last token's causal output already reads the final state
    torch.testing.assert_close(y[:, -1], layer(x)[0][:, -1])
    perm = torch.randperm(9)
    torch.testing.assert_close(read(x[:, perm])[0], y[:, perm])
    with pytest.raises(ValueError, match="lightnet"):
        lightnet_scan.GlobalRead(build_layer("gla", 16, num_heads=2))


def test_multiscan_averages_directions_back_in_order(lightnet_scan, one_thread):
    torch.manual_seed(0)
    layer = build_layer("gla", 16, num_heads=2, expand_k=1.0, expand_v=1.0)
    x = torch.randn(2, 9, 16)
    identity = torch.arange(9)
    torch.testing.assert_close(lightnet_scan.MultiScan(layer, [identity])(x)[0], layer(x)[0])
    both = lightnet_scan.MultiScan(layer, [identity, identity.flip(0)])(x)[0]
    reverse = layer(x.flip(1))[0].flip(1)
    torch.testing.assert_close(both, (layer(x)[0] + reverse) / 2)


def test_lightnet_arms_share_parameter_counts(lightnet_scan):
    counts = {arm: sum(p.numel() for p in lightnet_scan.build(arm).parameters()) for arm in lightnet_scan.ARMS}
    assert counts["additive-1"] == counts["additive-1 causal"]
    assert counts["multiplicative-1"] == counts["multiplicative-4"]


def test_digit_patches_are_2x2_blocks_in_row_major_order(lightnet_scan):
    image = torch.arange(64.0).view(1, 8, 8)
    patches = lightnet_scan.to_patches(image)[0]
    assert patches[0].tolist() == [0, 1, 8, 9, *[1, 0, 0, 0], *[1, 0, 0, 0]]  # pixels, row, column
    assert patches[1].tolist() == [2, 3, 10, 11, *[1, 0, 0, 0], *[0, 1, 0, 0]]
    assert patches[4].tolist() == [16, 17, 24, 25, *[0, 1, 0, 0], *[1, 0, 0, 0]]
    x_train, _, x_test, _ = lightnet_scan.load_patches()
    assert x_train.shape[1:] == (16, 12) and len(x_train) + len(x_test) == 1797


def test_aaren_state_is_constant_attention_state_grows(one_thread, repro_script):
    aaren = repro_script("aaren")
    torch.manual_seed(0)
    sizes = {}
    for arm in aaren.ARMS:
        model = aaren.build(arm, 1, 3)
        small, dev_small = aaren.state_bytes(model, 8)
        large, dev_large = aaren.state_bytes(model, 32)
        assert max(dev_small, dev_large) < 1e-5
        sizes[arm] = (small, large)
    assert sizes["aaren"][0] == sizes["aaren"][1]
    assert sizes["attention"][1] > 3 * sizes["attention"][0]


def test_sinusoid_mixtures_are_seeded(repro_script):
    aaren = repro_script("aaren")
    x, y = aaren.sinusoid_mixtures(4, torch.Generator().manual_seed(0))
    x2, _ = aaren.sinusoid_mixtures(4, torch.Generator().manual_seed(0))
    assert x.shape == (4, aaren.CONTEXT, 1) and y.shape == (4, aaren.CONTEXT, aaren.HORIZON)
    # the targets of step t are the next HORIZON values of the series
    torch.testing.assert_close(y[:, :-1, 0], x[:, 1:, 0])
    torch.testing.assert_close(x, x2)


def test_mqar_linear_arms_have_equal_state(repro_script):
    mqar = repro_script("mqar_ordering")
    sizes = {layer: mqar.state_elements(mqar.build(layer, kwargs), 64) for layer, kwargs in mqar.ARMS}
    assert sizes["retention"] == sizes["gla"] == mqar.D_MODEL**2 // mqar.HEADS
    # linear attention also carries its normaliser z, one element per head and feature
    assert sizes["linear_attention"] == sizes["gla"] + mqar.HEADS * mqar.D_MODEL // mqar.HEADS
    assert sizes["attention"] == 2 * 64 * mqar.D_MODEL
