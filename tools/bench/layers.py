"""Forward+backward time of every registered layer, with ratios against baselines run in the same process.

    .venv/bin/python tools/bench/layers.py                 # B=4, T=1024, D=256, every layer
    .venv/bin/python tools/bench/layers.py --layers lstm gru --repeats 15

Baselines: the bare ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` for ``lstm`` / ``gru`` / ``elman``
(the wrapper must cost at most 5%, checked with ``--check``), and the ``lstm`` and ``attention``
layers for everything. Timings interleave the candidates round by round and report medians, so
drift on a busy machine hits all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn

from recur_core import build_layer, list_layers

BARE = {"lstm": nn.LSTM, "gru": nn.GRU, "elman": nn.RNN}
WRAPPER_LIMIT = 1.05


class _Bare(nn.Module):
    def __init__(self, cls: type[nn.RNNBase], d_model: int) -> None:
        super().__init__()
        self.rnn = cls(d_model, d_model, batch_first=True)

    def forward(self, x):
        return self.rnn(x)


def _fwd_bwd(module: nn.Module, x: torch.Tensor) -> None:
    y = module(x)[0]
    y.sum().backward()


def _bench(candidates: dict[str, nn.Module], x: torch.Tensor, repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for module in candidates.values():
        _fwd_bwd(module, x)
    for _ in range(repeats):
        for name, module in candidates.items():
            start = time.perf_counter()
            _fwd_bwd(module, x)
            times[name].append(time.perf_counter() - start)
            module.zero_grad(set_to_none=True)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="*", default=None, help="layer names (default: all registered)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a wrapper exceeds its bare module by >5%")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    names = args.layers or list_layers()
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.seq_len, args.d_model)
    candidates: dict[str, nn.Module] = {n: build_layer(n, args.d_model) for n in sorted({*names, "lstm", "attention"})}
    for name in names:
        if name in BARE:
            candidates[f"torch.nn.{BARE[name].__name__}"] = _Bare(BARE[name], args.d_model)
    print(
        f"forward+backward, B={args.batch} T={args.seq_len} D={args.d_model}, median of {args.repeats}, "
        f"{torch.get_num_threads()} threads"
    )
    medians = _bench(candidates, x, args.repeats)

    failed = False
    print(f"{'layer':<18}{'ms':>10}{'vs bare torch':>15}{'vs lstm':>10}{'vs attention':>14}")
    for name in names:
        ms = medians[name] * 1e3
        bare = f"torch.nn.{BARE[name].__name__}" if name in BARE else None
        ratio = medians[name] / medians[bare] if bare else None
        bare_col = f"{ratio:.3f}x" if ratio else "-"
        print(
            f"{name:<18}{ms:>10.1f}{bare_col:>15}{medians[name] / medians['lstm']:>9.2f}x"
            f"{medians[name] / medians['attention']:>13.2f}x"
        )
        if ratio and ratio > WRAPPER_LIMIT:
            failed = True
    if args.check and failed:
        print(f"FAIL: a wrapper is more than {WRAPPER_LIMIT:.2f}x its bare torch module")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
