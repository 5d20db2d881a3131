"""The char LM through the CLI (recipe char_lm/stories), then the loop's local backend from its checkpoint."""

import json

import pytest

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_text import recurrent_gpt as rgp
from recur_text.char_lm_task import CharLMTask, StoryCharData
from recur_text.generators import LocalLMGenerator

TINY = [
    "--data.train_stories", "60", "--data.val_stories", "10", "--data.test_stories", "10", "--data.seq_len", "64",
    "--data.batch_size", "8", "--model.d_model", "16", "--model.n_layers", "1", "--model.layer", "gru",
]  # fmt: skip


def test_the_recipe_instantiates_and_opens_with_its_command(runs_dir):
    path = list_recipes("text")["char_lm/stories"]
    assert path.read_text().splitlines()[0] == "# recur-text fit --config char_lm/stories"
    cli = run_cli("text", ["--config", "char_lm/stories"], run=False)
    assert isinstance(cli.model, CharLMTask) and isinstance(cli.datamodule, StoryCharData)
    assert cli.model.hparams.layer == "deltanet"


def test_fit_test_and_generate_from_the_checkpoint(runs_dir, tmp_path, capsys):
    fit = run_cli("text", ["fit", "--config", "char_lm/stories", *TINY, "--trainer.max_steps", "4"])
    last = fit.run_dir / "checkpoints" / "last.ckpt"
    cli = run_cli("text", ["test", "--config", "char_lm/stories", *TINY, "--ckpt_path", str(last)])
    metrics = set(cli.trainer.callback_metrics)
    assert {"test/bpc", "test/bpc_unigram", "test/recall_acc_prior"} <= metrics
    generator = LocalLMGenerator.from_checkpoint(last, paragraph_chars=30, plan_chars=10)
    assert generator.model.net.config.layer == "gru"
    state = tmp_path / "story"
    argv = ["generate", "--state", str(state), "--backend", "local", "--checkpoint", str(last)]
    assert rgp.main([*argv, "--premise", "Mia's day.", "--plan", "Mia has a red kite.", "--steps", "2"]) == 0
    assert json.loads((state / "state.json").read_text())["paragraphs"][0].startswith("Mia has a red kite.")
    bad = tmp_path / "not.ckpt"
    bad.write_text("nope")
    assert rgp.main([*argv[:-1], str(bad), "--steps", "1"]) == 2
    assert "not a recur checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("option, message", [("seq_len", "seq_len must be at least 2")])
def test_bad_data_options_are_one_line(option, message):
    with pytest.raises(ValueError, match=message):
        StoryCharData(**{option: 1})
