"""Lag windows, chronological splits and z-scoring shared by every univariate dataset here.

Lag convention: column ``i`` of a lag matrix holds lag ``i + 1`` (``y[t - 1 - i]``) of the first
target ``y[t]``, most recent first, matching the weight order of
:class:`recur_timeseries.models.arnet.ARNet` and of statsmodels' ``AutoReg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["LagWindows", "Standardizer", "make_windows", "split_with_lookback"]


def make_windows(series: np.ndarray, p: int, n_forecasts: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every (p lags → next ``n_forecasts`` values) pair of a series, without a Python loop.

    Window n covers ``series[n : n + p + n_forecasts]``: its first p values, reversed, are the lags
    and the rest are the targets, so ``lags[n, i] = series[n + p - 1 - i]`` and
    ``targets[n, k] = series[n + p + k]``.

    Args:
        series: a 1-D array of T values.
        p: number of lags.
        n_forecasts: number of future values per window.

    Returns:
        lags [N, p] and targets [N, n_forecasts] with N = T - p - n_forecasts + 1 (copies, not views).

    Shapes:
        series [T] -> lags [N, p], targets [N, n_forecasts].
    """
    series = np.asarray(series)
    if series.ndim != 1:
        raise ValueError(f"expected a 1-D series, got shape {series.shape}")
    if p < 1 or n_forecasts < 1:
        raise ValueError(f"p and n_forecasts must be positive, got p={p}, n_forecasts={n_forecasts}")
    width = p + n_forecasts
    if len(series) < width:
        raise ValueError(
            f"a series of {len(series)} values is too short for windows of p={p} lags + {n_forecasts} "
            f"forecast step(s); it needs at least {width} values"
        )
    windows = sliding_window_view(series, width)
    return windows[:, p - 1 :: -1].copy(), windows[:, p:].copy()


def split_with_lookback(values: np.ndarray, sizes: Sequence[int], lookback: int) -> list[np.ndarray]:
    """Consecutive chronological splits, each after the first prefixed by the ``lookback`` rows before it.

    With ``lookback = p`` the first window of a later split predicts that split's first row, so no
    target is shared between splits while every split can still see its own past (the ETT
    convention of Zhou et al. 2021).

    Args:
        values: array whose first axis is time, at least ``sum(sizes)`` long.
        sizes: number of rows owned by each split.
        lookback: rows of context borrowed from the preceding split (at most the first split's size).

    Returns:
        one array per split; split k > 0 has ``sizes[k] + lookback`` rows.
    """
    if sum(sizes) > len(values):
        raise ValueError(f"splits of {list(sizes)} rows need {sum(sizes)} rows, the series has {len(values)}")
    if not 0 <= lookback <= sizes[0]:
        raise ValueError(f"lookback must be in [0, {sizes[0]}] (the first split's size), got {lookback}")
    bounds = np.cumsum([0, *sizes])
    starts = [lo - lookback if k else lo for k, lo in enumerate(bounds[:-1])]
    return [values[start:hi] for start, hi in zip(starts, bounds[1:])]


@dataclass(frozen=True)
class Standardizer:
    """z-scoring with statistics of the training split: ``(x - mean) / std`` per column.

    Shapes:
        mean, std [C] for a table [T, C], or 0-d for a series [T].
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray) -> Standardizer:
        """Mean and standard deviation over time (axis 0); a constant column keeps std 1."""
        mean = np.mean(train, axis=0)
        std = np.std(train, axis=0)
        return cls(mean=mean, std=np.where(std > 0, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


class LagWindows(Dataset):
    """A torch ``Dataset`` of (lags, targets) pairs cut from one series by :func:`make_windows`.

    Besides the windows it keeps what the naive baselines of
    :func:`recur_timeseries.models.baselines.baseline_forecasts` need: the series' seasonal
    ``period`` and the values before it (``past``), so :meth:`history` can give the same windows
    more lags than the model sees (a seasonal-naive forecast one day back when p is shorter).

    Args:
        series: 1-D array of T values (already normalized if wanted).
        p: number of lags.
        n_forecasts: future values per item (default 1).
        dtype: tensor dtype (default float32).
        past: the values of the same series before ``series[0]``, in the same units (default none).
        period: the seasonal period in steps (24 for hourly data with a daily cycle), or None
            when the series has none.

    Shapes:
        item: lags [p] (most recent first), targets [n_forecasts]; ``lags`` [N, p] and ``targets``
        [N, n_forecasts] hold all of them; ``past`` [T_past].
    """

    def __init__(
        self,
        series: np.ndarray,
        p: int,
        n_forecasts: int = 1,
        dtype: torch.dtype = torch.float32,
        past: np.ndarray | None = None,
        period: int | None = None,
    ) -> None:
        lags, targets = make_windows(series, p, n_forecasts)
        if period is not None and period < 1:
            raise ValueError(f"period must be a positive number of steps or None, got {period}")
        self.p = p
        self.n_forecasts = n_forecasts
        self.series = np.asarray(series)
        self.past = np.asarray([] if past is None else past, dtype=self.series.dtype)
        self.period = period
        self.lags = torch.as_tensor(lags, dtype=dtype)
        self.targets = torch.as_tensor(targets, dtype=dtype)

    @property
    def max_lags(self) -> int:
        """The most lags :meth:`history` can give every window: p plus the length of ``past``."""
        return self.p + len(self.past)

    def history(self, width: int) -> Tensor:
        """The same N windows with ``width`` lags (lag 1 first), reaching into ``past`` beyond lag p.

        Columns ``[:p]`` equal :attr:`lags` where ``width >= p``; the targets are unchanged.

        Shapes:
            -> [N, width], the dtype of :attr:`lags`.
        """
        if not 1 <= width <= self.max_lags:
            raise ValueError(
                f"history of {width} lags asked for, but the windows have p={self.p} lags and "
                f"{len(self.past)} earlier values, at most {self.max_lags} lags"
            )
        if width <= self.p:
            return self.lags[:, :width]
        extra = width - self.p
        series = np.concatenate([self.past[len(self.past) - extra :], self.series])
        lags, _ = make_windows(series, width, self.n_forecasts)
        return torch.as_tensor(lags, dtype=self.lags.dtype)

    def __len__(self) -> int:
        return self.lags.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.lags[index], self.targets[index]
