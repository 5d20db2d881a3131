"""The adding problem: add the two marked numbers of a long real-valued sequence (regression).

Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997; the form here is that
of Le et al., "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units", 2015,
https://arxiv.org/abs/1504.00941, and Arjovsky et al., ICML 2016, https://arxiv.org/abs/1511.06464.
Each step carries two channels: a value uniform in [0, 1) and a marker that is 1 at exactly two
steps, one in each half of the sequence (0 elsewhere). The target is the sum of the two marked
values. Predicting the constant 1 gives a mean squared error of 1/6 ≈ 0.167 — the baseline to
beat.

Inputs are real-valued features, not token ids, so the batches are
``{"inputs": [B, T, 2] float, "targets": [B] float, "lengths": [B]}``
(a :class:`~recur_core.tasks.base.FeatureSequenceDataset`). The engine's
:class:`~recur_core.engine.SequenceRegressionTask` consumes them: a ``SequenceModel`` with a
linear stem (``input_dim = 2``), the last valid step read out to one number, mean squared error.
Padding steps are zeros in both channels.
"""

from __future__ import annotations

from typing import Literal

import torch

from recur_core.tasks.base import (
    FeatureSequenceDataset,
    LengthRangeDataModule,
    Split,
    check_length_range,
    single_threaded,
    uniform_lengths,
)

__all__ = ["AddingData", "generate_adding"]


@single_threaded
def generate_adding(num_samples: int, lengths: tuple[int, int], generator: torch.Generator) -> FeatureSequenceDataset:
    """Adding-problem sequences of lengths uniform in ``lengths``, all drawn at once.

    The first marker is uniform over the first ``L // 2`` steps, the second over the rest.

    Args:
        num_samples: number of sequences N.
        lengths: inclusive ``(lo, hi)`` range of lengths; needs ``lo >= 2``.
        generator: the seeded source of every random draw.

    Shapes:
        inputs [N, hi, 2] float (value, marker; zeros at padding), targets [N] float, lengths [N].
    """
    _, hi = check_length_range("lengths", lengths, 2, "one marker in each half")
    seq_lengths = uniform_lengths(num_samples, lengths, generator)
    padding = torch.arange(hi) >= seq_lengths[:, None]
    values = torch.rand(num_samples, hi, generator=generator).masked_fill_(padding, 0.0)
    half = seq_lengths // 2
    first = (torch.rand(num_samples, generator=generator) * half).long()
    second = half + (torch.rand(num_samples, generator=generator) * (seq_lengths - half)).long()
    marked = torch.stack((first, second), dim=1)
    markers = torch.zeros(num_samples, hi).scatter_(1, marked, 1.0)
    targets = values.gather(1, marked).sum(1)
    return FeatureSequenceDataset(torch.stack((values, markers), dim=2), targets, seq_lengths)


class AddingData(LengthRangeDataModule):
    """The adding problem, trained at some lengths and tested at longer ones.

    Papers: Hochreiter & Schmidhuber 1997; Le et al. 2015, https://arxiv.org/abs/1504.00941.
    Layout and batch format in :mod:`recur_core.tasks.adding`. Train it with
    :class:`~recur_core.engine.SequenceRegressionTask`: ``input_dim = 2``, ``num_outputs = 1``,
    ``readout = "last"``.

    Args:
        train_lengths: inclusive ``(lo, hi)`` sequence lengths for training; ``lo >= 2``.
        test_lengths: inclusive ``(lo, hi)`` sequence lengths for testing.
        val_on: ``"test_lengths"`` (default) or ``"train_lengths"``.
        num_train, num_val, num_test: sequences per split.
        batch_size, num_workers, seed: see :class:`~recur_core.tasks.base.TaskDataModule`.

    Shapes:
        batch inputs [B, T, 2] float, targets [B] float, lengths [B].
    """

    input_dim: int = 2
    num_outputs: int = 1

    def __init__(
        self,
        train_lengths: tuple[int, int] = (100, 200),
        test_lengths: tuple[int, int] = (200, 400),
        val_on: Literal["test_lengths", "train_lengths"] = "test_lengths",
        num_train: int = 20_000,
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
            min_length=2,
            why="one marker in each half",
        )
        self.save_hyperparameters()
        self.readout = "last"

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> FeatureSequenceDataset:
        return generate_adding(num_samples, self.split_lengths(split), generator)
