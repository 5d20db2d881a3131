r"""PV-RNN: a predictive-coding-inspired variational RNN with adaptive posteriors and error regression.

Ahmadi & Tani, "A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction and
Recognition", Neural Computation 31(11), 2019, https://doi.org/10.1162/neco_a_01228
(arXiv https://arxiv.org/abs/1811.01339). No official code is public; where details are needed this file
follows the closest PyTorch derivative, ``h-idei/pvrnn_sa`` (``networks/pvrnn_layer.py``,
``example/error_regression.py``), and says so.

Each level l = 0 (bottom, fast) .. L-1 (top, slow) of a multiple-timescale RNN (MTRNN) has
deterministic units d^l and stochastic units z^l. At every step, from the top level down:

.. math::
    p(z^l_t \mid d^l_{t-1}) = \mathcal N\big(\tanh(W^l_\mu d^l_{t-1} + b), \exp(W^l_\sigma d^l_{t-1} + b)\big)
    \quad (\mathcal N(0, I) \text{ at } t = 1),

    q(z^l_t) = \mathcal N\big(\tanh A^l_{\mu, t}, \exp A^l_{\sigma, t}\big)
    \quad \text{(adaptive vectors, one per training sequence, step and level)},

    h^l_t = (1 - 1/\tau_l)\, h^l_{t-1} + \big(W^l d^l_{t-1} + W^l_z z^l_t + W^l_{top} d^{l+1}_t + b^l\big)/\tau_l,
    \qquad d^l_t = \tanh h^l_t,

    \hat x_t = \tanh(W_{out} d^0_t + b_{out}).

z is drawn by reparameterisation, :math:`z = \mu + \sigma \epsilon`. Training minimises the negative
ELBO per step, :math:`\lVert \hat x_t - x_t \rVert^2 / D + \sum_l w_l\, \mathrm{KL}(q \,\|\, p)^l_t / \dim z^l`,
with the meta-prior :math:`w_l` per level and a separate :math:`w^{(1)}_l` at t = 1 (the derivative code
sums both terms over steps and sequences; here they are averaged, which keeps their ratio). The posterior
has no encoder: its parameters A are learned by back-propagation as part of the model, sized for the
training set (``num_sequences`` × ``seq_len``), and a per-sequence index picks them. A new sequence is
read by **error regression** (:func:`error_regression`): the weights stay frozen and only fresh A over
the last W observed steps are optimised, after which the model predicts the next steps from its prior.
As in the derivative code, the window's start state is carried over from the previous window and the
new window's last A starts at the prior of that step.

Deviations from the derivative code: the prior mean and log-sigma maps carry a bias; the training A start
at zero (the N(0, I) posterior) rather than at the prior's values of the first epoch; the initial state is
zero (no learned initial h); the output is the bottom level's d alone (the code's integrated network adds
vision / proprioception modules); error regression's readout and prediction use the means of q and p
unless ``sample=True`` (the code samples both).

``layer`` swaps the deterministic part: ``"mtrnn"`` (default) is the leaky tanh update above; any causal
core layer name (``"gru"``, ``"lstm"``, ``"leaky_rnn"``, ...) replaces it, built with
``recur_core.build_layer(layer, d_model=d_l, **layer_kwargs)`` and stepped with
``layer.step(W_z z^l_t + W_top d^{l+1}_t + b, state)``. What changes then: the time constant τ and
the recurrent matrix W are the core layer's business (τ is ignored; ``leaky_rnn`` with ``tau_init`` brings
a timescale back), d^l_t is the layer's output (bounded by tanh only if the layer's output is), and the
prior reads that output. The per-step work of the MTRNN is vectorised over levels (block-diagonal maps);
a core layer is stepped level by level.

Shapes:
    forward(index [B]) -> (x_hat [B, T, D], kl [B, T, L]); T = ``seq_len``, L levels.
    rollout(adaptive [B, S, 2, Z], steps) -> outputs [B, steps, D] (prior after S steps).
    adaptive vectors: ``adaptive`` [N, T, 2, Z] (mu / log-sigma pre-activations; Z = sum of z sizes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recur_core.registry import build_layer, get_layer_class, register_model

__all__ = [
    "PVRNN",
    "ERResult",
    "OnlineErrorRegression",
    "Rollout",
    "error_regression",
    "gaussian_kl",
]

# a state: (h [B, Dsum] for the MTRNN or a tuple of core-layer states, d [B, Dsum])
PVRNNState = tuple[Any, Tensor]


def gaussian_kl(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
    """KL(N(mu_q, sigma_q²) || N(mu_p, sigma_p²)) elementwise."""
    ratio = (sigma_q / sigma_p).square()
    return 0.5 * (ratio + ((mu_q - mu_p) / sigma_p).square() - 1.0 - ratio.log())


class PVRNNLevel(nn.Module):
    """The weights of one level: recurrence (MTRNN matrix or a core layer), latent, top-down and prior maps."""

    def __init__(self, d_size: int, z_size: int, d_above: int, layer: str, layer_kwargs: dict[str, Any]) -> None:
        super().__init__()
        if layer == "mtrnn":
            self.recurrent = nn.Linear(d_size, d_size)
        else:
            self.core = build_layer(layer, d_size, **layer_kwargs)
            self.bias = nn.Parameter(torch.zeros(d_size))
        self.latent = nn.Linear(z_size, d_size, bias=False)
        self.top_down = nn.Linear(d_above, d_size, bias=False) if d_above else None
        self.prior_mu = nn.Linear(d_size, z_size)
        self.prior_log_sigma = nn.Linear(d_size, z_size)


@dataclass
class Rollout:
    """What :meth:`PVRNN.rollout` returns.

    Attributes:
        outputs: x_hat [B, steps, D].
        kl: KL(q || p) / dim z per level [B, S, L] over the posterior steps (S = 0 without A).
        prior: the prior's pre-activations (mu, log-sigma) [B, steps, 2, Z]; zeros at the first step.
        state: the state after the last step.
        kept: the state after step ``keep_at`` (None when not asked).
    """

    outputs: Tensor
    kl: Tensor
    prior: Tensor
    state: PVRNNState
    kept: PVRNNState | None


@register_model("pvrnn")
class PVRNN(nn.Module):
    """PV-RNN (Ahmadi & Tani 2019): multi-level MTRNN with adaptive-vector posteriors; see the module docstring.

    Args:
        input_dim: D, dimensions of x.
        d_sizes: deterministic units per level, bottom (fast) first.
        z_sizes: stochastic units per level.
        taus: time constant per level (MTRNN only; larger = slower).
        w: meta-prior per level (weight of KL / dim z after the first step).
        w_first: meta-prior per level at the first step (t = 1), where the prior is N(0, I).
        num_sequences: N, training sequences that get adaptive vectors.
        seq_len: T, steps of the adaptive vectors (training sequences are at most this long).
        output_activation: ``"tanh"`` (the derivative code's; data in (-1, 1)) or ``"linear"``.
        layer: ``"mtrnn"`` or a causal core layer name (see the module docstring).
        layer_kwargs: options of the core layer.

    Shapes:
        forward(index [B] long, steps=None) -> (x_hat [B, T, D], kl [B, T, L]).
    """

    def __init__(
        self,
        input_dim: int = 2,
        d_sizes: Sequence[int] = (40, 20),
        z_sizes: Sequence[int] = (4, 2),
        taus: Sequence[float] = (2.0, 8.0),
        w: Sequence[float] = (0.01, 0.01),
        w_first: Sequence[float] = (1.0, 1.0),
        num_sequences: int = 16,
        seq_len: int = 100,
        output_activation: str = "tanh",
        layer: str = "mtrnn",
        layer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        levels = len(d_sizes)
        if levels < 1 or any(len(v) != levels for v in (z_sizes, taus, w, w_first)):
            raise ValueError(
                f"d_sizes, z_sizes, taus, w and w_first need one entry per level, got lengths "
                f"{[len(v) for v in (d_sizes, z_sizes, taus, w, w_first)]}"
            )
        if min(*d_sizes, *z_sizes, input_dim, num_sequences, seq_len) < 1:
            raise ValueError("input_dim, d_sizes, z_sizes, num_sequences and seq_len must be positive")
        if min(taus) < 1:
            raise ValueError(f"time constants must be >= 1, got {list(taus)}")
        if min(*w, *w_first) < 0:
            raise ValueError(f"meta-priors w and w_first must be >= 0, got {list(w)}, {list(w_first)}")
        if output_activation not in ("tanh", "linear"):
            raise ValueError(f"output_activation must be 'tanh' or 'linear', got {output_activation!r}")
        if layer != "mtrnn":
            if not get_layer_class(layer).causal:
                raise ValueError(
                    f"layer {layer!r} is not causal and cannot be stepped; use 'mtrnn' or a recurrent layer"
                )
        elif layer_kwargs:
            raise ValueError(f"layer 'mtrnn' takes no layer_kwargs (got {sorted(layer_kwargs)}); set taus instead")
        self.input_dim, self.num_sequences, self.seq_len = input_dim, num_sequences, seq_len
        self.d_sizes, self.z_sizes = [int(d) for d in d_sizes], [int(z) for z in z_sizes]
        self.layer, self.output_activation = layer, output_activation
        self.levels = nn.ModuleList(
            PVRNNLevel(d, z, d_sizes[i + 1] if i + 1 < levels else 0, layer, layer_kwargs or {})
            for i, (d, z) in enumerate(zip(d_sizes, z_sizes))
        )
        self.output = nn.Linear(d_sizes[0], input_dim)
        # mu / log-sigma pre-activations; zeros = N(0, 1), the prior at t = 1 (the code starts A at the prior)
        self.adaptive = nn.Parameter(torch.zeros(num_sequences, seq_len, 2, sum(z_sizes)))
        d_level = torch.cat([torch.full((d,), i) for i, d in enumerate(d_sizes)])
        z_level = torch.cat([torch.full((z,), i) for i, z in enumerate(z_sizes)])
        self.register_buffer("inv_tau", 1.0 / torch.tensor([float(taus[i]) for i in d_level.tolist()]))
        self.register_buffer("w", torch.tensor([float(v) for v in w]))
        self.register_buffer("w_first", torch.tensor([float(v) for v in w_first]))
        # [Z, L]: sums a level's KL terms and divides by its dim z
        pool = torch.zeros(sum(z_sizes), levels)
        pool[torch.arange(sum(z_sizes)), z_level] = 1.0 / torch.tensor([float(z_sizes[i]) for i in z_level.tolist()])
        self.register_buffer("kl_pool", pool)
        self.d_slices = [slice(sum(d_sizes[:i]), sum(d_sizes[: i + 1])) for i in range(levels)]
        self.z_slices = [slice(sum(z_sizes[:i]), sum(z_sizes[: i + 1])) for i in range(levels)]

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    @property
    def latent_size(self) -> int:
        return sum(self.z_sizes)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, int]:
        return (torch.arange(batch_size) % self.num_sequences, min(12, self.seq_len))

    # --- the step ---

    def init_state(self, batch_size: int, device=None, dtype=None) -> PVRNNState:
        """Zero h and d (the derivative code's initial state)."""
        dtype = dtype or self.output.weight.dtype
        device = device or self.output.weight.device
        d = torch.zeros(batch_size, sum(self.d_sizes), device=device, dtype=dtype)
        if self.layer == "mtrnn":
            return d.clone(), d
        return tuple(level.core.init_state(batch_size, device=device, dtype=dtype) for level in self.levels), d

    def _block_maps(self) -> dict[str, Tensor]:
        """The per-level maps as block-diagonal matrices, so one matmul serves every level."""
        maps = {
            "prior_mu": torch.block_diag(*(lv.prior_mu.weight for lv in self.levels)),
            "prior_mu_b": torch.cat([lv.prior_mu.bias for lv in self.levels]),
            "prior_ls": torch.block_diag(*(lv.prior_log_sigma.weight for lv in self.levels)),
            "prior_ls_b": torch.cat([lv.prior_log_sigma.bias for lv in self.levels]),
            "latent": torch.block_diag(*(lv.latent.weight for lv in self.levels)),
        }
        if self.layer == "mtrnn":
            maps["recurrent"] = torch.block_diag(*(lv.recurrent.weight for lv in self.levels))
            maps["bias"] = torch.cat([lv.recurrent.bias for lv in self.levels])
        return maps

    def _prior(self, d: Tensor, maps: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Prior pre-activations (mu, log-sigma) [B, Z] from d_{t-1} [B, Dsum]."""
        return d @ maps["prior_mu"].T + maps["prior_mu_b"], d @ maps["prior_ls"].T + maps["prior_ls_b"]

    def _advance(self, z: Tensor, state: PVRNNState, maps: dict[str, Tensor]) -> PVRNNState:
        """One deterministic step, top level first (each level reads d^{l+1}_t of this step)."""
        inner, d = state
        drive = z @ maps["latent"].T
        new_d: list[Tensor] = [d[:, s] for s in self.d_slices]
        if self.layer == "mtrnn":
            drive = drive + d @ maps["recurrent"].T + maps["bias"]
            new_h: list[Tensor] = [inner[:, s] for s in self.d_slices]
        else:
            new_inner = list(inner)
        for i in reversed(range(self.num_levels)):
            s, level = self.d_slices[i], self.levels[i]
            x = drive[:, s] if level.top_down is None else drive[:, s] + level.top_down(new_d[i + 1])
            if self.layer == "mtrnn":
                inv_tau = self.inv_tau[s]
                new_h[i] = (1 - inv_tau) * inner[:, s] + inv_tau * x
                new_d[i] = torch.tanh(new_h[i])
            else:
                new_d[i], new_inner[i] = level.core.step(x + level.bias, inner[i])
        if self.layer == "mtrnn":
            return torch.cat(new_h, -1), torch.cat(new_d, -1)
        return tuple(new_inner), torch.cat(new_d, -1)

    def observe(self, d: Tensor) -> Tensor:
        """x_hat from the concatenated d [..., Dsum] (the bottom level's units)."""
        out = self.output(d[..., self.d_slices[0]])
        return torch.tanh(out) if self.output_activation == "tanh" else out

    # --- sequences ---

    def rollout(
        self,
        adaptive: Tensor | None,
        steps: int,
        state: PVRNNState | None = None,
        first: bool = True,
        sample: bool = True,
        generator: torch.Generator | None = None,
        keep_at: int | None = None,
    ) -> Rollout:
        """Run ``steps`` steps: the posterior from ``adaptive`` [B, S, 2, Z] for the first S, then the prior.

        Args:
            adaptive: A pre-activations (mu, log-sigma) of the first S <= steps steps, or None (prior only;
                the batch size is then taken from ``state``, or 1).
            steps: steps to run.
            state: the state before the first step (None: zeros).
            first: the first step is a sequence's t = 1, where the prior is N(0, I).
            sample: z = mu + sigma * eps (reparameterised); False uses the means.
            generator: the noise's random generator.
            keep_at: also return the state after this many steps (1-based).
        """
        ref = self.output.weight
        batch = adaptive.shape[0] if adaptive is not None else (state[1].shape[0] if state is not None else 1)
        posterior_steps = 0 if adaptive is None else adaptive.shape[1]
        if adaptive is not None and (adaptive.dim() != 4 or adaptive.shape[2:] != (2, self.latent_size)):
            raise ValueError(f"adaptive must be [B, S, 2, {self.latent_size}], got {tuple(adaptive.shape)}")
        if not posterior_steps <= steps:
            raise ValueError(f"adaptive covers {posterior_steps} steps, more than the {steps} steps asked for")
        state = self.init_state(batch, device=ref.device, dtype=ref.dtype) if state is None else state
        maps = self._block_maps()
        noise = (
            torch.randn(batch, steps, self.latent_size, generator=generator, device=ref.device, dtype=ref.dtype)
            if sample
            else None
        )
        if adaptive is not None:
            # the posterior of every step at once
            mu_q, sigma_q = torch.tanh(adaptive[:, :, 0]), adaptive[:, :, 1].exp()
        outputs, kls, priors, kept = [], [], [], None
        for t in range(steps):
            if t == 0 and first:
                mu_raw = log_sigma = state[1].new_zeros(batch, self.latent_size)
            else:
                mu_raw, log_sigma = self._prior(state[1], maps)
            priors.append(torch.stack([mu_raw, log_sigma], 1))
            mu_p, sigma_p = torch.tanh(mu_raw), log_sigma.exp()
            if t < posterior_steps:
                mu, sigma = mu_q[:, t], sigma_q[:, t]
                kls.append(gaussian_kl(mu, sigma, mu_p, sigma_p) @ self.kl_pool)
            else:
                mu, sigma = mu_p, sigma_p
            z = mu if noise is None else mu + sigma * noise[:, t]
            state = self._advance(z, state, maps)
            outputs.append(state[1])
            if keep_at == t + 1:
                kept = state
        kl = torch.stack(kls, 1) if kls else ref.new_zeros(batch, 0, self.num_levels)
        return Rollout(self.observe(torch.stack(outputs, 1)), kl, torch.stack(priors, 1), state, kept)

    def forward(self, index: Tensor, steps: int | None = None, sample: bool = True) -> tuple[Tensor, Tensor]:
        """x_hat [B, steps, D] and KL / dim z per level [B, steps, L] of training sequences ``index`` [B]."""
        steps = self.seq_len if steps is None else steps
        if not 1 <= steps <= self.seq_len:
            raise ValueError(f"steps must be in 1..seq_len = {self.seq_len}, got {steps}")
        index = torch.as_tensor(index, device=self.adaptive.device).long()
        if index.dim() != 1 or int(index.min()) < 0 or int(index.max()) >= self.num_sequences:
            raise ValueError(
                f"index must be [B] in 0..{self.num_sequences - 1} (one per training sequence); got {index.tolist()}; "
                "set --model.model_kwargs.num_sequences to the training split's size"
            )
        run = self.rollout(self.adaptive[index, :steps], steps, sample=sample)
        return run.outputs, run.kl

    def kl_weights(self, steps: int, first: bool = True) -> Tensor:
        """Meta-prior per step and level [steps, L]: ``w_first`` at t = 1 (when ``first``), ``w`` after."""
        weights = self.w.expand(steps, -1).clone()
        if first:
            weights[0] = self.w_first
        return weights

    def elbo_terms(self, x: Tensor, x_hat: Tensor, kl: Tensor, first: bool = True) -> dict[str, Tensor]:
        """Per-sequence negative ELBO terms [B], averaged over steps: ``rec`` (MSE / D) and ``kl`` (Σ_l w_l KL_l)."""
        rec = (x_hat - x).square().sum(-1).div(x.shape[-1]).mean(1)
        weighted = (kl * self.kl_weights(kl.shape[1], first)).sum(-1).mean(1) if kl.shape[1] else rec * 0
        return {"rec": rec, "kl": weighted, "loss": rec + weighted}

    def training_loss(self, x: Tensor, index: Tensor) -> dict[str, Tensor]:
        """Negative ELBO of training sequences x [B, T, D] (T <= seq_len) with indices ``index`` [B]."""
        if x.dim() != 3 or x.shape[-1] != self.input_dim or x.shape[1] > self.seq_len:
            raise ValueError(f"x must be [B, T <= {self.seq_len}, {self.input_dim}], got {tuple(x.shape)}")
        x_hat, kl = self(index, x.shape[1])
        terms = self.elbo_terms(x, x_hat, kl)
        return {name: value.mean() for name, value in terms.items()} | {"kl_raw": kl.mean()}

    @torch.no_grad()
    def generate(
        self, steps: int, batch_size: int = 1, sample: bool = True, generator: torch.Generator | None = None
    ) -> Tensor:
        """Generation from the prior alone, from the zero state: [batch_size, steps, D]."""
        state = self.init_state(batch_size)
        return self.rollout(None, steps, state=state, sample=sample, generator=generator).outputs

    def online_predictor(self, horizon: int = 1, **options: Any) -> OnlineErrorRegression:
        """A streaming predictor by error regression (options: window, iterations, lr, sample, seed)."""
        return OnlineErrorRegression(self, horizon=horizon, **options)


# --- error regression ---


@dataclass
class ERResult:
    """What :func:`error_regression` returns.

    Attributes:
        prediction: x_hat of the ``horizon`` steps after the window, from the prior [B, H, D].
        reconstruction: x_hat over the window with the optimised posterior [B, W, D].
        adaptive: the optimised A [B, W, 2, Z].
        losses: the window's loss (summed over the batch) before each iteration [iterations].
        next_state: the state after the window's first step (the start of the next, slid window).
        next_prior: the prior's pre-activations at the first step after the window [B, 2, Z].
    """

    prediction: Tensor
    reconstruction: Tensor
    adaptive: Tensor
    losses: Tensor
    next_state: PVRNNState
    next_prior: Tensor


def _as_batch(observed: Tensor, dim: int) -> Tensor:
    if observed.dim() == 2:
        observed = observed[None]
    elif observed.dim() != 3:
        raise ValueError(f"observed must be [W, D] or [B, W, D], got shape {tuple(observed.shape)}")
    if observed.shape[-1] != dim:
        raise ValueError(f"observed has {observed.shape[-1]} dimensions, the model {dim}")
    return observed


def _detach_state(state: PVRNNState) -> PVRNNState:
    """A copy of ``state`` outside any graph (and outside inference mode)."""
    return _map(lambda t: t.detach().clone(), state)


def _map(fn, value):
    if isinstance(value, Tensor):
        return fn(value)
    return tuple(_map(fn, v) for v in value)


def error_regression(
    model: PVRNN,
    observed: Tensor,
    window: int = 10,
    iterations: int = 50,
    lr: float = 0.09,
    horizon: int = 1,
    state: PVRNNState | None = None,
    adaptive: Tensor | None = None,
    first: bool = True,
    sample: bool = True,
    generator: torch.Generator | None = None,
) -> ERResult:
    """Error regression: fit fresh adaptive vectors A to the last ``window`` observations, then predict.

    The weights stay frozen (gradients are taken with respect to A only and nothing is written into
    the weights' ``.grad``). Adam with ``lr`` runs ``iterations`` steps on the window's negative ELBO
    (MSE / D + Σ_l w_l KL_l / dim z per step, the training objective; summed over the batch, so each
    sequence is regressed on its own). Then the window is read once more with the optimised posterior
    and the prior continues for ``horizon`` steps. Defaults W = 10, N = 50, lr = 0.09 are the
    derivative code's (``h-idei/pvrnn_sa``).

    Args:
        model: a trained :class:`PVRNN`.
        observed: [W', D] or [B, W', D]; the last ``window`` steps are used (all when W' < window).
        window, iterations, lr, horizon: see above.
        state: the state before the window (None: zeros).
        adaptive: A to start from [B, W, 2, Z] (None: the prior of each step, as the derivative code).
        first: the window starts the sequence (prior N(0, I) and ``w_first`` at its first step).
        sample: draw z by reparameterisation while optimising (the code's) and in the readout; False
            uses the means throughout (deterministic).
        generator: random generator of the noise.

    Returns:
        :class:`ERResult`; ``prediction`` [B, horizon, D].
    """
    if window < 1 or iterations < 0 or horizon < 1 or lr <= 0:
        raise ValueError(
            f"window and horizon must be >= 1, iterations >= 0 and lr > 0; got {window}, {horizon}, {iterations}, {lr}"
        )
    # gradients even inside Lightning's validation / test / predict loops (no_grad or inference mode)
    with torch.inference_mode(False), torch.enable_grad():
        return _error_regression(
            model,
            _as_batch(observed, model.input_dim).clone(),
            window,
            iterations,
            lr,
            horizon,
            state,
            adaptive,
            first,
            sample,
            generator,
        )


def _error_regression(
    model: PVRNN,
    observed: Tensor,
    window: int,
    iterations: int,
    lr: float,
    horizon: int,
    state: PVRNNState | None,
    adaptive: Tensor | None,
    first: bool,
    sample: bool,
    generator: torch.Generator | None,
) -> ERResult:
    ref = model.output.weight
    observed = observed[:, -window:].to(device=ref.device, dtype=ref.dtype)
    batch, steps = observed.shape[:2]
    if state is not None:
        state = _detach_state(state)
    if adaptive is None:
        with torch.no_grad():
            adaptive = model.rollout(None, steps, state=state, first=first, sample=False).prior
            if state is None and batch != adaptive.shape[0]:
                adaptive = adaptive.expand(batch, -1, -1, -1)
    if adaptive.shape != (batch, steps, 2, model.latent_size):
        raise ValueError(f"adaptive must be [{batch}, {steps}, 2, {model.latent_size}], got {tuple(adaptive.shape)}")
    if state is None:
        state = model.init_state(batch, device=ref.device, dtype=ref.dtype)
    a = adaptive.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([a], lr=lr)
    losses = []
    for _ in range(iterations):
        run = model.rollout(a, steps, state=state, first=first, sample=sample, generator=generator)
        loss = model.elbo_terms(observed, run.outputs, run.kl, first)["loss"].sum()
        (grad,) = torch.autograd.grad(loss, [a])
        a.grad = grad
        optimizer.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        run = model.rollout(a, steps + horizon, state=state, first=first, sample=sample, generator=generator, keep_at=1)
    return ERResult(
        prediction=run.outputs[:, steps:],
        reconstruction=run.outputs[:, :steps],
        adaptive=a.detach(),
        losses=torch.tensor(losses),
        next_state=run.kept,
        next_prior=run.prior[:, steps],
    )


class OnlineErrorRegression:
    """Streaming prediction by error regression: one observation in, the next ``horizon`` steps out.

    Keeps the last ``window`` observations, the state at the window's start and the window's A. Until
    the window is full it grows from the sequence's start (prior N(0, I) at t = 1); then each new
    observation slides it by one: the start state becomes the state after the old window's first step,
    A shifts by one and the new step's A starts at that step's prior (as ``h-idei/pvrnn_sa``). Each
    step runs :func:`error_regression` from that warm start.

    Args:
        model: a trained :class:`PVRNN` (its weights are never changed).
        horizon: steps predicted after each observation.
        window, iterations, lr, sample: see :func:`error_regression`.
        seed: seeds the noise (None: torch's global generator).

    Shapes:
        step(x_t [D] or [B, D]) -> prediction [H, D] or [B, H, D].
    """

    def __init__(
        self,
        model: PVRNN,
        horizon: int = 1,
        window: int = 10,
        iterations: int = 50,
        lr: float = 0.09,
        sample: bool = True,
        seed: int | None = 0,
    ) -> None:
        if window < 1 or horizon < 1:
            raise ValueError(f"window and horizon must be at least 1, got {window}, {horizon}")
        self.model, self.horizon, self.window, self.iterations, self.lr = model, horizon, window, iterations, lr
        self.sample, self.seed = sample, seed
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next observation is a sequence's first."""
        self.observed: Tensor | None = None
        self.start_state: PVRNNState | None = None
        self.first = True
        self.last: ERResult | None = None
        device = self.model.output.weight.device
        self.generator = None if self.seed is None else torch.Generator(device).manual_seed(self.seed)

    def warm_start(self, x_t: Tensor) -> tuple[Tensor, Tensor]:
        """The window and the A to start from once ``x_t`` [B, D] is appended (also moves the start state)."""
        if self.observed is None:
            return x_t[:, None], None
        observed = torch.cat([self.observed, x_t[:, None]], 1)
        adaptive = torch.cat([self.last.adaptive, self.last.next_prior[:, None]], 1)
        if observed.shape[1] > self.window:
            observed, adaptive = observed[:, 1:], adaptive[:, 1:]
            self.start_state, self.first = self.last.next_state, False
        return observed, adaptive

    def step(self, x_t: Tensor) -> Tensor:
        single = x_t.dim() == 1
        x_t = x_t[None] if single else x_t
        if x_t.dim() != 2 or x_t.shape[-1] != self.model.input_dim:
            raise ValueError(f"x_t must be [D] or [B, D] with D = {self.model.input_dim}, got {tuple(x_t.shape)}")
        x_t = x_t.to(self.model.output.weight)
        if self.observed is not None and self.observed.shape[0] != x_t.shape[0]:
            raise ValueError(f"the stream has batch {self.observed.shape[0]}, got {x_t.shape[0]}; call reset() first")
        observed, adaptive = self.warm_start(x_t)
        self.last = error_regression(
            self.model,
            observed,
            window=self.window,
            iterations=self.iterations,
            lr=self.lr,
            horizon=self.horizon,
            state=self.start_state,
            adaptive=adaptive,
            first=self.first,
            sample=self.sample,
            generator=self.generator,
        )
        self.observed = observed
        return self.last.prediction[0] if single else self.last.prediction
