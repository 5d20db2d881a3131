r"""Deep encoder-decoder (Sutskever, Vinyals & Le 2014) over any core layer, with greedy and beam search.

Sutskever, Vinyals & Le, "Sequence to Sequence Learning with Neural Networks", NeurIPS 2014,
https://arxiv.org/abs/1409.3215.

An encoder stack reads the source ``x_1 .. x_S`` (reversed when ``reverse_source``: the paper's trick,
which puts the first source words next to the first target words and so shortens the "minimal time
lag"), and its final state per layer starts the decoder stack of the same depth, which models

.. math::
    p(y_1 .. y_T \mid x) = \prod_t p(y_t \mid v, y_1 .. y_{t-1}), \qquad
    p(y_t \mid \cdot) = \mathrm{softmax}(W h^{dec}_{L,t})

with :math:`v` the encoder's final states. Training is teacher forcing (the decoder reads
``[BOS] + y_1 .. y_{T-1}`` and is scored on ``y_1 .. y_T`` ending in EOS); decoding is greedy or a
left-to-right beam search (:mod:`recur_text.models.search`; the paper uses beam widths 1, 2 and 12,
without length normalisation, which ``length_penalty`` adds as an option).

The paper: 4 layers of 1000 LSTM cells, 1000-dimensional embeddings, separate encoder and decoder
weights, 160k/80k vocabularies, plain stacking. Here the layer is any registered causal core layer
(``layer``), the sizes are small for CPU, and ``residual=True`` wraps each layer in a pre-norm residual
block (core's :class:`~recur_core.models.sequence_model.Block`), which layers designed as mixers inside
residual blocks (GLA, Mamba, ...) need; the default, ``residual=False``, is the paper's plain stack.
Padding id 0, BOS 1, EOS 2 on both sides (:mod:`recur_text.data.translation`).

One addition to the paper: the encoder's top output at the last source token, :math:`v`, is also added
(through a linear map) to the decoder's first input (the BOS embedding). For an LSTM it repeats what the
final state holds; for layers whose state is not their output (GLA, DeltaNet: a key-value memory, read
through an output gate) it is what makes the top encoder layer's output path matter at all.

Shapes:
    src [B, S] ids, src_lengths [B], tgt_in [B, T] ids -> logits [B, T, tgt_vocab_size].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core.layers.base import State
from recur_core.models.sequence_model import Block
from recur_core.registry import build_layer, register_model
from recur_text.data.translation import BOS, EOS, PAD
from recur_text.models.search import Decoded, beam_search, greedy_search

__all__ = ["Seq2Seq", "Seq2SeqConfig", "reverse_padded", "seq2seq_translation"]


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each row of ``x`` [B, S, ...] within its first ``lengths[b]`` positions; padding stays last."""
    steps = torch.arange(x.shape[1], device=x.device)
    index = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    if x.dim() > 2:
        index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


class PlainLayer(nn.Module):
    """One layer of the paper's plain stack: ``dropout(layer(x))``, no residual, no norm."""

    def __init__(self, layer: str, d_model: int, layer_kwargs: dict, dropout: float) -> None:
        super().__init__()
        self.mixer = build_layer(layer, d_model, **layer_kwargs)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, state: State | None, lengths: Tensor | None) -> tuple[Tensor, State]:
        y, state = self.mixer(x, state=state, lengths=lengths)
        return self.drop(y), state

    def step(self, x_t: Tensor, state: State | None) -> tuple[Tensor, State]:
        return self.mixer.step(x_t, state)


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int = 32  # source ids, specials 0-2 included
    tgt_vocab_size: int = 32  # target ids, specials 0-2 included
    d_model: int = 128  # embedding and layer width (paper: 1000)
    n_layers: int = 2  # depth of the encoder and of the decoder (paper: 4)
    layer: str = "lstm"  # any registered causal layer (paper: LSTM)
    layer_kwargs: dict[str, Any] = field(default_factory=dict)
    reverse_source: bool = True  # read the source backwards (the paper's trick)
    residual: bool = False  # pre-norm residual blocks instead of the paper's plain stack
    dropout: float = 0.0
    max_len: int = 64  # default decoding limit (symbols, EOS included)

    def __post_init__(self) -> None:
        self.layer_kwargs = dict(self.layer_kwargs or {})  # None (a recipe's null) means the layer's defaults


