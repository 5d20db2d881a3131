r"""Skip-gram and CBOW with negative sampling (Mikolov et al. 2013), as the thesis (Lai 2016) compares them.

Papers: Mikolov, Chen, Corrado, Dean, "Efficient Estimation of Word Representations in Vector Space", 2013,
https://arxiv.org/abs/1301.3781; Mikolov, Sutskever, Chen, Corrado, Dean, "Distributed Representations of
Words and Phrases and their Compositionality", NIPS 2013, https://arxiv.org/abs/1310.4546; compared in Lai,
"Word and Document Embeddings based on Neural Network Approaches", PhD thesis 2016,
https://arxiv.org/abs/1611.05962. Reference code: word2vec.c and gensim's ``word2vec_inner.pyx``.

Each training example is an input ``h`` and a word ``o`` to predict: skip-gram takes ``h = v_c`` (the input
vector of one word of the window) for every context word ``o``; CBOW takes ``h`` = the mean of the window's
input vectors and predicts the centre word. Negative sampling maximises

.. math::
    \log \sigma(u_o^\top h) + \sum_{k=1}^{K} \log \sigma(-u_{n_k}^\top h),
    \qquad n_k \sim P(w) \propto \mathrm{count}(w)^{3/4}

with ``u`` the output vectors. As word2vec.c and gensim:

- **subsampling**: each occurrence of word ``w`` (frequency ``f = count / total``) is kept with probability
  :math:`(\sqrt{f/s} + 1)\, s / f` (capped at 1), ``s = sample`` (1e-3), before the windows are formed;
- **dynamic window**: each centre word draws its window ``b`` uniformly from ``1 .. window``;
- **SGD with a linearly decaying rate** from ``alpha`` to ``min_alpha`` over all epochs; a negative equal to
  the target is skipped; CBOW with the mean (``cbow_mean=1``) hands the full error of ``h`` to every context
  word, undivided (word2vec.c and gensim do the same);
- input vectors start uniform in :math:`\pm 0.5 / D`, output vectors at zero; the embedding is the input vectors.

Vectorised: an epoch's (subsampled) positions and windows are formed as tensors, shuffled, and trained in
batches of ``batch_size`` examples. A batch's updates are computed from the same parameters and summed
(``index_add_``), like word2vec.c's lock-free threads, which also let updates of the same word overlap.
The gradients are the closed forms of :func:`negative_sampling_gradients`, checked against autograd.

Shapes (forward): skip-gram ``inputs [B]``; CBOW ``inputs [B, C]`` (``-1`` = no word); ``targets [B]``,
``negatives [B, K]`` -> loss ``[B]``.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_text.data.word_corpus import EncodedCorpus

__all__ = [
    "Word2Vec",
    "cbow_windows",
    "keep_probabilities",
    "loss_and_gradients",
    "negative_sampling_gradients",
    "negative_sampling_loss",
    "noise_cumulative",
    "sample_negatives",
    "skipgram_pairs",
    "subsample",
    "train_word2vec",
]


def keep_probabilities(counts: Tensor, sample: float) -> Tensor:
    r"""word2vec's probability of keeping an occurrence of each word: :math:`\min(1, (\sqrt{f/s} + 1) s / f)`
    with ``f = count / total``; ``sample = 0`` keeps every word. ``counts [V]`` -> ``[V]`` float64."""
    counts = torch.as_tensor(counts, dtype=torch.float64)
    if sample <= 0:
        return torch.ones_like(counts)
    threshold = sample * counts.sum()
    return ((counts / threshold).sqrt() + 1.0).mul(threshold / counts).clamp(max=1.0)


def noise_cumulative(counts: Tensor, power: float = 0.75) -> Tensor:
    """Cumulative noise distribution ``count^power`` normalised (``[V]`` float64, last entry 1)."""
    weights = torch.as_tensor(counts, dtype=torch.float64).pow(power)
    cumulative = weights.cumsum(0) / weights.sum()
    cumulative[-1] = 1.0
    return cumulative


def sample_negatives(cumulative: Tensor, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """Word ids drawn from the noise distribution (inverse CDF by binary search), ``int64`` of ``shape``."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.searchsorted(cumulative, u, right=True).clamp_(max=len(cumulative) - 1)


