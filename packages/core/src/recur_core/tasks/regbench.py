"""REGBENCH: in-context language learning of random regular languages.

Akyürek et al., "In-Context Language Learning: Architectures and Algorithms", ICML 2024,
https://arxiv.org/abs/2401.12973. Each sequence shows strings of one random finite automaton,
never seen in training; the model must infer the language in context and predict which symbols
can come next. Transformers solve it with "n-gram heads"; most recurrent models do much worse.
:func:`ngram_predictions` is the count-based in-context n-gram predictor those heads implement.

The generator follows the paper's (``berlino/seq_icl``, defaults in brackets):

- a DFA has S states [2–9], uniform; its alphabet is S distinct symbols drawn from
  ``num_symbols`` [18];
- each state has ``1 .. min(max_edges, S - 1)`` [max_edges 4] outgoing edges, uniform in number,
  on distinct symbols of the alphabet, each to a uniformly drawn state (a two-state DFA thus has
  one edge per state, as in the reference generator);
- a sequence is [10–19] strings joined by a separator; each string has a length uniform in
  [0–49] and is a walk from state 0 choosing uniformly among the current state's edges;
- every sequence has its own DFA; the DFAs of a split are distinct, and those of validation and
  test are distinct from the training ones.

Vocabulary (``vocab_size = 2 + num_symbols``, the paper's 20)::

    0                     padding
    1                     separator "|"
    2 .. num_symbols+1    symbols

Targets are next tokens (``-100`` at the last position). Batches also carry ``"legal"`` [B, T, V]:
the symbols the DFA allows from the state reached after each position (after a separator, the
start state). The separator, which ends a string at a length drawn independently of the DFA, is
never in it. Score with :func:`~recur_core.tasks.metrics.greedy_accuracy` and
:func:`~recur_core.tasks.metrics.total_variation_distance`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    NextSymbolDataset,
    Split,
    TaskDataModule,
    check_length_range,
    id_dtype,
    single_threaded,
    split_generator,
)

__all__ = [
    "RegBenchData",
    "RegBenchDataset",
    "check_regbench_args",
    "generate_regbench",
    "ngram_predictions",
    "sample_dfas",
]

SEPARATOR_ID = 1
SYMBOL_OFFSET = 2  # id of the first symbol
# Transition tables are int8.
_MAX_STATES = 127
# Rounds in a row without a new distinct DFA before sample_dfas gives up, and the fewest
# candidates it draws in a round.
_MAX_STALLED_ROUNDS = 8
_MIN_CANDIDATES = 256
# Elements of the [rows, T, T] match tensors of ngram_predictions per chunk of rows.
_MAX_MATCHES = 1 << 24


def check_regbench_args(
    num_symbols: int,
    num_states: tuple[int, int],
    max_edges: int,
    num_strings: tuple[int, int],
    string_lengths: tuple[int, int],
    prefix: str = "",
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate one REGBENCH configuration; returns the checked ``num_states``, ``num_strings``, ``string_lengths``.

    ``prefix`` (``"test_"``) names the string arguments in the error messages.
    """
    states = check_length_range("num_states", num_states, 2, "a DFA has a start state and one more")
    if states[1] > _MAX_STATES:
        raise ValueError(f"num_states upper bound must be at most {_MAX_STATES} (int8 tables), got {num_states!r}")
    if states[1] > num_symbols:
        raise ValueError(
            f"num_states={num_states!r} needs alphabets of up to {states[1]} distinct symbols, but "
            f"num_symbols={num_symbols}; use num_symbols >= {states[1]} or fewer states"
        )
    if max_edges < 1:
        raise ValueError(f"max_edges must be at least 1, got {max_edges}")
    strings = check_length_range(f"{prefix}num_strings", num_strings)
    if len(string_lengths) != 2 or not 0 <= string_lengths[0] <= string_lengths[1]:
        raise ValueError(
            f"{prefix}string_lengths must be a range (lo, hi) with 0 <= lo <= hi, got {string_lengths!r}; e.g. (0, 49)"
        )
    lengths = (int(string_lengths[0]), int(string_lengths[1]))
    # n strings of length l with n - 1 separators: at least two tokens, one of them a target.
    shortest = strings[0] * (lengths[0] + 1) - 1
    if shortest < 2:
        more_strings, longer_strings = -(-3 // (lengths[0] + 1)), -(-3 // strings[0]) - 1
        raise ValueError(
            f"{prefix}num_strings={num_strings!r} with {prefix}string_lengths={string_lengths!r} allows sequences "
            f"of {shortest} token(s), with no next token to predict; use {prefix}num_strings >= "
            f"({more_strings}, ...) or {prefix}string_lengths >= ({longer_strings}, ...)"
        )
    return states, strings, lengths


def _draw_dfas(
    num: int, num_symbols: int, num_states: tuple[int, int], max_edges: int, generator: torch.Generator
) -> Tensor:
    """[num, S_max, num_symbols] int8 transition tables of random DFAs (-1: no edge), not deduplicated."""
    lo, hi = num_states
    states = torch.randint(lo, hi + 1, (num,), generator=generator)
    # The alphabet: the first S of a random permutation of the symbols.
    alphabet = torch.rand(num, num_symbols, generator=generator).topk(hi, dim=1).indices
    edges = 1 + (torch.rand(num, hi, generator=generator) * (states - 1).clamp(max=max_edges)[:, None]).long()
    # Each state's edges take the first `edges` alphabet positions in a random order of the first S.
    scores = torch.rand(num, hi, hi, generator=generator)
    scores.masked_fill_(torch.arange(hi) >= states[:, None, None], -1.0)
    rank = scores.argsort(dim=2, descending=True).argsort(dim=2)
    active = (rank < edges[..., None]) & (torch.arange(hi) < states[:, None])[..., None]
    targets = (torch.rand(num, hi, hi, generator=generator) * states[:, None, None]).long()
    # The alphabet's symbols are distinct, so each (state, symbol) cell is written once.
    tables = torch.full((num, hi, num_symbols), -1, dtype=torch.long)
    tables.scatter_(2, alphabet[:, None, :].expand(num, hi, hi), torch.where(active, targets, -1))
    return tables.to(torch.int8)


def _row_keys(tables: Tensor) -> Tensor:
    """An int64 hash of each table: equal tables get equal keys (distinct ones almost never collide)."""
    flat = tables.flatten(1).long() + 1
    weights = torch.randint(-(2**62), 2**62, (flat.shape[1],), generator=torch.Generator().manual_seed(0))
    # Products and sums wrap around modulo 2**64, a fine hash.
    return (flat * weights).sum(1)


def _first_new(candidates: Tensor, seen: Tensor) -> Tensor:
    """Bool [len(candidates)]: rows that occur neither in ``seen`` nor earlier in ``candidates``.

    Rows are compared by :func:`_row_keys`; a collision could only turn a new row away.
    """
    keys = _row_keys(torch.cat((seen, candidates)))
    _, inverse = torch.unique(keys, return_inverse=True)
    order = torch.arange(keys.shape[0])
    first = torch.full((int(inverse.max()) + 1,), keys.shape[0]).scatter_reduce(0, inverse, order, "amin")
    return (first[inverse] == order)[seen.shape[0] :]


@single_threaded
def sample_dfas(
    num_dfas: int,
    num_symbols: int,
    num_states: tuple[int, int],
    max_edges: int,
    generator: torch.Generator,
    exclude: Tensor | None = None,
) -> Tensor:
    """``num_dfas`` distinct random DFAs as transition tables, none equal to one in ``exclude``.

    Drawn as in this module's docstring; duplicates are drawn again, in rounds.

    Args:
        num_dfas: how many.
        num_symbols: size of the symbol set the alphabets are drawn from.
        num_states: inclusive ``(lo, hi)`` range of the number of states.
        max_edges: the most outgoing edges of a state.
        generator: the seeded source of every random draw.
        exclude: [M, hi, num_symbols] tables to avoid (the training DFAs), or None.

    Returns:
        int8 [num_dfas, hi, num_symbols]: ``table[i, s, v]`` is the state that symbol ``v`` leads to
        from state ``s`` of DFA ``i``, or -1 (no edge). State 0 is the start; rows past a DFA's
        state count are all -1.
    """
    hi = num_states[1]
    found = torch.empty(0, hi, num_symbols, dtype=torch.int8)
    seen = found if exclude is None else exclude
    stalled = 0
    while found.shape[0] < num_dfas:
        needed = num_dfas - found.shape[0]
        # Extra candidates, so that small DFA spaces still fill up in a few rounds.
        candidates = _draw_dfas(max(2 * needed, _MIN_CANDIDATES), num_symbols, num_states, max_edges, generator)
        fresh = candidates[_first_new(candidates, torch.cat((seen, found)))][:needed]
        stalled = 0 if fresh.shape[0] else stalled + 1
        if stalled == _MAX_STALLED_ROUNDS:
            raise ValueError(
                f"found only {found.shape[0]} of {num_dfas} distinct DFAs (excluding {seen.shape[0]} given ones) "
                f"with num_states={num_states!r}, num_symbols={num_symbols}, max_edges={max_edges}; "
                f"allow more states, symbols or edges, or ask for fewer sequences"
            )
        found = torch.cat((found, fresh))
    return found


class RegBenchDataset(NextSymbolDataset):
    """A :class:`~recur_core.tasks.base.NextSymbolDataset` that keeps each sequence's DFA.

    Attributes:
        transitions: int8 [N, S, num_symbols], the DFA of each sequence (see :func:`sample_dfas`).
    """

    def __init__(
        self,
        inputs: Tensor,
        targets: Tensor,
        lengths: Tensor,
        states: Tensor,
        legal_table: Tensor,
        transitions: Tensor,
    ) -> None:
        super().__init__(inputs, targets, lengths, states, legal_table)
        self.transitions = transitions


def _walk(tables: Tensor, string_lengths: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random walks from state 0 on DFA ``i``, one per string length ``string_lengths[i, j]``.

    Returns the symbols [N, J, l_max] and the state after each (values past a walk's end are
    arbitrary).
    """
    num, strings = string_lengths.shape
    longest = int(string_lengths.max()) if string_lengths.numel() else 0
    legal = tables >= 0
    # The k-th legal symbol of each state (legal ones sort first, in symbol order) and where it
    # leads, as small int8 tables: the walk's lookups are random accesses.
    most = int(legal.sum(2).max())
    kth_symbol = legal.to(torch.int8).argsort(dim=2, descending=True, stable=True)[..., :most]
    kth_target = tables.gather(2, kth_symbol).reshape(-1)
    kth_symbol = kth_symbol.to(torch.int8).reshape(-1)
    degree = legal.sum(2).to(torch.int8).reshape(-1)
    # Row offsets of each DFA in the flattened [N * S] state tables.
    dfa_row = (torch.arange(num) * tables.shape[1])[:, None]
    state = torch.zeros(num, strings, dtype=torch.long)
    uniforms = torch.rand(longest, num, strings, generator=generator)
    symbols = torch.empty(longest, num, strings, dtype=torch.int8)
    after = torch.empty_like(symbols)
    # Walking an automaton is sequential; the loop runs over the position within a string, for
    # every string of every sequence at once.
    for t in range(longest):
        row = dfa_row + state
        choice = row * most + (uniforms[t] * degree[row]).long()
        symbols[t] = kth_symbol[choice]
        after[t] = kth_target[choice]
        state = after[t].long()
    return symbols.permute(1, 2, 0), after.permute(1, 2, 0)


@single_threaded
def generate_regbench(
    num_samples: int,
    generator: torch.Generator,
    num_symbols: int = 18,
    num_states: tuple[int, int] = (2, 9),
    max_edges: int = 4,
    num_strings: tuple[int, int] = (10, 19),
    string_lengths: tuple[int, int] = (0, 49),
    exclude: Tensor | None = None,
) -> RegBenchDataset:
    """REGBENCH sequences, one fresh DFA each, in the layout of this module's docstring.

    The DFAs are drawn first (:func:`sample_dfas` with the same arguments and generator gives
    them again), then the strings.

    Args:
        num_samples: number of sequences N (and of DFAs).
        generator: the seeded source of every random draw.
        num_symbols: symbols the alphabets are drawn from.
        num_states: inclusive range of the number of DFA states.
        max_edges: the most outgoing edges of a state.
        num_strings: inclusive range of the number of strings per sequence.
        string_lengths: inclusive range of string lengths (0 allowed).
        exclude: DFAs not to use (the training split's ``transitions``), or None.

    Shapes:
        inputs [N, T], targets [N, T] (next token, ``-100`` at the end), lengths [N] (strings plus
        separators), states [N, T]; items add ``"legal"`` [L, 2 + num_symbols].
    """
    num_states, num_strings, string_lengths = check_regbench_args(
        num_symbols, num_states, max_edges, num_strings, string_lengths
    )
    tables = sample_dfas(num_samples, num_symbols, num_states, max_edges, generator, exclude)
    count = torch.randint(num_strings[0], num_strings[1] + 1, (num_samples,), generator=generator)
    lo, hi = string_lengths
    lengths = torch.randint(lo, hi + 1, (num_samples, num_strings[1]), generator=generator)
    lengths.masked_fill_(torch.arange(num_strings[1]) >= count[:, None], 0)
    symbols, after = _walk(tables, lengths, generator)

    # Each string with its separator, in a grid [N, J, l_max + 1]; the valid cells, read in
    # order, are the sequence. A separator leads back to the start state.
    grid = torch.cat((symbols.long() + SYMBOL_OFFSET, torch.zeros_like(lengths)[..., None]), dim=2)
    grid.scatter_(2, lengths[..., None], SEPARATOR_ID)
    state_grid = torch.cat((after.long(), torch.zeros_like(lengths)[..., None]), dim=2).scatter_(
        2, lengths[..., None], 0
    )
    position = torch.arange(grid.shape[2])
    string = torch.arange(num_strings[1])[:, None]
    valid = (position < lengths[..., None]) | ((position == lengths[..., None]) & (string < count[:, None, None] - 1))
    valid &= (string < count[:, None, None]).expand_as(valid)
    grid, state_grid, valid = grid.flatten(1), state_grid.flatten(1), valid.flatten(1)
    seq_lengths = valid.sum(1)
    width = int(seq_lengths.max())
    slot = torch.where(valid, valid.long().cumsum(1) - 1, width)

    vocab_size = SYMBOL_OFFSET + num_symbols
    inputs = torch.full((num_samples, width + 1), PAD_ID, dtype=torch.long).scatter_(1, slot, grid)[:, :width]
    # The extra state S_max has no legal symbol: it marks the last position, which predicts nothing.
    done = num_states[1]
    states = torch.full((num_samples, width + 1), done, dtype=torch.long).scatter_(1, slot, state_grid)[:, :width]
    last = torch.arange(width) >= (seq_lengths - 1)[:, None]
    states.masked_fill_(last, done)
    targets = torch.full_like(inputs, IGNORE_INDEX)
    targets[:, :-1] = inputs[:, 1:]
    targets.masked_fill_(last, IGNORE_INDEX)
    legal_table = F.pad(F.pad(tables >= 0, (SYMBOL_OFFSET, 0)), (0, 0, 0, 1))
    dtype = id_dtype(vocab_size)
    return RegBenchDataset(
        inputs.to(dtype), targets.to(dtype), seq_lengths, states.to(id_dtype(done + 1)), legal_table, tables
    )


def ngram_predictions(inputs: Tensor, lengths: Tensor, n: int, vocab_size: int) -> Tensor:
    """Next-token log-probabilities of the count-based in-context n-gram model, with back-off.

    At position t the context is the last ``n - 1`` tokens ``x[t-n+2 .. t]``. Every earlier
    (or current) position ``j <= t`` whose preceding ``n - 1`` tokens equal it counts one vote
    for ``x[j]``; the prediction is the normalised vote. With no matching context it backs off
    to ``n - 1``, down to the unigram counts of ``x[0 .. t]``. This is what the n-gram heads of
    Akyürek et al. compute; it is a baseline that needs no training.

    Args:
        inputs: token ids [B, T] (padding past ``lengths``).
        lengths: true lengths [B].
        n: the order (1: unigram).
        vocab_size: V.

    Returns:
        [B, T, V] log-probabilities (``-inf`` for unseen tokens; uniform at padding). Memory is
        O(T^2) per sequence; rows are processed in chunks.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    batch, width = inputs.shape
    rows_per_chunk = max(1, _MAX_MATCHES // max(1, width * width))
    chunks = [
        _ngram_chunk(inputs[start : start + rows_per_chunk], lengths[start : start + rows_per_chunk], n, vocab_size)
        for start in range(0, batch, rows_per_chunk)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, width, vocab_size)


def _ngram_chunk(inputs: Tensor, lengths: Tensor, n: int, vocab_size: int) -> Tensor:
    inputs = inputs.long()
    width = inputs.shape[1]
    valid = torch.arange(width, device=inputs.device) < lengths[:, None]
    votes = F.one_hot(inputs, vocab_size).float() * valid[..., None]
    same = inputs[:, :, None] == inputs[:, None, :]
    # match[b, t, j]: x[j] may continue position t; order 1 matches every observed j <= t.
    match = torch.ones(width, width, dtype=torch.bool, device=inputs.device).tril() & valid[:, :, None]
    counts = [match.float() @ votes]
    for context in range(1, n):
        # One more token of context: x[t - context + 1] == x[j - context].
        extra = torch.zeros_like(same)
        extra[:, context - 1 :, context:] = same[:, : width - context + 1, : width - context]
        match &= extra
        counts.append(match.float() @ votes)
    probs = torch.full_like(votes, 1.0 / vocab_size)
    assigned = torch.zeros_like(valid)
    for order_counts in reversed(counts):
        total = order_counts.sum(-1)
        use = ~assigned & (total > 0)
        probs[use] = order_counts[use] / total[use][:, None]
        assigned |= use
    return probs.log()


class RegBenchData(TaskDataModule):
    """REGBENCH: sequences of strings from random DFAs, next-token prediction with legal-next masks.

    Paper: Akyürek et al., ICML 2024, https://arxiv.org/abs/2401.12973 (defaults: 18 symbols,
    2–9 states, ≤ 4 edges, 10–19 strings of length 0–49; 5000 training DFAs, 500 test DFAs).
    Generator and layout in :mod:`recur_core.tasks.regbench`; ``readout = "token"``,
    ``num_classes = vocab_size``. Validation and test DFAs are distinct from the training ones,
    so every split measures in-context learning of unseen languages; ``test_num_strings`` and
    ``test_string_lengths`` make the test split longer as well.

    Args:
        num_symbols: symbols the DFA alphabets are drawn from (``vocab_size = num_symbols + 2``).
        num_states: inclusive range of the number of DFA states.
        max_edges: the most outgoing edges of a state.
        num_strings: inclusive range of strings per training sequence.
        string_lengths: inclusive range of string lengths in training sequences.
        test_num_strings: strings per test sequence (``None``: as in training).
        test_string_lengths: string lengths in test sequences (``None``: as in training).
        val_on: which string configuration validation uses: ``"test"`` (default) or ``"train"``.
        num_train, num_val, num_test: sequences (and DFAs) per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T], lengths [B], legal [B, T, vocab_size] bool.
    """

    def __init__(
        self,
        num_symbols: int = 18,
        num_states: tuple[int, int] = (2, 9),
        max_edges: int = 4,
        num_strings: tuple[int, int] = (10, 19),
        string_lengths: tuple[int, int] = (0, 49),
        test_num_strings: tuple[int, int] | None = None,
        test_string_lengths: tuple[int, int] | None = None,
        val_on: Literal["test", "train"] = "test",
        num_train: int = 5_000,
        num_val: int = 500,
        num_test: int = 500,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        self.save_hyperparameters()
        if val_on not in ("test", "train"):
            raise ValueError(f"val_on must be 'test' or 'train', got {val_on!r}")
        self.num_states, *train_strings = check_regbench_args(
            num_symbols, num_states, max_edges, num_strings, string_lengths
        )
        _, *test_strings = check_regbench_args(
            num_symbols,
            num_states,
            max_edges,
            num_strings if test_num_strings is None else test_num_strings,
            string_lengths if test_string_lengths is None else test_string_lengths,
            prefix="test_",
        )
        self.train_strings, self.test_strings = tuple(train_strings), tuple(test_strings)
        self.num_symbols = num_symbols
        self.max_edges = max_edges
        self.val_on = val_on
        self.vocab_size = SYMBOL_OFFSET + num_symbols
        self.num_classes = self.vocab_size
        self.readout = "token"

    def split_strings(self, split: Split) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(num_strings, string_lengths)`` of ``split``."""
        if split == "train" or (split == "val" and self.val_on == "train"):
            return self.train_strings
        return self.test_strings

    def train_dfas(self) -> Tensor:
        """The training split's DFAs (drawn again from the training stream if not generated yet)."""
        if "train" in self.datasets:
            return self.datasets["train"].transitions
        generator = split_generator(self.seed, "train")
        return sample_dfas(self.num_samples["train"], self.num_symbols, self.num_states, self.max_edges, generator)

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> RegBenchDataset:
        num_strings, string_lengths = self.split_strings(split)
        return generate_regbench(
            num_samples,
            generator,
            self.num_symbols,
            self.num_states,
            self.max_edges,
            num_strings,
            string_lengths,
            exclude=None if split == "train" else self.train_dfas(),
        )
