"""DataModules of recur_speech: transcribed speech in the LibriSpeech layout as log-mel features, in length buckets.

:class:`SpeechRecognitionData` reads one corpus in the LibriSpeech layout
(``LibriSpeech/<split>/<speaker>/<chapter>/*.flac`` + ``*.trans.txt``) with the real reader
(:mod:`recur_speech.data.librispeech`), whichever corpus it is:

- ``espeak_digits`` / ``espeak_sentences`` (the default, no download): the espeak-ng corpus of
  :mod:`recur_speech.data.espeak_corpus`, spoken digit strings or short sentences over 8 voices with
  drawn rates, pitches and rooms, written once under the user cache and reused;
- a catalogued LibriSpeech dataset by name, under the data root (``RECUR_DATA``): ``librispeech``
  (``recur data fetch librispeech``) or ``librispeech_sample`` (the shared data's four test-clean
  utterances); a missing one is a one-line error saying how to get it.

Items are the Emformer RNN-T recipe's 80-d log-mel features (:class:`~recur_speech.data.features.LogMel`),
computed when read. What the model needs from the training split comes from here too: the
vocabulary (:meth:`SpeechRecognitionData.vocabulary`, characters or sentencepiece BPE pieces of the
training transcripts), the global CMVN statistics (:meth:`SpeechRecognitionData.cmvn`) and the most
frequent training transcript (a baseline). :class:`~recur_speech.task.RNNTTask` keeps all three in
its checkpoint, so ``test`` from a checkpoint uses the training run's, whatever data it scores.

Batches hold utterances of similar length (:class:`LengthBatches`), so little of a batch is padding;
the training batches change every epoch as a pure function of ``(seed, epoch)``, so a resumed run
reads the same batches as one that never stopped.

Every audio file of a split is checked when the split is set up (its header: readable, not empty, 16
kHz), so a bad file is a one-line error before training starts, not a traceback in the middle of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler
from torchdata.stateful_dataloader import StatefulDataLoader

from recur_core.engine import RankShard, Split, SplitDataModule
from recur_speech.data.audio import audio_info, read_audio
from recur_speech.data.features import GlobalCMVN, LogMel, compute_global_cmvn
from recur_speech.data.librispeech import (
    LIBRISPEECH_SPLITS,
    SAMPLE_RATE,
    LibriSpeechSplit,
    Utterance,
    librispeech_split,
    read_librispeech_split,
)
from recur_speech.data.vocab import CharVocabulary, SentencePieceVocabulary, Vocabulary

__all__ = ["ESPEAK_DATASETS", "LengthBatches", "SpeechRecognitionData", "TranscribedSpeech", "collate_speech"]

# the generated corpora: dataset name -> espeak_corpus kind
ESPEAK_DATASETS = {"espeak_digits": "digits", "espeak_sentences": "sentences"}


class TranscribedSpeech(Dataset):
    """Utterances as log-mel features: items ``{"id": str, "features": [frames, n_mels], "text": str}``.

    Args:
        utterances: the utterances (from :func:`~recur_speech.data.librispeech.read_librispeech_split`).
        log_mel: the feature extractor.
        sample_rate: the rate every file must have.

    Each file's header is read here (:func:`~recur_speech.data.audio.audio_info`): an unreadable file,
    one of 0 samples, one at another rate or one too short for a single frame is a one-line ValueError
    now, and ``frames`` holds every utterance's feature frames (for length batching) without decoding it.
    """

    def __init__(self, utterances: Sequence[Utterance], log_mel: LogMel, sample_rate: int = SAMPLE_RATE) -> None:
        self.utterances = tuple(utterances)
        self.log_mel = log_mel
        self.sample_rate = sample_rate
        frames = []
        for utterance in self.utterances:
            rate, samples = audio_info(utterance.path)
            if samples == 0:
                raise ValueError(
                    f"{utterance.path}: empty audio (0 samples); re-create the file or remove it from the dataset"
                )
            if rate != sample_rate:
                raise ValueError(
                    f"{utterance.path}: sample rate {rate} Hz; expected {sample_rate} Hz (resample the dataset)"
                )
            frames.append(int(log_mel.frames(samples)))
        self.frames = frames

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> dict[str, Any]:
        utterance = self.utterances[index]
        waveform, _ = read_audio(utterance.path, self.sample_rate)
        return {"id": utterance.id, "features": self.log_mel(waveform), "text": utterance.transcript}


def collate_speech(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pad features along time: ``{"features": [B, T_max, n_mels], "lengths": [B], "texts": [...], "ids": [...]}``."""
    features = [item["features"] for item in items]
    return {
        "features": torch.nn.utils.rnn.pad_sequence(features, batch_first=True),
        "lengths": torch.tensor([f.shape[0] for f in features], dtype=torch.long),
        "texts": [item["text"] for item in items],
        "ids": [item["id"] for item in items],
    }


