"""Parity of a bit string: the state-tracking probe for linear RNNs.

Grazzi et al., "Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues", ICLR 2025,
https://arxiv.org/abs/2411.12537, who take the task from Delétang et al., "Neural Networks and the
Chomsky Hierarchy", ICLR 2023, https://arxiv.org/abs/2207.02098. A layer whose state transitions
have only eigenvalues in [0, 1] cannot solve parity at arbitrary length; allowing [-1, 1] can.
Training on short strings and testing on long ones measures whether the rule, rather than a
length-specific shortcut, was learned.

Vocabulary (``vocab_size = 3``): ``0`` padding, ``1`` the bit 0, ``2`` the bit 1.
Labels (``num_classes = 2``): ``(number of 1 bits) mod 2``.
"""

from __future__ import annotations

from typing import Literal

import torch

from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    SequenceDataset,
    Split,
    TaskDataModule,
    check_length_range,
    single_threaded,
)

__all__ = ["ParityData", "generate_parity"]

BIT_OFFSET = 1  # token id of bit b is b + BIT_OFFSET


@single_threaded
def generate_parity(
    num_samples: int,
    lengths: tuple[int, int],
    generator: torch.Generator,
    running: bool = False,
) -> SequenceDataset:
    """Random bit strings with their parity, all drawn at once.

    Each length is uniform in the inclusive range ``lengths``; each bit is a fair coin.

    Args:
        num_samples: number of sequences N.
        lengths: inclusive ``(lo, hi)`` range of sequence lengths.
        generator: the seeded source of every random draw.
        running: per-token targets (the parity of the prefix ending at each position)
            instead of one label per sequence.

    Shapes:
        inputs [N, hi] (ids 1/2, padded with 0), lengths [N],
        targets [N] or, with ``running``, [N, hi] (``-100`` at padding).
    """
    lo, hi = check_length_range("lengths", lengths)
    seq_lengths = torch.randint(lo, hi + 1, (num_samples,), generator=generator)
    padding = torch.arange(hi) >= seq_lengths[:, None]
    # int8 storage: 8x less memory and time than int64 for long test strings.
    bits = torch.randint(0, 2, (num_samples, hi), generator=generator, dtype=torch.int8).masked_fill_(padding, 0)
    inputs = (bits + BIT_OFFSET).masked_fill_(padding, PAD_ID)
    if not running:
        return SequenceDataset(inputs, bits.sum(1) % 2, seq_lengths)
    # An int8 running sum wraps modulo 256, which keeps its lowest bit: the parity.
    prefix_parity = (bits.cumsum(1, dtype=torch.int8) & 1).masked_fill_(padding, IGNORE_INDEX)
    return SequenceDataset(inputs, prefix_parity, seq_lengths)


class ParityData(TaskDataModule):
    """Parity of random bit strings, trained on short strings and tested on long ones.

    Paper: Grazzi et al., ICLR 2025, https://arxiv.org/abs/2411.12537 (defaults: train lengths
    3–40, test lengths 40–256, batch 256). Each sequence is a string of bits (token ids 1 and 2,
    padding 0); its label is the parity of the number of 1 bits (``readout = "last"``), or with
    ``running=True`` the parity of every prefix (``readout = "token"``). Lengths are uniform
    in each inclusive range.

    Args:
        train_lengths: inclusive ``(lo, hi)`` lengths of the training strings.
        test_lengths: inclusive ``(lo, hi)`` lengths of the test strings.
        val_on: which range the validation strings use: ``"test_lengths"`` (default, so ``val/acc``
            measures length generalization) or ``"train_lengths"`` (in-distribution).
        running: per-token running parity targets instead of one label per string.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T], lengths [B]; targets [B] (``running=False``) or [B, T].
    """

    def __init__(
        self,
        train_lengths: tuple[int, int] = (3, 40),
        test_lengths: tuple[int, int] = (40, 256),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        running: bool = False,
        num_train: int = 20_000,
        num_val: int = 1_000,
        num_test: int = 2_000,
        batch_size: int = 256,
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
        self.train_lengths = check_length_range("train_lengths", train_lengths)
        self.test_lengths = check_length_range("test_lengths", test_lengths)
        if val_on not in ("test_lengths", "train_lengths"):
            raise ValueError(f"val_on must be 'test_lengths' or 'train_lengths', got {val_on!r}")
        self.val_on = val_on
        self.running = running
        self.vocab_size = BIT_OFFSET + 2
        self.num_classes = 2
        self.readout = "token" if running else "last"

    def split_lengths(self, split: Split) -> tuple[int, int]:
        """The inclusive length range of ``split``."""
        if split == "train" or (split == "val" and self.val_on == "train_lengths"):
            return self.train_lengths
        return self.test_lengths

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        return generate_parity(num_samples, self.split_lengths(split), generator, running=self.running)
