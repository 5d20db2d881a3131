"""Hypernetworks for continual learning: weight layout, regulariser, LSTM chunk dependency, growth,
the continual trainer, and a fit through Lightning."""

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from recur_core.techniques.hypernetwork import (
    ContinualHyperNet,
    FunctionalTarget,
    HyperCLTask,
    LSTMHyperNetwork,
    MLPHyperNetwork,
    output_regularizer,
    train_continual,
)


def _target():
    return FunctionalTarget(nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)))


@pytest.mark.parametrize("kind", [MLPHyperNetwork, LSTMHyperNetwork])
def test_generated_weights_match_target(kind):
    torch.manual_seed(0)
    target = _target()
    assert target.num_weights == 5 * 7 + 7 + 7 * 3 + 3
    hnet = kind(target.num_weights, task_dim=4, chunk_dim=3, chunk_size=16)
    assert hnet.num_chunks == 5
    w = hnet(torch.randn(2, 4))
    assert w.shape == (2, target.num_weights)
    params = target.unflatten(w[0])
    assert {n: tuple(p.shape) for n, p in params.items()} == {
        n: tuple(p.shape) for n, p in target.template.named_parameters()
    }
    # the functional call is the template with those weights
    x = torch.randn(6, 5)
    expected = torch.relu(x @ params["0.weight"].T + params["0.bias"]) @ params["2.weight"].T + params["2.bias"]
    torch.testing.assert_close(target(w[0], x), expected)
    with pytest.raises(ValueError, match="shape"):
        target.unflatten(w[0, :-1])
    with pytest.raises(ValueError, match="task embeddings"):
        hnet(torch.randn(2, 5))


def test_regularizer_by_hand_zero_after_snapshot_positive_after_update():
    cur, snap = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    assert float(output_regularizer(cur, snap, beta=0.5)) == pytest.approx(0.5 * (1 + 9) / 2)
    torch.manual_seed(0)
    target = _target()
    net = ContinualHyperNet(LSTMHyperNetwork(target.num_weights, task_dim=4, chunk_size=16), target, beta=0.1)
    net.add_task()
    assert float(net.regularizer().detach()) == 0.0  # nothing snapshotted yet
    net.snapshot()
    net.add_task()
    assert float(net.regularizer().detach()) == pytest.approx(0.0, abs=1e-10)  # same weights up to rounding
    with torch.no_grad():
        net.hnet.head.bias.add_(0.1)
    assert float(net.regularizer().detach()) > 1e-6


def test_lstm_later_chunks_depend_on_earlier_chunk_inputs_mlp_chunks_do_not():
    torch.manual_seed(0)
    e = torch.randn(1, 4)
    for kind, depends in ((LSTMHyperNetwork, True), (MLPHyperNetwork, False)):
        hnet = kind(64, task_dim=4, chunk_dim=3, chunk_size=16)
        before = hnet(e).detach()
        with torch.no_grad():
            hnet.chunk_embeddings[0].add_(1.0)
        after = hnet(e).detach()
        assert not torch.allclose(before[:, :16], after[:, :16])
        assert (not torch.allclose(before[:, 16:], after[:, 16:])) == depends


def test_growth_keeps_old_outputs_and_freezes_old_embeddings():
    torch.manual_seed(0)
    target = _target()
    net = ContinualHyperNet(MLPHyperNetwork(target.num_weights, task_dim=4, chunk_size=16), target)
    net.add_task()
    net.add_task()
    old = net.weights([0, 1]).detach()
    assert net.add_task() == 2
    assert net.num_tasks == 3
    torch.testing.assert_close(net.weights([0, 1]), old)
    assert [e.requires_grad for e in net.embeddings] == [False, False, True]
    with pytest.raises(ValueError, match="add_task"):
        net.weights([3])


def _two_tasks():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    return [(x, (x[:, 0] > 0).long()), (x, (x[:, 1] > 0).long() * 2)]


def test_train_continual_regularizer_keeps_the_first_task(one_thread):
    torch.manual_seed(0)
    target = _target()
    net = ContinualHyperNet(LSTMHyperNetwork(target.num_weights, task_dim=4, chunk_size=16), target, beta=1.0)
    tasks = _two_tasks()
    seen = {}

    def check(t):
        with torch.no_grad():
            seen[t] = net.weights([0]).clone()

    train_continual(net, tasks, steps=150, lr=1e-2, after_task=check)
    with torch.no_grad():
        acc = [float((net(t, x).argmax(-1) == y).float().mean()) for t, (x, y) in enumerate(tasks)]
    assert min(acc) > 0.9
    drift = (seen[1] - seen[0]).pow(2).sum() / seen[0].pow(2).sum()
    assert float(drift) < 0.05


def test_fit_through_lightning(tmp_path, one_thread):
    torch.manual_seed(0)
    target = _target()
    net = ContinualHyperNet(MLPHyperNetwork(target.num_weights, task_dim=4, chunk_size=16), target, beta=1.0)
    tasks = _two_tasks()
    module = HyperCLTask(net, lr=1e-2)

    def loader(x, y):
        return DataLoader([{"inputs": a, "targets": b} for a, b in zip(x, y, strict=True)], batch_size=32)

    kwargs = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    with pytest.raises(ValueError, match="add_task"):
        L.Trainer(max_steps=1, default_root_dir=tmp_path, **kwargs).fit(module, loader(*tasks[0]))
    for t, (x, y) in enumerate(tasks):
        net.snapshot()
        net.add_task()
        before = net.weights(range(t)).detach().clone()
        trainer = L.Trainer(max_steps=60, default_root_dir=tmp_path, **kwargs)
        trainer.fit(module, loader(x, y), loader(x, y))
        assert trainer.global_step == 60
        assert float(trainer.callback_metrics["val/acc"]) > 0.85
        if t > 0:
            assert not torch.equal(net.weights(range(t)).detach(), before)  # θ moved, the regulariser acted
            assert float(trainer.callback_metrics["train/reg"]) > 0.0
