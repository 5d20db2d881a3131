"""Continual learning with hypernetworks on split digits: fine-tuning vs MLP vs LSTM hypernetwork.

Papers: Chandra, Varshney, Srijith, Gupta, "Continual Learning with Dependency Preserving
Hypernetworks", WACV 2023, https://arxiv.org/abs/2209.07712; on top of von Oswald, Henning, Grewe,
Sacramento, "Continual learning with hypernetworks", ICLR 2020, https://arxiv.org/abs/1906.00695.

Claim checked: a task-conditioned hypernetwork trained with the output regulariser keeps the
accuracy of earlier tasks where plain fine-tuning forgets them, and the dependency-preserving LSTM
hypernetwork does at least as well as the chunked MLP hypernetwork at a similar parameter count.

Set-up here (CPU scale; the papers use split MNIST / CIFAR):

- Data: sklearn's 8x8 digits (1797 images, pixels / 16), split into 5 tasks of two classes
  (0/1, 2/3, ..., 8/9); per task a stratified 70/30 train/test split (seeded).
- Setting: task-incremental (the hnet paper's CL1): the task id is given at test time. Each
  hypernetwork generates the whole target MLP 64-32-2 (2146 weights, its 2-way output included)
  from the task's embedding, so every task effectively has its own head.
- Arms, trained on the tasks in order with :func:`recur_core.techniques.train_continual`:

  - ``finetune``: a shared MLP 64-32 trunk with a 2-way head per task (the multi-head baseline of
    the same setting), no protection;
  - ``finetune_shared``: one MLP 64-32-2 for all tasks (the task id unused), no protection;
  - ``lstm_hnet_beta0``: the LSTM hypernetwork with β = 0 (the regulariser's ablation);
  - ``mlp_hnet``, ``lstm_hnet`` (:mod:`recur_core.techniques.hypernetwork`): task and chunk
    embeddings of size 8, chunks of 256 weights (9 chunks); MLP hypernetwork with one hidden layer
    of 64, LSTM hypernetwork with 40 hidden units (17840 vs 19888 parameters); output regulariser
    β = 0.01 against the snapshot before each task, old embeddings frozen, a new embedding per task.

  All arms: Adam lr 1e-3 (fresh per task), full batch, the same steps per task, seeds 0..S-1.
- Verdicts on the means over seeds of the final test accuracy over the 5 tasks and of the
  forgetting (accuracy right after a task minus after the last, over tasks 1-4): (1) shared-head
  fine-tuning forgets >= 5 points; (2) both hypernetworks keep >= 95%; (3) the regulariser matters:
  the LSTM hypernetwork with β = 0.01 is >= 2 points above β = 0; (4) the LSTM hypernetwork is at
  least the MLP one's accuracy minus 0.5 points (both are near the ceiling on digits).
  ``reproduced`` = "yes" when all hold, "no" when none, else "partly". Multi-head fine-tuning is
  reported but not checked: on digits it barely forgets (the tasks share little).

Outputs under ``--out`` (default ``runs/repro/hypernet_cl``): ``accuracy.csv`` (arm, seed, after
task, task, accuracy: the whole accuracy matrix), ``final.csv`` (arm, mean final accuracy, mean
forgetting, parameters), ``hypernet_cl.png``, ``claims.csv``; a table and the verdicts are printed.

.. code-block:: bash

    .venv/bin/python tools/repro/hypernet_cl.py           # 3 seeds x 300 steps per task: 127 CPU-s, 417 s wall
    .venv/bin/python tools/repro/hypernet_cl.py --quick   # 1 seed x 200 steps per task: 35 CPU-s, 123 s wall

Measured (``--quick``, busy 2-core machine, 123 s wall including ~45 s of imports): final mean
accuracy / forgetting: finetune 98.3% / 0.2, finetune_shared 81.5% / 20.8, lstm_hnet_beta0
94.6% / 5.8, mlp_hnet 98.7% / 0.0, lstm_hnet 99.1% / 0.2; all 4 checks held.

Measured (full, 3 seeds, same machine at load ~14, 417 s wall): finetune 97.0% / 3.0, finetune_shared
81.7% / 21.0, lstm_hnet_beta0 92.2% / 8.5, mlp_hnet 99.3% / 0.1, lstm_hnet 99.0% / 0.0; all 4
checks held. The LSTM hypernetwork is not better than the MLP one here (0.3 points below, inside
the 0.5-point tolerance): both sit at the ceiling of this easy benchmark, so the paper's
LSTM > MLP margin is not tested by it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor, nn

from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_core.techniques.hypernetwork import (
    ContinualHyperNet,
    FunctionalTarget,
    LSTMHyperNetwork,
    MLPHyperNetwork,
    train_continual,
)

PAPER = "Chandra et al. 2023, Continual Learning with Dependency Preserving Hypernetworks"
ARMS = ("finetune", "finetune_shared", "lstm_hnet_beta0", "mlp_hnet", "lstm_hnet")
NUM_TASKS = 5


def split_digits(seed: int) -> tuple[list[tuple[Tensor, Tensor]], list[tuple[Tensor, Tensor]]]:
    """Five two-class tasks (labels 0/1 within each task): per-task train and test sets."""
    digits = load_digits()
    x_all = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y_all = torch.tensor(digits.target)
    train, test = [], []
    for t in range(NUM_TASKS):
        keep = (y_all == 2 * t) | (y_all == 2 * t + 1)
        x, y = x_all[keep], (y_all[keep] - 2 * t)
        xa, xb, ya, yb = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
        train.append((xa, ya))
        test.append((xb, yb))
    return train, test


def target_template() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))


class SharedHeadMLP(nn.Module):
    """Fine-tuning with one shared 64-32-2 network that ignores the task id; called as ``(task, x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = target_template()

    def forward(self, task: int, x: Tensor) -> Tensor:
        return self.net(x)


class MultiHeadMLP(nn.Module):
    """Fine-tuning baseline: a shared 64-32 trunk and one 2-way head per task; called as ``(task, x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
        self.heads = nn.ModuleList(nn.Linear(32, 2) for _ in range(NUM_TASKS))

    def forward(self, task: int, x: Tensor) -> Tensor:
        return self.heads[task](self.trunk(x))


def build(arm: str, beta: float) -> nn.Module:
    if arm == "finetune":
        return MultiHeadMLP()
    if arm == "finetune_shared":
        return SharedHeadMLP()
    target = FunctionalTarget(target_template())
    if arm == "lstm_hnet_beta0":
        beta = 0.0
    if arm == "mlp_hnet":
        hnet = MLPHyperNetwork(target.num_weights, task_dim=8, chunk_dim=8, chunk_size=256, hidden=(64,))
    else:
        hnet = LSTMHyperNetwork(target.num_weights, task_dim=8, chunk_dim=8, chunk_size=256, hidden=40)
    return ContinualHyperNet(hnet, target, beta=beta)


def count_params(model: nn.Module) -> int:
    """Trainable parameters (for a hypernetwork: the hypernetwork, chunk and task embeddings)."""
    if isinstance(model, ContinualHyperNet):
        return sum(p.numel() for p in model.hnet.parameters()) + NUM_TASKS * model.hnet.task_dim
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def accuracy(model: nn.Module, task: int, data: tuple[Tensor, Tensor]) -> float:
    x, y = data
    return float((model(task, x).argmax(-1) == y).float().mean())


def run_arm(arm: str, seed: int, steps: int, beta: float) -> tuple[list[list[float]], int]:
    """Train ``arm`` on the 5 tasks in order; return acc[after task i][task j <= i] and its parameter count."""
    torch.manual_seed(seed)
    train, test = split_digits(seed)
    model = build(arm, beta)
    matrix: list[list[float]] = []

    def evaluate(t: int) -> None:
        matrix.append([accuracy(model, j, test[j]) for j in range(t + 1)])

    train_continual(model, train, steps=steps, lr=1e-3, after_task=evaluate)
    return matrix, count_params(model)


def plot(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for arm in ARMS:
        mine = [r for r in rows if r["arm"] == arm]
        seeds = sorted({r["seed"] for r in mine})
        final = [
            sum(r["accuracy"] for r in mine if r["after_task"] == NUM_TASKS - 1 and r["task"] == j) / len(seeds)
            for j in range(NUM_TASKS)
        ]
        seen = [
            sum(r["accuracy"] for r in mine if r["after_task"] == i) / (len(seeds) * (i + 1)) for i in range(NUM_TASKS)
        ]
        axes[0].plot(range(1, NUM_TASKS + 1), final, "o-", label=arm)
        axes[1].plot(range(1, NUM_TASKS + 1), seen, "o-", label=arm)
    axes[0].set(xlabel="task", ylabel="test accuracy after the last task", title="final accuracy per task")
    axes[1].set(xlabel="tasks trained", ylabel="mean accuracy over tasks seen", title="during the sequence")
    for ax in axes:
        ax.set_xticks(range(1, NUM_TASKS + 1))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/hypernet_cl", quick_help="one seed, 200 steps per task")
    parser.add_argument("--steps", type=int, help="optimizer steps per task (default 300, --quick 200)")
    parser.add_argument("--seeds", type=int, help="seeds per arm (default 3, --quick 1)")
    parser.add_argument("--beta", type=float, default=0.01, help="output regulariser weight")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = args.steps or (200 if args.quick else 300)
    seeds = args.seeds or (1 if args.quick else 3)
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.time()
    rows, finals = [], []
    for arm in ARMS:
        accs, forgets = [], []
        for seed in range(seeds):
            matrix, params = run_arm(arm, seed, steps, args.beta)
            for i, row in enumerate(matrix):
                rows += [dict(arm=arm, seed=seed, after_task=i, task=j, accuracy=a) for j, a in enumerate(row)]
            last = matrix[-1]
            accs.append(sum(last) / NUM_TASKS)
            forgets.append(sum(matrix[j][j] - last[j] for j in range(NUM_TASKS - 1)) / (NUM_TASKS - 1))
        finals.append(dict(arm=arm, final_acc=sum(accs) / seeds, forgetting=sum(forgets) / seeds, params=params))
        print(f"{arm}: done at {time.time() - start:.0f}s", flush=True)

    write_rows(args.out / "accuracy.csv", rows)
    write_rows(args.out / "final.csv", finals)
    plot(rows, args.out / "hypernet_cl.png")

    print(f"\n{'arm':<16} {'params':>7} {'final acc':>10} {'forgetting':>11}   ({seeds} seed(s), {steps} steps/task)")
    for r in finals:
        print(f"{r['arm']:<16} {r['params']:>7} {100 * r['final_acc']:>9.1f}% {100 * r['forgetting']:>10.1f}%")
    by = {r["arm"]: r for r in finals}
    acc = {a: 100 * by[a]["final_acc"] for a in ARMS}
    forget = {a: 100 * by[a]["forgetting"] for a in ARMS}
    checks = {
        "shared-head fine-tuning forgets >= 5 points": forget["finetune_shared"] >= 5.0,
        "both hypernetworks keep >= 95%": min(acc["mlp_hnet"], acc["lstm_hnet"]) >= 95.0,
        "the regulariser matters: LSTM hnet beta 0.01 >= beta 0 + 2 points": acc["lstm_hnet"]
        >= acc["lstm_hnet_beta0"] + 2.0,
        "LSTM hypernetwork >= MLP hypernetwork - 0.5 points": acc["lstm_hnet"] >= acc["mlp_hnet"] - 0.5,
    }
    for name, held in checks.items():
        print(f"{'HOLDS' if held else 'FAILS'}: {name}")
    print(f"total {time.time() - start:.0f}s")

    measured = ", ".join(f"{a} {acc[a]:.1f}% (forgetting {forget[a]:.1f})" for a in ARMS)
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="split tasks, task-incremental: hypernetworks with the output regulariser keep earlier tasks "
                "(>= 95%) where fine-tuning forgets; the LSTM hypernetwork >= the MLP one at similar size",
                measured=f"split digits 5x2, mean final test accuracy over tasks: {measured}; params "
                f"MLP hnet {by['mlp_hnet']['params']} vs LSTM hnet {by['lstm_hnet']['params']}; "
                f"{sum(checks.values())}/{len(checks)} checks held; {seeds} seed(s), {steps} steps/task",
                reproduced=outcome(sum(checks.values()), len(checks)),
                command=invoked_command(),
            )
        ],
    )


if __name__ == "__main__":
    main()
