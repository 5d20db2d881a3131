"""Gradual magnitude pruning: both schedules by hand, the parameter selection, the masks through the engine and
across a checkpoint resume."""

import itertools

import lightning as L
import pytest
import torch
from torch import nn

from recur_core.engine import quiet_trainer
from recur_core.engine.module import SequenceTask
from recur_core.tasks import ReberData
from recur_core.techniques.pruning import (
    CubicPruning,
    NarangPruning,
    attach_masks,
    cubic_sparsity,
    format_sparsity_report,
    magnitude_mask,
    narang_slopes,
    narang_threshold,
    prunable_parameters,
    sparsity_report,
)

LSTM_WEIGHTS = ["net.blocks.0.mixer.rnn.weight_ih_l0", "net.blocks.0.mixer.rnn.weight_hh_l0"]


def test_narang_threshold_by_hand():
    start, ramp, end, freq, q = 100, 300, 500, 10, 0.8
    theta, phi = narang_slopes(q, start, ramp, end, freq)
    assert theta == pytest.approx(2 * q * freq / (2 * 200 + 3 * 200))
    assert phi == pytest.approx(1.5 * theta)
    assert narang_threshold(150, start, ramp, end, freq, theta, phi) == pytest.approx(theta * 51 / freq)
    assert narang_threshold(400, start, ramp, end, freq, theta, phi) == pytest.approx((theta * 201 + phi * 101) / freq)
    # the ramp lands on q at the end: the 90th percentile heuristic aims at ~90% sparsity
    assert narang_threshold(490, start, ramp, end, freq, theta, phi) == pytest.approx(q, rel=0.03)
    for off in (100, 155, 500, 510, 50):
        assert narang_threshold(off, start, ramp, end, freq, theta, phi) is None
    with pytest.raises(ValueError, match="start_itr < ramp_itr < end_itr"):
        NarangPruning(10, 5, 20)


def test_cubic_schedule_by_hand():
    s = [cubic_sparsity(t, 0.9, 0.1, 20, 4, 5) for t in range(20, 41, 5)]
    assert s[0] == pytest.approx(0.1) and s[-1] == pytest.approx(0.9)
    assert s[2] == pytest.approx(0.9 - 0.8 * 0.5**3)
    assert all(a < b for a, b in itertools.pairwise(s))
    assert cubic_sparsity(22, 0.9, 0.1, 20, 4, 5) is None
    assert cubic_sparsity(45, 0.9, 0.1, 20, 4, 5) is None
    assert cubic_sparsity(15, 0.9, 0.1, 20, 4, 5) is None


def test_magnitude_mask_counts_and_ties():
    w = torch.tensor([[0.5, -0.1, 0.0], [0.0, 2.0, -0.3]])
    mask = magnitude_mask(w, 0.5)
    assert mask.tolist() == [[True, False, False], [False, True, True]]
    assert int(magnitude_mask(torch.ones(10, 10), 0.37).sum()) == 63


def _module(d_model=16):
    return SequenceTask("lstm", d_model=d_model, n_layers=1, vocab_size=8, num_classes=8, readout="token", lr=3e-3)


def test_default_selection_is_recurrent_weights():
    module = _module()
    assert list(prunable_parameters(module)) == LSTM_WEIGHTS
    everything = prunable_parameters(module, module_types=None)
    assert "net.stem.weight" in everything and "net.head.weight" in everything
    assert list(prunable_parameters(module, patterns=["weight_hh"])) == LSTM_WEIGHTS[1:]


def _trainer(callbacks, steps, tmp_path):
    return quiet_trainer(
        max_steps=steps,
        callbacks=callbacks,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )


def _data():
    return ReberData((9, 12), (9, 12), num_train=256, num_val=16, num_test=16, batch_size=16)


def test_cubic_reaches_target_through_engine(tmp_path, one_thread, capsys):
    L.seed_everything(0)
    module = _module()
    pruning = CubicPruning(0.9, start_step=2, num_updates=3, every=2)
    _trainer([pruning], 10, tmp_path).fit(module, datamodule=_data())
    rows = {r["name"]: r for r in sparsity_report(module)}
    for name in LSTM_WEIGHTS:
        assert rows[name]["nonzeros"] == round(0.1 * rows[name]["shape"][0] * rows[name]["shape"][1])
    assert rows["net.stem.weight"]["sparsity"] == 0.0
    printed = capsys.readouterr().out
    assert "weight_hh_l0" in printed and "90.0%" in printed


