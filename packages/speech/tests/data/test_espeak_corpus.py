import csv
import json

import numpy as np
import pytest
import torch

from recur_core.data.generated import MARKER
from recur_speech.data.audio import read_audio
from recur_speech.data.espeak_corpus import (
    EspeakSpeaker,
    digit_text,
    espeak_librispeech,
    room_noise,
    sentence_text,
    synthesise,
    write_espeak_librimix,
    write_espeak_librispeech,
)
from recur_speech.data.librimix import MixtureDataset, read_librimix
from recur_speech.data.librispeech import LibriSpeechDataset, read_librispeech_split

SPEAKERS = (EspeakSpeaker("en-us", "m3", 40, 170), EspeakSpeaker("en-gb-scotland", "f2", 65, 190))
COUNTS = {"train-clean-100": 4, "dev-clean": 2, "test-clean": 2}


def test_synthesise_speaks_and_rejects_bad_voices():
    short, rate = synthesise("ONE", "en-us", 170, 50)
    long, _ = synthesise("ONE TWO THREE FOUR FIVE", "en-us+f2", 170, 50)
    assert rate == 22050 and short.dtype == np.float32 and 0.1 < np.abs(long).max() <= 1.0
    assert long.shape[0] > 2 * short.shape[0]
    slow, _ = synthesise("ONE TWO THREE FOUR FIVE", "en-us+f2", 100, 50)
    assert slow.shape[0] > 1.3 * long.shape[0]
    with pytest.raises(ValueError, match="unknown espeak-ng voice 'xx-nowhere'"):
        synthesise("ONE", "xx-nowhere")
    with pytest.raises(ValueError, match="empty text"):
        synthesise("  ")


def test_texts_and_room_noise_are_seeded():
    rng = np.random.default_rng(0)
    digits = digit_text(rng, 2, 4)
    assert 2 <= len(digits.split()) <= 4 and set(digits.split()) <= {
        "ZERO",
        "ONE",
        "TWO",
        "THREE",
        "FOUR",
        "FIVE",
        "SIX",
        "SEVEN",
        "EIGHT",
        "NINE",
    }
    assert sentence_text(np.random.default_rng(1)) == sentence_text(np.random.default_rng(1))
    clean = torch.sin(torch.arange(8000) / 3.0)
    noisy = room_noise(clean, 16000, np.random.default_rng(2), snr_db=(10.0, 10.0))
    assert noisy.shape == clean.shape and not torch.allclose(noisy, clean)
    assert torch.equal(noisy, room_noise(clean, 16000, np.random.default_rng(2), snr_db=(10.0, 10.0)))


def test_corpus_in_librispeech_layout_written_once(tmp_path):
    folder = write_espeak_librispeech(tmp_path / "speech", COUNTS, speakers=SPEAKERS, progress=False)
    train = read_librispeech_split(folder / "LibriSpeech" / "train-clean-100")
    assert len(train) == 4 and train.speakers == ["100", "101"]
    assert train.utterances[0].id == "100-11-0000" and train.utterances[0].path.suffix == ".flac"
    waveform, text = LibriSpeechDataset(train)[0]
    assert text == train.utterances[0].transcript and 0.2 < waveform.shape[0] / 16000 < 6.0
    assert len(read_librispeech_split(folder / "LibriSpeech" / "test-clean")) == 2
    stamp = (folder / MARKER).stat().st_mtime_ns
    # the same options: reused as it is; another folder: the same corpus
    assert write_espeak_librispeech(folder, COUNTS, speakers=SPEAKERS, progress=False) == folder
    assert (folder / MARKER).stat().st_mtime_ns == stamp
    other = write_espeak_librispeech(tmp_path / "again", COUNTS, speakers=SPEAKERS, progress=False)
    assert read_librispeech_split(other / "LibriSpeech" / "train-clean-100").transcripts == train.transcripts
    # libespeak-ng keeps state across calls: the same utterance, a few milliseconds longer or shorter
    again = LibriSpeechDataset(read_librispeech_split(other / "LibriSpeech" / "train-clean-100"))[0][0]
    assert abs(again.shape[0] - waveform.shape[0]) < 0.05 * waveform.shape[0]
    with pytest.raises(ValueError, match="not empty and was not written"):
        write_espeak_librispeech(folder, {"train-clean-100": 5}, speakers=SPEAKERS, progress=False)
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(ValueError, match="unknown utterance split 'train'"):
        write_espeak_librispeech(tmp_path / "x", {"train": 3}, progress=False)


