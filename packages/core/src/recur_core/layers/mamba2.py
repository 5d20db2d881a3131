"""Mamba-2: the SSD layer, a selective state space with a scalar decay per head.

Dao & Gu, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured
State Space Duality", ICML 2024, https://arxiv.org/abs/2405.21060.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.layers.conv import CausalConv1d
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step
from recur_core.registry import register_layer

__all__ = ["Mamba2"]


@register_layer("mamba2")
class Mamba2(SequenceLayer):
    r"""The Mamba-2 block: in-projection, causal depthwise convolution, SSD, gated RMSNorm.

    .. math::
        (z, x, B, C, \delta) = W_{in} u_t, \quad (x, B, C) \leftarrow \mathrm{SiLU}(\mathrm{conv}(x, B, C)), \quad
        \Delta_t = \mathrm{softplus}(\delta_t + b_\Delta)

        h_t = a_t h_{t-1} + B_t (\Delta_t x_t)^\top, \quad a_t = \exp(-\Delta_t e^{A_{\log}}), \quad
        y_t = h_t^\top C_t + D \odot x_t, \quad
        \mathrm{out}_t = W_{out}\, \mathrm{RMSNorm}(y_t \odot \mathrm{SiLU}(z_t))

    per head (scalar :math:`a_t` and :math:`\Delta_t` per head, head width P = expand·D / H, one
    group: B and C shared by all heads). SSD is linear attention with a scalar decay, so training
    runs :func:`~recur_core.ops.linear_attn.chunk_linear_attn` with :math:`q = C`, :math:`k = B`,
    :math:`v = \Delta x` and log-decay :math:`g = -\Delta e^{A_{\log}}`; ``step`` runs the recurrence.
    A padded step gets decay 1 and input 0, which leaves the state as it was; the convolution keeps
    each row's last valid inputs.

    The state is ``(conv, ssm)`` with the SSM state :math:`h` exposed as ``state[1]``: the ops are
    functional and ``forward`` with state passing is exact, so a state fix such as Stuffed Mamba's
    normalisation (h ← h·τ/‖h‖ per head every R tokens, Chen et al. 2024) is a wrapper that runs the
    layer over R-token segments (or R steps) and rescales ``state[1]`` in between.

    Args:
        d_model: width D.
        d_state: state size N (default 64).
        d_conv: convolution kernel size (default 4).
        expand: expansion factor of the inner width (default 2).
        num_heads: number of heads H; expand·D must be divisible by H (default 4).
        dt_min: smallest initial Δ (default 1e-3).
        dt_max: largest initial Δ (default 1e-1).
        dt_init_floor: lower bound of the initial Δ (default 1e-4).
        A_init_range: range of the initial :math:`e^{A_{\log}}`, uniform (default (1, 16)).
        norm_eps: epsilon of the gated RMSNorm (default 1e-5).
        bias: biases in the in- and out-projections (default False).
        conv_bias: bias in the convolution (default True).
        chunk_size: tokens per chunk of the training form; does not change the math (default: the op's).

    Shapes:
        x [B, T, D] -> y [B, T, D];
        state (conv [B, d_conv − 1, expand·D + 2N], ssm [B, H, N, P]).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 2,
        num_heads: int = 4,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_init_floor: float = 1e-4,
        A_init_range: tuple[float, float] = (1.0, 16.0),
        norm_eps: float = 1e-5,
        bias: bool = False,
        conv_bias: bool = True,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(d_model)
        d_inner = expand * d_model
        if num_heads < 1 or d_inner % num_heads:
            raise ValueError(f"expand · d_model = {d_inner} must be divisible by num_heads = {num_heads}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        if not 0 < A_init_range[0] <= A_init_range[1]:
            raise ValueError(f"A_init_range must be positive and increasing, got {A_init_range}")
        self.d_state = d_state
        self.d_inner = d_inner
        self.num_heads = num_heads
        self.headdim = d_inner // num_heads
        self.chunk_size = chunk_size
        self.in_proj = nn.Linear(d_model, 2 * d_inner + 2 * d_state + num_heads, bias=bias)
        self.conv = CausalConv1d(d_inner + 2 * d_state, d_conv, bias=conv_bias)
        dt = torch.exp(torch.rand(num_heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        # inverse softplus, so that softplus(dt_bias) = dt at initialisation
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.empty(num_heads).uniform_(*A_init_range).log())
        self.D = nn.Parameter(torch.ones(num_heads))
        self.norm = nn.RMSNorm(d_inner, eps=norm_eps)
        self.out_proj = nn.Linear(d_inner, d_model, bias=bias)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.in_proj.weight.dtype
        conv = self.conv.init_state(batch_size, device=device, dtype=dtype)
        ssm = torch.zeros(batch_size, self.num_heads, self.d_state, self.headdim, device=device, dtype=dtype)
        return conv, ssm

    def _split(self, zxbcdt: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return zxbcdt.split([self.d_inner, self.d_inner + 2 * self.d_state, self.num_heads], dim=-1)

    def _ssm_inputs(self, xbc: Tensor, dt: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(q = C, k = B, v = Δx, log-decay g, x by head) from the convolved channels and δ."""
        x, b, c = F.silu(xbc).split([self.d_inner, self.d_state, self.d_state], dim=-1)
        x = x.unflatten(-1, (self.num_heads, self.headdim))
        # Δ and the log-decay in float32 or better, also under autocast
        dt = F.softplus(dt.to(torch.promote_types(dt.dtype, torch.float32)) + self.dt_bias)
        g = -dt * self.A_log.exp()
        heads = (*b.shape[:-1], self.num_heads, self.d_state)
        return c.unsqueeze(-2).expand(heads), b.unsqueeze(-2).expand(heads), x * dt[..., None].to(x.dtype), g, x

    def _output(self, y: Tensor, x: Tensor, z: Tensor) -> Tensor:
        y = (y + x * self.D[:, None].to(x.dtype)).flatten(-2)
        y = self.norm((y * F.silu(z)).to(self.norm.weight.dtype))
        return self.out_proj(y)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        conv_state, ssm = state
        z, xbc, dt = self._split(self.in_proj(x))
        xbc, conv_state = self.conv(xbc, conv_state, lengths)
        q, k, v, g, xh = self._ssm_inputs(xbc, dt)
        if lengths is not None:
            valid = valid_mask(lengths, x.shape[1])[..., None]
            g = torch.where(valid, g, 0.0)
            v = torch.where(valid[..., None], v, 0.0)
        y, ssm = chunk_linear_attn(q, k, v, g, scale=1.0, initial_state=ssm, chunk_size=self.chunk_size)
        return self._output(y, xh, z), (conv_state, ssm)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        conv_state, ssm = state
        z, xbc, dt = self._split(self.in_proj(x_t))
        xbc, conv_state = self.conv.step(xbc, conv_state)
        q, k, v, g, xh = self._ssm_inputs(xbc, dt)
        y, ssm = linear_attn_step(q, k, v, g, ssm, scale=1.0)
        return self._output(y, xh, z), (conv_state, ssm)
