"""CLI runs of the QTN protein recipes: fit the embedded default, resume exactly from the last checkpoint, test
(the majority-class baseline and the parameter count beside the model), a user's FASTA, and one-line errors."""

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_text.protein_classification import ProteinData, ProteinTask

TINY = ["--data.num_sequences", "60", "--data.batch_size", "16"]
RECIPES = ("rnn_circuit", "tree_circuit", "lstm", "mps", "fasta")


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp() / "qtn-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def test_fit_resume_exactly_then_test_from_the_checkpoint(runs_dir, cache, one_thread, capsys):
    fit = ["fit", "--config", "qtn/rnn_circuit", *TINY, "--model.model_kwargs.block_layers", "2"]
    whole = run_cli("text", [*fit, "--trainer.max_epochs=2"])
    run = whole.run_dir
    assert isinstance(whole.model, ProteinTask) and isinstance(whole.datamodule, ProteinData)
    for name in ("config.yaml", "metrics.csv", "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    # 42 training records, 3 batches per epoch: stopped after 5 of 6 steps, resumed to the end
    first = run_cli("text", [*fit, "--trainer.max_epochs=2", "--trainer.max_steps=5"])
    resumed = run_cli("text", [*fit, "--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert resumed.run_dir == first.run_dir
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    best = str(run / "checkpoints" / "best.ckpt")
    tested = run_cli("text", ["test", *fit[1:], "--ckpt_path", best])
    result = tested.trainer.callback_metrics
    for name in ("acc", "f1", "auroc", "acc_majority", "params", "loss"):
        assert f"test/{name}" in result, name
    assert int(result["test/params"]) == 21 * 4 * 6 + 2 * 24 + 2
    printed = capsys.readouterr().out
    assert "test: qtn_chain (554 parameters) acc" in printed and "| majority class" in printed


def test_the_lstm_recipe_swaps_its_core_layer(runs_dir, cache, one_thread):
    cli = run_cli("text", ["fit", "--config", "qtn/lstm", *TINY, "--model.layer", "gru", "--trainer.max_epochs=1"])
    assert type(cli.model.net.encoder).__name__ == "GRU"
    assert "val/acc" in cli.trainer.callback_metrics


def test_a_fasta_under_the_data_root_with_header_labels(runs_dir, cache, one_thread, tmp_path, monkeypatch):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path))
    (tmp_path / "proteins").mkdir()
    records = [
        f">p{i} label={'membrane' if i % 3 == 0 else 'cytoplasm'}\n{'MKVLLA' * (2 + i % 4)}\n" for i in range(30)
    ]
    (tmp_path / "proteins" / "proteins.fasta").write_text("".join(records))
    cli = run_cli(
        "text", ["fit", "--config", "qtn/fasta", "--model.model_kwargs.block_layers", "1", "--trainer.max_epochs=1"]
    )
    assert cli.datamodule.records().classes == ("cytoplasm", "membrane") and len(cli.datamodule.records()) == 30


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_builds_and_names_its_command(runs_dir, name):
    path = list_recipes("text")[f"qtn/{name}"]
    assert path.read_text().splitlines()[0] == f"# recur-text fit --config qtn/{name}"
    config = yaml.safe_load(path.read_text())
    assert config["model"]["class_path"].endswith("ProteinTask")
    cli = run_cli("text", ["--config", f"qtn/{name}"], run=False)
    params = sum(p.numel() for p in cli.model.net.parameters())
    assert 700 <= params <= 900 and isinstance(cli.datamodule, ProteinData)


def test_bad_input_from_the_cli_is_one_line(runs_dir, cache, capsys, tmp_path):
    empty = tmp_path / "empty.fasta"
    empty.write_text(">a label=x\n\n>b label=y\nMK\n")
    cases = [
        (["--data.fasta", str(tmp_path / "none.fasta")], "does not exist"),
        (["--data.fasta", str(empty)], "record 1 (a): has no sequence"),
        (["--model.model", "qtn_chain", "--model.layer", "gru"], "does not take these arguments"),
        (["--data.unknown", "keep"], "unknown"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exited:
            console_main("text", ["fit", "--config", "qtn/rnn_circuit", *args])
        assert exited.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
