"""The MossFormer2 recipes through the CLI on a tiny espeak-ng mixture set: fit, test from the checkpoint (files
written), the baselines, the real Libri2Mix samples, and one-line errors for bad mixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_speech.data.audio import write_audio
from recur_speech.separation import SeparationData, SeparationModule

RECIPES = ["mossformer2/espeak_2mix", "mossformer2/libri2mix"]


@pytest.fixture(scope="module")
def espeak(tmp_path_factory):
    """A tiny espeak-ng mixture set: 16 / 4 / 4 utterances, 6 / 2 / 2 mixtures at 8 kHz."""
    folder = tmp_path_factory.mktemp("espeak") / "set"
    SeparationData(folder=str(folder), utterances=(16, 4, 4), mixtures=(6, 2, 2)).espeak_folder()
    return str(folder)


def tiny(folder: str) -> list[str]:
    return [
        *("--data.folder", folder, "--data.utterances", "[16, 4, 4]", "--data.mixtures", "[6, 2, 2]"),
        *("--data.segment_seconds", "0.25", "--data.batch_size", "3", "--model.examples", "1"),
    ]


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipes_open_with_their_command(recipe):
    path = list_recipes("speech")[recipe]
    first = path.read_text().splitlines()[0]
    assert first.startswith("# recur-speech ") and recipe in first
    config = yaml.safe_load(path.read_text())
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert model["sample_rate"] == data["sample_rate"] and model["n_src"] == data["n_src"]
    assert (
        data["dataset"] == {"mossformer2/espeak_2mix": "espeak", "mossformer2/libri2mix": "libri2mix-samples"}[recipe]
    )


def test_fit_then_test_from_the_checkpoint_writes_separated_audio(espeak, runs_dir, one_thread):
    fitted = run_cli(
        "speech", ["fit", "--config", "mossformer2/espeak_2mix", "--trainer.max_epochs", "1", *tiny(espeak)]
    )
    assert isinstance(fitted.model, SeparationModule) and isinstance(fitted.datamodule, SeparationData)
    assert {"train/loss", "val/si_snri", "val/si_snr"} <= set(fitted.trainer.callback_metrics)
    checkpoint = str(fitted.run_dir / "checkpoints" / "last.ckpt")
    tested = run_cli(
        "speech", ["test", "--config", "mossformer2/espeak_2mix", *tiny(espeak), "--ckpt_path", checkpoint]
    )
    result = tested.trainer.callback_metrics
    assert {"test/si_snri", "test/si_snr", "test/sdri", "test/stoi"} <= set(result)
    assert all(torch.isfinite(result[k]) for k in ("test/si_snri", "test/sdri"))
    folders = list((tested.run_dir / "separated").iterdir())
    assert len(folders) == 1
    names = {p.name for p in folders[0].iterdir()}
    assert names == {"mixture.wav", "estimate1.wav", "estimate2.wav", "reference1.wav", "reference2.wav"}
    assert (tested.run_dir / "separated.png").stat().st_size > 0


@pytest.mark.parametrize(("model", "kind"), [("mossformer", "MossFormer2"), ("conv_tasnet", "ConvTasNet")])
def test_baselines_are_the_same_recipe(model, kind, espeak, runs_dir, one_thread):
    args = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--model.model", model]
    fitted = run_cli("speech", ["fit", "--config", "mossformer2/espeak_2mix", *tiny(espeak), *args])
    assert type(fitted.model.net).__name__ == kind
    assert model != "mossformer" or len(fitted.model.net.recurrent) == 0


def test_libri2mix_recipe_scores_an_espeak_checkpoint_on_the_real_samples(
    espeak, runs_dir, monkeypatch, one_thread, dataset_root
):
    samples = dataset_root("libri2mix-samples", "MossFormer2_samples_Libri2Mix/item0_mix.wav")
    fitted = run_cli(
        "speech", ["fit", "--config", "mossformer2/espeak_2mix", "--trainer.max_steps", "1", *tiny(espeak)]
    )
    monkeypatch.setenv("RECUR_DATA", str(samples.parent))
    checkpoint = str(fitted.run_dir / "checkpoints" / "last.ckpt")
    args = ["--trainer.limit_test_batches", "1", "--data.batch_size", "2", "--model.perceptual", "false"]
    tested = run_cli("speech", ["test", "--config", "mossformer2/libri2mix", *args, "--ckpt_path", checkpoint])
    assert {"test/si_snri", "test/sdri"} <= set(tested.trainer.callback_metrics)
    assert (tested.run_dir / "separated" / "item0" / "estimate1.wav").is_file()


def _one_line(capsys, argv, expected):
    with pytest.raises(SystemExit) as exit_info:
        console_main("speech", argv)
    message = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and expected in message and "\n" not in message, message


def _scp_folder(folder: Path, source_rate: int = 8000, source_length: int = 4000) -> Path:
    """train/val/test.scp naming one mixture (8 kHz, 4000 samples) whose second source is as given."""
    noise = torch.randn(4000, generator=torch.Generator().manual_seed(0)) * 0.1
    write_audio(folder / "mix.wav", noise, 8000)
    write_audio(folder / "s1.wav", noise / 2, 8000)
    write_audio(folder / "s2.wav", noise[:source_length] / 2, source_rate)
    for split in ("train", "val", "test"):
        (folder / f"{split}.scp").write_text("mix.wav s1.wav s2.wav\n")
    return folder


def test_bad_mixtures_are_one_line_errors(espeak, runs_dir, tmp_path, monkeypatch, capsys):
    fit = ["fit", "--config", "mossformer2/espeak_2mix", "--trainer.max_steps", "1", *tiny(espeak)]
    scp = ["--data.dataset", "scp", "--data.folder"]
    # a source at another sample rate than its mixture
    rate = _scp_folder((tmp_path / "rate"), source_rate=16000)
    _one_line(capsys, [*fit, *scp, str(rate)], "s2.wav: sample rate 16000 Hz differs from its mixture mix.wav")
    # a source shorter than its mixture
    short = _scp_folder((tmp_path / "short"), source_length=3000)
    _one_line(capsys, [*fit, *scp, str(short)], "s2.wav: 3000 samples, shorter than its mixture mix.wav (4000)")
    # an unreadable mixture, a 0-byte one and one of 0 samples
    broken = _scp_folder(tmp_path / "broken")
    (broken / "mix.wav").write_bytes(b"not audio at all" * 100)
    _one_line(capsys, [*fit, *scp, str(broken)], "mix.wav: cannot read the audio")
    (broken / "mix.wav").write_bytes(b"")
    _one_line(capsys, [*fit, *scp, str(broken)], "mix.wav: empty audio file (0 bytes)")
    soundfile.write(broken / "mix.wav", np.zeros(0, np.float32), 8000)
    _one_line(capsys, [*fit, *scp, str(broken)], "mix.wav: empty audio (0 samples)")
    # the Libri2Mix samples are a test set; without the data root, the message says how to get them
    _one_line(capsys, [*fit, "--data.dataset", "libri2mix-samples"], "36 test mixtures")
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "empty"))
    checkpoint = str(tmp_path / "none.ckpt")
    torch.save({"state_dict": {}, "global_step": 0}, checkpoint)
    _one_line(
        capsys,
        ["test", "--config", "mossformer2/libri2mix", "--ckpt_path", checkpoint],
        "libri2mix-samples' not found",
    )
    # the model's sources differ from the data's
    _one_line(capsys, [*fit, "--model.n_src", "3"], "--model.n_src")
