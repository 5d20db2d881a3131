"""Token lists as ids for the embedding models, and the evaluation sets built from the corpus itself.

- :class:`Vocabulary`: words with at least ``min_count`` occurrences, most frequent first (ties by word),
  with their counts; :meth:`Vocabulary.encode` drops the others, as word2vec and gensim do.
- :class:`EncodedCorpus`: a corpus as one flat id tensor with sentence offsets (a sentence is a document,
  cut into pieces of at most ``max_sentence`` = 10,000 tokens, gensim's limit, so both see the same units).
- :func:`plant_twins` / :func:`choose_twin_words`: **word similarity** without human judgements. Every
  second occurrence of a chosen word ``w`` becomes a new token ``w_twin`` (the tokenizer never makes a word
  with ``_``), so ``w`` and ``w_twin`` have the same distribution by construction; a good embedding puts
  them next to each other. This measures what a similarity benchmark measures of a distributional model
  (words used alike are close) but not agreement with people's judgements (WordSim-353, which the thesis
  uses, is not available offline).
- :func:`analogy_questions`: **analogies** ``a : b :: c : d`` from the corpus's own inflections: plural or
  third-person ``-s``, past ``-ed``/``-d`` and ``-ing`` forms found in the vocabulary (``return : returns
  :: raise : raises``), the syntactic half of Mikolov's analogy set. The pairs are made by spelling
  alone, so a few are wrong (``str : string``); only stems of at least four letters are used to keep those few.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "TWIN_SUFFIX",
    "EncodedCorpus",
    "Vocabulary",
    "analogy_questions",
    "choose_twin_words",
    "plant_twins",
]

TWIN_SUFFIX = "_twin"


@dataclass(frozen=True)
class Vocabulary:
    """Words and their counts, most frequent first (ties broken by the word).

    Attributes:
        words: the words.
        counts: ``int64 [V]`` occurrences of each in the corpus it was built from.
    """

    words: tuple[str, ...]
    counts: np.ndarray

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], min_count: int = 5) -> Vocabulary:
        """The words of ``token_lists`` occurring at least ``min_count`` times."""
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counter = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted((w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w))
        if not kept:
            raise ValueError(f"no word occurs {min_count} times or more; lower min_count or give a larger corpus")
        return cls(tuple(kept), np.array([counter[w] for w in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        """Word -> id."""
        if not hasattr(self, "_index"):
            object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})
        return self._index  # type: ignore[attr-defined]

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """``int64`` ids of the tokens in the vocabulary (the others are dropped)."""
        index = self.index
        return np.fromiter((index[t] for t in tokens if t in index), dtype=np.int64)


@dataclass(frozen=True)
class EncodedCorpus:
    """A corpus as ids: ``ids`` ``int64 [N]`` and sentence ``offsets`` ``int64 [S + 1]`` (sentence s is
    ``ids[offsets[s]:offsets[s + 1]]``), with its :class:`Vocabulary`; ``documents`` ``int64 [S]`` says which
    of the encoded token lists each sentence came from (the document vector it trains, in PV-DM/PV-DBOW)."""

    ids: Tensor
    offsets: Tensor
    vocabulary: Vocabulary
    documents: Tensor

    @classmethod
    def encode(
        cls, token_lists: Sequence[Sequence[str]], vocabulary: Vocabulary, max_sentence: int = 10_000
    ) -> EncodedCorpus:
        """Encode each token list (out-of-vocabulary tokens dropped) and cut it into pieces of at most
        ``max_sentence`` ids; empty pieces are left out."""
        if max_sentence < 1:
            raise ValueError(f"max_sentence must be at least 1, got {max_sentence}")
        pieces, documents = [], []
        for d, tokens in enumerate(token_lists):
            ids = vocabulary.encode(tokens)
            cuts = range(0, len(ids), max_sentence)
            pieces.extend(ids[i : i + max_sentence] for i in cuts)
            documents.extend(d for _ in cuts)
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        return cls(
            torch.from_numpy(ids), torch.from_numpy(offsets), vocabulary, torch.tensor(documents, dtype=torch.long)
        )

    @property
    def sentence_ids(self) -> Tensor:
        """``int64 [N]``: which sentence each position is in."""
        lengths = self.offsets[1:] - self.offsets[:-1]
        return torch.repeat_interleave(torch.arange(len(lengths)), lengths)

    @property
    def document_ids(self) -> Tensor:
        """``int64 [N]``: which token list (document) each position came from."""
        return self.documents[self.sentence_ids]

    def sentences(self) -> list[list[str]]:
        """The sentences as word lists (what gensim is given)."""
        words = self.vocabulary.words
        flat = [words[i] for i in self.ids.tolist()]
        bounds = self.offsets.tolist()
        return [flat[a:b] for a, b in itertools.pairwise(bounds)]

    def __len__(self) -> int:
        return len(self.ids)


def _hash_order(words: Sequence[str], salt: str) -> list[str]:
    return sorted(words, key=lambda w: hashlib.sha1(f"{salt}:{w}".encode()).hexdigest())


def choose_twin_words(
    token_lists: Sequence[Sequence[str]], count: int = 100, min_count: int = 20, max_count: int = 200
) -> list[str]:
    """``count`` words occurring ``min_count`` to ``max_count`` times, in a fixed hash order."""
    counter = Counter(t for tokens in token_lists for t in tokens)
    eligible = [w for w, c in counter.items() if min_count <= c <= max_count and len(w) >= 3]
    if len(eligible) < count:
        raise ValueError(
            f"only {len(eligible)} words occur {min_count}-{max_count} times; ask for fewer twins or widen the range"
        )
    return sorted(_hash_order(eligible, "twin")[:count])


def plant_twins(token_lists: Sequence[Sequence[str]], words: Sequence[str]) -> list[list[str]]:
    """``token_lists`` with every second occurrence (in corpus order) of each of ``words`` renamed
    ``<word>_twin``. Returns new lists; the input is unchanged."""
    chosen = set(words)
    seen: Counter[str] = Counter()
    planted = []
    for tokens in token_lists:
        out = []
        for t in tokens:
            if t in chosen:
                seen[t] += 1
                if seen[t] % 2 == 0:
                    t = t + TWIN_SUFFIX
            out.append(t)
        planted.append(out)
    return planted


def _inflections(vocabulary: Vocabulary, min_count: int) -> dict[str, list[tuple[str, str]]]:
    """Pairs ``(stem, inflected)`` of frequent words by spelling: ``-s``, ``-ed`` (``-d`` after ``e``), ``-ing``
    (``e`` dropped)."""
    frequent = {w for w, c in zip(vocabulary.words, vocabulary.counts) if c >= min_count}
    relations: dict[str, list[tuple[str, str]]] = {"plural/3rd person -s": [], "past -ed": [], "gerund -ing": []}
    for w in sorted(frequent):
        if len(w) < 4 or not w.isalpha():
            continue
        if not w.endswith("s") and w + "s" in frequent:
            relations["plural/3rd person -s"].append((w, w + "s"))
        past = w + "d" if w.endswith("e") else w + "ed"
        if past in frequent:
            relations["past -ed"].append((w, past))
        gerund = w[:-1] + "ing" if w.endswith("e") else w + "ing"
        if gerund in frequent and not w.endswith("ing"):
            relations["gerund -ing"].append((w, gerund))
    return relations


def analogy_questions(
    vocabulary: Vocabulary, min_count: int = 20, per_relation: int = 500
) -> list[tuple[str, str, str, str, str]]:
    """Analogy questions ``(relation, a, b, c, d)`` meaning ``a : b :: c : d`` (module docstring).

    For each relation, ``per_relation`` ordered pairs of distinct ``(stem, inflected)`` pairs, drawn in a
    fixed hash order; every word occurs at least ``min_count`` times.
    """
    questions = []
    for relation, pairs in _inflections(vocabulary, min_count).items():
        combos = [(p, q) for p in pairs for q in pairs if p != q]
        keyed = sorted(combos, key=lambda pq: hashlib.sha1(f"{relation}:{pq}".encode()).hexdigest())
        questions.extend((relation, a, b, c, d) for (a, b), (c, d) in keyed[:per_relation])
    return questions
