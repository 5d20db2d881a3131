"""Protein sequences for binary classification (the QTN paper's subcellular-location task): a FASTA reader
with labels from the header or a side CSV, and a generator of the embedded default written as FASTA.

Paper: Kundu, Ghosh, Ekambaram, Wang, Dokholyan & Ghosh, "Application of Quantum Tensor Networks for Protein
Classification", 2024, https://arxiv.org/abs/2403.06890: proteins of the cytoplasm/cytosol against those of the
cell membrane, each residue a "word" of the sequence.

Reading (:func:`read_proteins`):

- FASTA through Biopython's ``SimpleFastaParser`` (``biopython==1.88``): the record's id is the first word of
  its header. Residues are read case-insensitively; a terminal ``*`` (stop) is removed.
- Labels: from a side CSV with the columns ``id,label`` (:func:`read_label_csv`; every FASTA id needs a row,
  extra rows are ignored), or from each header by the regular expression ``header_label`` (its first group;
  default ``label=(\\S+)``, e.g. ``>P12345 label=membrane``; for DeepLoc's ``>Q9H400 Cell.membrane-M test``
  use ``^\\S+\\s+(\\S+)``).
- The 20 standard amino acids are tokens 1..20 (:data:`AMINO_ACIDS` order), token 21 is ``X`` (any residue
  outside them), 0 is padding. The letters ``B Z J U O X`` (ambiguous, selenocysteine, pyrrolysine, unknown)
  follow ``unknown``: ``"map"`` (to ``X``, counted in ``mapped``), ``"drop"`` (removed, counted in ``dropped``)
  or ``"error"``. Any other character (a digit, a gap ``-``) is an error whatever the policy.
- Sequences longer than ``max_len`` keep their first ``max_len`` residues (counted in ``truncated``).

Errors are one line naming the file, the record and the fix: a record without a sequence, an unknown residue
under ``unknown="error"``, a label missing for an id, a third class, an empty file, a duplicate id.

Embedded default (:func:`generate_proteins`, :func:`write_generated_proteins`): two classes as the paper's
binary task. ``cytoplasm`` sequences draw residues from a soluble background composition rich in charged
residues, with 0-2 short hydrophobic stretches (5-9 residues: decoys); ``membrane`` sequences draw from a
background slightly poorer in charge and carry 1-3 transmembrane-like segments of 18-24 residues drawn from the
hydrophobic residues (weights ``exp(KD / 2)`` of the Kyte-Doolittle hydropathy ``KD > 0``), each flanked on
one side by a K/R pair (the positive-inside motif). Lengths are uniform in ``length``. Everything is a function
of ``seed``. The set is written once as ``proteins.fasta`` + ``labels.csv`` under the generated cache, so the
FASTA reader above is what trains.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.data.generated import generated_cache, write_once

__all__ = [
    "AMINO_ACIDS",
    "KYTE_DOOLITTLE",
    "NUM_TOKENS",
    "UNKNOWN_RESIDUES",
    "ProteinSequences",
    "collate_proteins",
    "generate_proteins",
    "read_fasta",
    "read_label_csv",
    "read_proteins",
    "tokenize",
    "write_generated_proteins",
]

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
# ambiguous (B: D/N, Z: E/Q, J: I/L), selenocysteine U, pyrrolysine O, unknown X: the token X under unknown="map"
UNKNOWN_RESIDUES = "BZJUOX"
# 20 amino acids and X; ids 1..21, 0 = padding
NUM_TOKENS = len(AMINO_ACIDS) + 1
X_TOKEN = NUM_TOKENS

# Kyte & Doolittle 1982 hydropathy
KYTE_DOOLITTLE = {
    "A": 1.8, "R": -4.5, "N": -3.5, "D": -3.5, "C": 2.5, "Q": -3.5, "E": -3.5, "G": -0.4, "H": -3.2, "I": 4.5,
    "L": 3.8, "K": -3.9, "M": 1.9, "F": 2.8, "P": -1.6, "S": -0.8, "T": -0.7, "W": -0.9, "Y": -1.3, "V": 4.2,
}  # fmt: skip

_LOOKUP = np.zeros(128, dtype=np.int64)  # 0: not a residue
for _i, _a in enumerate(AMINO_ACIDS):
    _LOOKUP[ord(_a)] = _i + 1
for _a in UNKNOWN_RESIDUES:
    _LOOKUP[ord(_a)] = -1  # outside the 20: the unknown policy decides


def tokenize(sequence: str, unknown: str = "map", where: str = "sequence") -> tuple[Tensor, int, int]:
    """Token ids of a protein sequence: ``(ids [T] long, mapped, dropped)``.

    Args:
        sequence: residues, any case; a terminal ``*`` is removed.
        unknown: ``"map"`` (B Z J U O X become token 21), ``"drop"`` or ``"error"``.
        where: names the record in error messages.
    """
    if unknown not in ("map", "drop", "error"):
        raise ValueError(f"unknown must be 'map', 'drop' or 'error', got {unknown!r}")
    text = sequence.upper().removesuffix("*")
    codes = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
    ids = _LOOKUP[np.minimum(codes, 127)]
    ids[codes > 127] = 0
    bad = np.flatnonzero(ids == 0)
    if bad.size:
        char = text[int(bad[0])]
        raise ValueError(
            f"{where}: character {char!r} at position {int(bad[0]) + 1} is not an amino-acid letter; "
            "remove it from the FASTA (only letters and a final '*' are read)"
        )
    outside = ids == -1
    count = int(outside.sum())
    if count and unknown == "error":
        char = text[int(np.flatnonzero(outside)[0])]
        raise ValueError(
            f"{where}: residue {char!r} is not one of the 20 amino acids; pass unknown='map' (to X) or 'drop'"
        )
    if unknown == "drop":
        ids = ids[~outside]
        return torch.from_numpy(ids.copy()), 0, count
    ids[outside] = X_TOKEN
    return torch.from_numpy(ids.copy()), count, 0


def read_fasta(path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """``(id, header, sequence)`` per record of a FASTA file (Biopython's ``SimpleFastaParser``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, text before the first ``>``, a record without a sequence, a duplicate id.
    """
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA file {path} does not exist; pass an existing file (--data.fasta)")
    with path.open() as handle:
        first = next((line for line in handle if line.strip()), None)
        if first is None:
            raise ValueError(f"{path} is empty; a FASTA file holds records that start with '>'")
        if not first.startswith(">"):
            raise ValueError(f"{path} does not start with a '>' header line (got {first.strip()[:30]!r}); is it FASTA?")
        handle.seek(0)
        records, seen = [], {}
        for number, (header, sequence) in enumerate(SimpleFastaParser(handle), start=1):
            words = header.split()
            if not words:
                raise ValueError(f"{path} record {number}: the header line has no id; write '>ID ...'")
            record_id = words[0]
            if not sequence.strip():
                raise ValueError(
                    f"{path} record {number} ({record_id}): has no sequence; remove the record or add its residues"
                )
            if record_id in seen:
                raise ValueError(
                    f"{path} record {number}: id {record_id!r} repeats record {seen[record_id]}; ids must be unique"
                )
            seen[record_id] = number
            records.append((record_id, header, sequence.replace(" ", "")))
    return records


def read_label_csv(path: str | os.PathLike) -> dict[str, str]:
    """``id -> label`` from a CSV with the header ``id,label`` (other columns ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist; pass an existing CSV (--data.labels)")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise ValueError(f"{path} is empty; write a header 'id,label' and one row per sequence")
        missing = [name for name in ("id", "label") if name not in reader.fieldnames]
        if missing:
            raise ValueError(f"{path} has no {' or '.join(missing)} column; its header is {reader.fieldnames}")
        labels = {}
        for row in reader:
            if not (row["id"] or "").strip() or not (row["label"] or "").strip():
                raise ValueError(f"{path} line {reader.line_num}: empty id or label")
            labels[row["id"].strip()] = row["label"].strip()
    if not labels:
        raise ValueError(f"{path} has a header but no rows; write one 'id,label' row per sequence")
    return labels


@dataclass(eq=False)
class ProteinSequences(Dataset):
    """Tokenised proteins with binary labels; item ``i`` is ``(tokens [T_i] long, label)`` (0 or 1).

    Attributes:
        ids, sequences: the records' ids and residues (as read, upper case).
        tokens: token ids per record (1..20 amino acids, 21 X).
        labels: [N] long, the index into ``classes``.
        classes: the two class names; ``classes[1]`` is the positive class.
        mapped, dropped: residues mapped to X / removed under the unknown policy, per record id.
        truncated: records cut to ``max_len``.
    """

    ids: list[str]
    sequences: list[str]
    tokens: list[Tensor]
    labels: Tensor
    classes: tuple[str, str]
    mapped: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.tokens[index], int(self.labels[index])

    def subset(self, indices: list[int] | Tensor) -> ProteinSequences:
        """The records at ``indices``, in that order."""
        indices = [int(i) for i in indices]
        return ProteinSequences(
            ids=[self.ids[i] for i in indices],
            sequences=[self.sequences[i] for i in indices],
            tokens=[self.tokens[i] for i in indices],
            labels=self.labels[indices],
            classes=self.classes,
        )

    def class_counts(self) -> list[int]:
        """Records per class, in ``classes`` order."""
        return torch.bincount(self.labels, minlength=2).tolist()


def read_proteins(
    fasta: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    header_label: str = r"label=(\S+)",
    classes: tuple[str, str] | list[str] | None = None,
    unknown: str = "map",
    max_len: int | None = None,
) -> ProteinSequences:
    """Read a FASTA file with binary labels (see the module docstring).

    Args:
        fasta: the FASTA file.
        labels: a CSV ``id,label``; None reads each label from its header with ``header_label``.
        header_label: a regular expression whose first group is the label, searched in the header line.
        classes: the two class names, negative first; None: the two labels found, sorted.
        unknown: policy for B Z J U O X: ``"map"`` (to X), ``"drop"`` or ``"error"``.
        max_len: keep at most this many residues per sequence (None: all).
    """
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be at least 1 (or None), got {max_len}")
    records = read_fasta(fasta)
    table = read_label_csv(labels) if labels is not None else None
    pattern = re.compile(header_label) if table is None else None
    if pattern is not None and pattern.groups < 1:
        raise ValueError(f"header_label {header_label!r} has no group; write the label's part as (...)")
    names, tokens, sequences = [], [], []
    mapped, dropped, truncated = Counter(), Counter(), 0
    for number, (record_id, header, sequence) in enumerate(records, start=1):
        where = f"{fasta} record {number} ({record_id})"
        if table is not None:
            if record_id not in table:
                raise ValueError(f"{where}: no label for this id in {labels}; add a row '{record_id},<label>'")
            names.append(table[record_id])
        else:
            found = pattern.search(header)
            if found is None:
                raise ValueError(
                    f"{where}: the header {header[:60]!r} has no label matching {header_label!r}; "
                    "write 'label=<name>' in it, pass another header_label, or a labels CSV (--data.labels)"
                )
            names.append(found.group(1))
        ids, n_mapped, n_dropped = tokenize(sequence, unknown, where)
        if n_mapped:
            mapped[record_id] = n_mapped
        if n_dropped:
            dropped[record_id] = n_dropped
        if ids.numel() == 0:
            raise ValueError(f"{where}: no residue left after dropping the unknown ones; pass unknown='map'")
        if max_len is not None and ids.numel() > max_len:
            ids, truncated = ids[:max_len], truncated + 1
        tokens.append(ids)
        sequences.append(sequence.upper().removesuffix("*"))
    found_classes = sorted(set(names))
    if classes is None:
        if len(found_classes) != 2:
            raise ValueError(
                f"{fasta}: binary classification needs exactly 2 labels, found {len(found_classes)} "
                f"({', '.join(found_classes[:6])}); keep two classes' records or name them with --data.classes"
            )
        classes = tuple(found_classes)
    classes = tuple(classes)
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ValueError(f"classes must be two different names, got {list(classes)}")
    other = [name for name in found_classes if name not in classes]
    if other:
        raise ValueError(
            f"{fasta}: label {other[0]!r} is not one of the classes {list(classes)}; remove its records or "
            "change --data.classes"
        )
    index = {name: i for i, name in enumerate(classes)}
    return ProteinSequences(
        ids=[r[0] for r in records],
        sequences=sequences,
        tokens=tokens,
        labels=torch.tensor([index[name] for name in names], dtype=torch.long),
        classes=classes,  # type: ignore[arg-type]
        mapped=mapped,
        dropped=dropped,
        truncated=truncated,
    )


def collate_proteins(items: list[tuple[Tensor, int]]) -> dict[str, Tensor]:
    """Right-pad with 0: ``{"tokens": [B, T] long, "lengths": [B] long, "labels": [B] long}``."""
    lengths = torch.tensor([len(tokens) for tokens, _ in items], dtype=torch.long)
    batch = torch.zeros(len(items), int(lengths.max()), dtype=torch.long)
    for row, (tokens, _) in enumerate(items):
        batch[row, : len(tokens)] = tokens
    return {"tokens": batch, "lengths": lengths, "labels": torch.tensor([label for _, label in items])}


# --- the embedded default ------------------------------------------------------------------------------------

# approximate background frequencies of soluble proteins (UniProt-like), charged residues enriched
_SOLUBLE = {
    "A": 8.0, "R": 6.0, "N": 4.2, "D": 6.0, "C": 1.4, "Q": 4.0, "E": 7.5, "G": 7.0, "H": 2.3, "I": 5.0,
    "L": 8.5, "K": 7.5, "M": 2.2, "F": 3.6, "P": 4.9, "S": 6.8, "T": 5.4, "W": 1.2, "Y": 2.9, "V": 6.3,
}  # fmt: skip
# the membrane class's background: a third less charge (D E K R)
_MEMBRANE = {a: w * (0.67 if a in "DEKR" else 1.0) for a, w in _SOLUBLE.items()}
GENERATED_CLASSES = ("cytoplasm", "membrane")


def _probabilities(weights: dict[str, float]) -> np.ndarray:
    p = np.array([weights.get(a, 0.0) for a in AMINO_ACIDS], dtype=np.float64)
    return p / p.sum()


def _hydrophobic() -> np.ndarray:
    return _probabilities({a: float(np.exp(kd / 2)) for a, kd in KYTE_DOOLITTLE.items() if kd > 0})


def generate_proteins(
    num_sequences: int = 2000,
    seed: int = 0,
    length: tuple[int, int] = (60, 140),
    membrane_fraction: float = 0.4,
    segment_length: tuple[int, int] = (18, 24),
) -> list[tuple[str, str, str]]:
    """The embedded default as ``(id, sequence, label)`` records (see the module docstring)."""
    low, high = length
    if num_sequences < 4:
        raise ValueError(f"num_sequences must be at least 4, got {num_sequences}")
    if not 0.0 < membrane_fraction < 1.0:
        raise ValueError(f"membrane_fraction must lie in (0, 1), got {membrane_fraction}")
    if not (segment_length[1] + 6 <= low <= high and 1 <= segment_length[0] <= segment_length[1]):
        raise ValueError(
            f"length {list(length)} must satisfy longest segment + 6 <= min <= max (segment_length "
            f"{list(segment_length)}); raise length or lower segment_length"
        )
    rng = np.random.default_rng([seed, 1189])
    letters = np.array(list(AMINO_ACIDS))
    soluble, membrane, hydrophobic = _probabilities(_SOLUBLE), _probabilities(_MEMBRANE), _hydrophobic()
    records = []
    for n in range(num_sequences):
        is_membrane = bool(rng.random() < membrane_fraction)
        size = int(rng.integers(low, high + 1))
        residues = rng.choice(letters, size=size, p=membrane if is_membrane else soluble)
        if is_membrane:
            # as many segments (1-3) as slots of longest segment + 6 fit
            count, span = min(int(rng.integers(1, 4)), size // (segment_length[1] + 6)), segment_length
        else:
            count, span = int(rng.integers(0, 3)), (5, 9)
        # segments go into equal slots of the sequence, so they never overlap
        slot = size // max(count, 1)
        for k in range(count):
            seg = int(rng.integers(span[0], span[1] + 1))
            start = k * slot + int(rng.integers(2, slot - seg - 1))
            residues[start : start + seg] = rng.choice(letters, size=seg, p=hydrophobic)
            if is_membrane:
                # positive-inside: a K/R pair on one side of the segment
                flank = start - 2 if rng.random() < 0.5 else start + seg
                residues[flank : flank + 2] = rng.choice(np.array(["K", "R"]), size=2)
        label = GENERATED_CLASSES[int(is_membrane)]
        records.append((f"gen{n:05d}", "".join(residues.tolist()), label))
    return records


def write_generated_proteins(folder: str | os.PathLike | None = None, **options) -> Path:
    """Write :func:`generate_proteins` ``(**options)`` once as ``proteins.fasta`` + ``labels.csv``.

    Args:
        folder: where; default ``<generated cache>/proteins-<hash of the options>``.
        options: arguments of :func:`generate_proteins`.

    Returns:
        the folder.
    """
    full = {
        "num_sequences": 2000,
        "seed": 0,
        "length": [60, 140],
        "membrane_fraction": 0.4,
        "segment_length": [18, 24],
    }
    unknown = sorted(set(options) - set(full))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} of generate_proteins; valid: {', '.join(full)}")
    full.update({k: list(v) if isinstance(v, tuple) else v for k, v in options.items()})
    if folder is None:
        key = "-".join(str(full[k]).replace(" ", "").replace(",", "_").strip("[]") for k in sorted(full))
        folder = generated_cache() / f"proteins-{key}"

    def write(tmp: Path) -> None:
        records = generate_proteins(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in full.items()}  # type: ignore[arg-type]
        )
        with (tmp / "proteins.fasta").open("w") as fasta:
            for record_id, sequence, _ in records:
                lines = "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60))
                fasta.write(f">{record_id}\n{lines}\n")
        with (tmp / "labels.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "label"])
            writer.writerows((record_id, label) for record_id, _, label in records)

    return write_once(folder, full, "write_generated_proteins", write)
