"""Gradient noise: the variance schedule, the noise statistics, and the exact noise added through the engine."""

import math

import lightning as L
import pytest
import torch
from torch import nn

from recur_core.engine import quiet_trainer
from recur_core.engine.module import SequenceTask
from recur_core.tasks import ReberData
from recur_core.techniques.gradient_noise import GradientNoise, add_gradient_noise, noise_std


def test_schedule_by_hand():
    assert noise_std(0, 0.3) == pytest.approx(math.sqrt(0.3))
    assert noise_std(9, 1.0, 0.55) == pytest.approx(10**-0.275)
    assert noise_std(99, 0.01, 0.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="eta"):
        GradientNoise(eta=-1.0)
    with pytest.raises(ValueError, match="step"):
        noise_std(-1, 0.1)


def test_noise_statistics_and_seed():
    p = nn.Parameter(torch.zeros(200_000, dtype=torch.float64))
    p.grad = torch.zeros_like(p)
    std = add_gradient_noise([p], step=20, eta=0.3, generator=torch.Generator().manual_seed(1))
    assert std == pytest.approx(math.sqrt(0.3 / 21**0.55))
    assert float(p.grad.mean()) == pytest.approx(0.0, abs=5 * std / math.sqrt(p.numel()))
    assert float(p.grad.std()) == pytest.approx(std, rel=0.01)
    again = nn.Parameter(torch.zeros_like(p))
    again.grad = torch.zeros_like(p)
    add_gradient_noise([again], step=20, eta=0.3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(again.grad, p.grad, rtol=0, atol=0)
    frozen = nn.Parameter(torch.zeros(3))
    add_gradient_noise([frozen], step=0, eta=1.0)
    assert frozen.grad is None


class _RecordGrads(L.Callback):
    def __init__(self):
        self.grads = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.grads.append([p.grad.detach().clone() for p in params])


def _fit(callbacks, steps, tmp_path, num_train=64, ckpt_path=None):
    L.seed_everything(0)
    data = ReberData((9, 12), (9, 12), num_train=num_train, num_val=16, num_test=16, batch_size=16)
    # lr = 0: the weights stay put, so the clean gradients of both runs are the same
    module = SequenceTask("lstm", d_model=8, n_layers=1, vocab_size=8, num_classes=8, readout="token", lr=0.0)
    trainer = quiet_trainer(
        max_steps=steps,
        callbacks=callbacks,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    return trainer


def test_engine_adds_exactly_the_seeded_noise(tmp_path, one_thread):
    eta, gamma, seed, steps = 0.2, 0.55, 3, 3
    clean, noisy = _RecordGrads(), _RecordGrads()
    _fit([clean], steps, tmp_path)
    _fit([GradientNoise(eta, gamma, seed), noisy], steps, tmp_path)
    gen = torch.Generator().manual_seed(seed)
    for t in range(steps):
        std = noise_std(t, eta, gamma)
        for g_clean, g_noisy in zip(clean.grads[t], noisy.grads[t]):
            expected = g_clean + std * torch.randn(g_clean.shape, generator=gen, dtype=g_clean.dtype)
            torch.testing.assert_close(g_noisy, expected, rtol=1e-5, atol=1e-6)


def test_generator_state_round_trip():
    callback = GradientNoise(eta=1.0, seed=5)
    first = callback._generator(torch.device("cpu"))
    first.manual_seed(5)
    torch.randn(4, generator=first)
    restored = GradientNoise(eta=1.0, seed=5)
    restored.load_state_dict(callback.state_dict())
    torch.testing.assert_close(
        torch.randn(4, generator=restored._generator(torch.device("cpu"))), torch.randn(4, generator=first)
    )


def test_resumed_run_draws_the_same_noise(tmp_path, one_thread):
    """A run stopped after 2 steps and resumed from its checkpoint adds the noise of an uninterrupted one."""
    # one batch per epoch (16 sequences) and lr = 0: every step sees the same clean gradient
    whole = _RecordGrads()
    _fit([GradientNoise(0.2, seed=3), whole], 4, tmp_path, num_train=16)
    first = _fit([GradientNoise(0.2, seed=3)], 2, tmp_path, num_train=16)
    first.save_checkpoint(tmp_path / "half.ckpt")
    resumed = _RecordGrads()
    _fit([GradientNoise(0.2, seed=3), resumed], 4, tmp_path, num_train=16, ckpt_path=tmp_path / "half.ckpt")
    assert len(resumed.grads) == 2
    for want, got in zip(whole.grads[2:], resumed.grads):
        for g_want, g_got in zip(want, got):
            torch.testing.assert_close(g_got, g_want, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(whole.grads[2][0], whole.grads[3][0])
