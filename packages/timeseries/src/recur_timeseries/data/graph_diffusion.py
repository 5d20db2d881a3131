"""The embedded default of the graph-series recipes: a generated diffusion process on a random sparse graph.

Nonnegative node signals u_t ∈ R^N spread along the directed edges of a random graph, decay, are
driven by seasonal forcing at a few source nodes and perturbed by noise:

    u_{t+1} = max(0, (1 − δ) · ((1 − α) u_t + α Pᵀ u_t) + f_t + σ ε_t),   ε_t ~ N(0, I)
    f_t[i]  = a_i · (1 + sin(2π t / period + φ_i)) / 2   for the source nodes i, 0 elsewhere

with P the row-normalised adjacency (node i sends an equal share of its outflow to each of its
out-neighbours), α the share that moves per step and δ the decay. A node's future therefore depends
on its neighbours' past (the season reaches it later and damped, along the graph), which a
forecaster that looks across variables can use and repeat-last cannot. The result is a
:class:`~recur_timeseries.data.pyg_temporal.GraphSeries`, the type the JSON readers return.
"""

from __future__ import annotations

import numpy as np

from recur_timeseries.data.pyg_temporal import GraphSeries

__all__ = ["generate_graph_diffusion"]


def generate_graph_diffusion(
    num_nodes: int = 20,
    steps: int = 1000,
    degree: int = 2,
    period: int = 20,
    sources: int = 4,
    diffusion: float = 0.5,
    decay: float = 0.2,
    noise: float = 0.05,
    burn_in: int = 100,
    seed: int = 0,
) -> GraphSeries:
    """Simulate the diffusion process above.

    Args:
        num_nodes: N, the nodes (the forecaster's variables).
        steps: T, time steps kept (after ``burn_in``).
        degree: out-neighbours of each node, drawn uniformly without self-loops.
        period: season of the forcing, in steps.
        sources: how many nodes are forced (the rest are driven only through the graph).
        diffusion: α, the share of a node's value that moves to its out-neighbours per step.
        decay: δ, the share lost per step.
        noise: σ relative to the mean forcing amplitude.
        burn_in: steps simulated and dropped, so the series starts near its seasonal regime.
        seed: seeds the graph, the phases and the noise.

    Returns:
        GraphSeries named ``diffusion``: values [T, N] (nonnegative), edges [N·degree, 2], weights
        [N·degree] (the transition shares 1/degree).
    """
    if num_nodes < 2 or not 1 <= degree < num_nodes:
        raise ValueError(f"need num_nodes >= 2 and 1 <= degree < num_nodes, got {num_nodes} and {degree}")
    if not 1 <= sources <= num_nodes:
        raise ValueError(f"sources must be in 1..{num_nodes}, got {sources}")
    if not (0 <= diffusion <= 1 and 0 < decay < 1 and noise >= 0 and period >= 2 and steps >= 1 and burn_in >= 0):
        raise ValueError(
            "need 0 <= diffusion <= 1, 0 < decay < 1, noise >= 0, period >= 2, steps >= 1, burn_in >= 0; got "
            f"diffusion={diffusion}, decay={decay}, noise={noise}, period={period}, steps={steps}, burn_in={burn_in}"
        )
    rng = np.random.default_rng(seed)
    # each node's out-neighbours: `degree` of the others, drawn by ranking random keys (no self-loop)
    keys = rng.random((num_nodes, num_nodes))
    np.fill_diagonal(keys, np.inf)
    targets = np.argsort(keys, axis=1)[:, :degree]
    edges = np.stack([np.repeat(np.arange(num_nodes), degree), targets.reshape(-1)], axis=1)
    transition = np.zeros((num_nodes, num_nodes))
    transition[edges[:, 0], edges[:, 1]] = 1.0 / degree
    # u_{t+1} = M u_t + f_t + noise with M = (1 - δ)((1 - α) I + α Pᵀ)
    propagate = (1 - decay) * ((1 - diffusion) * np.eye(num_nodes) + diffusion * transition.T)

    amplitude = np.zeros(num_nodes)
    forced = rng.choice(num_nodes, size=sources, replace=False)
    amplitude[forced] = rng.uniform(0.5, 1.5, size=sources)
    phase = rng.uniform(0, 2 * np.pi, size=num_nodes)
    total = steps + burn_in
    time = np.arange(total)[:, None]
    forcing = amplitude * (1 + np.sin(2 * np.pi * time / period + phase)) / 2
    shocks = noise * amplitude[forced].mean() * rng.standard_normal((total, num_nodes))

    # the clipping at zero makes the recursion nonlinear, so it is stepped in time (T·N² flops)
    values = np.empty((total, num_nodes))
    state = forcing[0] / decay
    for t in range(total):
        state = np.maximum(propagate @ state + forcing[t] + shocks[t], 0.0)
        values[t] = state
    return GraphSeries(
        "diffusion", values[burn_in:], edges.astype(np.int64), np.full(len(edges), 1.0 / degree), None, None
    )
