"""LibriSpeech in its distributed layout: ``LibriSpeech/<split>/<speaker>/<chapter>/*.flac`` + ``*.trans.txt``.

Panayotov, Chen, Povey and Khudanpur, *LibriSpeech: an ASR corpus based on public domain audio books*,
ICASSP 2015 (https://www.openslr.org/12). Each chapter folder holds one 16 kHz mono FLAC per utterance,
``<speaker>-<chapter>-<utterance>.flac``, and one transcript file ``<speaker>-<chapter>.trans.txt`` whose
lines are ``<speaker>-<chapter>-<utterance> <UPPER-CASE TRANSCRIPT>``.

The reader follows the transcript files: every transcribed utterance must have its FLAC, and FLACs
without a transcript line are not read (LibriSpeech has none; the shared sample's transcripts were cut
to the utterances present). Audio is read with soundfile (:mod:`recur_speech.data.audio`). The same
reader reads the espeak-ng corpus that :mod:`recur_speech.data.espeak_corpus` writes in this layout.

Errors are one line naming the file: a transcript line without an utterance id (or without text after
it), an id that does not belong to its chapter, a transcribed utterance whose FLAC is missing, and —
when an item is read — an unreadable or empty audio file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from recur_speech.data.audio import read_audio

__all__ = [
    "LIBRISPEECH_SPLITS",
    "LibriSpeechDataset",
    "LibriSpeechSplit",
    "Utterance",
    "collate_waveforms",
    "librispeech_split",
    "read_librispeech_split",
    "read_transcripts",
]

# the official splits (https://www.openslr.org/12), as folder names under LibriSpeech/
LIBRISPEECH_SPLITS = (
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
)
SAMPLE_RATE = 16000
_UTTERANCE_ID = re.compile(r"\d+-\d+-\d+")
_LINE = "expected '<speaker>-<chapter>-<utterance> TRANSCRIPT' (e.g. '1089-134686-0000 HE HOPED')"


@dataclass(frozen=True)
class Utterance:
    """One transcribed utterance: its id ``<speaker>-<chapter>-<n>``, its audio file and its transcript."""

    id: str
    speaker: str
    chapter: str
    path: Path
    transcript: str


@dataclass(frozen=True)
class LibriSpeechSplit:
    """The utterances of one split folder (``.../LibriSpeech/test-clean``), ordered by speaker, chapter, id."""

    folder: Path
    utterances: tuple[Utterance, ...]

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def transcripts(self) -> list[str]:
        return [u.transcript for u in self.utterances]

    @property
    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances}, key=int)


def read_transcripts(path: str | Path) -> dict[str, str]:
    """The ``{utterance id: transcript}`` lines of one ``<speaker>-<chapter>.trans.txt`` file, in file order.

    Blank lines are skipped. Raises ValueError (one line naming the file and line) for a line whose first
    word is not an utterance id ``<speaker>-<chapter>-<n>``, a line with no transcript after its id, and an
    id given twice; FileNotFoundError when the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"transcript file not found: {path}")
    transcripts: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        first, _, text = line.strip().partition(" ")
        if not _UTTERANCE_ID.fullmatch(first):
            raise ValueError(f"{path}, line {number}: {line.strip()[:40]!r} has no utterance id; {_LINE}")
        if not text.strip():
            raise ValueError(f"{path}, line {number}: utterance {first} has no transcript after its id; {_LINE}")
        if first in transcripts:
            raise ValueError(f"{path}, line {number}: utterance {first} is transcribed twice; keep one line per id")
        transcripts[first] = " ".join(text.split())
    return transcripts


def _chapter_utterances(trans: Path) -> list[Utterance]:
    chapter_dir = trans.parent
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    if trans.name != f"{speaker}-{chapter}.trans.txt":
        raise ValueError(
            f"{trans}: a transcript file in {speaker}/{chapter}/ must be named {speaker}-{chapter}.trans.txt"
        )
    utterances = []
    for utt_id, text in read_transcripts(trans).items():
        if not utt_id.startswith(f"{speaker}-{chapter}-"):
            raise ValueError(f"{trans}: utterance {utt_id} is not of speaker {speaker}, chapter {chapter}")
        utterances.append(Utterance(utt_id, speaker, chapter, chapter_dir / f"{utt_id}.flac", text))
    return utterances


