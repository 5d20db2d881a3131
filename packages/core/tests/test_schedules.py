import itertools
import math

import pytest

from recur_core.schedules import warmup_cosine


def test_warmup_rises_linearly_then_cosine_falls_to_zero():
    factors = [warmup_cosine(step, 10, 100) for step in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[4] == pytest.approx(0.5)
    assert all(a >= b for a, b in itertools.pairwise(factors[9:]))
    # half-way through the decay the cosine is at its mid-point
    assert warmup_cosine(55, 10, 100) == pytest.approx(0.5)
    assert factors[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert warmup_cosine(100, 10, 100) == 0.0 and warmup_cosine(150, 10, 100) == 0.0


def test_without_warmup_it_starts_at_one():
    assert warmup_cosine(0, 0, 50) == 1.0
    assert warmup_cosine(25, 0, 50) == pytest.approx(0.5)
