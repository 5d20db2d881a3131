"""PV-RNN: shapes, registry, the ELBO's pieces, error regression and the streaming predictor."""

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import recur_planning.models.baselines  # noqa: F401  (registers the baselines)
from recur_core.registry import get_model, list_models
from recur_core.testing import check_model
from recur_planning.models.pvrnn import PVRNN, OnlineErrorRegression, error_regression, gaussian_kl

TINY = {"input_dim": 2, "d_sizes": (8, 6), "z_sizes": (2, 1), "taus": (2.0, 4.0), "num_sequences": 3, "seq_len": 20}


def test_registered_and_builds_with_no_arguments():
    assert {"pvrnn", "rnn_predictor", "vrnn"} <= set(list_models("planning"))
    model = get_model("pvrnn")
    x_hat, kl = model(*model.example_input(2))
    assert x_hat.shape == (2, 12, 2) and kl.shape == (2, 12, 2)


@pytest.mark.parametrize("layer", ["mtrnn", "gru", "lstm"])
def test_check_model_with_the_mtrnn_and_two_core_layers(layer):
    torch.manual_seed(0)
    model = PVRNN(**TINY, layer=layer)
    check_model(model)
    x_hat, kl = model(torch.tensor([0, 2]))
    assert x_hat.shape == (2, 20, 2) and kl.shape == (2, 20, 2)
    # the adaptive vectors: one row per training sequence, step and level's z
    assert model.adaptive.shape == (3, 20, 2, 3)


def test_bad_options_and_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="one entry per level"):
        PVRNN(d_sizes=(8, 8), z_sizes=(2,))
    with pytest.raises(ValueError, match="not causal"):
        PVRNN(layer="bidirectional")
    with pytest.raises(ValueError, match="takes no layer_kwargs"):
        PVRNN(layer_kwargs={"hidden_size": 3})
    model = PVRNN(**TINY)
    with pytest.raises(ValueError, match="num_sequences"):
        model(torch.tensor([3]))
    with pytest.raises(ValueError, match=r"observed must be \[W, D\]"):
        error_regression(model, torch.zeros(2))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, mu_p = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    s_q, s_p = torch.rand(5, 3, generator=g) + 0.1, torch.rand(5, 3, generator=g) + 0.1
    expected = kl_divergence(Normal(mu_q, s_q), Normal(mu_p, s_p))
    torch.testing.assert_close(gaussian_kl(mu_q, s_q, mu_p, s_p), expected)
    # the model's per-level KL is the sum over the level's z divided by dim z
    torch.manual_seed(1)
    model = PVRNN(**TINY)
    with torch.no_grad():
        model.adaptive.normal_()
    run = model.rollout(model.adaptive[:1, :4], 4, sample=False)
    q = Normal(torch.tanh(model.adaptive[0, :4, 0]), model.adaptive[0, :4, 1].exp())
    p = Normal(torch.tanh(run.prior[0, :, 0]), run.prior[0, :, 1].exp())
    per_unit = kl_divergence(q, p)
    expected = torch.stack([per_unit[:, :2].sum(-1) / 2, per_unit[:, 2:].sum(-1) / 1], -1)
    torch.testing.assert_close(run.kl[0], expected)


def test_prior_at_the_first_step_is_the_unit_gaussian():
    torch.manual_seed(0)
    model = PVRNN(**TINY)
    with torch.no_grad():
        for level in model.levels:
            level.prior_mu.bias.fill_(0.7)
            level.prior_log_sigma.bias.fill_(-1.0)
        model.adaptive.normal_()
    run = model.rollout(model.adaptive[:2, :3], 3, sample=False)
    # pre-activations 0: mu = tanh 0 = 0, sigma = exp 0 = 1
    assert torch.equal(run.prior[:, 0], torch.zeros(2, 2, 3))
    q = Normal(torch.tanh(model.adaptive[:2, 0, 0]), model.adaptive[:2, 0, 1].exp())
    per_unit = kl_divergence(q, Normal(0.0, 1.0))
    torch.testing.assert_close(run.kl[:, 0, 0], per_unit[:, :2].mean(-1))
    # later steps read d_{t-1}: not N(0, 1)
    assert not torch.allclose(run.prior[:, 1], torch.zeros(2, 2, 3))
    # a rollout that does not start a sequence reads its first prior from d (zeros here: the biases)
    run = model.rollout(None, 1, state=model.init_state(2), first=False, sample=False)
    assert torch.allclose(run.prior[:, 0, 0], torch.full((2, 3), 0.7))
    assert torch.allclose(run.prior[:, 0, 1], torch.full((2, 3), -1.0))


