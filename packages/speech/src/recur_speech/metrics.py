"""Speech metrics as pure functions: word and character error rates by jiwer.

WER = (S + D + I) / N over the whole corpus: the substitutions, deletions and insertions of the
minimum-edit alignment of each hypothesis to its reference, summed over utterances, over the
reference words summed over utterances (not a mean of per-utterance rates). CER is the same over
characters, spaces included. Both are jiwer's (``jiwer.wer``, ``jiwer.cer``, version 4.0), the
number LibriSpeech results report; a test checks jiwer's number on a hand-worked case.
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer

__all__ = ["character_error_rate", "error_rates", "word_error_rate"]


def _check(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[list[str], list[str]]:
    references, hypotheses = [" ".join(r.split()) for r in references], [" ".join(h.split()) for h in hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses; give one per utterance")
    if not references:
        raise ValueError("no utterances to score; give at least one reference")
    if not all(references):
        raise ValueError("a reference transcript is empty; an error rate needs words to divide by")
    return references, hypotheses


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER of ``hypotheses`` against ``references`` (whitespace-normalised; an empty hypothesis is allowed)."""
    references, hypotheses = _check(references, hypotheses)
    return float(jiwer.wer(references, hypotheses))


def character_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus CER of ``hypotheses`` against ``references`` (whitespace-normalised; spaces count as characters)."""
    references, hypotheses = _check(references, hypotheses)
    return float(jiwer.cer(references, hypotheses))


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """``{"wer": ..., "cer": ...}`` of ``hypotheses`` against ``references``."""
    return {"wer": word_error_rate(references, hypotheses), "cer": character_error_rate(references, hypotheses)}
