"""Gradual magnitude pruning during training, for any registered layer or model trained by the engine.

Two schedules decide which weights are zeroed and when; both keep a boolean mask per pruned
tensor and multiply the tensor by it after every optimizer step, so a pruned weight stays zero.

**Narang et al. 2017** (:class:`NarangPruning`), "Exploring Sparsity in Recurrent Neural Networks",
ICLR 2017, https://arxiv.org/abs/1704.05119. Every ``freq`` steps strictly between ``start_itr`` and
``end_itr`` a weight is pruned when its magnitude falls below a threshold ε that rises linearly
with slope θ until ``ramp_itr`` and with slope φ after it:

.. math::
    \\epsilon(t) = \\begin{cases}
        \\theta\\,(t - t_s + 1) / f & t < t_r \\\\
        \\bigl(\\theta\\,(t_r - t_s + 1) + \\phi\\,(t - t_r + 1)\\bigr) / f & t_r \\le t < t_e
    \\end{cases}, \\qquad
    \\theta = \\frac{2 q f}{2 (t_r - t_s) + 3 (t_e - t_r)}, \\quad \\phi = 1.5\\,\\theta

where q is a quantile (the 90th percentile in the paper) of the tensor's weight magnitudes; so ε
reaches about q at ``end_itr``, which prunes about 90% of a tensor whose magnitudes stay put. The
paper reads q from a trained dense model; here each tensor's q is read from its own weights at its
first pruning step (or θ is given).

**Zhu & Gupta 2017** (:class:`CubicPruning`), "To prune, or not to prune", https://arxiv.org/abs/1710.01878.
Every Δt steps from t₀ to t₀ + nΔt each tensor is pruned to the target sparsity

.. math::
    s_t = s_f + (s_i - s_f) \\Bigl(1 - \\frac{t - t_0}{n \\Delta t}\\Bigr)^3

by zeroing its smallest-magnitude weights (pruned weights are zero, hence pruned first: the
masks only shrink).

Which tensors: by default every parameter with at least two dimensions inside a registered
sequence layer (:class:`~recur_core.layers.base.SequenceLayer`), e.g. an LSTM's ``weight_ih_l0``
and ``weight_hh_l0``; ``patterns`` (regular expressions searched in the parameter's full name),
``module_types`` and ``min_ndim`` change that. The masks are buffers ``<param>_mask`` of the module
that owns the parameter, so they are saved in every checkpoint and restored on resume (the
callback registers them in ``setup``, before Lightning loads a checkpoint). Loading a pruned
checkpoint outside training needs the same buffers: call :func:`attach_masks` first.
t is ``trainer.global_step`` after the optimizer step (1 after the first step).

.. code-block:: yaml

    trainer:
      callbacks:
        - class_path: recur_core.techniques.CubicPruning
          init_args: {final_sparsity: 0.9, start_step: 200, num_updates: 20, every: 50}
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer

__all__ = [
    "CubicPruning",
    "NarangPruning",
    "attach_masks",
    "cubic_sparsity",
    "format_sparsity_report",
    "magnitude_mask",
    "narang_slopes",
    "narang_threshold",
    "prunable_parameters",
    "sparsity_report",
]

MASK_SUFFIX = "_mask"


def narang_slopes(q: float, start_itr: int, ramp_itr: int, end_itr: int, freq: int) -> tuple[float, float]:
    """θ = 2qf / (2(t_r − t_s) + 3(t_e − t_r)) and φ = 1.5θ, Narang et al.'s heuristic slopes."""
    _check_narang(start_itr, ramp_itr, end_itr, freq)
    theta = 2 * q * freq / (2 * (ramp_itr - start_itr) + 3 * (end_itr - ramp_itr))
    return theta, 1.5 * theta


def narang_threshold(
    itr: int, start_itr: int, ramp_itr: int, end_itr: int, freq: int, theta: float, phi: float
) -> float | None:
    """The threshold ε at step ``itr``, or ``None`` when the masks are not updated at that step.

    Masks are updated when ``start_itr < itr < end_itr`` and ``itr`` is a multiple of ``freq``.
    """
    if not (start_itr < itr < end_itr) or itr % freq:
        return None
    if itr < ramp_itr:
        return theta * (itr - start_itr + 1) / freq
    return (theta * (ramp_itr - start_itr + 1) + phi * (itr - ramp_itr + 1)) / freq


