r"""Just Read Twice (JRT) prompting: show a recurrent model its whole prompt twice.

Arora et al., "Just read twice: closing the recall gap for recurrent language models", 2024,
https://arxiv.org/abs/2407.05483. A causal recurrent model reads the context before it knows the
questions, so its fixed-size state must keep everything. Repeating the prompt lets the second pass
read the context *after* the questions, and keep only what they ask for. For a token sequence
:math:`x = [\text{ctx}, q]` of length L with per-token targets y (−100 = no loss):

.. math::
    \tilde x = [x_{0..L-1},\ x_{0..L-1}], \qquad
    \tilde y_p = \begin{cases} -100 & p < L \\ y_{p-L} & L \le p < 2L \end{cases}

so the loss and the accuracy count only the second copy's answer positions: the model is scored
on the same questions as without JRT, after reading everything once before. The transform works on
any per-token recall task (MQAR, passkey); :class:`ReadTwiceData` wraps a task's DataModule, and
:func:`read_twice_collate` is a DataLoader ``collate_fn`` for ready-made datasets.

.. code-block:: python

    data = ReadTwiceData(MQARData(num_kv_pairs=16, num_queries=4, seq_len=48))
    trainer.fit(SequenceTask(layer="linear_attention", readout="token", ...), datamodule=data)
"""

from __future__ import annotations

import torch
from torch import Tensor

from recur_core.tasks.base import IGNORE_INDEX, PAD_ID, SequenceDataset, Split, TaskDataModule, collate

__all__ = ["ReadTwiceData", "read_twice", "read_twice_batch", "read_twice_collate", "read_twice_dataset"]


def read_twice(inputs: Tensor, targets: Tensor, lengths: Tensor, pad_id: int = PAD_ID) -> tuple[Tensor, Tensor, Tensor]:
    """Each row's valid tokens twice, with targets only on the second copy; vectorised over the batch.

    Args:
        inputs: right-padded token ids.
        targets: per-token targets, ``-100`` where there is no loss.
        lengths: valid tokens per row, L.
        pad_id: the id written at the new padding positions.

    Shapes:
        inputs [N, T], targets [N, T], lengths [N] -> inputs [N, 2T], targets [N, 2T], lengths [N] (2L).
    """
    if inputs.dim() != 2 or targets.shape != inputs.shape:
        raise ValueError(
            f"read_twice needs inputs and per-token targets of one shape [N, T], got inputs {tuple(inputs.shape)} "
            f"and targets {tuple(targets.shape)}; tasks with one label per sequence have no answer positions to copy"
        )
    if lengths.shape != inputs.shape[:1]:
        raise ValueError(f"lengths must have shape [N] = [{inputs.shape[0]}], got {tuple(lengths.shape)}")
    seq_len = inputs.shape[1]
    lengths = lengths.long()
    position = torch.arange(2 * seq_len, device=inputs.device)[None, :]
    second = position >= lengths[:, None]
    source = torch.where(second, position - lengths[:, None], position).clamp(max=seq_len - 1)
    valid = position < 2 * lengths[:, None]
    doubled = inputs.gather(1, source).masked_fill(~valid, pad_id)
    answers = targets.gather(1, source).masked_fill(~(second & valid), IGNORE_INDEX)
    return doubled, answers, 2 * lengths


def read_twice_dataset(dataset: SequenceDataset, pad_id: int = PAD_ID) -> SequenceDataset:
    """A :class:`~recur_core.tasks.base.SequenceDataset` with every sequence read twice (:func:`read_twice`)."""
    if not isinstance(dataset, SequenceDataset) or not dataset.per_token:
        raise ValueError(
            f"read_twice_dataset needs a SequenceDataset with per-token targets [N, T], got {type(dataset).__name__}"
        )
    inputs, targets, lengths = read_twice(dataset.inputs.long(), dataset.targets.long(), dataset.lengths, pad_id)
    return SequenceDataset(inputs.to(dataset.inputs.dtype), targets.to(dataset.targets.dtype), lengths)


def read_twice_batch(batch: dict[str, Tensor], pad_id: int = PAD_ID) -> dict[str, Tensor]:
    """A collated batch ``{"inputs", "targets", "lengths"}`` with every sequence read twice; other keys dropped."""
    inputs, targets, lengths = read_twice(batch["inputs"], batch["targets"], batch["lengths"], pad_id)
    return {"inputs": inputs, "targets": targets, "lengths": lengths}


def read_twice_collate(samples: list[dict[str, Tensor]], pad_id: int = PAD_ID) -> dict[str, Tensor]:
    """DataLoader ``collate_fn``: :func:`~recur_core.tasks.base.collate`, then :func:`read_twice_batch`."""
    return read_twice_batch(collate(samples, pad_id), pad_id)


class ReadTwiceData(TaskDataModule):
    """A per-token task's DataModule with every sequence read twice (JRT prompting).

    Paper: Arora et al., Just Read Twice, https://arxiv.org/abs/2407.05483. Every split of
    ``data`` is generated as usual (same seed, same sequences) and then doubled by
    :func:`read_twice`: inputs ``[ctx, q, ctx, q]``, targets only on the second copy. Vocabulary,
    classes, batch size and split sizes are ``data``'s. In a recipe::

        data:
          class_path: recur_core.techniques.ReadTwiceData
          init_args:
            data:
              class_path: recur_core.tasks.MQARData
              init_args: {num_kv_pairs: 16, num_queries: 4, seq_len: 48}

    Args:
        data: the task, with ``readout = "token"`` (per-token targets), e.g.
            :class:`~recur_core.tasks.MQARData`.

    Shapes:
        batch inputs [B, 2T], targets [B, 2T], lengths [B].
    """

    def __init__(self, data: TaskDataModule) -> None:
        if getattr(data, "readout", None) != "token":
            raise ValueError(
                f"ReadTwiceData needs a task with per-token targets (readout 'token'), got "
                f"{type(data).__name__} with readout {getattr(data, 'readout', None)!r}"
            )
        sizes = data.num_samples
        super().__init__(
            num_train=sizes["train"],
            num_val=sizes["val"],
            num_test=sizes["test"],
            batch_size=data.batch_size,
            num_workers=data.num_workers,
            seed=data.seed,
        )
        self.data = data
        self.vocab_size = data.vocab_size
        self.num_classes = data.num_classes
        self.readout = "token"
        self.pad_id = data.pad_id

    def generate(self, split: Split, num_samples: int, generator: torch.Generator) -> SequenceDataset:
        return read_twice_dataset(self.data.generate(split, num_samples, generator), self.pad_id)
