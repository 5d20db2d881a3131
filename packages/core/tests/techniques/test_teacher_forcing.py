import pytest
import torch

from recur_core.engine import quiet_trainer, run_cli
from recur_core.tasks.lorenz import Lorenz63Data, lorenz63
from recur_core.techniques.teacher_forcing import (
    GTFTask,
    adaptive_alpha,
    free_run,
    gtf_rollout,
    infer_latent,
    initial_latent,
    jacobian_growth,
)


def _task(forcing="gtf", alpha=0.3, **kwargs):
    torch.manual_seed(0)
    layer_kwargs = kwargs.pop("layer_kwargs", {"latent_dim": 5, "hidden_dim": 8})
    return GTFTask(forcing=forcing, alpha=alpha, layer_kwargs=layer_kwargs, **kwargs).double()


def _loop_loss(task, x, alpha_at):
    """The forcing written out step by step: z_{t+1} = F(z~_t), z~ = (1 - a_t) z + a_t z^ on the observed dims."""
    net, d = task.net, x.shape[-1]
    z = torch.cat([x[:, 0], x.new_zeros(x.shape[0], net.latent_dim - d)], -1)
    errors = []
    for t in range(x.shape[1] - 1):
        z = net.latent_step(z, torch.zeros_like(z))
        errors.append((z[:, :d] - x[:, t + 1]).square())
        a = alpha_at(t + 1)
        z = torch.cat([(1 - a) * z[:, :d] + a * x[:, t + 1], z[:, d:]], -1)
    return torch.stack(errors).mean()


@pytest.mark.parametrize(
    ("forcing", "alpha_at"),
    [("gtf", lambda t: 0.3), ("free", lambda t: 0.0), ("sparse", lambda t: float(t % 4 == 0))],
)
def test_forcing_matches_a_step_loop(forcing, alpha_at):
    task = _task(forcing, interval=4)
    x = torch.randn(3, 11, 3, dtype=torch.float64)
    loss, _ = task.loss(x)
    expected = _loop_loss(task, x, alpha_at)
    torch.testing.assert_close(loss, expected)
    # the gradients too: sparse forcing cuts the graph at the forced steps exactly as the loop does
    grads = torch.autograd.grad(loss, list(task.parameters()), allow_unused=True)
    expected_grads = torch.autograd.grad(expected, list(task.parameters()), allow_unused=True)
    for got, want in zip(grads, expected_grads, strict=True):
        if want is not None:
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize(("forcing", "alpha_at"), [("gtf", lambda t: 0.3), ("sparse", lambda t: float(t % 4 == 0))])
def test_gtf_rollout_on_a_bare_layer_matches_a_step_loop(forcing, alpha_at):
    # the function the task uses, called on the layer alone (as a model that wraps the layer does)
    task = _task(forcing, interval=4)
    x = torch.randn(3, 11, 3, dtype=torch.float64)
    latents, applied = gtf_rollout(task.net, x, 0.3, forcing, interval=4)
    loss = (task.net.observe(latents) - x[:, 1:]).square().mean()
    torch.testing.assert_close(loss, _loop_loss(task, x, alpha_at))
    # the map applied to the first forced latent gives the first unforced one
    torch.testing.assert_close(applied[:, 0], initial_latent(task.net, x[:, 0]))
    torch.testing.assert_close(task.net.latent_step(applied, torch.zeros_like(applied)), latents)
    with pytest.raises(ValueError, match="forcing must be one of"):
        gtf_rollout(task.net, x, 0.3, "teacher")


def test_alpha_one_is_classic_teacher_forcing():
    # with alpha = 1 every prediction starts from the data: the loss is the one-step error of the map
    task = _task("gtf", alpha=1.0, layer_kwargs={"latent_dim": 3, "hidden_dim": 8})
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    one_step = task.net.latent_step(x[:, :-1], torch.zeros_like(x[:, :-1]))
    torch.testing.assert_close(task.loss(x)[0], (one_step - x[:, 1:]).square().mean())


def test_forcing_bounds_the_jacobian_product():
    # d z_T / d z_0 under GTF is prod_t (1 - alpha) J_t on a fully forced latent
    task = _task("gtf", alpha=0.4, layer_kwargs={"latent_dim": 3, "hidden_dim": 8})
    x = torch.randn(1, 6, 3, dtype=torch.float64)
    net = task.net
    targets = infer_latent(net, x)
    start = x[:, 0].clone().requires_grad_(True)
    latents, _ = net.forward_forced(torch.zeros_like(x[:, 1:]), targets[:, 1:], 0.4, state=start)
    rows = [torch.autograd.grad(latents[0, -1, i], start, retain_graph=True)[0][0] for i in range(3)]
    autograd_jac = torch.stack(rows)
    _, applied = task.rollout(x)
    product = torch.eye(3, dtype=torch.float64)
    for t in range(x.shape[1] - 1):
        product = net.jacobian(applied[:, t])[0] @ product
        if t < x.shape[1] - 2:
            product = 0.6 * product
    torch.testing.assert_close(autograd_jac, product)


