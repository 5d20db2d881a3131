"""Shallow piecewise-linear RNN (shPLRNN) with a forcing hook for generalized teacher forcing.

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics", ICML 2023, https://arxiv.org/abs/2306.04406.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.registry import register_layer

__all__ = ["PLRNN"]

_OBSERVATIONS = ("identity", "linear")


@register_layer("plrnn")
class PLRNN(SequenceLayer):
    r"""Shallow PLRNN: a diagonal linear latent map plus a one-hidden-layer ReLU network.

    .. math::
        z_t = A \odot z_{t-1} + W_1 \phi(z_{t-1}) + h_1 + C x_t, \qquad y_t = g(z_t)

    with :math:`\phi(z) = \mathrm{ReLU}(W_2 z + h_2) - \mathrm{ReLU}(W_2 z)` when ``clipped`` (the
    paper's choice: the map stays bounded for :math:`|A| < 1`) and
    :math:`\phi(z) = \mathrm{ReLU}(W_2 z + h_2)` otherwise. The observation :math:`g` is either the
    identity on the first D latent dimensions (``observation="identity"``, the paper's model; needs
    ``latent_dim >= d_model``) or a linear readout :math:`y_t = B z_t` (``observation="linear"``).

    The map is nonlinear in :math:`z`, so there is no parallel form: training unrolls it step by
    step, after computing the input term :math:`C x_t` for the whole sequence at once. Padded
    steps leave :math:`z` unchanged.

    Generalized teacher forcing (GTF) runs through :meth:`forward_forced`, which replaces the
    latent before each step by :math:`\tilde z_t = (1 - \alpha) z_t + \alpha \hat z_t` and returns
    the *unforced* :math:`z_t` for the loss; :meth:`jacobian` gives :math:`\partial z_t / \partial
    z_{t-1}` for choosing :math:`\alpha` (adaptive GTF).

    Args:
        d_model: input (and output) width D.
        latent_dim: latent size M (default: ``d_model``).
        hidden_dim: hidden size H of the ReLU layer (default: ``2 * latent_dim``).
        clipped: use the clipped nonlinearity (default True, as in the paper).
        observation: ``"identity"`` (default) or ``"linear"``.

    Shapes:
        x [B, T, D] -> y [B, T, D]; state z [B, M].
    """

    def __init__(
        self,
        d_model: int,
        latent_dim: int | None = None,
        hidden_dim: int | None = None,
        clipped: bool = True,
        observation: str = "identity",
    ) -> None:
        super().__init__(d_model)
        latent_dim = latent_dim or d_model
        hidden_dim = hidden_dim or 2 * latent_dim
        if observation not in _OBSERVATIONS:
            raise ValueError(f"observation must be one of {_OBSERVATIONS}, got {observation!r}")
        if observation == "identity" and latent_dim < d_model:
            raise ValueError(f"observation='identity' needs latent_dim >= d_model, got {latent_dim} < {d_model}")
        self.latent_dim, self.hidden_dim = latent_dim, hidden_dim
        self.clipped, self.observation = clipped, observation
        # A inside the unit interval and small W_1 keep the initial map contracting
        self.A = nn.Parameter(torch.empty(latent_dim).uniform_(0.5, 0.9))
        self.W1 = nn.Parameter(torch.randn(latent_dim, hidden_dim) / (2 * math.sqrt(hidden_dim)))
        self.W2 = nn.Parameter(torch.randn(hidden_dim, latent_dim) / math.sqrt(latent_dim))
        self.h1 = nn.Parameter(torch.zeros(latent_dim))
        self.h2 = nn.Parameter(torch.randn(hidden_dim) / 4)
        self.C = nn.Linear(d_model, latent_dim, bias=False)
        self.readout = nn.Linear(latent_dim, d_model, bias=False) if observation == "linear" else None

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        return torch.zeros(batch_size, self.latent_dim, device=device, dtype=dtype or self.A.dtype)

    def latent_step(self, z: Tensor, drive: Tensor) -> Tensor:
        """One application of the map: ``z`` [B, M] and the input term ``drive = C x_t`` [B, M]."""
        pre = z @ self.W2.T
        hidden = torch.relu(pre + self.h2)
        if self.clipped:
            hidden = hidden - torch.relu(pre)
        return self.A * z + hidden @ self.W1.T + self.h1 + drive

    def jacobian(self, z: Tensor) -> Tensor:
        """:math:`\\partial z_t / \\partial z_{t-1}` at ``z`` [B, M] (input-independent): [B, M, M]."""
        pre = z @ self.W2.T
        slope = (pre + self.h2 > 0).to(z.dtype)
        if self.clipped:
            slope = slope - (pre > 0).to(z.dtype)
        return torch.diag_embed(self.A.expand_as(z)) + torch.einsum("mh,bh,hn->bmn", self.W1, slope, self.W2)

    def observe(self, z: Tensor) -> Tensor:
        """The observation model g: latent [..., M] -> output [..., D]."""
        if self.readout is None:
            return z[..., : self.d_model]
        return self.readout(z)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        drive = self.C(x)
        valid = None if lengths is None else valid_mask(lengths, x.shape[1])[..., None]
        z, latents = state, []
        for t in range(x.shape[1]):
            z_next = self.latent_step(z, drive[:, t])
            z = z_next if valid is None else torch.where(valid[:, t], z_next, z)
            latents.append(z)
        return self.observe(torch.stack(latents, 1)), z

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        z = self.latent_step(state, self.C(x_t))
        return self.observe(z), z

    def forward_forced(
        self, x: Tensor, targets_latent: Tensor, alpha: float | Tensor, state: State | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Run the map under generalized teacher forcing; returns the unforced latents.

        For t = 0..T−1: :math:`z_t = F(\tilde z_{t-1}, x_t)`, then
        :math:`\tilde z_t = (1 - \alpha) z_t + \alpha \hat z_t` with :math:`\hat z_t` =
        ``targets_latent[:, t]``. The first ``N = targets_latent.shape[-1]`` latent dimensions are
        forced (N = M forces all; with the identity observation the targets are the data
        themselves); the rest run free. ``alpha = 0`` is the free run, ``alpha = 1`` classic
        teacher forcing. The loss is usually taken between ``observe(z)[:, :-1]`` and the data
        at t + 1.

        Args:
            x: inputs [B, T, D] (zeros for an autonomous system).
            targets_latent: forcing targets :math:`\hat z` [B, T, N], N <= M.
            alpha: forcing strength in [0, 1]: a float or a tensor broadcastable to [B, N].
            state: initial latent [B, M] (default zeros).

        Returns:
            z [B, T, M], the latents *before* forcing at each step (gradients flow through the
            forcing, scaled by 1 − α), and the last forced latent :math:`\tilde z_{T-1}` [B, M].
        """
        self._check_input(x, ndim=3, what="x [B, T, D]")
        batch, seq_len = x.shape[:2]
        forced = targets_latent.shape[-1]
        if targets_latent.shape[:2] != (batch, seq_len) or forced > self.latent_dim:
            raise ValueError(
                f"targets_latent must be [B, T, N] = [{batch}, {seq_len}, N <= {self.latent_dim}], "
                f"got {tuple(targets_latent.shape)}"
            )
        z = self.init_state(batch, x.device, x.dtype) if state is None else state
        drive = self.C(x)
        latents = []
        for t in range(seq_len):
            z = self.latent_step(z, drive[:, t])
            latents.append(z)
            mixed = (1 - alpha) * z[:, :forced] + alpha * targets_latent[:, t]
            z = torch.cat([mixed, z[:, forced:]], dim=-1)
        return torch.stack(latents, 1), z
