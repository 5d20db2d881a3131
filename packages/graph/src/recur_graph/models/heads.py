r"""Task heads on node embeddings, and the class-weighted loss of the official code.

- :class:`EdgeClassifier`: link prediction and edge classification. The official
  ``Classifier``: the two endpoint embeddings concatenated, then an MLP.
- :class:`NodeClassifier`: node classification, the same MLP on one embedding.
- :func:`weighted_cross_entropy`: the official ``Cross_Entropy``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["EdgeClassifier", "NodeClassifier", "weighted_cross_entropy"]


def weighted_cross_entropy(logits: Tensor, labels: Tensor, class_weights: Sequence[float] | Tensor) -> Tensor:
    r"""Cross-entropy with each example weighted by its class, averaged over examples (not over weights).

    .. math:: \mathcal L = \frac{1}{P} \sum_i w_{y_i} \big(\log \textstyle\sum_c e^{z_{ic}} - z_{i y_i}\big)

    This is the official loss; ``F.cross_entropy(weight=w)`` would instead divide by :math:`\sum_i w_{y_i}`.
    """
    weights = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
    if weights.shape != (logits.shape[-1],):
        raise ValueError(f"class_weights needs one weight per class ({logits.shape[-1]}), got {weights.tolist()}")
    return (weights[labels] * F.cross_entropy(logits, labels, reduction="none")).mean()


class EdgeClassifier(nn.Module):
    r"""Classifies node pairs from the concatenated embeddings of their two ends.

    .. math:: \mathrm{logits}(u, v) = W_2\,\mathrm{ReLU}(W_1 [h_u; h_v] + b_1) + b_2

    :math:`W_1 [h_u; h_v]` is computed as :math:`W_s h_u + W_t h_v`, once per node, so scoring
    all :math:`N^2` pairs of a snapshot (:meth:`score_rows`) costs one addition per pair and
    hidden unit on top of the output layer.

    Args:
        in_features: D, the node embedding width.
        hidden: width of the hidden layer (official ``cls_feats``).
        num_classes: 2 for link prediction and for signed edges.

    Shapes:
        h [N, D], pairs [2, P] -> logits [P, C]
    """

    def __init__(self, in_features: int, hidden: int = 100, num_classes: int = 2) -> None:
        super().__init__()
        self.source = nn.Linear(in_features, hidden)
        self.target = nn.Linear(in_features, hidden, bias=False)
        self.out = nn.Linear(hidden, num_classes)

    def readout(self, pre_activation: Tensor) -> Tensor:
        """Logits [..., C] from the hidden layer's pre-activations [..., hidden]."""
        return self.out(torch.relu(pre_activation))

    def forward(self, h: Tensor, pairs: Tensor) -> Tensor:
        return self.readout(self.source(h)[pairs[0]] + self.target(h)[pairs[1]])

    def score_rows(self, h: Tensor, rows: Tensor) -> Tensor:
        """Logits of every pair ``(u, v)`` with ``u`` in ``rows`` [R] and ``v`` any node: [R, N, C]."""
        return self.readout(self.source(h[rows])[:, None] + self.target(h)[None])

    def class_probability_rows(self, h: Tensor, rows: Tensor, cls: int = 1) -> Tensor:
        """softmax(logits)[cls] of every pair ``(u, v)``, ``u`` in ``rows`` [R]: [R, N].

        For two classes this is the sigmoid of the logit difference, computed with one hidden-to-scalar
        product instead of the full output layer and softmax.
        """
        # in place: a fresh [R, N, hidden] buffer is the costly part of scoring all pairs
        hidden = (self.source(h[rows])[:, None] + self.target(h)[None]).relu_()
        if self.out.out_features != 2:
            return torch.softmax(self.out(hidden), -1)[..., cls]
        sign = 1.0 if cls == 1 else -1.0
        weight = sign * (self.out.weight[1] - self.out.weight[0])
        bias = sign * (self.out.bias[1] - self.out.bias[0])
        return torch.sigmoid(hidden @ weight + bias)


class NodeClassifier(nn.Module):
    r"""Classifies nodes from their embeddings: :math:`W_2\,\mathrm{ReLU}(W_1 h + b_1) + b_2`.

    Shapes:
        h [N, D], nodes [P] -> logits [P, C]
    """

    def __init__(self, in_features: int, hidden: int = 100, num_classes: int = 2) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, h: Tensor, nodes: Tensor) -> Tensor:
        return self.mlp(h[nodes])
