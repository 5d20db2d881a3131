"""The character encodings of Yousef et al. (arXiv:1905.05700, section 4.2), as tensors ``[T, D]``.

A cleaned verse (:func:`recur_text.data.alphabets.clean_verses`) is a sequence of ``T`` positions,
each a base symbol (letter or space) with at most one diacritic. With the Arabic alphabet
(36 letters, 4 diacritics, the space):

- one-hot: one column per token (letter x {none, fatha, damma, kasra, sukun}, plus the space):
  ``D = 36 * 5 + 1 = 181``; English ``D = 28``.
- binary: the token index + 1 in ``ceil(log2(D + 1))`` bits, most significant first: 8 bits for
  Arabic, 5 for English. Index + 1, so that the all-zero row stays free for padding as in the
  other two encodings (the paper pads with spaces; recur pads with zero rows and lengths).
- two-hot: the base symbol one-hot (37 columns) followed by the diacritic one-hot (4 columns),
  ``D = 41``; a letter without a diacritic has a single one, as the official ``two_hot_encoding``
  with its "no diacritic" column left out.

Every function reads the verse through code-point lookup tables (numpy), with no Python loop over
characters.
"""

from __future__ import annotations

import numpy as np
import torch

from recur_text.data.alphabets import Alphabet

__all__ = [
    "ENCODERS",
    "ENCODINGS",
    "binary",
    "decode_binary",
    "encode",
    "encoding_width",
    "one_hot",
    "token_indices",
    "two_hot",
]


def encode(text: str, alphabet: Alphabet) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a cleaned verse into positions: ``(symbols [T], diacritics [T])``, both int64.

    ``symbols`` indexes :attr:`Alphabet.symbols`; ``diacritics`` is 0 for none, else 1 + the index in
    :attr:`Alphabet.diacritics`.

    Raises:
        ValueError: the text holds a character outside the alphabet, or a diacritic that follows no
            letter or another diacritic (clean it with ``clean_verses`` first).
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    inside = codes < len(alphabet.symbol_table)
    symbol = np.where(inside, alphabet.symbol_table[np.where(inside, codes, 0)], -1)
    mark = np.where(inside, alphabet.diacritic_table[np.where(inside, codes, 0)], 0)
    unknown = (symbol < 0) & (mark == 0)
    if unknown.any():
        shown = ", ".join(sorted({repr(chr(c)) for c in codes[unknown]}))
        raise ValueError(
            f"{text!r} holds characters outside the {alphabet.name} alphabet ({shown}); clean it with clean_verses"
        )
    is_mark = mark > 0
    base = np.flatnonzero(~is_mark)
    owner = np.flatnonzero(is_mark) - 1
    letters = len(alphabet.letters)
    if (owner < 0).any() or is_mark[owner].any() or (symbol[owner] >= letters).any():
        raise ValueError(
            f"{text!r} has a diacritic that follows no letter or another diacritic; clean it with clean_verses"
        )
    diacritics = np.zeros(len(base), dtype=np.int64)
    diacritics[np.searchsorted(base, owner)] = mark[owner + 1]
    return torch.from_numpy(symbol[base].copy()), torch.from_numpy(diacritics)


def token_indices(text: str, alphabet: Alphabet) -> torch.Tensor:
    """Token index per position ``[T]`` (the one-hot column; see :class:`Alphabet` for the layout)."""
    symbols, diacritics = encode(text, alphabet)
    letters, per_letter = len(alphabet.letters), len(alphabet.diacritics) + 1
    return torch.where(symbols < letters, symbols * per_letter + diacritics, letters * per_letter + symbols - letters)


def one_hot(text: str, alphabet: Alphabet) -> torch.Tensor:
    """One-hot encoding ``[T, alphabet.size]`` (float32): one column per (letter, diacritic) token."""
    return torch.nn.functional.one_hot(token_indices(text, alphabet), alphabet.size).float()


def binary(text: str, alphabet: Alphabet) -> torch.Tensor:
    """Binary encoding ``[T, alphabet.bits]`` (float32): token index + 1 in bits, most significant first."""
    shifts = torch.arange(alphabet.bits - 1, -1, -1)
    return (((token_indices(text, alphabet) + 1)[:, None] >> shifts) & 1).float()


def decode_binary(bits: torch.Tensor) -> torch.Tensor:
    """Token indices ``[...]`` from binary rows ``[..., B]`` (the inverse of :func:`binary`; zero rows give -1)."""
    weights = 2 ** torch.arange(bits.shape[-1] - 1, -1, -1)
    return (bits.round().long() * weights).sum(-1) - 1


def two_hot(text: str, alphabet: Alphabet) -> torch.Tensor:
    """Two-hot encoding ``[T, len(symbols) + len(diacritics)]`` (float32): base symbol one-hot, then diacritic."""
    symbols, diacritics = encode(text, alphabet)
    rows = torch.arange(len(symbols))
    encoded = torch.zeros(len(symbols), len(alphabet.symbols) + len(alphabet.diacritics))
    encoded[rows, symbols] = 1.0
    marked = diacritics > 0
    encoded[rows[marked], len(alphabet.symbols) + diacritics[marked] - 1] = 1.0
    return encoded


# encoding name -> function(cleaned verse, alphabet) -> [T, D]
ENCODERS = {"one_hot": one_hot, "binary": binary, "two_hot": two_hot}
ENCODINGS = tuple(ENCODERS)


def encoding_width(encoding: str, alphabet: Alphabet) -> int:
    """``D`` of an encoding (``one_hot``, ``binary`` or ``two_hot``) for ``alphabet``.

    Raises:
        ValueError: an unknown encoding name.
    """
    widths = {
        "one_hot": alphabet.size,
        "binary": alphabet.bits,
        "two_hot": len(alphabet.symbols) + len(alphabet.diacritics),
    }
    if encoding not in widths:
        raise ValueError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    return widths[encoding]
