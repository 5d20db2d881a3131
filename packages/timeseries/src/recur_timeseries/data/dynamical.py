r"""Trajectories for dynamical-systems reconstruction: Lorenz-63 and Lorenz-96 (generated), and ETT (measured).

The set-up follows Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning
Chaotic Dynamics", ICML 2023, https://arxiv.org/abs/2306.04406 (official code
``DurstewitzLab/GTF-shPLRNN``): one long training trajectory, z-scored, with Gaussian observation
noise (5% of each variable's standard deviation for Lorenz-63), cut into training sequences of 200
steps; a clean held-out trajectory scores the model's free run.

- Lorenz-63 comes from :func:`recur_core.tasks.lorenz.lorenz63` (RK4).
- Lorenz-96 (Lorenz 1996, "Predictability: a problem partly solved"): N variables on a ring,

  .. math:: \dot x_i = (x_{i+1} - x_{i-2})\, x_{i-1} - x_i + F, \qquad i = 1..N \ (\text{indices mod } N),

  chaotic for F = 8; integrated with RK4 by :func:`lorenz96`, all variables and trajectories at once.
- A measured series: one ETT variable (default the oil temperature ``OT``) read with
  :func:`recur_timeseries.data.ett.load_ett`, optionally delay-embedded (:func:`delay_embed`,
  a fixed-delay embedding as PECUZAL would return it for a fixed delay) so that a scalar series
  becomes a 3-D state whose attractor can be drawn.

:class:`TrajectoryWindows` cuts a trajectory [T, N] into training sequences; the held-out
trajectory is one item [T, N]. Both are :class:`recur_core.tasks.lorenz.TrajectoryDataset`
(items ``{"inputs": [T, N] float32}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from recur_core.tasks.base import single_threaded, split_generator
from recur_core.tasks.lorenz import TrajectoryDataset, integrate_rk4, lorenz63

__all__ = [
    "GENERATED_SYSTEMS",
    "ReconstructionSeries",
    "TrajectoryDataset",
    "TrajectoryWindows",
    "delay_embed",
    "ett_trajectories",
    "generated_trajectories",
    "lorenz96",
    "lorenz96_field",
]

GENERATED_SYSTEMS: tuple[str, ...] = ("lorenz63", "lorenz96")


def lorenz96_field(x: Tensor, forcing: float = 8.0) -> Tensor:
    r"""The Lorenz-96 vector field :math:`\dot x_i = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F` on the ring.

    Shapes:
        x [..., N] (N >= 4) -> [..., N].
    """
    ahead, behind, two_behind = x.roll(-1, -1), x.roll(1, -1), x.roll(2, -1)
    return (ahead - two_behind) * behind - x + forcing


@single_threaded
def lorenz96(
    num: int,
    steps: int,
    generator: torch.Generator,
    n: int = 10,
    forcing: float = 8.0,
    dt: float = 0.01,
    burn_in: int = 1000,
) -> Tensor:
    """``num`` Lorenz-96 trajectories of ``n`` variables, ``steps`` points ``dt`` apart (RK4, all at once).

    Each trajectory starts at the fixed point :math:`x_i = F` plus a small random perturbation and runs
    ``burn_in`` steps onto the attractor before the first point is kept.

    Shapes:
        -> [num, steps, n] float64 (unscaled).
    """
    if n < 4:
        raise ValueError(f"Lorenz-96 needs at least 4 variables on its ring, got n={n}")
    if num < 1 or steps < 1 or burn_in < 0 or dt <= 0:
        raise ValueError(f"need num, steps >= 1, burn_in >= 0 and dt > 0, got {num}, {steps}, {burn_in}, {dt}")
    state = forcing + 0.5 * torch.randn(num, n, generator=generator, dtype=torch.float64)
    return integrate_rk4(lambda x: lorenz96_field(x, forcing), state, steps, dt, burn_in)


def delay_embed(series: np.ndarray, dim: int, delay: int) -> np.ndarray:
    r"""Fixed-delay embedding :math:`s_t \mapsto (s_t, s_{t-\tau}, \dots, s_{t-(d-1)\tau})`.

    Row t of the result is the state at time ``t + (dim - 1) * delay`` of the series.

    Shapes:
        series [T] -> [T - (dim - 1) * delay, dim].
    """
    series = np.asarray(series)
    if series.ndim != 1:
        raise ValueError(f"delay_embed takes one series [T], got shape {series.shape}")
    if dim < 1 or delay < 1:
        raise ValueError(f"embedding dim and delay must be at least 1, got dim={dim}, delay={delay}")
    span = (dim - 1) * delay
    if len(series) <= span:
        raise ValueError(
            f"a series of {len(series)} points is too short for a {dim}-d embedding with delay {delay}; "
            "lower the delay or the dimension"
        )
    windows = np.lib.stride_tricks.sliding_window_view(series, span + 1)
    return windows[:, ::-1][:, ::delay].copy()


@dataclass(frozen=True)
class ReconstructionSeries:
    """The three z-scored trajectories of a reconstruction task.

    Shapes:
        train [T_train, N] (with observation noise, if any); val [T_val, N] and test [T_test, N] (clean).
    """

    train: Tensor
    val: Tensor
    test: Tensor
    names: tuple[str, ...]


def _check_length(name: str, length: int, minimum: int, fix: str) -> None:
    if length < minimum:
        raise ValueError(f"{name} has {length} points, fewer than the {minimum} needed; {fix}")


def generated_trajectories(
    system: str,
    train_len: int = 20000,
    eval_len: int = 10000,
    noise: float = 0.05,
    dt: float = 0.01,
    n: int = 10,
    forcing: float = 8.0,
    seed: int = 0,
) -> ReconstructionSeries:
    """One training and two held-out trajectories of ``system`` (``"lorenz63"`` or ``"lorenz96"``).

    Every split is its own trajectory from its own initial state (streams from ``(seed, split)``),
    z-scored per variable with the clean training trajectory's mean and standard deviation; the
    training trajectory then gets Gaussian noise of ``noise`` (in standard deviations).

    Args:
        system: ``"lorenz63"`` or ``"lorenz96"``.
        train_len, eval_len: points of the training and of each held-out trajectory.
        noise: observation noise of the training trajectory.
        dt: sampling (and RK4) step.
        n, forcing: Lorenz-96's number of variables N and forcing F.
        seed: fixes all three trajectories and the noise.
    """
    if system not in GENERATED_SYSTEMS:
        raise ValueError(f"system must be one of {GENERATED_SYSTEMS}, got {system!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0 (standard deviations), got {noise}")

    def trajectory(split: str, steps: int) -> Tensor:
        generator = split_generator(seed, split)
        if system == "lorenz63":
            return lorenz63(1, steps, generator, dt=dt)[0]
        return lorenz96(1, steps, generator, n=n, forcing=forcing, dt=dt)[0]

    train, val, test = trajectory("train", train_len), trajectory("val", eval_len), trajectory("test", eval_len)
    mean, std = train.mean(0), train.std(0)
    train, val, test = ((x - mean) / std for x in (train, val, test))
    if noise > 0:
        train = train + noise * torch.randn(train.shape, generator=split_generator(seed, "shuffle"), dtype=train.dtype)
    names = ("x", "y", "z") if system == "lorenz63" else tuple(f"x{i + 1}" for i in range(n))
    return ReconstructionSeries(train.float(), val.float(), test.float(), names)


def ett_trajectories(
    path: str | Path,
    target: str = "OT",
    embedding_dim: int = 1,
    embedding_delay: int = 1,
    splits: tuple[int, int, int] | None = None,
) -> ReconstructionSeries:
    """One ETT variable in the standard 12/4/4-month splits, z-scored with training statistics, delay-embedded.

    With ``embedding_dim`` d > 1 each split becomes the fixed-delay embedding :func:`delay_embed` of
    the variable; validation and test borrow the ``(d - 1) * delay`` preceding rows, so each split
    keeps its full length.

    Args:
        path: the ETT CSV.
        target: the variable (default the oil temperature ``OT``).
        embedding_dim, embedding_delay: d and τ of the embedding (d = 1: the series itself).
        splits: (train, val, test) rows; default the standard ETT split.
    """
    from recur_timeseries.data.ett import load_ett

    span = (embedding_dim - 1) * embedding_delay
    if embedding_dim < 1 or embedding_delay < 1:
        raise ValueError(
            f"embedding_dim and embedding_delay must be at least 1, got {embedding_dim}, {embedding_delay}"
        )
    data = load_ett(path, columns=[target], splits=splits, lookback=span)
    parts = [
        delay_embed(data.column(split, target), embedding_dim, embedding_delay) for split in ("train", "val", "test")
    ]
    names = tuple(target if k == 0 else f"{target}(t-{k * embedding_delay})" for k in range(embedding_dim))
    return ReconstructionSeries(*(torch.from_numpy(part).float() for part in parts), names)


class TrajectoryWindows(TrajectoryDataset):
    """All ``seq_len``-point windows of a trajectory [T, N], ``stride`` apart, as training sequences.

    The windows are a view of the trajectory (no copy). Item ``i`` is
    ``{"inputs": trajectory[i * stride : i * stride + seq_len]}``.

    Shapes:
        trajectory [T, N] -> (T - seq_len) // stride + 1 items of [seq_len, N].
    """

    def __init__(self, trajectory: Tensor, seq_len: int, stride: int = 1) -> None:
        if trajectory.dim() != 2:
            raise ValueError(f"trajectory must be [T, N], got shape {tuple(trajectory.shape)}")
        if seq_len < 2 or stride < 1:
            raise ValueError(f"seq_len must be at least 2 and stride at least 1, got {seq_len}, {stride}")
        if trajectory.shape[0] < seq_len:
            raise ValueError(
                f"seq_len {seq_len} is longer than the training trajectory ({trajectory.shape[0]} points); "
                "lower --data.seq_len or use a longer series"
            )
        super().__init__(trajectory.float().unfold(0, seq_len, stride).transpose(1, 2))
        self.seq_len, self.stride = seq_len, stride
