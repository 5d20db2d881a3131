r"""Classic-AR: the AR(p) least-squares fit AR-Net is compared with (Triebe et al. 2019, https://arxiv.org/abs/1911.12436).

It solves, on the same lag matrix AR-Net trains on,

.. math::
    \min_{b, W} \sum_n \lVert y_n - b - W x_n \rVert^2, \qquad x_n = (y_{t_n - 1}, \dots, y_{t_n - p})

so ``coefficients[k, i]`` is the weight of lag ``i + 1`` (index 0 = the most recent value) for
forecast step ``k``, the order of :class:`recur_timeseries.models.arnet.ARNet`'s weights and of
statsmodels' ``AutoReg`` lag parameters. With ``bias=True`` the fit equals ``AutoReg(trend="c")``;
with ``bias=False``, ``AutoReg(trend="n")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recur_timeseries.data.windowing import make_windows

__all__ = ["ClassicAR", "fit_classic_ar"]


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
