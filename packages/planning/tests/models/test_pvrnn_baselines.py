"""The baselines of PV-RNN: a deterministic RNN predictor and a VRNN (Chung et al. 2015)."""

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from recur_core.registry import get_model
from recur_core.testing import check_model
from recur_planning.models.baselines import VRNN, RNNPredictor


@pytest.mark.parametrize("name", ["rnn_predictor", "vrnn"])
@pytest.mark.parametrize("layer", ["lstm", "gru"])
def test_baselines_build_and_pass_the_model_checks_with_two_core_layers(name, layer):
    torch.manual_seed(0)
    model = get_model(name, input_dim=3, hidden_size=8, layer=layer)
    check_model(model)
    losses = model.training_loss(torch.rand(2, 10, 3) - 0.5, torch.arange(2))
    assert losses["loss"].dim() == 0 and torch.isfinite(losses["loss"])


@pytest.mark.parametrize("cls", [RNNPredictor, VRNN])
def test_online_predictor_predicts_the_horizon_from_each_observation(cls):
    torch.manual_seed(0)
    model = cls(input_dim=2, hidden_size=8).eval()
    predictor = model.online_predictor(horizon=4)
    x = torch.rand(3, 6, 2) - 0.5
    outs = [predictor.step(x[:, t]) for t in range(6)]
    assert all(o.shape == (3, 4, 2) for o in outs)
    # one row alone gives the same predictions (no mixing across the batch)
    predictor.reset()
    alone = [predictor.step(x[1, t]) for t in range(6)]
    torch.testing.assert_close(alone[-1], outs[-1][1], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="x_t must be"):
        predictor.step(torch.zeros(3))


def test_rnn_predictor_first_prediction_is_its_teacher_forced_output():
    torch.manual_seed(0)
    model = RNNPredictor(input_dim=2, hidden_size=8).eval()
    x = torch.rand(1, 7, 2) - 0.5
    predictor = model.online_predictor(horizon=1)
    online = torch.stack([predictor.step(x[:, t])[:, 0] for t in range(6)], 1)
    with torch.no_grad():
        torch.testing.assert_close(online, model(x), atol=1e-5, rtol=1e-4)


def test_vrnn_kl_is_the_gaussian_kl_per_latent_unit():
    torch.manual_seed(0)
    model = VRNN(input_dim=2, hidden_size=8, z_size=3)
    x = torch.rand(2, 1, 2)
    _, kl = model(x, sample=False)
    h = torch.zeros(2, 8)
    mu_p, sigma_p = model._gaussian(model.prior(h))
    mu_q, sigma_q = model._gaussian(model.encoder(torch.cat([model.phi_x(x[:, 0]), h], -1)))
    expected = kl_divergence(Normal(mu_q, sigma_q), Normal(mu_p, sigma_p)).mean(-1)
    torch.testing.assert_close(kl[:, 0], expected)


def test_not_causal_layers_are_refused():
    with pytest.raises(ValueError, match="not causal"):
        VRNN(layer="bidirectional")
