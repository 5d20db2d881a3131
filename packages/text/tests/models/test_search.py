"""Greedy and beam search over a hand-built step function: k = 1 is greedy, a wide beam finds the best sequence."""

import itertools

import pytest
import torch

from recur_text.models.search import beam_search, greedy_search

EOS = 0


def markov_step(table: torch.Tensor):
    """A decoder whose next-symbol log-probabilities depend on the last symbol only: ``table[last]``."""

    def step(symbols, state, context):
        return table[symbols], state + 1

    return step


def sequence_log_prob(table: torch.Tensor, start: int, symbols: tuple[int, ...]) -> float:
    total, last = 0.0, start
    for s in symbols:
        total += float(table[last, s])
        last = s
    return total


def brute_force_best(table: torch.Tensor, start: int, max_len: int) -> tuple[tuple[int, ...], float]:
    """The most probable sequence that ends in EOS within max_len symbols, or runs max_len symbols without one."""
    vocab = table.shape[0]
    best, best_lp = None, float("-inf")
    for length in range(1, max_len + 1):
        for body in itertools.product(range(1, vocab), repeat=length - 1):
            for last in range(vocab):
                if length < max_len and last != EOS:
                    continue
                seq = (*body, last)
                lp = sequence_log_prob(table, start, seq)
                if lp > best_lp:
                    best, best_lp = seq, lp
    return best, best_lp


def test_greedy_misses_what_the_beam_finds_on_a_hand_built_case():
    # from the start symbol 1: symbol 2 looks best (0.6) but leads nowhere good; 3 (0.4) then EOS (1.0) wins
    p = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],  # after EOS
            [0.0, 0.0, 0.6, 0.4],  # start
            [0.5, 0.0, 0.25, 0.25],  # after 2
            [1.0, 0.0, 0.0, 0.0],  # after 3
        ]
    )
    table = p.clamp(min=1e-9).log()
    start = torch.tensor([1])
    greedy = greedy_search(markov_step(table), torch.zeros(1), None, start, EOS, max_len=3)
    beam = beam_search(markov_step(table), torch.zeros(1), None, start, EOS, max_len=3, beam_size=2)
    assert greedy.tokens[0].tolist()[:2] == [2, 0] and greedy.log_prob.exp().item() == pytest.approx(0.3)
    assert beam.tokens[0].tolist()[:2] == [3, 0] and beam.log_prob.exp().item() == pytest.approx(0.4)
    assert beam.lengths.tolist() == [2]


@pytest.mark.parametrize("seed", range(4))
def test_a_wide_beam_finds_the_exhaustive_optimum(seed):
    gen = torch.Generator().manual_seed(seed)
    vocab, max_len = 4, 4
    table = torch.randn(vocab, vocab, generator=gen).mul(2).log_softmax(-1)
    table[EOS] = float("-inf")
    table[EOS, EOS] = 0.0
    start = torch.tensor([1, 2, 3])
    beam = beam_search(markov_step(table), torch.zeros(3), None, start, EOS, max_len, beam_size=vocab**max_len)
    for row, s in enumerate(start.tolist()):
        seq, lp = brute_force_best(table, s, max_len)
        assert beam.log_prob[row].item() == pytest.approx(lp, abs=1e-5)
        assert tuple(beam.tokens[row, : len(seq)].tolist()) == seq


@pytest.mark.parametrize("seed", range(3))
def test_beam_of_one_is_greedy(seed):
    gen = torch.Generator().manual_seed(seed)
    table = torch.randn(6, 6, generator=gen).log_softmax(-1)
    start = torch.randint(1, 6, (5,), generator=gen)
    greedy = greedy_search(markov_step(table), torch.zeros(5), None, start, EOS, max_len=7)
    beam = beam_search(markov_step(table), torch.zeros(5), None, start, EOS, max_len=7, beam_size=1)
    assert torch.equal(greedy.tokens, beam.tokens) and torch.equal(greedy.lengths, beam.lengths)
    assert torch.allclose(greedy.log_prob, beam.log_prob)


def test_length_penalty_prefers_the_longer_hypothesis_it_should():
    # start: EOS now (p 0.3) or symbol 2 (0.7) then EOS (0.4): 0.3 beats 0.28 summed, but per symbol
    # log 0.3 = -1.20 loses to log(0.28) / 2 = -0.64: alpha = 1 takes the two-symbol sequence
    p = torch.tensor([[1.0, 0, 0, 0], [0.3, 0.0, 0.7, 0.0], [0.4, 0.0, 0.3, 0.3], [1.0, 0, 0, 0]])
    table = p.clamp(min=1e-9).log()
    step, start = markov_step(table), torch.tensor([1])
    plain = beam_search(step, torch.zeros(1), None, start, EOS, 2, beam_size=4)
    normalised = beam_search(step, torch.zeros(1), None, start, EOS, 2, beam_size=4, length_penalty=1.0)
    assert plain.tokens[0, 0].item() == EOS
    assert normalised.tokens[0].tolist() == [2, EOS]


def test_bad_search_options_are_errors():
    table = torch.zeros(3, 3)
    with pytest.raises(ValueError, match="beam_size must be at least 1"):
        beam_search(markov_step(table), torch.zeros(1), None, torch.tensor([1]), EOS, 3, beam_size=0)
    with pytest.raises(ValueError, match="max_len must be at least 1"):
        greedy_search(markov_step(table), torch.zeros(1), None, torch.tensor([1]), EOS, 0)
