import pytest
import torch
from sklearn.metrics import average_precision_score

from recur_graph.metrics import (
    average_precision,
    class_counts,
    f1_from_counts,
    mean_reciprocal_rank,
    rank_all_pairs,
    size_weighted_mean,
)


def test_average_precision_by_hand():
    # true items score 0.5 (tied with a false one) and 0.2: precisions 1/3 and 2/4
    scores = torch.tensor([0.5, 0.5, 0.2, 0.9])
    labels = torch.tensor([1, 0, 1, 0])
    assert average_precision(scores, labels) == pytest.approx((1 / 3 + 2 / 4) / 2)


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_equals_sklearn_with_ties(seed):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 20, (300,), generator=generator).float() / 20  # many ties
    labels = (torch.rand(300, generator=generator) < 0.1).long()
    assert average_precision(scores, labels) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_average_precision_without_true_items_is_zero():
    assert average_precision(torch.rand(5), torch.zeros(5)) == 0.0


def test_mrr_by_hand():
    # row 0: true edges to 1 (rank 1) and 3 (rank 3) -> (1 + 1/3) / 2; row 2: true edge to 0, rank 2 -> 1/2
    pairs = torch.tensor([[0, 0, 0, 0, 2, 2], [0, 1, 2, 3, 0, 1]])
    scores = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.4, 0.6])
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    assert mean_reciprocal_rank(scores, labels, pairs) == pytest.approx(((1 + 1 / 3) / 2 + 1 / 2) / 2)


def test_mrr_unscored_pairs_count_as_zero_and_ties_go_to_later_columns():
    # the true pair (0, 2) scores 0.0 like the unscored (0, 0) and (0, 1): the last column ranks first
    pairs = torch.tensor([[0], [2]])
    assert mean_reciprocal_rank(torch.tensor([0.0]), torch.tensor([1]), pairs) == pytest.approx(1.0)
    # ... and behind a tied later column (0, 3): rank 2
    pairs = torch.tensor([[0, 0], [2, 3]])
    assert mean_reciprocal_rank(torch.tensor([0.0, 0.0]), torch.tensor([1, 0]), pairs) == pytest.approx(1 / 2)


def _full_matrix_scores(scores, positives):
    truth = torch.zeros_like(scores, dtype=torch.long)
    truth[positives[0], positives[1]] = 1
    pairs = torch.cartesian_prod(torch.arange(scores.shape[0]), torch.arange(scores.shape[1])).T
    return scores.flatten(), truth.flatten(), pairs


@pytest.mark.parametrize("chunk_rows", [1, 3, 64])
def test_ranking_all_pairs_in_chunks_equals_the_full_matrix(chunk_rows):
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 50, (9, 9), generator=generator).float() / 50
    positives = torch.tensor([[0, 0, 3, 5, 5, 8], [1, 7, 3, 0, 2, 8]])
    ap, mrr = rank_all_pairs(lambda rows: scores[rows], 9, positives, chunk_rows)
    flat, truth, pairs = _full_matrix_scores(scores, positives)
    assert ap == pytest.approx(average_precision_score(truth, flat), abs=1e-12)
    assert mrr == pytest.approx(mean_reciprocal_rank(flat, truth, pairs), abs=1e-12)


def test_ranking_a_snapshot_without_edges():
    assert rank_all_pairs(lambda rows: torch.rand(len(rows), 4), 4, torch.zeros(2, 0, dtype=torch.long)) == (0.0, 0.0)


def test_size_weighted_mean():
    assert size_weighted_mean([0.5, 1.0], [3, 1]) == pytest.approx(0.625)
    assert size_weighted_mean([], []) == 0.0


def test_minority_class_f1_by_hand():
    predicted = torch.tensor([0, 0, 1, 1, 0, 1])
    target = torch.tensor([0, 1, 1, 0, 0, 1])
    counts = class_counts(predicted, target, positive_class=0)
    assert counts.tolist() == [2, 1, 1]  # tp, fp, fn
    assert f1_from_counts(counts) == pytest.approx(2 / 3)
    assert f1_from_counts(torch.tensor([0, 3, 2])) == 0.0
