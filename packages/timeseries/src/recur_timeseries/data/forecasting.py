"""Multivariate long-term-forecasting windows: ``input_len`` rows of every channel → the next ``horizon`` rows.

This is the windowing of the long-term-forecasting (LTSF) benchmarks of Zhou et al. (2021,
Informer, https://arxiv.org/abs/2012.07436), Wu et al. (2021, Autoformer,
https://arxiv.org/abs/2106.13008) and Zeng et al. (2023, "Are Transformers Effective for Time
Series Forecasting?", https://arxiv.org/abs/2205.13504): window i of a normalised table
``values`` [T, C] is

    x_i = values[i : i + L],   y_i = values[i + L : i + L + H],   i = 0 … T − L − H

so consecutive windows overlap and every row of the table is a target of some window (except the
first L). Every window of a split is a view of one strided tensor (``Tensor.unfold``, torch's
``sliding_window_view``), so the windows of a long split cost no memory beyond the table.

The embedded default, :func:`generate_multiseasonal`, is a seeded multivariate series with the
structure of ETT (7 channels, hourly, a daily and a weekly season, drift, correlated persistent
noise); :func:`generated_forecast_windows` splits it like ETTh1 (8640 / 2880 / 2880 rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recur_timeseries.data.windowing import Standardizer, split_with_lookback

__all__ = ["GENERATED_SPLITS", "ForecastWindows", "generate_multiseasonal", "generated_forecast_windows"]

# rows of the generated series' train / val / test splits: ETTh1's 12 / 4 / 4 months of hours
GENERATED_SPLITS: tuple[int, int, int] = (8640, 2880, 2880)


class ForecastWindows(Dataset):
    """Every (input [L, C] → target [H, C]) window of one normalised multivariate series.

    Args:
        values: [T, C] array, already normalised (e.g. z-scored with training statistics).
        input_len: L, rows the model sees.
        horizon: H, rows it forecasts.
        period: the season in steps (24 for hourly data with a daily cycle) for the
            seasonal-naive baseline, or None when the series has none.
        dtype: tensor dtype of the items (default float32).

    Attributes:
        values: the table as given (float64 numpy); ``channels`` = C.
        inputs: [N, L, C] tensor of every window's input, ``targets``: [N, H, C] of every target,
            N = T − L − H + 1; both are strided views of one tensor (no copy per window).

    Shapes:
        item i: ``(values[i : i + L], values[i + L : i + L + H])`` as [L, C], [H, C] tensors.
    """

    def __init__(
        self,
        values: np.ndarray,
        input_len: int,
        horizon: int,
        period: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(
                f"ForecastWindows needs a [T, C] table (time × channels), got shape {values.shape}; "
                "reshape a single series with values.reshape(-1, 1)"
            )
        if input_len < 1 or horizon < 1:
            raise ValueError(f"input_len and horizon must be at least 1, got input_len={input_len}, horizon={horizon}")
        if period is not None and period < 1:
            raise ValueError(f"period must be a positive number of steps or None, got {period}")
        width = input_len + horizon
        if len(values) < width:
            raise ValueError(
                f"a series of {len(values)} rows is too short for windows of input_len={input_len} + "
                f"horizon={horizon}; it needs at least {width} rows (lower input_len/horizon or use a longer split)"
            )
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            raise ValueError(f"the series has a NaN or infinite value at row {row}; fill or drop it before windowing")
        self.values = values
        self.input_len = input_len
        self.horizon = horizon
        self.channels = values.shape[1]
        self.period = period
        table = torch.as_tensor(values, dtype=dtype)
        # [N, C, L + H] -> [N, L + H, C], a strided view: window i starts at row i
        windows = table.unfold(0, width, 1).transpose(1, 2)
        self.inputs = windows[:, :input_len]
        self.targets = windows[:, input_len:]

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.inputs[index], self.targets[index]


def generate_multiseasonal(
    n_steps: int = sum(GENERATED_SPLITS),
    channels: int = 7,
    period: int = 24,
    factors: int = 3,
    noise_std: float = 0.2,
    seed: int = 0,
) -> np.ndarray:
    r"""A seeded multivariate series with two seasons, drift and cross-channel persistent noise.

    Channel c at step t (every amplitude, phase, slope and loading drawn once from ``seed``):

    .. math::
        x_c(t) = s_c\,\frac{t}{T} + a_c \sin(\tfrac{2\pi t}{P} + \phi_c)
        + \tfrac{a_c}{2} \sin(\tfrac{4\pi t}{P} + \phi'_c) + b_c \sin(\tfrac{2\pi t}{7P} + \psi_c)
        + \sum_k M_{ck} f_k(t) + \sigma \varepsilon_c(t)

    with a daily season of P steps (two harmonics), a weekly one (7P), a linear drift s_c ∈ [−1, 1]
    over the whole series, ``factors`` latent AR(1) processes f_k(t) = 0.95 f_k(t−1) + 0.3 η_k(t)
    shared by every channel through the loadings M [C, K] (the cross-channel coupling: a disturbance
    moves every channel at once and persists for tens of steps), and white noise σ ε. A forecaster
    that reads the seasons off the window and the factors' persistence beats repeating the last
    value by far; no forecaster can predict ε or the factors' future innovations.

    Args:
        n_steps: T, rows of the series (default 14400 = ETTh1's 20 months of hours).
        channels: C (default 7, as ETT).
        period: P, steps per day (default 24: hourly).
        factors: K, latent AR(1) processes.
        noise_std: σ of the white noise.
        seed: the same seed gives the same series.

    Returns:
        float64 array [n_steps, channels].
    """
    from statsmodels.tsa.arima_process import ArmaProcess

    if n_steps < 1 or channels < 1 or period < 2 or factors < 0:
        raise ValueError(
            f"need n_steps >= 1, channels >= 1, period >= 2 and factors >= 0, got n_steps={n_steps}, "
            f"channels={channels}, period={period}, factors={factors}"
        )
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)[:, None]
    daily, weekly = rng.uniform(0.5, 1.5, channels), rng.uniform(0.3, 1.0, channels)
    phase = rng.uniform(0.0, 2 * np.pi, (3, channels))
    slope = rng.uniform(-1.0, 1.0, channels)
    values = (
        slope * t / n_steps
        + daily * np.sin(2 * np.pi * t / period + phase[0])
        + daily / 2 * np.sin(4 * np.pi * t / period + phase[1])
        + weekly * np.sin(2 * np.pi * t / (7 * period) + phase[2])
        + noise_std * rng.standard_normal((n_steps, channels))
    )
    if factors:
        process = ArmaProcess(ar=[1.0, -0.95], ma=[1.0])
        latent = process.generate_sample(
            nsample=(n_steps, factors), scale=0.3, distrvs=rng.standard_normal, axis=0, burnin=500
        )
        values += latent @ rng.normal(0.0, 1.0 / np.sqrt(factors), (factors, channels))
    return values


def generated_forecast_windows(
    input_len: int = 96,
    horizon: int = 96,
    features: Literal["M", "S"] = "M",
    splits: Sequence[int] = GENERATED_SPLITS,
    channels: int = 7,
    period: int = 24,
    target_channel: int = -1,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> dict[str, ForecastWindows]:
    """Train / val / test :class:`ForecastWindows` of :func:`generate_multiseasonal`, in the ETT protocol.

    The series has ``sum(splits)`` rows, split in time; val and test borrow the ``input_len`` rows
    before them, and every channel is z-scored with the training rows' statistics (as
    :func:`recur_timeseries.data.ett.ett_forecast_windows`). ``features="S"`` keeps only channel
    ``target_channel`` (default the last, the place of ETT's target ``OT``).
    """
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' (all channels in and out) or 'S' (only the target), got {features!r}")
    if len(splits) != 3 or min(splits) < horizon or splits[0] < input_len + horizon:
        raise ValueError(
            f"splits={list(splits)} must be three row counts (train, val, test), each at least horizon={horizon} "
            f"and train at least input_len + horizon = {input_len + horizon}"
        )
    values = generate_multiseasonal(sum(splits), channels=channels, period=period, seed=seed)
    if not -channels <= target_channel < channels:
        raise ValueError(f"target_channel must index one of the {channels} channels, got {target_channel}")
    if features == "S":
        values = values[:, [target_channel]]
    parts = split_with_lookback(values, splits, lookback=input_len)
    scaler = Standardizer.fit(parts[0])
    return {
        split: ForecastWindows(scaler.transform(part), input_len, horizon, period=period, dtype=dtype)
        for split, part in zip(("train", "val", "test"), parts)
    }
