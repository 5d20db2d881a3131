r"""TODM: an RNN-T supernet whose encoder depth and width slice into subnets, and AlphaNet's α-divergence.

Shangguan, Li, Nagaraja, Wang, Wu, Chandra, et al., "TODM: Train Once Deploy Many. Efficient Supernet-Based RNN-T
Compression for On-Device ASR Models", 2023, https://arxiv.org/abs/2309.01947 (no public code). The weight
slicing is that of slimmable networks (Yu et al., "Slimmable Neural Networks", ICLR 2019) and AlphaNet
(Wang et al., "AlphaNet: Improved Training of Supernets with Alpha-Divergence", ICML 2021,
``facebookresearch/AlphaNet``), whose ``loss_ops.py`` (``f_divergence``, ``AdaptiveLossSoft``) the distillation
loss follows.

The supernet. :class:`TODMSupernet` is an :class:`~recur_speech.models.rnnt.RNNT` (its largest subnet, with
the same state dict) that also runs any :class:`SubnetConfig` ``(depth, width)`` of its search space:

- depth: the first ``depth`` encoder blocks;
- width: the first ``width`` channels of the encoder's residual stream (the input projection's rows, every
  LayerNorm, the joiner's encoder projection's columns), the first ``int(width · mlp_ratio)`` units of each
  feed-forward, and, inside each core layer, the slice its own structure asks for (below);
- the predictor and the rest of the joiner are shared whole by every subnet.

A subnet is a plain :class:`RNNT` of ``d_model = width, n_layers = depth`` (its *template*, built once per
subnet, never trained) run by ``torch.func.functional_call`` on weights sliced from the supernet: gradients
flow into the supernet's parameters, and :meth:`TODMSupernet.export` copies the same slices into a
standalone :class:`RNNT` with its own parameter count. Slicing a weight: each axis is a list of segments
``(groups, full, kept)`` (the segment is viewed as ``[groups, full]`` and ``[:, :kept]`` is taken), so a stacked
projection keeps the leading part of every gate or head. Per core layer (``layer_name``):

- ``lstm`` / ``gru`` / ``elman``: the 4 / 3 / 1 stacked gates of ``weight_ih``, ``weight_hh`` and the biases;
- ``mamba2`` (TODM's MH-SSM stand-in): the heads stay, each head keeps its first ``expand · width / H`` channels
  in ``z``, ``x``, the convolution, the gated RMSNorm and ``out_proj``; B, C (``d_state``), Δ, A and D are whole;
- ``attention``: the heads stay, each keeps its first ``width / H`` channels of q, k, v and the output;
- ``gla``: the heads stay, each keeps its first key and value channels; the low-rank gate's rank is whole.

Any other layer slices in depth only; a width below the supernet's is refused in one line.

Adaptive dropout. A subnet's dropout grows linearly with its parameter count from ``min_dropout`` (the
smallest subnet) to the supernet's ``dropout`` (the largest): larger subnets overfit more. TODM names adaptive
dropout tied to the subnet size but its schedule is unverified (no public code); this linear one is recur's.

α-divergence (AlphaNet). For a teacher distribution ``p`` (the detached largest subnet) and a student ``q``:

.. math::
    D_\alpha(p \,\|\, q) = \sum_k q_k\, \frac{\min(r_k^\alpha, c) - 1}{\alpha(\alpha - 1)}, \quad r_k = p_k / q_k,
    \qquad D_1(p \,\|\, q) = \sum_k p_k \log r_k \;(\text{unclipped, the KL branch})

with the importance weight clipped at ``c`` (5). The gradient is AlphaNet's: that of
:math:`-\sum_k \bar q_k \rho_k \log q_k` with :math:`\rho_k = \min(r_k^\alpha, c)/\alpha + 1/(\alpha(\alpha-1))`
(α = 1: :math:`\rho = r`) and :math:`\bar q, \rho` held constant, which is the exact gradient of :math:`D_\alpha`
where no weight is clipped (tested). Per sample, the larger of :math:`D_{-1}` and :math:`D_{+1}` is kept
(``AdaptiveLossSoft``). For the RNN-T the distributions are the joiner's softmax over the vocabulary at every
valid lattice cell (t, u) of an utterance, and an utterance's divergence is the mean over its cells (TODM does
not say what it distils: this choice is recur's).

Shapes:
    subnet(config)(features [B, T, input_dim], lengths [B], targets [B, U], target_lengths [B])
    -> logits [B, T // time_reduction, U + 1, vocab_size], encoder lengths [B];
    alpha_divergence(student [..., V], teacher [..., V]) -> [...];
    adaptive_alpha_divergence(student [B, T, U + 1, V], teacher [B, T, U + 1, V], logit_lengths [B],
    target_lengths [B]) -> [B].
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from recur_core.registry import register_model
from recur_speech.models.rnnt import RNNT, RNNTConfig

__all__ = [
    "SLICEABLE_LAYERS",
    "Subnet",
    "SubnetConfig",
    "TODMSupernet",
    "adaptive_alpha_divergence",
    "alpha_divergence",
    "slice_weight",
    "subnet_summary",
    "todm",
]

Segment = tuple[int, int, int]  # (groups, full size per group, kept size per group)
Axis = tuple[Segment, ...]


@dataclass(frozen=True, order=True)
class SubnetConfig:
    """A subnet of a :class:`TODMSupernet`: its first ``depth`` encoder blocks at the first ``width`` channels."""

    depth: int
    width: int

    def __str__(self) -> str:
        return f"depth {self.depth} width {self.width}"


# ----- weight slicing ---------------------------------------------------------------------------------------


def slice_weight(weight: Tensor, axes: Iterable[Axis]) -> Tensor:
    """Slice ``weight`` axis by axis: an axis of segments ``(groups, full, kept)`` keeps ``[:, :kept]`` of each.

    An empty axis ``()`` and the axes past the given ones are kept whole.

    Shapes: [n_0, n_1, ...] with n_i = Σ groups · full -> [m_0, m_1, ...] with m_i = Σ groups · kept.
    """
    for dim, axis in enumerate(axes):
        if not axis:
            continue
        total = sum(groups * full for groups, full, _ in axis)
        if total != weight.shape[dim]:
            raise ValueError(f"a slicing rule covers {total} entries of axis {dim}, the weight has {weight.shape[dim]}")
        parts, start = [], 0
        for groups, full, kept in axis:
            part = weight.narrow(dim, start, groups * full).unflatten(dim, (groups, full))
            parts.append(part.narrow(dim + 1, 0, kept).flatten(dim, dim + 1))
            start += groups * full
        weight = parts[0] if len(parts) == 1 else torch.cat(parts, dim)
    return weight


def _lead(full: int, kept: int) -> Axis:
    return ((1, full, kept),)


def _rnn_rule(gates: int) -> Callable[[nn.Module, nn.Module], dict[str, tuple[Axis, ...]]]:
    def rule(big: nn.Module, small: nn.Module) -> dict[str, tuple[Axis, ...]]:
        stacked = ((gates, big.d_model, small.d_model),)
        model = _lead(big.d_model, small.d_model)
        return {
            "rnn.weight_ih_l0": (stacked, model),
            "rnn.weight_hh_l0": (stacked, model),
            "rnn.bias_ih_l0": (stacked,),
            "rnn.bias_hh_l0": (stacked,),
        }

    return rule


def _mamba2_rule(big: nn.Module, small: nn.Module) -> dict[str, tuple[Axis, ...]]:
    model = _lead(big.d_model, small.d_model)
    inner = ((big.num_heads, big.headdim, small.headdim),)
    bc = _lead(2 * big.d_state, 2 * small.d_state)
    heads = _lead(big.num_heads, small.num_heads)
    projected = inner + inner + bc + heads  # z, x, B and C, δ
    return {
        "in_proj.weight": (projected, model),
        "in_proj.bias": (projected,),
        "conv.weight": (inner + bc,),
        "conv.bias": (inner + bc,),
        "dt_bias": (heads,),
        "A_log": (heads,),
        "D": (heads,),
        "norm.weight": (inner,),
        "out_proj.weight": (model, inner),
        "out_proj.bias": (model,),
    }


def _attention_rule(big: nn.Module, small: nn.Module) -> dict[str, tuple[Axis, ...]]:
    model = _lead(big.d_model, small.d_model)
    heads = ((big.num_heads, big.head_dim, small.head_dim),)
    qkv = ((3 * big.num_heads, big.head_dim, small.head_dim),)
    return {"qkv.weight": (qkv, model), "qkv.bias": (qkv,), "out.weight": (model, heads), "out.bias": (model,)}


def _gla_rule(big: nn.Module, small: nn.Module) -> dict[str, tuple[Axis, ...]]:
    model = _lead(big.d_model, small.d_model)
    keys = ((big.num_heads, big.key_dim, small.key_dim),)
    values = ((big.num_heads, big.value_dim, small.value_dim),)
    qk = ((2 * big.num_heads, big.key_dim, small.key_dim),)
    return {
        "qk.weight": (qk, model),
        "v.weight": (values, model),
        "gate_down.weight": ((), model),
        "gate_up.weight": (keys,),
        "gate_up.bias": (keys,),
        "output_gate.weight": (values, model),
        "norm.weight": (_lead(big.value_dim, small.value_dim),),
        "out.weight": (model, values),
    }


# core layer name -> (supernet layer, subnet layer) -> parameter name -> the slicing of its axes
SLICEABLE_LAYERS: dict[str, Callable[[nn.Module, nn.Module], dict[str, tuple[Axis, ...]]]] = {
    "lstm": _rnn_rule(4),
    "gru": _rnn_rule(3),
    "elman": _rnn_rule(1),
    "mamba2": _mamba2_rule,
    "attention": _attention_rule,
    "gla": _gla_rule,
}


# ----- the supernet -----------------------------------------------------------------------------------------


class Subnet:
    """One subnet of a :class:`TODMSupernet`, called like :class:`RNNT` on weights sliced from the supernet.

    Calling it runs the template's ``forward`` through ``torch.func.functional_call`` (in the supernet's
    train/eval mode), so its loss trains the supernet's shared weights. ``num_parameters`` counts the
    subnet's own weights; ``dropout`` is its adaptive dropout.
    """

    def __init__(self, supernet: TODMSupernet, config: SubnetConfig, template: RNNT) -> None:
        self.supernet = supernet
        self.config = config
        self.template = template

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.template.parameters())

    @property
    def dropout(self) -> float:
        return self.template.config.dropout

    def weights(self) -> dict[str, Tensor]:
        """The subnet's parameters, sliced from the supernet's (views: differentiable)."""
        return self.supernet.sliced_weights(self.config)

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
        self.template.train(self.supernet.training)
        buffers = dict(self.template.named_buffers())
        return functional_call(self.template, {**self.weights(), **buffers}, args, kwargs, strict=True)


class TODMSupernet(RNNT):
    """The TODM supernet: an :class:`RNNT` (the largest subnet) whose encoder slices in depth and width.

    Args:
        config: the supernet's :class:`~recur_speech.models.rnnt.RNNTConfig` (its largest subnet).
        depths: the encoder depths of the search space (default: ``n_layers`` only).
        widths: the encoder widths of the search space (default: ``d_model`` only).
        min_dropout: the smallest subnet's dropout; the largest gets ``dropout`` (module docstring).
        **overrides: fields of the config.

    Shapes: as :class:`RNNT`; subnets as in the module docstring.
    """

    def __init__(
        self,
        config: RNNTConfig | None = None,
        depths: Iterable[int] | None = None,
        widths: Iterable[int] | None = None,
        min_dropout: float = 0.0,
        **overrides: Any,
    ) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.depths = sorted(set(depths or [cfg.n_layers]))
        self.widths = sorted(set(widths or [cfg.d_model]))
        if self.depths[0] < 1 or self.depths[-1] != cfg.n_layers:
            raise ValueError(
                f"depths must lie in 1..n_layers = {cfg.n_layers} and include it (the largest subnet), "
                f"got {self.depths}"
            )
        if self.widths[0] < 1 or self.widths[-1] != cfg.d_model:
            raise ValueError(
                f"widths must lie in 1..d_model = {cfg.d_model} and include it (the largest subnet), got {self.widths}"
            )
        if not 0 <= min_dropout <= cfg.dropout:
            raise ValueError(f"min_dropout must lie in [0, dropout = {cfg.dropout}], got {min_dropout}")
        self.min_dropout = min_dropout
        for subnet in self.subnets():
            self.check(subnet)
        # subnet templates: not submodules (their weights are never used, only their structure)
        self._templates: dict[SubnetConfig, RNNT] = {}
        sizes = [self._count(SubnetConfig(self.depths[0], self.widths[0])), self._count(self.largest)]
        self._size_range = (sizes[0], sizes[1])

    # ----- the search space -------------------------------------------------------------------------------

    @property
    def largest(self) -> SubnetConfig:
        return SubnetConfig(self.depths[-1], self.widths[-1])

    @property
    def smallest(self) -> SubnetConfig:
        return SubnetConfig(self.depths[0], self.widths[0])

    def subnets(self) -> list[SubnetConfig]:
        """Every subnet of the search space, smallest first."""
        return [SubnetConfig(d, w) for d in self.depths for w in self.widths]

    def sample(self, generator: torch.Generator) -> SubnetConfig:
        """A subnet drawn uniformly (depth and width independently) with ``generator``."""
        depth = self.depths[int(torch.randint(len(self.depths), (), generator=generator))]
        width = self.widths[int(torch.randint(len(self.widths), (), generator=generator))]
        return SubnetConfig(depth, width)

    def check(self, config: SubnetConfig) -> SubnetConfig:
        """``config`` as a :class:`SubnetConfig` that fits in the supernet, or a one-line ``ValueError``."""
        if not isinstance(config, SubnetConfig):
            config = SubnetConfig(*config)
        cfg = self.config
        if not (1 <= config.depth <= cfg.n_layers and 1 <= config.width <= cfg.d_model):
            raise ValueError(
                f"subnet ({config}) does not fit in the supernet (depth 1..{cfg.n_layers}, width 1..{cfg.d_model})"
            )
        if config.width < cfg.d_model and cfg.layer not in SLICEABLE_LAYERS:
            raise ValueError(
                f"the encoder layer {cfg.layer!r} cannot slice in width (sliceable: "
                f"{', '.join(sorted(SLICEABLE_LAYERS))}); use width {cfg.d_model} (depth-only subnets) "
                "or one of those layers"
            )
        return config

    # ----- subnets ----------------------------------------------------------------------------------------

    def subnet_dropout(self, num_parameters: int) -> float:
        """Adaptive dropout: linear in the parameter count, ``min_dropout`` (smallest) to ``dropout`` (largest)."""
        low, high = self._size_range
        share = 1.0 if high == low else (num_parameters - low) / (high - low)
        return self.min_dropout + (self.config.dropout - self.min_dropout) * share

    def _count(self, config: SubnetConfig) -> int:
        return sum(p.numel() for p in self._build(config, self.config.dropout).parameters())

    def _build(self, config: SubnetConfig, dropout: float) -> RNNT:
        # a template's initial weights are never used: build it without touching the global random stream
        with torch.random.fork_rng(devices=[]):
            try:
                return RNNT(self.config, d_model=config.width, n_layers=config.depth, dropout=dropout)
            except ValueError as error:
                raise ValueError(f"subnet ({config}): {error}") from None

    def _template(self, config: SubnetConfig) -> RNNT:
        config = self.check(config)
        if config not in self._templates:
            self._templates[config] = self._build(config, self.subnet_dropout(self._count(config)))
        template = self._templates[config]
        weight = self.joiner.out.weight
        if next(template.parameters()).device != weight.device:
            template.to(weight.device)
        return template

    def subnet(self, config: SubnetConfig | tuple[int, int]) -> Subnet:
        """The subnet ``config`` (a :class:`Subnet`: call it as the model's ``forward``)."""
        config = self.check(config)
        return Subnet(self, config, self._template(config))

    def sliced_weights(self, config: SubnetConfig) -> dict[str, Tensor]:
        """The parameters of subnet ``config`` by name, sliced from the supernet's (differentiable views)."""
        template = self._template(config)
        own = dict(self.named_parameters())
        rules: dict[str, tuple[Axis, ...]] = {}
        rule = SLICEABLE_LAYERS.get(self.config.layer)
        if config.width < self.config.d_model:
            for i, block in enumerate(template.encoder.blocks):
                for name, axes in rule(self.encoder.blocks[i].mixer, block.mixer).items():
                    rules[f"encoder.blocks.{i}.mixer.{name}"] = axes
        weights = {}
        for name, small in template.named_parameters():
            big = own[name]
            if name in rules:
                axes = rules[name]
            elif ".mixer." in name and config.width < self.config.d_model:
                raise ValueError(f"no slicing rule for {name} of layer {self.config.layer!r}")
            else:
                # outside the core layer every axis is a plain width: keep its leading entries
                axes = [_lead(n, m) for n, m in zip(big.shape, small.shape)]
            weights[name] = sliced = slice_weight(big, axes)
            if sliced.shape != small.shape:
                raise ValueError(f"slicing {name} gave {tuple(sliced.shape)}, the subnet needs {tuple(small.shape)}")
        return weights

    def parameter_count(self, config: SubnetConfig | tuple[int, int]) -> int:
        """The number of parameters of subnet ``config`` (that of its exported model)."""
        return self.subnet(config).num_parameters

    @torch.no_grad()
    def export(self, config: SubnetConfig | tuple[int, int]) -> RNNT:
        """Subnet ``config`` as a standalone :class:`RNNT` holding copies of its sliced weights (eval mode)."""
        subnet = self.subnet(config)
        weight = self.joiner.out.weight
        model = copy.deepcopy(subnet.template).to(device=weight.device, dtype=weight.dtype)
        model.load_state_dict({k: v.detach().clone() for k, v in subnet.weights().items()})
        return model.eval()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, depths={self.depths}, widths={self.widths}, min_dropout={self.min_dropout}"


@register_model("todm")
def todm(**kwargs: Any) -> TODMSupernet:
    """:class:`TODMSupernet` (``depths``, ``widths``, ``min_dropout`` and any :class:`RNNTConfig` field)."""
    return TODMSupernet(**kwargs)


# ----- α-divergence distillation ----------------------------------------------------------------------------


def alpha_divergence(student: Tensor, teacher: Tensor, alpha: float, iw_clip: float = 5.0) -> Tensor:
    """AlphaNet's clipped α-divergence ``D_α(p || q)`` over the last axis, with AlphaNet's gradient.

    ``p = softmax(teacher)`` (detached), ``q = softmax(student)``; the value is ``D_α`` of the module docstring
    (the importance weight ``(p/q)^α`` clipped at ``iw_clip``; α = 1 is the unclipped KL(p || q)); the
    gradient w.r.t. ``student`` is that of AlphaNet's surrogate ``-Σ q̄ ρ log q``.

    Shapes: student [..., V], teacher [..., V] -> [...].
    """
    if alpha == 0:
        raise ValueError("alpha = 0 (KL(q || p)) is not AlphaNet's adaptive pair; use alpha = -1 and +1")
    log_q = student.log_softmax(-1)
    q = log_q.exp().detach()
    log_ratio = teacher.detach().log_softmax(-1) - log_q.detach()
    if abs(alpha - 1.0) < 1e-3:
        ratio = log_ratio.exp()
        f, f_base, rho = ratio * log_ratio, 0.0, ratio
    else:
        weight = (alpha * log_ratio).exp().clamp(max=iw_clip)
        f_base = 1.0 / (alpha * (alpha - 1.0))
        f, rho = weight * f_base, weight / alpha + f_base
    value = (q * (f - f_base)).sum(-1)
    surrogate = -(q * rho * log_q).sum(-1)
    return value + (surrogate - surrogate.detach())


def adaptive_alpha_divergence(
    student: Tensor,
    teacher: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    alpha_min: float = -1.0,
    alpha_max: float = 1.0,
    iw_clip: float = 5.0,
) -> Tensor:
    """Per utterance, the larger of ``D_{alpha_min}`` and ``D_{alpha_max}`` averaged over its valid lattice cells.

    AlphaNet's ``AdaptiveLossSoft`` applied to the RNN-T joiner: every cell (t, u) with ``t < logit_lengths`` and
    ``u <= target_lengths`` is one distribution over the vocabulary.

    Shapes: student, teacher [B, T, U + 1, V]; logit_lengths, target_lengths [B] -> [B].
    """
    if student.shape != teacher.shape or student.dim() != 4:
        raise ValueError(
            f"student and teacher must be joiner logits of one shape [B, T, U + 1, V], got "
            f"{tuple(student.shape)} and {tuple(teacher.shape)}"
        )
    frames, labels = student.shape[1:3]
    device = student.device
    valid = (torch.arange(frames, device=device)[None, :, None] < logit_lengths[:, None, None]) & (
        torch.arange(labels, device=device)[None, None, :] <= target_lengths[:, None, None]
    )
    cells = valid.sum((1, 2)).clamp(min=1).to(student.dtype)
    low, high = (
        (alpha_divergence(student, teacher, alpha, iw_clip) * valid).sum((1, 2)) / cells
        for alpha in (alpha_min, alpha_max)
    )
    return torch.where(low.detach() > high.detach(), low, high)


def subnet_summary(supernet: TODMSupernet) -> list[dict[str, Any]]:
    """Each subnet of the search space with its parameter count and adaptive dropout, smallest first."""
    rows = []
    for config in supernet.subnets():
        subnet = supernet.subnet(config)
        rows.append({**asdict(config), "parameters": subnet.num_parameters, "dropout": subnet.dropout})
    return rows
