"""Speech-separation mixtures in their distributed layouts: Libri2Mix, WSJ0-2mix, scp lists, the MossFormer2 samples.

- **LibriMix** (Cosentino et al. 2020, https://arxiv.org/abs/2005.11262; written by
  https://github.com/JorisCos/LibriMix): ``Libri2Mix/wav{8k,16k}/{min,max}/<split>/{mix_clean,mix_both,
  mix_single,s1,s2,noise}/<mixture id>.wav`` with ``wav{8k,16k}/{min,max}/metadata/mixture_<split>_<type>.csv``
  (columns ``mixture_ID, mixture_path, source_1_path, source_2_path[, noise_path], length``; newer
  versions add ``original_mixture_ID``). The scripts store absolute paths of the machine that wrote the
  set; a path that does not exist here is looked up as ``<split>/<folder>/<file name>`` beside the
  metadata folder, and a relative path is taken relative to the ``wav*/{min,max}`` folder.
- **WSJ0-2mix** (Hershey et al. 2016, https://arxiv.org/abs/1508.04306): ``wav8k/{min,max}/{tr,cv,tt}/
  {mix,s1,s2}/<name>.wav``, a mixture and its sources sharing the file name.
- **scp lists** (as ClearerVoice-Studio's separation recipes read them): one mixture per line,
  ``<mix.wav> <s1.wav> <s2.wav>``, relative paths taken relative to the list's folder.
- **The MossFormer2 samples** (``item<N>_{mix,source1,source2}.wav``), the real Libri2Mix mixtures of
  the shared data.

Every reader returns :class:`Mixture` entries; :class:`MixtureDataset` reads them as ``(mixture [T],
sources [S, T])`` and checks what a separation loss relies on: the mixture and its sources have the same
sample rate and the same length (a source shorter than its mixture is an error; so is a longer one).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from recur_speech.data.audio import read_audio

__all__ = [
    "LIBRIMIX_MIXTURE_TYPES",
    "LIBRIMIX_SPLITS",
    "WSJ0_SPLITS",
    "Mixture",
    "MixtureDataset",
    "collate_mixtures",
    "libri2mix_samples",
    "libri2mix_split",
    "load_mixture",
    "read_librimix",
    "read_librimix_metadata",
    "read_mossformer2_samples",
    "read_scp",
    "read_wsj0_mix",
    "write_scp",
    "wsj0_2mix_split",
]

LIBRIMIX_SPLITS = ("train-360", "train-100", "dev", "test")
LIBRIMIX_MIXTURE_TYPES = ("mix_clean", "mix_both", "mix_single")
WSJ0_SPLITS = ("tr", "cv", "tt")
_SAMPLE_RATES = ("8k", "16k")
_MODES = ("min", "max")


@dataclass(frozen=True)
class Mixture:
    """One mixture: its id, its file, its reference sources (``s1, s2, ...``) and, in LibriMix, its noise."""

    id: str
    mixture: Path
    sources: tuple[Path, ...]
    noise: Path | None = None


def _choice(value: str, valid: Sequence[str], what: str) -> str:
    if value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
    return value


# ---------------------------------------------------------------------------------------------
# LibriMix


def _resolve(recorded: str, base: Path, split_dir: Path, folder: str, csv_path: Path, row: int) -> Path:
    """A metadata path as it is on this machine: as recorded, relative to ``base``, else ``split/folder/name``."""
    if not recorded:
        raise ValueError(f"{csv_path}, row {row}: an empty {folder} path; expected a .wav path in every path column")
    path = Path(recorded)
    if path.is_absolute() and path.is_file():
        return path
    if not path.is_absolute() and (base / path).is_file():
        return base / path
    return split_dir / folder / Path(recorded.replace("\\", "/")).name


def read_librimix_metadata(csv_path: str | Path, split_dir: str | Path | None = None) -> list[Mixture]:
    """Read ``mixture_<split>_<type>.csv`` of a LibriMix set.

    Args:
        csv_path: e.g. ``Libri2Mix/wav8k/min/metadata/mixture_test_mix_clean.csv``.
        split_dir: the folder of the split's audio (default: ``<csv folder>/../<split>``, the split taken
            from the file name); paths recorded on another machine are looked up there.

    Raises:
        FileNotFoundError: the csv is missing.
        ValueError: a missing column (``mixture_ID``, ``mixture_path``, ``source_<i>_path``) or an empty row.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"LibriMix metadata not found: {csv_path}")
    match = re.fullmatch(r"mixture_(.+)_(mix_clean|mix_both|mix_single)\.csv", csv_path.name)
    if split_dir is None:
        if match is None:
            raise ValueError(
                f"{csv_path}: cannot tell the split from the name; name it mixture_<split>_<type>.csv or pass split_dir"
            )
        split_dir = csv_path.parent.parent / match.group(1)
    split_dir, base = Path(split_dir), csv_path.parent.parent
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        n_src = sum(1 for c in columns if re.fullmatch(r"source_\d+_path", c))
        needed = ["mixture_ID", "mixture_path", "source_1_path"]
        missing = [c for c in needed if c not in columns]
        if missing:
            raise ValueError(
                f"{csv_path}: missing column(s) {', '.join(missing)}; expected a LibriMix mixture metadata csv "
                "(mixture_ID, mixture_path, source_1_path, ..., length)"
            )
        mixture_folder = match.group(2) if match else "mix_clean"
        mixtures = []
        for row_number, row in enumerate(reader, start=2):
            mix_id = (row.get("mixture_ID") or "").strip()
            if not mix_id:
                raise ValueError(f"{csv_path}, row {row_number}: no mixture_ID; every row names its mixture")
            args = (base, split_dir)
            mix = _resolve(row["mixture_path"], *args, mixture_folder, csv_path, row_number)
            sources = tuple(
                _resolve(row[f"source_{i}_path"], *args, f"s{i}", csv_path, row_number) for i in range(1, n_src + 1)
            )
            noise = row.get("noise_path")
            mixtures.append(
                Mixture(mix_id, mix, sources, _resolve(noise, *args, "noise", csv_path, row_number) if noise else None)
            )
    return mixtures


