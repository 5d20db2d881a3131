"""The embedded Reber grammar: next-symbol prediction with a long-range dependency.

Reber, "Implicit learning of artificial grammars", 1967; the embedded version is the benchmark of
Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997, and of the sparse
RNNs of Narang et al., "Exploring Sparsity in Recurrent Neural Networks", ICLR 2017,
https://arxiv.org/abs/1704.05119 (via Darji's thesis). An embedded string is ``B T <Reber> T E``
or ``B P <Reber> P E``: the symbol before the final ``E`` must repeat the second one, across the
whole inner string, which a model without memory gets right only half the time.

Inner Reber grammar (state: symbol -> next state; each choice equally likely)::

    0: B -> 1
    1: T -> 2, P -> 3
    2: S -> 2, X -> 4
    3: T -> 3, V -> 5
    4: X -> 3, S -> 6
    5: P -> 4, V -> 6
    6: E -> end

Vocabulary (``vocab_size = 8``): ``0`` padding, ``1 .. 7`` = ``B T P S X V E``.
Inputs are whole strings; the target at each position is the next symbol (``-100`` after the
final ``E``), and batches carry ``"legal"`` [B, T, 8], the symbols the grammar allows next, for
:func:`~recur_core.tasks.metrics.greedy_accuracy` (is the argmax legal?).

Lengths: a length is drawn uniformly from the range, then a string of exactly that length from
the grammar's own process conditioned on its length (each choice weighted by the probability of
ending in the remaining steps). So the strings are the grammar's, long test strings included.
The shortest embedded string has 9 symbols.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    LengthRangeDataModule,
    NextSymbolDataset,
    Split,
    check_length_range,
    single_threaded,
    uniform_lengths,
)

__all__ = ["REBER_SYMBOLS", "ReberData", "embedded_reber_transitions", "generate_reber"]

REBER_SYMBOLS = "BTPSXVE"  # token id of symbol REBER_SYMBOLS[i] is i + 1
SHORTEST = 9  # B T B T X S E T E
_INNER = {0: {"B": 1}, 1: {"T": 2, "P": 3}, 2: {"S": 2, "X": 4}, 3: {"T": 3, "V": 5}, 4: {"X": 3, "S": 6}}
_INNER |= {5: {"P": 4, "V": 6}, 6: {"E": 7}}
_INNER_STATES = 8  # 0..6 and the inner end, 7


def embedded_reber_transitions() -> Tensor:
    """[20, 8] next state of each (state, token id) of the embedded grammar, -1 where illegal.

    States: 0 (expects B), 1 (expects T or P), 2-9 the inner grammar after T, 10-17 after P,
    18 (expects E), 19 (the end: nothing follows).
    """
    ids = {symbol: i + 1 for i, symbol in enumerate(REBER_SYMBOLS)}
    after_t, after_p = 2, 2 + _INNER_STATES
    expect_e, end = after_p + _INNER_STATES, after_p + _INNER_STATES + 1
    table = torch.full((end + 1, len(REBER_SYMBOLS) + 1), -1, dtype=torch.long)
    table[0, ids["B"]] = 1
    table[1, ids["T"]], table[1, ids["P"]] = after_t, after_p
    for offset in (after_t, after_p):
        for state, edges in _INNER.items():
            for symbol, following in edges.items():
                table[offset + state, ids[symbol]] = offset + following
    table[after_t + _INNER_STATES - 1, ids["T"]] = expect_e
    table[after_p + _INNER_STATES - 1, ids["P"]] = expect_e
    table[expect_e, ids["E"]] = end
    return table


def _choice_probabilities(table: Tensor, longest: int) -> Tensor:
    """[S, longest + 1, V] probability of each next token from a state with r symbols still to emit.

    ``finish[s, r]`` is the probability that the grammar's own process, started in s, ends after
    exactly r more symbols; conditioning on the length weighs each edge by it.
    """
    legal = table >= 0
    end = int((~legal.any(1)).nonzero()[0])
    log_finish = torch.full((table.shape[0], longest + 1), -torch.inf, dtype=torch.float64)
    log_finish[end, 0] = 0.0
    log_edge = -legal.sum(1, keepdim=True).clamp(min=1).double().log()
    following = table.clamp(min=0)
    # The dynamic program runs over the number of remaining symbols, for all states at once.
    for remaining in range(1, longest + 1):
        through = torch.where(legal, log_edge + log_finish[following, remaining - 1], -torch.inf)
        log_finish[:, remaining] = through.logsumexp(1)
    weights = torch.where(legal[:, None, :], log_finish[following, :-1].permute(0, 2, 1), -torch.inf)
    probs = weights.softmax(-1).nan_to_num(0.0)
    return torch.cat((torch.zeros_like(probs[:, :1]), probs), dim=1)


@single_threaded
def generate_reber(num_samples: int, lengths: tuple[int, int], generator: torch.Generator) -> NextSymbolDataset:
    """Embedded Reber strings of lengths uniform in ``lengths``, with next-symbol targets and legal sets.

    Args:
        num_samples: number of strings N.
        lengths: inclusive ``(lo, hi)`` range of string lengths; needs ``lo >= 9``.
        generator: the seeded source of every random draw.

    Shapes:
        inputs [N, hi] (ids 1-7, padded with 0), targets [N, hi], lengths [N], states [N, hi];
        items add ``"legal"`` [L, 8].
    """
    lo, hi = check_length_range("lengths", lengths, SHORTEST, "the shortest embedded Reber string, BTBTXSETE")
    table = embedded_reber_transitions()
    choices = _choice_probabilities(table, hi).cumsum(-1)
    end = table.shape[0] - 1
    seq_lengths = uniform_lengths(num_samples, (lo, hi), generator)
    uniforms = torch.rand(hi, num_samples, generator=generator, dtype=torch.float64)
    tokens = torch.empty(hi, num_samples, dtype=torch.long)
    states = torch.empty_like(tokens)
    state = torch.zeros(num_samples, dtype=torch.long)
    remaining = seq_lengths.clone()
    # Generating from a grammar is sequential; the loop runs over positions, all strings at once.
    for t in range(hi):
        cumulative = choices[state, remaining.clamp(min=0)]
        token = (cumulative <= uniforms[t, :, None] * cumulative[:, -1:]).sum(1)
        token = torch.where(remaining > 0, token, PAD_ID)
        state = torch.where(remaining > 0, table[state, token], end)
        tokens[t], states[t] = token, state
        remaining -= 1
    inputs, states = tokens.T, states.T
    targets = torch.full_like(inputs, IGNORE_INDEX)
    targets[:, :-1] = inputs[:, 1:]
    targets.masked_fill_(torch.arange(hi) >= (seq_lengths - 1)[:, None], IGNORE_INDEX)
    legal_table = (table >= 0).expand(num_samples, -1, -1)
    return NextSymbolDataset(
        inputs.to(torch.int8), targets.to(torch.int8), seq_lengths, states.to(torch.int8), legal_table
    )


class ReberData(LengthRangeDataModule):
    """Embedded Reber grammar strings: next-symbol prediction, trained short, tested long.

    Papers: Hochreiter & Schmidhuber 1997; Narang et al., ICLR 2017,
    https://arxiv.org/abs/1704.05119. Grammar, targets and lengths in :mod:`recur_core.tasks.reber`;
    ``vocab_size = num_classes = 8``, ``readout = "token"``. Score with
    :func:`~recur_core.tasks.metrics.greedy_accuracy` on the batch's ``"legal"``; the position
    before the final ``E`` is the one that needs memory.

    Args:
        train_lengths: inclusive ``(lo, hi)`` string lengths for training; ``lo >= 9``.
        test_lengths: inclusive ``(lo, hi)`` string lengths for testing.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: strings per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T], lengths [B], legal [B, T, 8] bool.
    """

    def __init__(
        self,
        train_lengths: tuple[int, int] = (9, 20),
        test_lengths: tuple[int, int] = (20, 60),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        num_train: int = 10_000,
        num_val: int = 1_000,
        num_test: int = 1_000,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            train_lengths=train_lengths,
            test_lengths=test_lengths,
            val_on=val_on,
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            min_length=SHORTEST,
            why="the shortest embedded Reber string, BTBTXSETE",
        )
        self.save_hyperparameters()
        self.vocab_size = len(REBER_SYMBOLS) + 1
        self.num_classes = self.vocab_size
        self.readout = "token"

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> NextSymbolDataset:
        return generate_reber(num_samples, self.split_lengths(split), generator)
