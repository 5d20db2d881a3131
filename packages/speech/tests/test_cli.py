"""CLI runs of recur-speech: fit a recipe on a tiny generated corpus, resume it exactly, test from its checkpoint;
the real LibriSpeech sample; one-line errors for bad audio and transcripts."""

import csv
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_core.registry import installed_members
from recur_speech.data.vocab import output_tokens, vocabulary_from_state
from recur_speech.task import RNNTTask

TINY = [
    "--data.utterances",
    '{"train-clean-100": 12, "dev-clean": 4, "test-clean": 4}',
    "--data.batch_size",
    "4",
    "--model.model_kwargs",
    '{"d_model": 32, "n_layers": 1, "pred_dim": 32, "joiner_dim": 32}',
    "--model.beam_size",
    "2",
]


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    # one generated corpus for every test of this module
    folder = tmp_path_factory.getbasetemp() / "speech-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def test_console_script_and_member_are_wired(monkeypatch, capsys):
    [script] = entry_points(group="console_scripts", name="recur-speech")
    assert script.value == "recur_speech.cli:main"
    assert installed_members()["speech"] == "recur_speech"
    monkeypatch.setattr(sys, "argv", ["recur-speech", "--help"])
    with pytest.raises(SystemExit) as exited:
        script.load()()
    assert exited.value.code == 0 and "{fit,validate,test,predict}" in capsys.readouterr().out


