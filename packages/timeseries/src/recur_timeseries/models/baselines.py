r"""The forecasts AR-Net is compared with: Classic-AR and the two naive forecasts.

Classic-AR is the AR(p) least-squares fit of Triebe et al. 2019 (https://arxiv.org/abs/1911.12436).
It solves, on the same lag matrix AR-Net trains on,

.. math::
    \min_{b, W} \sum_n \lVert y_n - b - W x_n \rVert^2, \qquad x_n = (y_{t_n - 1}, \dots, y_{t_n - p})

so ``coefficients[k, i]`` is the weight of lag ``i + 1`` (index 0 = the most recent value) for
forecast step ``k``, the order of :class:`recur_timeseries.models.arnet.ARNet`'s weights and of
statsmodels' ``AutoReg`` lag parameters. With ``bias=True`` the fit equals ``AutoReg(trend="c")``;
with ``bias=False``, ``AutoReg(trend="n")``.

The naive forecasts need no fitting. Repeat-last (the random-walk forecast) predicts every step
with the last value, ŷ_{t+k} = y_{t-1}. Seasonal naive with period m predicts each step with the
value one season before it (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, §5.2):

.. math::
    \hat y_{t+k} = y_{t+k-m(\lfloor k/m \rfloor + 1)}, \qquad k = 0, \dots, n_{forecasts} - 1

which is lag ``m (⌊k/m⌋ + 1) − k`` of the window, so it needs m lags. A linear model that cannot
beat these on a series has learnt nothing the series' persistence does not already give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from recur_timeseries.data.windowing import LagWindows, make_windows

__all__ = ["ClassicAR", "baseline_forecasts", "fit_classic_ar", "repeat_last", "seasonal_naive"]


@dataclass(frozen=True)
class ClassicAR:
    """A least-squares AR fit.

    Shapes:
        coefficients [n_forecasts, p] (column i = lag i + 1); intercept [n_forecasts] (zeros without bias).
    """

    coefficients: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, lags: np.ndarray, targets: np.ndarray, bias: bool = True) -> ClassicAR:
        """Least squares of ``targets`` [N, n_forecasts] on ``lags`` [N, p] (and a constant when ``bias``)."""
        lags, targets = np.asarray(lags, dtype=np.float64), np.asarray(targets, dtype=np.float64)
        if targets.ndim == 1:
            targets = targets[:, None]
        design = np.hstack([np.ones((len(lags), 1)), lags]) if bias else lags
        solution, *_ = np.linalg.lstsq(design, targets, rcond=None)
        if bias:
            return cls(coefficients=solution[1:].T.copy(), intercept=solution[0].copy())
        return cls(coefficients=solution.T.copy(), intercept=np.zeros(targets.shape[1]))

    def predict(self, lags: np.ndarray) -> np.ndarray:
        """Forecasts [N, n_forecasts] for ``lags`` [N, p]."""
        return np.asarray(lags, dtype=np.float64) @ self.coefficients.T + self.intercept


def fit_classic_ar(series: np.ndarray, p: int, n_forecasts: int = 1, bias: bool = True) -> ClassicAR:
    """Fit AR(p) to a 1-D series by least squares on its windows (see :func:`make_windows`)."""
    lags, targets = make_windows(np.asarray(series, dtype=np.float64), p, n_forecasts)
    return ClassicAR.fit(lags, targets, bias)


def _as_float64(values: np.ndarray | Tensor) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def repeat_last(lags: np.ndarray | Tensor, n_forecasts: int = 1) -> np.ndarray:
    """The last value (lag 1, column 0) as the forecast of every step.

    Shapes:
        lags [N, p] -> [N, n_forecasts], float64.
    """
    lags = _as_float64(lags)
    return np.repeat(lags[:, :1], n_forecasts, axis=1)


def seasonal_naive(lags: np.ndarray | Tensor, period: int, n_forecasts: int = 1) -> np.ndarray:
    """Each step forecast by the value one season (``period`` steps) before it, from the window's lags.

    Step k (0-based) takes lag ``period * (k // period + 1) - k``, i.e. column ``period * (k // period + 1) - k - 1``.

    Shapes:
        lags [N, q] with q >= period -> [N, n_forecasts], float64.
    """
    lags = _as_float64(lags)
    if period < 1 or lags.shape[1] < period:
        raise ValueError(f"seasonal naive with period {period} needs at least {period} lags, got {lags.shape[1]}")
    step = np.arange(n_forecasts)
    return lags[:, period * (step // period + 1) - step - 1]


def baseline_forecasts(train: LagWindows, test: LagWindows) -> dict[str, np.ndarray]:
    """The baselines' forecasts of ``test``'s windows: ``repeat_last``, ``seasonal_naive``, ``classic_ar``.

    Classic-AR has the windows' order p and is fitted (with an intercept) on ``train``'s windows;
    the naive forecasts read ``test``'s lags, reaching into its ``past`` when the period is longer
    than p. ``seasonal_naive`` is left out when ``test.period`` is None (no season, e.g. a
    simulated AR process) or the series holds too few earlier values for it.

    Returns:
        name -> forecasts [N, n_forecasts] (float64), row n for ``test``'s window n.
    """
    n_forecasts = test.n_forecasts
    forecasts = {"repeat_last": repeat_last(test.lags, n_forecasts)}
    if test.period is not None and test.max_lags >= test.period:
        forecasts["seasonal_naive"] = seasonal_naive(test.history(test.period), test.period, n_forecasts)
    classic = ClassicAR.fit(_as_float64(train.lags), _as_float64(train.targets))
    forecasts["classic_ar"] = classic.predict(_as_float64(test.lags))
    return forecasts
