r"""The EvolveGCN scores, defined as the official ``logger.py`` computes them.

- **MAP**: per snapshot, scikit-learn's ``average_precision_score`` of the class-1 probabilities
  (:func:`average_precision`); over a split, the mean of the snapshots' values weighted by the
  number of pairs scored in each (:func:`size_weighted_mean`).
- **MRR**: per snapshot, for every source node with at least one true edge, the mean of
  ``1 / rank`` over its true edges, ranks taken in its row of the score matrix (pairs never
  scored count as 0); then the mean over those sources (:func:`mean_reciprocal_rank`).
- **F1** of one class (the minority class: distrust edges, illicit transactions), from
  true-positive, false-positive and false-negative counts summed over the split
  (:func:`class_counts`, :func:`f1_from_counts`).

Link prediction on validation and test scores every node pair of the snapshot, as the official
code does (all non-edges, self-pairs included): :func:`rank_all_pairs` gets AP and MRR from row
chunks scored on demand, counting for each true edge the pairs that score at least as high.

Ties: AP groups tied scores into one threshold (as scikit-learn). For MRR, tied scores in a row
are ordered by descending column, which is what ``numpy.flip(argsort(row))`` gives with a stable
sort (the official code's unstable quicksort leaves the order of ties unspecified).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "average_precision",
    "class_counts",
    "f1_from_counts",
    "mean_reciprocal_rank",
    "rank_all_pairs",
    "size_weighted_mean",
]


def _ap_from_thresholds(positive_scores: Tensor, at_or_above: Callable[[Tensor], Tensor]) -> float:
    """AP from the positives' scores and, for each distinct positive score s, the count of all items >= s."""
    if positive_scores.numel() == 0:
        return 0.0
    thresholds, per_threshold = torch.unique(positive_scores, return_counts=True)
    # true positives at or above each threshold (ascending thresholds: a suffix sum)
    true_at = per_threshold.flip(0).cumsum(0).flip(0).double()
    all_at = at_or_above(thresholds).double()
    return float((per_threshold.double() * true_at / all_at).sum() / positive_scores.numel())


def _count_at_or_above(scores: Tensor, thresholds: Tensor) -> Tensor:
    """For sorted ``thresholds`` [m], how many of ``scores`` are >= each."""
    bucket = torch.bucketize(scores.contiguous().flatten(), thresholds, right=True)
    counts = torch.bincount(bucket, minlength=len(thresholds) + 1)
    return counts.flip(0).cumsum(0).flip(0)[1:]


def average_precision(scores: Tensor, labels: Tensor) -> float:
    r"""Average precision, equal to scikit-learn's ``average_precision_score``.

    .. math:: \mathrm{AP} = \sum_n (R_n - R_{n-1}) P_n

    over the distinct scores as thresholds, i.e. the mean over true items of the precision at
    their score. 0 when there is no true item (scikit-learn's value).

    Shapes:
        scores [M], labels [M] (1 = true, 0 = false)
    """
    scores, labels = scores.detach().flatten(), labels.flatten().bool()
    return _ap_from_thresholds(scores[labels], lambda th: _count_at_or_above(scores, th))


def _row_ranks(rows: Tensor, columns: Tensor, scores: Tensor) -> Tensor:
    """1-based rank of ``scores[i]`` (column ``columns[i]``) in ``rows[i]``: descending, ties by descending column."""
    above = (rows > scores[:, None]).sum(1)
    later_ties = ((rows == scores[:, None]) & (torch.arange(rows.shape[1], device=rows.device) > columns[:, None])).sum(
        1
    )
    return 1 + above + later_ties


def _mrr_from_ranks(ranks: Tensor, sources: Tensor) -> float:
    _, row = torch.unique(sources, return_inverse=True)
    per_row = torch.zeros(int(row.max()) + 1, dtype=torch.float64, device=ranks.device)
    per_row.index_add_(0, row, 1.0 / ranks.double())
    return float((per_row / torch.bincount(row).double()).mean())


def mean_reciprocal_rank(scores: Tensor, labels: Tensor, pairs: Tensor) -> float:
    """MRR of scored pairs, as the official ``get_MRR``: the pairs fill a score matrix (others 0).

    The matrix is ``(max source + 1) × (max target + 1)``; repeated pairs add up, as in the
    official ``coo_matrix``. 0 when there is no true pair.

    Shapes:
        scores [P], labels [P], pairs [2, P]
    """
    scores, labels = scores.detach().flatten(), labels.flatten().bool()
    if not labels.any():
        return 0.0
    shape = (int(pairs[0].max()) + 1, int(pairs[1].max()) + 1)
    matrix = torch.zeros(shape, dtype=scores.dtype).index_put_((pairs[0], pairs[1]), scores, accumulate=True)
    truth = torch.zeros(shape, dtype=torch.bool).index_put_((pairs[0][labels], pairs[1][labels]), torch.tensor(True))
    sources, targets = torch.nonzero(truth, as_tuple=True)
    ranks = _row_ranks(matrix[sources], targets, matrix[sources, targets])
    return _mrr_from_ranks(ranks, sources)


def rank_all_pairs(
    score_rows: Callable[[Tensor], Tensor], num_nodes: int, positives: Tensor, chunk_rows: int = 256
) -> tuple[float, float]:
    """AP and MRR of one snapshot over all ``N²`` ordered pairs: its true edges against every non-edge.

    The score matrix is filled in chunks of rows (so a model's per-pair intermediates stay small)
    and held as N² floats (138 MB for Bitcoin-OTC's 5881 nodes).

    Args:
        score_rows: maps source nodes [R] to the scores of their pairs with every node, [R, N].
        num_nodes: N.
        positives: [2, P] the snapshot's true edges (unique pairs).
        chunk_rows: rows scored at once.

    Returns:
        ``(ap, mrr)``, each 0 when the snapshot has no true edge.
    """
    if positives.shape[1] == 0:
        return 0.0, 0.0
    scores = torch.cat(
        [score_rows(rows) for rows in torch.arange(num_nodes, device=positives.device).split(chunk_rows)]
    )
    source, target = positives
    positive_scores = scores[source, target]
    ranks = torch.cat(
        [
            _row_ranks(scores[s], t, v)
            for s, t, v in zip(source.split(chunk_rows), target.split(chunk_rows), positive_scores.split(chunk_rows))
        ]
    )
    ap = _ap_from_thresholds(positive_scores, lambda thresholds: _count_at_or_above(scores, thresholds))
    return ap, _mrr_from_ranks(ranks, source)


def size_weighted_mean(values: list[float], sizes: list[int]) -> float:
    """Mean of per-snapshot values weighted by how many items each scored (the official epoch metric)."""
    total = sum(sizes)
    return sum(v * s for v, s in zip(values, sizes)) / total if total else 0.0


def class_counts(predicted: Tensor, target: Tensor, positive_class: int) -> Tensor:
    """[true positives, false positives, false negatives] of ``positive_class``, as a long tensor."""
    hit, wanted = predicted == positive_class, target == positive_class
    return torch.stack([(hit & wanted).sum(), (hit & ~wanted).sum(), (~hit & wanted).sum()])


def f1_from_counts(counts: Tensor) -> float:
    """F1 from [tp, fp, fn]; 0 when there is no true positive (the official convention)."""
    tp, fp, fn = (float(c) for c in counts)
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)