def read_librimix(folder: str | Path, split: str = "test", mixture: str = "mix_clean", n_src: int = 2) -> list[Mixture]:
    """The mixtures of one split of a LibriMix ``wav*/{min,max}`` folder.

    With ``metadata/mixture_<split>_<mixture>.csv`` present it is read (:func:`read_librimix_metadata`);
    without it the split's ``<mixture>/*.wav`` are listed and paired by file name with ``s1 .. s<n_src>``
    (and ``noise`` for ``mix_both``/``mix_single``).

    Args:
        folder: e.g. ``<data root>/Libri2Mix/wav8k/min``.
        split: ``train-360``, ``train-100``, ``dev`` or ``test``.
        mixture: ``mix_clean``, ``mix_both`` or ``mix_single`` (``mix_single`` has one source, ``s1``).
        n_src: sources per mixture (Libri2Mix: 2).

    Raises:
        ValueError: an unknown split or mixture type.
        FileNotFoundError: neither the metadata csv nor the ``<split>/<mixture>`` folder is there, or a
            mixture has no source file of the same name.
    """
    _choice(split, LIBRIMIX_SPLITS, "LibriMix split")
    _choice(mixture, LIBRIMIX_MIXTURE_TYPES, "LibriMix mixture type")
    folder = Path(folder)
    metadata = folder / "metadata" / f"mixture_{split}_{mixture}.csv"
    if metadata.is_file():
        return read_librimix_metadata(metadata, folder / split)
    split_dir = folder / split
    mix_dir = split_dir / mixture
    if not mix_dir.is_dir():
        raise FileNotFoundError(
            f"{folder}: neither metadata/{metadata.name} nor {split}/{mixture}/ is there; expected a LibriMix "
            "wav{8k,16k}/{min,max} folder"
        )
    n_sources = 1 if mixture == "mix_single" else n_src
    noisy = mixture != "mix_clean"
    return _paired(mix_dir, [split_dir / f"s{i}" for i in range(1, n_sources + 1)], split_dir / "noise", noisy)


def _paired(mix_dir: Path, source_dirs: list[Path], noise_dir: Path | None, noisy: bool) -> list[Mixture]:
    mixtures = []
    for mix in sorted(mix_dir.glob("*.wav")):
        sources = tuple(d / mix.name for d in source_dirs)
        absent = [s for s in sources if not s.is_file()]
        if absent:
            raise FileNotFoundError(f"{mix}: its source {absent[0]} is missing; each mixture needs s1..sN of its name")
        noise = noise_dir / mix.name if noisy and noise_dir is not None else None
        if noise is not None and not noise.is_file():
            raise FileNotFoundError(f"{mix}: its noise {noise} is missing; a mix_both/mix_single mixture needs it")
        mixtures.append(Mixture(mix.stem, mix, sources, noise))
    if not mixtures:
        raise FileNotFoundError(f"{mix_dir}: no .wav mixtures")
    return mixtures


