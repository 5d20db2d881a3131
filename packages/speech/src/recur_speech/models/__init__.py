"""Models of recur_speech (importing this package registers them).

- :mod:`~recur_speech.models.rnnt`: the RNN-T transducer (Graves 2012): encoder on any core layer with
  time reduction, LSTM predictor, joiner; the pure-PyTorch RNN-T loss; greedy, beam and streaming decoding.
- :mod:`~recur_speech.models.mossformer2`: MossFormer2 separation (and the MossFormer-only ablation);
  :mod:`~recur_speech.models.separation_baselines`: the Conv-TasNet mask network.
- :mod:`~recur_speech.models.todm`: the TODM supernet (Shangguan et al. 2023): an RNN-T whose encoder depth
  and width slice into subnets, each exportable as a standalone RNN-T.
"""

# the models' modules, one import line each (importing a module registers its @register_model builders);
# the builders named like their module (rnnt, mossformer2) are not re-exported here, so that
# ``recur_speech.models.rnnt`` stays the module: build them with get_model or import them from it
from recur_speech.models.mossformer2 import MossFormer2, MossFormer2Config, mossformer
from recur_speech.models.rnnt import (
    RNNT,
    GreedyStream,
    Hypothesis,
    RNNTConfig,
    rnnt_loss,
    rnnt_loss_reference,
    transducer_loss,
)
from recur_speech.models.separation_baselines import ConvTasNet, conv_tasnet
from recur_speech.models.todm import SubnetConfig, TODMSupernet

__all__ = [
    "RNNT",
    "ConvTasNet",
    "GreedyStream",
    "Hypothesis",
    "MossFormer2",
    "MossFormer2Config",
    "RNNTConfig",
    "SubnetConfig",
    "TODMSupernet",
    "conv_tasnet",
    "mossformer",
    "rnnt_loss",
    "rnnt_loss_reference",
    "transducer_loss",
]
