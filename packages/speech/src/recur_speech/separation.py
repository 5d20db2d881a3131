"""Speech separation end to end: the mixtures (:class:`SeparationData`) and the task (:class:`SeparationModule`).

MossFormer2 (Zhao et al., ICASSP 2024, :mod:`recur_speech.models.mossformer2`) and its baselines (the
MossFormer-only ablation ``mossformer`` and the Conv-TasNet mask network ``conv_tasnet``,
:mod:`recur_speech.models.separation_baselines`) trained as the official recipe trains them: negative
SI-SNR with permutation-invariant training on fixed-length segments (ClearerVoice's 8 kHz recipe cuts
4-s segments; here ``segment_seconds``), scored on whole mixtures with SI-SNRi (validation and test), and
at test also SDRi, PESQ and STOI (:mod:`recur_speech.separation_metrics`).

The data are read in their distributed layouts by :mod:`recur_speech.data.librimix`: the espeak-ng
mixtures (the embedded default, written once under the user cache in the LibriMix layout by
:func:`~recur_speech.data.espeak_corpus.espeak_librimix`), Libri2Mix and WSJ0-2mix under the data root,
the 36 MossFormer2 Libri2Mix samples (a test set), or scp lists. Every mixture's header is checked when a
split is built, so a source at another sample rate than its mixture, or shorter or longer than it, is a
one-line error before training starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.engine import RecurModule, Split, SplitDataModule, check_data_matches
from recur_core.registry import get_model
from recur_speech.data.audio import audio_info, write_audio
from recur_speech.data.librimix import Mixture, load_mixture

# the separators this task offers, registered on import (whatever recur_speech.models imports)
from recur_speech.separation_metrics import (
    pesq_stoi,
    pit_si_snr,
    pit_si_snr_loss,
    reorder_sources,
    sdr_improvement,
    si_snr_improvement,
)

__all__ = ["SeparationData", "SeparationModule", "SeparationSegments", "check_mixture_headers", "plot_separation"]

DATASETS = ("espeak", "libri2mix", "libri2mix-samples", "wsj0-2mix", "scp")
_LIBRIMIX_SPLITS = {"train": "train-360", "val": "dev", "test": "test"}
_ESPEAK_SPLITS = {"train": "train-100", "val": "dev", "test": "test"}
_WSJ0_SPLITS = {"train": "tr", "val": "cv", "test": "tt"}


def check_mixture_headers(entry: Mixture, sample_rate: int | None = None) -> int:
    """The length in samples of ``entry``'s mixture, after checking from the file headers that the mixture
    is at ``sample_rate`` (None: any) and each source has its sample rate and its length.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: an unreadable file, a rate other than ``sample_rate``, a source at another rate than its
            mixture, or a source shorter (longer) than its mixture.
    """
    rate, frames = audio_info(entry.mixture)
    if frames == 0:
        raise ValueError(f"{entry.mixture}: empty audio (0 samples); re-create the file or remove it from the dataset")
    if sample_rate is not None and rate != sample_rate:
        raise ValueError(
            f"{entry.mixture}: sample rate {rate} Hz; expected {sample_rate} Hz (set --data.sample_rate and "
            "--model.sample_rate to the data's, or resample the dataset)"
        )
    for path in entry.sources:
        source_rate, source_frames = audio_info(path)
        if source_rate != rate:
            raise ValueError(
                f"{path}: sample rate {source_rate} Hz differs from its mixture {entry.mixture.name} ({rate} Hz); "
                "take the sources from the same wav8k/wav16k folder as the mixture"
            )
        if source_frames != frames:
            relation = "shorter" if source_frames < frames else "longer"
            raise ValueError(
                f"{path}: {source_frames} samples, {relation} than its mixture {entry.mixture.name} ({frames}); "
                "a mixture and its sources must be sample-aligned and of one length"
            )
    return frames


class SeparationSegments(Dataset):
    """Mixtures as ``{"mixture": [T], "sources": [S, T], "index": mixture index}``, whole or in segments.

    With ``segment`` (samples), each mixture is cut into ``max(1, n // segment)`` consecutive segments
    (the remainder dropped; a mixture shorter than one segment is zero-padded to it), so every item has
    ``T = segment``; without, items are whole mixtures. Headers are checked on construction
    (:func:`check_mixture_headers`).
    """

    def __init__(self, mixtures: Sequence[Mixture], sample_rate: int | None, segment: int | None = None) -> None:
        if not mixtures:
            raise ValueError("no mixtures to read; the dataset's split is empty")
        if segment is not None and segment < 1:
            raise ValueError(f"segment must be a positive number of samples, got {segment}")
        self.mixtures = tuple(mixtures)
        self.sample_rate = sample_rate
        self.segment = segment
        lengths = [check_mixture_headers(m, sample_rate) for m in self.mixtures]
        self.items = [
            (index, start)
            for index, length in enumerate(lengths)
            for start in (range(0, max(1, length // segment) * segment, segment) if segment else (0,))
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> dict[str, Any]:
        index, start = self.items[item]
        mixture, sources, _ = load_mixture(self.mixtures[index], self.sample_rate)
        if self.segment is not None:
            mixture, sources = mixture[start : start + self.segment], sources[:, start : start + self.segment]
            padding = self.segment - mixture.shape[0]
            mixture = torch.nn.functional.pad(mixture, (0, padding))
            sources = torch.nn.functional.pad(sources, (0, padding))
        return {"mixture": mixture, "sources": sources, "index": index}


def _collate(items: list[dict[str, Any]]) -> dict[str, Tensor]:
    """Zero-pad to the longest: ``mixture [B, T]``, ``sources [B, S, T]``, ``lengths [B]``, ``index [B]``."""
    lengths = torch.tensor([item["mixture"].shape[0] for item in items])
    longest = int(lengths.max())
    pad = torch.nn.functional.pad
    return {
        "mixture": torch.stack([pad(item["mixture"], (0, longest - item["mixture"].shape[0])) for item in items]),
        "sources": torch.stack([pad(item["sources"], (0, longest - item["sources"].shape[1])) for item in items]),
        "lengths": lengths,
        "index": torch.tensor([item["index"] for item in items]),
    }


class SeparationData(SplitDataModule):
    """Two-speaker (``n_src``) mixtures with their sources, training on fixed-length segments.

    Args:
        dataset: ``"espeak"`` (the embedded default: espeak-ng digit strings of 8 voices, mixed in the
            LibriMix layout and written once under the user cache; splits train-100 / dev / test),
            ``"libri2mix"`` (``<data root>/Libri2Mix/wav{8k,16k}/<mode>``: train-360 / dev / test),
            ``"libri2mix-samples"`` (the 36 MossFormer2 Libri2Mix samples of the shared data, 8 kHz: a
            test set only), ``"wsj0-2mix"`` (``<data root>/wsj0-2mix/wav8k/<mode>``: tr / cv / tt) or
            ``"scp"`` (``folder/{train,val,test}.scp``, one ``<mix.wav> <s1.wav> <s2.wav>`` per line).
        root: the data root (None: ``$RECUR_DATA``, else the user cache).
        folder: ``espeak``: where the corpus and its mixtures are written (None: the user cache, a folder
            per options); ``scp``: the folder of the lists.
        sample_rate: of every file (8000 or 16000 for the LibriMix layouts; the model's).
        mode: LibriMix / WSJ0-2mix ``min`` or ``max``.
        mixture: LibriMix ``mix_clean`` or ``mix_both`` (with noise).
        n_src: sources per mixture.
        mixtures: espeak mixtures per split (train, val, test).
        utterances: espeak utterances per split of the speech corpus mixed (None: 2000 / 200 / 200, as the
            RNN-T recipes' corpus).
        room: espeak: mix the RNN-T recipes' corpus, whose utterances carry room reverberation and noise
            (shared through the cache), instead of the dry voices (False, the default, as LibriMix mixes
            clean read speech: a source's own reverberation and noise are part of its target, which the
            separator must then reproduce; ``docs/speech.md`` gives what that costs).
        segment_seconds: training segment length.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    def __init__(
        self,
        dataset: Literal["espeak", "libri2mix", "libri2mix-samples", "wsj0-2mix", "scp"] = "espeak",
        root: str | None = None,
        folder: str | None = None,
        sample_rate: int = 8000,
        mode: Literal["min", "max"] = "min",
        mixture: Literal["mix_clean", "mix_both"] = "mix_clean",
        n_src: int = 2,
        mixtures: tuple[int, int, int] = (1000, 100, 100),
        utterances: tuple[int, int, int] | None = None,
        room: bool = False,
        segment_seconds: float = 1.0,
        *,
        batch_size: int = 4,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
        if dataset == "scp" and folder is None:
            raise ValueError("dataset 'scp' reads --data.folder/{train,val,test}.scp; give --data.folder")
        if dataset in ("espeak", "libri2mix", "libri2mix-samples") and sample_rate not in (8000, 16000):
            raise ValueError(f"{dataset} is at 8000 or 16000 Hz (wav8k / wav16k), got sample_rate {sample_rate}")
        if dataset == "libri2mix-samples" and sample_rate != 8000:
            raise ValueError("the MossFormer2 Libri2Mix samples are at 8000 Hz; set --data.sample_rate 8000")
        if n_src < 1:
            raise ValueError(f"n_src must be at least 1, got {n_src}")
        if len(mixtures) != 3 or min(mixtures) < 1:
            raise ValueError(f"mixtures must be 3 counts >= 1 (train, val, test), got {list(mixtures)}")
        if utterances is not None and (len(utterances) != 3 or min(utterances) < 1):
            raise ValueError(f"utterances must be 3 counts >= 1 (train, val, test) or null, got {list(utterances)}")
        if segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {segment_seconds}")
        self.dataset_name = dataset
        self.root, self.folder = root, folder
        self.sample_rate = sample_rate
        self.mode, self.mixture = mode, mixture
        self.n_src = n_src
        self.mixtures = tuple(mixtures)
        self.utterances = tuple(utterances) if utterances is not None else None
        self.room = room
        self.segment_seconds = segment_seconds

    def espeak_folder(self) -> Path:
        """The espeak-ng mixtures' ``wav<k>/<mode>`` folder, written on first use."""
        from recur_speech.data.espeak_corpus import espeak_librimix, espeak_librispeech

        speech_options: dict[str, Any] = {} if self.room else {"room": False}
        if self.utterances is not None:
            speech_options["utterances"] = dict(zip(("train-clean-100", "dev-clean", "test-clean"), self.utterances))
        base = Path(self.folder) if self.folder is not None else None
        # the speech corpus keeps its own seed, so with the room it is the RNN-T recipes' (one cache folder)
        speech = espeak_librispeech(base / "speech" if base else None, **speech_options)
        written = espeak_librimix(
            base / "mixtures" if base else None,
            speech,
            mixtures=dict(zip(("train-100", "dev", "test"), self.mixtures)),
            n_src=self.n_src,
            sample_rate=self.sample_rate,
            mode=self.mode,
            seed=self.seed,
        )
        return written / f"Libri{self.n_src}Mix" / f"wav{self.sample_rate // 1000}k" / self.mode

    def read_split(self, split: Split) -> list[Mixture]:
        """The mixtures of ``split`` (module docstring), read by the readers of :mod:`recur_speech.data.librimix`."""
        from recur_speech.data import librimix

        name = self.dataset_name
        if name == "espeak":
            return librimix.read_librimix(self.espeak_folder(), _ESPEAK_SPLITS[split], self.mixture, self.n_src)
        if name == "libri2mix":
            rate = f"{self.sample_rate // 1000}k"
            return librimix.libri2mix_split(_LIBRIMIX_SPLITS[split], rate, self.mode, self.mixture, self.root)
        if name == "libri2mix-samples":
            if split != "test":
                raise ValueError(
                    "the MossFormer2 Libri2Mix samples are 36 test mixtures; fit with mossformer2/espeak_2mix (or "
                    "--data.dataset libri2mix) and test its checkpoint with this recipe"
                )
            return librimix.libri2mix_samples(self.root)
        if name == "wsj0-2mix":
            return librimix.wsj0_2mix_split(_WSJ0_SPLITS[split], f"{self.sample_rate // 1000}k", self.mode, self.root)
        return librimix.read_scp(Path(self.folder) / f"{split}.scp", self.n_src)

    def make_dataset(self, split: Split) -> Dataset:
        mixtures = self.read_split(split)
        wrong = [m for m in mixtures if len(m.sources) != self.n_src]
        if wrong:
            raise ValueError(f"{wrong[0].mixture}: {len(wrong[0].sources)} source(s); --data.n_src is {self.n_src}")
        segment = round(self.segment_seconds * self.sample_rate) if split == "train" else None
        return SeparationSegments(mixtures, self.sample_rate, segment)

    def collate_fn(self):
        return _collate


def plot_separation(examples: Sequence[dict[str, Any]], sample_rate: int, path: str | Path, n_fft: int = 256) -> Path:
    """Spectrograms (dB) of each example's mixture, estimates and references, one row per example.

    Args:
        examples: ``{"id": str, "mixture": [T], "estimates": [S, T], "references": [S, T]}`` (estimates in the
            references' order).
        sample_rate: for the axes.
        path: the PNG written.
        n_fft: STFT size (hop ``n_fft // 4``), through ``torchaudio.transforms.Spectrogram``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torchaudio

    if not examples:
        raise ValueError("no examples to plot")
    spectrogram = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=n_fft // 4)
    n_src = examples[0]["estimates"].shape[0]
    columns = 1 + 2 * n_src
    fig, axes = plt.subplots(len(examples), columns, figsize=(2.6 * columns, 2.2 * len(examples)), squeeze=False)
    for row, example in zip(axes, examples):
        signals = [("mixture", example["mixture"])]
        signals += [(f"estimate {i + 1}", s) for i, s in enumerate(example["estimates"])]
        signals += [(f"reference {i + 1}", s) for i, s in enumerate(example["references"])]
        for ax, (label, signal) in zip(row, signals):
            power = spectrogram(signal.detach().float().cpu())
            seconds = signal.shape[-1] / sample_rate
            ax.imshow(
                10 * torch.log10(power + 1e-10).numpy(),
                origin="lower",
                aspect="auto",
                extent=(0, seconds, 0, sample_rate / 2000),
                vmin=-80,
                vmax=float(10 * torch.log10(power.max() + 1e-10)),
            )
            ax.set_title(f"{example['id'][:18]}: {label}" if label == "mixture" else label, fontsize=8)
            ax.tick_params(labelsize=6)
        row[0].set_ylabel("kHz", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


class SeparationModule(RecurModule):
    """Speech separation with a registered separation model on :class:`SeparationData`.

    Trains with the negative permutation-invariant SI-SNR (``train/loss``). Validation and test run the
    model on each whole mixture at its own length and log ``<stage>/si_snri`` (which picks the best
    checkpoint), ``<stage>/si_snr`` and ``<stage>/loss``; test also logs ``test/sdri`` and, when
    ``perceptual``, ``test/pesq`` and ``test/stoi``. Test writes the first ``examples`` mixtures' separated
    sources under ``<run>/separated/<id>/`` (``mixture.wav``, ``estimate<i>.wav`` in the references' order,
    ``reference<i>.wav``) and their spectrograms in ``<run>/separated.png``.

    Args:
        model: a registered separation model (``mossformer2``, ``mossformer``, ``conv_tasnet``) built as
            ``get_model(model, n_src=n_src, **model_kwargs)``.
        model_kwargs: its options (``{"size": "paper"}``, ``{"recurrent": False}``, ``{"layer": "lstm"}``...).
        n_src: sources per mixture; must equal the data's.
        sample_rate: of the audio; must equal the data's (PESQ and the written files use it).
        examples: mixtures written as wav files at test.
        perceptual: compute PESQ and STOI at test.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/si_snri"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "mossformer2",
        model_kwargs: dict[str, Any] | None = None,
        n_src: int = 2,
        sample_rate: int = 8000,
        examples: int = 3,
        perceptual: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if "n_src" in (model_kwargs or {}):
            raise ValueError("give the number of sources as --model.n_src (it must equal --data.n_src)")
        if examples < 0:
            raise ValueError(f"examples must be >= 0, got {examples}")
        self.save_hyperparameters()
        self.net = get_model(model, n_src=n_src, **(model_kwargs or {}))
        self._examples: list[dict[str, Any]] = []

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("n_src", "sample_rate"))

    def forward(self, mixture: Tensor) -> Tensor:
        return self.net(mixture)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = pit_si_snr_loss(self(batch["mixture"]), batch["sources"])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["mixture"]))
        return loss

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        """Score each mixture of the batch at its own length (no padding reaches the model), then log the
        batch means weighted by the mixtures scored (PESQ: those it could score)."""
        scores: dict[str, list[Tensor]] = {}
        items = zip(batch["mixture"], batch["sources"], batch["lengths"], batch["index"])
        for mixture, sources, length, index in items:
            mixture, sources = mixture[None, :length], sources[None, :, :length]
            estimates = self(mixture)
            item = {
                "si_snr": pit_si_snr(estimates, sources).si_snr,
                "si_snri": si_snr_improvement(estimates, sources, mixture),
            }
            if stage == "test":
                item["sdri"] = sdr_improvement(estimates, sources, mixture)
                if self.hparams.perceptual:
                    item["pesq"], item["stoi"] = pesq_stoi(estimates, sources, self.hparams.sample_rate)
                if int(index) < self.hparams.examples:
                    self._keep_example(int(index), mixture[0], estimates, sources)
            item["loss"] = -item["si_snr"]
            for name, value in item.items():
                scores.setdefault(name, []).append(value.detach().float().cpu())
        for name, values in scores.items():
            value = torch.cat(values)
            scored = ~torch.isnan(value)
            if scored.any():
                mean = value[scored].mean()
                self.log(f"{stage}/{name}", mean, prog_bar=name == "si_snri", batch_size=int(scored.sum()))

    def _keep_example(self, index: int, mixture: Tensor, estimates: Tensor, sources: Tensor) -> None:
        ordered = reorder_sources(estimates, pit_si_snr(estimates, sources).permutation)[0]
        entry = self.trainer.datamodule.dataset("test").mixtures[index]
        self._examples.append(
            {"id": entry.id, "mixture": mixture.cpu(), "estimates": ordered.cpu(), "references": sources[0].cpu()}
        )

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_start(self) -> None:
        self._examples = []

    def on_test_epoch_end(self) -> None:
        root = getattr(self.trainer, "default_root_dir", None)
        if not self._examples or not root or self.trainer.global_rank != 0:
            return
        run_dir, rate = Path(root), self.hparams.sample_rate
        for example in self._examples:
            folder = run_dir / "separated" / example["id"]
            # one scale for the example's files, so their levels compare as heard
            peak = max(float(example[k].abs().max()) for k in ("mixture", "estimates", "references"))
            scale = 0.9 / peak if peak > 0.9 else 1.0
            write_audio(folder / "mixture.wav", example["mixture"] * scale, rate)
            for i, (estimate, reference) in enumerate(zip(example["estimates"], example["references"]), start=1):
                write_audio(folder / f"estimate{i}.wav", estimate * scale, rate)
                write_audio(folder / f"reference{i}.wav", reference * scale, rate)
        plot_separation(self._examples, rate, run_dir / "separated.png")
        self._examples = []

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> list[Tensor]:
        """The separated sources ``[S, T]`` of each mixture of the batch, at its own length."""
        return [self(m[None, :n])[0] for m, n in zip(batch["mixture"], batch["lengths"])]
