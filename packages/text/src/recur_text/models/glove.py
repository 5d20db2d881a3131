r"""GloVe: global vectors from weighted least squares on log co-occurrence counts (Pennington et al. 2014).

Paper: Pennington, Socher, Manning, "GloVe: Global Vectors for Word Representation", EMNLP 2014,
https://nlp.stanford.edu/pubs/glove.pdf; reference code ``stanfordnlp/GloVe`` (``cooccur.c``, ``glove.c``).
Compared with skip-gram and CBOW in Lai, PhD thesis 2016, https://arxiv.org/abs/1611.05962.

**Counts.** :math:`X_{ij}` sums :math:`1/d` over every occurrence of word ``j`` at distance ``d <= window``
from word ``i`` in the same sentence, in both directions (``cooccur.c`` with ``symmetric=1``).

**Loss.** With word vectors ``w``, context vectors ``w~`` and biases,

.. math::
    J = \sum_{X_{ij} > 0} f(X_{ij}) \left(w_i^\top \tilde w_j + b_i + \tilde b_j - \log X_{ij}\right)^2,
    \qquad f(x) = \min\left(1, (x / x_{\max})^{\alpha}\right),\ x_{\max} = 100,\ \alpha = 3/4,

minimised by AdaGrad (rate 0.05, squared-gradient sums starting at 1) over the non-zero entries in a
random order each epoch; parameters start uniform in :math:`\pm 0.5 / D`. The embedding is
:math:`w + \tilde w` (``glove.c``'s ``model = 2``). As in :mod:`recur_text.models.word2vec`, one batch's
updates are computed from the same parameters and summed (``index_add_``), like ``glove.c``'s threads.

**Relation to skip-gram** (the GloVe paper's section 3.1, which the thesis follows when it puts the two side
by side). Skip-gram's softmax model :math:`Q_{ij} \propto \exp(w_i^\top \tilde w_j)`, trained over a corpus,
sums to the global objective :math:`-\sum_i X_i \sum_j P_{ij} \log Q_{ij}` with :math:`P_{ij} = X_{ij}/X_i`:
a cross-entropy between the co-occurrence distribution and the model, weighted by each word's count
:math:`X_i`. GloVe makes two changes: it replaces the cross-entropy by a least-squares fit of the
unnormalised logs (:math:`\log X_{ij}` against :math:`w_i^\top \tilde w_j`, the biases absorbing what
normalisation did), and the weight :math:`X_i` by :math:`f(X_{ij})`, which caps frequent pairs. Both are
then log-bilinear models of the same counts: skip-gram streams over the windows one at a time, GloVe fits
the counted matrix once it is built (and with negative sampling, skip-gram's optimum is itself
:math:`w_i^\top \tilde w_j = \mathrm{PMI}(i, j) - \log k`, Levy and Goldberg 2014).

Shapes: ``forward(rows [B], cols [B], counts [B])`` -> weighted squared error per entry ``[B]``.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

from recur_text.data.word_corpus import EncodedCorpus

__all__ = ["GloVe", "cooccurrence_counts", "glove_weight", "train_glove"]


def glove_weight(x: Tensor, x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    r""":math:`f(x) = \min(1, (x / x_{\max})^\alpha)` elementwise."""
    return (x / x_max).pow(alpha).clamp(max=1.0)


def cooccurrence_counts(
    corpus: EncodedCorpus, window: int = 10, symmetric: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """The non-zero :math:`X_{ij}` of ``corpus``: ``(rows, cols, values)``, ``int64 [M]``, ``int64 [M]``,
    ``float64 [M]``, sorted by ``(row, col)``. ``symmetric=False`` counts only words to the left of ``i``
    (``cooccur.c``'s ``symmetric=0``)."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    ids, sentence, v = corpus.ids, corpus.sentence_ids, len(corpus.vocabulary)
    keys, weights = [], []
    for d in range(1, min(window, len(ids) - 1) + 1):
        same = sentence[d:] == sentence[:-d]
        left, right = ids[:-d][same], ids[d:][same]
        # word i = right, its context j = left at distance d; and the mirror pair when symmetric
        pair_keys = [right * v + left] + ([left * v + right] if symmetric else [])
        for key in pair_keys:
            unique, inverse = torch.unique(key, return_inverse=True)
            keys.append(unique)
            weights.append(
                torch.zeros(len(unique), dtype=torch.float64).index_add_(
                    0, inverse, torch.full(inverse.shape, 1.0 / d, dtype=torch.float64)
                )
            )
    if not keys:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.float64)
    unique, inverse = torch.unique(torch.cat(keys), return_inverse=True)
    values = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, torch.cat(weights))
    return unique // v, unique % v, values


