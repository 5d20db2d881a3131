"""Character alphabets of the poem-meter papers and their text cleaning.

Yousef et al., "Learning Meters of Arabic and English Poems With Recurrent Neural Networks"
(arXiv:1905.05700), section 4, and their official code (``hci-lab/LearningMetersPoems``,
``Code/Arabic_Poetry/src/lib/preprossesor.py``, ``two_hot_encoding``):

- Arabic: 36 letters (the 28 of the abjad, the 6 hamza forms ء آ أ إ ؤ ئ, taa marbuta ة and alif
  maqsura ى) and the space; the four diacritics fatha, damma, kasra and sukun each attach to the
  letter before them. Shadda (a doubled letter) and tanween (nunation) are expanded first, as the
  paper does: ``Xّ`` becomes ``Xْ X`` (the first copy silent) and fathatan/dammatan/kasratan become
  fatha/damma/kasra followed by ``نْ``. Without diacritics, every mark (shadda and tanween included)
  is stripped, as the official code's ``strip_tashkeel``.
- English: the 26 lower-case letters, the apostrophe and the space (28 symbols, no diacritics);
  verses are lower-cased.

The policy for characters outside the alphabet: a documented table first maps spelling variants
onto the alphabet (Persian kaf and yeh, alif wasla, the presentation form of shadda, typographic
apostrophes), and every other character is dropped, as the official code's
``re.sub('[^' + alphabet + ']', '', verse)``; both are counted per character in
:class:`CleanedVerses`. ``policy="error"`` raises instead of dropping. Runs of white space become one
space and verses are stripped; a diacritic that follows no letter, or a second one on the same
letter, is dropped and counted too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Literal

import numpy as np

__all__ = ["ARABIC", "ENGLISH", "Alphabet", "CleanedVerses", "clean_verses", "join_hemistichs"]

Policy = Literal["drop", "error"]

FATHA, DAMMA, KASRA, SUKUN, SHADDA = "\u064e", "\u064f", "\u0650", "\u0652", "\u0651"
FATHATAN, DAMMATAN, KASRATAN = "\u064b", "\u064c", "\u064d"
NOON = "\u0646"


@dataclass(frozen=True)
class Alphabet:
    """The symbols a verse is written in, and how each (symbol, diacritic) pair is indexed.

    Args:
        name: what the alphabet is called in errors (``arabic``).
        letters: the symbols that may carry a diacritic, in index order.
        plain: the symbols that never carry one (the space).
        diacritics: the marks that attach to the letter before them, in index order (index 0 of a
            position is "no diacritic").
        shadda: the gemination mark, expanded into a silent copy of the letter ('' = none).
        tanween: each nunation mark and the diacritic it becomes before the added ``نْ``.
        mapping: characters rewritten onto the alphabet before filtering (counted as mapped).
        lowercase: lower-case verses before mapping.

    Token index of a position (the one-hot column; the binary code is this index + 1, so that an
    all-zero row means padding in every encoding): ``letter * (len(diacritics) + 1) + diacritic``
    for a letter, ``len(letters) * (len(diacritics) + 1) + k`` for the ``k``-th plain symbol.
    """

    name: str
    letters: str
    plain: str
    diacritics: str = ""
    shadda: str = ""
    tanween: Mapping[str, str] = field(default_factory=dict)
    mapping: Mapping[str, str] = field(default_factory=dict)
    lowercase: bool = False

    def __post_init__(self) -> None:
        everything = self.letters + self.plain + self.diacritics
        if len(set(everything)) != len(everything):
            raise ValueError(f"alphabet {self.name!r} lists a character twice")
        object.__setattr__(self, "tanween", MappingProxyType(dict(self.tanween)))
        object.__setattr__(self, "mapping", MappingProxyType(dict(self.mapping)))

    @property
    def symbols(self) -> str:
        """The base symbols (letters, then plain symbols): the first block of the two-hot encoding."""
        return self.letters + self.plain

    @property
    def size(self) -> int:
        """Number of tokens (letter x diacritic-or-none, plus the plain symbols): the one-hot width."""
        return len(self.letters) * (len(self.diacritics) + 1) + len(self.plain)

    @property
    def bits(self) -> int:
        """Width of the binary encoding: bits of the largest token index + 1 (8 for Arabic, 5 for English)."""
        return int(self.size).bit_length()

    @property
    def marks(self) -> str:
        """Every mark the cleaning knows: the diacritics, the shadda and the tanween."""
        return self.diacritics + self.shadda + "".join(self.tanween)

    def tokens(self) -> tuple[str, ...]:
        """Every token as text, in index order (``'بَ'``, ``'ب'`` + no mark is ``'ب'``, ``' '``)."""
        marks = ("", *self.diacritics)
        return (*(letter + mark for letter in self.letters for mark in marks), *self.plain)

    @cached_property
    def symbol_table(self) -> np.ndarray:
        """``table[ord(c)]``: index of ``c`` in :attr:`symbols`, -1 for any other code point below the table's end."""
        table = np.full(max(map(ord, self.symbols + self.diacritics)) + 1, -1, dtype=np.int64)
        table[[ord(c) for c in self.symbols]] = np.arange(len(self.symbols))
        return table

    @cached_property
    def diacritic_table(self) -> np.ndarray:
        """``table[ord(c)]``: 1 + index of ``c`` in :attr:`diacritics`, 0 for any other code point."""
        table = np.zeros_like(self.symbol_table)
        table[[ord(c) for c in self.diacritics]] = np.arange(1, len(self.diacritics) + 1)
        return table


