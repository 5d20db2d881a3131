r"""Lorenz-63 trajectories with observation noise: a chaotic system to learn the dynamics of.

Lorenz, "Deterministic Nonperiodic Flow", J. Atmos. Sci. 1963; the set-up (5% observation noise on
the training data, clean test data) is that of Hess et al., "Generalized Teacher Forcing for
Learning Chaotic Dynamics", ICML 2023, https://arxiv.org/abs/2306.04406.

.. math::
    \dot x = s (y - x), \qquad \dot y = x (r - z) - y, \qquad \dot z = x y - b z,
    \qquad s = 10,\ r = 28,\ b = 8/3,

integrated with classic Runge–Kutta (RK4) at step ``dt`` from random initial states, after a
burn-in that brings every trajectory onto the attractor. Each dimension is standardised with the
mean and standard deviation of the clean training trajectories (the same numbers for every split),
and the training split gets Gaussian noise of ``noise`` times that standard deviation (i.e.
``noise`` in standardised units). Batches are ``{"inputs": [B, T, 3] float32}``; the validation and
test splits are clean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.engine.datamodule import Split, SplitDataModule
from recur_core.tasks.base import single_threaded, split_generator

__all__ = ["Lorenz63Data", "TrajectoryDataset", "integrate_rk4", "lorenz63"]


def _lorenz_field(state: Tensor, s: float, r: float, b: float) -> Tensor:
    x, y, z = state.unbind(-1)
    return torch.stack((s * (y - x), x * (r - z) - y, x * y - b * z), -1)


@single_threaded
def lorenz63(
    num: int,
    steps: int,
    generator: torch.Generator,
    dt: float = 0.01,
    burn_in: int = 1000,
    s: float = 10.0,
    r: float = 28.0,
    b: float = 8.0 / 3.0,
) -> Tensor:
    """``num`` Lorenz-63 trajectories of ``steps`` points ``dt`` apart, all integrated at once (RK4).

    Initial states are drawn around the attractor and run ``burn_in`` steps before the first
    point is kept.

    Shapes:
        -> [num, steps, 3] float64 (unscaled coordinates).
    """
    if num < 1 or steps < 1 or burn_in < 0 or dt <= 0:
        raise ValueError(f"need num, steps >= 1, burn_in >= 0 and dt > 0, got {num}, {steps}, {burn_in}, {dt}")
    state = torch.randn(num, 3, generator=generator, dtype=torch.float64) * 8 + torch.tensor([0.0, 0.0, 25.0])
    return integrate_rk4(lambda x: _lorenz_field(x, s, r, b), state, steps, dt, burn_in)


def integrate_rk4(field: Callable[[Tensor], Tensor], state: Tensor, steps: int, dt: float, burn_in: int = 0) -> Tensor:
    """Integrate ``dx/dt = field(x)`` from every row of ``state`` at once with classical Runge-Kutta 4.

    The first ``burn_in`` steps are run and dropped; the next ``steps`` states are kept.

    Shapes:
        state [num, n] -> [num, steps, n], the dtype of ``state``.
    """
    out = torch.empty(state.shape[0], steps, state.shape[1], dtype=state.dtype)
    for t in range(burn_in + steps):
        k1 = field(state)
        k2 = field(state + 0.5 * dt * k1)
        k3 = field(state + 0.5 * dt * k2)
        k4 = field(state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if t >= burn_in:
            out[:, t - burn_in] = state
    return out


class TrajectoryDataset(Dataset):
    """Fixed-length real-valued trajectories [N, T, D]; item ``i`` is ``{"inputs": [T, D] float32}``."""

    def __init__(self, trajectories: Tensor) -> None:
        if trajectories.dim() != 3 or not trajectories.is_floating_point():
            shape = tuple(trajectories.shape)
            raise ValueError(f"trajectories must be float [N, T, D], got {trajectories.dtype} {shape}")
        self.trajectories = trajectories.float()

    def __len__(self) -> int:
        return self.trajectories.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"inputs": self.trajectories[index]}


class Lorenz63Data(SplitDataModule):
    """Standardised Lorenz-63 trajectories, noisy for training and clean for validation and test.

    Paper: Hess et al. 2023, https://arxiv.org/abs/2306.04406 (set-up in :mod:`recur_core.tasks.lorenz`).
    Train a latent model on it with :class:`~recur_core.techniques.teacher_forcing.GTFTask`
    (``d_model = 3``).

    Args:
        seq_len: points per training trajectory (200 in the paper's runs).
        eval_len: points per validation and test trajectory (longer, so that D_stsp and D_H see
            more of the attractor).
        num_train, num_val, num_test: trajectories per split.
        noise: observation noise of the training split, in standard deviations of each dimension.
        dt: integration and sampling step.
        batch_size: trajectories per batch.
        seed: makes every split and the training order reproducible.

    Shapes:
        batch inputs [B, T, 3] float32.
    """

    input_dim: int = 3

    def __init__(
        self,
        seq_len: int = 200,
        eval_len: int = 1000,
        num_train: int = 512,
        num_val: int = 16,
        num_test: int = 16,
        noise: float = 0.05,
        dt: float = 0.01,
        batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        if min(seq_len, eval_len) < 2:
            raise ValueError(f"seq_len and eval_len must be at least 2 (a step to predict), got {seq_len}, {eval_len}")
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0 (standard deviations), got {noise}")
        self.save_hyperparameters()
        self.seq_len, self.eval_len, self.noise, self.dt = seq_len, eval_len, noise, dt
        self.num_samples = {"train": num_train, "val": num_val, "test": num_test}
        self.mean: Tensor | None = None
        self.std: Tensor | None = None

    def _clean(self, split: Split) -> Tensor:
        length = self.seq_len if split == "train" else self.eval_len
        return lorenz63(self.num_samples[split], length, split_generator(self.seed, split), dt=self.dt)

    def make_dataset(self, split: Split) -> TrajectoryDataset:
        """The generated ``split``: standardised with the training statistics, noisy for ``"train"``."""
        train = self._clean("train")
        if self.mean is None:
            self.mean, self.std = train.mean((0, 1)), train.std((0, 1))
        clean = train if split == "train" else self._clean(split)
        data = (clean - self.mean) / self.std
        if split == "train" and self.noise > 0:
            generator = split_generator(self.seed, "shuffle")
            data = data + self.noise * torch.randn(data.shape, generator=generator, dtype=data.dtype)
        return TrajectoryDataset(data)
