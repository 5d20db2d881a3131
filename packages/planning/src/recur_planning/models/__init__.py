"""Models of recur_planning (importing this package registers them).

- :class:`~recur_planning.models.grnet.GRNet` (``grnet``): goal recognition from observed actions.
- :class:`~recur_planning.models.pvrnn.PVRNN` (``pvrnn``): predictive-coding variational RNN with error regression.
- :mod:`~recur_planning.models.baselines`: PV-RNN's comparisons, a deterministic recurrent predictor
  (``rnn_predictor``) and a VRNN-like model (``vrnn``). GRNet's comparisons are planners, not networks:
  see :mod:`recur_planning.recognizers`.
"""

from recur_planning.models.baselines import VRNN, RecurrentPredictor, RNNPredictor
from recur_planning.models.grnet import GRNet, HANAttention, choose_hypothesis, hypothesis_matrix, score_hypotheses
from recur_planning.models.pvrnn import PVRNN, ERResult, OnlineErrorRegression, Rollout, error_regression, gaussian_kl

__all__ = [
    "PVRNN",
    "VRNN",
    "ERResult",
    "GRNet",
    "HANAttention",
    "OnlineErrorRegression",
    "RNNPredictor",
    "RecurrentPredictor",
    "Rollout",
    "choose_hypothesis",
    "error_regression",
    "gaussian_kl",
    "hypothesis_matrix",
    "score_hypotheses",
]
