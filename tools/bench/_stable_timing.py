"""Timing each candidate until its median settles, with the spread of the times.

On a machine that others share, a fixed number of repeats is either too few (the median still
moves) or wastes time (it settled long ago). :func:`stable_times` keeps timing a candidate until the
median of its last ``window`` runs moves by at most ``tolerance`` from one run to the next, within a
floor and a ceiling on the number of runs and a cap on the seconds spent on it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Settle", "Timing", "settled", "stable_times"]


@dataclass(frozen=True)
class Settle:
    """When to stop timing a candidate."""

    # the median of this many last runs is the one that must settle
    window: int = 5
    # largest relative move of that median from one run to the next that counts as settled
    tolerance: float = 0.03
    # runs before any stop, the time cap included (3: enough for quartiles)
    min_repeats: int = 3
    # runs after which a candidate stops, settled or not
    max_repeats: int = 30
    # seconds of timed runs after which a candidate stops, settled or not
    time_cap: float = 30.0

    def __post_init__(self) -> None:
        if not 2 <= self.min_repeats <= self.max_repeats:
            raise ValueError(f"need 2 <= min_repeats <= max_repeats, got {self.min_repeats}, {self.max_repeats}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one candidate."""

    median: float
    q1: float
    q3: float
    repeats: int

    @classmethod
    def of(cls, times: list[float]) -> Timing:
        q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
        return cls(median, q1, q3, len(times))

    @property
    def spread(self) -> float:
        """The interquartile range as a fraction of the median."""
        return (self.q3 - self.q1) / self.median


def settled(times: list[float], window: int, tolerance: float) -> bool:
    """Whether the median of the last ``window`` times moved by at most ``tolerance`` (relative) with the last run."""
    if len(times) <= window:
        return False
    now, before = statistics.median(times[-window:]), statistics.median(times[-window - 1 : -1])
    return abs(now - before) <= tolerance * before


def stable_times(
    candidates: dict[str, Callable[[], None]],
    settle: Settle = Settle(),
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """The :class:`Timing` of each candidate, after one warm-up call each, timed round by round.

    Every round times each candidate still running once, so that drift on a busy machine hits all of
    them alike; a candidate leaves the rounds when :func:`settled` (after at least ``settle.window`` + 1
    runs), or at ``settle.max_repeats`` runs, or once its runs took ``settle.time_cap`` seconds, but
    never before ``settle.min_repeats`` runs. The median and quartiles are over all its runs.
    """
    for fn in candidates.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    running = dict(candidates)
    while running:
        for name, fn in list(running.items()):
            start = clock()
            fn()
            runs = times[name]
            runs.append(clock() - start)
            done = (
                len(runs) >= settle.max_repeats
                or sum(runs) >= settle.time_cap
                or settled(runs, settle.window, settle.tolerance)
            )
            if done and len(runs) >= settle.min_repeats:
                del running[name]
    return {name: Timing.of(runs) for name, runs in times.items()}
