"""The hard-wired in-context n-gram head of "In-Context Language Learning".

Akyürek et al., "In-Context Language Learning: Architectures and Algorithms", ICML 2024,
https://arxiv.org/abs/2401.12973: Transformers solve in-context language learning with heads that
look up earlier occurrences of the current n-gram and copy the token that followed; adding such a
head by hand helps recurrent and convolutional models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.registry import register_layer

__all__ = ["NGramHead", "ngram_ids"]


def ngram_ids(ids: Tensor, n: int) -> Tensor:
    """One id per n-gram ending at each position: equal ids ⇔ equal n-grams (within the whole tensor).

    ``ids`` holds one token id per position, -1 for an invalid slot; a window that reaches before
    the start or over an invalid slot gets -1.

    Shapes:
        ids [B, S] long -> [B, S] long.
    """
    windows = F.pad(ids, (n - 1, 0), value=-1).unfold(1, n, 1)
    complete = (windows >= 0).all(-1)
    _, grams = torch.unique(windows.reshape(-1, n), dim=0, return_inverse=True)
    return torch.where(complete, grams.view_as(ids), -1)


@register_layer("ngram_head")
class NGramHead(SequenceLayer):
    r"""Attend uniformly to the earlier positions that follow an occurrence of the current n-gram, and copy them.

    Tokens are identified by their input vectors: two positions hold the same token when their
    inputs are exactly equal, which is true of the rows of an embedding table (so place the head
    on embeddings, or on anything computed from the token alone). Position i matches position j
    when the n tokens before j equal the n tokens ending at i; the output averages the matched
    positions' inputs, i.e. the tokens that followed the n-gram before:

    .. math::
        J_i = \{\, j \le i : x_{j-n+l} = x_{i-n+1+l},\ l = 0, \dots, n-1 \,\}, \qquad
        y_i = W_o W_v \frac{1}{|J_i|} \sum_{j \in J_i} x_j \quad (y_i = 0 \text{ if } J_i = \varnothing)

    (averaging before the value projection :math:`W_v` equals averaging the values, by linearity).
    The match matrix comes from integer ids: ``torch.unique`` numbers the distinct input vectors,
    then the distinct n-grams of ids, and one comparison of n-gram ids gives all of [T, S] at once.
    Add the output residually; matching is not differentiable, so gradients reach the copied
    inputs and the projections only.

    The state is the history, like attention's KV cache: the past inputs and their token ids
    (the slot of the token's first occurrence in the row; -1 marks an empty slot), padding first,
    so every row's valid tokens end at the last slot and the n-gram windows of the next call run on.
    ``step`` compares the new input with the S cached ones once (O(S D)) and then n-grams of ids
    (O(S n)).

    Args:
        d_model: width D.
        n: the n-gram length matched before each position (default 2).

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (inputs [B, S, D], ids [B, S] long) with S cached slots.
    """

    token_inputs = True

    def __init__(self, d_model: int, n: int = 2) -> None:
        super().__init__(d_model)
        if n < 1:
            raise ValueError(f"n, the n-gram length, must be >= 1, got {n}")
        self.n = n
        self.value = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        dtype = dtype or self.value.weight.dtype
        history = torch.zeros(batch_size, 0, self.d_model, device=device, dtype=dtype)
        return history, torch.zeros(batch_size, 0, dtype=torch.long, device=device)

    def state_shapes(self, batch_size: int) -> list[tuple[int | None, ...]]:
        return [(batch_size, None, self.d_model), (batch_size, None)]

    def _check_state(self, state: State, batch: int) -> None:
        super()._check_state(state, batch)
        if state[0].shape[1] != state[1].shape[1]:
            raise ValueError("ngram_head state: inputs and token ids must cover the same number of slots")

    def attention_pattern(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The weights the head puts on each position of ``x`` (a fresh sequence): uniform over the
        matches, a zero row where nothing matches.

        Shapes:
            x [B, T, D], lengths [B] -> [B, T, T], row i over positions j.
        """
        self._check_input(x, ndim=3, what="x [B, T, D]")
        valid = torch.ones_like(x[..., 0], dtype=torch.bool)
        if lengths is not None:
            valid = valid_mask(self._check_lengths(lengths, x.shape[0], x.shape[1], x.device), x.shape[1])
        match = self._matches(_token_ids(x, valid), x.shape[1]).to(x.dtype)
        return match / match.sum(-1, keepdim=True).clamp(min=1)

    def _matches(self, ids: Tensor, queries: int) -> Tensor:
        """match[b, i, j]: position j follows an earlier occurrence of the n-gram ending at query i, j <= i.

        Shapes:
            ids [B, S] -> [B, queries, S] bool, for the last ``queries`` positions.
        """
        span = ids.shape[1]
        grams = ngram_ids(ids, self.n)
        # query i: the n-gram ending at i; key j: the n-gram ending at j - 1
        query = grams[:, span - queries :]
        key = F.pad(grams[:, :-1], (1, 0), value=-1)
        positions = torch.arange(span, device=ids.device)
        earlier = positions <= positions[span - queries :, None]
        return (query[..., None] == key[:, None, :]) & (query >= 0)[..., None] & earlier

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        seq_len, width = x.shape[1:]
        history, history_ids = state
        new_valid = torch.ones_like(x[..., 0], dtype=torch.bool) if lengths is None else valid_mask(lengths, seq_len)
        valid = torch.cat([history_ids >= 0, new_valid], 1)
        seq = torch.where(valid[..., None], torch.cat([history, x], 1), 0.0)
        ids = _token_ids(seq, valid)
        y = self._copy(self._matches(ids, seq_len).to(x.dtype), seq)
        if lengths is not None:
            # move each row's right padding to the front, so its valid slots end at the last one
            span = seq.shape[1]
            shift = (seq_len - lengths)[:, None]
            index = (torch.arange(span, device=x.device) - shift) % span
            seq = seq.gather(1, index[..., None].expand(-1, -1, width))
            ids = torch.where(ids >= 0, ids + shift, -1).gather(1, index)
        return y, (seq, ids)

    def _copy(self, match: Tensor, seq: Tensor) -> Tensor:
        """The projected mean of the matched inputs: match [B, T, S], seq [B, S, D] -> [B, T, D]."""
        mean = (match @ seq) / match.sum(-1, keepdim=True).clamp(min=1)
        return self.out(self.value(mean))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        history, ids = state
        n, cached = self.n, history.shape[1]
        seq = torch.cat([history, x_t[:, None]], 1)
        # the new token's id: the first slot holding the same input (its own slot, the last, if none)
        same = ~(seq != x_t[:, None]).any(-1) & (F.pad(ids, (0, 1), value=cached) >= 0)
        ids = torch.cat([ids, same.to(torch.uint8).argmax(-1, keepdim=True)], 1)
        if cached < n:
            return torch.zeros_like(x_t), (seq, ids)
        # key windows: slots j - n .. j - 1 for j = n .. cached; the query window: the last n slots
        keys = ids[:, :-1].unfold(1, n, 1)
        query = ids[:, -n:, None].transpose(1, 2)
        match = (keys == query).all(-1) & (keys >= 0).all(-1) & (query >= 0).all(-1)
        y = self._copy(match.to(x_t.dtype)[:, None], seq[:, n:])
        return y[:, 0], (seq, ids)


def _token_ids(seq: Tensor, valid: Tensor) -> Tensor:
    """Each slot's token id: the slot of the first equal input in its row, -1 where not ``valid``.

    Shapes:
        seq [B, S, D], valid [B, S] bool -> [B, S] long.
    """
    batch, span, width = seq.shape
    _, tokens = torch.unique(seq.detach().reshape(-1, width), dim=0, return_inverse=True)
    distinct = int(tokens.max()) + 1
    tokens = torch.where(valid, tokens.view(batch, span), distinct)
    positions = torch.arange(span, device=seq.device).expand(batch, span)
    first = positions.new_full((batch, distinct + 1), span).scatter_reduce(1, tokens, positions, "amin")
    return torch.where(valid, first.gather(1, tokens), -1)
