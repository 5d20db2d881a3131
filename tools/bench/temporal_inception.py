"""Temporal-Inception's four temporal stages: one matrix product per stage vs the official ``Conv2d`` form.

    .venv/bin/python tools/bench/temporal_inception.py              # batch 32 of [2048, 25], 7 rounds
    .venv/bin/python tools/bench/temporal_inception.py --batch 16 --repeats 15

Ma et al., "TS-LSTM and Temporal-Inception", SPIC 2019, https://arxiv.org/abs/1703.10667. The official
code convolves the feature matrix as a one-channel ``D x T`` image with ``1 x 5`` and ``1 x 7`` kernels
(1-16 channels); :class:`~recur_vision.models.tslstm._TemporalBranches` writes each stage's two
branches as one ``[C_out T, C_in T]`` matrix times the ``B x D`` feature rows
(:func:`~recur_vision.models.tslstm.temporal_conv_matrix`). Timed: the four stages (conv, BN, ReLU,
max-pool) in both forms on the same parameters, forward under ``torch.no_grad`` and forward + backward
of a sum, in train mode; medians of interleaved rounds (``_timing.median_times``), one torch thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse

import torch
from _timing import median_times
from torch import Tensor
from torch.nn import functional as F

from recur_vision.models.tslstm import TemporalInception


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--feature_dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = TemporalInception(feature_dim=args.feature_dim, num_classes=13).train()
    features = torch.randn(args.batch, args.feature_dim, 25, requires_grad=True)

    def matrix_form(x: Tensor) -> Tensor:
        batch, dim, frames = x.shape
        return model.stages(x.permute(2, 0, 1).reshape(1, frames, batch * dim))

    def conv2d_form(x: Tensor) -> Tensor:
        y = x.unsqueeze(1)
        for stage in model.stages:
            y = torch.cat([conv(y) for conv in stage.convs], dim=1)
            y = F.max_pool2d(F.relu(stage.norm(y)), (1, stage.pool))
        return y

    candidates = {}
    for name, form in (("matrix", matrix_form), ("conv2d", conv2d_form)):

        def forward(form=form) -> None:
            with torch.no_grad():
                form(features)

        def forward_backward(form=form) -> None:
            model.zero_grad(set_to_none=True)
            features.grad = None
            form(features).sum().backward()

        candidates[f"{name} fwd"], candidates[f"{name} fwd+bwd"] = forward, forward_backward
    times = median_times(candidates, args.repeats)
    print(f"four temporal stages, batch {args.batch} of [{args.feature_dim}, 25], one thread (median ms)")
    for kind in ("fwd", "fwd+bwd"):
        matrix, conv = times[f"matrix {kind}"], times[f"conv2d {kind}"]
        print(f"{kind:8s} matrix {matrix * 1e3:7.1f}  conv2d {conv * 1e3:7.1f}  speed-up {conv / matrix:.2f}x")


if __name__ == "__main__":
    main()
