"""Models registered by recur_core. Importing this package registers them."""

from recur_core.models.sequence_model import SequenceModel, SequenceModelConfig, pool_sequence, sequence_model
from recur_core.models.titans import TitansConfig, TitansModel, titans_mac, titans_mag, titans_mal

__all__ = [
    "SequenceModel",
    "SequenceModelConfig",
    "TitansConfig",
    "TitansModel",
    "pool_sequence",
    "sequence_model",
    "titans_mac",
    "titans_mag",
    "titans_mal",
]
