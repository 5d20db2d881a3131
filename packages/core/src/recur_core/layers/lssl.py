"""LSSL: the linear state-space layer with a HiPPO-LegS (or random) state matrix.

Gu, Johnson, Goel, Saab, Dao, Rudra & Ré, "Combining Recurrent, Convolutional, and Continuous-time
Models with Linear State-Space Layers", NeurIPS 2021 (https://arxiv.org/abs/2110.13985); HiPPO from
Gu et al., NeurIPS 2020 (https://arxiv.org/abs/2008.07669).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State
from recur_core.ops.lti_ssm import bilinear_discretize, chunk_lti_ssm, lti_ssm_step, naive_lti_ssm
from recur_core.registry import register_layer

__all__ = ["LSSL", "hippo_legs", "random_stable"]

_MODES = {"chunk": chunk_lti_ssm, "recurrent": naive_lti_ssm}


def hippo_legs(d_state: int) -> tuple[Tensor, Tensor]:
    r"""HiPPO-LegS: :math:`A_{nk} = -\sqrt{2n+1}\sqrt{2k+1}` below the diagonal, :math:`-(n+1)` on it,
    0 above; :math:`B_n = \sqrt{2n+1}`. Shapes: A [N, N], B [N]."""
    n = torch.arange(d_state, dtype=torch.float64)
    root = torch.sqrt(2 * n + 1)
    A = -(root[:, None] * root[None, :]).tril(-1) - torch.diag(n + 1)
    return A.float(), root.float()


def random_stable(d_state: int) -> tuple[Tensor, Tensor]:
    r"""A Gaussian :math:`G / \sqrt{N}` shifted so that every eigenvalue has real part at most −1, and
    a Gaussian B: the random baseline of the HiPPO-vs-random comparison. Shapes: A [N, N], B [N]."""
    G = torch.randn(d_state, d_state, dtype=torch.float64) / math.sqrt(d_state)
    shift = torch.linalg.eigvals(G).real.max() + 1
    return (G - shift * torch.eye(d_state, dtype=torch.float64)).float(), torch.randn(d_state)


_INITS = {"hippo": hippo_legs, "random": random_stable}


@register_layer("lssl")
class LSSL(SequenceLayer):
    r"""H independent single-input single-output state spaces (one per channel), then GELU and a
    position-wise linear mix.

    .. math::
        x_t = \bar A_h x_{t-1} + \bar B_h u_{t,h}, \qquad z_{t,h} = C_h x_t + D_h u_{t,h}, \qquad
        y_t = W\,\mathrm{GELU}(z_t) + b

    with :math:`\bar A_h = (I - \tfrac{\Delta_h}{2} A)^{-1}(I + \tfrac{\Delta_h}{2} A)`,
    :math:`\bar B_h = (I - \tfrac{\Delta_h}{2} A)^{-1} \Delta_h B`. A and B are fixed (HiPPO-LegS, or a
    random stable matrix with ``init="random"``); the step :math:`\Delta_h` (log-uniform in
    [``dt_min``, ``dt_max``] at init, learned as its log), C and D are trained. Training uses the
    convolutional view by chunks (Krylov taps by doubling, a block-Toeplitz convolution inside
    chunks, the state between them; exact, including a given start state); ``step`` uses the
    recurrent view.

    Args:
        d_model: width D = number of channels H.
        d_state: state size N per channel (default 64).
        init: ``"hippo"`` (HiPPO-LegS, default) or ``"random"`` (Gaussian, shifted to be stable).
        dt_min: smallest initial Δ (default 1e-3).
        dt_max: largest initial Δ (default 1e-1).
        chunk_size: chunk length m of the convolutional view (default 64).
        mode: ``"chunk"`` (the chunked convolutional view, default) or ``"recurrent"`` (the token loop).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state [B, D, N].
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        init: str = "hippo",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        chunk_size: int = 64,
        mode: str = "chunk",
    ) -> None:
        super().__init__(d_model)
        if init not in _INITS:
            raise ValueError(f"unknown init {init!r}; valid: {', '.join(_INITS)}")
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(_MODES)}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        self.d_state = d_state
        self.init = init
        self.chunk_size = chunk_size
        self.mode = mode
        A, B = _INITS[init](d_state)
        self.register_buffer("A", A)
        self.register_buffer("B", B)
        self.lower = bool(torch.equal(A, A.tril()))
        self._step_cache: tuple | None = None
        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.C = nn.Parameter(torch.randn(d_model, d_state) / math.sqrt(d_state))
        self.D = nn.Parameter(torch.randn(d_model))
        self.out = nn.Linear(d_model, d_model)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        return torch.zeros(batch_size, self.d_model, self.d_state, device=device, dtype=dtype or self.C.dtype)

    def discretize(self) -> tuple[Tensor, Tensor]:
        r"""The discrete :math:`(\bar A, \bar B)`, shapes [H, N, N] and [H, N], in float32 or better."""
        dtype = torch.promote_types(self.A.dtype, torch.float32)
        with torch.autocast(self.A.device.type, enabled=False):
            dt = self.log_dt.to(dtype).exp()
            return bilinear_discretize(self.A.to(dtype), self.B.to(dtype), dt, lower=self.lower)

    def _step_matrices(self) -> tuple[Tensor, Tensor]:
        """:meth:`discretize`, kept between steps while A, B and Δ stay the same tensors at the same
        version (an optimizer step or a cast changes one), unless a gradient must flow through it."""
        params = (self.A, self.B, self.log_dt)
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return self.discretize()
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        if self._step_cache is None or self._step_cache[0] != key:
            self._step_cache = (key, self.discretize())
        return self._step_cache[1]

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        A_bar, B_bar = self.discretize()
        kwargs = {"chunk_size": self.chunk_size} if self.mode == "chunk" else {}
        y, new_state = _MODES[self.mode](
            x, A_bar, B_bar, self.C, self.D, initial_state=state, lengths=lengths, **kwargs
        )
        return self.out(F.gelu(y)), new_state.to(state.dtype)

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        A_bar, B_bar = self._step_matrices()
        dtype = A_bar.dtype
        y, new_state = lti_ssm_step(x_t.to(dtype), A_bar, B_bar, self.C.to(dtype), state.to(dtype))
        y = y + self.D.to(dtype) * x_t.to(dtype)
        return self.out(F.gelu(y).to(x_t.dtype)), new_state.to(state.dtype)
