r"""Paragraph vectors: PV-DM and PV-DBOW document embeddings (Le and Mikolov 2014), as the thesis uses them.

Paper: Le, Mikolov, "Distributed Representations of Sentences and Documents", ICML 2014,
https://arxiv.org/abs/1405.4053; reference code: gensim's ``doc2vec_inner.pyx``. Compared in Lai, PhD thesis
2016, https://arxiv.org/abs/1611.05962 (document representations for classification).

Every document ``d`` has a vector :math:`D_d`. Both models are trained with negative sampling, subsampling,
dynamic windows and a linearly decaying SGD rate exactly as :mod:`recur_text.models.word2vec`:

- **PV-DM** (distributed memory): the hidden vector averages the document vector with the input vectors of
  the window around position ``i`` and predicts word ``i``,
  :math:`h = (D_d + \sum_{0<|j-i| \le b} v_{w_j}) / (1 + n)` (gensim ``dm=1, dm_mean=1``; like CBOW's mean,
  the error of ``h`` goes undivided to the document vector and to every context word);
- **PV-DBOW** (distributed bag of words): :math:`h = D_d` predicts every word of the document, a skip-gram
  whose input is the document (gensim ``dm=0``; the word vectors are not trained, ``dbow_words=0``).

**Inference** of a new document's vector (:func:`infer_document_vectors`): a fresh vector per document,
trained by the same SGD for ``epochs`` with the word and output vectors frozen; only the new vectors change
(gensim's ``infer_vector``). Vectorised: every new document is inferred at once, in batches of examples.

Shapes: ``forward(documents [B], windows [B, C] (PV-DM; -1 = empty) or None, targets [B], negatives [B, K])``
-> loss ``[B]``.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import torch
from torch import Tensor, nn

from recur_text.data.word_corpus import EncodedCorpus
from recur_text.models.word2vec import (
    _check_finite,
    cbow_windows,
    keep_probabilities,
    loss_and_gradients,
    negative_sampling_loss,
    noise_cumulative,
    sample_negatives,
)

__all__ = ["ParagraphVectors", "infer_document_vectors", "train_paragraph_vectors"]


def _uniform(rows: int, dim: int, generator: torch.Generator) -> Tensor:
    return (torch.rand(rows, dim, generator=generator) - 0.5) / dim


class ParagraphVectors(nn.Module):
    """Document, word and output vectors of PV-DM or PV-DBOW (module docstring).

    Args:
        vocab_size: V. num_documents: N (the training documents). dim: D.
        mode: ``"dm"`` (PV-DM) or ``"dbow"`` (PV-DBOW).
        seed: the initialisation (uniform in :math:`\\pm 0.5/D`; output vectors at zero).

    Attributes:
        document_vectors ``[N, D]``, word_vectors ``[V, D]`` (unused by PV-DBOW), output_vectors ``[V, D]``.
    """

    def __init__(
        self,
        vocab_size: int = 100,
        num_documents: int = 10,
        dim: int = 100,
        mode: Literal["dm", "dbow"] = "dm",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mode not in ("dm", "dbow"):
            raise ValueError(f"mode must be 'dm' (PV-DM) or 'dbow' (PV-DBOW), got {mode!r}")
        if vocab_size < 2 or num_documents < 1 or dim < 1:
            raise ValueError(
                f"need vocab_size >= 2, num_documents >= 1, dim >= 1; got {vocab_size}, {num_documents}, {dim}"
            )
        self.mode = mode
        generator = torch.Generator().manual_seed(seed)
        self.word_vectors = nn.Parameter(_uniform(vocab_size, dim, generator), requires_grad=mode == "dm")
        self.document_vectors = nn.Parameter(_uniform(num_documents, dim, generator))
        self.output_vectors = nn.Parameter(torch.zeros(vocab_size, dim))

    @property
    def vocab_size(self) -> int:
        return self.output_vectors.shape[0]

    def hidden(self, documents: Tensor, windows: Tensor | None, table: Tensor | None = None) -> Tensor:
        """``h`` per example: the document vector (PV-DBOW) or its mean with the window's word vectors (PV-DM).
        ``table``: the document vectors to read (default :attr:`document_vectors`)."""
        table = self.document_vectors if table is None else table
        h = table[documents]
        if self.mode == "dbow":
            return h
        if windows is None or windows.dim() != 2:
            raise ValueError("PV-DM needs windows of word ids [B, C] (-1 = empty) beside the documents")
        valid = (windows >= 0).to(h.dtype)
        summed = h + (self.word_vectors[windows.clamp(min=0)] * valid[..., None]).sum(1)
        return summed / (1.0 + valid.sum(1, keepdim=True))

    def forward(self, documents: Tensor, windows: Tensor | None, targets: Tensor, negatives: Tensor) -> Tensor:
        """Negative-sampling loss per example ``[B]``."""
        h = self.hidden(documents, windows)
        mask = (negatives != targets[:, None]).to(h.dtype)
        return negative_sampling_loss(h, self.output_vectors[targets], self.output_vectors[negatives], mask)

    def vectors(self) -> Tensor:
        """The training documents' vectors ``[N, D]`` (a detached copy)."""
        return self.document_vectors.detach().clone()

    @torch.no_grad()
    def sgd_step(
        self,
        table: Tensor,
        documents: Tensor,
        windows: Tensor | None,
        targets: Tensor,
        negatives: Tensor,
        lr: float,
        learn_words: bool = True,
    ) -> float:
        """One batched SGD step; ``table`` is the document-vector table updated (the model's, or new ones
        being inferred). ``learn_words=False`` freezes the word and output vectors. Returns the mean loss."""
        h = self.hidden(documents, windows, table)
        mask = (negatives != targets[:, None]).to(h.dtype)
        u_pos, u_neg = self.output_vectors[targets], self.output_vectors[negatives]
        loss, grad_h, grad_pos, grad_neg = loss_and_gradients(h, u_pos, u_neg, mask)
        table.index_add_(0, documents, grad_h, alpha=-lr)
        if learn_words:
            d = h.shape[1]
            self.output_vectors.index_add_(0, targets, grad_pos, alpha=-lr)
            self.output_vectors.index_add_(0, negatives.reshape(-1), grad_neg.reshape(-1, d), alpha=-lr)
            if self.mode == "dm":
                valid = windows >= 0
                rows = torch.nonzero(valid, as_tuple=True)[0]
                self.word_vectors.index_add_(0, windows[valid], grad_h[rows], alpha=-lr)
        return loss


