"""ASR features as torchaudio's Emformer RNN-T LibriSpeech recipe computes them: 80-d log-mel, global CMVN, SpecAugment.

Shi et al., *Emformer: Efficient Memory Transformer Based Acoustic Model for Low Latency Streaming Speech
Recognition*, ICASSP 2021 (https://arxiv.org/abs/2010.10759); the recipe is pytorch/audio
``examples/asr/emformer_rnnt`` (``librispeech/lightning.py``, ``global_stats.py``). Its rules:

- **log-mel**: ``torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=80)``
  (power 2, 25 ms windows every 10 ms) on the waveform in [-1, 1], then a gain ``g = 32767²`` that puts
  the power on the int16 scale and the piecewise-linear log

  .. math::  f(x) = \\log(g x) \\text{ if } g x > e, \\qquad f(x) = g x / e \\text{ otherwise}

  (continuous at e, and finite at 0 where a log is not);
- **global CMVN**: ``(f - mean) * invstddev`` per mel bin, with ``mean`` and ``invstddev = 1/std`` over
  every frame of the training set, stored as JSON (``{"mean": [...], "invstddev": [...]}``);
- **SpecAugment** (Park et al. 2019, https://arxiv.org/abs/1904.08779) during training: two frequency
  masks of width up to 27 bins and two time masks of up to 100 frames covering at most ``p = 0.2`` of the
  utterance, ``torchaudio.transforms.FrequencyMasking`` / ``TimeMasking`` (one mask per batch, as the
  recipe; ``iid_masks=True`` draws one per utterance).

No STFT is written here: torchaudio computes it. Features are time-major, ``[..., frames, n_mels]``,
the layout recur's sequence layers take.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import torch
import torchaudio
from torch import nn

__all__ = ["GlobalCMVN", "LogMel", "SpecAugment", "compute_global_cmvn", "piecewise_linear_log"]

# the recipe's gain: the power of int16-scaled samples, 10^(0.05 * 2 * 20 log10(32767)) = 32767^2
_GAIN = 10 ** (0.05 * 2 * 20 * math.log10(torch.iinfo(torch.int16).max))


def piecewise_linear_log(power: torch.Tensor) -> torch.Tensor:
    """The recipe's log: ``log(g x)`` where ``g x > e``, ``g x / e`` elsewhere (``g = 32767²``); any shape."""
    scaled = power * _GAIN
    return torch.where(scaled > math.e, torch.log(scaled.clamp_min(math.e)), scaled / math.e)


