"""shPLRNN: the map against its equation, the clipped nonlinearity, the GTF forcing hook, the Jacobian."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract


@pytest.mark.parametrize(
    "kwargs",
    [{"clipped": False}, {"observation": "linear", "latent_dim": 6, "hidden_dim": 20}, {"latent_dim": 24}],
)
def test_options_keep_the_contract(kwargs):
    torch.manual_seed(0)
    check_layer_contract(build_layer("plrnn", d_model=16, **kwargs))


def test_map_is_the_papers_equation():
    torch.manual_seed(0)
    layer = build_layer("plrnn", d_model=4, latent_dim=6, hidden_dim=10).double()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    y, z_final = layer(x)
    z = torch.zeros(2, 6, dtype=torch.float64)
    for t in range(5):
        w2z = z @ layer.W2.T
        phi = torch.relu(w2z + layer.h2) - torch.relu(w2z)
        z = layer.A * z + phi @ layer.W1.T + layer.h1 + x[:, t] @ layer.C.weight.T
        torch.testing.assert_close(y[:, t], z[:, :4])
    torch.testing.assert_close(z_final, z)


def test_clipped_map_is_bounded_for_contracting_a():
    # ReLU(a + h) − ReLU(a) is bounded by |h|, so with |A| < 1 orbits stay bounded
    torch.manual_seed(0)
    layer = build_layer("plrnn", d_model=3, latent_dim=5, hidden_dim=30).double()
    with torch.no_grad():
        layer.W1.mul_(50)
    _, z = layer(torch.zeros(1, 2000, 3, dtype=torch.float64), state=1e3 * torch.randn(1, 5, dtype=torch.float64))
    bound = (layer.W1.abs() @ layer.h2.abs() + layer.h1.abs()) / (1 - layer.A.abs())
    assert (z.abs()[0] <= bound + 1e-6).all()


def test_forcing_extremes():
    torch.manual_seed(0)
    layer = build_layer("plrnn", d_model=3, latent_dim=5).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    targets = torch.randn(2, 7, 5, dtype=torch.float64)
    # alpha = 0 is the free run
    z_free, last = layer.forward_forced(x, targets, alpha=0.0)
    y, state = layer(x)
    torch.testing.assert_close(z_free[..., :3], y)
    torch.testing.assert_close(last, state)
    # alpha = 1 is classic teacher forcing: each step starts from the previous target
    z_tf, last = layer.forward_forced(x, targets, alpha=1.0)
    for t in range(1, 7):
        torch.testing.assert_close(z_tf[:, t], layer.latent_step(targets[:, t - 1], layer.C(x[:, t])))
    torch.testing.assert_close(last, targets[:, -1])


def test_partial_forcing_forces_only_the_observed_dims():
    torch.manual_seed(0)
    layer = build_layer("plrnn", d_model=3, latent_dim=5).double()
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    targets = torch.randn(1, 4, 3, dtype=torch.float64)
    z, last = layer.forward_forced(x, targets, alpha=torch.tensor(0.3, dtype=torch.float64))
    torch.testing.assert_close(last[:, :3], 0.7 * z[:, -1, :3] + 0.3 * targets[:, -1])
    torch.testing.assert_close(last[:, 3:], z[:, -1, 3:])


def test_forcing_scales_gradients_by_one_minus_alpha():
    torch.manual_seed(0)
    layer = build_layer("plrnn", d_model=2, latent_dim=4).double()
    x = torch.zeros(1, 2, 2, dtype=torch.float64)
    z0 = torch.randn(1, 4, dtype=torch.float64, requires_grad=True)
    targets = torch.randn(1, 2, 4, dtype=torch.float64)
    z, _ = layer.forward_forced(x, targets, alpha=0.25, state=z0)
    (grad,) = torch.autograd.grad(z[0, 1].sum(), z0)
    forced = 0.75 * z[:, 0].detach() + 0.25 * targets[:, 0]
    jac = layer.jacobian(forced) @ layer.jacobian(z0.detach())
    torch.testing.assert_close(grad[0], 0.75 * jac[0].sum(0))


def test_rejects_bad_targets_and_observation():
    layer = build_layer("plrnn", d_model=3, latent_dim=4)
    with pytest.raises(ValueError, match="targets_latent"):
        layer.forward_forced(torch.zeros(1, 5, 3), torch.zeros(1, 5, 6), alpha=0.1)
    with pytest.raises(ValueError, match="latent_dim"):
        build_layer("plrnn", d_model=8, latent_dim=4)
    with pytest.raises(ValueError, match="observation"):
        build_layer("plrnn", d_model=8, observation="affine")
