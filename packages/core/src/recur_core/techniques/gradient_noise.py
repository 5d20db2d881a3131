"""Annealed Gaussian gradient noise (Neelakantan et al. 2015) for any model trained by the engine.

Paper: Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach, Martens, "Adding Gradient Noise Improves
Learning for Very Deep Networks", 2015, https://arxiv.org/abs/1511.06807.

Before every optimizer step, each gradient gets independent zero-mean Gaussian noise whose
variance decays with the step number t:

.. math::
    g_t \\leftarrow g_t + \\mathcal N(0, \\sigma_t^2), \\qquad \\sigma_t^2 = \\frac{\\eta}{(1 + t)^{\\gamma}}

with η ∈ {0.01, 0.3, 1} and γ = 0.55 in the paper. :func:`add_gradient_noise` does this for a
plain training loop; :class:`GradientNoise` is the Lightning callback (recipes list it under
``trainer: callbacks:``), with t = ``trainer.global_step``.

.. code-block:: yaml

    trainer:
      callbacks:
        - class_path: recur_core.techniques.GradientNoise
          init_args: {eta: 0.01, gamma: 0.55, seed: 0}
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

__all__ = ["GradientNoise", "add_gradient_noise", "noise_std"]


def noise_std(step: int, eta: float, gamma: float = 0.55) -> float:
    """σ_t = sqrt(η / (1 + t)^γ), the noise standard deviation at optimizer step ``step`` (0-based)."""
    if step < 0:
        raise ValueError(f"step must be >= 0 (the number of optimizer steps taken before this one), got {step}")
    return math.sqrt(eta / (1 + step) ** gamma)


def _check(eta: float, gamma: float) -> None:
    if not eta >= 0:
        raise ValueError(f"eta (the noise variance at step 0) must be >= 0, got {eta}; the paper uses 0.01, 0.3 or 1")
    if not gamma >= 0:
        raise ValueError(f"gamma (the decay exponent) must be >= 0, got {gamma}; the paper uses 0.55")


@torch.no_grad()
def add_gradient_noise(
    params: Iterable[Tensor],
    step: int,
    eta: float,
    gamma: float = 0.55,
    generator: torch.Generator | None = None,
) -> float:
    """Add N(0, η / (1 + step)^γ) to the ``.grad`` of every parameter that has one, in place.

    Args:
        params: parameters (e.g. ``model.parameters()``); those without a gradient are skipped.
        step: optimizer steps taken before this one (t in the formula).
        eta, gamma: η and γ.
        generator: the source of the noise; on the gradients' device (default: torch's global one).

    Returns:
        σ_t, the standard deviation that was used.

    Shapes:
        each gradient keeps its parameter's shape; the noise has the same shape and dtype.
    """
    _check(eta, gamma)
    std = noise_std(step, eta, gamma)
    for p in params:
        if p.grad is not None and std > 0:
            noise = torch.randn(p.grad.shape, generator=generator, device=p.grad.device, dtype=p.grad.dtype)
            p.grad.add_(noise, alpha=std)
    return std


class GradientNoise(L.Callback):
    """Lightning callback: annealed Gaussian noise on every gradient before each optimizer step.

    Paper: Neelakantan et al. 2015, https://arxiv.org/abs/1511.06807; the rule is in
    :mod:`recur_core.techniques.gradient_noise`. t is ``trainer.global_step`` (0 at the first step).
    The noise is added in ``on_before_optimizer_step``, that is after backward and before
    Lightning's gradient clipping. Each device draws from its own generator seeded with ``seed``;
    the generators' states are saved in checkpoints, so a resumed run draws the same noise.

    Args:
        eta: η, the noise variance at step 0.
        gamma: γ, the decay exponent (0.55 in the paper).
        seed: seed of the noise generators.
        log: log ``train/grad_noise_std`` (σ_t) every step.
    """

    def __init__(self, eta: float, gamma: float = 0.55, seed: int = 0, log: bool = True) -> None:
        _check(eta, gamma)
        self.eta, self.gamma, self.seed, self.log = eta, gamma, seed, log
        self._generators: dict[str, torch.Generator] = {}
        self._restored: dict[str, Tensor] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._generators:
            generator = torch.Generator(device=device).manual_seed(self.seed)
            if key in self._restored:
                generator.set_state(self._restored.pop(key))
            self._generators[key] = generator
        return self._generators[key]

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        by_device: dict[torch.device, list[nn.Parameter]] = {}
        for p in params:
            by_device.setdefault(p.grad.device, []).append(p)
        std = noise_std(trainer.global_step, self.eta, self.gamma)
        for device, group in by_device.items():
            add_gradient_noise(group, trainer.global_step, self.eta, self.gamma, self._generator(device))
        if self.log:
            pl_module.log("train/grad_noise_std", std, on_step=True, on_epoch=False)

    def state_dict(self) -> dict[str, Any]:
        states = {key: gen.get_state() for key, gen in self._generators.items()}
        return {"generator_states": {**self._restored, **states}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._generators = {}
        self._restored = dict(state_dict["generator_states"])