def cubic_sparsity(
    step: int, final_sparsity: float, initial_sparsity: float, start_step: int, num_updates: int, every: int
) -> float | None:
    """Zhu & Gupta's s_t at ``step``, or ``None`` when the masks are not updated at that step.

    Updates happen at t₀, t₀ + Δt, ..., t₀ + nΔt (``start_step``, ``every``, ``num_updates``).
    """
    offset = step - start_step
    if offset < 0 or offset % every or offset > num_updates * every:
        return None
    return final_sparsity + (initial_sparsity - final_sparsity) * (1 - offset / (num_updates * every)) ** 3


def magnitude_mask(weight: Tensor, sparsity: float) -> Tensor:
    """Bool mask of ``weight``'s shape that is False at its ``round(sparsity · numel)`` smallest magnitudes.

    Ties are broken by position, so the count is exact.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    pruned = round(sparsity * weight.numel())
    keep = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    keep[weight.detach().abs().flatten().argsort(stable=True)[:pruned]] = False
    return keep.view(weight.shape)


def _quantile(values: Tensor, q: float) -> float:
    """The q-quantile of a tensor's entries by order statistic (torch.quantile caps its input size)."""
    flat = values.detach().flatten().float()
    return float(flat.kthvalue(max(1, math.ceil(q * flat.numel()))).values)


def prunable_parameters(
    module: nn.Module,
    patterns: Sequence[str] | None = None,
    module_types: Sequence[type[nn.Module]] | None = (SequenceLayer,),
    min_ndim: int = 2,
) -> dict[str, nn.Parameter]:
    """The parameters a pruning callback prunes: full name -> parameter.

    A parameter is chosen when it has at least ``min_ndim`` dimensions, lies inside a module of one
    of ``module_types`` (``None``: anywhere) and its full name matches one of ``patterns`` (regular
    expressions, ``re.search``; ``None``: any name).
    """
    inside: set[str] = set()
    if module_types is not None:
        types = tuple(module_types)
        for prefix, sub in module.named_modules():
            if isinstance(sub, types):
                inside.update(f"{prefix}.{n}" if prefix else n for n, _ in sub.named_parameters())
    compiled = [re.compile(p) for p in patterns] if patterns is not None else None
    chosen = {}
    for name, param in module.named_parameters():
        if param.ndim < min_ndim or (module_types is not None and name not in inside):
            continue
        if compiled is None or any(p.search(name) for p in compiled):
            chosen[name] = param
    return chosen


