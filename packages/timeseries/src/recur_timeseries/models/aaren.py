"""The Aaren forecaster: a Transformer encoder whose attention is Aaren, trained in parallel, served token by token.

Feng, Tung, Hajimirsadeghi, Ahmed, Bengio & Mori, "Attention as an RNN", 2024,
https://arxiv.org/abs/2405.13956.

The paper's forecasting experiments take the Time Series Library's Transformer (Wu et al. 2023,
https://github.com/thuml/Time-Series-Library) and replace its attention with Aaren, the same
network otherwise. Aaren is softmax attention of a learned query over every prefix, so the model
is causal and its state after any number of observations is a fixed-size tuple
(:class:`recur_core.layers.aaren.Aaren`): the forecast after every new observation costs O(1)
time and memory, where the Transformer's KV cache grows with the stream.

Reads bottom-up: the sinusoidal positions, the causal value embedding, then the forecaster.

Deliberate differences from the TSLib Transformer, each needed for an O(1) streaming state:

- TSLib's value embedding is a circular convolution (kernel 3) over the window, which reads the
  window's end at its start; here it is the same convolution made causal (zero padding on the
  left), so token t reads observations t−2..t and the stream keeps the last two observations.
- TSLib adds a time-feature embedding (hour, weekday, …); the windows here carry no time stamps
  (:class:`~recur_timeseries.data.forecasting.ForecastWindows`), so there is none.
- With ``relative`` (the default) the tokens read first differences x_t − x_{t−1} and the head's
  output is added to the last observation, so the model never sees the series' level: on ETTh1 the
  test months' oil temperature sits 1.3 training standard deviations below the training mean, and
  the level-reading model (``relative=False``, TSLib's choice) forecast every test window too high
  and lost to repeat-last. Differences keep the state O(1): the stream keeps the last observation.
- TSLib forecasts with an encoder-decoder (decoder fed the last half window and zeros); here a
  linear head maps the last token's state to all H × C values, the usual many-to-one use of
  Aaren (the paper's Figure 1), so a new observation needs one ``step`` and no decoding.

The sinusoidal positional embedding of TSLib is kept; positions count from the first observation
of the stream, so a stream longer than ``input_len`` reaches positions training never saw
(``positional=False`` removes them: the model then relies on the causal order alone).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import State, flatten_state
from recur_core.models.sequence_model import Block
from recur_core.registry import build_layer, get_layer_class, register_model

__all__ = ["AarenForecaster", "sinusoidal_positions", "state_nbytes"]


def sinusoidal_positions(positions: Tensor, d_model: int) -> Tensor:
    r"""The Transformer's fixed positional embedding at integer ``positions`` [...] -> [..., d_model].

    .. math::
        PE_{t, 2i} = \sin(t / 10000^{2i/D}), \qquad PE_{t, 2i+1} = \cos(t / 10000^{2i/D})
    """
    half = torch.arange(0, d_model, 2, device=positions.device, dtype=torch.float64)
    angles = positions[..., None].double() * torch.exp(-half * math.log(10000.0) / d_model)
    pe = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)
    return pe[..., :d_model]


def state_nbytes(state: State) -> int:
    """Bytes held by a (nested tuple) state: the sum of its tensors' ``nbytes``."""
    return sum(t.numel() * t.element_size() for t in flatten_state(state))


class CausalValueEmbedding(nn.Module):
    """Token t = a linear map of observations t−k+1..t (zeros before the first): a causal 1-D convolution.

    Shapes:
        x [B, T, C] -> [B, T, D]; ``step``: x_t [B, C] and the last k−1 observations [B, k−1, C].
    """

    def __init__(self, channels: int, d_model: int, kernel: int) -> None:
        super().__init__()
        if kernel < 1:
            raise ValueError(f"token_kernel must be at least 1, got {kernel}")
        self.kernel = kernel
        self.conv = nn.Conv1d(channels, d_model, kernel_size=kernel, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x.transpose(1, 2), (self.kernel - 1, 0))).transpose(1, 2)

    def step(self, x_t: Tensor, history: Tensor) -> tuple[Tensor, Tensor]:
        window = torch.cat([history, x_t[:, None]], dim=1)  # [B, k, C], oldest first
        token = torch.einsum("bkc,dck->bd", window, self.conv.weight)
        return token, window[:, 1:]