def read_librispeech_split(folder: str | Path) -> LibriSpeechSplit:
    """Read the utterances of a LibriSpeech split folder (``<folder>/<speaker>/<chapter>/``).

    Args:
        folder: the split folder, e.g. ``<data root>/librispeech-sample/LibriSpeech/test-clean``.

    Raises:
        FileNotFoundError: ``folder`` has no ``<speaker>/<chapter>/*.trans.txt``, or transcribed
            utterances have no FLAC (the count and the first are named).
        ValueError: a malformed transcript file (see :func:`read_transcripts`).
    """
    folder = Path(folder)
    layout = "expected a LibriSpeech split folder <split>/<speaker>/<chapter>/ with *.flac and *.trans.txt"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; {layout}")
    files = sorted(
        folder.glob("*/*/*.trans.txt"), key=lambda p: (_number(p.parent.parent.name), _number(p.parent.name))
    )
    if not files:
        raise FileNotFoundError(f"{folder}: no <speaker>/<chapter>/*.trans.txt found; {layout}")
    utterances = [u for trans in files for u in _chapter_utterances(trans)]
    missing = [u for u in utterances if not u.path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {len(missing)} transcribed utterance(s) have no audio, the first {missing[0].path}; "
            "restore the .flac files or remove their transcript lines"
        )
    return LibriSpeechSplit(folder, tuple(utterances))


def _number(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (-1, name)


def librispeech_split(
    split: str = "test-clean", root: str | os.PathLike | None = None, dataset: str = "librispeech"
) -> LibriSpeechSplit:
    """A split of a catalogued LibriSpeech dataset under the data root: ``<root>/<folder>/LibriSpeech/<split>``.

    Args:
        split: one of :data:`LIBRISPEECH_SPLITS`.
        root: the data root (None: ``$RECUR_DATA``, else the user cache; see :func:`recur_core.data.data_root`).
        dataset: ``"librispeech"`` (the full corpus, ``recur data fetch librispeech``) or
            ``"librispeech-sample"`` (the four test-clean utterances of the shared data).

    Raises:
        ValueError: an unknown split or dataset.
        DatasetNotFoundError: the split is not there; one line saying how to get it.
    """
    from recur_core.data import DatasetNotFoundError, data_root, get_dataset
    from recur_core.data.root import not_found_message

    if split not in LIBRISPEECH_SPLITS:
        raise ValueError(f"unknown LibriSpeech split {split!r}; valid splits: {', '.join(LIBRISPEECH_SPLITS)}")
    spec = get_dataset(dataset)
    folder = data_root(root) / spec.folder / "LibriSpeech" / split
    if not folder.is_dir():
        raise DatasetNotFoundError(not_found_message(spec, f"LibriSpeech/{split}", folder.parent, spec.manual))
    return read_librispeech_split(folder)


class LibriSpeechDataset(Dataset):
    """Utterances as ``(waveform [T] float32, transcript)``, or ``(transform(waveform), transcript)``.

    Args:
        utterances: a :class:`LibriSpeechSplit` or a sequence of :class:`Utterance`.
        sample_rate: the rate every file must have (LibriSpeech: 16000); None accepts any.
        transform: applied to each waveform (e.g. :class:`recur_speech.data.features.LogMel`).

    Reading an item raises the one-line ValueError of :func:`recur_speech.data.audio.read_audio` for an
    unreadable, empty, multi-channel or wrong-rate file.
    """

    def __init__(
        self,
        utterances: LibriSpeechSplit | Sequence[Utterance],
        sample_rate: int | None = SAMPLE_RATE,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.utterances = tuple(utterances.utterances if isinstance(utterances, LibriSpeechSplit) else utterances)
        self.sample_rate = sample_rate
        self.transform = transform

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        utterance = self.utterances[index]
        waveform, _ = read_audio(utterance.path, self.sample_rate)
        if self.transform is not None:
            waveform = self.transform(waveform)
        return waveform, utterance.transcript


def collate_waveforms(batch: Sequence[tuple[torch.Tensor, str]]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Pad ``(x [T_i, ...], text)`` items along their first dimension: ``(x [B, T_max, ...], lengths [B], texts)``."""
    items = [x for x, _ in batch]
    lengths = torch.tensor([x.shape[0] for x in items], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence(items, batch_first=True)
    return padded, lengths, [text for _, text in batch]
