"""Timing and stability helpers shared by the bench scripts in this folder."""

from __future__ import annotations

import inspect
import statistics
import time
from collections.abc import Callable

import torch

from recur_core import build_layer, get_layer_class
from recur_core.layers.base import flatten_state


def build(name: str, d_model: int, heads: int) -> torch.nn.Module:
    """The registered layer at width ``d_model``, with ``num_heads=heads`` where it takes heads."""
    takes_heads = "num_heads" in inspect.signature(get_layer_class(name)).parameters
    return build_layer(name, d_model, **({"num_heads": heads} if takes_heads else {}))


def median_times(candidates: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each candidate, after one warm-up call each, timed round by round.

    Interleaving the candidates within every round makes drift on a busy machine hit all of them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def step_times(layer, d_model: int, contexts: tuple[int, ...], rounds: int = 15, steps: int = 10) -> list[float]:
    """Median seconds per ``step()`` after each context length (B = 1), timed in interleaved rounds."""
    x_t = torch.randn(1, d_model)
    with torch.no_grad():
        states = [layer(torch.randn(1, n, d_model))[1] for n in contexts]
        times: list[list[float]] = [[] for _ in contexts]
        for _ in range(rounds):
            for i, state in enumerate(states):
                start = time.perf_counter()
                for _ in range(steps):
                    layer.step(x_t, state)
                times[i].append((time.perf_counter() - start) / steps)
    return [statistics.median(t) for t in times]


def finite_fwd_bwd(layer, x: torch.Tensor, autocast: bool) -> bool:
    """Whether the output, final state, input gradient and every parameter gradient are finite."""
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y, state = layer(x)
    y.float().square().mean().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters() if p.requires_grad]
    tensors = [y, *flatten_state(state), *grads]
    ok = all(g is not None for g in grads) and all(
        bool(torch.isfinite(t).all()) for t in tensors if t is not None and t.is_floating_point()
    )
    layer.zero_grad(set_to_none=True)
    return ok