class LengthBatches(Sampler[list[int]]):
    """Batches of utterances of similar length (a batch sampler), drawn anew each epoch from ``(seed, epoch)``.

    Shuffled (training): the utterances in a random order are cut into pools of ``pool`` batches, each
    pool is sorted by length and cut into batches, and the batches are shuffled — the "sortish"
    bucketing of fairseq and ESPnet: batches of similar lengths, different batches every epoch. Lightning
    calls :meth:`set_epoch` before each epoch; nothing carries over between epochs, so a loader rebuilt
    after a restart yields the same batches (as :class:`~recur_core.engine.EpochShuffle`).
    Not shuffled (val, test): sorted by length, longest first, cut into batches: the same every time.

    Args:
        lengths: frames of every utterance.
        batch_size: utterances per batch (the last batch of a pool may be smaller).
        seed: the batches of every epoch follow from it.
        shuffle: draw new batches each epoch.
        pool: batches per sorted pool.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, shuffle: bool, pool: int = 50) -> None:
        if batch_size < 1 or pool < 1:
            raise ValueError(f"batch_size and pool must be at least 1, got {batch_size}, {pool}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.pool = pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch``."""
        size = self.batch_size
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            return [order[i : i + size].tolist() for i in range(0, len(order), size)]
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        batches = []
        for start in range(0, len(order), size * self.pool):
            chunk = order[start : start + size * self.pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + size].tolist() for i in range(0, len(chunk), size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        epoch = self.epoch
        yield from self.batches(epoch)
        # only an epoch read to its end moves on: loaders create iterators they never use
        self.epoch = epoch + 1

    def __len__(self) -> int:
        size, pool = self.batch_size, self.batch_size * self.pool
        if not self.shuffle:
            return -(-len(self.lengths) // size)
        full, rest = divmod(len(self.lengths), pool)
        return full * self.pool + -(-rest // size)


class SpeechRecognitionData(SplitDataModule):
    """Transcribed speech in the LibriSpeech layout as 80-d log-mel features (module docstring).

    Args:
        dataset: ``espeak_digits`` or ``espeak_sentences`` (generated once under the user cache), or a
            catalogued LibriSpeech dataset under the data root: ``librispeech``, ``librispeech_sample``.
        train_split, val_split, test_split: LibriSpeech split folders (the espeak corpus writes
            ``train-clean-100``, ``dev-clean`` and ``test-clean``; the shared sample has only ``test-clean``).
        utterances: espeak only: utterances per split (default 2000 / 200 / 200 for the three splits).
        min_digits, max_digits: espeak digits only: digits per utterance.
        corpus_seed: espeak only: seeds the corpus's texts, voices, rates and rooms.
        vocabulary: ``"char"`` (the characters of the training transcripts) or ``"sentencepiece"``
            (BPE pieces trained on them).
        vocab_size: sentencepiece pieces (``<unk>`` included; the blank is added to them).
        n_mels: log-mel bins.
        cmvn_utterances: the CMVN statistics are computed on at most this many training utterances,
            evenly spaced over the split (all of them when the split is smaller).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
        pool: batches per sorted pool of the training batches (:class:`LengthBatches`).
    """

    def __init__(
        self,
        dataset: str = "espeak_digits",
        train_split: str = "train-clean-100",
        val_split: str = "dev-clean",
        test_split: str = "test-clean",
        utterances: dict[str, int] | None = None,
        min_digits: int = 1,
        max_digits: int = 5,
        corpus_seed: int = 0,
        vocabulary: Literal["char", "sentencepiece"] = "char",
        vocab_size: int = 256,
        n_mels: int = 80,
        cmvn_utterances: int = 2000,
        *,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        pool: int = 50,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        self.splits: dict[Split, str] = {"train": train_split, "val": val_split, "test": test_split}
        self.espeak = dataset in ESPEAK_DATASETS
        if self.espeak:
            counts = utterances or {"train-clean-100": 2000, "dev-clean": 200, "test-clean": 200}
            missing = sorted({s for s in self.splits.values() if s not in counts})
            if missing:
                raise ValueError(
                    f"the {dataset} corpus has splits {sorted(counts)}, not {missing}; set --data.utterances for "
                    "them or choose splits among these"
                )
            self.corpus_options = dict(
                utterances=dict(counts),
                kind=ESPEAK_DATASETS[dataset],
                min_digits=min_digits,
                max_digits=max_digits,
                seed=corpus_seed,
            )
        else:
            from recur_core.data import get_dataset

            catalogued = dataset.replace("_", "-")
            try:
                get_dataset(catalogued)
            except ValueError:
                known = ", ".join([*ESPEAK_DATASETS, "librispeech", "librispeech_sample"])
                raise ValueError(f"unknown dataset {dataset!r}; valid: {known}") from None
            if utterances is not None:
                raise ValueError(f"--data.utterances sets the size of an espeak corpus; {dataset} is read as it is")
            unknown = sorted({s for s in self.splits.values() if s not in LIBRISPEECH_SPLITS})
            if unknown:
                raise ValueError(f"unknown LibriSpeech split {unknown[0]!r}; valid: {', '.join(LIBRISPEECH_SPLITS)}")
            self.corpus_options = {"dataset": catalogued}
        if vocabulary not in ("char", "sentencepiece"):
            raise ValueError(f"vocabulary must be 'char' or 'sentencepiece', got {vocabulary!r}")
        if vocab_size < 2 or cmvn_utterances < 1 or pool < 1:
            raise ValueError(
                f"vocab_size must be >= 2 and cmvn_utterances, pool >= 1, got {vocab_size}, {cmvn_utterances}, {pool}"
            )
        self.dataset_name = dataset
        self.vocabulary_kind = vocabulary
        self.vocab_size = vocab_size
        self.n_mels = n_mels
        self.cmvn_utterances = cmvn_utterances
        self.pool = pool
        self.log_mel = LogMel(SAMPLE_RATE, n_mels)
        self._transcripts: dict[Split, LibriSpeechSplit] = {}

    # ----- the corpus --------------------------------------------------------------------------------

    @cached_property
    def corpus_folder(self) -> Path | None:
        """The generated corpus's folder (written on first use), or None for a dataset under the data root."""
        if not self.espeak:
            return None
        from recur_speech.data.espeak_corpus import espeak_librispeech

        return espeak_librispeech(**self.corpus_options)

    def transcripts(self, split: Split) -> LibriSpeechSplit:
        """The utterances and transcripts of ``split`` (its audio not read)."""
        if split not in self._transcripts:
            folder = self.splits[split]
            if self.corpus_folder is not None:
                self._transcripts[split] = read_librispeech_split(self.corpus_folder / "LibriSpeech" / folder)
            else:
                self._transcripts[split] = librispeech_split(folder, dataset=self.corpus_options["dataset"])
        return self._transcripts[split]

    def make_dataset(self, split: Split) -> TranscribedSpeech:
        return TranscribedSpeech(self.transcripts(split).utterances, self.log_mel)

    def collate_fn(self):
        return collate_speech

    def loader(self, split: Split) -> StatefulDataLoader:
        """A resumable loader of length-bucketed batches (:class:`LengthBatches`); only training batches change.

        Under DDP process ``r`` of ``W`` reads batches ``r, r + W, ...`` (:class:`~recur_core.engine.RankShard`;
        the training tail that would leave the processes uneven is dropped)."""
        dataset = self.dataset(split)
        train = split == "train"
        batches = LengthBatches(dataset.frames, self.batch_size, self.seed, self.shuffle and train, self.pool)
        if train:
            batches.set_epoch(self.current_epoch())
        if self.trainer is not None and self.trainer.world_size > 1:
            batches = RankShard(batches, self.trainer.global_rank, self.trainer.world_size, even=train)
        return StatefulDataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            collate_fn=collate_speech,
            generator=torch.Generator().manual_seed(self.seed),
            persistent_workers=self.num_workers > 0,
        )

    # ----- what the model takes from the training split ------------------------------------------------

    def vocabulary(self) -> Vocabulary:
        """The output vocabulary, built from the training transcripts (characters, or sentencepiece BPE)."""
        texts = self.transcripts("train").transcripts
        if self.vocabulary_kind == "char":
            return CharVocabulary.build(texts)
        return SentencePieceVocabulary.train(texts, self.vocab_size)

    def cmvn(self) -> GlobalCMVN:
        """Global CMVN statistics of the training features (at most ``cmvn_utterances``, evenly spaced)."""
        train = self.dataset("train")
        picked = np.unique(np.linspace(0, len(train) - 1, min(len(train), self.cmvn_utterances)).round().astype(int))
        return compute_global_cmvn(train[int(i)]["features"] for i in picked)

    def frequent_transcript(self) -> str:
        """The most frequent training transcript (the first of them in reading order on a tie)."""
        return Counter(self.transcripts("train").transcripts).most_common(1)[0][0]

    def shortest(self, split: Split) -> int:
        """Frames of the shortest utterance of ``split``."""
        return min(self.dataset(split).frames)