def _owner(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    prefix, _, leaf = name.rpartition(".")
    return (module.get_submodule(prefix) if prefix else module), leaf


def attach_masks(module: nn.Module, names: Sequence[str]) -> dict[str, tuple[nn.Parameter, Tensor]]:
    """Register (or find) an all-True bool buffer ``<param>_mask`` next to each named parameter.

    Returns full parameter name -> (parameter, mask). Existing buffers are kept, so calling it on a
    model that already has masks (or before loading a pruned checkpoint) is safe.
    """
    masks = {}
    for name in names:
        owner, leaf = _owner(module, name)
        param = getattr(owner, leaf)
        if not isinstance(param, nn.Parameter):
            raise ValueError(f"{name!r} is not a parameter of the module; pass names from named_parameters()")
        buffer = leaf + MASK_SUFFIX
        if getattr(owner, buffer, None) is None:
            owner.register_buffer(buffer, torch.ones_like(param, dtype=torch.bool))
        masks[name] = (param, getattr(owner, buffer))
    return masks


def sparsity_report(module: nn.Module, min_ndim: int = 1) -> list[dict[str, Any]]:
    """One row per parameter with at least ``min_ndim`` dimensions: name, shape, nonzeros, sparsity."""
    rows = []
    for name, param in module.named_parameters():
        if param.ndim >= min_ndim:
            nonzeros = int(torch.count_nonzero(param.detach()))
            rows.append(
                {
                    "name": name,
                    "shape": tuple(param.shape),
                    "nonzeros": nonzeros,
                    "sparsity": 1.0 - nonzeros / max(1, param.numel()),
                }
            )
    return rows


def format_sparsity_report(rows: list[dict[str, Any]]) -> str:
    """:func:`sparsity_report` rows as a plain-text table with a total line."""
    width = max([len(r["name"]) for r in rows] + [5])
    lines = [f"{'name':<{width}}  {'shape':<16} {'nonzeros':>10} {'sparsity':>9}"]
    for r in rows:
        shape = "x".join(map(str, r["shape"]))
        lines.append(f"{r['name']:<{width}}  {shape:<16} {r['nonzeros']:>10} {r['sparsity']:>9.1%}")
    total = sum(math.prod(r["shape"]) for r in rows)
    nonzeros = sum(r["nonzeros"] for r in rows)
    lines.append(f"{'total':<{width}}  {total:<16} {nonzeros:>10} {1 - nonzeros / max(1, total):>9.1%}")
    return "\n".join(lines)


def _check_narang(start_itr: int, ramp_itr: int, end_itr: int, freq: int) -> None:
    if not (0 <= start_itr < ramp_itr < end_itr):
        raise ValueError(
            f"need 0 <= start_itr < ramp_itr < end_itr, got {start_itr}, {ramp_itr}, {end_itr}; "
            "the threshold ramps with slope theta from start_itr to ramp_itr, then with phi until end_itr"
        )
    if freq < 1:
        raise ValueError(f"freq (steps between mask updates) must be >= 1, got {freq}")


class _GradualPruning(L.Callback, abc.ABC):
    """Shared plumbing: masks as buffers, applied after every optimizer step, report at the end."""

    def __init__(
        self,
        patterns: Sequence[str] | None,
        module_types: Sequence[type[nn.Module]] | None,
        min_ndim: int,
        report: bool,
    ) -> None:
        self.patterns = list(patterns) if patterns is not None else None
        self.module_types = tuple(module_types) if module_types is not None else None
        self.min_ndim = min_ndim
        self.report = report
        self.masks: dict[str, tuple[nn.Parameter, Tensor]] = {}
        self._last_step = -1

    @abc.abstractmethod
    def _update(self, name: str, param: nn.Parameter, mask: Tensor, step: int) -> Tensor | None:
        """The new mask of ``param`` at ``step``, or None when it does not change at this step."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        chosen = prunable_parameters(pl_module, self.patterns, self.module_types, self.min_ndim)
        if not chosen:
            raise ValueError(
                f"{type(self).__name__}: no parameter to prune (patterns={self.patterns}, "
                f"module_types={self.module_types}, min_ndim={self.min_ndim}); widen the selection"
            )
        self.masks = attach_masks(pl_module, list(chosen))

    @torch.no_grad()
    def apply_masks(self) -> None:
        """Zero every pruned weight: w ← w ⊙ mask."""
        for param, mask in self.masks.values():
            param.mul_(mask)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_step = trainer.global_step
        self.apply_masks()

    @torch.no_grad()
    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step == self._last_step:  # no optimizer step in this batch (gradient accumulation)
            return
        self._last_step = step
        changed = False
        for name, (param, mask) in self.masks.items():
            new = self._update(name, param, mask, step)
            if new is not None:
                mask.copy_(mask & new)
                changed = True
        self.apply_masks()
        if changed:
            kept = sum(int(mask.sum()) for _, mask in self.masks.values())
            total = sum(mask.numel() for _, mask in self.masks.values())
            pl_module.log("train/sparsity", 1.0 - kept / total, on_step=True, on_epoch=False)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.report and trainer.is_global_zero:
            pruned = [r for r in sparsity_report(pl_module) if r["name"] in self.masks]
            print(format_sparsity_report(pruned), flush=True)


class NarangPruning(_GradualPruning):
    """Lightning callback: Narang et al. 2017's gradual pruning with a rising magnitude threshold.

    Paper: https://arxiv.org/abs/1704.05119; the threshold rule is in :mod:`recur_core.techniques.pruning`.

    Args:
        start_itr, ramp_itr, end_itr: steps where the threshold starts rising, switches to slope φ,
            and stops (masks are updated strictly between ``start_itr`` and ``end_itr``).
        freq: steps between mask updates.
        quantile: q is this quantile of each tensor's magnitudes at its first update (0.9 in the paper).
        theta: a fixed θ for every tensor instead of the quantile heuristic.
        phi_ratio: φ = phi_ratio · θ (1.5 in the paper).
        patterns, module_types, min_ndim: which parameters, see :func:`prunable_parameters`.
        report: print :func:`sparsity_report` of the pruned tensors when training ends.
    """

    def __init__(
        self,
        start_itr: int,
        ramp_itr: int,
        end_itr: int,
        freq: int = 100,
        quantile: float = 0.9,
        theta: float | None = None,
        phi_ratio: float = 1.5,
        patterns: Sequence[str] | None = None,
        module_types: Sequence[type[nn.Module]] | None = (SequenceLayer,),
        min_ndim: int = 2,
        report: bool = True,
    ) -> None:
        _check_narang(start_itr, ramp_itr, end_itr, freq)
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}; the paper uses 0.9")
        super().__init__(patterns, module_types, min_ndim, report)
        self.start_itr, self.ramp_itr, self.end_itr, self.freq = start_itr, ramp_itr, end_itr, freq
        self.quantile, self.theta, self.phi_ratio = quantile, theta, phi_ratio
        self.slopes: dict[str, tuple[float, float]] = {}

    def _update(self, name: str, param: nn.Parameter, mask: Tensor, step: int) -> Tensor | None:
        if narang_threshold(step, self.start_itr, self.ramp_itr, self.end_itr, self.freq, 1.0, 1.0) is None:
            return None
        if name not in self.slopes:
            if self.theta is None:
                q = _quantile(param.abs(), self.quantile)
                theta, _ = narang_slopes(q, self.start_itr, self.ramp_itr, self.end_itr, self.freq)
            else:
                theta = self.theta
            self.slopes[name] = (theta, self.phi_ratio * theta)
        theta, phi = self.slopes[name]
        eps = narang_threshold(step, self.start_itr, self.ramp_itr, self.end_itr, self.freq, theta, phi)
        return param.abs() >= eps

    def state_dict(self) -> dict[str, Any]:
        return {"slopes": dict(self.slopes)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.slopes = dict(state_dict["slopes"])


class CubicPruning(_GradualPruning):
    """Lightning callback: Zhu & Gupta 2017's gradual pruning to a cubic sparsity schedule.

    Paper: https://arxiv.org/abs/1710.01878; the schedule is in :mod:`recur_core.techniques.pruning`.

    Args:
        final_sparsity: s_f, the sparsity of every pruned tensor after the last update.
        start_step: t₀, the step of the first update.
        num_updates: n; the last update is at t₀ + nΔt.
        every: Δt, steps between updates.
        initial_sparsity: s_i (0 by default).
        patterns, module_types, min_ndim: which parameters, see :func:`prunable_parameters`.
        report: print :func:`sparsity_report` of the pruned tensors when training ends.
    """

    def __init__(
        self,
        final_sparsity: float,
        start_step: int = 0,
        num_updates: int = 10,
        every: int = 100,
        initial_sparsity: float = 0.0,
        patterns: Sequence[str] | None = None,
        module_types: Sequence[type[nn.Module]] | None = (SequenceLayer,),
        min_ndim: int = 2,
        report: bool = True,
    ) -> None:
        if not 0.0 <= initial_sparsity <= final_sparsity < 1.0:
            raise ValueError(
                f"need 0 <= initial_sparsity <= final_sparsity < 1, got {initial_sparsity}, {final_sparsity}"
            )
        if start_step < 0 or num_updates < 1 or every < 1:
            raise ValueError(
                f"need start_step >= 0, num_updates >= 1 and every >= 1, got {start_step}, {num_updates}, {every}"
            )
        super().__init__(patterns, module_types, min_ndim, report)
        self.final_sparsity, self.initial_sparsity = final_sparsity, initial_sparsity
        self.start_step, self.num_updates, self.every = start_step, num_updates, every

    def _update(self, name: str, param: nn.Parameter, mask: Tensor, step: int) -> Tensor | None:
        target = cubic_sparsity(
            step, self.final_sparsity, self.initial_sparsity, self.start_step, self.num_updates, self.every
        )
        return None if target is None else magnitude_mask(param * mask, target)