def _layer_takes(layer: str, option: str) -> bool:
    return option in inspect.signature(get_layer_class(layer).__init__).parameters


@register_model("aaren")
class AarenForecaster(nn.Module):
    r"""Causal value embedding (+ positions) → N × pre-norm (Aaren → residual → feed-forward) → norm → head.

    .. math::
        h^0_t = W_e [u_{t-2}; u_{t-1}; u_t] + PE_t, \qquad
        h^{\ell}_t = h^{\ell-1}_t + \mathrm{Aaren}(\mathrm{LN}(h^{\ell-1}))_t
        \ (+\ \mathrm{FFN}(\mathrm{LN}(\cdot))), \qquad
        \hat Y = x_T + W_h\, \mathrm{LN}(h^N_T) \in \mathbb{R}^{H \times C}

    with u_t = x_t − x_{t−1} (u_1 = 0) when ``relative``; without it u_t = x_t and the head's output is
    the forecast itself.

    Aaren's output at t is softmax attention of a learned query per head over tokens 1..t, computed
    for every t at once with a parallel prefix scan in training, and as an O(1) update of the state
    (running max score m, denominator u, numerator w) by :meth:`step`. The forecast made after
    observation T uses observations 1..T only, so :meth:`step` fed one observation at a time gives,
    after every observation, the forecast ``forward`` gives on the whole prefix.

    ``layer`` swaps the mixer for any registered causal core layer: ``"attention"`` is the
    Transformer counterpart (causal softmax attention with a KV cache that grows by one slot per
    observation). ``num_heads`` is passed to the layer when its constructor takes it;
    ``layer_kwargs`` go to the layer as they are and take precedence.

    Args:
        input_len: L, the window length the model is trained on (example inputs; any length runs).
        horizon: H, steps forecast at once.
        channels: C, variables per observation.
        d_model: width D (default 64).
        num_layers: blocks N (default 2).
        num_heads: heads per mixer (default 4).
        mlp_ratio: feed-forward width / D (default 2; 0 removes it).
        dropout: on the embedding, the mixer's output and the feed-forward (default 0.1).
        layer: the mixer, ``"aaren"`` (the paper) or any registered causal layer.
        layer_kwargs: extra options of the mixer.
        positional: add the sinusoidal positional embedding (default True, as TSLib).
        token_kernel: observations each token reads (default 3, TSLib's kernel, made causal).
        relative: tokens of first differences, forecasts added to the last observation (default
            True; False reads levels, as TSLib).

    Shapes:
        x [B, T, C] (normalised; T = L in training) -> forecast [B, H, C].
        ``step``: x_t [B, C], state -> forecast [B, H, C], state of constant size for ``aaren``.
    """

    def __init__(
        self,
        input_len: int = 96,
        horizon: int = 96,
        channels: int = 7,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
        layer: str = "aaren",
        layer_kwargs: dict[str, Any] | None = None,
        positional: bool = True,
        token_kernel: int = 3,
        relative: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("input_len", input_len), ("horizon", horizon), ("channels", channels)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not get_layer_class(layer).causal:
            raise ValueError(f"layer {layer!r} is not causal and cannot stream; pick a causal layer (aaren, attention)")
        self.input_len, self.horizon, self.channels = input_len, horizon, channels
        self.d_model, self.layer, self.positional, self.relative = d_model, layer, positional, relative
        kwargs = {"num_heads": num_heads} if _layer_takes(layer, "num_heads") else {}
        kwargs.update(layer_kwargs or {})
        build_layer(layer, d_model, **kwargs)  # fail here, with the layer's own message, on bad options
        self.embed = CausalValueEmbedding(channels, d_model, token_kernel)
        self.embed_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(layer, d_model, kwargs, mlp_ratio, dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, horizon * channels)

    def _check(self, x: Tensor, ndim: int, what: str) -> None:
        if not isinstance(x, Tensor) or x.dim() != ndim or x.shape[-1] != self.channels:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"AarenForecaster expects {what} with C = channels = {self.channels}, got {shape}")

    def _forecast(self, h_last: Tensor, x_last: Tensor) -> Tensor:
        forecast = self.head(self.norm(h_last)).unflatten(-1, (self.horizon, self.channels))
        return forecast + x_last[:, None] if self.relative else forecast

    def _tokens(self, x: Tensor) -> Tensor:
        """What the embedding reads: first differences (0 at the first observation) or the values."""
        return torch.diff(x, dim=1, prepend=x[:, :1]) if self.relative else x

    def _encode(self, x: Tensor) -> tuple[Tensor, tuple[State, ...]]:
        self._check(x, 3, "x [B, T, C]")
        if x.shape[1] < 1:
            raise ValueError("AarenForecaster needs at least one observation, got an empty window")
        h = self.embed(self._tokens(x))
        if self.positional:
            h = h + sinusoidal_positions(torch.arange(x.shape[1], device=x.device), self.d_model).to(h.dtype)
        h = self.embed_drop(h)
        mixers = []
        for block in self.blocks:
            h, mixer_state = block(h, None, None)
            mixers.append(mixer_state)
        return h[:, -1], tuple(mixers)

    def forward(self, x: Tensor) -> Tensor:
        """Forecast [B, H, C] from the whole window x [B, T, C] (every block run in parallel)."""
        return self._forecast(self._encode(x)[0], x[:, -1])

    def prefill(self, x: Tensor) -> tuple[Tensor, State]:
        """Read a history x [B, T, C] in parallel: its forecast [B, H, C] and the state :meth:`step` continues from."""
        h_last, mixers = self._encode(x)
        keep = self.embed.kernel - 1
        tokens = self._tokens(x)
        padded = F.pad(tokens, (0, 0, max(keep - x.shape[1], 0), 0))  # zeros before the first observation
        history = padded[:, padded.shape[1] - keep :]
        position = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        return self._forecast(h_last, x[:, -1]), (history, x[:, -1], position, mixers)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        """The state before any observation: (last k−1 tokens, last observation, position, per-block mixer states)."""
        dtype = dtype or self.head.weight.dtype
        history = torch.zeros(batch_size, self.embed.kernel - 1, self.channels, device=device, dtype=dtype)
        last = torch.zeros(batch_size, self.channels, device=device, dtype=dtype)
        position = torch.zeros(batch_size, dtype=torch.long, device=device)
        mixers = tuple(b.mixer.init_state(batch_size, device=device, dtype=dtype) for b in self.blocks)
        return history, last, position, mixers

    def step(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Read one observation x_t [B, C]; the forecast [B, H, C] from every observation so far, and the state."""
        self._check(x_t, 2, "x_t [B, C]")
        if state is None:
            state = self.init_state(x_t.shape[0], device=x_t.device, dtype=x_t.dtype)
        history, last, position, mixers = state
        if history.shape[0] != x_t.shape[0] or len(mixers) != len(self.blocks):
            raise ValueError(
                f"state is for batch {history.shape[0]} and {len(mixers)} blocks, got batch {x_t.shape[0]} "
                f"and {len(self.blocks)} blocks; start from init_state(batch) or a state step() returned"
            )
        token = x_t
        if self.relative:  # the first observation's difference is 0, as in forward
            token = torch.where((position == 0)[:, None], torch.zeros_like(x_t), x_t - last)
        h, history = self.embed.step(token, history)
        if self.positional:
            h = h + sinusoidal_positions(position, self.d_model).to(h.dtype)
        new_mixers = []
        for block, mixer_state in zip(self.blocks, mixers):
            h, mixer_state = block.step(h, mixer_state)
            new_mixers.append(mixer_state)
        return self._forecast(h, x_t), (history, x_t, position + 1, tuple(new_mixers))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """A random normalised window [batch_size, input_len, channels], in the model's dtype and device."""
        weight = self.head.weight
        return (torch.randn(batch_size, self.input_len, self.channels, dtype=weight.dtype, device=weight.device),)
