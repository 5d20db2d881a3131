"""The QTN paper's claim at CPU scale: a quantum tensor network of ~800 parameters classifies proteins about
as well as a much larger classical model.

Paper: Kundu, Ghosh, Ekambaram, Wang, Dokholyan & Ghosh, "Application of Quantum Tensor Networks for Protein
Classification", 2024, https://arxiv.org/abs/2403.06890 (no official code found). Claim (paraphrased): on a
binary subcellular-location task (cytoplasm vs membrane), the best QTN (hPTN, ~800 parameters, simulated
noise-free) reaches 94% accuracy, comparable to 98% of a classifier on ESM2 embeddings (8M+ parameters).

Set-up (CPU scale). ESM2 cannot be downloaded here, so the "much larger classical model" is trained from
scratch on the same residues: an LSTM of width 64 (34,753 parameters) and a matrix-product state of bond
dimension 24 (12,145). Beside them, the same two families at the QTN's size (LSTM width 8: 761; MPS bond 6:
769), and the two QTNs of :mod:`recur_text.models.qtn` simulated exactly: the RNN-inspired chain (794) and
the CNN-inspired tree with one block per level (890). Data: the embedded default of the ``qtn/*`` recipes
(:mod:`recur_text.data.proteins`: 2,000 generated cytoplasm/membrane sequences of 60-140 residues, the membrane
class carrying 18-24-residue hydrophobic segments, the cytoplasm class short hydrophobic decoys), split
70/15/15 as :class:`recur_text.protein_classification.ProteinData` does. Every model: AdamW, lr 0.01 (the
bond-24 MPS 0.002: at 0.01 it diverged after its first epoch), 10% warm-up then cosine, gradient clipping at
1, batch 64, the same epochs; the test accuracy is read at the epoch with the best validation accuracy.
Majority class: the training split's most frequent class.

Checks: (1) the better QTN's test accuracy is within 5 points of the better large classical model's (the paper's
gap: 94 vs 98); (2) both QTNs beat the majority class by at least 15 points.

Measured (full, ``heavy.sh .venv/bin/python tools/repro/qtn.py --out /tmp/qtn_repro`` at commit 71bd668, 376 s
on one thread): test accuracy (F1, AUROC), majority class 0.597; chain QTN 0.890 (0.860, 0.952; 794 parameters),
tree QTN 0.767 (0.713, 0.820; 890), LSTM width 8 0.970 (761), MPS bond 6 0.970 (769), LSTM width 64 0.973
(0.968, 0.996; 34,753), MPS bond 24 0.970 (12,145). Claim: partly. The chain QTN is 8 points behind the large
LSTM (the paper's gap: 4), and both QTNs are well above the majority class. Classical models of equal size reach
the large ones' accuracy on this task. The chain QTN is the unitary, post-selected form of the MPS, and that
constraint costs about 8 points here.

Outputs under ``--out`` (default ``runs/repro/qtn``): ``results.csv`` (per model: parameters, best val
accuracy, test accuracy / F1 / AUROC, seconds), ``claims.csv``, ``qtn.png`` (test accuracy against parameters).

.. code-block:: bash

    .venv/bin/python tools/repro/qtn.py          # 25 epochs, 2,000 sequences (~6 min on one thread)
    .venv/bin/python tools/repro/qtn.py --quick  # 6 epochs, 600 sequences
"""

from __future__ import annotations

import os

# one thread for torch and numpy's BLAS; set before numpy and torch load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_accuracy, binary_auroc, binary_f1_score

from recur_core.registry import get_model
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, write_claims, write_rows
from recur_core.schedules import warmup_cosine
from recur_text.data.proteins import collate_proteins
from recur_text.protein_classification import ProteinData

PAPER = "Kundu et al. 2024, Quantum tensor networks for protein classification"
# (label, registered name, arguments, family, peak learning rate)
MODELS: list[tuple[str, str, dict[str, Any], str, float]] = [
    ("QTN chain (RNN-inspired)", "qtn_chain", {"wire_qubits": 3, "word_layers": 4, "block_layers": 12}, "qtn", 0.01),
    (
        "QTN tree (CNN-inspired, hierarchical)",
        "qtn_tree",
        {"wire_qubits": 3, "word_layers": 4, "block_layers": 2, "sharing": "hierarchical", "levels": 8},
        "qtn",
        0.01,
    ),
    ("LSTM, equal size", "protein_rnn", {"d_model": 8, "layer": "lstm"}, "small", 0.01),
    ("MPS, equal size", "protein_mps", {"bond_dim": 6}, "small", 0.01),
    ("LSTM, large", "protein_rnn", {"d_model": 64, "layer": "lstm"}, "large", 0.01),
    # at lr 0.01 the bond-24 MPS peaked after one epoch (val 0.85) and drifted off; 0.002 trains it
    ("MPS, large", "protein_mps", {"bond_dim": 24}, "large", 0.002),
]


def _batches(dataset, size: int, generator: torch.Generator | None):
    order = torch.randperm(len(dataset), generator=generator) if generator is not None else range(len(dataset))
    order = list(order)
    for start in range(0, len(order), size):
        yield collate_proteins([dataset[int(i)] for i in order[start : start + size]])


@torch.no_grad()
def _evaluate(model: torch.nn.Module, dataset) -> dict[str, float]:
    model.eval()
    probs, labels = [], []
    for batch in _batches(dataset, 256, None):
        probs.append(torch.sigmoid(model(batch["tokens"]).float()))
        labels.append(batch["labels"])
    p, y = torch.cat(probs), torch.cat(labels)
    return {
        "acc": float(binary_accuracy(p, y)),
        "f1": float(binary_f1_score(p, y)),
        "auroc": float(binary_auroc(p, y)),
    }