def libri2mix_split(
    split: str = "test",
    sample_rate: str = "8k",
    mode: str = "min",
    mixture: str = "mix_clean",
    root: str | os.PathLike | None = None,
) -> list[Mixture]:
    """A split of Libri2Mix under the data root (``<root>/Libri2Mix/wav<rate>/<mode>``); missing, a one-line
    error saying how to make it."""
    from recur_core.data import DatasetNotFoundError, data_root, get_dataset
    from recur_core.data.root import not_found_message

    _choice(sample_rate, _SAMPLE_RATES, "sample rate folder")
    _choice(mode, _MODES, "mode")
    _choice(split, LIBRIMIX_SPLITS, "LibriMix split")
    spec = get_dataset("libri2mix")
    folder = data_root(root) / spec.folder / f"wav{sample_rate}" / mode
    if not (folder / split).is_dir():
        raise DatasetNotFoundError(not_found_message(spec, f"Libri2Mix {split}", folder, manual=True))
    return read_librimix(folder, split, mixture)


# ---------------------------------------------------------------------------------------------
# WSJ0-2mix, scp lists, the MossFormer2 samples


def read_wsj0_mix(folder: str | Path, split: str = "tt", n_src: int = 2) -> list[Mixture]:
    """The mixtures of ``<folder>/<split>/mix/*.wav`` with their ``s1 .. s<n_src>`` of the same name.

    Args:
        folder: a ``wav8k/{min,max}`` (or ``wav16k/...``) folder of WSJ0-2mix.
        split: ``tr``, ``cv`` or ``tt``.
    """
    _choice(split, WSJ0_SPLITS, "WSJ0-2mix split")
    split_dir = Path(folder) / split
    if not (split_dir / "mix").is_dir():
        raise FileNotFoundError(f"{split_dir}: no mix/ folder; expected a WSJ0-2mix wav8k/{{min,max}}/<split> folder")
    return _paired(split_dir / "mix", [split_dir / f"s{i}" for i in range(1, n_src + 1)], None, noisy=False)


def wsj0_2mix_split(
    split: str = "tt", sample_rate: str = "8k", mode: str = "min", root: str | os.PathLike | None = None
) -> list[Mixture]:
    """A split of WSJ0-2mix under the data root (``<root>/wsj0-2mix/wav<rate>/<mode>``); missing, a one-line
    error saying how to make it."""
    from recur_core.data import DatasetNotFoundError, data_root, get_dataset
    from recur_core.data.root import not_found_message

    _choice(sample_rate, _SAMPLE_RATES, "sample rate folder")
    _choice(mode, _MODES, "mode")
    _choice(split, WSJ0_SPLITS, "WSJ0-2mix split")
    spec = get_dataset("wsj0-2mix")
    folder = data_root(root) / spec.folder / f"wav{sample_rate}" / mode
    if not (folder / split / "mix").is_dir():
        raise DatasetNotFoundError(not_found_message(spec, f"wsj0-2mix {split}", folder, manual=True))
    return read_wsj0_mix(folder, split)


