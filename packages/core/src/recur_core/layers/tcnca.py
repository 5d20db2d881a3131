"""TCNCA: a dilated temporal convolution network in place of MEGA's EMA, then chunked attention.

Terzić et al., "TCNCA: Temporal Convolution Network with Chunked Attention for Scalable Sequence
Processing", 2023, https://arxiv.org/abs/2312.05605; MEGA (Ma et al., "Mega: Moving Average Equipped
Gated Attention", ICLR 2023, https://arxiv.org/abs/2209.10655) for the EMA baseline and the chunking.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State
from recur_core.ops.chunked_attention import chunked_attention
from recur_core.ops.long_conv import long_conv
from recur_core.registry import register_layer

__all__ = ["TCNCA"]

_TEMPORAL = ("dilated", "ema_fft")


class _DilatedLevel(nn.Module):
    """One TCN level: u + SiLU(pointwise(depthwise causal conv with dilation d)); state = last (K−1)·d inputs."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.memory = (kernel_size - 1) * dilation
        self.depthwise = nn.Parameter(torch.empty(channels, kernel_size).uniform_(-1, 1) / math.sqrt(kernel_size))
        self.pointwise = nn.Linear(channels, channels)

    def forward(self, u: Tensor, state: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        padded = torch.cat([state, u], dim=1)
        mixed = F.conv1d(
            padded.transpose(1, 2), self.depthwise[:, None], dilation=self.dilation, groups=u.shape[-1]
        ).transpose(1, 2)
        if lengths is None:
            new_state = padded[:, padded.shape[1] - self.memory :]
        else:
            index = lengths[:, None] + torch.arange(self.memory, device=u.device)
            new_state = padded.gather(1, index[..., None].expand(-1, -1, u.shape[-1]))
        return u + F.silu(self.pointwise(mixed)), new_state

    def step(self, u_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        window = torch.cat([state, u_t[:, None]], dim=1)
        mixed = torch.einsum("bkc,ck->bc", window[:, :: self.dilation], self.depthwise)
        return u_t + F.silu(self.pointwise(mixed)), window[:, 1:]


@register_layer("tcnca")
class TCNCA(SequenceLayer):
    r"""TCNCA layer: temporal mixing (dilated TCN, or MEGA's EMA as an FFT convolution), chunked attention, a gate.

    .. math::
        u = \mathrm{TCN}(x),\quad q = W_q u,\ k = W_k u,\ v = \mathrm{SiLU}(W_v x),\quad
        y_t = W_o\big(\mathrm{SiLU}(W_g x_t) \odot \mathrm{ChunkAttn}(q, k, v)_t\big)

    ``temporal="dilated"`` (the paper's): ``num_levels`` levels
    :math:`u \leftarrow u + \mathrm{SiLU}(W^{(l)}_{pw}\, \mathrm{DWConv}_{k, 2^l}(u))`, dilations
    1, 2, 4, …, so the receptive field :math:`1 + (k-1)(2^L - 1)` grows exponentially with depth
    at O(T) cost. ``temporal="ema_fft"`` is MEGA's damped multi-dimensional EMA,
    :math:`h^{(j)}_t = \alpha_j \beta_j x_t + (1 - \alpha_j\delta_j) h^{(j)}_{t-1}`,
    :math:`u = \mathrm{SiLU}(\sum_j \eta_j h^{(j)})`, trained as one FFT convolution with its
    length-T kernel (the baseline TCNCA replaces; O(T log T); on inputs shorter than
    :data:`~recur_core.ops.long_conv.FFT_MIN_STEPS` the same convolution runs direct, which is as
    fast there and exactly causal). Attention is softmax attention
    causal within non-overlapping chunks of ``chunk_size`` absolute positions
    (:func:`~recur_core.ops.chunked_attention.chunked_attention`). The gate is a SiLU output gate
    as in MEGA's single-head gated attention, with MEGA's reset and update gates left out (our
    reading of the paper's "simplified" variant). ``step`` costs O(``chunk_size`` + receptive
    field) per token: rolling buffers per level (or the EMA state) and the current chunk's KV
    buffer, which empties at each chunk boundary.

    Args:
        d_model: width D.
        num_heads: attention heads H; D divisible by H (default 4).
        chunk_size: attention chunk length C (default 32).
        temporal: ``"dilated"`` (default) or ``"ema_fft"``.
        kernel_size: TCN kernel size k (default 3).
        num_levels: TCN depth L (default 4; receptive field 31 with k = 3).
        ema_dim: EMA dimensions per channel for ``"ema_fft"`` (default 2).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (temporal, (keys [B, C, H, D/H], values [B, C, H, D/H],
        count [B] int64)) where temporal is a tuple of [B, (k−1)·2^l, D] per level, or the EMA
        state [B, D, ema_dim].
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        chunk_size: int = 32,
        temporal: str = "dilated",
        kernel_size: int = 3,
        num_levels: int = 4,
        ema_dim: int = 2,
    ) -> None:
        super().__init__(d_model)
        if d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        if temporal not in _TEMPORAL:
            raise ValueError(f"temporal must be one of {_TEMPORAL}, got {temporal!r}")
        if chunk_size < 1 or kernel_size < 2 or num_levels < 1:
            raise ValueError(
                "need chunk_size >= 1, kernel_size >= 2, num_levels >= 1; "
                f"got {chunk_size}, {kernel_size}, {num_levels}"
            )
        self.num_heads, self.head_dim = num_heads, d_model // num_heads
        self.chunk_size, self.temporal = chunk_size, temporal
        if temporal == "dilated":
            self.levels = nn.ModuleList(_DilatedLevel(d_model, kernel_size, 2**level) for level in range(num_levels))
        else:
            self.ema_dim = ema_dim
            self.ema_alpha = nn.Parameter(torch.randn(d_model, ema_dim) * 0.2)
            self.ema_delta = nn.Parameter(torch.randn(d_model, ema_dim) * 0.2)
            self.ema_beta = nn.Parameter(torch.randn(d_model, ema_dim) * 0.02 + 1)
            self.ema_eta = nn.Parameter(torch.randn(d_model, ema_dim) / math.sqrt(ema_dim))
        self.qk = nn.Linear(d_model, 2 * d_model)
        self.v = nn.Linear(d_model, d_model)
        self.g = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.out.weight.dtype
        if self.temporal == "dilated":
            temporal = tuple(
                torch.zeros(batch_size, level.memory, self.d_model, device=device, dtype=dtype) for level in self.levels
            )
        else:
            temporal = torch.zeros(batch_size, self.d_model, self.ema_dim, device=device, dtype=dtype)
        kv = torch.zeros(batch_size, self.chunk_size, self.num_heads, self.head_dim, device=device, dtype=dtype)
        count = torch.zeros(batch_size, dtype=torch.long, device=device)
        return temporal, (kv, kv.clone(), count)

    def _ema_coefficients(self) -> tuple[Tensor, Tensor]:
        """log of the decay q = 1 − αδ and the input weight αβ, each [D, ema_dim]."""
        alpha, delta = torch.sigmoid(self.ema_alpha), torch.sigmoid(self.ema_delta)
        return torch.log1p(-alpha * delta), alpha * self.ema_beta

    def _ema(self, x: Tensor, h0: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        steps = x.shape[1]
        log_q, gain = self._ema_coefficients()
        dtype = torch.promote_types(x.dtype, torch.float32)
        t = torch.arange(steps, device=x.device, dtype=dtype)
        powers = torch.exp(t[:, None, None] * log_q.to(dtype))  # q^t, [T, D, N]
        # the EMA as a convolution: u_t = Σ_s K[t − s] x_s + Σ_j η_j q_j^{t+1} h0_j
        kernel = (powers * (gain * self.ema_eta).to(dtype)).sum(-1).T  # [D, T], lag 0 first
        zeros = x.new_zeros(x.shape[0], steps - 1, x.shape[2])
        u, _ = long_conv(x, kernel.flip(1).to(x.dtype), zeros)
        carry = torch.einsum(
            "tdn,bdn,dn->btd", powers * torch.exp(log_q.to(dtype)), h0.to(dtype), self.ema_eta.to(dtype)
        )
        u = u + carry.to(x.dtype)
        # final state of row b with L valid steps: q^L h0 + Σ_{s<L} q^{L−1−s} αβ x_s (masked before exp)
        ends = torch.full((x.shape[0],), steps, device=x.device) if lengths is None else lengths
        lag = (ends[:, None] - 1 - torch.arange(steps, device=x.device)).to(dtype)
        valid = lag >= 0
        weights = torch.exp(lag.clamp(min=0)[..., None, None] * log_q.to(dtype)) * valid[..., None, None]
        h = torch.einsum("btdn,btd->bdn", weights, x.to(dtype)) * gain.to(dtype)
        h = h + torch.exp(ends.to(dtype)[:, None, None] * log_q.to(dtype)) * h0.to(dtype)
        return F.silu(u), h.to(h0.dtype)

    def _mix(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        batch, steps, _ = x.shape
        heads = (batch, steps, self.num_heads, self.head_dim)
        q, k = self.qk(u).chunk(2, dim=-1)
        return q.reshape(heads), k.reshape(heads), F.silu(self.v(x)).reshape(heads)

    def _output(self, x: Tensor, o: Tensor) -> Tensor:
        return self.out(F.silu(self.g(x)) * o.flatten(-2))

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        temporal, kv_state = state
        if self.temporal == "dilated":
            u, new_temporal = x, []
            for level, level_state in zip(self.levels, temporal):
                u, level_state = level(u, level_state, lengths)
                new_temporal.append(level_state)
            new_temporal = tuple(new_temporal)
        else:
            u, new_temporal = self._ema(x, temporal, lengths)
        q, k, v = self._mix(x, u)
        o, kv_state = chunked_attention(q, k, v, kv_state, self.chunk_size, lengths)
        return self._output(x, o), (new_temporal, kv_state)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        temporal, (keys, values, count) = state
        if self.temporal == "dilated":
            u, new_temporal = x_t, []
            for level, level_state in zip(self.levels, temporal):
                u, level_state = level.step(u, level_state)
                new_temporal.append(level_state)
            new_temporal = tuple(new_temporal)
        else:
            log_q, gain = self._ema_coefficients()
            new_temporal = torch.exp(log_q) * temporal + gain * x_t[..., None]
            u = F.silu((new_temporal * self.ema_eta).sum(-1))
        q, k, v = self._mix(x_t[:, None], u[:, None])
        rows = torch.arange(x_t.shape[0], device=x_t.device)
        keys, values = keys.clone(), values.clone()
        keys[rows, count], values[rows, count] = k[:, 0], v[:, 0]
        scores = torch.einsum("bhd,bchd->bhc", q[:, 0], keys) / math.sqrt(self.head_dim)
        slots = torch.arange(self.chunk_size, device=x_t.device)
        scores = scores.masked_fill((slots[None] > count[:, None])[:, None], float("-inf"))
        o = torch.einsum("bhc,bchd->bhd", scores.softmax(-1), values)
        count = (count + 1) % self.chunk_size
        full = (count == 0)[:, None, None, None]
        keys = torch.where(full, torch.zeros_like(keys), keys)
        values = torch.where(full, torch.zeros_like(values), values)
        return self._output(x_t, o), (new_temporal, (keys, values, count))
