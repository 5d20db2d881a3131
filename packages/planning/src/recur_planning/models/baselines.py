r"""The models PV-RNN is compared with: a deterministic RNN predictor and a VRNN (Chung et al. 2015).

Ahmadi & Tani 2019 (https://doi.org/10.1162/neco_a_01228) compare PV-RNN's error regression with a
VRNN-like model, whose latent posterior comes from an inference network reading x_t rather than from
adaptive vectors, and with deterministic RNNs (PV-RNN at high w). Both baselines here share PV-RNN's
interface (``training_loss(x, index)``, ``online_predictor(horizon)``), so the same task, data and
online prediction scoring serve all three.

- :class:`RNNPredictor` (``rnn_predictor``): x_t → linear → core layer (``lstm`` default; ``gru``,
  ``leaky_rnn`` for an MTRNN-like leaky unit, ...) → linear (→ tanh) = x̂_{t+1}, trained by teacher
  forcing on the next-step MSE; online it reads each observation and predicts the next ``horizon``
  steps in closed loop (its own predictions fed back).
- :class:`VRNN` (``vrnn``), Chung et al., "A Recurrent Latent Variable Model for Sequential Data",
  NeurIPS 2015, https://arxiv.org/abs/1506.02216:

  .. math::
      p(z_t \mid h_{t-1}) = \mathcal N(\mu_{0,t}, \sigma_{0,t}), \quad
      q(z_t \mid x_t, h_{t-1}) = \mathcal N(\mu_{z,t}, \sigma_{z,t}), \quad
      \hat x_t = \mathrm{dec}(\varphi_z(z_t), h_{t-1}), \quad
      h_t = f(h_{t-1}, [\varphi_x(x_t), \varphi_z(z_t)]),

  trained on MSE / D + ``kl_weight`` · KL / dim z per step (a fixed-variance Gaussian likelihood, in the
  same units as PV-RNN's objective). Online it filters with q on each observation and predicts by running
  the prior and the decoder (means), feeding x̂ back. The recurrence f is a core layer (``lstm``, as the paper).

Shapes: x [B, T, D]; ``RNNPredictor.forward(x)`` -> x̂ of x_{1..T-1} [B, T-1, D];
``VRNN.forward(x)`` -> (x̂ [B, T, D], KL / dim z [B, T]).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recur_core.registry import build_layer, get_layer_class, register_model
from recur_planning.models.pvrnn import gaussian_kl

__all__ = ["VRNN", "RNNPredictor", "RecurrentPredictor"]


def _check_layer(layer: str) -> None:
    if not get_layer_class(layer).causal:
        raise ValueError(f"layer {layer!r} is not causal and cannot be stepped; use a recurrent layer (lstm, gru, ...)")


def _squash(x: Tensor, activation: str) -> Tensor:
    return torch.tanh(x) if activation == "tanh" else x


class RecurrentPredictor:
    """Online prediction with a model that has ``init_state``, ``observe(x_t, state)`` and ``predict(state, H)``.

    ``step(x_t [D] or [B, D])`` reads one observation and returns the next ``horizon`` steps [H, D] or [B, H, D].
    """

    def __init__(self, model: nn.Module, horizon: int = 1) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        self.model, self.horizon = model, horizon
        self.reset()

    def reset(self) -> None:
        self.state = None

    @torch.no_grad()
    def step(self, x_t: Tensor) -> Tensor:
        single = x_t.dim() == 1
        x_t = (x_t[None] if single else x_t).to(self.model.output.weight)
        if x_t.dim() != 2 or x_t.shape[-1] != self.model.input_dim:
            raise ValueError(f"x_t must be [D] or [B, D] with D = {self.model.input_dim}, got {tuple(x_t.shape)}")
        if self.state is None:
            self.state = self.model.init_state(x_t.shape[0])
        self.state = self.model.observe(x_t, self.state)
        prediction = self.model.predict(self.state, self.horizon)
        return prediction[0] if single else prediction


@register_model("rnn_predictor")
class RNNPredictor(nn.Module):
    """Deterministic next-step predictor: x_t -> core layer -> x̂_{t+1}; no latent variables.

    Args:
        input_dim: D.
        hidden_size: width of the recurrence.
        output_activation: ``"tanh"`` (data in (-1, 1), as PV-RNN) or ``"linear"``.
        layer: a causal core layer (``lstm`` default).
        layer_kwargs: its options.
    """

    def __init__(
        self,
        input_dim: int = 2,
        hidden_size: int = 64,
        output_activation: str = "tanh",
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        _check_layer(layer)
        if output_activation not in ("tanh", "linear"):
            raise ValueError(f"output_activation must be 'tanh' or 'linear', got {output_activation!r}")
        self.input_dim, self.output_activation = input_dim, output_activation
        self.input = nn.Linear(input_dim, hidden_size)
        self.layer = build_layer(layer, hidden_size, **(layer_kwargs or {}))
        self.output = nn.Linear(hidden_size, input_dim)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.rand(batch_size, 12, self.input_dim) * 2 - 1,)

    def forward(self, x: Tensor) -> Tensor:
        """Teacher-forced predictions of x_{1..T-1} [B, T-1, D] from x [B, T, D]."""
        y, _ = self.layer(self.input(x[:, :-1]))
        return _squash(self.output(y), self.output_activation)

    def training_loss(self, x: Tensor, index: Tensor | None = None) -> dict[str, Tensor]:
        """Next-step MSE / D per step (the index is unused: no per-sequence parameters)."""
        rec = (self(x) - x[:, 1:]).square().sum(-1).div(x.shape[-1]).mean()
        return {"loss": rec, "rec": rec}

    def init_state(self, batch_size: int) -> tuple[Any, Tensor]:
        ref = self.output.weight
        return self.layer.init_state(batch_size, device=ref.device, dtype=ref.dtype), None

    def observe(self, x_t: Tensor, state: tuple[Any, Tensor]) -> tuple[Any, Tensor]:
        """Read x_t [B, D]: (layer state, x̂_{t+1})."""
        y, inner = self.layer.step(self.input(x_t), state[0])
        return inner, _squash(self.output(y), self.output_activation)

    def predict(self, state: tuple[Any, Tensor], horizon: int) -> Tensor:
        """The next ``horizon`` steps [B, H, D] in closed loop from the state after the last observation."""
        inner, guess = state
        out = [guess]
        for _ in range(horizon - 1):
            y, inner = self.layer.step(self.input(out[-1]), inner)
            out.append(_squash(self.output(y), self.output_activation))
        return torch.stack(out, 1)

    def online_predictor(self, horizon: int = 1, **options: Any) -> RecurrentPredictor:
        return RecurrentPredictor(self, horizon)


@register_model("vrnn")
class VRNN(nn.Module):
    """Variational RNN (Chung et al. 2015): prior and inference network from the recurrent state.

    Args:
        input_dim: D.
        hidden_size: width of the recurrence h and of the feature maps φ_x, φ_z.
        z_size: stochastic units.
        kl_weight: weight of KL / dim z beside MSE / D (1 = the plain ELBO with unit-variance output).
        output_activation: ``"tanh"`` or ``"linear"``.
        layer: the recurrence f, a causal core layer (``lstm`` default).
        layer_kwargs: its options.
    """

    def __init__(
        self,
        input_dim: int = 2,
        hidden_size: int = 64,
        z_size: int = 4,
        kl_weight: float = 0.01,
        output_activation: str = "tanh",
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        _check_layer(layer)
        if kl_weight < 0 or z_size < 1:
            raise ValueError(f"kl_weight must be >= 0 and z_size >= 1, got {kl_weight}, {z_size}")
        if output_activation not in ("tanh", "linear"):
            raise ValueError(f"output_activation must be 'tanh' or 'linear', got {output_activation!r}")
        self.input_dim, self.z_size, self.kl_weight = input_dim, z_size, kl_weight
        self.output_activation = output_activation
        self.phi_x = nn.Sequential(nn.Linear(input_dim, hidden_size), nn.Tanh())
        self.phi_z = nn.Sequential(nn.Linear(z_size, hidden_size), nn.Tanh())
        self.prior = nn.Linear(hidden_size, 2 * z_size)
        self.encoder = nn.Sequential(
            nn.Linear(2 * hidden_size, hidden_size), nn.Tanh(), nn.Linear(hidden_size, 2 * z_size)
        )
        self.decoder = nn.Sequential(nn.Linear(2 * hidden_size, hidden_size), nn.Tanh())
        self.output = nn.Linear(hidden_size, input_dim)
        self.merge = nn.Linear(2 * hidden_size, hidden_size)
        self.layer = build_layer(layer, hidden_size, **(layer_kwargs or {}))
        self.hidden_size = hidden_size

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        return (torch.rand(batch_size, 12, self.input_dim) * 2 - 1,)

    def init_state(self, batch_size: int) -> tuple[Any, Tensor]:
        """(the layer's state, h_{t-1} [B, hidden]): zeros."""
        ref = self.output.weight
        h = torch.zeros(batch_size, self.hidden_size, device=ref.device, dtype=ref.dtype)
        return self.layer.init_state(batch_size, device=ref.device, dtype=ref.dtype), h

    def _gaussian(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_sigma = raw.chunk(2, -1)
        return mu, log_sigma.clamp(-8.0, 4.0).exp()

    def _decode(self, phi_z: Tensor, h: Tensor) -> Tensor:
        return _squash(self.output(self.decoder(torch.cat([phi_z, h], -1))), self.output_activation)

    def _advance(self, phi_x: Tensor, phi_z: Tensor, state: tuple[Any, Tensor]) -> tuple[Any, Tensor]:
        h, inner = self.layer.step(self.merge(torch.cat([phi_x, phi_z], -1)), state[0])
        return inner, h

    def forward(self, x: Tensor, sample: bool = True) -> tuple[Tensor, Tensor]:
        """Reconstructions x̂ [B, T, D] and KL(q || p) / dim z [B, T] of x [B, T, D]."""
        state = self.init_state(x.shape[0])
        phi_x = self.phi_x(x)
        outputs, kls = [], []
        for t in range(x.shape[1]):
            h = state[1]
            mu_p, sigma_p = self._gaussian(self.prior(h))
            mu_q, sigma_q = self._gaussian(self.encoder(torch.cat([phi_x[:, t], h], -1)))
            z = mu_q + sigma_q * torch.randn_like(mu_q) if sample else mu_q
            phi_z = self.phi_z(z)
            outputs.append(self._decode(phi_z, h))
            kls.append(gaussian_kl(mu_q, sigma_q, mu_p, sigma_p).mean(-1))
            state = self._advance(phi_x[:, t], phi_z, state)
        return torch.stack(outputs, 1), torch.stack(kls, 1)

    def training_loss(self, x: Tensor, index: Tensor | None = None) -> dict[str, Tensor]:
        """MSE / D + kl_weight · KL / dim z, averaged over steps and sequences."""
        x_hat, kl = self(x)
        rec = (x_hat - x).square().sum(-1).div(x.shape[-1]).mean()
        weighted = self.kl_weight * kl.mean()
        return {"loss": rec + weighted, "rec": rec, "kl": weighted, "kl_raw": kl.mean()}

    def observe(self, x_t: Tensor, state: tuple[Any, Tensor]) -> tuple[Any, Tensor]:
        """Filter one observation x_t [B, D] with the posterior mean."""
        phi_x = self.phi_x(x_t)
        mu_q, _ = self._gaussian(self.encoder(torch.cat([phi_x, state[1]], -1)))
        return self._advance(phi_x, self.phi_z(mu_q), state)

    def predict(self, state: tuple[Any, Tensor], horizon: int) -> Tensor:
        """The next ``horizon`` steps [B, H, D]: prior mean -> decoder, x̂ fed back."""
        out = []
        for _ in range(horizon):
            phi_z = self.phi_z(self._gaussian(self.prior(state[1]))[0])
            out.append(self._decode(phi_z, state[1]))
            state = self._advance(self.phi_x(out[-1]), phi_z, state)
        return torch.stack(out, 1)

    def online_predictor(self, horizon: int = 1, **options: Any) -> RecurrentPredictor:
        return RecurrentPredictor(self, horizon)
