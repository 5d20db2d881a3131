import csv

import pytest
import torch

from recur_core.engine import console_main, quiet_trainer, run_cli
from recur_core.recipes import list_recipes
from recur_core.techniques.dynamics_metrics import state_space_divergence
from recur_timeseries.datamodules import ReconstructionData
from recur_timeseries.task import ReconstructionModule

TINY = {"train_len": 600, "eval_len": 120, "seq_len": 30, "stride": 3, "batch_size": 8}
TINY_CLI = [
    "--data.train_len", "600", "--data.eval_len", "120", "--data.seq_len", "30", "--data.stride", "10",
    "--data.batch_size", "8", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
    "--trainer.log_every_n_steps", "1", "--trainer.check_val_every_n_epoch", "1",
]  # fmt: skip


def test_options_are_checked():
    with pytest.raises(ValueError, match="forcing must be 'gtf'"):
        ReconstructionModule(forcing="sparse")
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        ReconstructionModule(alpha=1.5)
    with pytest.raises(ValueError, match=r"lr_end must be in \(0, lr"):
        ReconstructionModule(lr=1e-3, lr_end=1e-2)
    with pytest.raises(ValueError, match="unknown model 'plrnn_x'"):
        ReconstructionModule(model="plrnn_x")


def test_a_short_gtf_fit_lowers_the_loss(one_thread):
    torch.manual_seed(0)
    data = ReconstructionData(**TINY)
    data.setup()
    batch = data.dataset("train").trajectories[:64]
    task = ReconstructionModule(model_kwargs={"hidden_dim": 32}, alpha=0.2, lr=5e-3, lr_end=5e-3)
    optimizer = task.configure_optimizers()

    def loss() -> torch.Tensor:
        latents, _ = task.net.rollout(batch, task.alpha)
        return (task.net.observe(latents) - batch[:, 1:]).square().mean()

    before = loss().item()
    for _ in range(80):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.6 * before


def test_fit_through_the_engine_with_adaptive_alpha(one_thread, tmp_path):
    torch.manual_seed(0)
    data = ReconstructionData(**TINY)
    task = ReconstructionModule(forcing="agtf", alpha=0.0, alpha_every=2, model_kwargs={"hidden_dim": 16})
    trainer = quiet_trainer(max_steps=4, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(task, datamodule=data)
    metrics = trainer.callback_metrics
    assert trainer.global_step == 4
    assert {"train/loss", "train/alpha", "val/dstsp", "val/dh", "val/pe20"} <= set(metrics)
    assert 0.0 < float(task.alpha) < 1.0  # estimated from the Jacobians, not left at 0
    assert 0 <= float(metrics["val/dh"]) <= 1 and float(metrics["val/dstsp"]) >= 0
    # the learning rate decays exponentially and reaches lr_end at the last planned step
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(task.hparams.lr_end)


def test_data_and_model_disagreement_is_explained(one_thread, tmp_path):
    data = ReconstructionData("lorenz96", lorenz96_n=6, **TINY)
    task = ReconstructionModule(channels=3)
    trainer = quiet_trainer(max_steps=1, default_root_dir=tmp_path)
    with pytest.raises(ValueError, match=r"model.channels = 3 but the data has channels = 6; set --model.channels 6"):
        trainer.fit(task, datamodule=data)


def test_recipes_instantiate(runs_dir):
    recipes = {k: v for k, v in list_recipes("timeseries").items() if k.startswith("plrnn/")}
    assert set(recipes) == {"plrnn/lorenz63", "plrnn/lorenz96", "plrnn/ett_ot"}
    for name, path in recipes.items():
        assert path.read_text().splitlines()[0] == f"# recur-timeseries fit --config {name}"
        cli = run_cli("timeseries", ["--config", name], run=False)
        assert isinstance(cli.model, ReconstructionModule) and isinstance(cli.datamodule, ReconstructionData)
        assert cli.model.hparams.channels == cli.datamodule.channels
        assert cli.datamodule.root is None


def test_cli_fit_then_test_scores_the_model_beside_the_data(runs_dir, one_thread):
    fit = run_cli("timeseries", ["fit", "--config", "plrnn/lorenz63", *TINY_CLI])
    run = fit.run_dir
    for name in ("config.yaml", "metrics.csv", "attractor.png", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    assert (run / "attractor.png").stat().st_size > 10_000
    columns = next(csv.reader((run / "metrics.csv").open()))
    assert {"train/loss", "val/dstsp", "val/dh", "val/pe20"} <= set(columns)

    cli = run_cli(
        "timeseries",
        ["test", "--config", "plrnn/lorenz63", *TINY_CLI, "--ckpt_path", str(run / "checkpoints/last.ckpt")],
    )
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    assert {"test/dstsp", "test/dh", "test/pe20", "test/dstsp_data", "test/dh_data", "test/pe20_repeat_last"} <= set(
        metrics
    )
    val, test = cli.datamodule.dataset("val").trajectories, cli.datamodule.dataset("test").trajectories
    # the reference numbers are the data's, computed by hand
    assert metrics["test/dstsp_data"] == pytest.approx(float(state_space_divergence(test[:, 1:], val[:, 1:])), rel=1e-5)
    repeat_last = float((test[:, 20:] - test[:, :-20]).square().mean())
    assert metrics["test/pe20_repeat_last"] == pytest.approx(repeat_last, rel=1e-5)


def test_ett_recipe_reads_the_data_root(dataset_root, runs_dir, one_thread):
    dataset_root("ett", "ETTh1.csv")
    cli = run_cli("timeseries", ["test", "--config", "plrnn/ett_ot", "--trainer.limit_test_batches", "1"])
    metrics = cli.trainer.callback_metrics
    assert cli.datamodule.dataset("test").trajectories.shape == (1, 2880, 3)
    assert {"test/dstsp", "test/dstsp_data", "test/pe20_repeat_last"} <= set(metrics)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data.dataset", "lorenz84"], "dataset must be one of lorenz63, lorenz96, ETTh1"),
        (["--data.seq_len", "500", "--data.train_len", "400"], "seq_len 500 is longer than the training trajectory"),
        (["--model.channels", "2"], "model.channels = 2 but the data has channels = 3"),
    ],
)
def test_bad_options_from_the_cli_are_one_line(runs_dir, capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        console_main("timeseries", ["fit", "--config", "plrnn/lorenz63", *args])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
