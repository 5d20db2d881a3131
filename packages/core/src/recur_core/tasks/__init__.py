"""Seeded diagnostic tasks as LightningDataModules.

Each DataModule generates its splits with vectorized torch ops from a seeded generator, has a
training and a test length range (length generalization is one flag), and exposes what its model
needs: ``vocab_size``, ``num_classes`` and ``readout`` (``"last"`` or ``"token"``) for
``SequenceTask``, or ``input_dim``, ``num_outputs`` and ``readout`` for ``SequenceRegressionTask``.

State tracking:
    - :class:`ParityData` — parity of a bit string (Grazzi et al. 2025).
    - :class:`ModularArithmeticData` — an expression's value mod m, optionally with nested
      brackets (the xLSTM formal-language setup of Grazzi et al.).
    - :class:`ReberData` — next symbol of the embedded Reber grammar, with legal-next masks.
Recall and memory:
    - :class:`MQARData` — multi-query associative recall (Zoology; selective with Just Read Twice).
    - :class:`SelectiveCopyData` — copy tokens scattered among blanks, in order (Mamba §4.1).
    - :class:`CopyData` — the classic copy task: symbols, a long delay, then reproduce them.
    - :class:`PasskeyData` — a k-digit key at a chosen depth of a long filler context (state capacity).
    - :class:`AddingData` — the adding problem: real-valued inputs, a regression target.
Timescales:
    - :class:`NParityData` — parity of the last N bits at every step (Khajehabdollahi et al. 2024).
    - :class:`NDMSData` — does each bit match the one N steps back; both have ``set_n`` for curricula.
Dynamical systems:
    - :class:`Lorenz63Data` — noisy Lorenz-63 trajectories (RK4) for latent models trained with
      generalized teacher forcing (:class:`~recur_core.techniques.GTFTask`).
In-context learning:
    - :class:`RegBenchData` — strings of unseen random DFAs (Akyürek et al. 2024), with legal-next
      masks, :func:`ngram_predictions` (the in-context n-gram baseline) and the metrics
      :func:`greedy_accuracy` and :func:`total_variation_distance`.

Token batches are ``{"inputs": [B, T], "targets": [B] or [B, T], "lengths": [B]}``, plus
``"legal": [B, T, V]`` for RegBench and Reber; adding's are ``{"inputs": [B, T, 2] float,
"targets": [B] float, "lengths": [B]}`` (see :mod:`recur_core.tasks.base`).
"""

from recur_core.tasks.adding import AddingData, generate_adding
from recur_core.tasks.base import (
    IGNORE_INDEX,
    PAD_ID,
    FeatureSequenceDataset,
    LengthRangeDataModule,
    NextSymbolDataset,
    SequenceDataset,
    TaskDataModule,
    check_length_range,
    collate,
    split_generator,
)
from recur_core.tasks.copy import CopyData, generate_copy
from recur_core.tasks.lorenz import Lorenz63Data, lorenz63
from recur_core.tasks.metrics import greedy_accuracy, total_variation_distance
from recur_core.tasks.modular_arithmetic import ModularArithmeticData, generate_modular_arithmetic
from recur_core.tasks.mqar import MQARData, generate_mqar
from recur_core.tasks.n_dms import NDMSData, generate_n_dms
from recur_core.tasks.n_parity import NParityData, generate_n_parity
from recur_core.tasks.parity import ParityData, generate_parity
from recur_core.tasks.passkey import PasskeyData, generate_passkey
from recur_core.tasks.reber import ReberData, generate_reber
from recur_core.tasks.regbench import RegBenchData, generate_regbench, ngram_predictions, sample_dfas
from recur_core.tasks.selective_copy import SelectiveCopyData, generate_selective_copy

__all__ = [
    "IGNORE_INDEX",
    "PAD_ID",
    "AddingData",
    "CopyData",
    "FeatureSequenceDataset",
    "LengthRangeDataModule",
    "Lorenz63Data",
    "MQARData",
    "ModularArithmeticData",
    "NDMSData",
    "NParityData",
    "NextSymbolDataset",
    "ParityData",
    "PasskeyData",
    "ReberData",
    "RegBenchData",
    "SelectiveCopyData",
    "SequenceDataset",
    "TaskDataModule",
    "check_length_range",
    "collate",
    "generate_adding",
    "generate_copy",
    "generate_modular_arithmetic",
    "generate_mqar",
    "generate_n_dms",
    "generate_n_parity",
    "generate_parity",
    "generate_passkey",
    "generate_reber",
    "generate_regbench",
    "generate_selective_copy",
    "greedy_accuracy",
    "lorenz63",
    "ngram_predictions",
    "sample_dfas",
    "split_generator",
    "total_variation_distance",
]
