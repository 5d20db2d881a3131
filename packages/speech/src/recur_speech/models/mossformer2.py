r"""MossFormer2: time-domain speech separation with gated attention and an RNN-free recurrent module.

Zhao, Ma, Ni, Zhang, Yip, Trinh, Ma, "MossFormer2: Combining Transformer and RNN-Free Recurrent Network
for Enhanced Time-Domain Monaural Speech Separation", ICASSP 2024, https://arxiv.org/abs/2312.11825.
Ported from the official code (``modelscope/ClearerVoice-Studio``: ``train/speech_separation/models/
mossformer2/{mossformer2.py, mossformer2_block.py, fsmn.py}``; ``alibabasglab/MossFormer2``), which this
module follows where it and the paper differ.

**Pipeline.** A mixture ``x`` [B, T] is encoded by a 1-D convolution (kernel 16, stride 8) and a ReLU,
``w = ReLU(Conv(x))`` [B, N_e, L]; the mask network predicts one non-negative mask per source
``m_s`` [B, N_e, L]; each masked representation ``w ⊙ m_s`` is decoded by a transposed convolution
(kernel 16, stride 8) and cut (or zero-padded) to T samples.

**Mask network** (``MossFormer_MaskNet``): global layer norm (``GroupNorm(1, N_e)``), a 1×1 convolution
to the model width N, plus a scaled sinusoidal position encoding (``[sin ; cos]`` of the frame index,
times a learned scalar); then ``n_layers`` layers, each a **MossFormer module** followed by a
**recurrent module**, a LayerNorm, a global layer norm and a skip around the whole stack; then PReLU,
a 1×1 convolution to ``N · S`` channels, the gate ``tanh(W_o h) ⊙ σ(W_g h)`` per source, a 1×1
convolution back to ``N_e`` and a ReLU.

**MossFormer module** (``FLASH_ShareA_FFConvM``, gated single-head attention after FLASH): the first half
of the channels is shifted one frame later (token shift); ``FFConvM`` (norm → Linear → SiLU →
depthwise conv k17 with a residual → dropout) maps to ``v, u`` (``expansion_factor · D`` channels, split
in two) and to a shared ``z`` of ``query_key_dim`` (128) channels, from which four per-channel
scale-and-offsets give ``q_quad, q_lin, k_quad, k_lin``; rotary position embedding (first 32 channels,
interleaved pairs) on all four. With the frames cut into non-overlapping chunks of ``g = 256``:

.. math::
    A = \mathrm{ReLU}\!\left(\tfrac{1}{g} Q_{quad} K_{quad}^\top\right)^{2} \ \text{(within each chunk)},
    \qquad \hat V = A V + Q_{lin} \left(\tfrac{1}{L} K_{lin}^\top V\right) \ \text{(the second term over
    the whole sequence)},

and the same for ``Û`` with ``u``; the output is ``x + FFConvM((Û ⊙ v) ⊙ σ(V̂ ⊙ u))``. The norm inside these
``FFConvM`` is ScaleNorm (``x / (‖x‖ · D^{-1/2}) · g``), the official ``norm_type='scalenorm'``.

**Recurrent module** (``Gated_FSMN_Block_Dilated``, RNN-free): a 1×1 conv ``D → 256`` + PReLU, a
channel LayerNorm, the **gated FSMN** ``y = FFConvM_v(h) ⊙ M(FFConvM_u(h)) + h`` (LayerNorm inside),
a channel LayerNorm, a 1×1 conv back to D and a residual. The memory ``M`` is the **dilated dense FSMN**
(``UniDeepFsmn_dilated``): ``p = W_p ReLU(W_l u)``, then two depthwise convolutions of kernel 39 (``lorder``
20, non-causal, zero-padded to keep the length) with dilations 1 and 2, each followed by InstanceNorm and
PReLU, densely connected (layer 2 reads ``[out_1 ; p]`` through a grouped conv of ``groups = C``, as the
official ``Conv2d(2C, C, groups=C)``), and ``M(u) = u + out_2``.

**The recurrence swap.** The memory ``M`` is recur's point of exchange: ``layer="fsmn"`` (default) is the
dilated dense FSMN above; any registered core layer name builds ``build_layer(layer, 256, **layer_kwargs)``
and ``M(u) = u + layer(u)`` instead (``"bidirectional"`` for a non-causal RNN; a causal layer sees only
the past). The rest of the recurrent module (the gates, the norms, the projections) stays. The FSMN is
not registered as a core layer: it is non-causal, has no state and no ``step``, which the core layer
contract's tests expect of a recurrent layer.

**Ablation / baseline.** ``recurrent=False`` drops the recurrent modules (the official ``MossFormerM2``,
"the original MossFormer" in its comment); registered as ``mossformer``.

Differences from the official code, on purpose:

- 1×1 convolutions on ``[B, C, L]`` are ``nn.Linear`` on ``[B, L, C]`` (the same map).
- InstanceNorm is computed as a layer norm over time per channel (``F.layer_norm`` on ``[B, C, L]``) with a
  per-channel affine: the same numbers for L ≥ 2, and defined for L = 1, where ``nn.InstanceNorm`` raises.
- The FSMN's output is not ``.squeeze()``-d: the official ``input + out.squeeze()`` turns ``[B, 1, C]``
  into ``[B, C]`` when L = 1 and broadcasts it to ``[B, B, C]`` (tested: L = 1 keeps its shape).
- Linearised attention divides by the true length L (as the official code, padding frames hold zeros).

Sizes: :func:`mossformer2` builds a CPU configuration by default (``size="small"``: N_e = N = 64, 2 layers,
q/k 32, FSMN width 64, no dropout); ``size="paper"`` gives the official 8 kHz configuration (N_e = N = 512, 24 layers,
q/k 128, expansion 4, chunks 256, FSMN width 256, kernel 16), 55.7 M parameters as the paper reports
(counted in the tests).

Shapes:
    mixture [B, T] -> separated sources [B, S, T] (T >= kernel_size).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.registry import build_layer, register_model

__all__ = [
    "DilatedDenseFSMN",
    "FFConvM",
    "GatedFSMN",
    "MaskingSeparator",
    "MossFormer2",
    "MossFormer2Config",
    "MossFormerModule",
    "RecurrentModule",
    "ScaledSinusoidalEmbedding",
    "apply_rotary",
    "mossformer",
    "mossformer2",
    "mossformer2_config",
]


# ---------------------------------------------------------------------------------------------
# small parts


def apply_rotary(x: Tensor, dim: int = 32, theta: float = 10000.0) -> Tensor:
    """Rotary position embedding on the first ``dim`` channels of ``x`` [..., L, C], interleaved pairs
    ``(x_{2i}, x_{2i+1})`` rotated by ``t · θ^{-2i/dim}`` at frame ``t`` (``rotary_embedding_torch``'s
    ``RotaryEmbedding(dim).rotate_queries_or_keys``); the other channels pass unchanged."""
    length, dtype = x.shape[-2], torch.promote_types(x.dtype, torch.float32)
    inv_freq = theta ** -(torch.arange(0, dim, 2, device=x.device, dtype=dtype) / dim)
    angles = torch.arange(length, device=x.device, dtype=dtype)[:, None] * inv_freq
    angles = angles.repeat_interleave(2, dim=-1).to(x.dtype)
    rotated, rest = x[..., :dim], x[..., dim:]
    pairs = rotated.unflatten(-1, (-1, 2))
    half_turn = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return torch.cat((rotated * angles.cos() + half_turn * angles.sin(), rest), dim=-1)


class ScaleNorm(nn.Module):
    """``x / max(‖x‖ · D^{-1/2}, eps) · g`` with one learned scalar ``g`` (the MossFormer blocks' norm)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class ScaledSinusoidalEmbedding(nn.Module):
    """``[sin(t ω) ; cos(t ω)] · s`` [L, D] for frames ``t = 0..L-1``, ``ω_i = 10000^{-2i/D}``, ``s`` learned."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("inv_freq", 10000 ** -(torch.arange(0, dim, 2).float() / dim), persistent=False)

    def forward(self, length: int) -> Tensor:
        angles = torch.arange(length, device=self.inv_freq.device, dtype=torch.float32)[:, None] * self.inv_freq
        return torch.cat((angles.sin(), angles.cos()), dim=-1) * self.scale


class DepthwiseConvResidual(nn.Module):
    """``x + DepthwiseConv1d(x)`` over time, kernel ``k`` (odd), no bias (the official ``ConvModule``).
    ``[B, L, C] -> [B, L, C]``."""

    def __init__(self, channels: int, kernel_size: int = 17) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"the FFConvM kernel must be odd to keep the length, got {kernel_size}")
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x.transpose(1, 2)).transpose(1, 2)


class FFConvM(nn.Module):
    """norm → Linear → SiLU → depthwise conv k17 with a residual → dropout. ``[B, L, C_in] -> [B, L, C_out]``."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        norm: type[nn.Module] = nn.LayerNorm,
        kernel_size: int = 17,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            norm(dim_in),
            nn.Linear(dim_in, dim_out),
            nn.SiLU(),
            DepthwiseConvResidual(dim_out, kernel_size),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class OffsetScale(nn.Module):
    """``heads`` per-channel scale-and-offset copies of ``z``: ``z ⊙ γ_h + β_h`` (γ ~ N(0, 0.02²), β = 0)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.randn(heads, dim) * 0.02)
        self.beta = nn.Parameter(torch.zeros(heads, dim))

    def forward(self, z: Tensor) -> tuple[Tensor, ...]:
        return (z[..., None, :] * self.gamma + self.beta).unbind(dim=-2)


# ---------------------------------------------------------------------------------------------
# the MossFormer module


class MossFormerModule(nn.Module):
    """Gated attention with token shift, chunked ReLU² attention and linearised global attention
    (``FLASH_ShareA_FFConvM``; module docstring). ``[B, L, D] -> [B, L, D]``.

    Args:
        dim: D.
        group_size: frames per attention chunk (256).
        query_key_dim: width of the shared q/k projection (128).
        expansion_factor: ``v`` and ``u`` have ``expansion_factor · D / 2`` channels each (4 → 2D).
        rotary_dim: channels of q and k that get the rotary embedding (32).
        kernel_size: depthwise kernel inside ``FFConvM`` (17).
        dropout: after each ``FFConvM`` and on the attention weights (0.1).
    """

    def __init__(
        self,
        dim: int,
        group_size: int = 256,
        query_key_dim: int = 128,
        expansion_factor: float = 4.0,
        rotary_dim: int = 32,
        kernel_size: int = 17,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        hidden = int(dim * expansion_factor)
        if hidden != 4 * dim:
            # (Û ⊙ v) ⊙ σ(V̂ ⊙ u) enters to_out, whose input is 2D wide in the official code: hidden = 4D
            raise ValueError(f"expansion_factor must be 4 (v and u of width 2D), got {expansion_factor}")
        if rotary_dim > query_key_dim or rotary_dim % 2:
            raise ValueError(f"rotary_dim must be even and <= query_key_dim ({query_key_dim}), got {rotary_dim}")
        self.group_size = group_size
        self.rotary_dim = rotary_dim
        self.to_hidden = FFConvM(dim, hidden, ScaleNorm, kernel_size, dropout)
        self.to_qk = FFConvM(dim, query_key_dim, ScaleNorm, kernel_size, dropout)
        self.qk_offset_scale = OffsetScale(query_key_dim, heads=4)
        self.to_out = FFConvM(2 * dim, dim, ScaleNorm, kernel_size, dropout)
        self.attention_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        shifted, passed = x.chunk(2, dim=-1)
        shifted = F.pad(shifted, (0, 0, 1, -1))
        h = torch.cat((shifted, passed), dim=-1)
        v, u = self.to_hidden(h).chunk(2, dim=-1)
        quad_q, lin_q, quad_k, lin_k = (apply_rotary(t, self.rotary_dim) for t in self.qk_offset_scale(self.to_qk(h)))
        att_v, att_u = self.attend(quad_q, lin_q, quad_k, lin_k, v, u)
        return x + self.to_out((att_u * v) * torch.sigmoid(att_v * u))

    def attend(
        self, quad_q: Tensor, lin_q: Tensor, quad_k: Tensor, lin_k: Tensor, v: Tensor, u: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Chunked quadratic plus global linear attention of ``v`` and ``u`` [B, L, E] -> two [B, L, E]."""
        length, g = v.shape[1], self.group_size
        padding = -length % g
        # zero frames past the end: their keys give ReLU(0)^2 = 0 weights and add nothing to K^T V
        chunks = [F.pad(t, (0, 0, 0, padding)).unflatten(1, (-1, g)) for t in (quad_q, lin_q, quad_k, lin_k)]
        quad_q, lin_q, quad_k, lin_k = chunks
        values = torch.cat((v, u), dim=-1)
        values = F.pad(values, (0, 0, 0, padding)).unflatten(1, (-1, g))
        weights = self.attention_dropout(F.relu(quad_q @ quad_k.transpose(-1, -2) / g) ** 2)
        global_kv = torch.einsum("bgnd,bgne->bde", lin_k, values) / length
        out = weights @ values + torch.einsum("bgnd,bde->bgne", lin_q, global_kv)
        return out.flatten(1, 2)[:, :length].chunk(2, dim=-1)


# ---------------------------------------------------------------------------------------------
# the recurrent module


class InstanceNorm(nn.Module):
    """Per-channel normalisation over time with a per-channel affine, ``[B, C, L] -> [B, C, L]``
    (``nn.InstanceNorm1d(C, affine=True)``, also defined at L = 1, where it gives the bias)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], eps=self.eps) * self.weight + self.bias


class DilatedDenseFSMN(nn.Module):
    """The dilated dense FSMN memory (``UniDeepFsmn_dilated`` with its ``DilatedDenseNet``).

    ``p = W_p ReLU(W_l u)``; ``out_i = PReLU(InstanceNorm(DWConv_i([out_{i-1}; ...; out_1; p])))`` with
    kernel ``2·lorder − 1`` and dilation ``2^{i-1}``; returns ``u + out_depth``. ``[B, L, C] -> [B, L, C]``,
    any L >= 1.
    """

    def __init__(self, dim: int, lorder: int = 20, depth: int = 2) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.project = nn.Linear(dim, dim, bias=False)
        kernel = 2 * lorder - 1
        self.convs = nn.ModuleList(
            nn.Conv1d(
                dim * (i + 1),
                dim,
                kernel,
                dilation=2**i,
                padding=(kernel // 2) * 2**i,
                groups=dim,
                bias=False,
            )
            for i in range(depth)
        )
        self.norms = nn.ModuleList(InstanceNorm(dim) for _ in range(depth))
        self.activations = nn.ModuleList(nn.PReLU(dim) for _ in range(depth))

    def forward(self, u: Tensor) -> Tensor:
        dense = self.project(F.relu(self.linear(u))).transpose(1, 2)
        for conv, norm, activation in zip(self.convs, self.norms, self.activations):
            out = activation(norm(conv(dense)))
            dense = torch.cat((out, dense), dim=1)
        return u + out.transpose(1, 2)


class CoreMemory(nn.Module):
    """``u + layer(u)[0]`` for a registered core layer (the recurrence swap). ``[B, L, C] -> [B, L, C]``."""

    def __init__(self, layer: str, dim: int, layer_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.layer = build_layer(layer, dim, **(layer_kwargs or {}))

    def forward(self, u: Tensor) -> Tensor:
        return u + self.layer(u)[0]


class GatedFSMN(nn.Module):
    """``FFConvM_v(h) ⊙ M(FFConvM_u(h)) + h`` with the memory ``M`` (``Gated_FSMN_dilated``). ``[B, L, C]``."""

    def __init__(self, dim: int, memory: nn.Module, kernel_size: int = 17, dropout: float = 0.1) -> None:
        super().__init__()
        self.to_u = FFConvM(dim, dim, nn.LayerNorm, kernel_size, dropout)
        self.to_v = FFConvM(dim, dim, nn.LayerNorm, kernel_size, dropout)
        self.memory = memory

    def forward(self, h: Tensor) -> Tensor:
        return self.to_v(h) * self.memory(self.to_u(h)) + h


class RecurrentModule(nn.Module):
    """Linear ``D → C`` + PReLU → LayerNorm → gated FSMN → LayerNorm → Linear ``C → D``, plus the input
    (``Gated_FSMN_Block_Dilated``). ``[B, L, D] -> [B, L, D]``.

    Args:
        dim: D.
        inner_dim: C (256).
        layer: ``"fsmn"`` (the dilated dense FSMN, kernel ``2·lorder − 1``) or a registered core layer name.
        layer_kwargs: that layer's options.
        lorder, depth: the FSMN's half kernel (20 → 39) and number of dilated convolutions (2).
    """

    def __init__(
        self,
        dim: int,
        inner_dim: int = 256,
        layer: str = "fsmn",
        layer_kwargs: dict[str, Any] | None = None,
        lorder: int = 20,
        depth: int = 2,
        kernel_size: int = 17,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if layer == "fsmn":
            if layer_kwargs:
                raise ValueError("the FSMN takes no layer_kwargs; set fsmn_lorder and fsmn_depth instead")
            memory = DilatedDenseFSMN(inner_dim, lorder, depth)
        else:
            memory = CoreMemory(layer, inner_dim, layer_kwargs)
        self.down = nn.Sequential(nn.Linear(dim, inner_dim), nn.PReLU())
        self.norm1 = nn.LayerNorm(inner_dim)
        self.gated_fsmn = GatedFSMN(inner_dim, memory, kernel_size, dropout)
        self.norm2 = nn.LayerNorm(inner_dim)
        self.up = nn.Linear(inner_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.up(self.norm2(self.gated_fsmn(self.norm1(self.down(x)))))


# ---------------------------------------------------------------------------------------------
# the model


@dataclass
class MossFormer2Config:
    """MossFormer2's options; the defaults are the official 8 kHz configuration (``MossFormer2_SS_8K``)."""

    n_src: int = 2  # S: sources separated
    encoder_dim: int = 512  # N_e: encoder filters (official encoder_embedding_dim)
    model_dim: int = 512  # N: MossFormer width (official mossformer_sequence_dim)
    n_layers: int = 24  # MossFormer modules, each followed by a recurrent module
    kernel_size: int = 16  # encoder/decoder kernel; stride kernel_size // 2
    query_key_dim: int = 128
    group_size: int = 256  # frames per quadratic-attention chunk
    expansion_factor: float = 4.0
    rotary_dim: int = 32
    conv_kernel: int = 17  # depthwise kernel inside FFConvM
    dropout: float = 0.1
    recurrent: bool = True  # False: the MossFormer-only ablation (official MossFormerM2)
    fsmn_dim: int = 256  # C: width of the recurrent module
    fsmn_lorder: int = 20  # FSMN kernel 2 * lorder - 1 = 39
    fsmn_depth: int = 2  # dilations 1, 2
    layer: str = "fsmn"  # the recurrent module's memory: "fsmn" or a registered core layer
    layer_kwargs: dict[str, Any] = field(default_factory=dict)


_SIZES: dict[str, dict[str, Any]] = {
    "paper": {},
    # no dropout at this size: a few CPU minutes on 1000 mixtures underfit rather than overfit
    "small": dict(encoder_dim=64, model_dim=64, n_layers=2, query_key_dim=32, fsmn_dim=64, dropout=0.0),
}


def mossformer2_config(size: Literal["small", "paper"] = "small", **overrides: Any) -> MossFormer2Config:
    """The ``small`` (CPU) or ``paper`` configuration with ``overrides`` applied."""
    if size not in _SIZES:
        raise ValueError(f"size must be one of {', '.join(_SIZES)}, got {size!r}")
    known = {f.name for f in fields(MossFormer2Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown MossFormer2 option(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    return MossFormer2Config(**{**_SIZES[size], **overrides})


class MaskingSeparator(nn.Module, abc.ABC):
    """Encoder ``ReLU(Conv1d(1, N_e, k, stride k/2))``, a mask network (subclasses' :meth:`masks`) and the
    decoder ``ConvTranspose1d(N_e, 1, k, stride k/2)`` applied to each masked representation, cut or
    zero-padded to the mixture's length (the official ``MossFormer.forward``).

    Shapes:
        mixture [B, T] -> estimates [B, S, T]; ``masks``: w [B, N_e, L] -> [B, S, N_e, L].
    """

    def __init__(self, encoder_dim: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2 (stride kernel_size // 2), got {kernel_size}")
        self.kernel_size = kernel_size
        self.encoder = nn.Conv1d(1, encoder_dim, kernel_size, stride=kernel_size // 2, bias=False)
        self.decoder = nn.ConvTranspose1d(encoder_dim, 1, kernel_size, stride=kernel_size // 2, bias=False)

    @abc.abstractmethod
    def masks(self, w: Tensor) -> Tensor:
        """The mask network: encoded mixture ``w`` [B, N_e, L] -> non-negative masks [B, S, N_e, L]."""

    def forward(self, mixture: Tensor) -> Tensor:
        if mixture.dim() != 2 or mixture.shape[-1] < self.kernel_size:
            raise ValueError(
                f"{type(self).__name__} expects mixtures [B, T] with T >= kernel_size = {self.kernel_size}, "
                f"got {tuple(mixture.shape)}"
            )
        w = F.relu(self.encoder(mixture[:, None]))
        masked = w[:, None] * self.masks(w)
        batch, n_src, channels, frames = masked.shape
        decoded = self.decoder(masked.reshape(batch * n_src, channels, frames)).reshape(batch, n_src, -1)
        length = mixture.shape[-1]
        return F.pad(decoded, (0, max(0, length - decoded.shape[-1])))[..., :length]

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch_size, 50 * self.kernel_size),)


class MossFormer2(MaskingSeparator):
    """Encoder, MossFormer2 mask network, decoder (module docstring).

    Shapes:
        mixture [B, T] -> estimates [B, S, T]; ``masks(w)``: w [B, N_e, L] -> [B, S, N_e, L].
    """

    def __init__(self, config: MossFormer2Config | None = None, **kwargs: Any) -> None:
        config = config or MossFormer2Config(**kwargs)
        super().__init__(config.encoder_dim, config.kernel_size)
        if config.n_src < 1 or config.n_layers < 1:
            raise ValueError(f"need n_src >= 1 and n_layers >= 1, got {config.n_src}, {config.n_layers}")
        self.config = config
        c = config
        self.input_norm = nn.GroupNorm(1, c.encoder_dim, eps=1e-8)
        self.input_proj = nn.Linear(c.encoder_dim, c.model_dim, bias=False)
        self.position = ScaledSinusoidalEmbedding(c.model_dim)
        attention = dict(
            group_size=c.group_size,
            query_key_dim=c.query_key_dim,
            expansion_factor=c.expansion_factor,
            rotary_dim=c.rotary_dim,
            kernel_size=c.conv_kernel,
            dropout=c.dropout,
        )
        self.mossformer = nn.ModuleList(MossFormerModule(c.model_dim, **attention) for _ in range(c.n_layers))
        self.recurrent = nn.ModuleList(
            RecurrentModule(
                c.model_dim, c.fsmn_dim, c.layer, c.layer_kwargs, c.fsmn_lorder, c.fsmn_depth, c.conv_kernel, c.dropout
            )
            for _ in range(c.n_layers if c.recurrent else 0)
        )
        self.stack_norm = nn.LayerNorm(c.model_dim, eps=1e-6)
        self.skip_norm = nn.GroupNorm(1, c.model_dim, eps=1e-8)
        self.head_activation = nn.PReLU()
        self.to_sources = nn.Linear(c.model_dim, c.model_dim * c.n_src)
        self.output = nn.Linear(c.model_dim, c.model_dim)
        self.output_gate = nn.Linear(c.model_dim, c.model_dim)
        self.to_mask = nn.Linear(c.model_dim, c.encoder_dim, bias=False)

    def masks(self, w: Tensor) -> Tensor:
        """Mask network: encoded mixture ``w`` [B, N_e, L] -> masks [B, S, N_e, L] (ReLU, non-negative)."""
        h = self.input_proj(self.input_norm(w).transpose(1, 2))
        h = h + self.position(h.shape[1])
        skip = h
        for index, block in enumerate(self.mossformer):
            h = block(h)
            if self.config.recurrent:
                h = self.recurrent[index](h)
        h = self.skip_norm(self.stack_norm(h).transpose(1, 2)).transpose(1, 2) + skip
        h = self.to_sources(self.head_activation(h)).unflatten(-1, (self.config.n_src, -1))
        h = torch.tanh(self.output(h)) * torch.sigmoid(self.output_gate(h))
        return F.relu(self.to_mask(h)).permute(0, 2, 3, 1)


@register_model("mossformer2")
def mossformer2(size: Literal["small", "paper"] = "small", **overrides: Any) -> MossFormer2:
    """MossFormer2 in the ``small`` CPU configuration (``size="paper"``: the official 8 kHz one, 55.7 M
    parameters); any :class:`MossFormer2Config` field can be overridden (``recurrent=False``,
    ``layer="bidirectional"``, ``n_layers=4``...)."""
    return MossFormer2(mossformer2_config(size, **overrides))


@register_model("mossformer")
def mossformer(size: Literal["small", "paper"] = "small", **overrides: Any) -> MossFormer2:
    """The MossFormer-only ablation: :func:`mossformer2` without the recurrent modules (``recurrent=False``)."""
    if overrides.pop("recurrent", False):
        raise ValueError("mossformer is MossFormer2 without the recurrent module; use mossformer2 for recurrent=True")
    return MossFormer2(mossformer2_config(size, recurrent=False, **overrides))
