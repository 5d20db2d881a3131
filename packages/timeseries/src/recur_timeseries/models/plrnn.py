r"""A shallow PLRNN that reconstructs a dynamical system from its measured trajectory.

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic Dynamics",
ICML 2023, https://arxiv.org/abs/2306.04406; official code ``DurstewitzLab/GTF-shPLRNN``
(``src/models/shallow_plrnn.jl``).

The model is an autonomous latent map (the core ``plrnn`` layer, :class:`recur_core.layers.plrnn.PLRNN`)

.. math::
    z_t = A \odot z_{t-1} + W_1 \big[\mathrm{ReLU}(W_2 z_{t-1} + h_2) - \mathrm{ReLU}(W_2 z_{t-1})\big] + h_1,
    \qquad x_t = z_{t, 1..N},

with M latents, H hidden units and the identity observation of the first N latents, as in the
official code (the clipped variant, the paper's). It has no external input: the layer's input map
``C`` is zeroed and frozen. Training runs the map under generalized teacher forcing
(:func:`recur_core.techniques.teacher_forcing.gtf_rollout`: before each step the observed latents
are pulled to the data, :math:`\tilde z = (1 - \alpha) z + \alpha x`); the model is judged by its
free run (:meth:`PLRNNReconstructor.generate`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recur_core.registry import build_layer, get_layer_class, register_model
from recur_core.techniques.teacher_forcing import free_run, gtf_rollout

__all__ = ["PLRNNReconstructor"]

_NEEDS = ("forward_forced", "observe", "latent_step", "jacobian")


@register_model("plrnn_reconstructor")
class PLRNNReconstructor(nn.Module):
    """shPLRNN dynamical-systems model: latent map + identity observation of the first ``channels`` latents.

    Args:
        channels: observed dimensions N (3 for Lorenz-63).
        latent_dim: latent size M >= N (default N: the official Lorenz-63 settings, M = 3, have no
            unobserved latents).
        hidden_dim: hidden ReLU units H of the shallow layer (50 in the official settings).
        clipped: the clipped nonlinearity (the paper's; keeps the map bounded).
        layer: the registered latent layer; it must offer ``forward_forced``, ``observe``,
            ``latent_step`` and ``jacobian`` (core's ``plrnn`` does).
        layer_kwargs: further options of the layer (e.g. ``{"observation": "linear"}``).

    Shapes:
        forward: x [B, T, N], alpha -> predictions of x_{1..T-1} [B, T-1, N] under GTF with that α.
        generate: x0 [K, N] (or a latent [K, M]) -> free run [K, steps, N].
    """

    def __init__(
        self,
        channels: int = 3,
        latent_dim: int | None = None,
        hidden_dim: int = 50,
        clipped: bool = True,
        layer: str = "plrnn",
        layer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if channels < 1 or hidden_dim < 1:
            raise ValueError(f"channels and hidden_dim must be at least 1, got {channels}, {hidden_dim}")
        missing = [name for name in _NEEDS if not callable(getattr(get_layer_class(layer), name, None))]
        if missing:
            raise ValueError(
                f"layer {layer!r} lacks {', '.join(missing)}, which teacher forcing needs; "
                "use a latent map such as 'plrnn'"
            )
        options = {"latent_dim": latent_dim or channels, "hidden_dim": hidden_dim, "clipped": clipped}
        self.layer = build_layer(layer, channels, **{**options, **(layer_kwargs or {})})
        self.channels, self.latent_dim = channels, self.layer.latent_dim
        # an autonomous system: no input drives the map
        if isinstance(getattr(self.layer, "C", None), nn.Linear):
            nn.init.zeros_(self.layer.C.weight)
            self.layer.C.weight.requires_grad_(False)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch_size, 12, self.channels),)

    def _check(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[1] < 2 or x.shape[-1] != self.channels:
            raise ValueError(f"x must be [B, T >= 2, N = {self.channels}], got shape {tuple(x.shape)}")

    def rollout(
        self, x: Tensor, alpha: float | Tensor = 0.0, forcing: str = "gtf", interval: int = 10
    ) -> tuple[Tensor, Tensor]:
        """Run the map over data ``x`` [B, T, N] under ``forcing`` (see :func:`gtf_rollout`).

        Returns the unforced latents z_1..z_{T-1} [B, T-1, M] and the latents the map was applied
        to [B, T-1, M] (for adaptive α).
        """
        self._check(x)
        return gtf_rollout(self.layer, x, alpha, forcing, interval)

    def forward(self, x: Tensor, alpha: float | Tensor = 0.0) -> Tensor:
        """Predictions of x_{1..T-1} [B, T-1, N] from the latent of x_0, forced with ``alpha`` (0 = free run)."""
        return self.layer.observe(self.rollout(x, alpha)[0])

    def observe(self, latents: Tensor) -> Tensor:
        """The observation of latents [..., M]: [..., N]."""
        return self.layer.observe(latents)

    def jacobian(self, latents: Tensor) -> Tensor:
        """∂z_t/∂z_{t-1} at latents [B, M]: [B, M, M] (for adaptive GTF)."""
        return self.layer.jacobian(latents)

    @torch.no_grad()
    def generate(self, z0: Tensor, steps: int) -> Tensor:
        """The free run for ``steps`` steps after ``z0``: observations [K, N] or latents [K, M].

        An observation starts from the latent it implies (the data on the first N latents, zeros
        elsewhere). Returns the observations [K, steps, N] of the states 1..steps after ``z0``.
        """
        if z0.dim() != 2 or z0.shape[-1] not in (self.channels, self.latent_dim):
            raise ValueError(
                f"z0 must be observations [K, {self.channels}] or latents [K, {self.latent_dim}], got {tuple(z0.shape)}"
            )
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if z0.shape[-1] == self.channels:
            return free_run(self.layer, z0, steps)
        inputs = z0.new_zeros(z0.shape[0], steps, self.channels)
        latents, _ = self.layer.forward_forced(inputs, inputs[..., :0], 0.0, state=z0)
        return self.layer.observe(latents)

    def forecast(self, x0: Tensor, steps: int) -> Tensor:
        """The observation ``steps`` steps after each data point x0 [K, N]: [K, N] (for PE(n))."""
        return free_run(self.layer, x0, steps)[:, -1]
