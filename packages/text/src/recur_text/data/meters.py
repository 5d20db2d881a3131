"""Readers for the poem-meter corpora in their real on-disk formats -> :class:`MeterVerses`.

- MetRec (Al-shaibani, Alyafeai & Ahmad, Pattern Recognition Letters 2020): ``baits.zip`` holding
  ``final_baits/{train,test}.txt`` (one ``<label index> <hemistich> # <hemistich>`` per line) and
  ``final_baits/labels.txt`` (the 14 meter names, in label-index order). Read from the zip in place.
- APCD (Yousef et al., arXiv:1905.05700): CSVs with the columns ``البيت`` (verse), ``الشطر الأيمن``
  and ``الشطر الأيسر`` (right and left hemistich: the first and the second half in reading order)
  and ``البحر`` (meter), in any order, or ``Bayt_Text``/``Bahr`` (halves already joined).
- EPD, the English verses of the same paper: ``Verse``/``Meter`` (or ``Poem_Line``/``Mater``).

Text goes through :func:`recur_text.data.alphabets.clean_verses`; what it mapped and dropped is kept
on the result.
"""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from recur_core.data import dataset_file
from recur_text.data.alphabets import ARABIC, ENGLISH, Alphabet, Policy, clean_verses, join_hemistichs
from recur_text.data.catalogue import METREC
from recur_text.data.encodings import ENCODERS, ENCODINGS

__all__ = ["APCD_METERS", "EMPTY_VERSE", "EPD_METERS", "MeterVerses", "read_apcd_csv", "read_epd_csv", "read_metrec"]

# the 16 classical meters in al-Khalil's order, as the APCD files spell them
APCD_METERS = (
    "الطويل",
    "المديد",
    "البسيط",
    "الوافر",
    "الكامل",
    "الهزج",
    "الرجز",
    "الرمل",
    "السريع",
    "المنسرح",
    "الخفيف",
    "المضارع",
    "المقتضب",
    "المجتث",
    "المتقارب",
    "المتدارك",
)
# EPD's 4 meters; the files spell them in several ways (lower-cased before the lookup)
EPD_METERS = ("iambic", "trochaic", "anapaestic", "dactylic")
_EPD_SPELLINGS = {
    "iambic": 0,
    "trochee": 1,
    "trochaic": 1,
    "anapaest": 2,
    "anapaestic": 2,
    "dactyl": 3,
    "dactylic": 3,
}
_METREC_LABELS = "final_baits/labels.txt"
# the key under which MeterVerses.skipped counts rows whose verse is empty after cleaning
EMPTY_VERSE = "(empty verse)"
OtherMeters = Literal["error", "skip"]


# eq=False: verses compare by identity, as datasets do (field-wise == of tensors is ambiguous)
@dataclass(eq=False)
class MeterVerses(Dataset):
    """Cleaned verses with their meters: item ``i`` is ``(verse, meter index)``, the verse as text or encoded.

    Attributes:
        texts: the cleaned verses.
        labels: meter index per verse ``[N]`` (int64), into ``meters``.
        meters: the meter names, in label-index order.
        alphabet: the alphabet the verses are written in.
        encoding: None (items hold the text), ``one_hot``, ``binary`` or ``two_hot`` (items hold ``[T, D]``).
        mapped, dropped: the characters the cleaning mapped and dropped, with their counts.
        skipped: rows left out, per meter name outside ``meters`` (``other_meters='skip'``) and under
            :data:`EMPTY_VERSE` for rows whose verse is empty after cleaning.
        source: where the verses were read from.
    """

    texts: list[str]
    labels: torch.Tensor
    meters: tuple[str, ...]
    alphabet: Alphabet
    encoding: str | None = None
    mapped: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    source: str = ""

    def __post_init__(self) -> None:
        if self.encoding is not None and self.encoding not in ENCODINGS:
            raise ValueError(f"encoding {self.encoding!r} is not one of None, {', '.join(ENCODINGS)}")

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> tuple[str | torch.Tensor, int]:
        """``(verse, meter index)``: the verse as text, or ``[T, D]`` in :attr:`encoding`."""
        text = self.texts[index]
        verse = text if self.encoding is None else ENCODERS[self.encoding](text, self.alphabet)
        return verse, int(self.labels[index])

    def counts(self) -> torch.Tensor:
        """Verses per meter ``[len(meters)]``."""
        return torch.bincount(self.labels, minlength=len(self.meters))


