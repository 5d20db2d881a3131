r"""Pointer network (Vinyals, Fortunato & Jaitly 2015) over any core layer, with greedy and beam decoding.

Vinyals, Fortunato & Jaitly, "Pointer Networks", NeurIPS 2015, https://arxiv.org/abs/1506.03134.

An encoder reads the points :math:`P_1 .. P_n` (a linear embedding of their coordinates, then a stack of core
layers) into states :math:`e_1 .. e_n`; a decoder stack, started from the encoder's final states, reads at
step :math:`i` the coordinates of the point it chose at step :math:`i - 1` (a learned start vector at
:math:`i = 1`) and gives :math:`d_i`. The output distribution is content-based attention over the inputs,
used as the pointer itself:

.. math::
    u^i_j = v^\top \tanh(W_1 e_j + W_2 d_i), \quad j \in \{0, 1, .., n\}, \qquad
    p(C_i \mid C_1 .. C_{i-1}, P) = \mathrm{softmax}(u^i)

where :math:`j = 0` is the end symbol, whose :math:`e_0` is a learned vector. Scores of padding positions
are masked; with ``mask_chosen`` (the permutation tasks: hull, TSP) so are points already chosen, and once
every point is chosen only the end is left; with ``fixed_length`` (TSP) the end is masked until then, so a
decoded tour is always a permutation. The paper uses a single LSTM layer of 256/512 units, trained on
n = 5-50 with SGD; here the layer is any registered causal core layer (``layer``) and the sizes are small.

Shapes:
    points [B, n, input_dim], lengths [B], targets [B, L] (1..n points, 0 end, -100 padding)
    -> logits [B, L, n + 1] (forward, teacher forcing; masked scores are -1e9).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from recur_core.layers.base import State
from recur_core.models.sequence_model import Block
from recur_core.registry import register_model
from recur_text.models.search import Decoded, beam_search, greedy_search
from recur_text.models.seq2seq import PlainLayer

__all__ = ["END", "PointerAttention", "PointerNet", "PointerNetConfig", "pointer_net"]

END = 0
_NEG = float("-inf")
# masked teacher-forcing scores: finite, so a batch's logits stay finite, and far below any real score
MASKED_SCORE = -1e9


class PointerAttention(nn.Module):
    r"""Additive attention used as the output: :math:`u_j = v^\top \tanh(W_1 e_j + W_2 d)`.

    Shapes:
        keys [B, n + 1, A] (``W_1 e`` precomputed by :meth:`keys`), query [B, ..., D] -> scores [B, ..., n + 1].
    """

    def __init__(self, d_model: int, d_attention: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d_model, d_attention, bias=False)
        self.w2 = nn.Linear(d_model, d_attention, bias=False)
        self.v = nn.Linear(d_attention, 1, bias=False)

    def keys(self, encoded: Tensor) -> Tensor:
        return self.w1(encoded)

    def forward(self, keys: Tensor, query: Tensor) -> Tensor:
        q = self.w2(query)
        if q.dim() == 2:
            return self.v(torch.tanh(keys + q[:, None]))[..., 0]
        return self.v(torch.tanh(keys[:, None] + q[:, :, None]))[..., 0]


@dataclass
class PointerNetConfig:
    input_dim: int = 2  # features per input point (coordinates)
    d_model: int = 128  # embedding and layer width (paper: 256 or 512)
    d_attention: int | None = None  # width of the attention's tanh layer; None: d_model
    n_layers: int = 1  # depth of the encoder and of the decoder (paper: 1)
    layer: str = "lstm"  # any registered causal layer (paper: LSTM)
    layer_kwargs: dict[str, Any] = field(default_factory=dict)
    residual: bool = False  # pre-norm residual blocks instead of a plain stack
    mask_chosen: bool = True  # a point is chosen at most once (hull, TSP)
    fixed_length: bool = False  # end only after every point is chosen (TSP)
    max_len: int | None = None  # decoding limit; None: n + 1 with mask_chosen, else 3 * (2n) + 1 (triangles)

    def __post_init__(self) -> None:
        self.layer_kwargs = dict(self.layer_kwargs or {})  # None (a recipe's null) means the layer's defaults


class PointerNet(nn.Module):
    """Encoder stack over the points -> decoder stack fed the chosen points -> pointer attention.

    Shapes:
        forward: points [B, n, input_dim], lengths [B], targets [B, L] -> logits [B, L, n + 1].
        decode: points [B, n, input_dim], lengths [B] -> :class:`~recur_text.models.search.Decoded`
        (tokens [B, L] of pointer indices, END-terminated).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = PointerNetConfig(**kwargs)
        if cfg.n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {cfg.n_layers}")
        if cfg.input_dim < 1:
            raise ValueError(f"input_dim must be at least 1, got {cfg.input_dim}")
        if cfg.fixed_length and not cfg.mask_chosen:
            raise ValueError("fixed_length needs mask_chosen (a tour visits each point once); set mask_chosen: true")

        def stack() -> nn.ModuleList:
            if cfg.residual:
                return nn.ModuleList(
                    Block(cfg.layer, cfg.d_model, cfg.layer_kwargs, 0.0, 0.0) for _ in range(cfg.n_layers)
                )
            return nn.ModuleList(PlainLayer(cfg.layer, cfg.d_model, cfg.layer_kwargs, 0.0) for _ in range(cfg.n_layers))

        self.embed = nn.Linear(cfg.input_dim, cfg.d_model)
        self.encoder = stack()
        self.decoder = stack()
        if not self.decoder[0].mixer.causal:
            raise ValueError(f"layer {cfg.layer!r} is not causal and cannot decode step by step; choose a causal layer")
        self.end = nn.Parameter(torch.randn(cfg.d_model) * 0.1)
        self.start = nn.Parameter(torch.randn(cfg.d_model) * 0.1)
        self.enc_norm = nn.LayerNorm(cfg.d_model) if cfg.residual else nn.Identity()
        self.dec_norm = nn.LayerNorm(cfg.d_model) if cfg.residual else nn.Identity()
        self.attention = PointerAttention(cfg.d_model, cfg.d_attention or cfg.d_model)

    def _check(self, points: Tensor, lengths: Tensor) -> None:
        if points.dim() != 3 or points.shape[-1] != self.config.input_dim or not points.is_floating_point():
            raise ValueError(
                f"points must be float [B, n, {self.config.input_dim}], got {points.dtype} {tuple(points.shape)}"
            )
        if lengths.shape != points.shape[:1]:
            raise ValueError(f"lengths must be [B] = [{points.shape[0]}], got {tuple(lengths.shape)}")

    def encode(self, points: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, tuple[State, ...]]:
        """Attention keys [B, n + 1, A] (end first), valid positions [B, n + 1], the encoder's final states."""
        self._check(points, lengths)
        h = self.embed(points)
        states = []
        for block in self.encoder:
            h, state = block(h, None, lengths)
            states.append(state)
        encoded = torch.cat([self.end.expand(h.shape[0], 1, -1), self.enc_norm(h)], dim=1)
        valid = torch.arange(h.shape[1] + 1, device=h.device) <= lengths[:, None]
        return self.attention.keys(encoded), valid, tuple(states)

    def _inputs(self, points: Tensor, previous: Tensor) -> Tensor:
        """Decoder inputs for the previously chosen indices ``previous`` [B, L] (0: the start or the end)."""
        padded = torch.cat([torch.zeros_like(points[:, :1]), points], dim=1)
        chosen = padded.gather(1, previous.clamp(min=0)[..., None].expand(*previous.shape, points.shape[-1]))
        return self.embed(chosen)

    def forward(self, points: Tensor, lengths: Tensor, targets: Tensor) -> Tensor:
        """Teacher forcing: logits [B, L, n + 1] of each target pointer given the previous ones."""
        keys, valid, states = self.encode(points, lengths)
        if targets.dim() != 2 or targets.shape[0] != points.shape[0]:
            raise ValueError(f"targets must be [B, L] pointer indices, got {tuple(targets.shape)}")
        n = points.shape[1]
        targets = targets.long()
        if int(targets.max()) > n:
            raise ValueError(f"targets point at index {int(targets.max())} but the sets have at most {n} points")
        previous = torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1]], dim=1)
        x = self._inputs(points, previous)
        x = torch.cat([self.start.expand(x.shape[0], 1, -1), x[:, 1:]], dim=1)
        for block, state in zip(self.decoder, states):
            x, _ = block(x, state, None)
        scores = self.attention(keys, self.dec_norm(x))
        # chosen before step t: the one-hot targets of steps < t
        picks = torch.zeros(*targets.shape, n + 1, dtype=torch.bool, device=targets.device)
        picks.scatter_(-1, targets.clamp(min=0)[..., None], (targets >= 0)[..., None])
        chosen = torch.cumsum(picks.long(), dim=1) - picks.long() > 0
        mask = self._mask(valid[:, None], chosen, (~chosen[..., 1:] & valid[:, None, 1:]).any(-1))
        return scores.masked_fill(~mask, MASKED_SCORE)

    def _mask(self, valid: Tensor, chosen: Tensor, points_left: Tensor) -> Tensor:
        """Allowed pointers: valid positions; minus chosen ones (``mask_chosen``); only the end once nothing is
        left; no end while points are left (``fixed_length``)."""
        allowed = valid.expand_as(chosen).clone()
        if self.config.mask_chosen:
            allowed[..., 1:] &= ~chosen[..., 1:]
            allowed[..., 0] |= ~points_left
            if self.config.fixed_length:
                allowed[..., 0] &= ~points_left
        return allowed

    # ----- decoding ---------------------------------------------------------------------------------

    def _step(self, symbols: Tensor, state: tuple, context: tuple) -> tuple[Tensor, tuple]:
        keys, valid, points = context
        states, chosen, first = state
        x = self._inputs(points, symbols[:, None])[:, 0]
        x = torch.where(first[:, None], self.start.expand_as(x), x)
        new_states = []
        for block, s in zip(self.decoder, states):
            x, s = block.step(x, s)
            new_states.append(s)
        scores = self.attention(keys, self.dec_norm(x))
        points_left = (~chosen[:, 1:] & valid[:, 1:]).any(-1)
        allowed = self._mask(valid, chosen, points_left)
        logp = scores.masked_fill(~allowed, _NEG).float().log_softmax(-1)
        return logp, (tuple(new_states), chosen, torch.zeros_like(first))

    def _choose(self, step):
        """Wrap a step so that the chosen-set in the state records the symbol just fed in."""

        def wrapped(symbols: Tensor, state: tuple, context: tuple) -> tuple[Tensor, tuple]:
            states, chosen, first = state
            chosen = chosen.clone()
            chosen[torch.arange(symbols.shape[0], device=symbols.device), symbols] |= ~first
            chosen[:, 0] = False
            return step(symbols, (states, chosen, first), context)

        return wrapped

    def default_max_len(self, n: int) -> int:
        if self.config.max_len is not None:
            return self.config.max_len
        return n + 1 if self.config.mask_chosen else 6 * n + 1

    @torch.no_grad()
    def decode(
        self,
        points: Tensor,
        lengths: Tensor,
        method: str = "greedy",
        beam_size: int = 4,
        length_penalty: float = 0.0,
        max_len: int | None = None,
    ) -> Decoded:
        """Pointer sequences for every set at once: greedy, or a beam search of width ``beam_size``."""
        keys, valid, states = self.encode(points, lengths)
        batch, n = points.shape[:2]
        max_len = self.default_max_len(n) if max_len is None else max_len
        chosen = torch.zeros(batch, n + 1, dtype=torch.bool, device=points.device)
        first = torch.ones(batch, dtype=torch.bool, device=points.device)
        state, context = (states, chosen, first), (keys, valid, points)
        start = torch.zeros(batch, dtype=torch.long, device=points.device)
        step = self._choose(self._step)
        if method == "greedy":
            return greedy_search(step, state, context, start, END, max_len)
        if method == "beam":
            return beam_search(step, state, context, start, END, max_len, beam_size, length_penalty)
        raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")

    def example_input(self, batch_size: int = 2, n: int = 6) -> tuple[Tensor, ...]:
        """A valid batch (points, lengths, targets: the identity order, then the end)."""
        points = torch.rand(batch_size, n, self.config.input_dim)
        lengths = torch.full((batch_size,), n, dtype=torch.long)
        lengths[1::2] = n - 1
        targets = torch.arange(1, n + 2).repeat(batch_size, 1)
        targets[torch.arange(n + 1)[None] >= lengths[:, None]] = -100
        targets[torch.arange(batch_size), lengths] = END
        return points, lengths, targets

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())


@register_model("pointer_net")
def pointer_net(**kwargs: Any) -> PointerNet:
    """:class:`PointerNet`; keyword arguments as :class:`PointerNetConfig` (default: one LSTM layer of 128)."""
    return PointerNet(**kwargs)