class LogMel(nn.Module):
    """80-d log-mel features of a waveform, as the Emformer RNN-T recipe computes them (see the module docstring).

    Args:
        sample_rate: of the input waveform (16000 for LibriSpeech).
        n_mels: mel bins (80).
        n_fft: FFT size and window length (400 = 25 ms at 16 kHz).
        hop_length: frame shift (160 = 10 ms at 16 kHz).

    Shapes:
        waveform ``[..., T]`` -> features ``[..., 1 + T // hop_length, n_mels]``.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 80, n_fft: int = 400, hop_length: int = 160) -> None:
        super().__init__()
        if n_mels < 1 or hop_length < 1 or n_fft < 2:
            raise ValueError(f"n_mels and hop_length must be >= 1 and n_fft >= 2, got {n_mels}, {hop_length}, {n_fft}")
        self.sample_rate, self.n_mels, self.hop_length = sample_rate, n_mels, hop_length
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
        )

    def frames(self, samples: torch.Tensor | int) -> torch.Tensor | int:
        """Frames of a waveform of ``samples`` samples (centred frames: ``1 + samples // hop_length``)."""
        return 1 + samples // self.hop_length

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.shape[-1] == 0:
            raise ValueError("LogMel got an empty waveform (0 samples); drop empty utterances before featurising")
        return piecewise_linear_log(self.mel(waveform)).transpose(-1, -2)


class GlobalCMVN(nn.Module):
    """``(x - mean) * invstddev`` per feature bin, the statistics computed once on the training set.

    Shapes:
        features ``[..., D]`` -> ``[..., D]``; ``mean`` and ``invstddev`` are ``[D]`` buffers (saved in checkpoints).
    """

    def __init__(self, mean: torch.Tensor, invstddev: torch.Tensor) -> None:
        super().__init__()
        mean, invstddev = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(invstddev, dtype=torch.float32)
        if mean.ndim != 1 or mean.shape != invstddev.shape:
            raise ValueError(f"mean and invstddev must be 1-D of one size, got {tuple(mean.shape)}, {invstddev.shape}")
        if not bool(torch.isfinite(mean).all() and (invstddev > 0).all() and torch.isfinite(invstddev).all()):
            raise ValueError("CMVN statistics must be finite with invstddev > 0; recompute them on the training set")
        self.register_buffer("mean", mean)
        self.register_buffer("invstddev", invstddev)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"features have {features.shape[-1]} bins; the CMVN statistics have {self.mean.shape[0]}")
        return (features - self.mean) * self.invstddev

    def save(self, path: str | Path) -> Path:
        """Write the statistics as the recipe's JSON, ``{"mean": [...], "invstddev": [...]}``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"mean": self.mean.tolist(), "invstddev": self.invstddev.tolist()}) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> GlobalCMVN:
        """Read statistics written by :meth:`save` (or the recipe's ``global_stats.json``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"CMVN statistics not found: {path}; compute them with compute_global_cmvn")
        try:
            stats = json.loads(path.read_text())
            return cls(torch.tensor(stats["mean"]), torch.tensor(stats["invstddev"]))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(
                f"{path}: not CMVN statistics ({type(err).__name__}); expected JSON with mean, invstddev"
            ) from None


def compute_global_cmvn(features: Iterable[torch.Tensor], floor: float = 1e-8) -> GlobalCMVN:
    """Mean and inverse standard deviation per bin over every frame of ``features`` (each ``[frames, D]``).

    Accumulates in float64 (sum and sum of squares), so the training set is read once and never held in
    memory. ``floor`` bounds the variance from below (a constant bin would divide by zero).
    """
    total = squares = None
    count = 0
    for item in features:
        if item.ndim != 2 or item.shape[0] == 0:
            raise ValueError(f"compute_global_cmvn takes non-empty [frames, D] features, got {tuple(item.shape)}")
        item = item.detach().to(torch.float64)
        if total is None:
            total, squares = item.sum(0), (item * item).sum(0)
        elif item.shape[1] != total.shape[0]:
            raise ValueError(f"features with {item.shape[1]} bins after {total.shape[0]}; featurise every item alike")
        else:
            total, squares = total + item.sum(0), squares + (item * item).sum(0)
        count += item.shape[0]
    if total is None:
        raise ValueError("compute_global_cmvn got no features; pass the training set's features")
    mean = total / count
    variance = (squares / count - mean * mean).clamp_min(floor)
    return GlobalCMVN(mean.float(), variance.rsqrt().float())


class SpecAugment(nn.Module):
    """The Emformer recipe's SpecAugment: ``freq_masks`` masks of up to ``freq_width`` bins, then ``time_masks``
    masks of up to ``time_width`` frames and at most ``time_fraction`` of the frames; identity in eval mode.

    Masks draw from torch's global generator (as dropout does), on the device of the features.

    Shapes:
        features ``[B, T, D]`` (or ``[T, D]``) -> the same, masked entries set to 0 (the CMVN mean).
    """

    def __init__(
        self,
        freq_masks: int = 2,
        freq_width: int = 27,
        time_masks: int = 2,
        time_width: int = 100,
        time_fraction: float = 0.2,
        iid_masks: bool = False,
    ) -> None:
        super().__init__()
        if min(freq_masks, time_masks, freq_width, time_width) < 0 or not 0.0 <= time_fraction <= 1.0:
            raise ValueError("mask counts and widths must be >= 0 and time_fraction in [0, 1]")
        self.iid_masks = iid_masks
        self.masks = nn.ModuleList(
            [torchaudio.transforms.FrequencyMasking(freq_width, iid_masks=iid_masks) for _ in range(freq_masks)]
            + [
                torchaudio.transforms.TimeMasking(time_width, iid_masks=iid_masks, p=time_fraction)
                for _ in range(time_masks)
            ]
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return features
        if features.ndim not in (2, 3):
            raise ValueError(f"SpecAugment takes [B, T, D] or [T, D] features, got shape {tuple(features.shape)}")
        # torchaudio's masks act on [..., freq, time]
        spec = features.transpose(-1, -2)
        if self.iid_masks and spec.ndim == 2:
            spec = spec.unsqueeze(0)
        for mask in self.masks:
            spec = mask(spec)
        return spec.reshape(features.transpose(-1, -2).shape).transpose(-1, -2)
