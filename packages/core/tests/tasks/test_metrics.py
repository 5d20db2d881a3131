"""Greedy accuracy and total variation distance against legal-next masks, on hand-computed cases."""

import math

import pytest
import torch

from recur_core.tasks import greedy_accuracy, total_variation_distance

# One sequence, three positions, four symbols; the last position has nothing legal (not scored).
LEGAL = torch.tensor([[[False, True, True, False], [True, False, False, False], [False, False, False, False]]])


def test_greedy_accuracy_counts_legal_argmaxes_at_scored_positions():
    logits = torch.tensor([[[0.0, 0.1, 2.0, 0.0], [0.0, 3.0, 0.0, 0.0], [9.0, 0.0, 0.0, 0.0]]])
    assert greedy_accuracy(logits, LEGAL).item() == 0.5
    logits[0, 1, 0] = 5.0
    assert greedy_accuracy(logits, LEGAL).item() == 1.0


def test_total_variation_is_zero_for_the_grammar_and_computed_by_hand_otherwise():
    grammar = torch.where(LEGAL, 0.0, -math.inf)
    grammar[0, 2] = 0.0
    assert total_variation_distance(grammar, LEGAL).item() == pytest.approx(0.0, abs=1e-7)
    # Uniform over 4 symbols: position 0 is off by 0.5 * (2 * 0.25 + 2 * 0.25) = 0.5,
    # position 1 by 0.5 * (0.75 + 3 * 0.25) = 0.75; the mean is 0.625.
    uniform = torch.zeros(1, 3, 4)
    assert total_variation_distance(uniform, LEGAL).item() == pytest.approx(0.625)


def test_bad_inputs_say_what_is_needed():
    with pytest.raises(ValueError, match="bool legal mask of the same shape"):
        greedy_accuracy(torch.zeros(1, 3, 5), LEGAL)
    with pytest.raises(ValueError, match="bool legal mask"):
        total_variation_distance(torch.zeros(1, 3, 4), LEGAL.float())
    with pytest.raises(ValueError, match="nothing to score"):
        greedy_accuracy(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4, dtype=torch.bool))
