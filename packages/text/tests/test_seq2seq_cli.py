"""Seq2seq through the CLI: the recipes instantiate; fit, resume from the last checkpoint, test with the baseline."""

import pytest

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_text.seq2seq_task import Seq2SeqModule, TranslationData

RECIPES = ("seq2seq/grammar", "seq2seq/copy_reverse")
TINY = [
    "--data.num_train", "48", "--data.num_val", "8", "--data.num_test", "8", "--data.batch_size", "16",
    "--model.model_kwargs", '{"layer": "gru", "d_model": 16, "n_layers": 1}', "--model.beam_size", "2",
    "--model.max_decode_len", "12",
]  # fmt: skip


def test_recipes_instantiate_and_open_with_their_command(runs_dir):
    recipes = list_recipes("text")
    for name in RECIPES:
        assert recipes[name].read_text().splitlines()[0] == f"# recur-text fit --config {name}"
        cli = run_cli("text", ["--config", name], run=False)
        assert isinstance(cli.model, Seq2SeqModule) and isinstance(cli.datamodule, TranslationData)


def test_fit_resume_then_test_prints_the_baseline(runs_dir):
    fit = run_cli("text", ["fit", "--config", "seq2seq/copy_reverse", *TINY, "--trainer.max_epochs", "1"])
    assert (fit.run_dir / "checkpoints" / "last.ckpt").is_file()
    resumed = run_cli(
        "text", ["fit", "--config", "seq2seq/copy_reverse", *TINY, "--trainer.max_epochs", "2", "--ckpt_path", "last"]
    )
    assert resumed.run_dir == fit.run_dir and resumed.trainer.current_epoch == 2
    last = fit.run_dir / "checkpoints" / "last.ckpt"
    cli = run_cli("text", ["test", "--config", "seq2seq/copy_reverse", *TINY, "--ckpt_path", str(last)])
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    assert {"test/bleu", "test/exact", "test/bleu_beam", "test/bleu_monotone", "test/exact_monotone"} <= set(metrics)
    # the monotone copy of a reversed sequence is right only for palindromes
    assert metrics["test/exact_monotone"] <= 0.25


def test_a_task_mismatch_and_bad_options_are_one_line_errors(runs_dir):
    with pytest.raises(ValueError, match="task must be 'grammar' or 'copy_reverse'"):
        TranslationData(task="poetry")
    with pytest.raises(ValueError, match="beam_size must be at least 1"):
        Seq2SeqModule(beam_size=0)
    cli = run_cli("text", ["--config", "seq2seq/grammar", "--model.src_vocab_size", "9"], run=False)
    cli.trainer.datamodule = cli.datamodule
    cli.model.trainer = cli.trainer
    with pytest.raises(ValueError, match=r"model.src_vocab_size = 9 but the data has src_vocab_size"):
        cli.model.setup("fit")