def test_adaptive_alpha_rule_by_hand():
    assert adaptive_alpha(0.1, 2.0) == 0.5  # estimate 1 - 1/2 is larger: jump to it
    assert adaptive_alpha(0.5, 1.25) == pytest.approx(0.999 * 0.5 + 0.001 * 0.2)  # smaller: relax slowly
    assert adaptive_alpha(0.5, 0.5) == pytest.approx(0.999 * 0.5)  # contracting map: estimate clipped to 0


def test_jacobian_growth_is_the_geometric_mean_of_spectral_norms():
    task = _task("agtf", layer_kwargs={"latent_dim": 4, "hidden_dim": 6})
    latents = torch.randn(2, 5, 4, dtype=torch.float64)
    growth = jacobian_growth(task.net, latents)
    for b in range(2):
        norms = [torch.linalg.svdvals(task.net.jacobian(latents[b, t : t + 1])[0])[0] for t in range(5)]
        torch.testing.assert_close(growth[b], torch.stack(norms).prod() ** (1 / 5))


def test_agtf_updates_alpha_from_the_batch():
    task = _task("agtf", alpha=0.0)
    x = torch.randn(2, 12, 3, dtype=torch.float64) * 3
    _, applied = task.loss(x)
    growth = float(jacobian_growth(task.net, applied.detach()).max())
    assert task.update_alpha(applied) == pytest.approx(max(0.0, 1 - 1 / growth))


def test_linear_observation_forces_through_the_pseudo_inverse():
    task = _task("gtf", alpha=1.0, layer_kwargs={"latent_dim": 5, "hidden_dim": 8, "observation": "linear"})
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    z_hat = infer_latent(task.net, x)
    torch.testing.assert_close(task.net.observe(z_hat), x)  # B B^+ x = x for a full-row-rank B
    one_step = task.net.observe(task.net.latent_step(z_hat[:, :-1], torch.zeros_like(z_hat[:, :-1])))
    torch.testing.assert_close(task.loss(x)[0], (one_step - x[:, 1:]).square().mean())


def test_free_run_is_the_layer_stepped_from_the_data():
    task = _task("free")
    x0 = torch.randn(4, 3, dtype=torch.float64)
    run = free_run(task.net, x0, 6)
    z = torch.cat([x0, x0.new_zeros(4, 2)], -1)
    for t in range(6):
        z = task.net.latent_step(z, torch.zeros_like(z))
        torch.testing.assert_close(run[:, t], z[:, :3])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="forcing must be one of"):
        GTFTask(forcing="tf")
    with pytest.raises(ValueError, match="alpha must be in"):
        GTFTask(alpha=1.5)
    with pytest.raises(ValueError, match="lacks forward_forced"):
        GTFTask(layer="gru", d_model=3)
    with pytest.raises(ValueError, match=r"inputs must be \[B, T >= 2, D = 3\]"):
        _task().loss(torch.randn(2, 5, 4, dtype=torch.float64))


def test_lorenz_data_is_standardised_and_noisy_only_for_training():
    clean = lorenz63(2, 50, torch.Generator().manual_seed(0), burn_in=100)
    assert clean.shape == (2, 50, 3) and torch.isfinite(clean).all()
    assert clean[..., 2].min() > 0  # z stays positive on the attractor
    data = Lorenz63Data(seq_len=40, eval_len=60, num_train=64, num_val=2, num_test=2, noise=0.05)
    data.setup("fit")
    train = data.dataset("train").trajectories
    assert train.shape == (64, 40, 3) and data.dataset("val").trajectories.shape == (2, 60, 3)
    noiseless = Lorenz63Data(seq_len=40, eval_len=60, num_train=64, num_val=2, num_test=2, noise=0.0)
    residual = train - noiseless.dataset("train").trajectories
    assert residual.std().item() == pytest.approx(0.05, rel=0.1)
    torch.testing.assert_close(noiseless.dataset("train").trajectories.mean((0, 1)), torch.zeros(3), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="noise must be"):
        Lorenz63Data(noise=-0.1)


def test_fit_through_the_engine(one_thread, tmp_path):
    data = Lorenz63Data(seq_len=30, eval_len=60, num_train=32, num_val=2, num_test=2, batch_size=8)
    torch.manual_seed(0)
    task = GTFTask(forcing="agtf", alpha=0.0, alpha_every=2, layer_kwargs={"latent_dim": 6, "hidden_dim": 12})
    trainer = quiet_trainer(
        max_steps=4,
        limit_val_batches=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=data)
    assert trainer.global_step == 4
    metrics = trainer.callback_metrics
    assert {"val/loss", "val/dstsp", "val/dh", "train/alpha"} <= set(metrics)
    assert 0.0 < float(task.alpha) < 1.0  # estimated from the Jacobians, not left at 0
    assert torch.isfinite(metrics["val/dstsp"]) and 0 <= float(metrics["val/dh"]) <= 1


def test_recipe_instantiates(runs_dir):
    cli = run_cli("core", ["--config", "lorenz63/plrnn_gtf", "--model.forcing", "sparse"], run=False)
    assert isinstance(cli.model, GTFTask) and isinstance(cli.datamodule, Lorenz63Data)
    assert cli.model.forcing == "sparse" and cli.model.net.latent_dim == 20
