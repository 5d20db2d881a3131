"""The FLOP counts and the stable-median timing of ``tools/bench/linear_family.py`` (loaded by path: the bench
scripts are not a package)."""

import importlib.util
import itertools
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from recur_core.ops.delta_rule import chunk_delta_rule
from recur_core.ops.linear_attn import chunk_linear_attn
from recur_core.ops.lti_ssm import chunk_lti_ssm

BENCH = Path(__file__).resolve().parents[3] / "tools" / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


flops = _load("_flops")
stable_timing = _load("_stable_timing")


def test_linear_attn_flops_hand_worked():
    # B = H = 1, T = 3 padded to 2 chunks of C = 2, K = 2, V = 3; per chunk: Q Kᵀ 2·2·2·2 = 16,
    # attn V 2·2·2·3 = 24, state update Kᵀ V 2·2·2·3 = 24, readout Q S 2·2·2·3 = 24: 88
    assert flops.linear_attn_flops(1, 3, 1, 2, 3, 2) == 2 * 88


def test_delta_rule_flops_hand_worked():
    # B = H = 1, T = C = 2, K = V = 1: K Kᵀ 8, solve (one multiply-add per column, 2 columns) 4,
    # W S 4, Kᵀ U 4, Q S 4, Q Kᵀ 8, tril(Q Kᵀ) U 8
    assert flops.delta_rule_flops(1, 2, 1, 1, 1, 2) == 40


def _linear_attn(g):
    def run(q, k, v, beta):
        chunk_linear_attn(q, k, v, g, chunk_size=16)
        return flops.linear_attn_flops(2, 75, 3, 8, 5, 16)

    return run


def _delta_rule(q, k, v, beta):
    chunk_delta_rule(q, k, v, beta, chunk_size=16)
    # the solve, which FlopCounterMode does not see: 5 chunks of C (C - 1) (K + V) per batch row and head
    return flops.delta_rule_flops(2, 75, 3, 8, 5, 16) - 2 * 3 * 5 * 16 * 15 * 13


def _lti_ssm(q, k, v, beta):
    # u [B, T, H] with H = 3 channels of N = 6 states
    g = torch.Generator().manual_seed(1)
    A_bar, B_bar, C = (
        0.3 * torch.randn(3, 6, 6, generator=g),
        torch.randn(3, 6, generator=g),
        torch.randn(3, 6, generator=g),
    )
    chunk_lti_ssm(q[..., 0], A_bar, B_bar, C, chunk_size=16)
    return flops.lti_ssm_flops(2, 75, 3, 6, 16)


@pytest.mark.parametrize(
    "run",
    [
        _linear_attn(None),
        _linear_attn(-torch.rand(2, 75, 3)),
        _linear_attn(-30 * torch.rand(2, 75, 3, 8)),  # too steep to factor: the sub-chunked path
        _delta_rule,
        _lti_ssm,
    ],
    ids=["linear_attn", "head_decay", "steep_key_decay", "delta_rule", "lti_ssm"],
)
def test_flops_match_the_products_the_forward_runs(run):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 75, 3, 8, generator=g), torch.randn(2, 75, 3, 8, generator=g)
    v, beta = torch.randn(2, 75, 3, 5, generator=g), torch.rand(2, 75, 3, generator=g)
    with FlopCounterMode(display=False) as counter:
        expected = run(q, k, v, beta)
    assert counter.get_total_flops() == expected


class _Clock:
    """A clock that only the fake candidates advance."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def candidate(self, durations):
        durations = iter(durations)

        def run():
            self.now += next(durations)

        return run


def test_stable_times_stops_early_on_constant_timings():
    clock = _Clock()
    settle = stable_timing.Settle(window=5, tolerance=0.03, max_repeats=30, time_cap=1e9)
    timing = stable_timing.stable_times({"c": clock.candidate(itertools.repeat(0.5))}, settle, clock)["c"]
    # the first run at which the median of the last 5 can be compared with the one before
    assert timing.repeats == settle.window + 1
    assert (timing.median, timing.spread) == (0.5, 0.0)


def test_stable_times_respects_its_maximum_and_time_cap():
    clock = _Clock()
    # every run 10% slower than the one before: the median never settles
    growing = [1.1**i for i in range(100)]
    settle = stable_timing.Settle(window=3, tolerance=0.03, min_repeats=3, max_repeats=12, time_cap=1e9)
    candidates = {"constant": clock.candidate(itertools.repeat(1.0)), "growing": clock.candidate(growing)}
    timings = stable_timing.stable_times(candidates, settle, clock)
    assert (timings["constant"].repeats, timings["growing"].repeats) == (4, 12)
    capped = stable_timing.Settle(window=3, min_repeats=3, max_repeats=12, time_cap=5.0)
    timing = stable_timing.stable_times({"growing": clock.candidate(growing)}, capped, clock)["growing"]
    # 1.1 + 1.21 + 1.33 + 1.46 = 5.1 s of runs after the warm-up (1.0): over the cap at the fourth
    assert timing.repeats == 4
