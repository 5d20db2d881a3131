"""Stuffed Mamba's state-collapse fixes: each exact where it should be, off by default, and through the engine."""

import math

import pytest
import torch

from recur_core.engine import quiet_trainer
from recur_core.engine.module import SequenceTask
from recur_core.layers import Mamba2, Retention
from recur_core.ops.linear_attn import linear_attn_step, naive_linear_attn
from recur_core.tasks import PasskeyData
from recur_core.techniques.state_collapse import (
    StateFix,
    StateFixCallback,
    StateFixed,
    apply_state_fix,
    fixed_linear_attn,
    head_state_norm,
)
from recur_core.testing import check_layer_contract

B, T, H, K, V = 2, 37, 3, 4, 5


def _inputs(seed: int = 0, decay: float = 0.05):
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(B, T, H, K, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(B, T, H, V, generator=gen, dtype=torch.float64)
    g = -decay * torch.rand(B, T, H, generator=gen, dtype=torch.float64)
    return q, k, v, g


def _layers():
    torch.manual_seed(0)
    return [Mamba2(16, d_state=8, num_heads=2), Retention(16, num_heads=2)]


@pytest.mark.parametrize("window", [1, 5, 16, 36])
def test_window_equals_recomputing_from_zero(window):
    q, k, v, g = _inputs()
    out, state = fixed_linear_attn(q, k, v, g, StateFix(window=window), chunk_size=8)
    for t in range(T):
        part = slice(max(0, t - window + 1), t + 1)
        ref, _ = naive_linear_attn(q[:, part], k[:, part], v[:, part], g[:, part])
        torch.testing.assert_close(out[:, t], ref[:, -1], rtol=1e-10, atol=1e-10)
    _, ref_state = naive_linear_attn(*(x[:, T - window :] for x in (q, k, v, g)))
    torch.testing.assert_close(state, ref_state, rtol=1e-10, atol=1e-10)


def test_normalisation_equals_token_loop():
    q, k, v, g = _inputs(1, decay=0.0)
    tau, every = 1.5, 6
    positions, lengths = torch.tensor([0, 4]), torch.tensor([T, 20])
    pad = torch.arange(T)[None, :] >= lengths[:, None]
    k, g = k.masked_fill(pad[..., None, None], 0.0), g.masked_fill(pad[..., None], 0.0)
    out, state = fixed_linear_attn(
        q, k, v, g, StateFix(state_norm=tau, every=every), chunk_size=4, positions=positions, lengths=lengths
    )
    s, ref = torch.zeros(B, H, K, V, dtype=torch.float64), []
    for t in range(T):
        o, s = linear_attn_step(q[:, t], k[:, t], v[:, t], g[:, t], s, K**-0.5)
        ref.append(o)
        for b in range(B):
            if t < lengths[b] and (positions[b] + t + 1) % every == 0:
                norms = head_state_norm(s[b : b + 1])[0]
                s[b] = s[b] * torch.where(norms > tau, tau / norms, 1.0)[:, None, None]
    torch.testing.assert_close(out, torch.stack(ref, 1), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(state, s, rtol=1e-10, atol=1e-10)
    assert head_state_norm(state)[1].max() <= tau * (1 + 1e-12)  # row 1 ends at position 4 + 20, a multiple of R


def test_scale_and_cap_equal_the_modified_recurrence():
    q, k, v, g = _inputs(2, decay=0.3)
    fix = StateFix(b_scale=0.7, max_decay=0.9)
    out, state = fixed_linear_attn(q, k, v, g, fix, chunk_size=8)
    ref, ref_state = naive_linear_attn(q, 0.7 * k, v, g.clamp(max=math.log(0.9)))
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(state, ref_state, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fix", [StateFix(), StateFix(window=T), StateFix(window=10 * T)], ids=["off", "r=T", "r>T"])
def test_fixes_off_equal_the_plain_layer(fix):
    for layer in _layers():
        x = torch.randn(B, T, 16)
        y, state = layer(x)
        y_fixed, (state_fixed, position) = StateFixed(layer, fix)(x)
        torch.testing.assert_close(y_fixed, y, rtol=0, atol=0)
        torch.testing.assert_close(state_fixed, state, rtol=0, atol=0)
        assert position.tolist() == [T] * B


def test_step_of_the_norm_fix_matches_forward():
    for layer in _layers():
        fixed = StateFixed(layer.double(), StateFix(state_norm=0.05, every=4, b_scale=0.8, max_decay=0.95))
        x = torch.randn(B, 13, 16, dtype=torch.float64)
        y, _ = fixed(x)
        state, ys = None, []
        for t in range(13):
            y_t, state = fixed.step(x[:, t], state)
            ys.append(y_t)
        torch.testing.assert_close(torch.stack(ys, 1), y)
        assert not torch.allclose(y, layer(x)[0]), "the fix should change the outputs at this τ"


@pytest.mark.parametrize("index", [0, 1], ids=["mamba2", "retention"])
def test_wrapper_honours_the_layer_contract(index):
    layer = _layers()[index]
    check_layer_contract(StateFixed(layer, StateFix(state_norm=0.05, every=3, b_scale=0.7, max_decay=0.9)))


def test_window_needs_whole_sequences():
    fixed = StateFixed(_layers()[0], StateFix(window=4))
    x = torch.randn(B, 8, 16)
    _, state = fixed(x)
    with pytest.raises(ValueError, match="state=None"):
        fixed(x, state=state)
    with pytest.raises(ValueError, match="no step"):
        fixed.step(x[:, 0])


def test_bad_options_and_layers():
    for bad in ({"state_norm": 0.0}, {"every": 0}, {"b_scale": -1.0}, {"max_decay": 1.5}, {"window": 0}):
        with pytest.raises(ValueError):
            StateFix(**bad)
    from recur_core.layers import GLA

    with pytest.raises(ValueError, match="scalar-decay"):
        StateFixed(GLA(16), StateFix())
    with pytest.raises(ValueError, match="no scalar-decay layer"), apply_state_fix(torch.nn.Linear(2, 2), StateFix()):
        pass


def test_apply_state_fix_wraps_and_restores():
    model = SequenceTask(layer="mamba2", d_model=16, vocab_size=20, num_classes=20, readout="token").net
    originals = [block.mixer for block in model.blocks]
    x = torch.randint(0, 20, (2, 30))
    with apply_state_fix(model, StateFix(state_norm=1e-3, every=8)) as wrappers:
        assert [w.layer for w in wrappers] == originals
        assert all(isinstance(block.mixer, StateFixed) for block in model.blocks)
        fixed = model(x)
    assert [block.mixer for block in model.blocks] == originals
    assert not torch.allclose(fixed, model(x))


def test_callback_fixes_the_test_run(one_thread, tmp_path):
    data = PasskeyData(
        key_digits=2, train_lengths=(8, 16), test_lengths=(40, 40), num_train=64, num_val=16, num_test=32, batch_size=16
    )
    torch.manual_seed(0)
    vocab = data.vocab_size
    module = SequenceTask(layer="mamba2", d_model=16, vocab_size=vocab, num_classes=vocab, readout="token")
    losses = {}
    for name, callbacks in (("plain", []), ("fixed", [StateFixCallback(state_norm=1e-4, every=4)])):
        trainer = quiet_trainer(max_steps=2, callbacks=callbacks, default_root_dir=tmp_path)
        if name == "plain":
            trainer.fit(module, datamodule=data)
        losses[name] = trainer.test(module, datamodule=data, verbose=False)[0]["test/loss"]
        assert not any(isinstance(block.mixer, StateFixed) for block in module.net.blocks)
    assert losses["fixed"] != pytest.approx(losses["plain"])
