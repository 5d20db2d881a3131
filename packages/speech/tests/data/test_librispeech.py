import numpy as np
import pytest
import soundfile
import torch

from recur_core.data import DatasetNotFoundError
from recur_speech.data.audio import write_audio
from recur_speech.data.librispeech import (
    LibriSpeechDataset,
    collate_waveforms,
    librispeech_split,
    read_librispeech_split,
    read_transcripts,
)


def test_real_sample(dataset_root):
    root = dataset_root("librispeech-sample")
    split = librispeech_split("test-clean", root=root.parent, dataset="librispeech-sample")
    assert [u.id for u in split.utterances] == [
        "1089-134686-0000",
        "1089-134686-0001",
        "1089-134691-0000",
        "1089-134691-0001",
    ]
    assert split.utterances[1].transcript == "STUFF IT INTO YOU HIS BELLY COUNSELLED HIM"
    waveform, text = LibriSpeechDataset(split)[1]
    assert text.startswith("STUFF") and waveform.ndim == 1 and 1.0 < waveform.shape[0] / 16000 < 10.0
    assert 0.01 < float(waveform.abs().max()) <= 1.0


def _chapter(folder, lines, n_audio=None, samples=1600):
    chapter = folder / "19" / "198"
    chapter.mkdir(parents=True)
    (chapter / "19-198.trans.txt").write_text("\n".join(lines))
    for i in range(len(lines) if n_audio is None else n_audio):
        write_audio(chapter / f"19-198-{i:04d}.flac", torch.linspace(-0.5, 0.5, samples + 160 * i), 16000)
    return chapter


def test_tiny_written_split_and_collate(tmp_path):
    _chapter(tmp_path, ["19-198-0000 HELLO WORLD", "", "19-198-0001 A  B"])
    split = read_librispeech_split(tmp_path)
    assert split.transcripts == ["HELLO WORLD", "A B"] and split.speakers == ["19"]
    padded, lengths, texts = collate_waveforms([LibriSpeechDataset(split)[i] for i in range(2)])
    assert padded.shape == (2, 1760) and lengths.tolist() == [1600, 1760] and texts[1] == "A B"


def test_transcript_errors(tmp_path):
    trans = tmp_path / "t.trans.txt"
    trans.write_text("19-198-0000 FINE\nHELLO THERE\n")
    with pytest.raises(ValueError, match=r"line 2: 'HELLO THERE' has no utterance id") as err:
        read_transcripts(trans)
    assert "\n" not in str(err.value)
    trans.write_text("19-198-0000\n")
    with pytest.raises(ValueError, match="no transcript after its id"):
        read_transcripts(trans)
    trans.write_text("19-198-0000 A\n19-198-0000 B\n")
    with pytest.raises(ValueError, match="transcribed twice"):
        read_transcripts(trans)


def test_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no <speaker>/<chapter>/"):
        read_librispeech_split(tmp_path)
    _chapter(tmp_path / "a", ["19-198-0000 ONE", "19-198-0001 TWO"], n_audio=1)
    with pytest.raises(FileNotFoundError, match="1 transcribed utterance"):
        read_librispeech_split(tmp_path / "a")
    _chapter(tmp_path / "b", ["20-198-0000 ONE"], n_audio=0)
    with pytest.raises(ValueError, match="not of speaker 19, chapter 198"):
        read_librispeech_split(tmp_path / "b")


def test_unreadable_and_empty_audio(tmp_path):
    chapter = _chapter(tmp_path, ["19-198-0000 ONE", "19-198-0001 TWO"])
    (chapter / "19-198-0000.flac").write_bytes(b"garbage")
    soundfile.write(chapter / "19-198-0001.flac", np.zeros(0, np.float32), 16000)
    data = LibriSpeechDataset(read_librispeech_split(tmp_path))
    with pytest.raises(ValueError, match=r"19-198-0000\.flac: cannot read the audio"):
        data[0]
    with pytest.raises(ValueError, match=r"19-198-0001\.flac: empty audio"):
        data[1]


def test_missing_dataset_and_bad_split(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="recur data fetch librispeech"):
        librispeech_split("dev-clean", root=tmp_path)
    with pytest.raises(ValueError, match="unknown LibriSpeech split 'test_clean'"):
        librispeech_split("test_clean", root=tmp_path)
