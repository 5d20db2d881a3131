"""Generated trajectories of behaviour primitives for PV-RNN (no download): patterns, a Reacher arm, a pendulum.

Three sources, each deterministic for a seed and scaled into (-1, 1) (the PV-RNN's tanh output):

- ``"lissajous"``: 2-D Lissajous figures, one primitive per sequence (circle, figure eight, 1:3, 2:3) with
  a random phase, small amplitude jitter and observation noise; the paper's toy setting of cyclic
  patterns (Ahmadi & Tani 2019, https://doi.org/10.1162/neco_a_01228).
- ``"switching"``: the same primitives chained within a sequence, switching to a randomly drawn one at the
  end of a cycle with probability ``switch_prob``: the probabilistic transitions PV-RNN is meant to
  capture; the labels give the primitive of every step.
- ``"reacher"``: rollouts of gymnasium's MuJoCo ``Reacher-v5`` arm whose fingertip follows a scripted target
  path (circle, line back and forth, figure eight, reaching three random points in turn) through analytic
  inverse kinematics and a joint-space PD controller. Observed: the fingertip's offset from the paths'
  centre (× 8) and the two joint angles (shifted by 0.9 and -1.6 rad to centre them): D = 4.
- ``"pendulum"``: rollouts of ``Pendulum-v1`` driven by periodic torques of three behaviours (gentle
  swing, resonant swing, pumped over the top); observed 0.9 × (cos θ, sin θ) and θ̇ / 8: D = 3.

:func:`generate_trajectories` returns :class:`Trajectories` (arrays, cached in memory per arguments);
:class:`TrajectoryDataset` gives one sequence per item with its index (which selects the sequence's
adaptive vectors in PV-RNN) and its behaviour labels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "BEHAVIOURS",
    "SOURCES",
    "Trajectories",
    "TrajectoryDataset",
    "generate_trajectories",
]

# (frequency x, frequency y, phase offset of y) per primitive, in cycles per period
_LISSAJOUS = {
    "circle": (1, 1, np.pi / 2),
    "figure_eight": (1, 2, 0.0),
    "three_lobes": (1, 3, np.pi / 2),
    "knot": (2, 3, np.pi / 4),
}
_REACHER = ("circle", "line", "figure_eight", "points")
_PENDULUM = ("gentle", "resonant", "over_the_top")

BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "lissajous": tuple(_LISSAJOUS),
    "switching": tuple(_LISSAJOUS),
    "reacher": _REACHER,
    "pendulum": _PENDULUM,
}
SOURCES = tuple(BEHAVIOURS)

# Reacher-v5's links: shoulder to elbow 0.1, elbow to fingertip 0.11 (reacher.xml); the target paths' centre
# and the scale that maps the fingertip's offset from it into (-1, 1)
_LINK1, _LINK2 = 0.1, 0.11
_CENTRE, _TIP_SCALE = (0.13, 0.0), 8.0


@dataclass(frozen=True)
class Trajectories:
    """Sequences of one source: ``values`` [N, T, D] float32 in (-1, 1), ``labels`` [N, T] behaviour ids."""

    values: np.ndarray
    labels: np.ndarray
    behaviours: tuple[str, ...]
    source: str


def _lissajous_points(primitive: str, phase: np.ndarray, amplitude: float) -> np.ndarray:
    """Points [len(phase), 2] of a primitive at cycle phases ``phase`` (radians)."""
    fx, fy, offset = _LISSAJOUS[primitive]
    return amplitude * np.stack([np.sin(fx * phase), np.sin(fy * phase + offset)], -1)


def _lissajous(num: int, length: int, period: float, noise: float, switch_prob: float, rng) -> Trajectories:
    names = tuple(_LISSAJOUS)
    values = np.empty((num, length, 2))
    labels = np.empty((num, length), dtype=np.int64)
    step = 2 * np.pi / period
    for n in range(num):
        primitive = int(rng.integers(len(names)))
        phase = rng.uniform(0, 2 * np.pi)
        amplitude = 0.8 * rng.uniform(0.9, 1.0)
        for t in range(length):
            labels[n, t] = primitive
            values[n, t] = _lissajous_points(names[primitive], np.array([phase]), amplitude)[0]
            phase += step
            # a cycle ends: maybe switch to another primitive (all start at phase 0 mod 2π, so the path stays smooth
            # in x; y jumps where the primitives' offsets differ, as a switch between behaviours does)
            if switch_prob and phase >= 2 * np.pi:
                phase -= 2 * np.pi
                if rng.random() < switch_prob:
                    primitive = int(rng.integers(len(names)))
    values += noise * rng.standard_normal(values.shape)
    return Trajectories(values.astype(np.float32), labels, names, "switching" if switch_prob else "lissajous")


def _reacher_ik(points: np.ndarray) -> np.ndarray:
    """Joint angles [K, 2] that put the fingertip at ``points`` [K, 2] (elbow-down branch)."""
    r2 = (points**2).sum(-1)
    cos_elbow = np.clip((r2 - _LINK1**2 - _LINK2**2) / (2 * _LINK1 * _LINK2), -1.0, 1.0)
    elbow = np.arccos(cos_elbow)
    shoulder = np.arctan2(points[:, 1], points[:, 0]) - np.arctan2(
        _LINK2 * np.sin(elbow), _LINK1 + _LINK2 * np.cos(elbow)
    )
    return np.stack([shoulder, elbow], -1)


def _reacher_path(primitive: str, length: int, period: float, rng) -> np.ndarray:
    """A target path [length, 2] of the fingertip, inside the right half of the reachable ring."""
    phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(length) / period
    centre, radius = np.array(_CENTRE), rng.uniform(0.045, 0.06)
    if primitive == "circle":
        return centre + radius * np.stack([np.cos(phase), np.sin(phase)], -1)
    if primitive == "line":
        return centre + np.stack([0.3 * radius * np.sin(phase), 1.3 * radius * np.sin(phase)], -1)
    if primitive == "figure_eight":
        return centre + radius * np.stack([np.sin(phase), np.sin(2 * phase)], -1)
    # reach three random points in turn, holding each for a third of the period
    targets = centre + radius * rng.uniform(-1.2, 1.2, size=(3, 2))
    which = (np.floor(3 * phase / (2 * np.pi)).astype(int)) % 3
    return targets[which]


def _reacher(num: int, length: int, period: float, rng) -> Trajectories:
    import gymnasium as gym

    env = gym.make("Reacher-v5")
    env.reset(seed=int(rng.integers(2**31)))
    sim = env.unwrapped
    values = np.empty((num, length, 4))
    labels = np.empty((num, length), dtype=np.int64)
    for n in range(num):
        primitive = int(rng.integers(len(_REACHER)))
        labels[n] = primitive
        goals = _reacher_ik(_reacher_path(_REACHER[primitive], length, period, rng))
        qpos = sim.init_qpos.copy()
        qpos[:2] = goals[0]
        sim.set_state(qpos, np.zeros_like(sim.init_qvel))
        for t in range(length):
            q, qdot = sim.data.qpos[:2], sim.data.qvel[:2]
            error = (goals[t] - q + np.pi) % (2 * np.pi) - np.pi
            action = np.clip(3.0 * error - 0.1 * qdot, -1.0, 1.0)
            sim.do_simulation(action, sim.frame_skip)
            tip = sim.get_body_com("fingertip")[:2]
            q = sim.data.qpos[:2]
            values[n, t] = (_TIP_SCALE * (tip[0] - _CENTRE[0]), _TIP_SCALE * tip[1], q[0] + 0.9, q[1] - 1.6)
    env.close()
    return Trajectories(np.clip(values, -0.99, 0.99).astype(np.float32), labels, _REACHER, "reacher")


def _pendulum(num: int, length: int, period: float, rng) -> Trajectories:
    import gymnasium as gym

    env = gym.make("Pendulum-v1")
    env.reset(seed=int(rng.integers(2**31)))
    sim = env.unwrapped
    values = np.empty((num, length, 3))
    labels = np.empty((num, length), dtype=np.int64)
    # torque amplitude and period (in steps) of each behaviour; Pendulum's small-swing period is ~40 steps
    drives = {"gentle": (0.6, period), "resonant": (1.2, 40.0), "over_the_top": (2.0, 30.0)}
    for n in range(num):
        primitive = int(rng.integers(len(_PENDULUM)))
        labels[n] = primitive
        amplitude, drive_period = drives[_PENDULUM[primitive]]
        sim.state = np.array([np.pi + rng.uniform(-0.3, 0.3), 0.0])
        shift = rng.uniform(0, 2 * np.pi)
        for t in range(length):
            torque = amplitude * np.sin(2 * np.pi * t / drive_period + shift)
            obs, *_ = env.step(np.array([torque], dtype=np.float32))
            values[n, t] = (0.9 * obs[0], 0.9 * obs[1], obs[2] / 8.0)
    env.close()
    return Trajectories(np.clip(values, -0.99, 0.99).astype(np.float32), labels, _PENDULUM, "pendulum")


@functools.lru_cache(maxsize=32)
def _generate(source: str, num: int, length: int, seed: int, period: float, noise: float, switch_prob: float):
    rng = np.random.default_rng(seed)
    if source in ("lissajous", "switching"):
        return _lissajous(num, length, period, noise, switch_prob if source == "switching" else 0.0, rng)
    if source == "reacher":
        return _reacher(num, length, period, rng)
    return _pendulum(num, length, period, rng)


def generate_trajectories(
    source: str = "lissajous",
    num_sequences: int = 32,
    length: int = 100,
    seed: int = 0,
    period: float = 25.0,
    noise: float = 0.01,
    switch_prob: float = 0.5,
) -> Trajectories:
    """``num_sequences`` sequences of ``length`` steps from ``source``; the same arguments give the same arrays.

    Args:
        source: one of :data:`SOURCES`.
        num_sequences, length: N and T.
        seed: seeds every random choice (primitive, phase, targets, noise, the simulator's reset).
        period: steps per cycle of a primitive (the pendulum's gentle drive).
        noise: observation noise (standard deviation) of the patterns.
        switch_prob: probability of a switch at a cycle's end (``"switching"``).

    Returns:
        :class:`Trajectories`, cached in memory (treat the arrays as read-only).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown trajectory source {source!r}; valid: {', '.join(SOURCES)}")
    if num_sequences < 1 or length < 2:
        raise ValueError(f"num_sequences must be >= 1 and length >= 2, got {num_sequences}, {length}")
    if period < 2 or noise < 0 or not 0 <= switch_prob <= 1:
        raise ValueError(f"need period >= 2, noise >= 0, switch_prob in [0, 1]; got {period}, {noise}, {switch_prob}")
    return _generate(source, num_sequences, length, seed, float(period), float(noise), float(switch_prob))


class TrajectoryDataset(Dataset):
    """One sequence per item: ``{"inputs": [T, D] float, "index": int, "labels": [T] long}``.

    ``index`` is the item's position in this dataset; for the training split it selects the
    sequence's adaptive vectors in :class:`~recur_planning.models.pvrnn.PVRNN`.
    """

    def __init__(self, trajectories: Trajectories) -> None:
        self.trajectories = trajectories
        self.values = torch.from_numpy(np.array(trajectories.values))
        self.labels = torch.from_numpy(np.array(trajectories.labels))

    @property
    def input_dim(self) -> int:
        return self.values.shape[-1]

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        return {"inputs": self.values[index], "index": index, "labels": self.labels[index]}
