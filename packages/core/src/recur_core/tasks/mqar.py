"""Multi-query associative recall (MQAR): the in-context recall probe.

Arora et al., "Zoology: Measuring and Improving Recall in Efficient Language Models", ICLR 2024,
https://arxiv.org/abs/2312.04927. A sequence lists key–value pairs, then asks for several keys
again; at each query the model must output that key's value. Attention solves it at any size;
a fixed-size recurrent state fails once the pairs outgrow it, which is what the task measures.
Just Read Twice (Arora et al. 2024, https://arxiv.org/abs/2407.05483) uses it with fewer queries
than pairs ("selective" MQAR, ``num_queries < num_kv_pairs``).

Vocabulary (``vocab_size = V``, ``K = (V - 2) // 2``)::

    0              padding
    1              filler (a query-section position that asks nothing)
    2 .. K+1       keys
    K+2 .. 2K+1    values  (for odd V - 2, id V - 1 is unused)

Layout of one sequence of length ``seq_len`` with ``P = num_kv_pairs`` and ``Q = num_queries``::

    position   0   1   2   3  ...  2P-2  2P-1 | 2P ........................ seq_len-1
    inputs     k1  v1  k2  v2 ...  kP    vP   | filler, with Q of the keys at random positions
    targets    -100 everywhere in the context | the queried key's value there, -100 elsewhere

The P keys of a sequence are distinct, and so are its P values. The queried keys are a random
subset of size Q in random order, at Q distinct positions drawn uniformly from the query section
(the paper biases the key-to-query distance; here every position is equally likely).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from recur_core.tasks.base import IGNORE_INDEX, SequenceDataset, Split, TaskDataModule, single_threaded

__all__ = ["FILLER_ID", "KEY_OFFSET", "MQARData", "check_mqar_args", "generate_mqar", "mqar_key_count"]

FILLER_ID = 1
KEY_OFFSET = 2  # id of the first key; ids below it are padding and filler
# Row block of the distinct-draw helper, so that [rows, high] random scores stay ~16 MB.
_MAX_SCORES = 1 << 22


def mqar_key_count(vocab_size: int) -> int:
    """How many key ids (and as many value ids) a vocabulary of ``vocab_size`` holds."""
    return (vocab_size - KEY_OFFSET) // 2


def check_mqar_args(vocab_size: int, num_kv_pairs: int, seq_len: int, num_queries: int | None, prefix: str = "") -> int:
    """Validate one MQAR configuration; returns the number of queries (``num_kv_pairs`` for None).

    ``prefix`` (``"test_"``) names the pair-count and length arguments in the error messages.
    """
    pairs_arg, len_arg = f"{prefix}num_kv_pairs", f"{prefix}seq_len"
    if num_kv_pairs < 1:
        raise ValueError(f"{pairs_arg} must be at least 1, got {num_kv_pairs}")
    queries = num_kv_pairs if num_queries is None else num_queries
    if not 1 <= queries <= num_kv_pairs:
        raise ValueError(
            f"num_queries must lie in 1..{pairs_arg} = 1..{num_kv_pairs}, got {num_queries}; "
            f"pass num_queries=None to query every pair"
        )
    needed_vocab = KEY_OFFSET + 2 * num_kv_pairs
    if vocab_size < needed_vocab:
        raise ValueError(
            f"vocab_size={vocab_size} holds {max(mqar_key_count(vocab_size), 0)} distinct keys, too few for "
            f"{pairs_arg}={num_kv_pairs}; use vocab_size >= {needed_vocab} (2 special ids + keys + values)"
        )
    needed_len = 2 * num_kv_pairs + queries
    if seq_len < needed_len:
        raise ValueError(
            f"{len_arg}={seq_len} is too short for {num_kv_pairs} pairs (2 tokens each) and {queries} queries; "
            f"use {len_arg} >= {needed_len}, or fewer pairs or queries"
        )
    return queries


def _distinct_draws(num_rows: int, count: int, high: int, generator: torch.Generator) -> Tensor:
    """[num_rows, count] integers from 0..high-1, distinct within a row, in uniformly random order.

    Sparse draws (``count**2 <= 2 * high``, so at least ~37% of rows come out distinct) use
    rejection: draw with replacement and redraw the rows with a repeat, which leaves every
    ordered distinct tuple equally likely at O(count) memory per row. Dense draws rank ``high``
    uniform scores per row and keep the ``count`` largest, in row blocks to bound memory.
    """
    if count * count <= 2 * high:
        draws = torch.randint(high, (num_rows, count), generator=generator)
        rows = torch.arange(num_rows)
        while rows.numel():
            ordered = draws[rows].sort(dim=1).values
            rows = rows[(ordered[:, 1:] == ordered[:, :-1]).any(dim=1)]
            draws[rows] = torch.randint(high, (rows.numel(), count), generator=generator)
        return draws
    rows_per_block = max(1, _MAX_SCORES // high)
    blocks = [
        torch.rand(min(rows_per_block, num_rows - start), high, generator=generator).topk(count, dim=1).indices
        for start in range(0, num_rows, rows_per_block)
    ]
    return torch.cat(blocks) if blocks else torch.empty(0, count, dtype=torch.long)


@single_threaded
def generate_mqar(
    num_samples: int,
    vocab_size: int,
    num_kv_pairs: int,
    seq_len: int,
    generator: torch.Generator,
    num_queries: int | None = None,
) -> SequenceDataset:
    """MQAR sequences in the layout of this module's docstring, all drawn at once.

    Args:
        num_samples: number of sequences N.
        vocab_size: V, shared by keys, values, filler and padding.
        num_kv_pairs: P, key–value pairs in the context.
        seq_len: T, length of every sequence (context 2P plus query section T - 2P).
        generator: the seeded source of every random draw.
        num_queries: keys asked in the query section; ``None`` asks every one of the P.

    Shapes:
        inputs [N, T], targets [N, T] (value ids at query positions, ``-100`` elsewhere),
        lengths [N] (all T).
    """
    queries = check_mqar_args(vocab_size, num_kv_pairs, seq_len, num_queries)
    num_keys = mqar_key_count(vocab_size)
    keys = KEY_OFFSET + _distinct_draws(num_samples, num_kv_pairs, num_keys, generator)
    values = KEY_OFFSET + num_keys + _distinct_draws(num_samples, num_kv_pairs, num_keys, generator)
    context = torch.stack((keys, values), dim=2).reshape(num_samples, 2 * num_kv_pairs)

    asked = _distinct_draws(num_samples, queries, num_kv_pairs, generator)
    where = _distinct_draws(num_samples, queries, seq_len - 2 * num_kv_pairs, generator)
    query_inputs = torch.full((num_samples, seq_len - 2 * num_kv_pairs), FILLER_ID)
    query_inputs.scatter_(1, where, keys.gather(1, asked))
    query_targets = torch.full_like(query_inputs, IGNORE_INDEX)
    query_targets.scatter_(1, where, values.gather(1, asked))

    inputs = torch.cat((context, query_inputs), dim=1)
    targets = torch.cat((torch.full_like(context, IGNORE_INDEX), query_targets), dim=1)
    return SequenceDataset(inputs, targets, torch.full((num_samples,), seq_len))


class MQARData(TaskDataModule):
    """Multi-query associative recall, with optional more pairs or longer sequences at test time.

    Paper: Arora et al., Zoology, https://arxiv.org/abs/2312.04927. Layout and vocabulary in
    :mod:`recur_core.tasks.mqar`. Targets are value ids at the query positions and ``-100``
    elsewhere (``readout = "token"``, ``num_classes = vocab_size``). Setting ``test_num_kv_pairs``
    or ``test_seq_len`` makes the test split (and, by default, validation) a generalization test.

    Args:
        vocab_size: V; needs ``V >= 2 + 2 * max(num_kv_pairs, test_num_kv_pairs)``.
        num_kv_pairs: pairs per training sequence.
        seq_len: length of the training sequences; needs ``seq_len >= 2 * num_kv_pairs + queries``.
        num_queries: keys asked per sequence; ``None`` asks every pair (standard MQAR), fewer
            gives the selective variant of Just Read Twice.
        test_num_kv_pairs: pairs per test sequence (``None``: as in training).
        test_seq_len: length of the test sequences (``None``: as in training).
        val_on: which configuration validation uses: ``"test"`` (default) or ``"train"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T], lengths [B].
    """

    def __init__(
        self,
        vocab_size: int = 128,
        num_kv_pairs: int = 8,
        seq_len: int = 64,
        num_queries: int | None = None,
        test_num_kv_pairs: int | None = None,
        test_seq_len: int | None = None,
        val_on: Literal["test", "train"] = "test",
        num_train: int = 20_000,
        num_val: int = 1_000,
        num_test: int = 1_000,
        batch_size: int = 64,
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
        self.train_config = (num_kv_pairs, seq_len)
        self.test_config = (
            num_kv_pairs if test_num_kv_pairs is None else test_num_kv_pairs,
            seq_len if test_seq_len is None else test_seq_len,
        )
        check_mqar_args(vocab_size, *self.train_config, num_queries)
        check_mqar_args(vocab_size, *self.test_config, num_queries, prefix="test_")
        self.num_queries = num_queries
        self.val_on = val_on
        self.vocab_size = vocab_size
        self.num_classes = vocab_size
        self.readout = "token"

    def split_config(self, split: Split) -> tuple[int, int]:
        """``(num_kv_pairs, seq_len)`` of ``split``."""
        if split == "train" or (split == "val" and self.val_on == "train"):
            return self.train_config
        return self.test_config

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        pairs, length = self.split_config(split)
        return generate_mqar(num_samples, self.vocab_size, pairs, length, generator, self.num_queries)
