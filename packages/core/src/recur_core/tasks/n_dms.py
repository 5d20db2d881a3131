"""N-DMS (delayed match-to-sample): does each bit match the bit N steps before it?

Khajehabdollahi et al., "Emergent mechanisms for long timescales depend on training curriculum
and affect performance in memory tasks", ICLR 2024, https://arxiv.org/abs/2309.12927. The
companion of :mod:`recur_core.tasks.n_parity` on the same bit stream: the network must hold the
bit from N steps ago, and only that one.

Vocabulary (``vocab_size = 3``): ``0`` padding, ``1`` the bit 0, ``2`` the bit 1.
Targets (``num_classes = 2``), per token, positions counted from 0::

    t < N          -100 (no loss)
    t >= N         1 if x[t] == x[t-N] else 0
"""

from __future__ import annotations

from typing import Literal

import torch

from recur_core.tasks.base import SequenceDataset, Split, single_threaded
from recur_core.tasks.n_parity import LagTaskData, check_lag, lag_dataset, random_bit_stream

__all__ = ["NDMSData", "generate_n_dms"]


@single_threaded
def generate_n_dms(num_samples: int, n: int, lengths: tuple[int, int], generator: torch.Generator) -> SequenceDataset:
    """Random bit streams labelled at every position ``t >= n`` with ``x[t] == x[t-n]``.

    Args:
        num_samples: number of sequences.
        n: the delay N.
        lengths: inclusive ``(lo, hi)`` range of stream lengths; needs ``lo > n``.
        generator: the seeded source of every random draw.

    Shapes:
        inputs [num_samples, hi] (ids 1/2, padded with 0), targets [num_samples, hi], lengths [num_samples].
    """
    check_lag(n, lengths)
    bits, seq_lengths = random_bit_stream(num_samples, lengths, generator)
    match = torch.zeros_like(bits)
    match[:, n:] = bits[:, n:] == bits[:, :-n]
    return lag_dataset(bits, seq_lengths, match, n)


class NDMSData(LagTaskData):
    """N-DMS: at every step ``t >= N`` of a random bit stream, whether ``x[t] == x[t-N]``.

    Paper: Khajehabdollahi et al., ICLR 2024, https://arxiv.org/abs/2309.12927. Layout in
    :mod:`recur_core.tasks.n_dms`; grow N with :meth:`set_n`.

    Args:
        n: the delay N; every length range needs ``lo > n``.
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
        return generate_n_dms(num_samples, self.n, self.split_lengths(split), generator)
