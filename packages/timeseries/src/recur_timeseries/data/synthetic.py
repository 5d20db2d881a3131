"""Embedded series that need no download: simulated AR(p) processes and statsmodels' sunspots.

The AR processes follow the AR-Net paper's synthetic setting (Triebe et al. 2019,
https://arxiv.org/abs/1911.12436): y_t = Σ_{i=1}^{p} φ_i y_{t-i} + ε_t with ε_t ~ N(0, σ²), σ = 1,
simulated by statsmodels' ``ArmaProcess`` after a burn-in so the start-up transient is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from statsmodels.tsa.arima_process import ArmaProcess

from recur_timeseries.data.windowing import LagWindows, Standardizer, split_with_lookback

__all__ = [
    "PAPER_SPARSE_AR3",
    "SOLAR_CYCLE_YEARS",
    "ARProcessDataset",
    "SunspotsDataset",
    "generate_ar_process",
    "sunspots_series",
]

Split = Literal["train", "val", "test"]

# mean length of the solar (Schwabe) cycle in years: the sunspots' seasonal-naive period
SOLAR_CYCLE_YEARS = 11

# The paper's sparse process: AR(3) with φ = (0.2, 0.3, -0.5), fitted with much larger orders.
PAPER_SPARSE_AR3: tuple[float, ...] = (0.2, 0.3, -0.5)


def generate_ar_process(
    coefficients: Sequence[float],
    n_values: int,
    noise_std: float = 1.0,
    burn_in: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    r"""Simulate ``n_values`` steps of a stationary AR process.

    .. math::
        y_t = \sum_{i=1}^{p} \phi_i\, y_{t-i} + \varepsilon_t, \qquad \varepsilon_t \sim \mathcal N(0, \sigma^2)

    Args:
        coefficients: φ_1 … φ_p, lag 1 first.
        n_values: length of the returned series.
        noise_std: σ (default 1, as in the paper).
        burn_in: steps simulated and dropped before the first returned value (default 1000).
        seed: seed of the innovations; the same seed gives the same series.

    Returns:
        float64 array [n_values].
    """
    phi = np.asarray(coefficients, dtype=np.float64)
    process = ArmaProcess(ar=np.r_[1.0, -phi], ma=[1.0])
    if not process.isstationary:
        raise ValueError(
            f"AR coefficients {phi.tolist()} give a non-stationary process "
            "(a root of 1 - Σ φ_i z^i lies on or inside the unit circle)"
        )
    rng = np.random.default_rng(seed)
    return process.generate_sample(nsample=n_values, scale=noise_std, distrvs=rng.standard_normal, burnin=burn_in)


def sunspots_series() -> np.ndarray:
    """Yearly mean sunspot numbers 1700–2008 (309 values), the ``SUNACTIVITY`` column bundled with statsmodels."""
    from statsmodels.datasets import sunspots

    return sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64)


class ARProcessDataset(LagWindows):
    """Exactly ``n_samples`` lag windows of a freshly simulated AR process, with its true coefficients.

    Args:
        coefficients: the true φ_1 … φ_k (e.g. :data:`PAPER_SPARSE_AR3`).
        n_samples: number of (lags, targets) pairs; the series has n_samples + p + n_forecasts - 1 values.
        p: lags per window (the fitted order, usually larger than ``len(coefficients)``).
        n_forecasts: targets per window (default 1).
        noise_std: σ of the innovations (default 1).
        burn_in: simulated steps dropped first (default 1000).
        seed: innovations seed; use different seeds for train and validation sets.

    ``period`` is None: a stationary AR process has no season, so there is no seasonal-naive
    forecast of it.

    Shapes:
        item: lags [p], targets [n_forecasts]; ``true_coefficients`` [len(coefficients)].
    """

    def __init__(
        self,
        coefficients: Sequence[float],
        n_samples: int,
        p: int,
        n_forecasts: int = 1,
        noise_std: float = 1.0,
        burn_in: int = 1000,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        series = generate_ar_process(coefficients, n_samples + p + n_forecasts - 1, noise_std, burn_in, seed)
        super().__init__(series, p, n_forecasts, dtype)
        self.true_coefficients = np.asarray(coefficients, dtype=np.float64)


class SunspotsDataset(LagWindows):
    """One chronological split of the sunspots series, z-scored with training statistics.

    The last ``test_fraction`` and the ``val_fraction`` before it are held out (rounded to whole
    years); validation and test splits are prefixed with the p preceding years, so each split's
    first target is its own first year. ``past`` holds every earlier year; ``period`` is 11 years,
    the mean length of the solar cycle (single cycles run 9 to 14 years, so a seasonal-naive
    forecast 11 years back is a rough reference, not a fixed season).

    Args:
        p: number of lags.
        n_forecasts: targets per window (default 1).
        split: ``"train"``, ``"val"`` or ``"test"``.
        val_fraction: share of the series for validation (default 0.15).
        test_fraction: share of the series for testing (default 0.15).

    Shapes:
        item: lags [p], targets [n_forecasts], in training z-units; ``standardizer`` maps back to sunspot numbers.
    """

    def __init__(
        self,
        p: int,
        n_forecasts: int = 1,
        split: Split = "train",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        series = sunspots_series()
        n_val, n_test = round(val_fraction * len(series)), round(test_fraction * len(series))
        sizes = (len(series) - n_val - n_test, n_val, n_test)
        parts = dict(zip(("train", "val", "test"), split_with_lookback(series, sizes, lookback=p)))
        if split not in parts:
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.standardizer = Standardizer.fit(parts["train"])
        start = {"train": 0, "val": sizes[0] - p, "test": sizes[0] + sizes[1] - p}[split]
        super().__init__(
            self.standardizer.transform(parts[split]),
            p,
            n_forecasts,
            dtype,
            past=self.standardizer.transform(series[:start]),
            period=SOLAR_CYCLE_YEARS,
        )
