r"""Generalized teacher forcing (GTF) and adaptive GTF for latent dynamical models, as an engine task.

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic Dynamics",
ICML 2023, https://arxiv.org/abs/2306.04406 (details from the paper's code, ``DurstewitzLab/GTF-shPLRNN``).

Training a recurrent model of a chaotic system by backpropagation through the free run fails: the
Jacobian products :math:`\prod_t J_t` grow like :math:`\sigma_{max}^T` and the gradients explode.
GTF pulls the latent towards the state inferred from the data before every step,

.. math::
    \tilde z_t = (1 - \alpha)\, z_t + \alpha\, \hat z_t, \qquad z_{t+1} = F_\theta(\tilde z_t),
    \qquad \mathcal L = \frac{1}{T-1} \sum_t \lVert g(z_{t+1}) - x_{t+1} \rVert^2,

so that every Jacobian of the unrolled graph is scaled by :math:`(1 - \alpha)` and the products
stay bounded when :math:`(1 - \alpha)\, \sigma_{max} \le 1`, i.e. :math:`\alpha \ge \alpha^* = \max(0,
1 - 1/\sigma_{max})`. The loss uses the *unforced* :math:`z_{t+1}`. :math:`\hat z_t` is the latent
inferred from the data: :math:`x_t` itself on the observed dimensions for the identity observation
model, :math:`B^+ x_t` (pseudo-inverse of the readout) for a linear one (:func:`infer_latent`).

Adaptive GTF (aGTF) estimates :math:`\sigma_{max}` every ``alpha_every`` optimizer steps as the
largest, over the batch, geometric mean of the Jacobians' spectral norms along the forced
trajectory, :math:`G = \max_b \exp\big(\frac{1}{T} \sum_t \log \lVert J_{b,t} \rVert_2\big)`, and sets

.. math::
    \hat\alpha = \max(0, 1 - 1/G), \qquad
    \alpha \leftarrow \hat\alpha \ \text{if}\ \hat\alpha > \alpha \ \text{else}\
    0.999\,\alpha + 0.001\,\hat\alpha.

:class:`GTFTask` trains any layer that exposes ``forward_forced(x, targets_latent, alpha, state)``
and ``observe(z)`` (the registered ``plrnn``; aGTF also needs ``jacobian(z)``) with one of four
forcing schemes: ``"gtf"`` (fixed α), ``"agtf"``, ``"sparse"`` (sparse teacher forcing: the
observed latents are replaced by the data every ``interval`` steps, free in between —
Mikhaeil et al., NeurIPS 2022) and ``"free"`` (plain BPTT through the free run, α = 0).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.engine.module import RecurModule
from recur_core.registry import build_layer
from recur_core.techniques.dynamics_metrics import (
    hellinger_spectrum_distance,
    prediction_error,
    state_space_divergence,
)

__all__ = [
    "FORCING",
    "GTFTask",
    "adaptive_alpha",
    "free_run",
    "gtf_rollout",
    "infer_latent",
    "initial_latent",
    "jacobian_growth",
]

FORCING = ("gtf", "agtf", "sparse", "free")


def infer_latent(layer: nn.Module, x: Tensor) -> Tensor:
    r"""The latent :math:`\hat z` the data ``x`` [..., D] implies, for forcing.

    Identity observation (``layer.observation == "identity"``): :math:`\hat z = x`, the first D
    latent dimensions (the rest are not forced). Linear observation :math:`x = B z`:
    :math:`\hat z = B^+ x` over all M latent dimensions. The inferred latent is a constant of the
    loss (no gradient flows into the readout through it).

    Shapes:
        x [..., D] -> [..., N] with N = D (identity) or M (linear).
    """
    observation = getattr(layer, "observation", None)
    if observation == "identity":
        return x
    if observation == "linear":
        with torch.no_grad():
            return x @ torch.linalg.pinv(layer.readout.weight).T
    raise ValueError(
        f"cannot infer the latent of {type(layer).__name__}: it needs observation 'identity' or 'linear' "
        f"(got {observation!r}); use a layer with forward_forced such as plrnn"
    )


def initial_latent(layer: nn.Module, x0: Tensor) -> Tensor:
    """The starting latent [K, M] for data points ``x0`` [K, D]: the inferred part, zeros elsewhere."""
    inferred = infer_latent(layer, x0)
    rest = x0.new_zeros(x0.shape[0], layer.latent_dim - inferred.shape[-1])
    return torch.cat([inferred, rest], -1)


def free_run(layer: nn.Module, x0: Tensor, steps: int) -> Tensor:
    """Observations of the autonomous free run started from data points ``x0`` [K, D] (no forcing).

    Shapes:
        x0 [K, D] -> [K, steps, D], the states 1..steps after ``x0``.
    """
    inputs = x0.new_zeros(x0.shape[0], steps, x0.shape[-1])
    latents, _ = layer.forward_forced(inputs, inputs[..., :0], 0.0, state=initial_latent(layer, x0))
    return layer.observe(latents)


def gtf_rollout(
    layer: nn.Module, x: Tensor, alpha: float | Tensor, forcing: str = "gtf", interval: int = 10
) -> tuple[Tensor, Tensor]:
    r"""Run ``layer`` over data ``x`` [B, T, D] under a forcing scheme, from the latent inferred from :math:`x_0`.

    ``forcing`` is ``"gtf"`` or ``"agtf"`` (:math:`\tilde z_t = (1 - \alpha) z_t + \alpha \hat z_t`
    before every step), ``"sparse"`` (the observed latents replaced by the data every ``interval``
    steps, free in between; ``alpha`` is ignored) or ``"free"`` (no forcing; ``alpha`` is ignored).
    The loss of GTF compares ``layer.observe(latents)`` with :math:`x_{1..T-1}`.

    Returns:
        the unforced latents :math:`z_{1..T-1}` [B, T-1, M], and the latents the map was applied
        to, :math:`\tilde z_{0..T-2}` [B, T-1, M] (no gradient; for aGTF's Jacobians,
        :func:`jacobian_growth`).
    """
    if forcing not in FORCING:
        raise ValueError(f"forcing must be one of {FORCING}, got {forcing!r}")
    if forcing == "free":
        alpha = 0.0
    targets = infer_latent(layer, x)
    start = initial_latent(layer, x[:, 0])
    inputs = torch.zeros_like(x[:, 1:])
    forced = targets.shape[-1]
    if forcing != "sparse":
        latents, _ = layer.forward_forced(inputs, targets[:, 1:], alpha, state=start)
    else:
        pieces, state = [], start
        for begin in range(1, x.shape[1], interval):
            end = min(begin + interval, x.shape[1])
            piece, last = layer.forward_forced(inputs[:, begin - 1 : end - 1], targets[:, begin:end], 0.0, state)
            pieces.append(piece)
            state = torch.cat([targets[:, end - 1], last[:, forced:]], -1)
        latents = torch.cat(pieces, 1)
    with torch.no_grad():
        previous = torch.cat([start[:, None], latents[:, :-1]], 1)
        mixed = (1 - alpha) * previous[..., :forced] + alpha * targets[:, :-1]
        if forcing == "sparse":
            on_grid = (torch.arange(x.shape[1] - 1, device=x.device) % interval == 0)[None, :, None]
            mixed = torch.where(on_grid, targets[:, :-1], previous[..., :forced])
        applied = torch.cat([mixed, previous[..., forced:]], -1)
    return latents, applied


def jacobian_growth(layer: nn.Module, latents: Tensor) -> Tensor:
    r"""Per sequence, the geometric mean of the Jacobians' spectral norms along ``latents`` [B, T, M].

    .. math:: G_b = \exp\Big(\frac{1}{T} \sum_t \log \lVert J(z_{b,t}) \rVert_2\Big)

    Shapes:
        latents [B, T, M] -> [B].
    """
    batch, seq_len, latent_dim = latents.shape
    jacobians = layer.jacobian(latents.reshape(-1, latent_dim))
    norms = torch.linalg.matrix_norm(jacobians, ord=2).clamp_min(1e-12)
    return norms.log().reshape(batch, seq_len).mean(1).exp()


def adaptive_alpha(alpha: float, growth: float) -> float:
    r"""The aGTF update: :math:`\hat\alpha = \max(0, 1 - 1/G)`; jump up to it, relax down slowly."""
    estimate = max(0.0, 1.0 - 1.0 / growth) if growth > 0 else 0.0
    return estimate if estimate > alpha else 0.999 * alpha + 0.001 * estimate


class GTFTask(RecurModule):
    r"""Train a latent dynamical model on trajectories with (adaptive) generalized teacher forcing.

    Paper: Hess et al. 2023, https://arxiv.org/abs/2306.04406; equations in
    :mod:`recur_core.techniques.teacher_forcing`. Consumes batches ``{"inputs": [B, T, D]}``
    (e.g. :class:`~recur_core.tasks.lorenz.Lorenz63Data`): the model starts from the latent inferred
    from :math:`x_0` and is trained, under the chosen forcing, to predict :math:`x_{1..T-1}`
    (``train/loss``, MSE of the unforced predictions; ``train/alpha``).

    Validation scores the model as the paper does: ``val/loss`` is the ``pe_steps``-step prediction
    error from every data point; ``val/dstsp`` and ``val/dh`` compare the free run from each
    sequence's first point, as long as the sequence, with the data (pooled state-space KL and
    spectral Hellinger distance, :mod:`recur_core.techniques.dynamics_metrics`).

    Args:
        layer: registered layer with ``forward_forced`` and ``observe`` (``"plrnn"``).
        d_model: observed dimensions D.
        layer_kwargs: further arguments of the layer (``latent_dim``, ``hidden_dim``, ...).
        forcing: ``"gtf"``, ``"agtf"``, ``"sparse"`` or ``"free"`` (see the module docstring).
        alpha: the fixed α of ``"gtf"``, or the starting α of ``"agtf"``.
        alpha_every: optimizer steps between aGTF estimates (5 in the paper's code).
        interval: forcing interval of ``"sparse"``.
        pe_steps: horizon of the validation prediction error.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.

    Shapes:
        batch inputs [B, T, D]; ``forward(x0 [K, D], steps)`` -> [K, steps, D] (the free run).
    """

    def __init__(
        self,
        layer: str = "plrnn",
        d_model: int = 3,
        layer_kwargs: dict[str, Any] | None = None,
        forcing: Literal["gtf", "agtf", "sparse", "free"] = "agtf",
        alpha: float = 0.1,
        alpha_every: int = 5,
        interval: int = 10,
        pe_steps: int = 20,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        self.save_hyperparameters()
        if forcing not in FORCING:
            raise ValueError(f"forcing must be one of {FORCING}, got {forcing!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] (0 = free run, 1 = classic teacher forcing), got {alpha}")
        if alpha_every < 1 or interval < 1 or pe_steps < 1:
            raise ValueError(
                f"alpha_every, interval and pe_steps must be >= 1, got {alpha_every}, {interval}, {pe_steps}"
            )
        self.net = build_layer(layer, d_model, **(layer_kwargs or {}))
        needs = ("forward_forced", "observe", "latent_dim") + (("jacobian",) if forcing == "agtf" else ())
        missing = [name for name in needs if not hasattr(self.net, name)]
        if missing:
            raise ValueError(
                f"layer {layer!r} lacks {', '.join(missing)}, which forcing {forcing!r} needs; use a latent model "
                f"such as 'plrnn'"
            )
        self.forcing, self.alpha_every, self.interval, self.pe_steps = forcing, alpha_every, interval, pe_steps
        self.register_buffer("alpha", torch.tensor(alpha if forcing in ("gtf", "agtf") else 0.0))

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        theirs = getattr(data, "input_dim", None)
        if theirs is not None and theirs != self.hparams.d_model:
            raise ValueError(
                f"model.d_model = {self.hparams.d_model} but the data has input_dim = {theirs}; "
                f"set --model.d_model {theirs}"
            )

    def forward(self, x0: Tensor, steps: int) -> Tensor:
        return free_run(self.net, x0, steps)

    def forecast(self, x0: Tensor, steps: int) -> Tensor:
        """The observation ``steps`` steps after each data point ``x0`` [K, D] (for the prediction error)."""
        return free_run(self.net, x0, steps)[:, -1]

    def rollout(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Run the model over data ``x`` [B, T, D] under this task's forcing (:func:`gtf_rollout`).

        Returns the unforced latents :math:`z_{1..T-1}` [B, T-1, M] and the latents the map was
        applied to, :math:`\\tilde z_{0..T-2}` [B, T-1, M] (for aGTF's Jacobians).
        """
        if x.dim() != 3 or x.shape[1] < 2 or x.shape[-1] != self.hparams.d_model:
            raise ValueError(f"inputs must be [B, T >= 2, D = {self.hparams.d_model}], got {tuple(x.shape)}")
        return gtf_rollout(self.net, x, self.alpha, self.forcing, self.interval)

    def loss(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean squared error of the unforced one-step predictions on ``x`` [B, T, D]; also the latents
        the map was applied to (see :meth:`rollout`)."""
        latents, applied = self.rollout(x)
        return F.mse_loss(self.net.observe(latents), x[:, 1:]), applied

    @torch.no_grad()
    def update_alpha(self, applied: Tensor) -> float:
        """One aGTF estimate from the latents the map was applied to [B, T, M]; returns the new α."""
        growth = float(jacobian_growth(self.net, applied).max())
        self.alpha.fill_(adaptive_alpha(float(self.alpha), growth))
        return float(self.alpha)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss, applied = self.loss(batch["inputs"])
        if self.forcing == "agtf" and self.global_step % self.alpha_every == 0:
            self.update_alpha(applied)
        size = batch["inputs"].shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=size)
        self.log("train/alpha", self.alpha, on_step=True, on_epoch=False, batch_size=size)
        return loss

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        x = batch["inputs"]
        generated = free_run(self.net, x[:, 0], x.shape[1] - 1)
        true = x[:, 1:]
        logged = {"on_step": False, "on_epoch": True, "batch_size": x.shape[0], "sync_dist": True}
        self.log(f"{stage}/loss", prediction_error(self.forecast, x, min(self.pe_steps, x.shape[1] - 1)), **logged)
        self.log(f"{stage}/dstsp", state_space_divergence(true, generated).float(), prog_bar=True, **logged)
        self.log(f"{stage}/dh", hellinger_spectrum_distance(true, generated).float(), prog_bar=True, **logged)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")
