"""N-parity: the parity of the last N bits of a stream, at every step — a long-timescale probe.

Khajehabdollahi et al., "Emergent mechanisms for long timescales depend on training curriculum
and affect performance in memory tasks", ICLR 2024, https://arxiv.org/abs/2309.12927. A network
must hold the last N inputs to answer; the paper grows N with a curriculum (advance when
accuracy passes 98%) and compares how the network builds the needed timescales.
:mod:`recur_core.tasks.n_dms` is its companion task on the same stream.

Vocabulary (``vocab_size = 3``): ``0`` padding, ``1`` the bit 0, ``2`` the bit 1.
Targets (``num_classes = 2``), per token, positions counted from 0::

    t < N          -100 (no loss)
    t >= N         x[t-N+1] xor ... xor x[t]   (parity of the N most recent bits)

A curriculum calls :meth:`LagTaskData.set_n` between epochs; with
``Trainer(reload_dataloaders_every_n_epochs=1)`` the next epoch trains on the new N.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    LengthRangeDataModule,
    SequenceDataset,
    Split,
    check_length_range,
    single_threaded,
    uniform_lengths,
)

__all__ = ["LagTaskData", "NParityData", "check_lag", "generate_n_parity", "lag_dataset", "random_bit_stream"]

BIT_OFFSET = 1  # token id of bit b is b + BIT_OFFSET


def check_lag(n: int, lengths: tuple[int, int], name: str = "lengths") -> None:
    """Validate the lag ``n`` against a length range: every sequence needs a position ``t >= n``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    lo, hi = check_length_range(name, lengths)
    if lo <= n:
        raise ValueError(
            f"{name}={lengths!r} has sequences of {lo} bits, which hold no position t >= n={n} to score; "
            f"use {name} >= ({n + 1}, {max(hi, n + 1)}) or a smaller n"
        )


def random_bit_stream(num_samples: int, lengths: tuple[int, int], generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Fair-coin bits [N, hi] (int8, 0 at padding) and their lengths [N], uniform in ``lengths``."""
    seq_lengths = uniform_lengths(num_samples, lengths, generator)
    padding = torch.arange(lengths[1]) >= seq_lengths[:, None]
    bits = torch.randint(0, 2, (num_samples, lengths[1]), generator=generator, dtype=torch.int8)
    return bits.masked_fill_(padding, 0), seq_lengths


def lag_dataset(bits: Tensor, seq_lengths: Tensor, labels: Tensor, n: int) -> SequenceDataset:
    """Token ids and targets from bits and per-position labels: no loss before ``n`` or at padding."""
    padding = torch.arange(bits.shape[1]) >= seq_lengths[:, None]
    inputs = (bits + BIT_OFFSET).masked_fill_(padding, PAD_ID)
    targets = labels.to(torch.int8).masked_fill_(padding, IGNORE_INDEX)
    targets[:, :n] = IGNORE_INDEX
    return SequenceDataset(inputs, targets, seq_lengths)


@single_threaded
def generate_n_parity(
    num_samples: int, n: int, lengths: tuple[int, int], generator: torch.Generator
) -> SequenceDataset:
    """Random bit streams with the parity of their last ``n`` bits at every position ``t >= n``.

    Args:
        num_samples: number of sequences.
        n: the window N.
        lengths: inclusive ``(lo, hi)`` range of stream lengths; needs ``lo > n``.
        generator: the seeded source of every random draw.

    Shapes:
        inputs [num_samples, hi] (ids 1/2, padded with 0), targets [num_samples, hi], lengths [num_samples].
    """
    check_lag(n, lengths)
    bits, seq_lengths = random_bit_stream(num_samples, lengths, generator)
    # Prefix parities P; the window (t-n, t] has parity P[t] xor P[t-n]. The int8 running sum
    # wraps modulo 256, which keeps its lowest bit.
    prefix = bits.cumsum(1, dtype=torch.int8) & 1
    window = prefix.clone()
    window[:, n:] ^= prefix[:, :-n]
    return lag_dataset(bits, seq_lengths, window, n)


class LagTaskData(LengthRangeDataModule):
    """Base of :class:`NParityData` and :class:`~recur_core.tasks.NDMSData`: a bit stream, a lag N.

    ``vocab_size = 3``, ``num_classes = 2``, ``readout = "token"``. :meth:`set_n` changes N after
    construction and drops the generated splits, so the next use regenerates them.
    """

    def __init__(
        self,
        *,
        n: int,
        train_lengths: tuple[int, int],
        test_lengths: tuple[int, int],
        val_on: Literal["test_lengths", "train_lengths"],
        num_train: int,
        num_val: int,
        num_test: int,
        batch_size: int,
        num_workers: int,
        seed: int,
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
        )
        check_lag(n, self.train_lengths, "train_lengths")
        check_lag(n, self.test_lengths, "test_lengths")
        self.n = n
        self.vocab_size = BIT_OFFSET + 2
        self.num_classes = 2
        self.readout = "token"

    def set_n(self, n: int) -> None:
        """Use lag ``n`` from now on: the splits are regenerated on their next use (curricula)."""
        check_lag(n, self.train_lengths, "train_lengths")
        check_lag(n, self.test_lengths, "test_lengths")
        self.n = n
        self.hparams["n"] = n
        self.datasets.clear()


class NParityData(LagTaskData):
    """N-parity: at every step ``t >= N`` of a random bit stream, the parity of its last N bits.

    Paper: Khajehabdollahi et al., ICLR 2024, https://arxiv.org/abs/2309.12927. Layout in
    :mod:`recur_core.tasks.n_parity`; grow N with :meth:`set_n`.

    Args:
        n: the window N; every length range needs ``lo > n``.
        train_lengths: inclusive ``(lo, hi)`` lengths of the training streams.
        test_lengths: inclusive ``(lo, hi)`` lengths of the test streams.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], targets [B, T] (``-100`` before N and at padding), lengths [B].
    """

    def __init__(
        self,
        n: int = 3,
        train_lengths: tuple[int, int] = (50, 100),
        test_lengths: tuple[int, int] = (100, 400),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        num_train: int = 10_000,
        num_val: int = 1_000,
        num_test: int = 1_000,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            n=n,
            train_lengths=train_lengths,
            test_lengths=test_lengths,
            val_on=val_on,
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        self.save_hyperparameters()

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        return generate_n_parity(num_samples, self.n, self.split_lengths(split), generator)
