"""A Lightning Trainer for scripts and tests that trains and says nothing, and the silencing the CLIs share."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import lightning as L

__all__ = ["quiet_lightning", "quiet_trainer"]


# Warnings that say nothing to a person running a recipe, matched by the start of their message.
_HARMLESS_WARNINGS = (
    # recipes log epoch metrics; per-step logging is the user's choice of log_every_n_steps
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    # Lightning 2.6 calls a torch API torch has since deprecated
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # best.ckpt's monitor before the first validation (after it, Lightning raises instead)
    r"`ModelCheckpoint\(monitor=.*\)` could not find the monitored key",
    # a resumed run writes into its own checkpoints folder; one from another run's checkpoint into a new folder
    r"Checkpoint directory .* exists and is not empty",
    r"The dirpath has changed from",
    # torchdata 0.11's StatefulDataLoader calls an API torch has since deprecated
    r"'set_vital' is deprecated",
    # recur_core.ops.slstm compiles its loop with torch.jit.script at import
    r"`torch\.jit\.script` is deprecated",
    # torch_geometric builds sparse CSR adjacency matrices (recur-graph)
    r"Sparse invariant checks are implicitly disabled",
    r"Sparse CSR tensor support is in beta state",
)


def quiet_lightning() -> None:
    """Silence Lightning's informational messages (seed, accelerators, tips, restored states) and the known
    harmless warnings above; a model summary asked for with ``--trainer.enable_model_summary true`` still prints."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.callbacks.model_summary").setLevel(logging.INFO)
    for message in _HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def quiet_trainer(**options: Any) -> L.Trainer:
    """A ``lightning.Trainer`` on CPU without logger, checkpoints, progress bar or model summary.

    ``options`` are ``Trainer`` arguments and override those defaults (``max_steps=50``,
    ``callbacks=[...]``, ``logger=CSVLogger(...)``). Lightning's messages are silenced
    (:func:`quiet_lightning`).
    """
    quiet_lightning()
    defaults: dict[str, Any] = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return L.Trainer(**{**defaults, **options})
