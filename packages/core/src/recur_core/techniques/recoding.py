r"""Recoding: move each hidden state down the gradient of an error signal at inference time.

Ulmer, "Recoding latent sentence representations: dynamic gradient-based activation modification
in RNNs", 2019 (arXiv https://arxiv.org/abs/2101.00674). After the recurrence produces the state
:math:`h_t` and the prediction :math:`p_t = \mathrm{softmax}(o_t)`, the state is nudged to lower an
error signal :math:`\delta_t` and the recurrence continues from the nudged state:

.. math::
    h_t \leftarrow h_t - \alpha\, \nabla_{h_t} \delta_t, \qquad
    \delta_t = -\sum_v p_{t,v} \log p_{t,v} \ \text{(predictive entropy, unsupervised)}
    \quad\text{or}\quad \delta_t = -\log p_{t, y_t} \ \text{(surprisal, needs the target } y_t).

The prediction at step ``t`` is the one made before recoding (so the surprisal variant never shows
the target to the prediction it scores); the recoded state feeds step ``t + 1``. :class:`Recoder`
wraps any :class:`~recur_core.models.SequenceModel` whose layers have ``step`` and runs it token by
token, batched over rows. Every floating-point tensor of every block's state is recoded with the
gradient of :math:`\delta_t` with respect to it (in a multi-layer model a lower layer's gradient
includes its path through the layers above; tensors the prediction does not read, such as an
LSTM's cell, get a zero gradient and stay put).

Shapes:
    x [B, T] token ids (or [B, T, input_dim] features), targets [B, T] (-100 = no signal)
    -> logits [B, T, output_dim].
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import State, flatten_state, map_state
from recur_core.models.sequence_model import SequenceModel

__all__ = ["Recoder", "recoding_signal"]

Signal = Literal["entropy", "surprisal"]


def recoding_signal(logits: Tensor, signal: Signal, targets: Tensor | None = None) -> Tensor:
    """The per-row error signal :math:`\\delta` of one step's logits.

    ``"entropy"``: the predictive entropy :math:`-\\sum_v p_v \\log p_v`. ``"surprisal"``:
    :math:`-\\log p_y` of ``targets``; rows whose target is ``-100`` get 0.

    Shapes:
        logits [B, V], targets [B] (surprisal only) -> [B].
    """
    log_p = logits.log_softmax(-1)
    if signal == "entropy":
        return -(log_p.exp() * log_p).sum(-1)
    if signal == "surprisal":
        if targets is None:
            raise ValueError("signal='surprisal' needs the targets; pass targets or use signal='entropy'")
        return F.nll_loss(log_p, targets, ignore_index=-100, reduction="none")
    raise ValueError(f"signal must be 'entropy' or 'surprisal', got {signal!r}")


class Recoder(nn.Module):
    """Runs a :class:`~recur_core.models.SequenceModel` step by step, recoding every state it produces.

    Inference only: outputs carry no graph (gradients are taken with respect to the states alone;
    parameters are not changed). Put the model in ``eval()`` mode first when it has dropout.
    ``alpha = 0`` reproduces the model's plain forward pass.

    Args:
        model: a token-readout :class:`SequenceModel` whose layers implement ``step``.
        alpha: recoding step size α (≥ 0).
        signal: ``"entropy"`` (unsupervised) or ``"surprisal"`` (needs targets in :meth:`forward`).

    Shapes:
        x [B, T] ids or [B, T, input_dim], targets [B, T] -> logits [B, T, output_dim].
    """

    def __init__(self, model: SequenceModel, alpha: float = 0.1, signal: Signal = "entropy") -> None:
        super().__init__()
        if not isinstance(model, SequenceModel):
            raise TypeError(f"Recoder wraps a SequenceModel, got {type(model).__name__}")
        if model.config.readout != "token":
            raise ValueError(f"Recoder needs per-token predictions (readout='token'), got {model.config.readout!r}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if signal not in ("entropy", "surprisal"):
            raise ValueError(f"signal must be 'entropy' or 'surprisal', got {signal!r}")
        self.model = model
        self.alpha = alpha
        self.signal = signal

    def step(
        self, x_t: Tensor, state: list[State] | None, target_t: Tensor | None = None
    ) -> tuple[Tensor, list[State]]:
        """One token: the model's prediction from the new state, and that state after recoding.

        Shapes:
            x_t [B] ids or [B, input_dim], target_t [B] -> logits [B, output_dim], per-block states.
        """
        if self.alpha == 0:
            logits, state = self.model.step(x_t, state)
            return logits.detach(), map_state(torch.Tensor.detach, state)
        with torch.enable_grad():
            if state is not None:
                # a graph to the new states even when every parameter is frozen
                state = map_state(lambda s: s.detach().requires_grad_(s.is_floating_point()), state)
            logits, state = self.model.step(x_t, state)
            leaves = flatten_state(state)
            recodable = [s for s in leaves if s.is_floating_point() and s.requires_grad]
            delta = recoding_signal(logits, self.signal, target_t).sum()
            found = (
                torch.autograd.grad(delta, recodable, allow_unused=True) if recodable and delta.requires_grad else ()
            )
            grads = iter(found or [None] * len(recodable))
        recoded = []
        for s in leaves:
            g = next(grads) if s.is_floating_point() and s.requires_grad else None
            recoded.append(s.detach() if g is None else s.detach() - self.alpha * g)
        it = iter(recoded)
        return logits.detach(), map_state(lambda _: next(it), state)

    @torch.no_grad()
    def forward(self, x: Tensor, targets: Tensor | None = None) -> Tensor:
        """Logits of every step, each made before its state was recoded."""
        if self.signal == "surprisal" and (targets is None or targets.shape != x.shape[:2]):
            got = None if targets is None else tuple(targets.shape)
            raise ValueError(f"signal='surprisal' needs targets [B, T] = {tuple(x.shape[:2])}, got {got}")
        state, outputs = None, []
        for t in range(x.shape[1]):
            logits, state = self.step(x[:, t], state, None if targets is None else targets[:, t])
            outputs.append(logits)
        return torch.stack(outputs, dim=1)
