"""Every registered sequence layer. Importing this package registers them all."""

from recur_core.layers.aaren import Aaren
from recur_core.layers.attention import CausalAttention
from recur_core.layers.base import SequenceLayer, State, flatten_state, map_state, valid_mask
from recur_core.layers.bidirectional import Bidirectional, reverse_padded
from recur_core.layers.classic_rnn import GRU, LSTM, Elman
from recur_core.layers.deltanet import DeltaNet
from recur_core.layers.gla import GLA
from recur_core.layers.leaky_rnn import LeakyRNN
from recur_core.layers.lightnet import LightNet
from recur_core.layers.linear_attention import LinearAttention
from recur_core.layers.lssl import LSSL
from recur_core.layers.mamba import Mamba
from recur_core.layers.mamba2 import Mamba2
from recur_core.layers.ngram_head import NGramHead
from recur_core.layers.pgn import PGN
from recur_core.layers.plrnn import PLRNN
from recur_core.layers.prefix_linear_attention import PrefixLinearAttention
from recur_core.layers.retention import Retention
from recur_core.layers.slstm import SLSTM
from recur_core.layers.tcnca import TCNCA
from recur_core.layers.titans import Titans

__all__ = [
    "GLA",
    "GRU",
    "LSSL",
    "LSTM",
    "PGN",
    "PLRNN",
    "SLSTM",
    "TCNCA",
    "Aaren",
    "Bidirectional",
    "CausalAttention",
    "DeltaNet",
    "Elman",
    "LeakyRNN",
    "LightNet",
    "LinearAttention",
    "Mamba",
    "Mamba2",
    "NGramHead",
    "PrefixLinearAttention",
    "Retention",
    "SequenceLayer",
    "State",
    "Titans",
    "flatten_state",
    "map_state",
    "reverse_padded",
    "valid_mask",
]