def subsample(corpus: EncodedCorpus, sample: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The kept ``(ids, sentence ids)`` of one epoch's subsampling (:func:`keep_probabilities`)."""
    keep = keep_probabilities(torch.from_numpy(corpus.vocabulary.counts), sample)[corpus.ids]
    kept = torch.rand(len(corpus.ids), generator=generator, dtype=torch.float64) < keep
    return corpus.ids[kept], corpus.sentence_ids[kept]


def skipgram_pairs(sentence: Tensor, window: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Positions ``(centre, context)`` of every skip-gram pair under word2vec's dynamic window.

    ``sentence [N]``: the sentence of each (kept) position. Centre ``i`` draws ``b_i`` in ``1 .. window``
    and pairs with the positions ``i ± d``, ``d <= b_i``, of its own sentence.
    """
    n = len(sentence)
    reach = torch.randint(1, window + 1, (n,), generator=generator)
    centres, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        after = torch.arange(d, n)
        same = sentence[d:] == sentence[:-d]
        # centre after, context d before it; and centre before, context d after it
        left = same & (reach[d:] >= d)
        right = same & (reach[:-d] >= d)
        centres += [after[left], after[right] - d]
        contexts += [after[left] - d, after[right]]
    if not centres:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return torch.cat(centres), torch.cat(contexts)


def cbow_windows(sentence: Tensor, window: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each position's CBOW window: ``(context positions [N, 2 * window], valid [N, 2 * window])`` under the
    dynamic window (:func:`skipgram_pairs`); invalid slots hold position 0."""
    n = len(sentence)
    reach = torch.randint(1, window + 1, (n,), generator=generator)
    positions = torch.arange(n)
    columns, valid = [], []
    for d in range(1, window + 1):
        for other in (positions - d, positions + d):
            inside = (other >= 0) & (other < n)
            clamped = other.clamp(0, max(n - 1, 0))
            ok = inside & (sentence[clamped] == sentence) & (reach >= d)
            columns.append(torch.where(ok, clamped, 0))
            valid.append(ok)
    return torch.stack(columns, 1), torch.stack(valid, 1)


def negative_sampling_loss(h: Tensor, positive: Tensor, negatives: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""Per-example loss :math:`-\log\sigma(u_o^\top h) - \sum_k m_k \log\sigma(-u_{n_k}^\top h)`.

    Args:
        h: ``[B, D]`` hidden vectors; positive: ``[B, D]`` output vectors of the targets;
        negatives: ``[B, K, D]`` output vectors of the noise words; mask: ``[B, K]`` (1 = counted; default all).

    Returns:
        ``[B]``.
    """
    pos = (h * positive).sum(-1)
    neg = torch.einsum("bd,bkd->bk", h, negatives)
    neg_loss = F.logsigmoid(-neg)
    if mask is not None:
        neg_loss = neg_loss * mask
    return -(F.logsigmoid(pos) + neg_loss.sum(-1))


def negative_sampling_gradients(
    h: Tensor, positive: Tensor, negatives: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Closed-form gradients of :func:`negative_sampling_loss` summed over the batch.

    With :math:`g_o = \sigma(u_o^\top h) - 1` and :math:`g_k = m_k \sigma(u_{n_k}^\top h)`:
    :math:`\partial/\partial h = g_o u_o + \sum_k g_k u_{n_k}`, :math:`\partial/\partial u_o = g_o h`,
    :math:`\partial/\partial u_{n_k} = g_k h`.

    Returns:
        ``(d h [B, D], d positive [B, D], d negatives [B, K, D])``.
    """
    return loss_and_gradients(h, positive, negatives, mask)[1:]


def loss_and_gradients(
    h: Tensor, positive: Tensor, negatives: Tensor, mask: Tensor | None = None
) -> tuple[float, Tensor, Tensor, Tensor]:
    """The batch's mean :func:`negative_sampling_loss` and :func:`negative_sampling_gradients`, from one
    computation of the scores (what the SGD steps use)."""
    pos = (h * positive).sum(-1)
    neg = torch.einsum("bd,bkd->bk", h, negatives)
    neg_loss = F.logsigmoid(-neg)
    g_pos = torch.sigmoid(pos) - 1.0
    g_neg = torch.sigmoid(neg)
    if mask is not None:
        neg_loss, g_neg = neg_loss * mask, g_neg * mask
    loss = -(F.logsigmoid(pos).sum() + neg_loss.sum()).item() / max(len(h), 1)
    grad_h = g_pos[:, None] * positive + torch.einsum("bk,bkd->bd", g_neg, negatives)
    return loss, grad_h, g_pos[:, None] * h, g_neg[..., None] * h[:, None]


class Word2Vec(nn.Module):
    """Input and output word vectors of skip-gram or CBOW (module docstring).

    Args:
        vocab_size: V.
        dim: D (the thesis finds 50 or more enough for most tasks; word2vec's default is 100).
        architecture: ``"skipgram"`` or ``"cbow"``.
        seed: the input vectors' initialisation.

    Attributes:
        input_vectors: ``[V, D]`` (the embedding); output_vectors: ``[V, D]`` (``syn1neg``).
    """

    def __init__(
        self,
        vocab_size: int = 100,
        dim: int = 100,
        architecture: Literal["skipgram", "cbow"] = "skipgram",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if architecture not in ("skipgram", "cbow"):
            raise ValueError(f"architecture must be 'skipgram' or 'cbow', got {architecture!r}")
        if vocab_size < 2 or dim < 1:
            raise ValueError(f"need vocab_size >= 2 and dim >= 1, got {vocab_size} and {dim}")
        self.architecture = architecture
        generator = torch.Generator().manual_seed(seed)
        self.input_vectors = nn.Parameter((torch.rand(vocab_size, dim, generator=generator) - 0.5) / dim)
        self.output_vectors = nn.Parameter(torch.zeros(vocab_size, dim))

    @property
    def vocab_size(self) -> int:
        return self.input_vectors.shape[0]

    def hidden(self, inputs: Tensor) -> Tensor:
        """``h`` of each example: the input vector (skip-gram, ``inputs [B]``) or the mean of the window's
        input vectors (CBOW, ``inputs [B, C]``, ``-1`` = empty slot)."""
        if self.architecture == "skipgram":
            if inputs.dim() != 1:
                raise ValueError(f"skip-gram inputs are word ids [B], got shape {tuple(inputs.shape)}")
            return self.input_vectors[inputs]
        if inputs.dim() != 2:
            raise ValueError(f"CBOW inputs are windows of word ids [B, C] (-1 = empty), got {tuple(inputs.shape)}")
        valid = (inputs >= 0).to(self.input_vectors.dtype)
        summed = (self.input_vectors[inputs.clamp(min=0)] * valid[..., None]).sum(1)
        return summed / valid.sum(1, keepdim=True).clamp(min=1.0)

    def forward(self, inputs: Tensor, targets: Tensor, negatives: Tensor) -> Tensor:
        """Negative-sampling loss per example ``[B]`` (negatives equal to the target are not counted)."""
        h = self.hidden(inputs)
        mask = (negatives != targets[:, None]).to(h.dtype)
        return negative_sampling_loss(h, self.output_vectors[targets], self.output_vectors[negatives], mask)

    def vectors(self) -> Tensor:
        """The word embedding ``[V, D]`` (a detached copy of the input vectors)."""
        return self.input_vectors.detach().clone()

    @torch.no_grad()
    def sgd_step(self, inputs: Tensor, targets: Tensor, negatives: Tensor, lr: float) -> float:
        """One batched SGD step of the negative-sampling loss at rate ``lr``; returns the batch's mean loss."""
        h = self.hidden(inputs)
        mask = (negatives != targets[:, None]).to(h.dtype)
        u_pos, u_neg = self.output_vectors[targets], self.output_vectors[negatives]
        loss, grad_h, grad_pos, grad_neg = loss_and_gradients(h, u_pos, u_neg, mask)
        d = h.shape[1]
        self.output_vectors.index_add_(0, targets, grad_pos, alpha=-lr)
        self.output_vectors.index_add_(0, negatives.reshape(-1), grad_neg.reshape(-1, d), alpha=-lr)
        if self.architecture == "skipgram":
            self.input_vectors.index_add_(0, inputs, grad_h, alpha=-lr)
        else:
            valid = inputs >= 0
            rows = torch.nonzero(valid, as_tuple=True)[0]
            self.input_vectors.index_add_(0, inputs[valid], grad_h[rows], alpha=-lr)
        return loss


def _check_finite(loss: float, batch_size: int) -> None:
    if not math.isfinite(loss):
        raise ValueError(
            f"training diverged (loss {loss}); lower alpha or batch_size (now {batch_size}): a batch sums the updates "
            "of every example, so a small vocabulary with large batches moves a word by many steps at once"
        )


def train_word2vec(
    model: Word2Vec,
    corpus: EncodedCorpus,
    epochs: int = 5,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    ns_exponent: float = 0.75,
    batch_size: int = 1024,
    seed: int = 0,
) -> dict[str, float]:
    """Train ``model`` on ``corpus`` (module docstring); returns ``seconds``, ``examples`` and ``final_loss``
    (mean loss over the last epoch's batches).

    The rate decays linearly from ``alpha`` to ``min_alpha`` over the batches of all epochs.
    """
    if len(corpus.vocabulary) != model.vocab_size:
        raise ValueError(f"the model has {model.vocab_size} words but the corpus vocabulary {len(corpus.vocabulary)}")
    if epochs < 1 or window < 1 or negative < 1 or batch_size < 1:
        raise ValueError(
            f"epochs, window, negative and batch_size must be positive, got {epochs}, {window}, {negative}, "
            f"{batch_size}"
        )
    generator = torch.Generator().manual_seed(seed)
    cumulative = noise_cumulative(torch.from_numpy(corpus.vocabulary.counts), ns_exponent)
    start, examples, losses = time.perf_counter(), 0, []
    for epoch in range(epochs):
        ids, sentence = subsample(corpus, sample, generator)
        if model.architecture == "skipgram":
            centres, contexts = skipgram_pairs(sentence, window, generator)
            inputs, targets = ids[centres], ids[contexts]
        else:
            columns, valid = cbow_windows(sentence, window, generator)
            has_context = valid.any(1)
            inputs = torch.where(valid, ids[columns], -1)[has_context]
            targets = ids[has_context]
        order = torch.randperm(len(targets), generator=generator)
        batches = math.ceil(len(order) / batch_size)
        losses = []
        for b in range(batches):
            index = order[b * batch_size : (b + 1) * batch_size]
            progress = (epoch + b / batches) / epochs
            lr = alpha - (alpha - min_alpha) * progress
            negatives = sample_negatives(cumulative, (len(index), negative), generator)
            losses.append(model.sgd_step(inputs[index], targets[index], negatives, lr))
        examples += len(order)
    mean = sum(losses) / len(losses) if losses else float("nan")
    _check_finite(mean, batch_size)
    return {"seconds": time.perf_counter() - start, "examples": float(examples), "final_loss": mean}
