"""LightNet: the additive linear recurrence, one scan with a global receptive field.

Qin et al., "You Only Scan Once: Efficient Multi-dimension Sequential Modeling with LightNet", 2024,
https://arxiv.org/abs/2405.21022.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step
from recur_core.registry import register_layer

__all__ = ["LightNet"]


@register_layer("lightnet")
class LightNet(SequenceLayer):
    r"""Multi-head LightNet token mixer: the additive recurrence on exponentiated keys, computed stably.

    Per head, with :math:`q_t = \mathrm{SiLU}(x_t W_q)`, key logits :math:`k_t = x_t W_k` and
    :math:`v_t = x_t W_v`, the additive recurrence (no decay) normalised per key:

    .. math::
        s_t = s_{t-1} + e^{k_t} v_t^\top, \quad z_t = z_{t-1} + e^{k_t}, \quad
        o_t = (s_t \oslash z_t)^\top q_t / \sqrt{d_k}, \quad
        y_t = W_o\big(\mathrm{swish}(x_t W_g) \odot \mathrm{concat}_h \mathrm{RMSNorm}(o_{t,h})\big)

    where :math:`\oslash` divides row i of :math:`s_t` by :math:`z_{t,i}`: every key channel is a
    softmax over the past of that channel. Order does not matter for the sums, hence "you only scan
    once". :math:`e^{k}` itself would overflow, so the state holds :math:`\tilde S_t = s_t \oslash z_t`
    and the running log-normaliser :math:`\log z_t = \mathrm{logaddexp}(\log z_{t-1}, k_t)` (a soft
    running maximum, in log space). Then

    .. math::
        \tilde S_t = \mathrm{diag}(e^{\log z_{t-1} - \log z_t})\, \tilde S_{t-1} + e^{k_t - \log z_t} v_t^\top,

    multiplicative with decay :math:`z_{t-1}/z_t \le 1` and keys :math:`\le 1`, which
    :func:`~recur_core.ops.linear_attn.chunk_linear_attn` runs as a per-key decay; ``step`` runs the
    same update, so both agree. The empty state has :math:`\log z = -\infty`. Padded steps get
    :math:`k = -\infty` (decay 1, key 0), which leaves both parts of the state unchanged.

    (The normaliser divides per key channel, the decay :math:`\lambda_t = z_{t-1}/z_t` of the paper's
    additive-as-multiplicative reading, as fla's ``LightNetAttention`` does; it is not a single
    denominator :math:`q_t^\top z_t`.)

    Args:
        d_model: width D.
        num_heads: number of heads H (default 4).
        expand_k: key width relative to D (default 1).
        norm_eps: epsilon of the per-head output RMSNorm (default 1e-5).
        chunk_size: tokens per chunk of the training form; does not change the math (default: the op's).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (S̃ [B, H, d_k/H, D/H], log z [B, H, d_k/H]).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        expand_k: float = 1.0,
        norm_eps: float = 1e-5,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(d_model)
        key_width = int(d_model * expand_k)
        if num_heads < 1 or d_model % num_heads or key_width < num_heads or key_width % num_heads:
            raise ValueError(
                f"d_model = {d_model} and expand_k · d_model = {key_width} must be multiples of num_heads = {num_heads}"
            )
        self.num_heads = num_heads
        self.key_dim = key_width // num_heads
        self.value_dim = d_model // num_heads
        self.chunk_size = chunk_size
        self.qk = nn.Linear(d_model, 2 * key_width, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.output_gate = nn.Linear(d_model, d_model, bias=False)
        self.norm = nn.RMSNorm(self.value_dim, eps=norm_eps)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.v.weight.dtype
        s = torch.zeros(batch_size, self.num_heads, self.key_dim, self.value_dim, device=device, dtype=dtype)
        log_z = torch.full((batch_size, self.num_heads, self.key_dim), float("-inf"), device=device, dtype=dtype)
        return s, log_z

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        q, k = self.qk(x).unflatten(-1, (2, self.num_heads, self.key_dim)).unbind(-3)
        v = self.v(x).unflatten(-1, (self.num_heads, self.value_dim))
        # key logits in float32 or better, also under autocast
        return F.silu(q), k.to(torch.promote_types(k.dtype, torch.float32)), v

    @staticmethod
    def _gate(log_z_prev: Tensor, log_z: Tensor) -> Tensor:
        """log(z_{t-1} / z_t); 0 while the state is still empty (log z = −∞), where S̃ = 0 anyway."""
        return torch.where(torch.isfinite(log_z_prev), log_z_prev - log_z, 0.0)

    def _output(self, o: Tensor, x: Tensor) -> Tensor:
        o = self.norm(o.to(self.norm.weight.dtype)).flatten(-2)
        return self.out(F.silu(self.output_gate(x)) * o)

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        s, log_z0 = state
        q, k, v = self._heads(x)
        if lengths is not None:
            valid = valid_mask(lengths, x.shape[1])[..., None, None]
            k = torch.where(valid, k, float("-inf"))
        log_z0 = log_z0.to(k.dtype)[:, None]
        log_z = torch.logaddexp(log_z0, torch.logcumsumexp(k, dim=1))
        g = self._gate(torch.cat([log_z0, log_z[:, :-1]], dim=1), log_z)
        k = (k - log_z).exp()
        if lengths is not None:
            g = torch.where(valid, g, 0.0)
        o, s = chunk_linear_attn(q, k, v, g, initial_state=s, chunk_size=self.chunk_size)
        return self._output(o, x), (s, log_z[:, -1].to(s.dtype))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        s, log_z_prev = state
        q, k, v = self._heads(x_t)
        log_z = torch.logaddexp(log_z_prev.to(k.dtype), k)
        g = self._gate(log_z_prev.to(k.dtype), log_z)
        o, s = linear_attn_step(q, (k - log_z).exp(), v, g, s, scale=self.key_dim**-0.5)
        return self._output(o, x_t), (s, log_z.to(s.dtype))