def _check_separator(separator: str, alphabet: Alphabet) -> None:
    if any(c not in alphabet.symbols for c in separator):
        raise ValueError(
            f"hemistich separator {separator!r} holds characters outside the {alphabet.name} alphabet; use ' '"
        )


def read_metrec(
    split: Literal["train", "test"],
    path: str | Path | None = None,
    root: str | Path | None = None,
    diacritics: bool = False,
    hemistich_separator: str = " ",
    policy: Policy = "drop",
) -> MeterVerses:
    """MetRec's official ``train`` (47,124 verses) or ``test`` (8,316) split, read from ``baits.zip`` in place.

    Args:
        split: ``train`` or ``test``.
        path: the zip; default ``baits.zip`` of the ``metrec`` dataset under the data root ``root``.
        diacritics: keep the diacritics (MetRec's are partial: some verses have none).
        hemistich_separator: what joins the two halves (the file's `` # ``).
        policy: characters outside the Arabic alphabet: ``drop`` (counted) or ``error``.

    Raises:
        FileNotFoundError: the zip, or a member of it, is missing.
        ValueError: not a zip file, an empty split, a line without a label, a label that is not a
            meter index of ``labels.txt``, or an unknown split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"MetRec split {split!r} is not one of 'train', 'test'")
    _check_separator(hemistich_separator, ARABIC)
    path = Path(path) if path is not None else dataset_file(METREC.name, "baits.zip", root, label=METREC.name)
    if not path.is_file():
        raise FileNotFoundError(
            f"MetRec zip {path} not found: pass the path of baits.zip or run 'recur data fetch metrec'"
        )
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"{path} is not a zip file ({error}): download baits.zip again ('recur data fetch metrec')"
        ) from None
    member = f"final_baits/{split}.txt"
    with archive:
        names = set(archive.namelist())
        for needed in (_METREC_LABELS, member):
            if needed not in names:
                raise FileNotFoundError(
                    f"{path} has no {needed}: it is not MetRec's baits.zip ('recur data fetch metrec')"
                )
        meters = archive.read(_METREC_LABELS).decode("utf-8-sig").split()
        lines = archive.read(member).decode("utf-8-sig").splitlines()
    labels, texts = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label, _, verse = line.strip().partition(" ")
        if not label.isdigit() or int(label) >= len(meters):
            raise ValueError(
                f"{path}:{member} line {number}: label {label!r} is not a meter index 0-{len(meters) - 1} of labels.txt"
            )
        first, _, second = verse.partition("#")
        labels.append(int(label))
        texts.append(join_hemistichs(first, second, hemistich_separator) if second else verse)
    if not texts:
        raise ValueError(f"{path}:{member} holds no verses: download baits.zip again ('recur data fetch metrec')")
    cleaned = clean_verses(texts, ARABIC, diacritics=diacritics, policy=policy)
    return MeterVerses(
        cleaned.texts,
        torch.tensor(labels, dtype=torch.int64),
        tuple(meters),
        ARABIC,
        mapped=cleaned.mapped,
        dropped=cleaned.dropped,
        source=f"{path}:{member}",
    )


def _read_csv(path: str | Path) -> tuple[Path, list[dict[str, str | None]], list[int], list[str]]:
    """Rows of a CSV as dicts (UTF-8, with or without BOM), the file line each row ends on, and the header."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV {path} not found: check the path, or run 'recur data fetch apcd'")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        rows, lines = [], []
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
        header = list(reader.fieldnames or ())
    if not header or not rows:
        raise ValueError(f"{path} is an empty CSV (no header or no rows): pass a CSV with verses and meters")
    return path, rows, lines, header


def _column(path: Path, header: list[str], choices: Sequence[str], what: str, required: bool = True) -> str | None:
    """The first of ``choices`` in the header; None, or a one-line error when ``required``, if none is."""
    found = next((name for name in choices if name in header), None)
    if found is None and required:
        raise ValueError(f"{path} has no {what} column ({' or '.join(choices)}); its header is {', '.join(header)}")
    return found


def _labels(
    path: Path, meters_read: list[str], lines: list[int], lookup: dict[str, int], what: str, other_meters: OtherMeters
) -> tuple[list[int], list[bool], Counter[str]]:
    """Meter index per row, which rows to keep, and the skipped meters (``other_meters='skip'``)."""
    labels, keep, skipped = [], [], Counter()
    for line, meter in zip(lines, meters_read):
        index = lookup.get(meter)
        if index is None and other_meters == "error":
            raise ValueError(
                f"{path} line {line}: meter {meter!r} is not one of the {what}; "
                "pass other_meters='skip' to leave such rows out"
            )
        if index is None:
            skipped[meter] += 1
        keep.append(index is not None)
        labels.append(-1 if index is None else index)
    return labels, keep, skipped


