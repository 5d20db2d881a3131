"""A large LSTM pruned to 90% sparsity against a small dense LSTM with as many non-zero weights, on embedded Reber.

Paper: Narang, Elsen, Diamos & Sengupta, "Exploring Sparsity in Recurrent Neural Networks", ICLR 2017,
https://arxiv.org/abs/1704.05119 (gradual pruning during training); the schedule used here is Zhu &
Gupta's cubic one, "To prune, or not to prune", 2017, https://arxiv.org/abs/1710.01878. The Reber
miniature follows Darji's thesis on sparse RNNs.

Claim checked: at an equal number of non-zero parameters, a large model pruned during training
beats a small dense one (Narang et al.: a pruned large RNN is better than a dense one of the same
size), and ends close to the dense large model.

Set-up (CPU scale):

- Task: :class:`recur_core.tasks.ReberData` (embedded Reber grammar, next-symbol prediction), training
  strings of 9-20 symbols; test strings (a fixed set, another seed) of 40-80 symbols (``--test-lengths``),
  so the second symbol must be carried 2-8 times further than in training before it is repeated.
- Models: :class:`recur_core.engine.SequenceTask` with one ``lstm`` block and no MLP (embedding → LSTM
  → head), input width = hidden width h, so the LSTM has 8h² weights. Arms: ``sparse`` (h = 64, its
  LSTM weights pruned to ``--sparsity``, default the paper's 90%, with
  :class:`recur_core.techniques.CubicPruning`: from 20% to 70% of the steps, 10 updates, then 30% of
  fine-tuning), ``dense-small`` (h·sqrt(1 - s), as many LSTM weights as the pruned model keeps: 20
  against 64 at 90%) and ``dense-large`` (the unpruned h = 64).
- Why these lengths: with test strings of 20-40 symbols every arm scored 100% at 90% sparsity (an
  earlier version, below), so the script then defaulted to 97%; 40-80-symbol test strings make the
  90% comparison informative. ``--sparsity 0.97 --test-lengths 20 40`` gives the earlier set-up.
- Training: Lightning through the engine, AdamW lr 3e-3, batch 64, gradient clipping 1, the same
  steps and seeds for every arm.
- Metrics: greedy accuracy (the argmax is a legal next symbol, over all positions) and memory
  accuracy (the symbol before the final ``E``, which must repeat the second symbol across the
  string; chance 50%), on the test strings; non-zero parameters counted after training.
- Verdict: two checks, sparse beats dense-small (higher memory accuracy, mean over seeds; on a tie,
  higher greedy accuracy), and sparse within 1 point of dense-large in greedy accuracy; "yes" when
  both hold.

Outputs under ``--out`` (default ``runs/repro/sparse_reber``): ``results.csv`` (arm, seed, hidden,
non-zeros, accuracies, seconds), ``results.png``, ``claims.csv``; a table and the verdicts are printed.

.. code-block:: bash

    .venv/bin/python tools/repro/sparse_reber.py           # 3 arms x 2 seeds x 800 steps
    .venv/bin/python tools/repro/sparse_reber.py --quick   # 3 arms x 1 seed x 600 steps

Measured (one thread, 2-core machine shared with two other jobs, load ~3.5):

- full run (h = 64, 90%, 800 steps, 2 seeds, test strings 40-80): 5 min 6 s wall (3 min 20 s CPU).
  sparse-64 (3,276 LSTM non-zeros) greedy 100%, memory 97.2% (94.4, 100); dense-20 (3,200) greedy
  99.1%, memory 50.4% (50.9, 49.8: chance); dense-64 (32,768) greedy 97.0%, memory 77.6% (65.1, 90.1).
  Both checks hold: "yes". The pruned model also carries the memory symbol further than the dense
  large one, which generalises less well from 9-20 to 40-80 symbols in 800 steps.
- full run re-measured 2026-12-03 (52 s wall on a quiet machine; training order now drawn per epoch
  from (seed, epoch)): memory sparse-64 98.1% vs dense-20 51.6% vs dense-64 99.5%; greedy 100% /
  98.8% / 100%: both checks hold.
- ``--quick`` (h = 64, 90%, 600 steps, 1 seed, test strings 40-80): 1 min 51 s wall (1 min 13 s CPU).
  sparse-64 greedy 100%, memory 98.4%; dense-20 greedy 98.9%, memory 50.6%; dense-64 greedy 99.3%,
  memory 58.7%: "yes". At 400 steps the pruned model had not yet learnt the memory symbol (49.7%).
- earlier set-ups: 90% with test strings of 20-40 (``--quick --hidden 128``, 400 steps): sparse-128,
  dense-40 and dense-128 all reached 99.9-100% greedy and 100% memory accuracy, a ceiling. 97% with
  test strings of 20-40 (h = 64, 800 steps, 2 seeds): sparse-64 memory 99.4%, dense-11 50.2%,
  dense-64 97.8%.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import time
from pathlib import Path

import lightning as L
import torch

from recur_core.engine import SequenceTask, quiet_trainer
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_core.tasks import ReberData
from recur_core.tasks.reber import embedded_reber_transitions, generate_reber
from recur_core.techniques import CubicPruning, sparsity_report

PAPER = "Narang et al. 2017, Exploring Sparsity in Recurrent Neural Networks"


def evaluate(net: torch.nn.Module, data) -> tuple[float, float]:
    """Greedy accuracy over all scored positions and accuracy at the position that needs memory."""
    legal_table = embedded_reber_transitions() >= 0
    inputs, targets, lengths = data.inputs.long(), data.targets.long(), data.lengths
    with torch.no_grad():
        logits = net(inputs, lengths=lengths)
    predicted = logits.argmax(-1)
    legal = legal_table[data.states.long()]
    scored = targets != -100
    greedy = legal.gather(-1, predicted[..., None]).squeeze(-1)[scored].float().mean()
    # the input at lengths - 3 is the inner E; its target is the T or P that repeats the second symbol
    rows, memory_pos = torch.arange(len(lengths)), lengths - 3
    memory = (predicted[rows, memory_pos] == targets[rows, memory_pos]).float().mean()
    return float(greedy), float(memory)


def arms(hidden: int, sparsity: float) -> dict[str, tuple[int, float]]:
    """name -> (hidden size, final sparsity): the pruned large LSTM, the dense one with as many LSTM
    weights (8h² for input = hidden = h, so h·sqrt(1 - s)), and the dense large one."""
    small = round(hidden * math.sqrt(1 - sparsity))
    return {"sparse": (hidden, sparsity), "dense-small": (small, 0.0), "dense-large": (hidden, 0.0)}


def run_arm(arm: str, hidden: int, sparsity: float, seed: int, steps: int, num_train: int, test_set) -> dict:
    L.seed_everything(seed, verbose=False)
    data = ReberData((9, 20), (9, 20), num_train=num_train, num_val=64, num_test=64, batch_size=64, seed=seed)
    module = SequenceTask(
        "lstm", d_model=hidden, n_layers=1, vocab_size=8, num_classes=8, readout="token", mlp_ratio=0.0, lr=3e-3
    )
    callbacks = []
    if sparsity > 0:
        start, stop = int(0.2 * steps), int(0.7 * steps)
        every = max(1, (stop - start) // 10)
        callbacks.append(CubicPruning(sparsity, start_step=start, num_updates=10, every=every, report=False))
    trainer = quiet_trainer(
        max_steps=steps,
        callbacks=callbacks,
        gradient_clip_val=1.0,
        limit_val_batches=0,
        default_root_dir=None,
    )
    began = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - began
    module.eval()
    greedy, memory = evaluate(module.net, test_set)
    rows = sparsity_report(module.net)
    lstm = [r for r in rows if ".rnn.weight" in r["name"]]
    return {
        "arm": arm,
        "seed": seed,
        "target_sparsity": sparsity,
        "hidden": hidden,
        "lstm_weight_nonzeros": sum(r["nonzeros"] for r in lstm),
        "all_nonzeros": sum(r["nonzeros"] for r in rows),
        "lstm_sparsity": round(1 - sum(r["nonzeros"] for r in lstm) / sum(math.prod(r["shape"]) for r in lstm), 4),
        "greedy_acc": round(greedy, 4),
        "memory_acc": round(memory, 4),
        "seconds": round(seconds, 1),
    }


def _mean(rows: list[dict], arm: str, key: str) -> float:
    values = [r[key] for r in rows if r["arm"] == arm]
    return sum(values) / len(values)


def _plot(path: Path, rows: list[dict], names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key in zip(axes, ("greedy_acc", "memory_acc")):
        for i, arm in enumerate(names):
            values = [r[key] for r in rows if r["arm"] == arm]
            ax.scatter([i] * len(values), values, color="C0")
            ax.bar(i, sum(values) / len(values), alpha=0.4, color="C0")
        ax.set_xticks(range(len(names)), [f"{a}\n{_mean(rows, a, 'lstm_weight_nonzeros'):.0f} nz" for a in names])
        ax.set_title(key.replace("_", " "))
        ax.set_ylim(0, 1.02)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/sparse_reber", quick_help="one seed, fewer steps")
    parser.add_argument("--steps", type=int, help="training steps per arm (default 800, --quick 600)")
    parser.add_argument("--seeds", type=int, help="seeds per arm (default 2, --quick 1)")
    parser.add_argument("--num-train", type=int, default=4000, help="training strings")
    parser.add_argument("--hidden", type=int, default=None, help="pruned and dense large LSTM width (64)")
    parser.add_argument("--sparsity", type=float, default=0.9, help="final sparsity of the pruned LSTM's weights")
    parser.add_argument("--test-lengths", type=int, nargs=2, default=(40, 80), help="test string lengths lo hi")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = args.steps or (600 if args.quick else 800)
    hidden = args.hidden or 64
    seeds = args.seeds or (1 if args.quick else 2)
    test_set = generate_reber(1000, tuple(args.test_lengths), torch.Generator().manual_seed(12345))

    plan = arms(hidden, args.sparsity)
    rows = []
    for seed in range(seeds):
        for arm, (hidden, sparsity) in plan.items():
            row = run_arm(arm, hidden, sparsity, seed, steps, args.num_train, test_set)
            rows.append(row)
            print(
                f"{arm:>10}  seed {seed}  lstm non-zeros {row['lstm_weight_nonzeros']:>6}  "
                f"greedy {row['greedy_acc']:.3f}  memory {row['memory_acc']:.3f}  ({row['seconds']:.0f}s)",
                flush=True,
            )

    args.out.mkdir(parents=True, exist_ok=True)
    write_rows(args.out / "results.csv", rows)
    _plot(args.out / "results.png", rows, list(plan))

    print(f"\n{'arm':>10} {'LSTM nz':>8} {'all nz':>7} {'greedy':>7} {'memory':>7}")
    for arm in plan:
        print(
            f"{arm:>10} {_mean(rows, arm, 'lstm_weight_nonzeros'):>8.0f} {_mean(rows, arm, 'all_nonzeros'):>7.0f} "
            f"{_mean(rows, arm, 'greedy_acc'):>7.3f} {_mean(rows, arm, 'memory_acc'):>7.3f}"
        )
    sparse_mem, small_mem = _mean(rows, "sparse", "memory_acc"), _mean(rows, "dense-small", "memory_acc")
    sparse_greedy, big_greedy = _mean(rows, "sparse", "greedy_acc"), _mean(rows, "dense-large", "greedy_acc")
    small_greedy = _mean(rows, "dense-small", "greedy_acc")
    # a tie in memory accuracy (e.g. both at chance) is broken by greedy accuracy
    beats = sparse_mem > small_mem or (sparse_mem == small_mem and sparse_greedy > small_greedy)
    close = sparse_greedy >= big_greedy - 0.01
    (large, sparsity), (small, _) = plan["sparse"], plan["dense-small"]
    sparse, dense_small, dense_large = f"sparse-{large}", f"dense-{small}", f"dense-{large}"
    print(
        f"\n{sparse} beats {dense_small} (memory, then greedy): {beats} "
        f"({sparse_mem:.3f} vs {small_mem:.3f}; {sparse_greedy:.3f} vs {small_greedy:.3f})"
    )
    print(f"{sparse} within 1 point of {dense_large} (greedy): {close} ({sparse_greedy:.3f} vs {big_greedy:.3f})")
    measured = (
        f"{steps} steps, {seeds} seed(s), test lengths {args.test_lengths[0]}-{args.test_lengths[1]}: memory accuracy "
        f"{sparse} ({sparsity:.0%} pruned, {_mean(rows, 'sparse', 'lstm_weight_nonzeros'):.0f} LSTM non-zeros) "
        f"{sparse_mem:.1%} vs {dense_small} ({_mean(rows, 'dense-small', 'lstm_weight_nonzeros'):.0f}) "
        f"{small_mem:.1%}; greedy {sparse_greedy:.1%} vs {small_greedy:.1%}, {dense_large} {big_greedy:.1%}"
    )
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="a large RNN pruned to ~90% during training beats a small dense RNN with as many "
                "non-zeros, and stays close to the dense large one",
                measured=measured,
                reproduced=outcome(int(beats) + int(close), 2),
                command=invoked_command(),
            )
        ],
    )


if __name__ == "__main__":
    main()
