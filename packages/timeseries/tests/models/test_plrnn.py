import pytest
import torch

from recur_core.registry import get_model
from recur_core.techniques.teacher_forcing import free_run
from recur_core.testing import check_model
from recur_timeseries.models import PLRNNReconstructor


def test_registered_and_passes_the_model_contract():
    model = get_model("plrnn_reconstructor")
    assert isinstance(model, PLRNNReconstructor) and model.channels == 3 and model.latent_dim == 3
    check_model(model)
    # an autonomous map: the input weights are zero and frozen
    assert not model.layer.C.weight.requires_grad and model.layer.C.weight.abs().max() == 0


@pytest.mark.parametrize("layer_kwargs", [None, {"observation": "linear"}])
def test_forward_is_the_forced_rollout_and_alpha_zero_is_the_free_run(layer_kwargs):
    torch.manual_seed(0)
    model = PLRNNReconstructor(channels=2, latent_dim=5, hidden_dim=8, layer_kwargs=layer_kwargs).double()
    x = torch.randn(3, 9, 2, dtype=torch.float64)
    free = model(x, alpha=0.0)
    assert free.shape == (3, 8, 2)
    torch.testing.assert_close(free, model.generate(x[:, 0], 8))
    # alpha = 1 with the identity observation of all latents: each prediction starts from the data point before it
    if layer_kwargs is None:
        model = PLRNNReconstructor(channels=2, latent_dim=2, hidden_dim=8).double()
        one_step = model.generate(x[:, :-1].reshape(-1, 2), 1).reshape(3, 8, 2)
        torch.testing.assert_close(model(x, alpha=1.0), one_step)


def test_generate_from_observations_or_latents():
    torch.manual_seed(0)
    model = PLRNNReconstructor(channels=3, latent_dim=6, hidden_dim=16)
    x0 = torch.randn(4, 3)
    run = model.generate(x0, 50)
    assert run.shape == (4, 50, 3) and torch.isfinite(run).all()
    torch.testing.assert_close(run, free_run(model.layer, x0, 50))
    latent = torch.cat([x0, torch.zeros(4, 3)], -1)
    torch.testing.assert_close(model.generate(latent, 50), run)
    # forecast is the last state of the same run
    torch.testing.assert_close(model.forecast(x0, 50), run[:, -1])


def test_bad_input_is_explained():
    model = PLRNNReconstructor(channels=3)
    with pytest.raises(ValueError, match=r"x must be \[B, T >= 2, N = 3\]"):
        model(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"z0 must be observations \[K, 3\] or latents \[K, 3\]"):
        model.generate(torch.randn(2, 7), 5)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        model.generate(torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match="lacks forward_forced"):
        PLRNNReconstructor(layer="lstm")
    with pytest.raises(ValueError, match="needs latent_dim >= d_model"):
        PLRNNReconstructor(channels=5, latent_dim=3)
