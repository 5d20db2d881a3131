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

For multivariate long-term forecasting (windows ``x [B, L, C] → y [B, H, C]``, see
:class:`~recur_timeseries.data.forecasting.ForecastWindows`) the same naive forecasts work per
channel (:func:`forecast_repeat_last`, :func:`forecast_seasonal_naive`), and
:class:`LeastSquaresForecaster` is the closed-form optimum of one linear map L → H shared across
channels, the best any model of the "Linear" family of Zeng et al. (2023) can reach on the
training windows. The trainable LTSF baselines are registered models:

- ``linear``: one ``nn.Linear(L, H)`` along time, shared across channels (LTSF-Linear's "Linear"),
- ``dlinear``: moving-average trend / remainder decomposition + one linear each (DLinear),
- ``seq2seq``: a recurrent encoder over the window (any core layer) + a direct multi-horizon head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.models.sequence_model import SequenceModel
from recur_core.registry import register_model
from recur_timeseries.data.forecasting import ForecastWindows
from recur_timeseries.data.windowing import LagWindows, make_windows

__all__ = [
    "ClassicAR",
    "DLinear",
    "LeastSquaresForecaster",
    "LinearForecaster",
    "Seq2SeqForecaster",
    "baseline_forecasts",
    "fit_classic_ar",
    "forecast_baselines",
    "forecast_repeat_last",
    "forecast_seasonal_naive",
    "moving_average",
    "repeat_last",
    "seasonal_naive",
]


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


# --- multivariate long-term forecasting: windows x [N, L, C] -> y [N, H, C] -----------------------------------


def forecast_repeat_last(inputs: Tensor, horizon: int) -> Tensor:
    """Every channel's last value as its forecast of all ``horizon`` steps.

    Shapes:
        inputs [N, L, C] -> [N, H, C].
    """
    return inputs[:, -1:].expand(-1, horizon, -1)


def forecast_seasonal_naive(inputs: Tensor, period: int, horizon: int) -> Tensor:
    """Each step forecast by the value one season before it: the window's last ``period`` rows, repeated.

    Step k takes row ``L − period + (k mod period)`` of the window (the formula of :func:`seasonal_naive`).

    Shapes:
        inputs [N, L, C] with L >= period -> [N, H, C].
    """
    length = inputs.shape[1]
    if not 1 <= period <= length:
        raise ValueError(f"seasonal naive with period {period} needs windows of at least {period} rows, got {length}")
    rows = length - period + torch.arange(horizon, device=inputs.device) % period
    return inputs[:, rows]


@dataclass(frozen=True)
class LeastSquaresForecaster:
    r"""The least-squares linear map from L inputs to H forecasts, shared across channels.

    .. math::
        \min_{W, b} \sum_{n, c} \lVert y_{n,:,c} - W^\top x_{n,:,c} - b \rVert^2

    over every training window n and channel c: the optimum of LTSF-Linear's "Linear" (and the
    target any linear forecaster such as DLinear can only match on the training windows). Fitted
    from the normal equations, accumulated over chunks of windows so a long split with H = 720 never
    holds its design matrix at once.

    Shapes:
        weight [L, H]; bias [H] (zeros without an intercept).
    """

    weight: Tensor
    bias: Tensor

    @classmethod
    def fit(cls, inputs: Tensor, targets: Tensor, bias: bool = True, chunk: int = 2048) -> LeastSquaresForecaster:
        """Solve on ``inputs`` [N, L, C] → ``targets`` [N, H, C] in float64."""
        length, horizon = inputs.shape[1], targets.shape[1]
        width = length + int(bias)
        gram = torch.zeros(width, width, dtype=torch.float64)
        cross = torch.zeros(width, horizon, dtype=torch.float64)
        for start in range(0, len(inputs), chunk):
            x = inputs[start : start + chunk].double().transpose(1, 2).reshape(-1, length)
            y = targets[start : start + chunk].double().transpose(1, 2).reshape(-1, horizon)
            if bias:
                x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
            gram += x.T @ x
            cross += x.T @ y
        solution = torch.linalg.lstsq(gram, cross, driver="gelsd").solution
        if bias:
            return cls(weight=solution[:length], bias=solution[length])
        return cls(weight=solution, bias=torch.zeros(horizon, dtype=torch.float64))

    def predict(self, inputs: Tensor) -> Tensor:
        """Forecasts [N, H, C] (float64) of ``inputs`` [N, L, C]."""
        return torch.einsum("nlc,lh->nhc", inputs.double(), self.weight) + self.bias[:, None]


@dataclass(frozen=True)
class PerVariableAR:
    r"""A linear autoregression of each variable on its own past: one least-squares map L → H per channel.

    .. math::
        \min_{W_c, b_c} \sum_n \lVert y_{n,:,c} - W_c^\top x_{n,:,c} - b_c \rVert^2 \quad \text{for every channel } c

    the per-variable AR baseline of ReGENN's paper (Spadon et al. 2022), unlike
    :class:`LeastSquaresForecaster`, which shares one map across channels. Solved in float64 from
    the normal equations of all channels at once (a batched solve, no loop over channels).

    Shapes:
        weight [C, L, H]; bias [C, H] (zeros without an intercept).
    """

    weight: Tensor
    bias: Tensor

    @classmethod
    def fit(cls, inputs: Tensor, targets: Tensor, bias: bool = True, ridge: float = 1e-8) -> PerVariableAR:
        """Solve on ``inputs`` [N, L, C] → ``targets`` [N, H, C]; ``ridge`` × trace/width steadies a singular Gram."""
        x = inputs.double().permute(2, 0, 1)  # [C, N, L]
        y = targets.double().permute(2, 0, 1)  # [C, N, H]
        if bias:
            x = torch.cat([x, torch.ones(*x.shape[:2], 1, dtype=x.dtype)], dim=2)
        gram = x.transpose(1, 2) @ x
        scale = gram.diagonal(dim1=1, dim2=2).mean(dim=1).clamp(min=1e-12)[:, None, None]
        gram = gram + ridge * scale * torch.eye(gram.shape[-1], dtype=gram.dtype)
        # the ridged Gram is positive definite: Cholesky, which also avoids torch 2.14.1's batched MKL LU
        # (it hangs on systems of ~200+ rows once torch.set_num_threads has been called)
        solution = torch.cholesky_solve(x.transpose(1, 2) @ y, torch.linalg.cholesky(gram))  # [C, L(+1), H]
        length = inputs.shape[1]
        if bias:
            return cls(weight=solution[:, :length], bias=solution[:, length])
        return cls(weight=solution, bias=torch.zeros(solution.shape[0], solution.shape[2], dtype=torch.float64))

    def predict(self, inputs: Tensor) -> Tensor:
        """Forecasts [N, H, C] (float64) of ``inputs`` [N, L, C]."""
        return torch.einsum("nlc,clh->nhc", inputs.double(), self.weight) + self.bias.T


def forecast_baselines(train: ForecastWindows, test: ForecastWindows) -> dict[str, Callable[[Tensor], Tensor]]:
    """The naive and least-squares forecasters of ``test``'s windows, as functions of a chunk of inputs.

    ``repeat_last``; ``seasonal_naive`` with ``test.period`` (left out when the data has no season
    or the windows are shorter than one); ``least_squares``, :class:`LeastSquaresForecaster` fitted
    on ``train``'s windows; with several channels ``per_variable_ar``, :class:`PerVariableAR` (one
    least-squares map per channel, ReGENN's AR baseline). Each maps inputs [n, L, C] to forecasts
    [n, H, C] in float64, so a caller scores long test splits chunk by chunk.
    """
    horizon = test.horizon
    forecasts: dict[str, Callable[[Tensor], Tensor]] = {
        "repeat_last": lambda x: forecast_repeat_last(x.double(), horizon),
    }
    if test.period is not None and test.period <= test.input_len:
        forecasts["seasonal_naive"] = lambda x: forecast_seasonal_naive(x.double(), test.period, horizon)
    least_squares = LeastSquaresForecaster.fit(train.inputs, train.targets)
    forecasts["least_squares"] = least_squares.predict
    if train.channels > 1:
        forecasts["per_variable_ar"] = PerVariableAR.fit(train.inputs, train.targets).predict
    return forecasts


def _example_windows(model: nn.Module, batch_size: int) -> tuple[Tensor]:
    return (torch.randn(batch_size, model.input_len, model.channels),)


@register_model("linear")
class LinearForecaster(nn.Module):
    r"""LTSF-Linear's "Linear" (Zeng et al. 2023, https://arxiv.org/abs/2205.13504, cure-lab/LTSF-Linear).

    One linear layer along time, applied to every channel: :math:`\hat y_{:,c} = W x_{:,c} + b`
    with W [H, L] shared across channels (``individual=False``, the paper's default) or one W per
    channel (``individual=True``).

    Args:
        input_len: L. horizon: H. channels: C.
        individual: one weight matrix per channel instead of one shared.

    Shapes:
        x [B, L, C] -> [B, H, C].
    """

    def __init__(self, input_len: int = 96, horizon: int = 96, channels: int = 7, individual: bool = False) -> None:
        super().__init__()
        self.input_len, self.horizon, self.channels = input_len, horizon, channels
        self.proj = _TimeLinear(input_len, horizon, channels, individual)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return _example_windows(self, batch_size)


class _TimeLinear(nn.Module):
    """``nn.Linear(L, H)`` along the time axis of [B, L, C], shared across channels or one per channel."""

    def __init__(self, input_len: int, horizon: int, channels: int, individual: bool) -> None:
        super().__init__()
        if min(input_len, horizon, channels) < 1:
            raise ValueError(
                f"input_len, horizon and channels must be at least 1, got {input_len}, {horizon}, {channels}"
            )
        self.individual = individual
        groups = channels if individual else 1
        bound = 1.0 / np.sqrt(input_len)  # nn.Linear's initialisation
        self.weight = nn.Parameter(torch.empty(groups, horizon, input_len).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, horizon).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        if self.individual:
            return torch.einsum("blc,chl->bhc", x, self.weight) + self.bias.T
        return torch.einsum("blc,hl->bhc", x, self.weight[0]) + self.bias[0, :, None]


def moving_average(x: Tensor, kernel_size: int) -> Tensor:
    """DLinear's trend: a centred moving average along time, the ends padded by repeating the first/last row.

    Shapes:
        x [B, L, C] -> [B, L, C] (``kernel_size`` odd).
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd positive number of steps (25 in DLinear), got {kernel_size}")
    pad = (kernel_size - 1) // 2
    padded = torch.cat([x[:, :1].expand(-1, pad, -1), x, x[:, -1:].expand(-1, pad, -1)], dim=1)
    return F.avg_pool1d(padded.transpose(1, 2), kernel_size, stride=1).transpose(1, 2)


@register_model("dlinear")
class DLinear(nn.Module):
    r"""DLinear (Zeng et al. 2023, https://arxiv.org/abs/2205.13504), as cure-lab/LTSF-Linear's ``DLinear.py``.

    The window is split into a trend, a centred moving average of ``kernel_size`` steps (25), and
    the remainder (the "seasonal" part); one linear layer along time forecasts each and the two
    forecasts are added:

    .. math::
        t = \mathrm{MA}_{25}(x), \quad s = x - t, \quad \hat y = W_s s + b_s + W_t t + b_t

    W_s, W_t [H, L] are shared across channels (``individual=False``, the official default) or one
    per channel. Initialised as ``nn.Linear`` (the official code's 1/L initialisation is commented out).

    Args:
        input_len: L. horizon: H. channels: C.
        kernel_size: moving-average window (odd; 25 in the paper).
        individual: one pair of weight matrices per channel.

    Shapes:
        x [B, L, C] -> [B, H, C].
    """

    def __init__(
        self,
        input_len: int = 96,
        horizon: int = 96,
        channels: int = 7,
        kernel_size: int = 25,
        individual: bool = False,
    ) -> None:
        super().__init__()
        moving_average(torch.zeros(1, 1, 1), kernel_size)  # validates kernel_size now
        self.input_len, self.horizon, self.channels = input_len, horizon, channels
        self.kernel_size = kernel_size
        self.seasonal = _TimeLinear(input_len, horizon, channels, individual)
        self.trend = _TimeLinear(input_len, horizon, channels, individual)

    def forward(self, x: Tensor) -> Tensor:
        trend = moving_average(x, self.kernel_size)
        return self.seasonal(x - trend) + self.trend(trend)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return _example_windows(self, batch_size)


@register_model("seq2seq")
class Seq2SeqForecaster(nn.Module):
    r"""A recurrent encoder over the window with a direct multi-horizon head: the LTSF "LSTM" baseline, any core layer.

    The window minus its last row (per channel, so the model sees changes, not levels; the
    normalisation of NLinear, Zeng et al. 2023) goes through a linear input projection C → d_model,
    ``n_layers`` pre-norm residual blocks of the core layer ``layer`` (``lstm`` by default; any
    registered name, built by :func:`recur_core.build_layer` with ``layer_kwargs``), and a head on
    the last step's state to all H × C forecasts at once; the last row is added back:

    .. math::
        h_{1..L} = \mathrm{Encoder}(x - x_L), \qquad \hat y = \mathrm{reshape}_{H \times C}(W h_L + b) + x_L

    A direct head rather than an autoregressive decoder: it trains in one parallel pass per window
    and does not feed its own errors back over H = 96…720 steps (the accumulation that makes
    step-by-step RNN decoders the weakest LTSF baselines in Informer's tables).

    Args:
        input_len: L. horizon: H. channels: C.
        layer: the core recurrence (default ``"lstm"``). layer_kwargs: its options.
        d_model: width of the encoder. n_layers: residual blocks.
        mlp_ratio: width of each block's MLP / d_model (0: none). dropout: dropout in the blocks.
        subtract_last: forecast relative to the window's last row (default True).

    Shapes:
        x [B, L, C] -> [B, H, C].
    """

    def __init__(
        self,
        input_len: int = 96,
        horizon: int = 96,
        channels: int = 7,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        d_model: int = 64,
        n_layers: int = 1,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        subtract_last: bool = True,
    ) -> None:
        super().__init__()
        if min(input_len, horizon, channels) < 1:
            raise ValueError(
                f"input_len, horizon and channels must be at least 1, got {input_len}, {horizon}, {channels}"
            )
        self.input_len, self.horizon, self.channels = input_len, horizon, channels
        self.subtract_last = subtract_last
        self.encoder = SequenceModel(
            layer=layer,
            layer_kwargs=dict(layer_kwargs or {}),
            d_model=d_model,
            n_layers=n_layers,
            input_dim=channels,
            output_dim=horizon * channels,
            readout="last",
            mlp_ratio=mlp_ratio,
            dropout=dropout,
        )

    def forward(self, x: Tensor) -> Tensor:
        last = x[:, -1:] if self.subtract_last else torch.zeros_like(x[:, -1:])
        out = self.encoder(x - last)
        return out.view(len(x), self.horizon, self.channels) + last

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return _example_windows(self, batch_size)
