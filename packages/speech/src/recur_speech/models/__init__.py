"""Models of recur_speech (importing this package registers them).

- :mod:`~recur_speech.models.rnnt`: the RNN-T transducer (Graves 2012): encoder on any core layer with
  time reduction, LSTM predictor, joiner; the pure-PyTorch RNN-T loss; greedy, beam and streaming decoding.
"""

# the models' modules, one import line each (importing a module registers its @register_model builders)
from recur_speech.models.rnnt import (
    RNNT,
    GreedyStream,
    Hypothesis,
    RNNTConfig,
    rnnt,
    rnnt_loss,
    rnnt_loss_reference,
    transducer_loss,
)

__all__ = [
    "RNNT",
    "GreedyStream",
    "Hypothesis",
    "RNNTConfig",
    "rnnt",
    "rnnt_loss",
    "rnnt_loss_reference",
    "transducer_loss",
]