def train_one(
    name: str, kwargs: dict[str, Any], data: ProteinData, epochs: int, seed: int = 0, lr: float = 0.01
) -> dict[str, Any]:
    """Train one model; the test scores at the epoch of best validation accuracy."""
    torch.manual_seed(seed)
    model = get_model(name, **kwargs)
    train, val, test = (data.dataset(split) for split in ("train", "val", "test"))
    steps_per_epoch = math.ceil(len(train) / 64)
    total, warmup = epochs * steps_per_epoch, max(1, epochs * steps_per_epoch // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    best: dict[str, Any] = {"val_acc": -1.0}
    step, start = 0, time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for batch in _batches(train, 64, generator):
            for group in opt.param_groups:
                group["lr"] = lr * warmup_cosine(step, warmup, total)
            loss = F.binary_cross_entropy_with_logits(model(batch["tokens"]).float(), batch["labels"].float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
        val_scores = _evaluate(model, val)
        if val_scores["acc"] > best["val_acc"]:
            test_scores = _evaluate(model, test)
            best = {"val_acc": val_scores["acc"], "epoch": epoch, **{f"test_{k}": v for k, v in test_scores.items()}}
        print(f"  {name} epoch {epoch}: loss {loss.item():.3f} val acc {val_scores['acc']:.3f}", flush=True)
    best["seconds"] = time.perf_counter() - start
    best["params"] = sum(p.numel() for p in model.parameters())
    return best


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/qtn", "6 epochs, 600 sequences")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs, sequences = (6, 600) if args.quick else (25, 2000)
    start = time.perf_counter()
    data = ProteinData(num_sequences=sequences, seed=0)
    counts = data.dataset("train").class_counts()
    majority = int(counts[1] > counts[0])
    test_labels = data.dataset("test").labels
    majority_acc = float((test_labels == majority).float().mean())
    print(f"train class counts {counts}, test majority-class accuracy {majority_acc:.3f}", flush=True)
    rows: list[dict[str, Any]] = []
    for label, name, kwargs, family, lr in MODELS:
        result = train_one(name, kwargs, data, epochs, lr=lr)
        rows.append({"model": label, "family": family, **result})
        print(
            f"{label:<40} params {result['params']:>6}  test acc {result['test_acc']:.3f}  "
            f"f1 {result['test_f1']:.3f}  auroc {result['test_auroc']:.3f}  ({result['seconds']:.0f} s)",
            flush=True,
        )
    rows.append({"model": "majority class", "family": "baseline", "params": 0, "test_acc": majority_acc})
    columns = ["model", "family", "params", "epoch", "val_acc", "test_acc", "test_f1", "test_auroc", "seconds"]
    write_rows(args.out / "results.csv", rows, columns=columns, digits=4)
    qtn = max((r for r in rows if r["family"] == "qtn"), key=lambda r: r["test_acc"])
    large = max((r for r in rows if r["family"] == "large"), key=lambda r: r["test_acc"])
    small = max((r for r in rows if r["family"] == "small"), key=lambda r: r["test_acc"])
    checks = [
        qtn["test_acc"] >= large["test_acc"] - 0.05,
        all(r["test_acc"] >= majority_acc + 0.15 for r in rows if r["family"] == "qtn"),
    ]
    measured = "; ".join(f"{r['model']} ({r['params']} params) {r['test_acc']:.3f}" for r in rows)
    setting = (
        f"generated cytoplasm/membrane proteins, {sequences} sequences split 70/15/15, {epochs} epochs each, "
        f"test accuracy at the best validation epoch, one seed; best QTN {qtn['test_acc']:.3f} vs best large "
        f"classical {large['test_acc']:.3f} and best equal-size classical {small['test_acc']:.3f}; "
        f"{sum(checks)} of 2 checks held (QTN within 5 points of the large model; both QTNs >= majority + 15)"
    )
    claim = Claim(
        paper=PAPER,
        claim="a QTN of ~800 parameters reaches accuracy comparable to a much larger classical model on binary "
        "protein subcellular location (hPTN 94% vs ESM2-based 98%, 8M+ parameters)",
        measured=f"test accuracy: {measured} ({setting})",
        reproduced=outcome(sum(checks), 2),
        command=invoked_command(),
    )
    print(f"claims: {write_claims(args.out, [claim])}")
    _plot(args.out / "qtn.png", rows, majority_acc)
    print(f"total {time.perf_counter() - start:.0f} s")


def _plot(path: Path, rows: list[dict[str, Any]], majority_acc: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"qtn": "tab:purple", "small": "tab:blue", "large": "tab:orange"}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, row in enumerate(r for r in rows if r["family"] != "baseline"):
        ax.scatter(row["params"], row["test_acc"], color=colours[row["family"]], s=40)
        # alternate above and below: equal-size models land on the same spot
        offset = (4, 4 if k % 2 == 0 else -10)
        ax.annotate(
            row["model"], (row["params"], row["test_acc"]), fontsize=7, xytext=offset, textcoords="offset points"
        )
    ax.axhline(majority_acc, color="grey", linestyle="--", linewidth=1, label=f"majority class {majority_acc:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy (generated proteins)")
    ax.set_title("QTN vs classical models, equal and larger size", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