class Seq2Seq(nn.Module):
    """Encoder stack -> final states -> decoder stack -> softmax over the target vocabulary.

    Shapes:
        forward: src [B, S], src_lengths [B], tgt_in [B, T] -> logits [B, T, V_tgt].
        translate: src [B, S], src_lengths [B] -> :class:`~recur_text.models.search.Decoded`
        (tokens [B, L], EOS-terminated).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = Seq2SeqConfig(**kwargs)
        if cfg.n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {cfg.n_layers}")
        for name in ("src_vocab_size", "tgt_vocab_size"):
            if getattr(cfg, name) <= EOS + 1:
                raise ValueError(
                    f"{name} must exceed {EOS + 1} (ids 0-2 are padding, BOS and EOS), got {getattr(cfg, name)}"
                )
        if cfg.max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {cfg.max_len}")

        def stack() -> nn.ModuleList:
            if cfg.residual:
                blocks = (
                    Block(cfg.layer, cfg.d_model, cfg.layer_kwargs, 0.0, cfg.dropout) for _ in range(cfg.n_layers)
                )
            else:
                blocks = (
                    PlainLayer(cfg.layer, cfg.d_model, cfg.layer_kwargs, cfg.dropout) for _ in range(cfg.n_layers)
                )
            return nn.ModuleList(blocks)

        self.src_embedding = nn.Embedding(cfg.src_vocab_size, cfg.d_model, padding_idx=PAD)
        self.tgt_embedding = nn.Embedding(cfg.tgt_vocab_size, cfg.d_model, padding_idx=PAD)
        self.encoder = stack()
        self.decoder = stack()
        if not self.decoder[0].mixer.causal:
            raise ValueError(f"layer {cfg.layer!r} is not causal and cannot decode step by step; choose a causal layer")
        self.norm = nn.LayerNorm(cfg.d_model) if cfg.residual else nn.Identity()
        self.drop = nn.Dropout(cfg.dropout)
        self.bridge = nn.Linear(cfg.d_model, cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.tgt_vocab_size)

    # ----- encoder and teacher forcing -------------------------------------------------------------

    def _check(self, ids: Tensor, vocab: int, what: str) -> None:
        if ids.dim() != 2 or ids.is_floating_point():
            raise ValueError(f"{what} must be integer ids [B, L], got {ids.dtype} {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
            raise ValueError(
                f"{what} hold ids up to {int(ids.max())}, outside 0..{vocab - 1}; set the vocabulary size to the data's"
            )

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[tuple[State, ...], Tensor]:
        """The encoder's final state per layer (each row's state at its last source token), and the
        bridge term [B, D] added to the decoder's first input (from the top output at the last token)."""
        self._check(src, self.config.src_vocab_size, "src")
        if self.config.reverse_source:
            src = reverse_padded(src, src_lengths)
        h = self.drop(self.src_embedding(src))
        states = []
        for block in self.encoder:
            h, state = block(h, None, src_lengths)
            states.append(state)
        last = h[torch.arange(h.shape[0], device=h.device), src_lengths.to(h.device) - 1]
        return tuple(states), self.bridge(last)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: logits [B, T, V] of the next target symbol after each of ``tgt_in`` ([BOS] + y)."""
        self._check(tgt_in, self.config.tgt_vocab_size, "tgt_in")
        states, first = self.encode(src, src_lengths)
        h = self.tgt_embedding(tgt_in)
        h = self.drop(torch.cat([h[:, :1] + first[:, None], h[:, 1:]], dim=1))
        for block, state in zip(self.decoder, states):
            h, _ = block(h, state, None)
        return self.head(self.norm(h))

    # ----- decoding ---------------------------------------------------------------------------------

    def _step(self, symbols: Tensor, state: tuple[Tensor, tuple[State, ...]], context: Any) -> tuple[Tensor, Any]:
        # the bridge term enters the first input only; it is zero after the first step
        pending, states = state
        h = self.tgt_embedding(symbols) + pending
        new_states = []
        for block, state in zip(self.decoder, states):
            h, state = block.step(h, state)
            new_states.append(state)
        logp = self.head(self.norm(h)).float().log_softmax(-1)
        # padding and BOS are never emitted
        logp[:, PAD] = float("-inf")
        logp[:, BOS] = float("-inf")
        return logp, (torch.zeros_like(pending), tuple(new_states))

    @torch.no_grad()
    def translate(
        self,
        src: Tensor,
        src_lengths: Tensor,
        method: Literal["greedy", "beam"] = "greedy",
        beam_size: int = 4,
        length_penalty: float = 0.0,
        max_len: int | None = None,
    ) -> Decoded:
        """Decode every source at once: greedy, or a beam search of width ``beam_size`` (see ``models.search``)."""
        max_len = self.config.max_len if max_len is None else max_len
        states, first = self.encode(src, src_lengths)
        state = (first, states)
        start = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)
        if method == "greedy":
            return greedy_search(self._step, state, None, start, EOS, max_len)
        if method == "beam":
            return beam_search(self._step, state, None, start, EOS, max_len, beam_size, length_penalty)
        raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")

    @torch.no_grad()
    def sequence_log_prob(self, src: Tensor, src_lengths: Tensor, tgt: Tensor) -> Tensor:
        """log p(tgt | src) [B] of EOS-terminated targets ``tgt`` [B, T] (padding after the EOS)."""
        tgt_in = torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], dim=1)
        logp = self(src, src_lengths, tgt_in.masked_fill(tgt_in == PAD, EOS)).float().log_softmax(-1)
        picked = logp.gather(-1, tgt[..., None])[..., 0]
        return (picked * (tgt != PAD)).sum(-1)

    def example_input(self, batch_size: int = 2, src_len: int = 7, tgt_len: int = 6) -> tuple[Tensor, ...]:
        """A valid batch (src, src_lengths, tgt_in) for tests and shape checks."""
        src = torch.randint(EOS + 1, self.config.src_vocab_size, (batch_size, src_len))
        lengths = torch.full((batch_size,), src_len, dtype=torch.long)
        lengths[1::2] = max(1, src_len - 2)
        tgt_in = torch.randint(EOS + 1, self.config.tgt_vocab_size, (batch_size, tgt_len))
        tgt_in[:, 0] = BOS
        return src, lengths, tgt_in

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())


@register_model("seq2seq_translation")
def seq2seq_translation(**kwargs: Any) -> Seq2Seq:
    """:class:`Seq2Seq`; keyword arguments as :class:`Seq2SeqConfig` (2 LSTM layers of 128, reversed source)."""
    return Seq2Seq(**kwargs)
