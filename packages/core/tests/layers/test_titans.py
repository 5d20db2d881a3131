"""Titans layer: options keep the contract, step ≡ forward for any chunk size, the η = 0 / α = 0 ablations."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize(
    "kwargs",
    [
        {"momentum": False},
        {"forgetting": False},
        {"momentum": False, "forgetting": False},
        {"memory_depth": 1, "chunk_size": 1},
        {"memory_depth": 3, "memory_expansion": 1, "chunk_size": 4},
        {"use_short_conv": False, "num_heads": 2, "chunk_size": 5},
        {"max_grad_norm": None, "max_lr": 0.05},
    ],
    ids=["no_momentum", "no_forgetting", "neither", "linear_c1", "deep_c4", "noconv_c5", "no_clipping"],
)
def test_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("titans", d_model=16, **kwargs), seq_len=23)


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 64])
def test_step_matches_forward_for_any_chunk_size(chunk_size):
    torch.manual_seed(0)
    layer = build_layer("titans", d_model=16, chunk_size=chunk_size).double()
    x = torch.randn(2, 45, 16, dtype=torch.float64)
    y, state = layer(x)
    s, outputs = None, []
    for t in range(x.shape[1]):
        y_t, s = layer.step(x[:, t], s)
        outputs.append(y_t)
    torch.testing.assert_close(torch.stack(outputs, 1), y)
    for a, b in zip(s[1][:3], state[1][:3]):
        for wa, wb in zip(a, b):
            torch.testing.assert_close(wa, wb)
    assert s[1][3].tolist() == state[1][3].tolist() == [45 % chunk_size] * 2


@pytest.mark.parametrize("cuts", [(7,), (16, 17), (5, 21, 40)])
def test_splits_anywhere_equal_the_whole_run(cuts):
    torch.manual_seed(0)
    layer = build_layer("titans", d_model=16, chunk_size=8).double()
    x = torch.randn(2, 45, 16, dtype=torch.float64)
    y, _ = layer(x)
    state, pieces = None, []
    for a, b in zip((0, *cuts), (*cuts, 45)):
        y_part, state = layer(x[:, a:b], state=state)
        pieces.append(y_part)
    torch.testing.assert_close(torch.cat(pieces, 1), y)


@pytest.mark.parametrize("flag, gate", [("momentum", 3), ("forgetting", 5)])
def test_ablation_flags_fix_their_gate_at_zero(flag, gate):
    full = build_layer("titans", d_model=16)
    ablated = build_layer("titans", d_model=16, **{flag: False})
    assert ablated.gates.out_features == full.gates.out_features - full.num_heads
    x = torch.randn(2, 6, 16)
    gates = ablated._heads(ablated.qkv(x), x)
    assert torch.equal(gates[gate], torch.zeros(2, 6, 4))
    assert (gates[3 if gate == 5 else 5] > 0).all() and (gates[4] > 0).all()


def test_gate_ranges():
    layer = build_layer("titans", d_model=8, num_heads=2, max_lr=0.05)
    with torch.no_grad():
        layer.gates.weight.fill_(10.0)
    x = torch.ones(1, 3, 8)
    _, _, _, eta, theta, alpha = layer._heads(layer.qkv(x), x)
    assert theta.max() <= 0.05 and theta.min() > 0.049
    assert ((eta > 0.99) & (eta <= 1)).all() and ((alpha > 0.99) & (alpha <= 1)).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_heads": 3}, "divisible"),
        ({"memory_depth": 0}, "memory_depth"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"max_lr": 2.0}, "max_lr"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
        ({"conv_size": 1}, "conv_size"),
    ],
)
def test_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_layer("titans", d_model=16, **kwargs)


def test_state_from_another_chunk_size_is_rejected():
    layer = build_layer("titans", d_model=16, chunk_size=8)
    _, state = layer(torch.randn(1, 5, 16))
    layer.chunk_size = 4
    with pytest.raises(ValueError, match="continue a state with the chunk size that produced it"):
        layer(torch.randn(1, 3, 16), state=state)


def test_long_sequence_stays_finite_and_learns_through_the_memory():
    torch.manual_seed(0)
    layer = build_layer("titans", d_model=32)
    x = torch.randn(2, 600, 32, requires_grad=True)
    y, state = layer(x)
    y[:, -1].sum().backward()
    assert torch.isfinite(y).all() and all(torch.isfinite(w).all() for w in state[1][1])
    # the last output depends on the first token through the memory (the convolution reaches 3 back)
    assert x.grad[:, 0].abs().max() > 0
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


def test_bf16_autocast_is_finite_and_keeps_float32_memory():
    torch.manual_seed(0)
    layer = build_layer("titans", d_model=16)
    x = torch.randn(2, 70, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, state = layer(x)
    y.float().pow(2).mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(w.dtype == torch.float32 for w in state[1][1])
