"""Metrics of next-symbol prediction against a grammar: greedy accuracy and total variation.

For tasks whose batches carry ``"legal"`` [B, T, V] bool — the symbols that may follow each
position under the task's automaton (:class:`~recur_core.tasks.RegBenchData`,
:class:`~recur_core.tasks.ReberData`). Akyürek et al., "In-Context Language Learning:
Architectures and Algorithms", ICML 2024, https://arxiv.org/abs/2401.12973, score models this way:
a sampled next token is one of several right answers, so the observed token is a noisy target,
while the legal set is the exact one. Positions with no legal symbol (padding, the end of a
sequence) are not scored.

.. code-block:: python

    logits = model(batch["inputs"], batch["lengths"])        # [B, T, V]
    greedy_accuracy(logits, batch["legal"])                   # share of argmax tokens that are legal
    total_variation_distance(logits, batch["legal"])          # vs uniform over the legal symbols
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["greedy_accuracy", "total_variation_distance"]


def _check(logits: Tensor, legal: Tensor) -> Tensor:
    if logits.shape != legal.shape or legal.dtype != torch.bool:
        raise ValueError(
            f"logits [B, T, V] and a bool legal mask of the same shape are needed, got logits "
            f"{tuple(logits.shape)} and legal {legal.dtype} {tuple(legal.shape)}"
        )
    scored = legal.any(-1)
    if not bool(scored.any()):
        raise ValueError("legal marks no position with a legal next symbol: nothing to score")
    return scored


def greedy_accuracy(logits: Tensor, legal: Tensor) -> Tensor:
    """Share of scored positions whose most likely next symbol is legal.

    Args:
        logits: next-symbol scores [B, T, V] (logits or log-probabilities).
        legal: [B, T, V] bool, the legal next symbols at each position.

    Returns:
        A scalar in [0, 1], averaged over the positions with at least one legal symbol.
    """
    scored = _check(logits, legal)
    hits = legal.gather(-1, logits.argmax(-1, keepdim=True)).squeeze(-1)
    return hits[scored].float().mean()


def total_variation_distance(logits: Tensor, legal: Tensor) -> Tensor:
    """Mean total variation distance between the model's next-symbol distribution and the grammar's.

    .. math::
        \\mathrm{TV}_t = \\tfrac12 \\sum_v \\bigl| \\mathrm{softmax}(z_t)_v - \\mathbb 1[v \\in A_t] / |A_t| \\bigr|

    with ``A_t`` the legal symbols at position t, each equally likely (the automata of RegBench and
    Reber pick uniformly among their outgoing edges).

    Args:
        logits: next-symbol scores [B, T, V] (logits or log-probabilities).
        legal: [B, T, V] bool, the legal next symbols at each position.

    Returns:
        A scalar in [0, 1], averaged over the positions with at least one legal symbol.
    """
    scored = _check(logits, legal)
    model = logits[scored].float().softmax(-1)
    allowed = legal[scored].float()
    grammar = allowed / allowed.sum(-1, keepdim=True)
    return 0.5 * (model - grammar).abs().sum(-1).mean()
