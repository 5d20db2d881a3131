"""Seeded diagnostic tasks as LightningDataModules: parity (state tracking) and MQAR (recall).

Each DataModule exposes ``vocab_size``, ``num_classes`` and ``readout`` (``"last"`` or
``"token"``) for the model it trains, and yields batches
``{"inputs": [B, T], "targets": [B] or [B, T], "lengths": [B]}`` (see :mod:`recur_core.tasks.base`).
"""

from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    SequenceDataset,
    TaskDataModule,
    check_length_range,
    collate,
    split_generator,
)
from recur_core.tasks.mqar import MQARData, generate_mqar
from recur_core.tasks.parity import ParityData, generate_parity

__all__ = [
    "IGNORE_INDEX",
    "PAD_ID",
    "MQARData",
    "ParityData",
    "SequenceDataset",
    "TaskDataModule",
    "check_length_range",
    "collate",
    "generate_mqar",
    "generate_parity",
    "split_generator",
]
