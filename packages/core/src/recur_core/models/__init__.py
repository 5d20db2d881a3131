"""Models registered by recur_core. Importing this package registers them."""

from recur_core.models.sequence_model import SequenceModel, SequenceModelConfig, pool_sequence, sequence_model

__all__ = ["SequenceModel", "SequenceModelConfig", "pool_sequence", "sequence_model"]
