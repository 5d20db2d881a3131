r"""The Dynamical Systems Framework (DSF): every linear token mixer as one matrix, :math:`y = \Phi u`.

Sieber, Amo Alonso, Didier, Zeilinger & Orvieto, "Understanding the differences in Foundation Models:
Attention, State Space Models, and Recurrent Neural Networks", NeurIPS 2024,
https://arxiv.org/abs/2405.15731.

The DSF writes a token mixer as a linear time-varying system started from :math:`h_{-1} = 0`,

.. math::
    h_i = \Lambda_i h_{i-1} + B_i u_i, \qquad y_i = C_i h_i + D_i u_i,

so that :math:`y = \Phi u` with the lower-triangular (causal) mixing matrix

.. math::
    \Phi_{ij} = C_i \Big(\prod_{k=j+1}^{i} \Lambda_k\Big) B_j + \delta_{ij} D_i \quad (j \le i), \qquad
    \Phi_{ij} = 0 \quad (j > i).

:math:`\Lambda, B, C, D` may depend on the layer input x (selective layers, attention) but not on u,
so for a fixed x the output is linear in u. :func:`decompose` runs the layer on x, records the
arguments and the result of the op the layer calls (its own chunked or scan kernel, unchanged),
builds Φ from those arguments in closed form, and returns Φ together with the tensors u and y that
op consumed and produced; :func:`verify` checks ``apply_mixing(phi, u)`` against y.

Φ is one T × T matrix per head (acting on every value channel of that head alike) or per channel.
Per layer, with s the query scale, and the state size n of one map, which bounds the rank of every
off-diagonal block ``Φ[t:, :t]`` (the semiseparable rank, :func:`semiseparable_rank`):

================  ========================================================  =========  =====
layer             :math:`\Phi_{ij}`, j ≤ i                                  u          n
================  ========================================================  =========  =====
linear_attention  φ(q_i)ᵀφ(k_j) / (Σ_{l≤i} φ(q_i)ᵀφ(k_l) + ε)               v, head    dim φ
retention         s q_iᵀk_j γ^{i−j} (q, k rotated)                          v, head    d_k
gla               s Σ_d q_id k_jd ∏_{l=j+1..i} α_ld                         v, head    d_k
lightnet          s Σ_d q_id e^{k_jd} / z_id, z_i = Σ_{l≤i} e^{k_l}         v, head    d_k
deltanet          s β_j q_iᵀ (∏_{l=i..j+1} (I − β_l k_l k_lᵀ)) k_j              v, head    d_k
mamba2            C_iᵀB_j ∏_{l=j+1..i} a_l Δ_j + δ_ij D                      x, head    N
mamba             Σ_n C_in ∏_{l=j+1..i} ā_{lcn} Δ_jc B_jn + δ_ij D_c         x, channel N
lssl              C_c Ā_c^{i−j} B̄_c + δ_ij D_c (Toeplitz)                   x, channel N
aaren             e^{s_j} / Σ_{l≤i} e^{s_l}, s_j = s qᵀk_j                  v, head    1
attention         softmax_{l≤i}(s q_iᵀk_l)_j (q, k rotated)                 v, head    ∞
================  ========================================================  =========  =====

y is the output of the layer's op, before whatever follows it (W_o, RMSNorm/GroupNorm, output
gate, GELU); for mamba2 it is the SSD output plus the skip D x (before the SiLU(z) gate and the
norm), for mamba the selective scan's output with the skip D but without the SiLU(z) gate (the op
is called once more on the recorded inputs with ``z=None``), for attention the SDPA output.

For deltanet the product of the transitions :math:`I - \beta k k^\top` is never formed: with
:math:`L = \mathrm{strictly\_lower}(\mathrm{diag}(\beta) K K^\top)` the delta rule writes the
pseudo-values :math:`(I + L)^{-1} \mathrm{diag}(\beta) V`, so
:math:`\Phi = s\, \mathrm{tril}(Q K^\top) (I + L)^{-1} \mathrm{diag}(\beta)` (one triangular solve).

Only a layer run from its empty state on unpadded input is decomposed (``state=None``,
``lengths=None``); a carried state adds a term that is not of the form Φu.

Shapes:
    x [B, T, D] -> phi [B, M, T, T] with M heads or channels (``Mixing.axis``);
    u and y [B, T, M, P] (per head, P value channels) or [B, T, M] (per channel).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.layers import (
    GLA,
    LSSL,
    Aaren,
    CausalAttention,
    DeltaNet,
    LightNet,
    LinearAttention,
    Mamba,
    Mamba2,
    Retention,
    SequenceLayer,
)
from recur_core.ops.prefix_attention import prefix_attention_inputs
from recur_core.ops.selective_scan.naive import selective_scan_inputs

__all__ = [
    "Mixing",
    "apply_mixing",
    "band_mass",
    "decompose",
    "mean_distance",
    "mixing_matrix",
    "plot_mixing",
    "semiseparable_rank",
    "supported_layers",
    "verify",
]

# bytes of one [.., T, T] intermediate the mamba decomposition may hold at once, per channel block
_BLOCK_BYTES = 1 << 27


@dataclass(frozen=True)
class Mixing:
    """A layer's token mixing on one input, as the DSF matrix and the tensors it maps.

    Args:
        layer: the registered layer name.
        phi: the mixing matrix, lower triangular, ``[B, M, T, T]``.
        u: what Φ mixes, ``[B, T, M, P]`` (per head) or ``[B, T, M]`` (per channel).
        y: the layer's own mixing output on this input, the shape of u.
        axis: ``"head"`` or ``"channel"``: what the M maps are.
        state_size: the state size n of one map, which bounds Φ's semiseparable rank; ``None`` for
            softmax attention (n = ∞: its KV cache grows with T).
    """

    layer: str
    phi: Tensor
    u: Tensor
    y: Tensor
    axis: str
    state_size: int | None


@dataclass(frozen=True)
class _Call:
    fn: Callable
    args: tuple
    kwargs: dict
    out: Any

    def arguments(self) -> dict[str, Any]:
        """The call's arguments by name, defaults filled in."""
        bound = inspect.signature(self.fn).bind(*self.args, **self.kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)