def test_kl_weights_use_w_first_at_t1_only():
    model = PVRNN(**TINY, w=(0.1, 0.2), w_first=(1.0, 2.0))
    weights = model.kl_weights(3)
    torch.testing.assert_close(weights, torch.tensor([[1.0, 2.0], [0.1, 0.2], [0.1, 0.2]]))
    torch.testing.assert_close(model.kl_weights(2, first=False), torch.tensor([[0.1, 0.2], [0.1, 0.2]]))


def _trained_ish(seed=0):
    torch.manual_seed(seed)
    return PVRNN(**TINY).eval()


def test_error_regression_changes_only_a_and_lowers_the_window_error():
    model = _trained_ish()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    t = torch.arange(12.0)
    observed = torch.stack([0.6 * torch.sin(t / 2), 0.6 * torch.cos(t / 2)], -1)
    result = error_regression(model, observed, window=10, iterations=30, lr=0.09, horizon=3, sample=False)
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), f"{name} changed"
        assert p.grad is None, f"{name} got a gradient"
    assert result.prediction.shape == (1, 3, 2) and result.reconstruction.shape == (1, 10, 2)
    assert result.adaptive.shape == (1, 10, 2, 3) and result.losses.shape == (30,)
    assert result.losses[-1] < 0.5 * result.losses[0]
    fresh = error_regression(model, observed, iterations=0, sample=False)
    window_error = (result.reconstruction[0] - observed[-10:]).square().mean()
    assert window_error < (fresh.reconstruction[0] - observed[-10:]).square().mean()


def test_stream_rows_are_independent_and_equal_the_batch_computation():
    model = _trained_ish(1)
    g = torch.Generator().manual_seed(0)
    sequences = torch.rand(3, 8, 2, generator=g) * 1.6 - 0.8
    batch = OnlineErrorRegression(model, horizon=2, window=4, iterations=5, sample=False)
    together = torch.stack([batch.step(sequences[:, t]) for t in range(8)], 1)
    assert together.shape == (3, 8, 2, 2)
    for b in range(3):
        single = OnlineErrorRegression(model, horizon=2, window=4, iterations=5, sample=False)
        alone = torch.stack([single.step(sequences[b, t]) for t in range(8)])
        torch.testing.assert_close(alone, together[b], atol=2e-5, rtol=1e-4)


def test_a_stream_step_is_error_regression_over_the_slid_window():
    model = _trained_ish(2)
    g = torch.Generator().manual_seed(1)
    sequence = torch.rand(9, 2, generator=g) - 0.5
    stream = OnlineErrorRegression(model, horizon=3, window=4, iterations=6, sample=False)
    for t in range(8):
        stream.step(sequence[t])
    # by hand: the window x_5..x_8, from the state after x_4 and the slid, warm-started A
    last = stream.last
    adaptive = torch.cat([last.adaptive, last.next_prior[:, None]], 1)[:, 1:]
    expected = error_regression(
        model,
        sequence[5:9],
        window=4,
        iterations=6,
        horizon=3,
        state=last.next_state,
        adaptive=adaptive,
        first=False,
        sample=False,
    )
    torch.testing.assert_close(stream.step(sequence[8]), expected.prediction[0])
    assert stream.observed.shape == (1, 4, 2) and not stream.first


def test_generation_is_deterministic_without_sampling_and_varies_with_it():
    model = _trained_ish(3)
    a = model.generate(15, 2, sample=False)
    torch.testing.assert_close(a[0], a[1])
    b = model.generate(15, 2, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(b[0], b[1])
