r"""GRNet: goal recognition as multi-label classification of the goal facts from a trace of observed actions.

Chiari, Gerevini, Percassi, Putelli, Serina & Olivato, "Goal Recognition as a Deep Learning Task: the
GRNet Approach", ICAPS 2023, https://arxiv.org/abs/2210.02377; official code (inference notebook and
dictionaries) https://github.com/mattia93/GRNet (``code/GRNet_approach.ipynb``).

An observed trace is a sequence of grounded action ids (``(unstack c e)`` is one token, as the
official ``dizionario``); id 0 is padding, at the end of the trace (the official
``get_observations_array`` fills a zero array from position 0). The network reads it as

.. math::
    x_t = E[a_t],\quad h_{1..T} = \mathrm{RNN}(x_{1..T}),\quad
    e_t = \tanh(h_t^\top w + b_t),\quad
    \alpha_t = \frac{m_t \exp e_t}{\sum_s m_s \exp e_s + \epsilon},\quad
    c = \sum_t \alpha_t h_t,\quad p = \sigma(W c + b)

with :math:`m_t = 1` on observed steps and 0 on padding: the attention of Yang et al. 2016
("Hierarchical Attention Networks for Document Classification", the official ``AttentionWeights`` +
``ContextVector`` layers: one weight vector w, one bias per *position* b_t, tanh, exp, masked,
normalised with Keras' epsilon 1e-7). p [F] holds one probability per goal fact (the official
``dizionario_goal``), trained with binary cross-entropy against the multi-hot true goal.

Recognition (:func:`score_hypotheses`, :func:`choose_hypothesis`): a candidate goal scores the sum of
its facts' probabilities; the chosen goal is the argmax, ties broken uniformly at random (the official
``get_scores`` / ``get_max`` / ``get_result``).

Shapes:
    actions [B, T] long (0 = padding, right-padded) -> logits [B, F];
    embedding [B, T, E] -> encoder [B, T, H] -> context [B, H] -> logits [B, F].

Faithful to the official code: the HAN attention (per-position bias, so a model has a ``max_len``;
glorot-uniform w, zero b), the padding at the end, the sum-of-probabilities score and the random ties;
traces longer than ``max_len`` keep their first ``max_len`` actions (the official notebook does the
same; :mod:`recur_planning.datamodules` truncates). The official ``max_len`` is 0.7 × the domain's
longest plan (blocksworld 52, logistics 35, satellite 28, zenotravel 28, driverlog 49, depots 44).

[unverified]: the embedding width, the LSTM width, dropout and the training schedule. The official
repository ships only the inference notebook (its ``.h5`` models are not in the snapshot), so these are
not stated anywhere we could read; the defaults here (64/64, no dropout) are ours. Keras' LSTM is
replaced by a core recurrence (``layer``, default ``lstm``), which keeps its width: when
``embedding_dim`` differs from ``hidden_size`` a linear map joins them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from recur_core import build_layer
from recur_core.registry import register_model

__all__ = ["GRNet", "HANAttention", "choose_hypothesis", "hypothesis_matrix", "score_hypotheses"]

# Keras' K.epsilon(), added to the attention normaliser by the official layer
_KERAS_EPSILON = 1e-7


class HANAttention(nn.Module):
    """Masked attention pooling of Yang et al. 2016, as the official ``AttentionWeights`` + ``ContextVector``.

    e_t = tanh(h_t·w + b_t), α_t = m_t·exp(e_t) / (Σ_s m_s·exp(e_s) + 1e-7), c = Σ_t α_t·h_t. The bias
    has one entry per position (``max_len`` of them); exp(tanh(·)) lies in [1/e, e], so no max is
    subtracted. A row with no valid step gets c = 0.

    Args:
        d_model: H, the width of h.
        max_len: the most positions a sequence may have (the length of the per-position bias).

    Shapes:
        h [B, T, H], mask [B, T] bool (T <= max_len) -> (c [B, H], α [B, T]).
    """

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        # Keras glorot_uniform on a vector of D: fan_in = fan_out = D, limit sqrt(6 / 2D)
        limit = math.sqrt(3.0 / d_model)
        self.weight = nn.Parameter(torch.empty(d_model).uniform_(-limit, limit))
        self.bias = nn.Parameter(torch.zeros(max_len))
        self.max_len = max_len

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        steps = h.shape[1]
        if steps > self.max_len:
            raise ValueError(f"HANAttention holds a bias for {self.max_len} positions, got a sequence of {steps}")
        energy = torch.tanh(h @ self.weight + self.bias[:steps])
        weights = energy.exp() * mask.to(h.dtype)
        weights = weights / (weights.sum(dim=1, keepdim=True) + _KERAS_EPSILON)
        return (h * weights.unsqueeze(-1)).sum(dim=1), weights


@register_model("grnet")
class GRNet(nn.Module):
    """GRNet goal recognizer (see the module docstring for the equations and what is [unverified]).

    Args:
        num_actions: grounded actions in the vocabulary; ids are 1..num_actions, 0 is padding.
        num_goal_facts: F, the goal facts scored (one sigmoid each).
        embedding_dim: E, the action embedding width [unverified].
        hidden_size: H, the recurrence width [unverified].
        max_len: the longest trace the attention's per-position bias covers (official: 0.7 × the
            domain's longest plan; 52 for blocksworld).
        layer: core recurrence (official: an LSTM).
        layer_kwargs: extra arguments of ``layer``.
        dropout: dropout on the embedding and on the pooled context [unverified; 0 = none].

    Shapes:
        actions [B, T] long, right-padded with 0 -> logits [B, F] (sigmoid gives the fact probabilities).
    """

    def __init__(
        self,
        num_actions: int = 64,
        num_goal_facts: int = 32,
        embedding_dim: int = 64,
        hidden_size: int = 64,
        max_len: int = 52,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if min(num_actions, num_goal_facts, embedding_dim, hidden_size, max_len) < 1:
            raise ValueError(
                "num_actions, num_goal_facts, embedding_dim, hidden_size and max_len must be at least 1, got "
                f"{num_actions}, {num_goal_facts}, {embedding_dim}, {hidden_size}, {max_len}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.num_actions, self.num_goal_facts, self.max_len = num_actions, num_goal_facts, max_len
        self.embedding = nn.Embedding(num_actions + 1, embedding_dim, padding_idx=0)
        self.project = nn.Linear(embedding_dim, hidden_size) if embedding_dim != hidden_size else nn.Identity()
        self.encoder = build_layer(layer, d_model=hidden_size, **(layer_kwargs or {}))
        self.attention = HANAttention(hidden_size, max_len)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_goal_facts)

    def forward(self, actions: Tensor) -> Tensor:
        if actions.ndim != 2 or actions.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"GRNet expects actions [batch, steps] of integer ids, got {tuple(actions.shape)} {actions.dtype}"
            )
        mask = actions != 0
        if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ValueError("GRNet expects the padding (id 0) at the end of each trace, found an action after it")
        if actions.numel() and (int(actions.min()) < 0 or int(actions.max()) > self.num_actions):
            raise ValueError(
                f"action ids must lie in 0..{self.num_actions} (num_actions), got {int(actions.min())}.."
                f"{int(actions.max())}; set --model.num_actions to the data's vocabulary size"
            )
        lengths = mask.sum(dim=1)
        # padding past the longest trace changes nothing: drop it before the recurrence
        steps = max(1, int(lengths.max())) if actions.shape[1] else 1
        if steps > self.max_len:
            raise ValueError(
                f"a trace has {steps} actions but GRNet's max_len is {self.max_len}; truncate it "
                "(the data's max_len) or build the model with a larger max_len"
            )
        actions, mask = actions[:, :steps], mask[:, :steps]
        if actions.shape[1] < steps:  # an empty [B, 0] batch: one padding step
            actions = actions.new_zeros(actions.shape[0], steps)
            mask = actions != 0
        x = self.project(self.dropout(self.embedding(actions)))
        h, _ = self.encoder(x, lengths=lengths.clamp(min=1))
        context, _ = self.attention(h, mask)
        return self.head(self.dropout(context))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Right-padded traces of random action ids, lengths 1..min(max_len, 9): ([batch, T] long,)."""
        generator = torch.Generator().manual_seed(0)
        steps = min(self.max_len, 9)
        actions = torch.randint(1, self.num_actions + 1, (batch_size, steps), generator=generator)
        lengths = torch.randint(1, steps + 1, (batch_size,), generator=generator)
        lengths[0] = steps
        return (actions.masked_fill(torch.arange(steps) >= lengths[:, None], 0),)