@contextmanager
def _intercept(owner: Any, name: str, calls: list[_Call]):
    """Replace ``owner.name`` (``owner[name]`` for a dict) by a wrapper that records every call, then restore it."""
    is_dict = isinstance(owner, dict)
    original = owner[name] if is_dict else getattr(owner, name)
    owned = is_dict or name in vars(owner)

    def recording(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(_Call(original, args, kwargs, out))
        return out

    if is_dict:
        owner[name] = recording
    else:
        setattr(owner, name, recording)
    try:
        yield
    finally:
        if is_dict:
            owner[name] = original
        elif owned:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


def _run(layer: SequenceLayer, x: Tensor, targets: Sequence[tuple[Any, str]]) -> list[_Call]:
    """Run ``layer(x)`` with each ``(owner, name)`` target recorded; each must be called exactly once."""
    logs: list[list[_Call]] = [[] for _ in targets]
    with ExitStack() as stack:
        for (owner, name), log in zip(targets, logs):
            stack.enter_context(_intercept(owner, name, log))
        layer(x)
    for (_, name), log in zip(targets, logs):
        if len(log) != 1:
            raise RuntimeError(
                f"{type(layer).__name__}.forward called {name} {len(log)} times, expected once: the layer's forward "
                "no longer matches recur_core.analysis.dsf; update its decomposition there"
            )
    return [log[0] for log in logs]


def _module(cls: type) -> Any:
    return sys.modules[cls.__module__]


def _causal(size: int, device) -> Tensor:
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def _products(log_a: Tensor, negative: Tensor | None = None) -> Tensor:
    r""":math:`\prod_{l=j+1}^{i} a_l` for j ≤ i and 0 above the diagonal, from :math:`\log|a|` along the last
    dim; ``negative`` (a < 0) flips the sign of products with an odd count. Shapes: [..., T] -> [..., T, T]."""
    cum = log_a.cumsum(-1)
    causal = _causal(log_a.shape[-1], log_a.device)
    out = (cum[..., :, None] - cum[..., None, :]).masked_fill(~causal, float("-inf")).exp()
    if negative is None:
        return out
    flips = negative.to(torch.int32).cumsum(-1)
    odd = (flips[..., :, None] - flips[..., None, :]).remainder(2).bool()
    return torch.where(odd, -out, out)


def _add_diagonal(phi: Tensor, d: Tensor) -> Tensor:
    """phi [B, M, T, T] plus d [M] on every map's diagonal."""
    return phi + torch.diag_embed(d.to(phi.dtype)[:, None].expand(*phi.shape[1:-1]))


def _linear_attn_phi(q: Tensor, k: Tensor, g: Tensor | None, scale: float, normalize: bool, eps: float) -> Tensor:
    """Φ of ``chunk_linear_attn`` from its q, k [B, T, H, K] and log-decay g (None, [B, T, H] or [B, T, H, K])."""
    dtype = torch.promote_types(q.dtype, torch.float32)
    q, k = (q.to(dtype) * scale).transpose(1, 2), k.to(dtype).transpose(1, 2)
    causal = _causal(q.shape[2], q.device)
    if g is None:
        phi = q @ k.transpose(-1, -2)
    elif g.dim() == 3:
        phi = (q @ k.transpose(-1, -2)) * _products(g.to(dtype).transpose(1, 2))
    else:
        phi = torch.einsum("bhik,bhjk,bhkij->bhij", q, k, _products(g.to(dtype).permute(0, 2, 3, 1)))
    phi = phi.masked_fill(~causal, 0.0)
    if normalize:
        phi = phi / (phi.sum(-1, keepdim=True) + eps)
    return phi


def _linear_attn_family(layer: SequenceLayer, x: Tensor, state_size: int) -> Mixing:
    """linear_attention, retention, gla, lightnet: Φ from the arguments of their ``chunk_linear_attn`` call."""
    (call,) = _run(layer, x, [(_module(type(layer)), "chunk_linear_attn")])
    a = call.arguments()
    scale = a["q"].shape[-1] ** -0.5 if a["scale"] is None else a["scale"]
    phi = _linear_attn_phi(a["q"], a["k"], a["g"], scale, a["normalize"], a["eps"])
    return Mixing(layer.layer_name, phi, a["v"], call.out[0], "head", state_size)


def _linear_attention(layer: LinearAttention, x: Tensor) -> Mixing:
    return _linear_attn_family(layer, x, layer.state_dim)


def _keyed(layer: Retention | GLA | LightNet, x: Tensor) -> Mixing:
    return _linear_attn_family(layer, x, layer.key_dim)


def _mamba2(layer: Mamba2, x: Tensor) -> Mixing:
    """SSD: q = C, k = B, v = Δx, g = −Δ e^{A_log}; Φ acts on x, so Δ_j moves into Φ, and D x joins y."""
    call, inputs = _run(layer, x, [(_module(Mamba2), "chunk_linear_attn"), (layer, "_ssm_inputs")])
    a = call.arguments()
    xh = inputs.out[4]
    delta = a["g"] / -layer.A_log.exp().to(a["g"].dtype)
    phi = _linear_attn_phi(a["q"], a["k"], a["g"], a["scale"], False, 0.0) * delta.transpose(1, 2)[:, :, None, :]
    y = call.out[0] + xh * layer.D[:, None].to(xh.dtype)
    return Mixing(layer.layer_name, _add_diagonal(phi, layer.D), xh, y, "head", layer.d_state)


def _mamba(layer: Mamba, x: Tensor) -> Mixing:
    """S6 per channel; y is the scan's output with the skip D but without the SiLU(z) gate (the op rerun, z = None)."""
    (call,) = _run(layer, x, [(_module(Mamba)._MODES, layer.mode)])
    a = call.arguments()
    dtype, delta = selective_scan_inputs(a["u"], a["delta"], a["delta_bias"], a["delta_softplus"])
    A, B, C = (a[name].to(dtype) for name in ("A", "B", "C"))
    batch, seq_len, channels = delta.shape
    block = max(1, _BLOCK_BYTES // (batch * A.shape[1] * seq_len * seq_len * torch.finfo(dtype).bits // 8))
    blocks = []
    for index in torch.arange(channels, device=delta.device).split(block):
        log_a = (delta[..., index, None] * A[index]).permute(0, 2, 3, 1)  # [B, c, N, T]
        if a["allow_neg_eigval"]:
            transition = 2 * log_a.exp() - 1
            products = _products(transition.abs().clamp_min(torch.finfo(dtype).tiny).log(), transition < 0)
        else:
            products = _products(log_a)
        blocks.append(torch.einsum("bcnij,bin,bjn,bjc->bcij", products, C, B, delta[..., index]))
    phi = torch.cat(blocks, dim=1)
    if a["D"] is not None:
        phi = _add_diagonal(phi, a["D"])
    y = call.fn(**{**a, "z": None})[0]
    return Mixing(layer.layer_name, phi, a["u"], y, "channel", layer.d_state)


def _lssl(layer: LSSL, x: Tensor) -> Mixing:
    r"""LTI per channel: the Toeplitz matrix of the kernel :math:`K_l = C \bar A^l \bar B` (taps by doubling)."""
    (call,) = _run(layer, x, [(_module(LSSL)._MODES, layer.mode)])
    a = call.arguments()
    A_bar, B_bar = a["A_bar"], a["B_bar"]
    batch, seq_len, _ = a["u"].shape
    taps, power = B_bar[..., None], A_bar
    while taps.shape[-1] < seq_len:
        taps = torch.cat([taps, power @ taps], dim=-1)
        power = power @ power
    kernel = torch.einsum("hn,hnl->hl", a["C"].to(A_bar.dtype), taps[..., :seq_len])
    lag = torch.arange(seq_len, device=A_bar.device)
    lag = lag[:, None] - lag[None, :]
    phi = (kernel[:, lag.clamp(min=0)] * (lag >= 0)).expand(batch, -1, -1, -1)
    if a["D"] is not None:
        phi = _add_diagonal(phi, a["D"])
    return Mixing(layer.layer_name, phi, a["u"], call.out[0], "channel", layer.d_state)


def _aaren(layer: Aaren, x: Tensor) -> Mixing:
    """One learned query: row i is the softmax of the scores s_0..s_i."""
    (call,) = _run(layer, x, [(_module(Aaren)._MODES, layer.mode)])
    a = call.arguments()
    scores, _, _ = prefix_attention_inputs(a["q"], a["k"], a["v"], a["scale"], a["mask"])
    scores = scores.transpose(1, 2)  # [B, H, T]
    causal = _causal(scores.shape[-1], scores.device)
    phi = scores[..., None, :].expand(*scores.shape[:-1], *causal.shape).masked_fill(~causal, float("-inf"))
    return Mixing(layer.layer_name, phi.softmax(-1), a["v"], call.out[0], "head", 1)


def _attention(layer: CausalAttention, x: Tensor) -> Mixing:
    """softmax(s QKᵀ) under the causal mask, from the arguments of the layer's SDPA call."""
    if not layer.causal:
        raise ValueError("the DSF decomposition is of causal layers: build the attention layer with causal=True")
    (call,) = _run(layer, x, [(F, "scaled_dot_product_attention")])
    q, k, v = call.args[:3]
    scale = call.kwargs.get("scale")
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    dtype = torch.promote_types(q.dtype, torch.float32)
    logits = (q.to(dtype) @ k.to(dtype).transpose(-1, -2)) * scale
    phi = logits.masked_fill(~_causal(q.shape[2], q.device), float("-inf")).softmax(-1)
    return Mixing(layer.layer_name, phi, v.transpose(1, 2), call.out.transpose(1, 2), "head", None)


def _deltanet(layer: DeltaNet, x: Tensor) -> Mixing:
    """Φ = s tril(QKᵀ) (I + L)⁻¹ diag(β), L = strictly_lower(diag(β) KKᵀ): the WY/UT form over the whole sequence."""
    (call,) = _run(layer, x, [(_module(DeltaNet), "chunk_delta_rule")])
    a = call.arguments()
    dtype = torch.promote_types(a["q"].dtype, torch.float32)
    q, k = (a[name].to(dtype).transpose(1, 2) for name in ("q", "k"))
    beta = a["beta"].to(dtype).transpose(1, 2)  # [B, H, T]
    scale = q.shape[-1] ** -0.5 if a["scale"] is None else a["scale"]
    eye = torch.eye(q.shape[2], dtype=dtype, device=q.device)
    lower = (beta[..., None] * (k @ k.transpose(-1, -2))).tril(-1)
    pseudo = torch.linalg.solve_triangular(eye + lower, torch.diag_embed(beta), upper=False, unitriangular=True)
    phi = ((q @ k.transpose(-1, -2)) * scale).tril() @ pseudo
    return Mixing(layer.layer_name, phi, a["v"], call.out[0], "head", layer.head_dim)


_FAMILIES: dict[type, Callable[[Any, Tensor], Mixing]] = {
    LinearAttention: _linear_attention,
    Retention: _keyed,
    GLA: _keyed,
    LightNet: _keyed,
    DeltaNet: _deltanet,
    Mamba2: _mamba2,
    Mamba: _mamba,
    LSSL: _lssl,
    Aaren: _aaren,
    CausalAttention: _attention,
}


def supported_layers() -> list[str]:
    """Registered names of the layers :func:`decompose` handles."""
    return [cls.layer_name for cls in _FAMILIES]


def decompose(layer: SequenceLayer, x: Tensor) -> Mixing:
    """Run ``layer(x)`` from its empty state and return its mixing matrix Φ with the u it mixes and the y it gave.

    The op is recorded by swapping it in its module (for attention: ``torch.nn.functional``) while the
    layer runs, so do not run the same op in another thread meanwhile.

    Args:
        layer: one of :func:`supported_layers` (a subclass of one works if it calls the same op).
        x: the layer input ``[B, T, D]``, no padding.

    Shapes:
        x [B, T, D] -> ``Mixing`` with phi [B, M, T, T], u and y [B, T, M, P] or [B, T, M].
    """
    family = next((fn for cls, fn in _FAMILIES.items() if isinstance(layer, cls)), None)
    if family is None:
        name = getattr(layer, "layer_name", "") or type(layer).__name__
        raise ValueError(
            f"no DSF mixing matrix for layer {name!r} ({type(layer).__name__}): it is not linear in its input "
            f"given its gates, or not covered yet; supported layers: {', '.join(supported_layers())}"
        )
    return family(layer, x)


def mixing_matrix(layer: SequenceLayer, x: Tensor) -> Tensor:
    """Φ ``[B, M, T, T]`` of ``layer`` on input ``x`` [B, T, D] (see :func:`decompose`)."""
    return decompose(layer, x).phi


def apply_mixing(phi: Tensor, u: Tensor) -> Tensor:
    r""":math:`y_i = \sum_j \Phi_{ij} u_j` per map.

    Shapes:
        phi [B, M, T, T]; u [B, T, M, P] or [B, T, M] -> y of u's shape, in Φ's dtype.
    """
    if u.dim() not in (3, 4) or u.shape[:3] != (phi.shape[0], phi.shape[2], phi.shape[1]):
        raise ValueError(
            f"u {tuple(u.shape)} does not fit phi {tuple(phi.shape)}: expected u [B, T, M] or [B, T, M, P] "
            f"with B, T, M = {phi.shape[0]}, {phi.shape[2]}, {phi.shape[1]}"
        )
    return torch.einsum("bmij,bjm...->bim...", phi, u.to(phi.dtype))


def verify(layer: SequenceLayer, x: Tensor) -> float:
    """Largest ``|Φu − y|`` over every entry: how far the DSF matrix is from the layer's own mixing output."""
    mixing = decompose(layer, x)
    return (apply_mixing(mixing.phi, mixing.u) - mixing.y.to(mixing.phi.dtype)).abs().max().item()


def band_mass(phi: Tensor, width: int) -> Tensor:
    """Share of Σ|Φ_ij| on the band 0 ≤ i − j < ``width`` (the recent tokens), per map: [B, M, T, T] -> [B, M]."""
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    lag = torch.arange(phi.shape[-1], device=phi.device)
    lag = lag[:, None] - lag[None, :]
    mass = phi.abs()
    return (mass * (lag < width)).sum((-2, -1)) / mass.sum((-2, -1))


def mean_distance(phi: Tensor) -> Tensor:
    """Mean over rows i of Σ_j |Φ_ij| (i − j) / Σ_j |Φ_ij|, the typical look-back in tokens, per map:
    [B, M, T, T] -> [B, M] (rows that are all zero count as 0)."""
    lag = torch.arange(phi.shape[-1], device=phi.device, dtype=phi.dtype)
    lag = (lag[:, None] - lag[None, :]).clamp(min=0)
    mass = phi.abs()
    rows = (mass * lag).sum(-1) / mass.sum(-1).clamp_min(torch.finfo(phi.dtype).tiny)
    return rows.mean(-1)


def semiseparable_rank(phi: Tensor, rtol: float = 1e-10, splits: Sequence[int] | None = None) -> Tensor:
    """Largest numerical rank of the blocks ``Φ[t:, :t]`` over the split points t, per map.

    A DSF with state size n has every such block of rank ≤ n (it factors through h_{t−1}); softmax
    attention has no such bound. Singular values count when above ``rtol`` times the largest singular
    value of the whole map.

    Args:
        phi: mixing matrices ``[B, M, T, T]``.
        rtol: relative threshold (default 1e-10, for float64; use about 1e-5 in float32).
        splits: split points t in 1..T−1 (default all of them).

    Shapes:
        phi [B, M, T, T] -> [B, M] int64.
    """
    seq_len = phi.shape[-1]
    splits = list(range(1, seq_len)) if splits is None else list(splits)
    if not splits or not all(0 < t < seq_len for t in splits):
        raise ValueError(f"splits must be a non-empty list of points in 1..{seq_len - 1}, got {splits}")
    index = torch.arange(seq_len, device=phi.device)
    points = torch.tensor(splits, device=phi.device)[:, None, None]
    blocks = (index[:, None] >= points) & (index[None, :] < points)  # [S, T, T]
    atol = rtol * torch.linalg.matrix_norm(phi, ord=2)
    singular = torch.linalg.svdvals(phi[:, :, None] * blocks)  # [B, M, S, T]
    return (singular > atol[..., None, None]).sum(-1).amax(-1)


def plot_mixing(
    phi: Tensor,
    path: str | Path | None = None,
    *,
    row: int = 0,
    maps: int = 4,
    title: str | None = None,
    axes: Sequence | None = None,
):
    """Heatmaps of the first ``maps`` maps (heads or channels) of Φ for batch row ``row``.

    Colours are signed (blue < 0 < red) with limits at the 99th percentile of |Φ| below the diagonal
    of each map, so that large diagonal entries (a skip D, a dominant current token) saturate instead
    of washing out the rest.

    Args:
        phi: mixing matrices ``[B, M, T, T]``.
        path: save the figure there as PNG (default: do not save).
        row: which batch row to draw (default 0).
        maps: how many maps to draw, at most M (default 4).
        title: put before each panel's map label.
        axes: draw into these matplotlib axes (one per map) instead of a new figure.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = min(maps, phi.shape[1])
    data = phi[row, :count].detach().double().cpu()
    if axes is None:
        fig, axes = plt.subplots(1, count, figsize=(2.6 * count, 2.6), squeeze=False)
        axes = axes[0]
    elif len(axes) < count:
        raise ValueError(f"got {len(axes)} axes for {count} maps")
    fig = axes[0].figure
    below = torch.ones(data.shape[-2:], dtype=torch.bool).tril(-1)
    for index, ax in enumerate(axes[:count]):
        values = data[index][below] if data.shape[-1] > 1 else data[index].flatten()
        limit = max(torch.quantile(values.abs(), 0.99).item(), 1e-12)
        ax.imshow(data[index].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"{title} {index}" if title else f"map {index}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    return fig
