"""Every registered sequence layer. Importing this package registers them all."""

from recur_core.layers.attention import CausalAttention
from recur_core.layers.base import SequenceLayer, State, flatten_state, map_state, valid_mask
from recur_core.layers.bidirectional import Bidirectional, reverse_padded
from recur_core.layers.classic_rnn import GRU, LSTM, Elman
from recur_core.layers.leaky_rnn import LeakyRNN

__all__ = [
    "GRU",
    "LSTM",
    "Bidirectional",
    "CausalAttention",
    "Elman",
    "LeakyRNN",
    "SequenceLayer",
    "State",
    "flatten_state",
    "map_state",
    "reverse_padded",
    "valid_mask",
]