def _examples(
    model: ParagraphVectors, corpus: EncodedCorpus, window: int, sample: float, generator: torch.Generator
) -> tuple[Tensor, Tensor | None, Tensor]:
    """One epoch's ``(documents [E], windows [E, 2 window] or None, targets [E])`` after subsampling."""
    keep = keep_probabilities(torch.from_numpy(corpus.vocabulary.counts), sample)[corpus.ids]
    kept = torch.rand(len(corpus.ids), generator=generator, dtype=torch.float64) < keep
    ids, sentence, documents = corpus.ids[kept], corpus.sentence_ids[kept], corpus.document_ids[kept]
    if model.mode == "dbow":
        return documents, None, ids
    columns, valid = cbow_windows(sentence, window, generator)
    return documents, torch.where(valid, ids[columns], -1), ids


def _run_epochs(
    model: ParagraphVectors,
    table: Tensor,
    corpus: EncodedCorpus,
    epochs: int,
    window: int,
    negative: int,
    sample: float,
    alpha: float,
    min_alpha: float,
    batch_size: int,
    generator: torch.Generator,
    learn_words: bool,
) -> tuple[float, int]:
    if len(corpus.vocabulary) != model.vocab_size:
        raise ValueError(f"the model has {model.vocab_size} words but the corpus vocabulary {len(corpus.vocabulary)}")
    if epochs < 1 or window < 1 or negative < 1 or batch_size < 1:
        raise ValueError(
            f"epochs, window, negative and batch_size must be positive, got {epochs}, {window}, {negative}, "
            f"{batch_size}"
        )
    cumulative = noise_cumulative(torch.from_numpy(corpus.vocabulary.counts))
    losses, examples = [], 0
    for epoch in range(epochs):
        documents, windows, targets = _examples(model, corpus, window, sample, generator)
        order = torch.randperm(len(targets), generator=generator)
        batches = math.ceil(len(order) / batch_size)
        losses = []
        for b in range(batches):
            index = order[b * batch_size : (b + 1) * batch_size]
            lr = alpha - (alpha - min_alpha) * (epoch + b / batches) / epochs
            negatives = sample_negatives(cumulative, (len(index), negative), generator)
            rows = None if windows is None else windows[index]
            losses.append(model.sgd_step(table, documents[index], rows, targets[index], negatives, lr, learn_words))
        examples += len(order)
    loss = sum(losses) / len(losses) if losses else float("nan")
    if len(corpus.ids):
        _check_finite(loss, batch_size)
    return loss, examples


def train_paragraph_vectors(
    model: ParagraphVectors,
    corpus: EncodedCorpus,
    epochs: int = 10,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    batch_size: int = 1024,
    seed: int = 0,
) -> dict[str, float]:
    """Train ``model`` on ``corpus`` (document ``d`` = the ``d``-th encoded token list; gensim's defaults).
    Returns ``seconds``, ``examples`` and ``final_loss`` (the last epoch's mean batch loss)."""
    last = int(corpus.documents.max()) if len(corpus.documents) else -1
    if last >= model.document_vectors.shape[0]:
        raise ValueError(
            f"the corpus has documents up to index {last} but the model only "
            f"{model.document_vectors.shape[0]} document vectors; "
            "build it with num_documents = the number of token lists"
        )
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    loss, examples = _run_epochs(
        model, model.document_vectors.data, corpus, epochs, window, negative, sample, alpha, min_alpha, batch_size,
        generator, learn_words=True,
    )  # fmt: skip
    return {"seconds": time.perf_counter() - start, "examples": float(examples), "final_loss": loss}


def infer_document_vectors(
    model: ParagraphVectors,
    corpus: EncodedCorpus,
    num_documents: int,
    epochs: int = 10,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    batch_size: int = 1024,
    seed: int = 0,
) -> Tensor:
    """Vectors ``[num_documents, D]`` of new documents (``corpus``, encoded with the model's vocabulary),
    trained with everything else in ``model`` frozen (module docstring). The model is not changed."""
    if len(corpus.documents) and int(corpus.documents.max()) >= num_documents:
        raise ValueError(f"the corpus has more than num_documents = {num_documents} token lists; pass their number")
    generator = torch.Generator().manual_seed(seed)
    table = _uniform(num_documents, model.document_vectors.shape[1], generator)
    if len(corpus.ids):
        _run_epochs(
            model, table, corpus, epochs, window, negative, sample, alpha, min_alpha, batch_size, generator,
            learn_words=False,
        )  # fmt: skip
    return table