def test_default_folder_is_keyed_by_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    one = espeak_librispeech(utterances={"test-clean": 2}, speakers=SPEAKERS, progress=False)
    two = espeak_librispeech(utterances={"test-clean": 2}, speakers=SPEAKERS, seed=1, progress=False)
    assert one.parent == tmp_path / "recur" / "generated" and one != two
    assert json.loads((one / MARKER).read_text())["utterances"] == {"test-clean": 2}


def test_dry_corpus_has_no_room_and_keeps_the_room_corpus_key(tmp_path):
    counts = {"test-clean": 2}
    room = write_espeak_librispeech(tmp_path / "room", counts, speakers=SPEAKERS, progress=False)
    dry = write_espeak_librispeech(tmp_path / "dry", counts, speakers=SPEAKERS, progress=False, room=False)
    # the default (room) corpus records no 'room' option: folders written before the option stay valid
    assert "room" not in json.loads((room / MARKER).read_text())
    assert json.loads((dry / MARKER).read_text())["room"] is False
    wet = LibriSpeechDataset(read_librispeech_split(room / "LibriSpeech" / "test-clean"))[0][0]
    clean = LibriSpeechDataset(read_librispeech_split(dry / "LibriSpeech" / "test-clean"))[0][0]

    def floor_db(x):
        """The quietest 10 % of 10-ms frames against the loudest half, in dB."""
        frames = x[: x.shape[0] // 160 * 160].reshape(-1, 160).pow(2).mean(1).sort().values
        return float(10 * torch.log10(frames[: max(1, len(frames) // 10)].mean() / frames[len(frames) // 2 :].mean()))

    # the room's noise (10-30 dB below the speech) fills espeak-ng's quiet frames: the dry floor is far lower
    assert floor_db(clean) < floor_db(wet) - 10


def test_mixtures_in_librimix_layout(tmp_path):
    speech = write_espeak_librispeech(tmp_path / "speech", COUNTS, speakers=SPEAKERS, progress=False)
    folder = write_espeak_librimix(tmp_path / "mix", speech, {"train-100": 3, "test": 2}, progress=False)
    base = folder / "Libri2Mix" / "wav8k" / "min"
    with (base / "metadata" / "mixture_test_mix_both.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "noise_path", "length"]
    clean = read_librimix(base, "train-100")
    assert len(clean) == 3 and {p.parent.name for p in clean[0].sources} == {"s1", "s2"}
    speakers = [part.split("-")[0] for part in clean[0].id.split("_")]
    assert len(set(speakers)) == 2
    mix, sources = MixtureDataset(clean, 8000)[0]
    # mix_clean is the sum of its sources, up to 16-bit rounding
    assert float((mix - sources.sum(0)).abs().max()) < 3e-4 and float(mix.abs().max()) <= 0.9 + 1e-3
    noisy = read_librimix(base, "test", "mix_both")
    assert noisy[0].noise is not None and noisy[0].noise.parent.name == "noise"
    both, both_sources = MixtureDataset(noisy)[0]
    clean_test, _ = MixtureDataset(read_librimix(base, "test"))[0]
    noise, _ = read_audio(noisy[0].noise)
    # mix_both = the sources + the noise, the noise at -38..-30 dB against speech at -33..-25 dB
    assert float((both - both_sources.sum(0) - noise).abs().max()) < 3e-4
    assert 0.001 < float(noise.pow(2).mean() / clean_test.pow(2).mean()) < 1.0
    with pytest.raises(ValueError, match="sample_rate must be 8000 or 16000"):
        write_espeak_librimix(tmp_path / "bad", speech, {"test": 1}, sample_rate=22050, progress=False)
