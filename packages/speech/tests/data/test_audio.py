import numpy as np
import pytest
import soundfile
import torch

from recur_speech.data.audio import audio_info, read_audio, write_audio


def test_round_trip_wav_and_flac(tmp_path):
    wave = torch.sin(torch.arange(800) / 5.0) * 0.5
    for suffix in (".wav", ".flac"):
        path = write_audio(tmp_path / f"a{suffix}", wave, 8000)
        back, rate = read_audio(path, 8000)
        assert rate == 8000 and back.dtype == torch.float32 and back.shape == (800,)
        assert torch.allclose(back, wave, atol=1 / 32767)
        assert audio_info(path) == (8000, 800)


def test_bad_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk.flac").write_bytes(b"not audio at all" * 10)
    with pytest.raises(ValueError, match="cannot read the audio") as err:
        read_audio(tmp_path / "junk.flac")
    assert "\n" not in str(err.value)
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(ValueError, match="empty audio"):
        read_audio(tmp_path / "empty.wav")
    soundfile.write(tmp_path / "stereo.wav", np.zeros((10, 2), np.float32), 16000)
    with pytest.raises(ValueError, match="2 channels; expected mono"):
        read_audio(tmp_path / "stereo.wav")
    write_audio(tmp_path / "rate.wav", torch.zeros(10), 8000)
    with pytest.raises(ValueError, match="sample rate 8000 Hz; expected 16000"):
        read_audio(tmp_path / "rate.wav", 16000)
    with pytest.raises(FileNotFoundError):
        read_audio(tmp_path / "absent.wav")
    with pytest.raises(ValueError, match=r"\.wav or \.flac"):
        write_audio(tmp_path / "x.mp3", torch.zeros(3), 8000)
