"""RSVQA's scores: accuracy per question type, AA (their mean) and OA (overall accuracy).

Lobry et al., "RSVQA: Visual Question Answering for Remote Sensing Data", IEEE TGRS 2020,
https://arxiv.org/abs/2003.07333; the official ``VQA_model/train.py`` computes, over a split,

.. math::
    \\mathrm{acc}_t = \\frac{\\#\\{i : \\mathrm{type}_i = t,\\ \\hat y_i = y_i\\}}{\\#\\{i : \\mathrm{type}_i = t\\}},
    \\qquad \\mathrm{AA} = \\frac{1}{|T|} \\sum_{t \\in T} \\mathrm{acc}_t,
    \\qquad \\mathrm{OA} = \\frac{\\#\\{i : \\hat y_i = y_i\\}}{N}

with the prediction ``ŷ`` the arg-max class. ``T`` is the set of types present in the split (the
official code divides by 4, the number of types each set has; on a split holding every type, the same).
A target that is no answer class (``IGNORE_INDEX``) is never predicted, so it counts as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["VQAScores", "vqa_scores"]


@dataclass(frozen=True)
class VQAScores:
    """Per-type accuracy, AA and OA of one split (fractions in [0, 1]).

    Attributes:
        per_type: accuracy of each question type present, in first-seen order.
        counts: questions per type.
        aa: the mean of ``per_type``.
        oa: the fraction of all questions answered right.
    """

    per_type: dict[str, float]
    counts: dict[str, int]
    aa: float
    oa: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """``{prefix}aa``, ``{prefix}oa`` and ``{prefix}acc_<type>`` for logging."""
        scores = {f"{prefix}aa": self.aa, f"{prefix}oa": self.oa}
        return scores | {f"{prefix}acc_{t}": acc for t, acc in self.per_type.items()}


def vqa_scores(predictions: Tensor | Sequence[int], targets: Tensor | Sequence[int], types: Sequence[str]) -> VQAScores:
    """RSVQA's accuracy per type, AA and OA.

    Args:
        predictions: predicted classes [N], or logits [N, C] (the arg-max is taken).
        targets: the answer classes [N] (``IGNORE_INDEX`` counts as wrong).
        types: the question type of each of the N questions.

    Raises:
        ValueError: lengths that differ, or no question at all.
    """
    predictions, targets = torch.as_tensor(predictions), torch.as_tensor(targets)
    if predictions.dim() == 2:
        predictions = predictions.argmax(-1)
    if predictions.dim() != 1 or targets.shape != predictions.shape or len(types) != len(targets):
        raise ValueError(
            f"predictions {tuple(predictions.shape)}, targets {tuple(targets.shape)} and {len(types)} types "
            "must describe the same N questions"
        )
    if len(targets) == 0:
        raise ValueError("no question to score; the split is empty")
    right = (predictions.to(targets.device) == targets).tolist()
    counts: dict[str, int] = {}
    correct: dict[str, int] = {}
    for kind, ok in zip(types, right):
        counts[kind] = counts.get(kind, 0) + 1
        correct[kind] = correct.get(kind, 0) + int(ok)
    per_type = {kind: correct[kind] / counts[kind] for kind in counts}
    return VQAScores(
        per_type=per_type,
        counts=counts,
        aa=sum(per_type.values()) / len(per_type),
        oa=sum(correct.values()) / len(targets),
    )
