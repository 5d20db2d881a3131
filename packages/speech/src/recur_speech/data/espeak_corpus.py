"""An embedded speech corpus made offline with espeak-ng, written in the LibriSpeech and LibriMix layouts.

espeak-ng (https://github.com/espeak-ng/espeak-ng), a formant synthesiser, comes with its voices in the
pinned ``espeakng-loader`` wheel and is called through ctypes (``espeak_Synth`` in synchronous mode,
22,050 Hz int16). Nothing is downloaded.

**Speech** (:func:`write_espeak_librispeech`): spoken digit strings (``"THREE ONE FOUR"``) or short
sentences of a small grammar (``"THE RED DOG SEES A BALL"``), each speaker an English voice with a
variant and a base pitch, each utterance at a speaking rate and pitch drawn around the speaker's. Every
utterance gets room acoustics — a reverberation tail (an exponentially decaying noise impulse response,
RT60 drawn in ``rt60``) and broadband noise with a low-frequency hum at an SNR drawn in ``snr_db`` — unless
``room=False`` (the dry voices, which the separation mixtures take: a source's own reverberation and noise
would be part of its target) — and is resampled to ``sample_rate`` with ``torchaudio.functional.resample``,
then written as 16-bit FLAC in
the LibriSpeech layout ``LibriSpeech/<split>/<speaker>/<chapter>/<id>.flac`` + ``<speaker>-<chapter>.trans.txt``
(splits ``train-clean-100``, ``dev-clean``, ``test-clean``), so :mod:`recur_speech.data.librispeech` reads it.

**Mixtures** (:func:`write_espeak_librimix`): utterances of different speakers from that corpus, resampled
to 8 or 16 kHz, scaled to a loudness drawn in [-33, -25] dB (LibriMix's range; RMS level instead of
LibriMix's LUFS, as pyloudnorm is not in the stack), with room noise at [-38, -30] dB, cut (``min``) or
padded (``max``) to one length and, as LibriMix does, scaled down together when the mixture's peak would
pass 0.9. Written as ``Libri<n>Mix/wav<rate>/<mode>/<split>/{s1,s2,...,noise,mix_clean,mix_both}/<id>.wav``
with ``metadata/mixture_<split>_{mix_clean,mix_both}.csv``; the paths in the csv are relative to the
``wav<rate>/<mode>`` folder (LibriMix records absolute ones), so the folder can move. Splits ``train-100``,
``dev``, ``test`` draw from ``train-clean-100``, ``dev-clean``, ``test-clean``.

Each is written once per folder: into a hidden temporary sibling, then renamed into place with
``generated.json`` (the options) inside, so an interrupted run leaves nothing half-written and a folder
written with the same options is reused (:func:`espeak_librispeech` and :func:`espeak_librimix` pick a
folder under the user cache keyed by the options). Every utterance and mixture draws from its own
``numpy.random.default_rng([seed, split, index])``: the same options give the same texts, speakers, rates,
pitches, rooms and mixtures. The waveforms themselves are not bit-identical from run to run: libespeak-ng
keeps internal state across calls (even across ``espeak_Terminate``/``espeak_Initialize``), so the same
text comes out a few milliseconds longer or shorter with different aspiration noise. That is why a corpus
is written once and then read from disk: a training run reads fixed files.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torchaudio
from tqdm.auto import tqdm

from recur_core.data.generated import MARKER, generated_cache, write_once
from recur_speech.data.audio import read_audio, write_audio
from recur_speech.data.librispeech import read_librispeech_split

__all__ = [
    "DEFAULT_SPEAKERS",
    "DIGIT_WORDS",
    "EspeakSpeaker",
    "digit_text",
    "espeak_librimix",
    "espeak_librispeech",
    "generated_cache",
    "hum_noise",
    "room_noise",
    "sentence_text",
    "synthesise",
    "write_espeak_librimix",
    "write_espeak_librispeech",
]

ESPEAK_RATE = 22050
# bump when the written bytes change for the same options: a new version goes to a new cache folder
_FORMAT_VERSION = 1

DIGIT_WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
# the sentence grammar: DET ADJ NOUN VERB DET [ADJ] NOUN
_DETERMINERS = ("THE", "A")
_ADJECTIVES = ("RED", "BIG", "SMALL", "GREEN", "OLD", "QUICK")
_NOUNS = ("DOG", "CAT", "BALL", "BIRD", "BOOK", "TREE", "CAR", "FISH")
_VERBS = ("SEES", "FINDS", "LIKES", "HAS", "WANTS", "MOVES")
_SPEECH_SPLITS = ("train-clean-100", "dev-clean", "test-clean")
_MIX_SPLITS = {"train-100": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}


@dataclass(frozen=True)
class EspeakSpeaker:
    """A synthetic speaker: an espeak-ng voice (``en-us``, ``en-gb-scotland``...) with a variant (``m3``, ``f2``),
    a base pitch (0-99) and a base speaking rate (words per minute)."""

    voice: str
    variant: str
    pitch: int
    rate: int

    @property
    def name(self) -> str:
        return f"{self.voice}+{self.variant}" if self.variant else self.voice


# 8 speakers: 5 accents, male and female variants, pitches and rates spread out
DEFAULT_SPEAKERS = (
    EspeakSpeaker("en-us", "m3", 40, 165),
    EspeakSpeaker("en-us", "f2", 60, 175),
    EspeakSpeaker("en", "m1", 35, 155),
    EspeakSpeaker("en", "f4", 70, 185),
    EspeakSpeaker("en-gb-scotland", "m5", 45, 160),
    EspeakSpeaker("en-gb-x-rp", "f1", 55, 170),
    EspeakSpeaker("en-029", "m2", 50, 180),
    EspeakSpeaker("en-us-nyc", "f3", 65, 160),
)


# ---------------------------------------------------------------------------------------------
# espeak-ng through ctypes


class _Espeak:
    """The process's one libespeak-ng (its state is global): initialised once, used under a lock."""

    _instance: _Espeak | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        # AUDIO_OUTPUT_SYNCHRONOUS = 2: espeak_Synth returns once every sample went through the callback
        rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate != ESPEAK_RATE:
            raise RuntimeError(f"libespeak-ng did not initialise (returned {rate}); reinstall espeakng-loader")
        self.lib = lib
        self.chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        # kept on self: a collected callback would crash the library
        self.callback = callback_type(self._collect)
        lib.espeak_SetSynthCallback(self.callback)

    def _collect(self, wav, count, events) -> int:
        if wav and count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    @classmethod
    def get(cls) -> _Espeak:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def synth(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        with self._lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(
                    f"unknown espeak-ng voice {voice!r}; use e.g. 'en-us', 'en-us+f2', 'en-gb-scotland+m3'"
                )
            # espeakRATE = 1, espeakPITCH = 3 (absolute values)
            self.lib.espeak_SetParameter(1, rate, 0)
            self.lib.espeak_SetParameter(3, pitch, 0)
            self.chunks = []
            data = text.encode("utf-8")
            buffer = ctypes.create_string_buffer(data)
            # POS_CHARACTER = 1, espeakCHARS_UTF8 = 1
            if self.lib.espeak_Synth(buffer, len(data) + 1, 0, 1, 0, 1, None, None) != 0:
                raise RuntimeError(f"espeak-ng failed to synthesise {text[:40]!r}")
            samples = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0


def synthesise(text: str, voice: str = "en-us", rate: int = 170, pitch: int = 50) -> tuple[np.ndarray, int]:
    """Speak ``text`` with espeak-ng: ``(waveform [T] float32 in [-1, 1], 22050)``.

    Args:
        text: what to say.
        voice: an espeak-ng voice name, optionally with a variant (``"en-us+f2"``).
        rate: words per minute (80-450).
        pitch: base pitch, 0-99.
    """
    if not text.strip():
        raise ValueError("synthesise got an empty text; give words to speak")
    if not 80 <= rate <= 450 or not 0 <= pitch <= 99:
        raise ValueError(f"rate must be in [80, 450] words per minute and pitch in [0, 99], got {rate}, {pitch}")
    waveform = _Espeak.get().synth(text, voice, rate, pitch)
    if waveform.size == 0:
        raise ValueError(f"espeak-ng produced no audio for {text[:40]!r} with voice {voice!r}")
    return waveform, ESPEAK_RATE


# ---------------------------------------------------------------------------------------------
# texts and room acoustics


def digit_text(rng: np.random.Generator, min_digits: int = 1, max_digits: int = 5) -> str:
    """A spoken digit string of ``min_digits``..``max_digits`` digits, e.g. ``"THREE ONE FOUR"``."""
    count = int(rng.integers(min_digits, max_digits + 1))
    return " ".join(DIGIT_WORDS[int(d)] for d in rng.integers(0, 10, count))


def sentence_text(rng: np.random.Generator) -> str:
    """A short sentence of the grammar DET [ADJ] NOUN VERB DET [ADJ] NOUN, e.g. ``"THE RED DOG SEES A BALL"``."""

    def phrase() -> list[str]:
        words = [str(rng.choice(_DETERMINERS))]
        if rng.random() < 0.5:
            words.append(str(rng.choice(_ADJECTIVES)))
        return [*words, str(rng.choice(_NOUNS))]

    return " ".join([*phrase(), str(rng.choice(_VERBS)), *phrase()])


def room_noise(
    waveform: torch.Tensor,
    sample_rate: int,
    rng: np.random.Generator,
    snr_db: tuple[float, float] = (10.0, 30.0),
    rt60: tuple[float, float] = (0.1, 0.4),
) -> torch.Tensor:
    """``waveform [T]`` in a room: convolved with a decaying-noise impulse response (RT60 drawn in ``rt60``
    seconds; 60 dB of decay over RT60, the direct path first), plus broadband noise with a 50-150 Hz hum at
    an SNR drawn in ``snr_db`` (``torchaudio.functional.add_noise``). Same length, float32."""
    length = waveform.shape[-1]
    decay_time = float(rng.uniform(*rt60))
    taps = max(2, int(decay_time * sample_rate))
    t = torch.arange(taps, dtype=torch.float32) / sample_rate
    # amplitude falls 60 dB (a factor 1000) over rt60: exp(-6.9 t / rt60)
    rir = torch.from_numpy(rng.standard_normal(taps).astype(np.float32)) * torch.exp(-math.log(1000.0) * t / decay_time)
    rir[0] = 1.0
    rir = rir / rir.norm()
    wet = torchaudio.functional.fftconvolve(waveform, rir)[..., :length]
    snr = torch.tensor([float(rng.uniform(*snr_db))])
    noise = hum_noise(length, sample_rate, rng)
    return torchaudio.functional.add_noise(wet.unsqueeze(0), noise.unsqueeze(0), snr)[0]


def hum_noise(length: int, sample_rate: int, rng: np.random.Generator) -> torch.Tensor:
    """Room noise ``[length]``: white noise plus a hum at a frequency drawn in 50-150 Hz, 3x its amplitude."""
    clock = torch.arange(length, dtype=torch.float32) / sample_rate
    hum = torch.sin(2 * math.pi * float(rng.uniform(50.0, 150.0)) * clock + float(rng.uniform(0, 2 * math.pi)))
    return torch.from_numpy(rng.standard_normal(length).astype(np.float32)) + 3.0 * hum


# ---------------------------------------------------------------------------------------------
# writing a folder once


def _options_folder(prefix: str, options: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
    return generated_cache() / f"{prefix}-{digest}"


# ---------------------------------------------------------------------------------------------
# the LibriSpeech-layout corpus


def _check_counts(counts: Mapping[str, int], valid: Sequence[str], what: str) -> dict[str, int]:
    unknown = [s for s in counts if s not in valid]
    if unknown:
        raise ValueError(f"unknown {what} split {unknown[0]!r}; valid: {', '.join(valid)}")
    if any(int(n) < 1 for n in counts.values()) or not counts:
        raise ValueError(f"{what} counts must be >= 1 per split and name at least one split, got {dict(counts)}")
    return {s: int(counts[s]) for s in valid if s in counts}


def write_espeak_librispeech(
    folder: str | Path,
    utterances: Mapping[str, int] | None = None,
    kind: Literal["digits", "sentences"] = "digits",
    speakers: Sequence[EspeakSpeaker] = DEFAULT_SPEAKERS,
    sample_rate: int = 16000,
    min_digits: int = 1,
    max_digits: int = 5,
    snr_db: tuple[float, float] = (10.0, 30.0),
    rt60: tuple[float, float] = (0.1, 0.4),
    seed: int = 0,
    progress: bool = True,
    room: bool = True,
) -> Path:
    """Write the espeak-ng corpus in the LibriSpeech layout under ``folder/LibriSpeech/<split>/`` (module docstring).

    Args:
        folder: the corpus folder (written once; reused when written with the same options).
        utterances: utterances per split, keys among ``train-clean-100``, ``dev-clean``, ``test-clean``
            (default 2000 / 200 / 200).
        kind: ``"digits"`` (digit strings of ``min_digits``..``max_digits`` digits) or ``"sentences"``.
        speakers: the voices; utterance ``n`` of a split is spoken by speaker ``n mod len(speakers)``
            (speaker id ``100 + index``), so every split has every speaker.
        sample_rate: of the written FLACs.
        snr_db, rt60: the ranges of the room noise (:func:`room_noise`).
        seed: with the split and the utterance index, seeds each utterance's draws.
        progress: show a progress bar.
        room: put each utterance in a room (:func:`room_noise`: reverberation and noise, for recognition);
            False writes the dry voices (``snr_db`` and ``rt60`` unused), the sources the separation mixtures
            take, as LibriMix takes clean read speech and WSJ0-2mix anechoic speech.

    Returns:
        ``folder``; ``read_librispeech_split(folder / "LibriSpeech" / split)`` reads it.
    """
    counts = _check_counts(
        utterances or {"train-clean-100": 2000, "dev-clean": 200, "test-clean": 200}, _SPEECH_SPLITS, "utterance"
    )
    if kind not in ("digits", "sentences"):
        raise ValueError(f"kind must be 'digits' or 'sentences', got {kind!r}")
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"need 1 <= min_digits <= max_digits, got {min_digits}, {max_digits}")
    if not speakers:
        raise ValueError("speakers is empty; give at least one EspeakSpeaker")
    speakers = [s if isinstance(s, EspeakSpeaker) else EspeakSpeaker(**s) for s in speakers]
    options = dict(
        format=_FORMAT_VERSION,
        writer="write_espeak_librispeech",
        utterances=counts,
        kind=kind,
        speakers=[asdict(s) for s in speakers],
        sample_rate=sample_rate,
        min_digits=min_digits,
        max_digits=max_digits,
        snr_db=list(snr_db),
        rt60=list(rt60),
        seed=seed,
    )
    if not room:
        # only when off, so the folders written before this option keep their options (and their cache key)
        options["room"] = False

    def write(tmp: Path) -> None:
        bar = tqdm(total=sum(counts.values()), desc="espeak-ng corpus", unit="utt", disable=not progress)
        for split_index, (split, count) in enumerate(counts.items()):
            # one chapter per speaker and split: <split code><kind code>
            chapter = str(10 * (_SPEECH_SPLITS.index(split) + 1) + (1 if kind == "digits" else 2))
            lines: dict[Path, list[str]] = {}
            for n in range(count):
                rng = np.random.default_rng([seed, split_index, n])
                speaker_index = n % len(speakers)
                speaker = speakers[speaker_index]
                text = digit_text(rng, min_digits, max_digits) if kind == "digits" else sentence_text(rng)
                rate = int(np.clip(speaker.rate + rng.integers(-20, 21), 80, 450))
                pitch = int(np.clip(speaker.pitch + rng.integers(-8, 9), 0, 99))
                audio, espeak_rate = synthesise(text, speaker.name, rate, pitch)
                waveform = torchaudio.functional.resample(torch.from_numpy(audio), espeak_rate, sample_rate)
                if room:
                    waveform = room_noise(waveform, sample_rate, rng, snr_db, rt60)
                waveform = waveform * (float(rng.uniform(0.3, 0.9)) / waveform.abs().max().clamp_min(1e-6))
                speaker_id = str(100 + speaker_index)
                chapter_dir = tmp / "LibriSpeech" / split / speaker_id / chapter
                utt_id = f"{speaker_id}-{chapter}-{n:04d}"
                write_audio(chapter_dir / f"{utt_id}.flac", waveform, sample_rate)
                lines.setdefault(chapter_dir / f"{speaker_id}-{chapter}.trans.txt", []).append(f"{utt_id} {text}")
                bar.update()
            for path, transcript in lines.items():
                path.write_text("\n".join(transcript) + "\n")
        bar.close()

    return write_once(Path(folder), options, "write_espeak_librispeech", write)


def espeak_librispeech(folder: str | Path | None = None, **options: Any) -> Path:
    """:func:`write_espeak_librispeech` into ``folder``, or into a folder of :func:`generated_cache` named by
    the options; returns the corpus folder (holding ``LibriSpeech/<split>/``)."""
    if folder is None:
        key = {k: v for k, v in options.items() if k != "progress"}
        folder = _options_folder("espeak-librispeech", json.loads(json.dumps(key, default=_jsonable)))
    return write_espeak_librispeech(folder, **options)


def _jsonable(value: Any) -> Any:
    if isinstance(value, EspeakSpeaker):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# ---------------------------------------------------------------------------------------------
# the LibriMix-layout mixtures


def _rms_db(x: torch.Tensor) -> float:
    return 20.0 * math.log10(max(float(x.pow(2).mean().sqrt()), 1e-8))


def write_espeak_librimix(
    folder: str | Path,
    speech: str | Path,
    mixtures: Mapping[str, int] | None = None,
    n_src: int = 2,
    sample_rate: int = 8000,
    mode: Literal["min", "max"] = "min",
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Mix the utterances of the LibriSpeech-layout corpus ``speech`` into ``folder/Libri<n_src>Mix/wav<k>/<mode>/``.

    Args:
        folder: the mixtures' folder (written once; reused when written with the same options).
        speech: a folder holding ``LibriSpeech/{train-clean-100,dev-clean,test-clean}`` (e.g. from
            :func:`espeak_librispeech`), read with :func:`~recur_speech.data.librispeech.read_librispeech_split`.
        mixtures: mixtures per split, keys among ``train-100``, ``dev``, ``test`` (default 1000 / 100 / 100).
        n_src: speakers per mixture (each mixture takes ``n_src`` different speakers).
        sample_rate: 8000 or 16000 (``wav8k`` / ``wav16k``).
        mode: ``"min"`` (cut to the shortest utterance) or ``"max"`` (zero-pad to the longest).
        seed: with the split and the mixture index, seeds each mixture's draws.
        progress: show a progress bar.

    Returns:
        ``folder``; ``read_librimix(folder / f"Libri{n_src}Mix/wav8k/min", split)`` reads it.
    """
    counts = _check_counts(mixtures or {"train-100": 1000, "dev": 100, "test": 100}, tuple(_MIX_SPLITS), "mixture")
    if sample_rate not in (8000, 16000):
        raise ValueError(f"sample_rate must be 8000 or 16000 (LibriMix's wav8k / wav16k), got {sample_rate}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if n_src < 2:
        raise ValueError(f"n_src must be >= 2 speakers per mixture, got {n_src}")
    speech = Path(speech)
    corpora = {split: read_librispeech_split(speech / "LibriSpeech" / _MIX_SPLITS[split]) for split in counts}
    for split, corpus in corpora.items():
        if len(set(corpus.speakers)) < n_src:
            raise ValueError(f"{corpus.folder}: {len(corpus.speakers)} speaker(s); a {split} mixture needs {n_src}")
    marker = speech / MARKER
    options = dict(
        format=_FORMAT_VERSION,
        writer="write_espeak_librimix",
        speech=json.loads(marker.read_text()) if marker.is_file() else str(speech.resolve()),
        mixtures=counts,
        n_src=n_src,
        sample_rate=sample_rate,
        mode=mode,
        seed=seed,
    )
    rate_dir = Path(f"Libri{n_src}Mix") / f"wav{sample_rate // 1000}k" / mode
    source_dirs = [f"s{i}" for i in range(1, n_src + 1)]

    def write(tmp: Path) -> None:
        base = tmp / rate_dir
        bar = tqdm(total=sum(counts.values()), desc="espeak-ng mixtures", unit="mix", disable=not progress)
        for split_index, (split, count) in enumerate(counts.items()):
            utterances = corpora[split].utterances
            by_speaker: dict[str, list[int]] = {}
            for i, u in enumerate(utterances):
                by_speaker.setdefault(u.speaker, []).append(i)
            speakers = sorted(by_speaker, key=int)
            rows: dict[str, list[list[Any]]] = {"mix_clean": [], "mix_both": []}
            for n in range(count):
                rng = np.random.default_rng([seed, split_index, n])
                chosen = [
                    utterances[int(rng.choice(by_speaker[s]))] for s in rng.choice(speakers, n_src, replace=False)
                ]
                signals = []
                for u in chosen:
                    audio, rate = read_audio(u.path)
                    audio = torchaudio.functional.resample(audio, rate, sample_rate)
                    signals.append(audio * 10 ** ((rng.uniform(-33, -25) - _rms_db(audio)) / 20))
                length = min(s.shape[0] for s in signals) if mode == "min" else max(s.shape[0] for s in signals)
                signals = [torch.nn.functional.pad(s[:length], (0, length - min(length, s.shape[0]))) for s in signals]
                noise = hum_noise(length, sample_rate, rng)
                noise = noise * 10 ** ((rng.uniform(-38, -30) - _rms_db(noise)) / 20)
                clean = torch.stack(signals).sum(0)
                peak = max(float(clean.abs().max()), float((clean + noise).abs().max()))
                scale = 0.9 / peak if peak > 0.9 else 1.0
                mix_id = "_".join(u.id for u in chosen)
                name = f"{mix_id}.wav"
                paths = [Path(split) / d / name for d in source_dirs]
                for path, signal in zip(paths, signals):
                    write_audio(base / path, signal * scale, sample_rate)
                write_audio(base / split / "noise" / name, noise * scale, sample_rate)
                write_audio(base / split / "mix_clean" / name, clean * scale, sample_rate)
                write_audio(base / split / "mix_both" / name, (clean + noise) * scale, sample_rate)
                rows["mix_clean"].append([mix_id, f"{split}/mix_clean/{name}", *map(str, paths), length])
                rows["mix_both"].append(
                    [mix_id, f"{split}/mix_both/{name}", *map(str, paths), f"{split}/noise/{name}", length]
                )
                bar.update()
            (base / "metadata").mkdir(parents=True, exist_ok=True)
            sources = [f"source_{i}_path" for i in range(1, n_src + 1)]
            for kind, header in (
                ("mix_clean", ["mixture_ID", "mixture_path", *sources, "length"]),
                ("mix_both", ["mixture_ID", "mixture_path", *sources, "noise_path", "length"]),
            ):
                with (base / "metadata" / f"mixture_{split}_{kind}.csv").open("w", newline="") as handle:
                    out = csv.writer(handle)
                    out.writerow(header)
                    out.writerows(rows[kind])
        bar.close()

    return write_once(Path(folder), options, "write_espeak_librimix", write)


def espeak_librimix(folder: str | Path | None = None, speech: str | Path | None = None, **options: Any) -> Path:
    """:func:`write_espeak_librimix` of ``speech`` (default: :func:`espeak_librispeech` with its defaults) into
    ``folder``, or into a folder of :func:`generated_cache` named by the options; returns the mixtures' folder."""
    if speech is None:
        speech = espeak_librispeech(progress=options.get("progress", True))
    if folder is None:
        marker = Path(speech) / MARKER
        key = {k: v for k, v in options.items() if k != "progress"}
        key["speech"] = marker.read_text() if marker.is_file() else str(Path(speech).resolve())
        folder = _options_folder("espeak-librimix", key)
    return write_espeak_librimix(folder, speech, **options)
