"""Greedy and beam-search decoding over any step function, vectorised over the batch and the beam.

Used by the sequence-to-sequence model (:mod:`recur_text.models.seq2seq`) and the pointer network
(:mod:`recur_text.models.pointer`). A decoder exposes one step,

.. code-block:: python

    log_probs, state = step(tokens, state, context)   # tokens [N] -> log_probs [N, V]

where ``state`` is a tensor or a nested tuple of tensors with the rows ``N`` first (a core layer's state,
plus whatever the decoder keeps, e.g. the pointer network's mask of chosen inputs) and ``context`` is what
stays fixed while decoding (encoder outputs, padding masks), also rows first. Beam search keeps ``k``
hypotheses per batch item as rows ``b*k .. b*k+k-1``: the state is re-gathered by parent every step, the
context is tiled once (a hypothesis never changes batch item).

Beam search (Sutskever et al. 2014, section 3.2): every step extends each of the ``k`` live hypotheses by
each symbol and keeps the ``k`` best of the ``k * V`` candidates by

.. math::
    s(y) = \\frac{\\log p(y \\mid x)}{|y|^{\\alpha}}

(``alpha = length_penalty``; 0, the paper's search, ranks by log-probability; ``|y|`` counts the end
symbol). A hypothesis that has emitted ``eos`` stays in the beam unchanged (its only continuation is
``eos`` at no cost) and keeps competing; the search stops when all ``k`` have ended or after
``max_len`` symbols, and returns the best-scoring hypothesis per item. With ``k = 1`` it equals
:func:`greedy_search` (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from recur_core.layers.base import map_state

__all__ = ["Decoded", "StepFn", "beam_search", "greedy_search", "tile_rows"]

StepFn = Callable[[Tensor, Any, Any], tuple[Tensor, Any]]


class Decoded(NamedTuple):
    """The result of a search.

    Attributes:
        tokens: [B, L] symbols, ``eos`` after each hypothesis's end (and at its end).
        log_prob: [B] log-probability of each hypothesis (up to and including its ``eos``).
        score: [B] the ranking score (``log_prob / length^alpha``; ``log_prob`` for greedy).
        lengths: [B] symbols up to and including the first ``eos`` (``L`` if it never ended).
    """

    tokens: Tensor
    log_prob: Tensor
    score: Tensor
    lengths: Tensor


def tile_rows(tree: Any, k: int) -> Any:
    """Repeat each row of a tensor (or nested tuple of tensors, rows first) ``k`` times: ``b`` -> ``b*k .. b*k+k-1``."""
    if tree is None:
        return None
    return map_state(lambda t: t.repeat_interleave(k, dim=0), tree)


def _check(max_len: int, batch_size: int) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")


@torch.no_grad()
def greedy_search(step: StepFn, state: Any, context: Any, start: Tensor, eos: int, max_len: int) -> Decoded:
    """The most probable symbol at every step, from ``start`` [B] until ``eos`` or ``max_len`` symbols.

    ``step(tokens [B], state, context) -> (log_probs [B, V], state)``; see the module docstring.
    """
    batch = start.shape[0]
    _check(max_len, batch)
    tokens = torch.full((batch, max_len), eos, dtype=torch.long, device=start.device)
    log_prob = torch.zeros(batch, device=start.device)
    done = torch.zeros(batch, dtype=torch.bool, device=start.device)
    symbols = start
    for t in range(max_len):
        logp, state = step(symbols, state, context)
        best, symbols = logp.float().max(-1)
        log_prob = log_prob + best.masked_fill(done, 0.0)
        symbols = symbols.masked_fill(done, eos)
        tokens[:, t] = symbols
        done = done | (symbols == eos)
        if bool(done.all()):
            break
    lengths = _lengths(tokens, eos)
    return Decoded(tokens, log_prob, log_prob.clone(), lengths)


def _lengths(tokens: Tensor, eos: int) -> Tensor:
    """Symbols up to and including the first ``eos`` of each row (the row's length when there is none)."""
    is_eos = tokens == eos
    first = torch.where(is_eos.any(-1), is_eos.float().argmax(-1), torch.full_like(tokens[:, 0], tokens.shape[1] - 1))
    return first + 1


@torch.no_grad()
def beam_search(
    step: StepFn,
    state: Any,
    context: Any,
    start: Tensor,
    eos: int,
    max_len: int,
    beam_size: int = 4,
    length_penalty: float = 0.0,
) -> Decoded:
    """The best hypothesis of a beam search of width ``beam_size``, all batch items and beams at once.

    Args:
        step: ``step(tokens [N], state, context) -> (log_probs [N, V], state)``, ``N = B * beam_size``.
        state: the decoder's initial state for the ``B`` items (rows first); tiled here.
        context: fixed per-item tensors (rows first), tiled here; passed to ``step`` as is.
        start: [B] the first input symbol (e.g. BOS).
        eos: the end symbol.
        max_len: most symbols per hypothesis.
        beam_size: ``k``.
        length_penalty: ``alpha`` of ``log p / |y|^alpha``; 0 ranks by log-probability.

    Shapes:
        start [B] -> tokens [B, max_len], log_prob / score / lengths [B].
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0 (0: rank by log-probability), got {length_penalty}")
    batch, k, device = start.shape[0], beam_size, start.device
    _check(max_len, batch)
    state, context = tile_rows(state, k), tile_rows(context, k)
    symbols = start.repeat_interleave(k)
    tokens = torch.full((batch, k, max_len), eos, dtype=torch.long, device=device)
    log_prob = torch.zeros(batch, k, device=device)
    # only beam 0 is live at first, so the first step does not fill the beam with k copies of one symbol
    log_prob[:, 1:] = float("-inf")
    lengths = torch.zeros(batch, k, dtype=torch.long, device=device)
    done = torch.zeros(batch, k, dtype=torch.bool, device=device)
    offsets = (torch.arange(batch, device=device) * k)[:, None]
    for t in range(max_len):
        logp, state = step(symbols, state, context)
        vocab = logp.shape[-1]
        logp = logp.float().view(batch, k, vocab)
        # an ended hypothesis has one continuation, eos at no cost, and keeps its length
        ended = torch.full_like(logp, float("-inf"))
        ended[..., eos] = 0.0
        logp = torch.where(done[..., None], ended, logp)
        total = (log_prob[..., None] + logp).view(batch, k * vocab)
        new_lengths = (lengths + (~done).long())[..., None].expand(batch, k, vocab).reshape(batch, k * vocab)
        ranked = total / new_lengths.clamp(min=1).float().pow(length_penalty) if length_penalty else total
        # fewer than k finite candidates (a tiny vocabulary): the -inf ones are picked but never win
        _, chosen = ranked.topk(k, dim=-1)
        parent, picked = chosen // vocab, chosen % vocab
        log_prob = total.gather(-1, chosen)
        lengths = new_lengths.gather(-1, chosen)
        tokens = tokens.gather(1, parent[..., None].expand(batch, k, max_len))
        tokens[:, :, t] = picked
        done = done.gather(-1, parent) | (picked == eos)
        rows = (parent + offsets).view(-1)
        state = map_state(lambda s, rows=rows: s.index_select(0, rows), state)
        symbols = picked.view(-1)
        if bool(done.all()):
            break
    score = log_prob / lengths.clamp(min=1).float().pow(length_penalty) if length_penalty else log_prob
    best = score.argmax(-1)[:, None]
    return Decoded(
        tokens.gather(1, best[..., None].expand(batch, 1, max_len))[:, 0],
        log_prob.gather(1, best)[:, 0],
        score.gather(1, best)[:, 0],
        lengths.gather(1, best)[:, 0],
    )