ARABIC = Alphabet(
    name="arabic",
    letters="ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي",
    plain=" ",
    diacritics=FATHA + DAMMA + KASRA + SUKUN,
    shadda=SHADDA,
    tanween={FATHATAN: FATHA, DAMMATAN: DAMMA, KASRATAN: KASRA},
    # alif wasla, Persian kaf and yeh, Farsi yeh, the isolated presentation forms of shadda
    mapping={"\u0671": "\u0627", "\u06a9": "\u0643", "\u06cc": "\u064a", "\ufe7c": SHADDA, "\ufe7d": SHADDA},
)

ENGLISH = Alphabet(
    name="english",
    letters="'abcdefghijklmnopqrstuvwxyz",
    plain=" ",
    mapping={"\u2019": "'", "\u2018": "'", "`": "'"},
    lowercase=True,
)


@dataclass(frozen=True)
class CleanedVerses:
    """Verses after :func:`clean_verses`, with what the cleaning changed.

    Attributes:
        texts: the cleaned verses, in the input order.
        mapped: how often each character was rewritten by the alphabet's mapping table.
        dropped: how often each character was dropped (outside the alphabet, or a stray diacritic).
    """

    texts: list[str]
    mapped: Counter[str]
    dropped: Counter[str]


def _character_class(characters: Iterable[str]) -> str:
    return "[" + "".join(re.escape(c) for c in characters) + "]"


def join_hemistichs(first: str, second: str, separator: str = " ") -> str:
    """One verse (bayt) from its two halves: ``first + separator + second``, each half stripped."""
    return f"{first.strip()}{separator}{second.strip()}"


def _expand_marks(text: str, alphabet: Alphabet, dropped: Counter[str]) -> str:
    """Shadda and tanween expanded, then every mark that attaches to no letter dropped (counted in ``dropped``)."""
    letter, mark = _character_class(alphabet.letters), _character_class(alphabet.marks)
    if alphabet.shadda:
        # a letter whose marks hold a shadda (anywhere, once or more: Unicode's canonical order writes a haraka
        # before it) becomes the letter with sukun, then the letter with its other marks
        doubled = re.compile(f"({letter})({mark}*{re.escape(alphabet.shadda)}{mark}*)")
        text = doubled.sub(lambda match: match[1] + SUKUN + match[1] + match[2].replace(alphabet.shadda, ""), text)
    if alphabet.tanween:
        text = text.translate(str.maketrans({nun: vowel + NOON + SUKUN for nun, vowel in alphabet.tanween.items()}))
    # a mark after no letter, or after the letter's first diacritic, has nothing to attach to
    stray = re.compile(f"(?:(?<={letter}{mark})|(?<!{letter})){mark}+")
    dropped.update("".join(stray.findall(text)))
    return stray.sub("", text)


def clean_verses(
    texts: Iterable[str], alphabet: Alphabet, diacritics: bool = False, policy: Policy = "drop"
) -> CleanedVerses:
    """Clean verses for :mod:`recur_text.data.encodings` as the paper does (see the module docstring).

    Args:
        texts: raw verses (hemistichs already joined, see :func:`join_hemistichs`).
        alphabet: :data:`ARABIC` or :data:`ENGLISH` (or another :class:`Alphabet`).
        diacritics: keep the diacritics (shadda and tanween expanded); False strips every mark.
        policy: ``"drop"`` drops and counts the characters outside the alphabet; ``"error"`` raises.

    Returns:
        :class:`CleanedVerses`: each text holds only the alphabet's symbols, each letter followed by
        at most one diacritic, single spaces, no leading or trailing space.

    Raises:
        ValueError: ``policy="error"`` and a verse holds a character outside the alphabet, or an
            unknown policy.
    """
    if policy not in ("drop", "error"):
        raise ValueError(f"policy {policy!r} is not one of 'drop', 'error'")
    verses = [" ".join(verse.split()) for verse in texts]
    if not verses:
        return CleanedVerses([], Counter(), Counter())
    # one pass over the whole corpus: the verses (white space collapsed, so none holds a newline) joined by '\n'
    joined = "\n".join(verses)
    if alphabet.lowercase:
        joined = joined.lower()
    mapped = Counter(re.findall(_character_class(alphabet.mapping), joined)) if alphabet.mapping else Counter()
    joined = joined.translate(str.maketrans(dict(alphabet.mapping)))
    outside = re.compile(r"[^\n" + re.escape(alphabet.symbols + alphabet.marks) + "]")
    dropped = Counter(outside.findall(joined))
    if dropped and policy == "error":
        shown = ", ".join(f"{c!r} (U+{ord(c):04X}) x{n}" for c, n in dropped.most_common(5))
        raise ValueError(
            f"verses hold characters outside the {alphabet.name} alphabet: {shown}; "
            "map them onto the alphabet or clean with policy='drop'"
        )
    joined = outside.sub("", joined)
    if alphabet.marks and not diacritics:
        joined = re.sub(_character_class(alphabet.marks), "", joined)
    elif alphabet.marks:
        joined = _expand_marks(joined, alphabet, dropped)
    joined = re.sub(r" +", " ", joined)
    cleaned = [verse.strip() for verse in joined.split("\n")]
    return CleanedVerses(cleaned, mapped, dropped)