def test_fit_resume_exactly_then_test_from_the_checkpoint(runs_dir, cache, one_thread):
    fit = ["fit", "--config", "rnnt/espeak_digits", *TINY]
    whole = run_cli("speech", [*fit, "--trainer.max_epochs=2"])
    run = whole.run_dir
    for name in ("config.yaml", "metrics.csv", "global_stats.json", "vocabulary.json", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    # stopped after 5 of 6 steps (3 batches per epoch), then resumed to the end: the same weights
    first = run_cli("speech", [*fit, "--trainer.max_epochs=2", "--trainer.max_steps=5"])
    resumed = run_cli("speech", [*fit, "--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert resumed.run_dir == first.run_dir
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    checkpoint = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert checkpoint["vocabulary"]["kind"] == "char" and checkpoint["frequent_transcript"]
    tested = run_cli(
        "speech",
        ["test", "--config", "rnnt/espeak_digits", *TINY, "--ckpt_path", str(run / "checkpoints" / "best.ckpt")],
    )
    result = tested.trainer.callback_metrics
    for name in ("wer", "cer", "wer_beam", "cer_beam", "wer_blank", "wer_frequent", "cer_frequent"):
        assert f"test/{name}" in result, name
    # the blank decoder deletes every word: computed, and 1 by construction
    assert float(result["test/wer_blank"]) == 1.0 and float(result["test/cer_blank"]) == 1.0
    rows = json.loads((tested.run_dir / "transcripts_test.json").read_text())
    assert len(rows) == 4 and {"id", "reference", "greedy", "beam"} <= set(rows[0])
    # the checkpoint rebuilds the model and its vocabulary on its own
    restored = RNNTTask.load_from_checkpoint(run / "checkpoints" / "best.ckpt")
    assert restored.vocabulary.symbols == checkpoint["vocabulary"]["symbols"]


@pytest.mark.parametrize("name", sorted(n for n in list_recipes("speech") if n.startswith("rnnt/")))
def test_every_recipe_builds_and_names_its_data(name, runs_dir):
    path = list_recipes("speech")[name]
    assert path.read_text().splitlines()[0] == f"# recur-speech fit --config {name}"
    cli = run_cli("speech", ["--config", name], run=False)
    assert isinstance(cli.model, RNNTTask)
    options = yaml.safe_load(path.read_text())["data"]["init_args"]
    assert cli.datamodule.dataset_name == options["dataset"]


def test_the_real_librispeech_sample_is_fitted_and_scored(runs_dir, dataset_root, one_thread):
    dataset_root("librispeech-sample")
    args = ["--config", "rnnt/librispeech_sample", "--trainer.max_epochs=2", "--trainer.check_val_every_n_epoch=1"]
    args += ["--model.model_kwargs", '{"d_model": 32, "n_layers": 1, "pred_dim": 32, "joiner_dim": 32}']
    fit = run_cli("speech", ["fit", *args])
    assert len(fit.datamodule.dataset("test")) == 4
    tested = run_cli("speech", ["test", *args, "--ckpt_path", str(fit.run_dir / "checkpoints" / "last.ckpt")])
    wer = float(tested.trainer.callback_metrics["test/wer"])
    assert wer >= 0.0 and float(tested.trainer.callback_metrics["test/wer_blank"]) == 1.0
    rows = json.loads((tested.run_dir / "transcripts_test.json").read_text())
    assert rows[0]["id"].startswith("1089-") and len(rows[0]["reference"].split()) > 3


def test_an_espeak_checkpoint_is_fine_tuned_on_the_real_librispeech_sample(runs_dir, cache, dataset_root, one_thread):
    dataset_root("librispeech-sample")
    espeak = run_cli("speech", ["fit", "--config", "rnnt/espeak_digits", *TINY, "--trainer.max_epochs=1"])
    source = torch.load(espeak.run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    # lr 0: the fine-tune's weights stay what init_from gave them
    args = ["--config", "rnnt/librispeech_sample", "--trainer.max_epochs=1", "--trainer.check_val_every_n_epoch=1"]
    args += [*TINY[4:6], "--model.lr", "0", "--model.init_from", str(espeak.run_dir / "checkpoints" / "last.ckpt")]
    tuned = run_cli("speech", ["fit", *args]).model
    old_tokens = output_tokens(vocabulary_from_state(source["vocabulary"]))
    tokens = output_tokens(tuned.vocabulary)
    assert tokens[-1] == old_tokens[-1] == "<blank>" and set(tokens) != set(old_tokens)
    for name, value in tuned.net.state_dict().items():
        old = source["state_dict"][f"net.{name}"]
        if name in tuned.net.vocabulary_parameters:
            for i, token in enumerate(tokens):
                if token in old_tokens:
                    torch.testing.assert_close(value[i], old[old_tokens.index(token)], rtol=0, atol=0)
        elif "num_batches_tracked" not in name:
            torch.testing.assert_close(value, old, rtol=0, atol=0, msg=name)


def test_init_from_a_checkpoint_of_another_model_size_is_one_line(runs_dir, cache, capsys, tmp_path):
    espeak = run_cli("speech", ["fit", "--config", "rnnt/espeak_digits", *TINY, "--trainer.max_epochs=1"])
    fit = ["fit", "--config", "rnnt/espeak_digits", *TINY, "--trainer.max_epochs=1"]
    wider = ["--model.model_kwargs", '{"d_model": 48, "n_layers": 1, "pred_dim": 32, "joiner_dim": 32}']
    message = _one_line(capsys, [*fit, *wider, "--model.init_from", str(espeak.run_dir / "checkpoints" / "last.ckpt")])
    assert "--model.init_from" in message and "fine-tune with the checkpoint's model options" in message
    message = _one_line(capsys, [*fit, "--model.init_from", str(tmp_path / "none.ckpt")])
    assert "--model.init_from" in message and "no such file" in message


def _one_line(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        console_main("speech", argv)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("recur-speech: error:") and "\n" not in message, message
    return message


@pytest.fixture
def sample_copy(tmp_path, monkeypatch, dataset_root):
    """A writable copy of the LibriSpeech sample as the data root."""
    source = dataset_root("librispeech-sample")
    shutil.copytree(source, tmp_path / "data" / "librispeech-sample")
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "data"))
    return tmp_path / "data" / "librispeech-sample" / "LibriSpeech" / "test-clean" / "1089" / "134686"


def test_bad_audio_and_transcripts_are_one_line_errors(runs_dir, sample_copy, capsys):
    fit = ["fit", "--config", "rnnt/librispeech_sample", "--trainer.max_epochs=1"]
    flac = sample_copy / "1089-134686-0001.flac"
    flac.write_bytes(b"")
    assert "1089-134686-0001.flac: empty audio file (0 bytes)" in _one_line(capsys, fit)
    flac.write_bytes(b"not audio at all" * 100)
    assert "1089-134686-0001.flac: cannot read the audio" in _one_line(capsys, fit)
    transcripts = sample_copy / "1089-134686.trans.txt"
    transcripts.write_text("HE HOPED THERE WOULD BE STEW FOR DINNER\n")
    message = _one_line(capsys, fit)
    assert "1089-134686.trans.txt, line 1" in message and "has no utterance id" in message


def test_a_missing_dataset_says_how_to_get_it(runs_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty"))
    message = _one_line(capsys, ["fit", "--config", "rnnt/librispeech_sample"])
    assert "librispeech-sample" in message and "not found" in message


def test_two_ddp_processes_test_what_one_process_tests(runs_dir, cache, one_thread):
    # each process scores every other length-sorted batch; WER/CER are computed on the gathered transcripts
    run_cli("speech", ["fit", "--config", "rnnt/espeak_digits", *TINY, "--trainer.max_epochs=1"])
    (run,) = (runs_dir / "speech" / "rnnt" / "espeak_digits").iterdir()
    test = ["test", "--config", "rnnt/espeak_digits", *TINY, "--data.batch_size", "2"]
    test += ["--ckpt_path", str(run / "checkpoints" / "best.ckpt"), "--trainer.accelerator", "cpu"]
    alone = run_cli("speech", test).trainer.callback_metrics
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("RECUR_RUN_DIR", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "SLURM_NTASKS"):
        env.pop(name, None)
    script = str(Path(sys.executable).parent / "recur-speech")
    out = subprocess.run(
        [script, *test, "--trainer.devices", "2", "--trainer.strategy", "ddp"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    tested = max((runs_dir / "speech" / "rnnt" / "espeak_digits").iterdir(), key=lambda p: p.stat().st_mtime)
    with open(tested / "metrics.csv") as file:
        (logged,) = [row for row in csv.DictReader(file) if row.get("test/wer")]
    for name in ("wer", "cer", "wer_beam", "wer_blank", "wer_frequent", "loss"):
        assert float(logged[f"test/{name}"]) == pytest.approx(float(alone[f"test/{name}"]), abs=1e-6), name
    rows = json.loads((tested / "transcripts_test.json").read_text())
    assert sorted(row["id"] for row in rows) == sorted({row["id"] for row in rows}) and len(rows) == 4
