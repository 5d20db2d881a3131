"""CLI runs of the TODM recipe: fit a tiny supernet, resume it exactly, test every subnet from the checkpoint;
one-line errors for subnets the supernet cannot hold."""

import json

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_speech.todm import TODMTask

TINY = [
    "--data.utterances",
    '{"train-clean-100": 12, "dev-clean": 4, "test-clean": 4}',
    "--data.batch_size",
    "4",
    "--model.model_kwargs",
    '{"d_model": 32, "n_layers": 2, "pred_dim": 32, "joiner_dim": 32}',
    "--model.widths",
    "[16, 32]",
    "--model.beam_size",
    "2",
]


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    # one generated corpus for every test of this module
    folder = tmp_path_factory.getbasetemp() / "speech-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def test_the_recipe_builds_a_todm_task():
    path = list_recipes("speech")["todm/espeak_digits"]
    assert path.read_text().splitlines()[0] == "# recur-speech fit --config todm/espeak_digits"
    options = yaml.safe_load(path.read_text())["model"]["init_args"]
    assert options["depths"][-1] == options["model_kwargs"]["n_layers"]
    assert options["widths"][-1] == options["model_kwargs"]["d_model"]


def test_fit_resume_exactly_then_test_every_subnet(runs_dir, cache, one_thread):
    fit = ["fit", "--config", "todm/espeak_digits", *TINY]
    whole = run_cli("speech", [*fit, "--trainer.max_epochs=2"])
    assert isinstance(whole.model, TODMTask)
    # stopped after 5 of 6 steps (3 batches per epoch), then resumed: the same subnet draws, the same weights
    first = run_cli("speech", [*fit, "--trainer.max_epochs=2", "--trainer.max_steps=5"])
    resumed = run_cli("speech", [*fit, "--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert resumed.run_dir == first.run_dir
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    checkpoint = whole.run_dir / "checkpoints" / "best.ckpt"
    test = ["test", "--config", "todm/espeak_digits", *TINY, "--ckpt_path", str(checkpoint)]
    tested = run_cli("speech", [*test, "--model.eval_subnets", "[[1, 16], [2, 32]]"])
    result = tested.trainer.callback_metrics
    for name in ("wer", "wer_beam", "wer_blank", "wer_frequent", "wer_d1_w16", "cer_d1_w16", "wer_d2_w32"):
        assert f"test/{name}" in result, name
    # the largest subnet is the supernet: the same greedy WER
    assert float(result["test/wer_d2_w32"]) == float(result["test/wer"])
    net = tested.model.net
    assert float(result["test/params_d1_w16"]) == net.parameter_count((1, 16)) < net.parameter_count((2, 32))
    rows = json.loads((tested.run_dir / "subnets_test.json").read_text())
    assert [(r["depth"], r["width"]) for r in rows] == [(1, 16), (2, 32)] and "wer" in rows[0]
    every = run_cli("speech", [*test, "--model.eval_subnets", "all"])
    assert sum(k.startswith("test/params_") for k in every.trainer.callback_metrics) == 4


def _one_line(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        console_main("speech", argv)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("recur-speech: error:") and "\n" not in message, message
    return message


def test_bad_subnets_are_one_line_errors(runs_dir, cache, capsys):
    fit = ["fit", "--config", "todm/espeak_digits", *TINY, "--trainer.max_epochs=1"]
    assert "include it (the largest subnet)" in _one_line(capsys, [*fit, "--model.widths", "[16, 48]"])
    message = _one_line(capsys, [*fit, "--model.layer", "lssl"])
    assert "'lssl' cannot slice in width" in message
    message = _one_line(capsys, ["test", "--config", "todm/espeak_digits", *TINY, "--model.eval_subnets", "[[3, 16]]"])
    assert "does not fit in the supernet" in message
