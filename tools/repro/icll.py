"""In-context language learning on REGBENCH: attention vs LSTM vs GLA vs GLA + n-gram head vs n-gram counts.

Paper: Akyürek, Wang, Kim, Andreas, "In-Context Language Learning: Architectures and Algorithms",
ICML 2024, https://arxiv.org/abs/2401.12973.

Claim checked: on REGBENCH (strings of an unseen random DFA in context, predict a legal next
symbol) Transformers are far better than recurrent models; they behave like in-context n-gram
predictors; adding a hard-wired n-gram head helps a recurrent model (GLA here).

Set-up here (CPU scale, the miniature of ``packages/core/configs/regbench/*.yaml``):

- Data: :class:`recur_core.tasks.RegBenchData` with 10 symbols (vocabulary 12), 2-6 states, at
  most 3 edges, 10-19 strings of length 0-9 (~100 tokens; the recipes use length 0-19, too slow
  for the LSTM here); 3000 training DFAs, 300 unseen test DFAs. ``--quick``: 5-9 strings
  (~45 tokens), 1000 training DFAs, 100 steps.
- Models: :class:`recur_core.models.SequenceModel`, d = 64, 2 blocks of ``attention``, ``lstm`` or
  ``gla``; ``gla+ngram`` puts one ``ngram_head`` block (n = 2, no MLP) first, on the embeddings
  (the head reads token identity from exact repeats of its inputs), then the 2 GLA blocks. A plain
  loop: AdamW lr 1e-3, weight decay 0.1, batch 32, gradient clipping 1, the same steps for every
  model, next-token cross-entropy.
- Baseline: :func:`recur_core.tasks.ngram_predictions`, the count-based in-context 2- and 3-gram
  predictors with back-off (no training).
- Metric: :func:`recur_core.tasks.greedy_accuracy` (the argmax next symbol is legal) and
  :func:`recur_core.tasks.total_variation_distance` on the test DFAs.
- Verdicts on greedy accuracy: (1) attention beats both LSTM and GLA by >= 2 points; (2) GLA +
  n-gram head beats GLA by >= 2 points; (3) the best count n-gram is within 5 points of attention
  or above it. ``reproduced`` = "yes" when all hold, "no" when none, else "partly".

Outputs under ``--out`` (default ``runs/repro/icll``): ``results.csv`` (model, parameters, greedy
accuracy, TV distance, seconds), ``icll.png``, ``claims.csv``; a table and the verdicts are printed.

.. code-block:: bash

    .venv/bin/python tools/repro/icll.py           # 400 steps per model: 371 CPU-s, 559 s wall
    .venv/bin/python tools/repro/icll.py --quick   # 100 steps per model, shorter sequences

Measured so far: an earlier ``--quick`` at the recipes' length (~160 tokens, 150 steps) ran out of
its 580 s limit on the busy machine (load ~14): attention 82.2% in 128 s, LSTM 79.9% in 379 s
(the LSTM costs ~1 CPU-s per step at 160 tokens), so the sequences were shortened.

Measured (``--quick``, 97 s wall, 55 CPU-s): greedy accuracy 2-gram counts 78.8%, 3-gram counts
77.1%, attention 72.9%, LSTM 72.9%, GLA 70.8%, GLA + n-gram head 82.6%: the head helps GLA
(+11.8 points) and the count n-gram is above attention, but attention does not beat the recurrent
models after 100 steps (checks 2 and 3 held, 1 failed: "partly").

Measured (full, 559 s wall at load ~14, 371 CPU-s): 2-gram counts 82.1%, 3-gram counts 80.6%,
attention 75.1%, LSTM 71.3%, GLA 76.0%, GLA + n-gram head 90.1% (TV 0.40 vs 0.48): the head helps
GLA by 14 points and beats the count baselines; attention beats the LSTM but not GLA after 400 steps
at d = 64, so "Transformers >> recurrent" is not reproduced at this budget ("partly").

Re-measured (full, 2026-12-03, 112 s wall on a quiet machine, training order now drawn per epoch
from (seed, epoch)): 2-gram 82.1%, 3-gram 80.6%, attention 73.4%, LSTM 66.9%, GLA 75.2%, GLA +
n-gram head 89.9%; the same two checks hold ("partly").
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import itertools
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from recur_core.models.sequence_model import Block, SequenceModel
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, train_adamw, write_claims, write_rows
from recur_core.tasks import RegBenchData, greedy_accuracy, ngram_predictions, total_variation_distance

PAPER = "Akyürek et al. 2024, In-Context Language Learning: Architectures and Algorithms"
MODELS = ("attention", "lstm", "gla", "gla+ngram")
D_MODEL = 64


def build(name: str, vocab: int) -> nn.Module:
    layer = name.split("+")[0]
    model = SequenceModel(layer=layer, d_model=D_MODEL, n_layers=2, vocab_size=vocab, output_dim=vocab)
    if name.endswith("+ngram"):
        model.blocks.insert(0, Block("ngram_head", D_MODEL, {"n": 2}, mlp_ratio=0.0, dropout=0.0))
    return model


def evaluate(predict, loader) -> tuple[float, float]:
    """Greedy accuracy and TV distance over a loader, weighting batches by their scored positions."""
    acc = tv = total = 0.0
    with torch.no_grad():
        for batch in loader:
            logits = predict(batch)
            scored = float(batch["legal"].any(-1).sum())
            acc += float(greedy_accuracy(logits, batch["legal"])) * scored
            tv += float(total_variation_distance(logits, batch["legal"])) * scored
            total += scored
    return acc / total, tv / total


def train(model: nn.Module, loader, steps: int) -> None:
    def loss_fn(batch: dict) -> torch.Tensor:
        logits = model(batch["inputs"].long(), lengths=batch["lengths"])
        return F.cross_entropy(logits.flatten(0, 1), batch["targets"].long().flatten(), ignore_index=-100)

    train_adamw(model, itertools.cycle(loader), loss_fn, steps, 1e-3, weight_decay=0.1, scheduler="constant")
    model.eval()


def plot(results: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [r["model"] for r in results]
    ax.bar(names, [100 * r["greedy_acc"] for r in results], color="tab:blue")
    ax.set(ylabel="greedy accuracy on unseen DFAs (%)", title="REGBENCH miniature", ylim=(0, 100))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/icll", quick_help="100 steps per model, 5-9 strings, 1000 training DFAs")
    parser.add_argument("--steps", type=int, help="optimizer steps per model (default 400, --quick 100)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    steps = args.steps or (100 if args.quick else 400)
    args.out.mkdir(parents=True, exist_ok=True)

    data = RegBenchData(
        num_symbols=10,
        num_states=(2, 6),
        max_edges=3,
        num_strings=(5, 9) if args.quick else (10, 19),
        string_lengths=(0, 9),
        num_train=1000 if args.quick else 3000,
        num_val=1,
        num_test=300,
        batch_size=32,
    )
    data.setup("fit")
    data.setup("test")
    vocab = data.vocab_size
    start = time.time()
    results = []
    for n in (2, 3):
        t0 = time.time()
        acc, tv = evaluate(
            lambda b, n=n: ngram_predictions(b["inputs"], b["lengths"], n, vocab), data.test_dataloader()
        )
        results.append(dict(model=f"{n}-gram counts", params=0, greedy_acc=acc, tv=tv, seconds=time.time() - t0))
    for name in MODELS:
        t0 = time.time()
        torch.manual_seed(0)
        model = build(name, vocab)
        train(model, data.train_dataloader(), steps)
        acc, tv = evaluate(lambda b, m=model: m(b["inputs"].long(), lengths=b["lengths"]), data.test_dataloader())
        params = sum(p.numel() for p in model.parameters())
        results.append(dict(model=name, params=params, greedy_acc=acc, tv=tv, seconds=time.time() - t0))
        print(f"{name}: {100 * acc:.1f}% in {time.time() - t0:.0f}s", flush=True)

    write_rows(args.out / "results.csv", results)
    plot(results, args.out / "icll.png")
    print(f"\n{'model':<14} {'params':>7} {'greedy acc':>11} {'TV':>6} {'s':>5}   ({steps} steps per model)")
    for r in results:
        print(f"{r['model']:<14} {r['params']:>7} {100 * r['greedy_acc']:>10.1f}% {r['tv']:>6.3f} {r['seconds']:>5.0f}")
    acc = {r["model"]: 100 * r["greedy_acc"] for r in results}
    best_ngram = max(acc["2-gram counts"], acc["3-gram counts"])
    checks = {
        "attention >= LSTM and GLA + 2 points": acc["attention"] >= max(acc["lstm"], acc["gla"]) + 2.0,
        "GLA + n-gram head >= GLA + 2 points": acc["gla+ngram"] >= acc["gla"] + 2.0,
        "best count n-gram >= attention - 5 points": best_ngram >= acc["attention"] - 5.0,
    }
    for name, held in checks.items():
        print(f"{'HOLDS' if held else 'FAILS'}: {name}")
    print(f"total {time.time() - start:.0f}s")
    measured = ", ".join(f"{r['model']} {100 * r['greedy_acc']:.1f}%" for r in results)
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="REGBENCH: Transformers >> recurrent models (LSTM, GLA); they act as in-context n-gram "
                "predictors; a hard-wired n-gram head helps recurrent models",
                measured=f"greedy accuracy on 300 unseen DFAs: {measured}; {sum(checks.values())}/{len(checks)} "
                f"checks held; {steps} steps per model",
                reproduced=outcome(sum(checks.values()), len(checks)),
                command=invoked_command(),
            )
        ],
    )


if __name__ == "__main__":
    main()
