"""Scores of generated sequences: corpus BLEU (sacrebleu), exact-sequence accuracy, accuracy per length.

Sequences are compared as id strings (``"17 5 9"``): with ``tokenize="none"`` BLEU over ids equals BLEU over
the words they stand for, since the vocabulary maps ids to words one to one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sacrebleu
from torch import Tensor

from recur_text.data.translation import EOS, PAD

__all__ = ["corpus_bleu", "exact_match", "ids_to_text", "per_length_accuracy"]


def ids_to_text(ids: Tensor) -> list[str]:
    """Each row of ``ids`` [B, L] as space-joined ids up to (not including) its first EOS or padding."""
    out = []
    for row in ids.tolist():
        kept = []
        for i in row:
            if i in (EOS, PAD):
                break
            kept.append(str(i))
        out.append(" ".join(kept))
    return out


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 in percent (sacrebleu, one reference each, whitespace tokens, no lower-casing)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("corpus_bleu needs at least one sentence")
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="none").score)


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of hypotheses equal to their reference."""
    if not hypotheses:
        raise ValueError("exact_match needs at least one sentence")
    return sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(hypotheses)


def per_length_accuracy(correct: Sequence[bool], lengths: Sequence[int]) -> dict[int, float]:
    """Exact-sequence accuracy for each (source) length, sorted by length."""
    groups: dict[int, list[bool]] = defaultdict(list)
    for ok, length in zip(correct, lengths, strict=True):
        groups[int(length)].append(bool(ok))
    return {length: sum(v) / len(v) for length, v in sorted(groups.items())}
