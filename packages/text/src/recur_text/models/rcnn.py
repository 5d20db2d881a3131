r"""RCNN: the recurrent convolutional text classifier of Lai, Xu, Liu and Zhao (AAAI 2015), thesis chapter 5.

Papers: Lai, Xu, Liu, Zhao, "Recurrent Convolutional Neural Networks for Text Classification", AAAI 2015;
Lai, PhD thesis 2016, https://arxiv.org/abs/1611.05962. No official code.

Each word is represented with its left context, its embedding and its right context:

.. math::
    c_l(w_i) = f\big(W^{(l)} c_l(w_{i-1}) + W^{(sl)} e(w_{i-1})\big), \qquad
    c_r(w_i) = f\big(W^{(r)} c_r(w_{i+1}) + W^{(sr)} e(w_{i+1})\big),

    x_i = [c_l(w_i); e(w_i); c_r(w_i)], \quad y^{(2)}_i = \tanh(W^{(2)} x_i + b^{(2)}), \quad
    y^{(3)} = \max_i y^{(2)}_i, \quad y^{(4)} = W^{(4)} y^{(3)} + b^{(4)}.

Here the recurrence ``f`` is any causal core layer (``layer``; the paper's plain recurrence is ``"elman"``,
the default): :math:`W^{(sl)}` is a linear map from the embedding to the layer's width, the layer runs over the
sequence, and the left context of word ``i`` is the layer's output at ``i - 1`` (so it has seen words
``1 .. i-1`` only, as the equation says); the first word's left context is a learned vector
(:math:`c_l(w_1)`, a parameter in the paper). The right context is a second layer over the reversed
sequence (each row reversed within its length), shifted the same way. The max-pool is over the valid
positions only. Paper sizes: embeddings 50, contexts 50, hidden 100 (the thesis: the model is not sensitive
to them); its embeddings start from skip-gram vectors (:meth:`RCNN.load_embeddings`).

``contexts=False`` is the ablation without recurrence: :math:`x_i = e(w_i)` alone, so the network (projection,
max-pool, output) is blind to word order; it is the no-recurrence baseline of the RCNN recipes.

Shapes: ``tokens [B, T]`` (int64; 0 = padding) and ``lengths [B]`` -> logits ``[B, num_classes]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recur_core.layers.bidirectional import reverse_padded
from recur_core.registry import build_layer, register_model

__all__ = ["RCNN", "rcnn"]


class RCNN(nn.Module):
    """The RCNN text classifier (module docstring).

    Args:
        vocab_size: token ids ``0 .. vocab_size - 1`` (0 = padding).
        num_classes: outputs.
        embed_dim: ``|e|`` (50).
        context_dim: ``|c_l| = |c_r|`` (50), the width of the recurrent layers.
        hidden_dim: ``|y^(2)|`` (100).
        layer: registered causal core layer for the context recurrences (``"elman"``, ``"lstm"``, ``"gru"``, ...).
        layer_kwargs: its own options.
        dropout: on ``y^(3)`` before the output layer (0: none, as the paper).
        contexts: ``False`` leaves the recurrent contexts out (:math:`x_i = e(w_i)`; ``layer`` is then unused):
            the order-blind ablation (module docstring).
    """

    def __init__(
        self,
        vocab_size: int = 100,
        num_classes: int = 2,
        embed_dim: int = 50,
        context_dim: int = 50,
        hidden_dim: int = 100,
        layer: str = "elman",
        layer_kwargs: dict[str, Any] | None = None,
        dropout: float = 0.0,
        contexts: bool = True,
    ) -> None:
        super().__init__()
        if vocab_size < 2 or num_classes < 2:
            raise ValueError(f"need vocab_size >= 2 and num_classes >= 2, got {vocab_size} and {num_classes}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.has_contexts = contexts
        if contexts:
            self.left_input = nn.Linear(embed_dim, context_dim)
            self.right_input = nn.Linear(embed_dim, context_dim)
            self.left_layer = build_layer(layer, context_dim, **(layer_kwargs or {}))
            self.right_layer = build_layer(layer, context_dim, **(layer_kwargs or {}))
            if not self.left_layer.causal:
                raise ValueError(f"RCNN's context recurrences must be causal layers; {layer!r} is not")
            self.first_left = nn.Parameter(torch.zeros(context_dim))
            self.last_right = nn.Parameter(torch.zeros(context_dim))
        self.projection = nn.Linear((2 * context_dim if contexts else 0) + embed_dim, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_dim, num_classes)

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings

    def load_embeddings(self, vectors: Tensor, rows: Tensor | None = None) -> None:
        """Copy pre-trained word vectors (``[N, embed_dim]``) into the embedding, at token ids ``rows``
        (default ``1 .. N``: row 0 is padding)."""
        vectors = torch.as_tensor(vectors, dtype=self.embedding.weight.dtype)
        if vectors.dim() != 2 or vectors.shape[1] != self.embedding.embedding_dim:
            raise ValueError(
                f"vectors must be [N, {self.embedding.embedding_dim}] (the model's embed_dim), "
                f"got {tuple(vectors.shape)}"
            )
        rows = torch.arange(1, len(vectors) + 1) if rows is None else torch.as_tensor(rows)
        with torch.no_grad():
            self.embedding.weight[rows] = vectors

    def contexts(self, embedded: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``(c_l, c_r)``, each ``[B, T, context_dim]``, of ``embedded [B, T, embed_dim]``."""
        if not self.has_contexts:
            raise ValueError("this RCNN was built with contexts=False (the ablation); it has no contexts")
        batch = embedded.shape[0]
        forward, _ = self.left_layer(self.left_input(embedded), lengths=lengths)
        backward, _ = self.right_layer(reverse_padded(self.right_input(embedded), lengths), lengths=lengths)
        # the context of word i is the recurrence's output at i - 1 (left) / i + 1 (right), before word i
        first = self.first_left.expand(batch, 1, -1)
        left = torch.cat([first, forward[:, :-1]], 1)
        last = self.last_right.expand(batch, 1, -1)
        right = reverse_padded(torch.cat([last, backward[:, :-1]], 1), lengths)
        return left, right

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [B, T] ids, got shape {tuple(tokens.shape)}")
        batch, steps = tokens.shape
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=tokens.device)
        embedded = self.embedding(tokens)
        if self.has_contexts:
            left, right = self.contexts(embedded, lengths)
            embedded = torch.cat([left, embedded, right], -1)
        hidden = torch.tanh(self.projection(embedded))
        valid = torch.arange(steps, device=tokens.device)[None, :] < lengths[:, None]
        pooled = hidden.masked_fill(~valid[..., None], float("-inf")).amax(1)
        return self.output(self.dropout(pooled))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(0)
        tokens = torch.randint(1, self.vocab_size, (batch_size, 7), generator=generator)
        lengths = torch.full((batch_size,), 7, dtype=torch.long)
        lengths[-1] = 4
        tokens[-1, 4:] = 0
        return tokens, lengths


@register_model()
def rcnn(
    vocab_size: int = 100,
    num_classes: int = 2,
    embed_dim: int = 50,
    context_dim: int = 50,
    hidden_dim: int = 100,
    layer: str = "elman",
    layer_kwargs: dict[str, Any] | None = None,
    dropout: float = 0.0,
    contexts: bool = True,
) -> RCNN:
    """The RCNN text classifier (Lai et al. 2015) with the paper's sizes; ``layer`` any causal core layer;
    ``contexts=False`` the ablation without recurrence."""
    return RCNN(vocab_size, num_classes, embed_dim, context_dim, hidden_dim, layer, layer_kwargs, dropout, contexts)
