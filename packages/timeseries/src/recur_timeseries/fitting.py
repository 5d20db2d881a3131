"""Fit AR-Net in a few lines of plain torch, without Lightning: full-batch Adam with cosine decay, or L-BFGS.

For small tables (thousands of windows) a full-batch step costs about as much as a mini-batch
step, so this is the quickest honest fit, and the one ``tools/repro/arnet.py`` times: AR-Net's
claim that fit time grows linearly in p is about the model, and a Trainer's fixed per-step and
per-epoch costs would hide it. The ``recur-timeseries`` CLI trains the same objective, with the
same learning-rate schedule (:func:`recur_core.schedules.warmup_cosine`), on mini-batches through
:class:`~recur_timeseries.task.ARNetModule`. L-BFGS is for long, smooth series (ETT), where the
lags are so correlated that Adam needs thousands of steps to reach the least-squares optimum;
``tools/repro/arnet_ett.py`` uses it.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.schedules import warmup_cosine
from recur_timeseries.models.arnet import ARNet, regularization_weight

__all__ = ["fit_arnet"]


def fit_arnet(
    lags: Tensor,
    targets: Tensor,
    sparsity: float | None = None,
    lambda_scale: float = 0.01,
    steps: int = 1000,
    lr: float = 3e-3,
    ramp_end: float = 0.5,
    bias: bool = True,
    c1: float = 3.0,
    c2: float = 3.0,
    seed: int = 0,
    optimizer: Literal["adam", "lbfgs"] = "adam",
    lbfgs_max_iter: int = 20,
) -> ARNet:
    r"""Train an :class:`ARNet` on all windows at once.

    .. math::
        \theta \leftarrow \mathrm{Adam}\left(\nabla_\theta \left[\tfrac{1}{N}\lVert Y - f_\theta(X)\rVert^2
        + \lambda_t R(\theta)\right]\right), \qquad
        \text{lr}_t = \tfrac{\text{lr}}{2}\left(1 + \cos\tfrac{\pi t}{T}\right)

    with λ_t from :func:`~recur_timeseries.models.arnet.regularization_weight` (ramped to λ(s) at
    ``ramp_end`` of the ``steps``). The decaying step size lets weights that the prior pulls to
    zero settle there instead of oscillating around it. With ``optimizer="lbfgs"`` each of the
    ``steps`` is ``lbfgs_max_iter`` L-BFGS iterations with a strong-Wolfe line search starting at
    step length ``lr`` (1 is usual), λ_t held fixed within a step; there is no schedule.

    Args:
        lags: [N, p], column i = lag i + 1.
        targets: [N, n_forecasts].
        sparsity: expected s = p_data / p in (0, 1]; None trains without the regularizer.
        lambda_scale: c_λ.
        steps: optimizer steps T.
        lr: peak learning rate.
        ramp_end: fraction of training at which λ reaches λ(s).
        bias, c1, c2: see :class:`ARNet`.
        seed: seeds the weight initialization.
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lbfgs_max_iter: L-BFGS iterations per step.

    Returns:
        the trained model (in train mode; its weights are the coefficients [n_forecasts, p]).
    """
    if targets.dim() == 1:
        targets = targets[:, None]
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = ARNet(lags.shape[1], targets.shape[1], bias=bias, c1=c1, c2=c2).to(lags.dtype)
    torch.random.set_rng_state(generator_state)
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if optimizer == "lbfgs":
        solver = torch.optim.LBFGS(
            model.parameters(), lr=lr, max_iter=lbfgs_max_iter, history_size=20, line_search_fn="strong_wolfe"
        )
    else:
        solver = torch.optim.Adam(model.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(solver, partial(warmup_cosine, warmup_steps=0, total_steps=steps))
    for step in range(steps):
        weight = 0.0 if sparsity is None else regularization_weight(step / steps, sparsity, lambda_scale, 0.0, ramp_end)

        def objective(weight: float = weight) -> Tensor:
            solver.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(lags), targets)
            if weight > 0:
                loss = loss + weight * model.regularizer()
            loss.backward()
            return loss

        solver.step(objective)
        if optimizer == "adam":
            schedule.step()
    return model
