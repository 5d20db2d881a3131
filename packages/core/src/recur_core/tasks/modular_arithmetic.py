"""Modular arithmetic: evaluate an expression over the digits mod m — a state-tracking probe.

Grazzi et al., "Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues", ICLR 2025,
https://arxiv.org/abs/2411.12537, run it in the xLSTM formal-language setup, which takes the task
from Delétang et al., "Neural Networks and the Chomsky Hierarchy", ICLR 2023,
https://arxiv.org/abs/2207.02098. Without brackets it is a regular language (a finite automaton
over the residues solves it); with nested brackets it is context-free. Defaults follow the paper:
m = 5 (vocabulary 10 without brackets, 12 with), lengths 3–40 for training and 40–256 for testing.

Token ids (``m = modulus``)::

    0                 padding
    1 .. m            the digits 0 .. m-1
    m+1  m+2  m+3     +  -  *
    m+4               =
    m+5  m+6          (  )        (brackets=True only)

Each input is an expression followed by ``=``; its label (``num_classes = m``) is the value of
the expression mod m, read at the last position.

- Without brackets: ``d op d op ... d`` with digits and operators uniform, evaluated with the
  usual precedence (``*`` before ``+`` and ``-``, left to right), as Delétang et al. do. The
  expression has odd length, so every input has even length.
- With brackets, the grammar of the xLSTM generator: an expression of length ``l < 5`` is
  ``d``, ``-d``, ``(d)`` or ``(-d)`` (by ``l``); a longer one is ``(A op B)`` with the length of
  ``A`` uniform in ``1 .. l-4`` and ``B`` the rest. Every length from 1 up is possible.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from recur_core.tasks.base import (
    PAD_ID,
    LengthRangeDataModule,
    SequenceDataset,
    Split,
    check_length_range,
    id_dtype,
    single_threaded,
    uniform_lengths,
)

__all__ = [
    "ModularArithmeticData",
    "check_operators",
    "generate_modular_arithmetic",
    "modular_arithmetic_vocab",
]

OPERATORS = "+-*"
_PLUS, _MINUS, _TIMES = 0, 1, 2
# The leaves of the bracket grammar by length ("d" stands for the digit); longer is ( A op B ).
_LEAF_FORMS = {1: ("d",), 2: ("-", "d"), 3: ("(", "d", ")"), 4: ("(", "-", "d", ")")}


def modular_arithmetic_vocab(modulus: int, brackets: bool) -> dict[str, int]:
    """Symbol -> token id: the digits ``"0" .. str(m-1)``, ``+ - * =`` and, with brackets, ``( )``."""
    vocab = {str(d): d + 1 for d in range(modulus)}
    vocab.update({op: modulus + 1 + i for i, op in enumerate(OPERATORS)})
    vocab["="] = modulus + 4
    if brackets:
        vocab.update({"(": modulus + 5, ")": modulus + 6})
    return vocab


def check_operators(operators: str) -> Tensor:
    """Validate an operator set such as ``"+-*"`` or ``"+-"``; returns their codes (0 +, 1 -, 2 *)."""
    if not operators or any(op not in OPERATORS for op in operators) or len(set(operators)) != len(operators):
        raise ValueError(
            f"operators must be distinct characters of {OPERATORS!r}, e.g. '+-*' or '+-', got {operators!r}"
        )
    return torch.tensor([OPERATORS.index(op) for op in operators])


def _check_lengths(name: str, lengths: tuple[int, int], brackets: bool) -> tuple[int, int]:
    lo, hi = check_length_range(name, lengths, 2, "one digit and '='")
    if not brackets and (lo + 1) // 2 > hi // 2:
        raise ValueError(
            f"{name}={lengths!r} holds no even length: without brackets an expression has an odd number of "
            f"tokens, so with '=' every input has even length; use e.g. ({lo - 1}, {hi}) or ({lo}, {hi + 1})"
        )
    return lo, hi


def _segmented_product(values: Tensor, starts: Tensor, modulus: int) -> Tensor:
    """Running product mod ``modulus`` along dim 1 that restarts wherever ``starts`` is True.

    A Hillis–Steele scan: after the round with stride s, each position holds the product of the
    last 2s positions of its segment, so log2(T) rounds cover every segment.
    """
    shift = 1
    while shift < values.shape[1]:
        merged = torch.where(starts[:, shift:], values[:, shift:], values[:, :-shift] * values[:, shift:] % modulus)
        values = torch.cat((values[:, :shift], merged), dim=1)
        starts = torch.cat((starts[:, :shift], starts[:, shift:] | starts[:, :-shift]), dim=1)
        shift *= 2
    return values


def _flat_expressions(
    num_samples: int, lengths: tuple[int, int], generator: torch.Generator, modulus: int, op_codes: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Bracket-free expressions: token ids [N, hi] (with ``=``, unpadded), labels [N], lengths [N]."""
    lo, hi = lengths
    max_terms = hi // 2
    num_terms = torch.randint((lo + 1) // 2, max_terms + 1, (num_samples,), generator=generator)
    digits = torch.randint(0, modulus, (num_samples, max_terms), generator=generator)
    ops = op_codes[torch.randint(0, len(op_codes), (num_samples, max_terms - 1), generator=generator)]

    # Products bind first: a term opens a new product unless a * precedes it, and a - before
    # the opening term negates the whole product.
    starts = torch.ones(num_samples, max_terms, dtype=torch.bool)
    starts[:, 1:] = ops != _TIMES
    negated = torch.zeros_like(starts)
    negated[:, 1:] = ops == _MINUS
    products = _segmented_product(torch.where(negated, (modulus - digits) % modulus, digits), starts, modulus)
    valid = torch.arange(max_terms) < num_terms[:, None]
    closes = valid.clone()
    closes[:, :-1] &= starts[:, 1:] | ~valid[:, 1:]
    labels = (products * closes).sum(1) % modulus

    inputs = torch.full((num_samples, hi), PAD_ID, dtype=torch.long)
    inputs[:, 0 : 2 * max_terms : 2] = digits + 1
    inputs[:, 1 : 2 * max_terms - 1 : 2] = ops + modulus + 1
    seq_lengths = 2 * num_terms
    inputs.scatter_(1, (seq_lengths - 1)[:, None], modulus + 4)
    return inputs, labels, seq_lengths


def _leaf_table(modulus: int) -> Tensor:
    """[5, 4] token ids of the leaves by length (rows 1-4), ``-1`` past the end, ``0`` for the digit."""
    vocab = modular_arithmetic_vocab(modulus, brackets=True)
    table = torch.full((len(_LEAF_FORMS) + 1, len(_LEAF_FORMS)), -1, dtype=torch.long)
    for size, form in _LEAF_FORMS.items():
        table[size, :size] = torch.tensor([0 if symbol == "d" else vocab[symbol] for symbol in form])
    return table


def _bracket_expressions(
    num_samples: int, lengths: tuple[int, int], generator: torch.Generator, modulus: int, op_codes: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Bracketed expressions: token ids [N, hi] (with ``=``, unpadded), labels [N], lengths [N].

    The grammar is expanded one tree level at a time for every node of every sequence at once:
    a node is a span (sequence, start, length). Its (up to 4) tokens are written when it is
    visited; its value is combined from its children's on the way back up.
    """
    _, hi = lengths
    seq_lengths = uniform_lengths(num_samples, lengths, generator)
    vocab = modular_arithmetic_vocab(modulus, brackets=True)
    leaf_table = _leaf_table(modulus)
    inputs = torch.full((num_samples, hi), PAD_ID, dtype=torch.long)
    inputs[torch.arange(num_samples), seq_lengths - 1] = vocab["="]

    sample, start, length = torch.arange(num_samples), torch.zeros(num_samples, dtype=torch.long), seq_lengths - 1
    levels = []
    while sample.numel():
        digits = torch.randint(0, modulus, sample.shape, generator=generator)
        split = torch.rand(sample.shape, generator=generator, dtype=torch.float64)
        ops = op_codes[torch.randint(0, len(op_codes), sample.shape, generator=generator)]
        leaf = length < leaf_table.shape[0]
        # A compound node ( A op B ), |A| uniform in 1..length-4, writes three tokens (-1: none).
        left = 1 + (split * (length - 4).clamp(min=1)).long()
        offsets = torch.stack((torch.zeros_like(length), 1 + left, length - 1, length), dim=1)
        fixed = torch.tensor([vocab["("], 0, vocab[")"], -1]).expand(length.shape[0], -1)
        ids = torch.where(torch.arange(4) == 1, ops[:, None] + vocab["+"], fixed)
        # A leaf writes its form of _LEAF_FORMS from its start.
        leaf_ids = leaf_table[length.clamp(max=leaf_table.shape[0] - 1)]
        leaf_ids = torch.where(leaf_ids == 0, digits[:, None] + 1, leaf_ids)
        offsets = torch.where(leaf[:, None], torch.arange(leaf_table.shape[1]), offsets)
        ids = torch.where(leaf[:, None], leaf_ids, ids)
        written = ids >= 0
        rows = sample[:, None].expand_as(ids)
        inputs[rows[written], (start[:, None] + offsets)[written]] = ids[written]
        # The even-length leaves, -d and (-d), carry a minus.
        leaf_values = torch.where(length % 2 == 0, (modulus - digits) % modulus, digits)
        compound = (~leaf).nonzero().squeeze(1)
        levels.append((leaf_values, ops, compound))
        s, st, ln, lf = sample[compound], start[compound], length[compound], left[compound]
        sample, start, length = torch.cat((s, s)), torch.cat((st + 1, st + 2 + lf)), torch.cat((lf, ln - lf - 3))

    values = torch.empty(0, dtype=torch.long)
    for leaf_values, ops, compound in reversed(levels):
        left_values, right_values = values.chunk(2) if values.numel() else (values, values)
        op = ops[compound]
        combined = torch.where(
            op == _PLUS,
            left_values + right_values,
            torch.where(op == _MINUS, left_values - right_values, left_values * right_values),
        )
        values = leaf_values.clone()
        values[compound] = combined % modulus
    return inputs, values, seq_lengths


@single_threaded
def generate_modular_arithmetic(
    num_samples: int,
    lengths: tuple[int, int],
    generator: torch.Generator,
    modulus: int = 5,
    brackets: bool = False,
    operators: str = OPERATORS,
) -> SequenceDataset:
    """Expressions followed by ``=``, labelled with their value mod ``modulus``, all drawn at once.

    Args:
        num_samples: number of sequences N.
        lengths: inclusive ``(lo, hi)`` range of input lengths (expression plus ``=``). Without
            brackets only even lengths occur (the number of terms is uniform); with brackets the
            length is uniform in the range.
        generator: the seeded source of every random draw.
        modulus: m, the number of digits and of classes.
        brackets: nested bracketed expressions (context-free) instead of flat ones (regular).
        operators: the binary operators to draw from, a subset of ``"+-*"``. With brackets the
            unary minus of the leaves ``-d`` and ``(-d)`` occurs whatever this is.

    Shapes:
        inputs [N, hi] (padded with 0), targets [N] in 0..m-1, lengths [N].
    """
    if modulus < 2:
        raise ValueError(f"modulus must be at least 2, got {modulus}")
    op_codes = check_operators(operators)
    lengths = _check_lengths("lengths", lengths, brackets)
    build = _bracket_expressions if brackets else _flat_expressions
    inputs, labels, seq_lengths = build(num_samples, lengths, generator, modulus, op_codes)
    inputs.masked_fill_(torch.arange(lengths[1]) >= seq_lengths[:, None], PAD_ID)
    vocab_size = modulus + (7 if brackets else 5)
    return SequenceDataset(inputs.to(id_dtype(vocab_size)), labels, seq_lengths)


class ModularArithmeticData(LengthRangeDataModule):
    """Modular arithmetic expressions, trained on short ones and tested on long ones.

    Paper: Grazzi et al., ICLR 2025, https://arxiv.org/abs/2411.12537 (xLSTM formal-language
    tasks: m = 5, vocabulary 10, or 12 with brackets; lengths 3–40 / 40–256). Layout, grammar and
    vocabulary in :mod:`recur_core.tasks.modular_arithmetic`. ``readout = "last"``,
    ``num_classes = modulus``.

    Args:
        modulus: m; digits are 0..m-1 and the label is the value mod m.
        brackets: nested bracketed expressions instead of flat ones.
        operators: binary operators to use, a subset of ``"+-*"``.
        train_lengths: inclusive ``(lo, hi)`` input lengths (expression plus ``=``) for training.
        test_lengths: inclusive ``(lo, hi)`` input lengths for testing.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B], lengths [B].
    """

    def __init__(
        self,
        modulus: int = 5,
        brackets: bool = False,
        operators: str = OPERATORS,
        train_lengths: tuple[int, int] = (3, 40),
        test_lengths: tuple[int, int] = (40, 256),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        num_train: int = 20_000,
        num_val: int = 1_000,
        num_test: int = 2_000,
        batch_size: int = 256,
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
            min_length=2,
            why="one digit and '='",
        )
        self.save_hyperparameters()
        if modulus < 2:
            raise ValueError(f"modulus must be at least 2, got {modulus}")
        check_operators(operators)
        _check_lengths("train_lengths", self.train_lengths, brackets)
        _check_lengths("test_lengths", self.test_lengths, brackets)
        self.modulus = modulus
        self.brackets = brackets
        self.operators = operators
        self.symbols = modular_arithmetic_vocab(modulus, brackets)
        self.vocab_size = len(self.symbols) + 1  # and padding
        self.num_classes = modulus
        self.readout = "last"

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        return generate_modular_arithmetic(
            num_samples, self.split_lengths(split), generator, self.modulus, self.brackets, self.operators
        )