def read_apcd_csv(
    path: str | Path,
    diacritics: bool = False,
    hemistich_separator: str = " ",
    policy: Policy = "drop",
    other_meters: OtherMeters = "error",
) -> MeterVerses:
    """An APCD CSV (the per-meter aldiwan.net scrapes, ``sample_10.csv``, ``full_sample_100.csv``).

    The columns are found by name: the two hemistichs joined with ``hemistich_separator`` when the file
    has them, else the verse column; meters index :data:`APCD_METERS`.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: an empty CSV, a missing verse or meter column, no verse left, or (with
            ``other_meters='error'``) a meter outside the 16.
    """
    _check_separator(hemistich_separator, ARABIC)
    path, rows, lines, header = _read_csv(path)
    meter_column = _column(path, header, ("البحر", "Bahr"), "meter")
    first = _column(path, header, ("الشطر الأيمن",), "right hemistich", required=False)
    second = _column(path, header, ("الشطر الأيسر",), "left hemistich", required=False)
    if first and second:
        texts = [join_hemistichs(row[first] or "", row[second] or "", hemistich_separator) for row in rows]
    else:
        verse_column = _column(path, header, ("البيت", "Bayt_Text"), "verse")
        texts = [row[verse_column] or "" for row in rows]
    meters_read = [(row[meter_column] or "").strip() for row in rows]
    labels, keep, skipped = _labels(
        path, meters_read, lines, {m: i for i, m in enumerate(APCD_METERS)}, "16 APCD meters", other_meters
    )
    kept = [(text, label) for text, label, k in zip(texts, labels, keep) if k]
    return _finish(path, kept, APCD_METERS, ARABIC, diacritics, policy, skipped)


def read_epd_csv(path: str | Path, policy: Policy = "drop", other_meters: OtherMeters = "error") -> MeterVerses:
    """An English EPD CSV (``downsampled_iambic.csv``, ``english_dataset.csv``, ``dataset.csv``).

    Meters index :data:`EPD_METERS` (iambic, trochaic, anapaestic, dactylic); the files' spellings
    (``trochee``, ``anapaest``, ``dactyl``, any case) are accepted. ``english_dataset.csv`` also holds
    pyrrhic and spondee lines: read it with ``other_meters='skip'``.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: an empty CSV, a missing verse or meter column, no verse left, or (with
            ``other_meters='error'``) a meter outside the 4.
    """
    path, rows, lines, header = _read_csv(path)
    verse_column = _column(path, header, ("Verse", "Poem_Line"), "verse")
    meter_column = _column(path, header, ("Meter", "Mater"), "meter")
    meters_read = [(row[meter_column] or "").strip().lower() for row in rows]
    labels, keep, skipped = _labels(path, meters_read, lines, _EPD_SPELLINGS, "4 EPD meters", other_meters)
    kept = [(row[verse_column] or "", label) for row, label, k in zip(rows, labels, keep) if k]
    return _finish(path, kept, EPD_METERS, ENGLISH, False, policy, skipped)


def _finish(
    path: Path,
    kept: list[tuple[str, int]],
    meters: Sequence[str],
    alphabet: Alphabet,
    diacritics: bool,
    policy: Policy,
    skipped: Counter[str],
) -> MeterVerses:
    if not kept:
        raise ValueError(f"{path} has no verse of the {len(meters)} meters: pass a CSV of those meters")
    texts, labels = zip(*kept)
    cleaned = clean_verses(texts, alphabet, diacritics=diacritics, policy=policy)
    # the real files hold a few rows without a verse (full_sample_100.csv line 1509): left out and counted
    present = [i for i, text in enumerate(cleaned.texts) if text]
    skipped[EMPTY_VERSE] += len(texts) - len(present)
    if not present:
        raise ValueError(f"{path} has no verse that is not empty: pass a CSV with verses")
    return MeterVerses(
        [cleaned.texts[i] for i in present],
        torch.tensor([labels[i] for i in present], dtype=torch.int64),
        tuple(meters),
        alphabet,
        mapped=cleaned.mapped,
        dropped=cleaned.dropped,
        skipped=+skipped,
        source=str(path),
    )
