"""A Lightning Trainer for scripts and tests: it trains and says nothing."""

from __future__ import annotations

from typing import Any

import lightning as L

__all__ = ["quiet_trainer"]


def quiet_trainer(**options: Any) -> L.Trainer:
    """A ``lightning.Trainer`` on CPU without logger, checkpoints, progress bar or model summary.

    ``options`` are ``Trainer`` arguments and override those defaults (``max_steps=50``,
    ``callbacks=[...]``, ``logger=CSVLogger(...)``).
    """
    defaults: dict[str, Any] = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return L.Trainer(**{**defaults, **options})
