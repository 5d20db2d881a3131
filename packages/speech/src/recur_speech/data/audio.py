"""Reading and writing audio files with soundfile, with the one-line errors every reader of this package shares.

soundfile (libsndfile) reads and writes WAV and FLAC; ``torchaudio.load`` is not used because in
torchaudio 2.11 it needs torchcodec and the system FFmpeg libraries (see the stack notes). Waveforms
are float32 in [-1, 1], shape ``[T]`` (mono) — the layouts this package reads (LibriSpeech, LibriMix,
WSJ0-2mix) are all mono.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch

__all__ = ["audio_info", "read_audio", "write_audio"]


def _unreadable(path: Path, err: Exception) -> ValueError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return ValueError(f"{path}: cannot read the audio ({reason}); expected a WAV or FLAC file that soundfile reads")


def audio_info(path: str | Path) -> tuple[int, int]:
    """``(sample_rate, frames)`` of an audio file, from its header (the samples are not decoded).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: an empty file (0 bytes), or not an audio file soundfile reads.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty audio file (0 bytes); re-create the file or remove it from the dataset")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from None
    return int(info.samplerate), int(info.frames)


def read_audio(path: str | Path, sample_rate: int | None = None) -> tuple[torch.Tensor, int]:
    """Read a mono audio file as ``(waveform [T] float32 in [-1, 1], sample_rate)``.

    Args:
        path: a WAV or FLAC file.
        sample_rate: the rate the caller expects; a file at another rate is an error (None: any rate).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: the file is unreadable (not audio, truncated), empty (0 samples), has more than one
            channel, or is not at ``sample_rate``; the message names the file and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty audio file (0 bytes); re-create the file or remove it from the dataset")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from None
    if data.shape[0] == 0:
        raise ValueError(f"{path}: empty audio (0 samples); re-create the file or remove it from the dataset")
    if data.shape[1] != 1:
        raise ValueError(f"{path}: {data.shape[1]} channels; expected mono audio (one channel)")
    if sample_rate is not None and rate != sample_rate:
        raise ValueError(f"{path}: sample rate {rate} Hz; expected {sample_rate} Hz (resample the file or the dataset)")
    return torch.from_numpy(np.ascontiguousarray(data[:, 0])), int(rate)


def write_audio(path: str | Path, waveform: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write a mono waveform ``[T]`` (float, clipped to [-1, 1]) as 16-bit PCM; the format from the suffix
    (``.wav`` or ``.flac``). Parent folders are created.

    Raises:
        ValueError: not a non-empty 1-D waveform, or a suffix other than ``.wav``/``.flac``.
    """
    path = Path(path)
    if path.suffix.lower() not in (".wav", ".flac"):
        raise ValueError(f"{path}: write_audio writes .wav or .flac files, got suffix {path.suffix!r}")
    data = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"{path}: expected a non-empty mono waveform [T], got shape {tuple(data.shape)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.clip(data.astype(np.float32), -1.0, 1.0), sample_rate, subtype="PCM_16")
    return path
