"""LightNet: the additive recurrence, stable for any key logit, one scan whose final state ignores order."""

import torch

from recur_core import build_layer


def _direct(layer, x):
    """The additive recurrence written out with e^k (fine for small logits in float64)."""
    q, k, v = layer._heads(x)
    weights = k.exp()
    s = torch.einsum("bthk,bthv->bthkv", weights, v).cumsum(1)
    z = weights.cumsum(1)
    o = torch.einsum("bthk,bthkv->bthv", q, s / z[..., None]) / layer.key_dim**0.5
    return layer._output(o, x)


def test_matches_the_additive_recurrence():
    torch.manual_seed(0)
    layer = build_layer("lightnet", d_model=16).double()
    x = torch.randn(2, 45, 16, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], _direct(layer, x))


def test_huge_key_logits_stay_finite_and_step_matches_forward():
    torch.manual_seed(0)
    layer = build_layer("lightnet", d_model=16)
    with torch.no_grad():
        layer.qk.weight[16:] *= 500  # key logits in the hundreds: e^k overflows float32
    x = torch.randn(2, 40, 16, requires_grad=True)
    y, (s, log_z) = layer(x)
    (y.square().sum() + s.square().sum()).backward()
    assert torch.isfinite(y).all() and torch.isfinite(log_z).all() and torch.isfinite(x.grad).all()
    assert log_z.abs().max() > 100
    with torch.no_grad():
        state, steps = None, []
        for t in range(40):
            y_t, state = layer.step(x[:, t], state)
            steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y, rtol=1e-4, atol=1e-4)
    reference = layer.double()(x.detach().double())[0]
    torch.testing.assert_close(y.detach().double(), reference, rtol=1e-3, atol=1e-3)


def test_final_state_does_not_depend_on_token_order():
    torch.manual_seed(0)
    layer = build_layer("lightnet", d_model=16).double()
    x = torch.randn(2, 30, 16, dtype=torch.float64)
    _, (s, log_z) = layer(x)
    _, (s_perm, log_z_perm) = layer(x[:, torch.randperm(30)])
    torch.testing.assert_close(s_perm, s)
    torch.testing.assert_close(log_z_perm, log_z)


def test_empty_state_has_minus_infinite_log_normaliser():
    layer = build_layer("lightnet", d_model=8, num_heads=2)
    s, log_z = layer.init_state(3)
    assert (s == 0).all() and torch.isneginf(log_z).all()
    _, (_, log_z) = layer(torch.randn(3, 1, 8))
    assert torch.isfinite(log_z).all()
