"""Mamba: a selective state-space layer (S6 inside a gated block).

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023
(https://arxiv.org/abs/2312.00752); negative eigenvalues from Grazzi et al., "Unlocking
State-Tracking in Linear RNNs Through Negative Eigenvalues", ICLR 2025 (https://arxiv.org/abs/2411.12537).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.layers.conv import CausalConv1d
from recur_core.ops.selective_scan import chunk_selective_scan, naive_selective_scan, selective_scan_step
from recur_core.registry import register_layer

__all__ = ["Mamba"]

_MODES = {"chunk": chunk_selective_scan, "naive": naive_selective_scan}


@register_layer("mamba")
class Mamba(SequenceLayer):
    r"""The Mamba block: in-projection, causal depthwise convolution, selective scan, SiLU gate.

    .. math::
        (x, z) = W_{in} u_t, \quad x \leftarrow \mathrm{SiLU}(\mathrm{conv}(x)), \quad
        (\delta, B_t, C_t) = W_x x_t, \quad \Delta_t = \mathrm{softplus}(W_\Delta \delta + b_\Delta)

        h_t = \exp(\Delta_t A) \odot h_{t-1} + \Delta_t x_t B_t^\top, \quad
        y_t = W_{out}\big[(h_t C_t + D \odot x_t) \odot \mathrm{SiLU}(z_t)\big]

    per channel of the expanded width E·D, with A = −exp(A_log) diagonal (S4D-real init
    :math:`A_n = -(n + 1)`), Δ from a rank-R projection initialised so that Δ is log-uniform in
    [``dt_min``, ``dt_max``]. With ``allow_neg_eigval=True`` the transition is
    :math:`2\exp(\Delta_t A) - 1 \in (-1, 1)` (Grazzi et al.). Right padding: a padded step gets
    Δ = 0, i.e. transition 1 and input 0, so it leaves the state as it was.

    Args:
        d_model: width D.
        d_state: state size N per channel (default 16).
        d_conv: convolution kernel size (default 4).
        expand: expansion factor E of the inner width (default 2).
        dt_rank: rank R of the Δ projection (default ⌈D / 16⌉).
        dt_min: smallest initial Δ (default 1e-3).
        dt_max: largest initial Δ (default 1e-1).
        allow_neg_eigval: transitions in (−1, 1) instead of (0, 1) (default False).
        chunk_size: time steps scanned at once by the chunked scan (default 64).
        mode: ``"chunk"`` (the chunked parallel scan, default) or ``"naive"`` (the token loop).
        bias: biases in the in- and out-projections (default False).

    Shapes:
        x [B, T, D] -> y [B, T, D];
        state (conv [B, d_conv - 1, E·D], ssm [B, E·D, N]).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        allow_neg_eigval: bool = False,
        chunk_size: int = 64,
        mode: str = "chunk",
        bias: bool = False,
    ) -> None:
        super().__init__(d_model)
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(_MODES)}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        self.d_state = d_state
        self.d_inner = expand * d_model
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.allow_neg_eigval = allow_neg_eigval
        self.chunk_size = chunk_size
        self.mode = mode
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv = CausalConv1d(self.d_inner, d_conv)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        with torch.no_grad():
            nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
            dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
            # softplus^{-1}(dt) = dt + log(1 - exp(-dt)), so softplus(bias) starts at dt
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.A_log.dtype
        ssm = torch.zeros(batch_size, self.d_inner, self.d_state, device=device, dtype=dtype)
        return self.conv.init_state(batch_size, device=device, dtype=dtype), ssm

    def _gates(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Δ, B, C and A from the convolved input."""
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.softplus(self.dt_proj(dt)), B, C, -torch.exp(self.A_log)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        conv_state, ssm_state = state
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x, conv_state = self.conv(x, conv_state, lengths)
        x = F.silu(x)
        delta, B, C, A = self._gates(x)
        if lengths is not None:
            delta = delta * valid_mask(lengths, x.shape[1])[..., None]
        kwargs = {"chunk_size": self.chunk_size} if self.mode == "chunk" else {}
        y, ssm_state = _MODES[self.mode](
            x, delta, A, B, C, D=self.D, z=z, allow_neg_eigval=self.allow_neg_eigval, initial_state=ssm_state, **kwargs
        )
        return self.out_proj(y), (conv_state, ssm_state.to(state[1].dtype))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        conv_state, h = state
        x_t, z_t = self.in_proj(x_t).chunk(2, dim=-1)
        x_t, conv_state = self.conv.step(x_t, conv_state)
        x_t = F.silu(x_t)
        delta, B, C, A = self._gates(x_t)
        y, h_new = selective_scan_step(x_t, delta, A, B, C, h.to(A.dtype), self.allow_neg_eigval)
        y = (y + self.D * x_t) * F.silu(z_t)
        return self.out_proj(y), (conv_state, h_new.to(h.dtype))