def hypothesis_matrix(hypotheses: Sequence[Sequence[int]], num_goal_facts: int) -> Tensor:
    """Candidate goals as a [H, F] 0/1 matrix; a fact index of -1 (a fact missing from the vocabulary) is dropped."""
    matrix = torch.zeros(len(hypotheses), num_goal_facts)
    for row, facts in enumerate(hypotheses):
        known = [f for f in facts if f >= 0]
        if any(f >= num_goal_facts for f in known):
            raise ValueError(f"hypothesis {row} names fact index {max(known)} but there are {num_goal_facts} facts")
        matrix[row, known] = 1.0
    return matrix


def score_hypotheses(fact_probs: Tensor, hypotheses: Sequence[Sequence[int]]) -> Tensor:
    """Each candidate goal's score: the sum of its facts' probabilities (official ``get_scores``).

    Args:
        fact_probs: [F] or [B, F] probabilities (sigmoid of :class:`GRNet`'s logits).
        hypotheses: H candidate goals, each a list of fact indices; -1 marks a fact missing from the
            vocabulary, which contributes 0.

    Returns:
        scores [H] or [B, H].
    """
    matrix = hypothesis_matrix(hypotheses, fact_probs.shape[-1]).to(fact_probs)
    return fact_probs @ matrix.T


def choose_hypothesis(scores: Tensor | np.ndarray, rng: np.random.Generator) -> int:
    """Index of the highest score, a tie broken uniformly at random with ``rng`` (official ``get_result``)."""
    values = np.asarray(scores.detach().cpu() if isinstance(scores, Tensor) else scores, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"scores must be a non-empty vector, got shape {values.shape}")
    best = np.flatnonzero(values == values.max())
    return int(best[0] if best.size == 1 else rng.choice(best))