class GloVe(nn.Module):
    """Word and context vectors with biases (module docstring).

    Args:
        vocab_size: V. dim: D. seed: the initialisation.

    Attributes:
        word_vectors, context_vectors: ``[V, D]``; word_bias, context_bias: ``[V]``.
    """

    def __init__(self, vocab_size: int = 100, dim: int = 100, seed: int = 0) -> None:
        super().__init__()
        if vocab_size < 2 or dim < 1:
            raise ValueError(f"need vocab_size >= 2 and dim >= 1, got {vocab_size} and {dim}")
        g = torch.Generator().manual_seed(seed)

        def uniform(*shape: int) -> nn.Parameter:
            return nn.Parameter((torch.rand(*shape, generator=g) - 0.5) / dim)

        self.word_vectors, self.context_vectors = uniform(vocab_size, dim), uniform(vocab_size, dim)
        self.word_bias, self.context_bias = uniform(vocab_size), uniform(vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.word_vectors.shape[0]

    def residual(self, rows: Tensor, cols: Tensor, counts: Tensor) -> Tensor:
        r""":math:`w_i^\top \tilde w_j + b_i + \tilde b_j - \log X_{ij}` per entry ``[B]``."""
        dot = (self.word_vectors[rows] * self.context_vectors[cols]).sum(-1)
        return dot + self.word_bias[rows] + self.context_bias[cols] - counts.log().to(dot.dtype)

    def forward(self, rows: Tensor, cols: Tensor, counts: Tensor, x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
        """``f(X_ij) * residual^2`` per entry ``[B]`` (the loss is their sum)."""
        return glove_weight(counts, x_max, alpha).to(self.word_vectors.dtype) * self.residual(rows, cols, counts).pow(2)

    def vectors(self) -> Tensor:
        """The embedding ``w + w~`` ``[V, D]``."""
        return (self.word_vectors + self.context_vectors).detach().clone()


@torch.no_grad()
def train_glove(
    model: GloVe,
    counts: tuple[Tensor, Tensor, Tensor],
    epochs: int = 25,
    lr: float = 0.05,
    x_max: float = 100.0,
    alpha: float = 0.75,
    batch_size: int = 1024,
    seed: int = 0,
) -> dict[str, float]:
    """AdaGrad on the GloVe loss over the non-zero ``counts`` (:func:`cooccurrence_counts`).

    Returns ``seconds``, ``entries`` (non-zero counts) and ``final_loss`` (the last epoch's mean of
    ``f(X) * residual^2 / 2``, ``glove.c``'s cost).
    """
    rows, cols, values = counts
    if len(values) == 0:
        raise ValueError("no co-occurrence counts to fit; the corpus has no two words within the window")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1 and lr > 0, got {epochs}, {batch_size}, {lr}")
    generator = torch.Generator().manual_seed(seed)
    params = (model.word_vectors, model.context_vectors, model.word_bias, model.context_bias)
    squares = [torch.ones_like(p) for p in params]
    weights = glove_weight(values, x_max, alpha).float()
    logs = values.log().float()
    start, losses = time.perf_counter(), []
    for _ in range(epochs):
        order = torch.randperm(len(values), generator=generator)
        losses = []
        for b in range(math.ceil(len(order) / batch_size)):
            index = order[b * batch_size : (b + 1) * batch_size]
            i, j = rows[index], cols[index]
            w, c = model.word_vectors[i], model.context_vectors[j]
            diff = (w * c).sum(-1) + model.word_bias[i] + model.context_bias[j] - logs[index]
            fdiff = weights[index] * diff
            losses.append(0.5 * (fdiff * diff).mean().item())
            grads = (fdiff[:, None] * c, fdiff[:, None] * w, fdiff, fdiff)
            for param, square, where, grad in zip(params, squares, (i, j, i, j), grads):
                # glove.c: the step divides by the sum of squares before this gradient is added to it
                param.index_add_(0, where, -lr * grad / square[where].sqrt())
                square.index_add_(0, where, grad.pow(2))
    mean = sum(losses) / len(losses)
    if not math.isfinite(mean):
        raise ValueError(f"GloVe training diverged (loss {mean}); lower lr (now {lr})")
    return {"seconds": time.perf_counter() - start, "entries": float(len(values)), "final_loss": mean}