def read_scp(path: str | Path, n_src: int = 2) -> list[Mixture]:
    """An scp list: one mixture per line, ``<mix.wav> <s1.wav> ... <s<n_src>.wav>``; blank lines skipped.

    Relative paths are relative to the list's folder. Raises ValueError for a line with another number of
    paths, FileNotFoundError for the list or a listed file that is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"scp list not found: {path}")
    mixtures = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != n_src + 1:
            raise ValueError(
                f"{path}, line {number}: {len(fields)} path(s); expected {n_src + 1}: '<mix.wav> "
                + " ".join(f"<s{i}.wav>" for i in range(1, n_src + 1))
                + "'"
            )
        files = [Path(os.path.normpath(path.parent / f)) for f in fields]
        absent = [f for f in files if not f.is_file()]
        if absent:
            raise FileNotFoundError(f"{path}, line {number}: {absent[0]} does not exist")
        mixtures.append(Mixture(files[0].stem, files[0], tuple(files[1:])))
    if not mixtures:
        raise ValueError(f"{path}: no mixtures; expected one '<mix.wav> <s1.wav> ...' line per mixture")
    return mixtures


def write_scp(path: str | Path, mixtures: Sequence[Mixture], relative: bool = True) -> Path:
    """Write ``mixtures`` as an scp list (paths relative to the list's folder when ``relative``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def show(file: Path) -> str:
        text = os.path.relpath(file, path.parent) if relative else str(Path(file).resolve())
        if any(c.isspace() for c in text):
            raise ValueError(f"{file}: an scp list cannot hold a path with white space; rename the file")
        return text

    path.write_text("".join(" ".join(show(f) for f in (m.mixture, *m.sources)) + "\n" for m in mixtures))
    return path


def read_mossformer2_samples(folder: str | Path) -> list[Mixture]:
    """The ``item<N>_mix.wav`` files of ``folder`` with their ``item<N>_source1.wav`` and ``item<N>_source2.wav``,
    ordered by N."""
    folder = Path(folder)
    items = sorted(
        (int(m.group(1)), p) for p in folder.glob("item*_mix.wav") if (m := re.fullmatch(r"item(\d+)_mix\.wav", p.name))
    )
    if not items:
        raise FileNotFoundError(f"{folder}: no item<N>_mix.wav files; expected the MossFormer2 Libri2Mix samples")
    mixtures = []
    for n, mix in items:
        sources = tuple(folder / f"item{n}_source{i}.wav" for i in (1, 2))
        absent = [s for s in sources if not s.is_file()]
        if absent:
            raise FileNotFoundError(f"{mix}: its source {absent[0].name} is missing")
        mixtures.append(Mixture(f"item{n}", mix, sources))
    return mixtures


def libri2mix_samples(root: str | os.PathLike | None = None) -> list[Mixture]:
    """The 36 MossFormer2 Libri2Mix samples under the data root (``libri2mix-samples``)."""
    from recur_core.data import dataset_dir

    return read_mossformer2_samples(dataset_dir("libri2mix-samples", root) / "MossFormer2_samples_Libri2Mix")


# ---------------------------------------------------------------------------------------------
# reading the audio


def load_mixture(entry: Mixture, sample_rate: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Read one mixture: ``(mixture [T], sources [S, T], sample_rate)``.

    Raises:
        ValueError: an unreadable or empty file, a rate other than ``sample_rate``, a source whose sample
            rate differs from its mixture's, or a source shorter (or longer) than its mixture.
    """
    mix, rate = read_audio(entry.mixture, sample_rate)
    sources = []
    for path in entry.sources:
        source, source_rate = read_audio(path)
        if source_rate != rate:
            raise ValueError(
                f"{path}: sample rate {source_rate} Hz differs from its mixture {entry.mixture.name} ({rate} Hz); "
                "take the sources from the same wav8k/wav16k folder as the mixture"
            )
        if source.shape[0] != mix.shape[0]:
            relation = "shorter" if source.shape[0] < mix.shape[0] else "longer"
            raise ValueError(
                f"{path}: {source.shape[0]} samples, {relation} than its mixture {entry.mixture.name} "
                f"({mix.shape[0]}); a mixture and its sources must be sample-aligned and of one length"
            )
        sources.append(source)
    return mix, torch.stack(sources), rate


class MixtureDataset(Dataset):
    """Mixtures as ``(mixture [T], sources [S, T])``, checked by :func:`load_mixture`.

    Args:
        mixtures: entries from any reader of this module.
        sample_rate: the rate every file must have (None: any, but one per mixture).
    """

    def __init__(self, mixtures: Sequence[Mixture], sample_rate: int | None = None) -> None:
        self.mixtures = tuple(mixtures)
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.mixtures)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        mix, sources, _ = load_mixture(self.mixtures[index], self.sample_rate)
        return mix, sources


def collate_mixtures(
    batch: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-pad to the longest: ``(mixtures [B, T_max], sources [B, S, T_max], lengths [B])``."""
    lengths = torch.tensor([mix.shape[0] for mix, _ in batch], dtype=torch.long)
    longest = int(lengths.max())
    mixes = torch.zeros(len(batch), longest)
    sources = torch.zeros(len(batch), batch[0][1].shape[0], longest)
    for i, (mix, src) in enumerate(batch):
        mixes[i, : mix.shape[0]] = mix
        sources[i, :, : src.shape[1]] = src
    return mixes, sources, lengths
