"""Learning-rate schedules shared by the engine and the reproduction scripts (pure Python, no torch)."""

from __future__ import annotations

import math

__all__ = ["warmup_constant", "warmup_cosine"]


def warmup_constant(step: int, warmup_steps: int) -> float:
    """The learning-rate multiplier at optimizer step ``step`` (0-based): linear warm-up to 1, then 1."""
    return min(1.0, (step + 1) / warmup_steps)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate multiplier at optimizer step ``step`` (0-based).

    Linear warm-up, ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then cosine
    decay from 1 to 0 at ``total_steps`` (and 0 after it). ``warmup_steps = 0`` starts at 1.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1 + math.cos(math.pi * progress))
