"""Templated short stories with planted facts: the embedded corpus of the local character LM (RecurrentGPT).

Each story is one line of simple sentences about a cast of names, objects, colours and places. A few facts
are planted (``Mia has a red kite.``) and recalled a few sentences later (``Mia's kite is red.``), among
filler sentences that mention the same names and objects without their colours, so predicting the colour
of a recall sentence needs the fact from earlier in the line. A small recurrent LM trained on these lines
learns the sentence templates and (when it learns to) to copy a fact forward; the RecurrentGPT loop's local
backend (:class:`recur_text.generators.LocalLMGenerator`) then writes in this register, and its fact-recall
evaluation queries ``Mia's kite is`` after the fact has left the short-term memory.

Everything is generated from a seed with :class:`random.Random` (no file, no download).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "COLOURS",
    "NAMES",
    "OBJECTS",
    "PLACES",
    "Story",
    "fact_sentence",
    "filler_sentence",
    "generate_stories",
    "recall_prefix",
]

NAMES = ("Mia", "Tom", "Ana", "Ben", "Eva", "Sam", "Lea", "Max", "Ida", "Leo", "Zoe", "Kai")
OBJECTS = ("kite", "boat", "hat", "bike", "lamp", "cup", "book", "ball")
COLOURS = ("red", "blue", "green", "yellow", "black", "white", "pink", "brown")
PLACES = ("river", "hill", "market", "garden", "school", "forest", "harbour", "bridge")

_FILLERS = (
    "{n} walks to the {p}.",
    "{n} sees {m} near the {p}.",
    "{n} takes the {o} to the {p}.",
    "The {p} is quiet today.",
    "{n} and {m} sit by the {p}.",
    "{n} looks for a {o} at the {p}.",
    "It starts to rain over the {p}.",
    "{m} waves at {n}.",
    "{n} talks about the {o} with {m}.",
    "The sun sets behind the {p}.",
)


@dataclass(frozen=True)
class Story:
    """One generated line: its text and the character spans ``(start, end)`` of each recalled colour word."""

    text: str
    recall_spans: tuple[tuple[int, int], ...]


def fact_sentence(name: str, obj: str, colour: str) -> str:
    """The sentence that plants a fact: ``Mia has a red kite.``"""
    return f"{name} has a {colour} {obj}."


def recall_prefix(name: str, obj: str) -> str:
    """The words that query a fact; the colour comes next: ``Mia's kite is``."""
    return f"{name}'s {obj} is"


def filler_sentence(rng: random.Random, names: tuple[str, ...] = NAMES) -> str:
    """A sentence that mentions names, objects and places but no colour."""
    n, m = rng.sample(names, 2) if len(names) > 1 else (names[0], names[0])
    return rng.choice(_FILLERS).format(n=n, m=m, o=rng.choice(OBJECTS), p=rng.choice(PLACES))


def _story(rng: random.Random, max_facts: int, max_gap: int) -> Story:
    cast = tuple(rng.sample(NAMES, rng.randint(2, 4)))
    facts = [
        (name, rng.choice(OBJECTS), rng.choice(COLOURS))
        for name in rng.sample(cast, rng.randint(1, min(max_facts, len(cast))))
    ]
    # each fact is planted, then recalled after 0..max_gap other sentences (fillers, other facts or recalls)
    events: list[tuple[str, tuple[str, str, str] | None]] = [("fill", None)] * rng.randint(0, 2)
    pending: list[tuple[int, tuple[str, str, str]]] = []
    for fact in facts:
        events.append(("fact", fact))
        pending.append((len(events) + rng.randint(0, max_gap), fact))
        events.extend([("fill", None)] * rng.randint(0, 1))
    while pending:
        due = [p for p in pending if p[0] <= len(events)]
        if due:
            pending.remove(due[0])
            events.append(("recall", due[0][1]))
        else:
            events.append(("fill", None))
    parts, spans, cursor = [], [], 0
    for kind, fact in events:
        if kind == "fill":
            sentence = filler_sentence(rng, cast)
        elif kind == "fact":
            sentence = fact_sentence(*fact)
        else:
            prefix = recall_prefix(fact[0], fact[1]) + " "
            start = cursor + len(prefix)
            spans.append((start, start + len(fact[2])))
            sentence = f"{prefix}{fact[2]}."
        parts.append(sentence)
        cursor += len(sentence) + 1
    return Story(" ".join(parts), tuple(spans))


def generate_stories(count: int, seed: int = 0, max_facts: int = 3, max_gap: int = 4) -> list[Story]:
    """``count`` stories drawn from ``seed``: 1..``max_facts`` facts each, each recalled after 0..``max_gap``
    sentences. The same arguments give the same stories."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 1 <= max_facts <= 4:
        raise ValueError(f"max_facts must be in 1..4 (a story's cast has 2-4 names), got {max_facts}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    rng = random.Random(seed)
    return [_story(rng, max_facts, max_gap) for _ in range(count)]
