"""The thesis's three evaluation families for word and document embeddings (Lai 2016, chapters 3-4).

1. **Word similarity and analogy** (intrinsic): :func:`twin_retrieval` (the planted twins of
   :func:`recur_text.data.word_corpus.plant_twins`: is ``w_twin`` among ``w``'s nearest neighbours?) and
   :func:`analogy_accuracy` (3CosAdd over the whole vocabulary, the question's three words excluded, as
   word2vec's ``compute-accuracy``).
2. **Embeddings as features** for a downstream task: :func:`mean_vectors` (a document = the mean of its
   word vectors) fed to a logistic regression (:func:`logistic_regression_accuracy`).
3. **Document classification**: document vectors (PV-DM, PV-DBOW) + logistic regression, the RCNN
   classifier, and the bag-of-words baseline :func:`tfidf_accuracy` (TF-IDF + logistic regression), beside
   :func:`majority_accuracy`.

scikit-learn provides the logistic regression and TF-IDF; it is imported when those are called.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from recur_text.data.word_corpus import TWIN_SUFFIX, Vocabulary

__all__ = [
    "analogy_accuracy",
    "logistic_regression_accuracy",
    "majority_accuracy",
    "mean_vectors",
    "tfidf_accuracy",
    "twin_retrieval",
]


def _unit(vectors: Tensor) -> Tensor:
    vectors = torch.as_tensor(vectors, dtype=torch.float32)
    return vectors / vectors.norm(dim=1, keepdim=True).clamp(min=1e-12)


def twin_retrieval(vectors: Tensor, vocabulary: Vocabulary, words: Sequence[str]) -> dict[str, float]:
    """How near each planted twin is to its word, by cosine over the whole vocabulary.

    For each ``w`` in ``words`` (with ``w`` and ``w_twin`` both in the vocabulary): the rank of ``w_twin``
    among all other words ordered by cosine to ``w`` (1 = nearest).

    Returns:
        ``twin_top1``, ``twin_top10`` (fractions with rank <= 1, <= 10), ``twin_mrr`` (mean of 1 / rank),
        ``twin_pairs`` (pairs scored).
    """
    index = vocabulary.index
    pairs = [(index[w], index[w + TWIN_SUFFIX]) for w in words if w in index and w + TWIN_SUFFIX in index]
    if not pairs:
        raise ValueError("none of the twin words and their twins are in the vocabulary; plant twins before building it")
    unit = _unit(vectors)
    a, b = torch.tensor(pairs).T
    cosines = unit[a] @ unit.T
    cosines[torch.arange(len(a)), a] = -2.0
    ranks = (cosines > cosines[torch.arange(len(a)), b][:, None]).sum(1) + 1
    ranks = ranks.double()
    return {
        "twin_top1": (ranks <= 1).double().mean().item(),
        "twin_top10": (ranks <= 10).double().mean().item(),
        "twin_mrr": (1.0 / ranks).mean().item(),
        "twin_pairs": float(len(pairs)),
    }


def analogy_accuracy(
    vectors: Tensor, vocabulary: Vocabulary, questions: Sequence[tuple[str, str, str, str, str]]
) -> dict[str, float]:
    """3CosAdd accuracy: ``argmax_x cos(x, b - a + c)`` over unit vectors, ``a``, ``b``, ``c`` excluded, equals ``d``.

    ``questions``: ``(relation, a, b, c, d)``; those with a word outside the vocabulary are skipped.

    Returns:
        ``analogy`` (overall accuracy), ``analogy_<relation>`` per relation, ``analogy_questions`` (scored).
    """
    index = vocabulary.index
    kept = [q for q in questions if all(w in index for w in q[1:])]
    if not kept:
        raise ValueError("no analogy question has all four words in the vocabulary")
    unit = _unit(vectors)
    ids = torch.tensor([[index[w] for w in q[1:]] for q in kept])
    correct = []
    for chunk in ids.split(512):
        target = unit[chunk[:, 1]] - unit[chunk[:, 0]] + unit[chunk[:, 2]]
        scores = target @ unit.T
        scores.scatter_(1, chunk[:, :3], float("-inf"))
        correct.append(scores.argmax(1) == chunk[:, 3])
    hits = torch.cat(correct).double()
    result = {"analogy": hits.mean().item(), "analogy_questions": float(len(kept))}
    relations = [q[0] for q in kept]
    for relation in dict.fromkeys(relations):
        mask = torch.tensor([r == relation for r in relations])
        result[f"analogy_{relation}"] = hits[mask].mean().item()
    return result


def mean_vectors(vectors: Tensor, vocabulary: Vocabulary, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """Each document as the mean of its in-vocabulary word vectors (zeros for a document with none): ``[N, D]``."""
    vectors = torch.as_tensor(vectors, dtype=torch.float32)
    out = np.zeros((len(token_lists), vectors.shape[1]), dtype=np.float32)
    for i, tokens in enumerate(token_lists):
        ids = vocabulary.encode(tokens)
        if len(ids):
            out[i] = vectors[torch.from_numpy(ids)].mean(0).numpy()
    return out


def majority_accuracy(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Accuracy of always answering the most frequent training label."""
    majority = Counter(train_labels).most_common(1)[0][0]
    return float(np.mean(np.asarray(test_labels) == majority))


def logistic_regression_accuracy(
    train_features: np.ndarray,
    train_labels: Sequence[int],
    test_features: np.ndarray,
    test_labels: Sequence[int],
    c: float = 1.0,
) -> float:
    """Test accuracy of a multinomial logistic regression (scikit-learn, L2, ``C = c``) on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    classifier.fit(np.asarray(train_features), np.asarray(train_labels))
    return float(classifier.score(np.asarray(test_features), np.asarray(test_labels)))


def tfidf_accuracy(
    train_tokens: Sequence[Sequence[str]],
    train_labels: Sequence[int],
    test_tokens: Sequence[Sequence[str]],
    test_labels: Sequence[int],
    c: float = 10.0,
    bigrams: bool = True,
) -> float:
    """The bag-of-words baseline: TF-IDF of unigrams and bigrams (``bigrams=False``: unigrams only; sublinear tf)
    + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    terms = _unigrams_bigrams if bigrams else list
    vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True, min_df=2)
    x_train = vectorizer.fit_transform(train_tokens)
    classifier = LogisticRegression(C=c, max_iter=2000).fit(x_train, np.asarray(train_labels))
    return float(classifier.score(vectorizer.transform(test_tokens), np.asarray(test_labels)))


def _unigrams_bigrams(tokens: Sequence[str]) -> list[str]:
    return list(tokens) + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