def test_narang_prunes_monotonically_through_engine(tmp_path, one_thread):
    L.seed_everything(0)
    module = _module()

    class Watch(L.Callback):
        def __init__(self):
            self.kept = []

        def on_train_batch_end(self, trainer, pl_module, *args):
            self.kept.append(sum(int(m.sum()) for _, m in pruning.masks.values()))
            for param, mask in pruning.masks.values():
                assert not param[~mask].any()

    pruning = NarangPruning(start_itr=1, ramp_itr=6, end_itr=11, freq=1)
    watch = Watch()
    _trainer([pruning, watch], 12, tmp_path).fit(module, datamodule=_data())
    assert all(a >= b for a, b in itertools.pairwise(watch.kept))
    total = sum(m.numel() for _, m in pruning.masks.values())
    assert 0.5 < 1 - watch.kept[-1] / total < 0.99
    assert set(pruning.slopes) == set(LSTM_WEIGHTS)


def test_masks_survive_checkpoint_resume(tmp_path, one_thread):
    L.seed_everything(0)
    first = _module()
    trainer = _trainer([CubicPruning(0.8, start_step=2, num_updates=4, every=2)], 6, tmp_path)
    trainer.fit(first, datamodule=_data())
    ckpt = tmp_path / "mid.ckpt"
    trainer.save_checkpoint(ckpt)
    saved = {name: mask.clone() for name, (_, mask) in trainer.callbacks[0].masks.items()}
    assert 0.0 < 1 - sum(int(m.sum()) for m in saved.values()) / sum(m.numel() for m in saved.values()) < 0.8

    class Check(L.Callback):
        def on_train_start(self, trainer, pl_module):
            for name, (param, mask) in resumed.masks.items():
                torch.testing.assert_close(mask, saved[name], rtol=0, atol=0)
                assert not param[~mask].any()
            self.checked = True

    resumed, check = CubicPruning(0.8, start_step=2, num_updates=4, every=2), Check()
    second = _module()
    _trainer([resumed, check], 12, tmp_path).fit(second, datamodule=_data(), ckpt_path=ckpt)
    assert check.checked
    for name, (param, mask) in resumed.masks.items():
        assert not (mask & ~saved[name]).any()  # pruned weights stay pruned
        assert not param[~mask].any()
        assert int(mask.sum()) == round(0.2 * mask.numel())
    assert "blocks.0.mixer.rnn.weight_hh_l0_mask" in second.net.state_dict()


def test_attach_masks_loads_a_pruned_state_dict():
    source = nn.Linear(4, 3)
    masks = attach_masks(source, ["weight"])
    masks["weight"][1][0] = False
    target = nn.Linear(4, 3)
    attach_masks(target, ["weight"])
    target.load_state_dict(source.state_dict())
    assert target.weight_mask.tolist() == source.weight_mask.tolist()
    with pytest.raises(ValueError, match="not a parameter"):
        attach_masks(source, ["weight_mask"])


def test_sparsity_report_rows():
    layer = nn.Linear(4, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0]]))
    rows = sparsity_report(layer)
    assert rows[0] == {"name": "weight", "shape": (2, 4), "nonzeros": 3, "sparsity": 0.625}
    assert "total" in format_sparsity_report(rows)


def test_no_parameter_selected_is_an_error(tmp_path):
    module = _module()
    with pytest.raises(ValueError, match="no parameter to prune"):
        CubicPruning(0.5, patterns=["nothing_matches"]).setup(None, module, "fit")


def test_recipe_callbacks_through_run_cli(runs_dir, tmp_path, one_thread):
    from recur_core.engine import run_cli

    extra = tmp_path / "pruned.yaml"
    extra.write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: recur_core.techniques.CubicPruning\n"
        "      init_args: {final_sparsity: 0.75, start_step: 1, num_updates: 2, every: 1, report: false}\n"
        "    - class_path: recur_core.techniques.GradientNoise\n"
        "      init_args: {eta: 0.01}\n"
    )
    args = ["fit", "--config", "reber/lstm", "--config", str(extra), "--trainer.max_steps=4"]
    args += ["--data.num_train=64", "--data.num_val=16", "--data.num_test=16", "--data.test_lengths=[9, 12]"]
    cli = run_cli("core", args)
    for name in LSTM_WEIGHTS:
        row = next(r for r in sparsity_report(cli.model) if r["name"] == name)
        assert row["sparsity"] == pytest.approx(0.75, abs=1e-3)
    assert "net.blocks.0.mixer.rnn.weight_hh_l0_mask" in cli.model.state_dict()
