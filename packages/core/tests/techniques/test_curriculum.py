"""Curricula: lag targets vs the task generators, the summed multi-head loss by hand, N growth through the engine."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from recur_core.engine import quiet_trainer
from recur_core.engine.module import SequenceTask
from recur_core.tasks import NDMSData, NParityData
from recur_core.tasks.n_dms import generate_n_dms
from recur_core.tasks.n_parity import generate_n_parity
from recur_core.techniques.curriculum import Curriculum, MultiHeadLagTask, lag_targets


@pytest.mark.parametrize(("kind", "generate"), [("n_parity", generate_n_parity), ("n_dms", generate_n_dms)])
def test_lag_targets_match_the_generators(kind, generate):
    for n in (1, 2, 5):
        data = generate(8, n, (10, 20), torch.Generator().manual_seed(n))
        targets = lag_targets(data.inputs.long(), kind, 6)
        torch.testing.assert_close(targets[..., n - 1], data.targets.long())


def test_lag_targets_by_hand():
    inputs = torch.tensor([[2, 1, 2, 2, 0]])  # bits 1 0 1 1, then padding
    parity = lag_targets(inputs, "n_parity", 2)
    assert parity[0, :, 0].tolist() == [-100, 0, 1, 1, -100]
    assert parity[0, :, 1].tolist() == [-100, -100, 1, 0, -100]
    dms = lag_targets(inputs, "n_dms", 2)
    assert dms[0, :, 1].tolist() == [-100, -100, 1, 0, -100]
    with pytest.raises(ValueError, match="kind"):
        lag_targets(inputs, "parity", 2)


def test_multi_head_loss_is_the_sum_of_head_losses():
    torch.manual_seed(0)
    task = MultiHeadLagTask("n_parity", n=3, max_n=5, d_model=8)
    task.log = lambda *args, **kwargs: None
    batch = generate_n_parity(4, 1, (8, 12), torch.Generator().manual_seed(0))
    batch = {"inputs": batch.inputs.long(), "lengths": batch.lengths}
    loss = task._step(batch, "train")
    logits = task(batch["inputs"], batch["lengths"])
    targets = lag_targets(batch["inputs"], "n_parity", 3)
    expected = sum(
        F.cross_entropy(logits[..., 2 * k : 2 * k + 2].reshape(-1, 2), targets[..., k].reshape(-1)) for k in range(3)
    )
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match="max_n"):
        task.set_n(6)


def _trainer(callback, tmp_path, epochs):
    return quiet_trainer(
        max_epochs=epochs,
        callbacks=[callback],
        reload_dataloaders_every_n_epochs=1,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )


def test_curriculum_advances_single_head_through_the_engine(tmp_path, one_thread):
    L.seed_everything(0)
    data = NParityData(1, (12, 16), (12, 16), num_train=32, num_val=16, num_test=16, batch_size=16)
    module = SequenceTask("leaky_rnn", d_model=8, n_layers=1, vocab_size=3, num_classes=2, readout="token")
    # threshold 0: every validation advances N, so the data must reach N = 1 + epochs
    curriculum = Curriculum(threshold=0.0, max_n=3, reset_head=True)
    _trainer(curriculum, tmp_path, 3).fit(module, datamodule=data)
    assert data.n == 3
    assert [n for _, _, n in curriculum.history] == [2, 3]


def test_curriculum_advances_multi_head_and_holds_below_threshold(tmp_path, one_thread):
    L.seed_everything(0)
    data = NDMSData(1, (12, 16), (12, 16), num_train=32, num_val=16, num_test=16, batch_size=16)
    module = MultiHeadLagTask("n_dms", n=1, max_n=4, d_model=8)
    _trainer(Curriculum(threshold=0.0, max_n=4), tmp_path, 2).fit(module, datamodule=data)
    assert data.n == module.n == 3
    held = NDMSData(1, (12, 16), (12, 16), num_train=32, num_val=16, num_test=16, batch_size=16)
    _trainer(Curriculum(threshold=1.01, max_n=4), tmp_path, 2).fit(
        MultiHeadLagTask("n_dms", max_n=4, d_model=8), datamodule=held
    )
    assert held.n == 1


def test_curriculum_needs_dataloader_reload(tmp_path):
    data = NParityData(1, (12, 16), (12, 16), num_train=16, num_val=16, num_test=16, batch_size=16)
    module = SequenceTask("leaky_rnn", d_model=8, n_layers=1, vocab_size=3, num_classes=2, readout="token")
    trainer = quiet_trainer(max_epochs=1, callbacks=[Curriculum()])
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs"):
        trainer.fit(module, datamodule=data)


def test_recipe_through_run_cli(runs_dir, tmp_path, one_thread):
    from recur_core.engine import run_cli

    # threshold 0: each of the two epochs advances N once
    extra = tmp_path / "advance.yaml"
    extra.write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: recur_core.techniques.Curriculum\n"
        "      init_args: {threshold: 0.0, max_n: 24}\n"
    )
    args = ["fit", "--config", "n_parity/leaky_rnn_multihead", "--config", str(extra), "--trainer.max_steps=4"]
    args += ["--model.d_model=8", "--data.num_train=32", "--data.num_val=16", "--data.num_test=16"]
    args += ["--data.batch_size=16"]
    cli = run_cli("core", args)
    assert isinstance(cli.model, MultiHeadLagTask)
    assert cli.datamodule.n == cli.model.n == 3
