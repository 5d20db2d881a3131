"""The Lightning engine every member's CLI is built on.

- :class:`RecurModule`: base LightningModule (AdamW, warmup/cosine, ``monitor``, ``on_fit_plots``);
  it wraps a plain ``nn.Module`` in ``self.net``.
- :class:`SequenceTask`: :class:`~recur_core.models.SequenceModel` on the diagnostic tasks.
- :class:`SequenceRegressionTask`: the same model on real-valued sequences with float targets (adding).
- :class:`SplitDataModule`: base DataModule (train/val/test made once, seeded resumable loaders).
- :func:`check_data_matches`: a module's options against its DataModule's, with the fixing override;
  :func:`sizes_from_data`: the sizes a module leaves unset, taken from its DataModule.
- :func:`quiet_trainer`: a silent ``Trainer`` for scripts and tests.
- :func:`run_cli`: the ``recur-<member>`` CLI (recipes, run folders, exact resume, DDP);
  :func:`console_main` runs it for a terminal, a user's mistake as one line.
- :class:`LastCheckpoint`, :class:`RandomStates`: what makes ``--ckpt_path last`` resume exactly.

A recipe is ``packages/<member>/configs/<model>/<variant>.yaml`` with ``model: {class_path, init_args}``,
``data: {class_path, init_args}`` and ``trainer:`` sections, opening with a comment that gives its command.
"""

from recur_core.engine.callbacks import (
    AtomicCheckpointIO,
    LastCheckpoint,
    MetricPlots,
    PlainProgress,
    RandomStates,
    ResumableCSVLogger,
)
from recur_core.engine.cli import RecurCLI, console_main, read_checkpoint, run_cli
from recur_core.engine.datamodule import EpochShuffle, RankShard, Split, SplitDataModule
from recur_core.engine.module import (
    RecurModule,
    SequenceRegressionTask,
    SequenceTask,
    check_data_matches,
    sizes_from_data,
)
from recur_core.engine.trainer import quiet_trainer

__all__ = [
    "AtomicCheckpointIO",
    "EpochShuffle",
    "LastCheckpoint",
    "MetricPlots",
    "PlainProgress",
    "RandomStates",
    "RankShard",
    "RecurCLI",
    "RecurModule",
    "ResumableCSVLogger",
    "SequenceRegressionTask",
    "SequenceTask",
    "Split",
    "SplitDataModule",
    "check_data_matches",
    "console_main",
    "quiet_trainer",
    "read_checkpoint",
    "run_cli",
    "sizes_from_data",
]
