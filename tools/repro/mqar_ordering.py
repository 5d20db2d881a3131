"""MQAR recall at equal state size: linear attention < RetNet < GLA < softmax attention.

Papers: Yang, Wang, Shen, Panda & Kim, "Gated Linear Attention Transformers with Hardware-Efficient
Training", ICML 2024, https://arxiv.org/abs/2312.06635 (the recall ordering, on MQAR); the task is
Arora et al., "Zoology: Measuring and Improving Recall in Efficient Language Models", ICLR 2024,
https://arxiv.org/abs/2312.04927.

Claim checked: on multi-query associative recall (MQAR) with the same recurrent state size, the
accuracy orders as linear attention < retention (RetNet) < GLA < attention: a data-dependent gate
recalls better than a fixed decay, which recalls better than no decay, and softmax attention, whose
"state" is the whole KV cache, recalls best.

Set-up here (CPU scale):

- Task: :func:`recur_core.tasks.mqar.generate_mqar`, vocabulary 64 (31 keys, 31 values), length 64,
  every pair queried. Training draws fresh sequences every step with 4, 8, 12 or 16 key-value pairs
  (cycling), so one model is tested at every pair count; the test sets (512 sequences per count) and
  the validation sets used to pick the learning rate are drawn from separate seeds.
- Models: a token-shift stem (each position embeds its token plus, through a second table, the token
  before it: a width-2 causal convolution, like the short convolutions of the Zoology and Based
  models) into :class:`recur_core.models.SequenceModel`, 2 blocks, d = 64, MLP ratio 2, token
  readout, 4 heads in every layer. Without the shift no arm left the "guess a value of the context"
  plateau within ~1,000 steps on CPU; with it attention solved the task in ~200 steps at a constant
  lr of 3e-3 (a probe, not this script), so the budget goes to the recall itself. Recurrent state
  per layer, equal for the three linear layers (D²/H = 1024 elements): ``linear_attention`` with elu
  features of width 16 (S 4×16×16, plus the normaliser z 4×16 = 64 more), ``retention`` with
  ``expand_v=1`` (S 4×16×16; plus an integer position counter for the rotation), ``gla`` with
  ``expand_k=1, expand_v=1`` (S 4×16×16). ``attention``'s state is its KV cache, 2·T·D = 8192
  elements per layer at T = 64, and grows with T.
- Training: the same for every arm: AdamW (weight decay 0.1), 10% linear warm-up then cosine decay,
  gradient clipping at 1, batch 256 (Zoology's), 400 steps, and the best of two peak learning rates
  (3e-3 and 1e-2; ``--quick``: 3e-3 only) chosen on the validation sets; plain loop, one thread, seed 0.
- Metric: accuracy over the query positions.
- Verdict: the six pairwise orderings implied by the chain (mean test accuracy over pair counts); one
  holds when the higher arm is ahead by more than half a point. ``reproduced`` counts them.

Why batch 256 (issue 12 §3). At batch 32 ``retention`` and ``gla`` stayed at chance (6.9% and 4.1%
against 92.3% for ``linear_attention``; loss flat at ln 31, uniform over the value ids) and GLA did
not leave that plateau in 1,600 steps either (3.2%). The layers are not at fault: their op matches
fla's ``naive_recurrent_gla`` and ``naive_retention`` (outputs and gradients), and their
composition (q/k/v head split, log σ(·)/16 gate, q/√d_k, per-head RMSNorm or GroupNorm, swish
output gate) is fla's ``GatedLinearAttention`` and ``MultiScaleRetention``, checked end to end
against a token loop in their tests. What differs is the kernel: ``linear_attention`` scores with
positive features (elu + 1) and divides by their sum, so from the first step its output is a mean of
the values in context, and the head can learn to read values out of it; GLA and RetNet score with
sign-indefinite qᵀk, whose output at initialisation is a random-sign mix, and at batch 32 the
gradient noise keeps them there. Single runs (seed 0, lr 1e-2 unless said, 400 steps), mean recall over
4-16 pairs:

================================================  ======
set-up                                            recall
================================================  ======
gla, batch 32                                     2.9%
gla, batch 32, 1,600 steps                        3.2%
gla, batch 32, lr 1e-3                            7.2%
gla, batch 32, elu + 1 on q and k                 83.8%
gla, batch 32, elu + 1 on q and k, no decay       93.2%
gla, batch 128                                    10.3%
gla, batch 256, lr 3e-3                           79.2%
retention, batch 256, lr 3e-3                     38.2%
linear_attention, batch 256, lr 3e-3              99.7%
================================================  ======

So the set-up starved the sign-indefinite kernels; Zoology trains with batch 256 (and ~12,000
steps, lr swept over 1e-3..3e-2, a short and a long convolution before every mixer), which this
script now follows for the batch. That does not make linear attention lose: at T = 64 with every
pair queried nothing has to be forgotten, so a decay only costs recall, and the positive normalised
kernel learns fastest. ``--quick`` at batch 256 (438 s wall): linear_attention 99.7%,
retention 38.2%, gla 79.2%, attention 100.0%, so retention < gla < attention hold and the three
orderings with linear attention below do not (at batch 32 the three that held were those against attention). The paper's
GLA-over-linear-attention result comes from longer sequences and far more training than a CPU run
affords; that part is not reproduced here. The full run (both lrs, 810 s wall beside one other
single-thread job, 2026-12-03) chose lr 3e-3 for every arm and gave the same numbers: linear_attention
99.6%, retention 38.7%, gla 80.0%, attention 100.0%; 3 of 6 orderings hold.

Outputs under ``--out`` (default ``runs/repro/mqar_ordering``): ``mqar.csv`` (arm, lr, pairs,
validation and test accuracy, training CPU seconds, state elements), ``mqar.png`` (test accuracy against the
number of pairs per arm at its chosen lr), ``claims.csv``; a table and the verdicts are printed.

.. code-block:: bash

    .venv/bin/python tools/repro/mqar_ordering.py           # two lrs: 810 s wall at batch 256
    .venv/bin/python tools/repro/mqar_ordering.py --quick   # 6.9 min CPU training, 7.3 min wall, one thread
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import itertools
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import flatten_state
from recur_core.models import SequenceModel
from recur_core.repro import (
    Claim,
    invoked_command,
    outcome,
    repro_parser,
    train_adamw,
    write_claims,
    write_rows,
)
from recur_core.tasks.base import IGNORE_INDEX
from recur_core.tasks.mqar import generate_mqar

PAPER = "Yang et al. 2024, Gated Linear Attention Transformers (MQAR recall; task from Arora et al. 2024, Zoology)"
VOCAB = 64
SEQ_LEN = 64
PAIRS = (4, 8, 12, 16)
D_MODEL = 64
HEADS = 4
# In the claimed order, lowest recall first; kwargs give every linear layer a D²/H = 1024-element state.
ARMS = (
    ("linear_attention", {"num_heads": HEADS, "feature_dim": D_MODEL // HEADS}),
    ("retention", {"num_heads": HEADS, "expand_v": 1.0}),
    ("gla", {"num_heads": HEADS, "expand_k": 1.0, "expand_v": 1.0}),
    ("attention", {"num_heads": HEADS}),
)
MARGIN = 0.005


class ShiftRecall(nn.Module):
    """Token-shift stem and a two-block :class:`SequenceModel` of ``layer``: token ids [B, T] -> logits [B, T, V].

    .. math::
        h_t = E x_t + E' x_{t-1} \\quad (x_{-1} = \\text{padding})

    a width-2 causal convolution over the embeddings, so that a value's position also sees its key.

    Shapes: x [B, T] -> [B, T, VOCAB].
    """

    def __init__(self, layer: str, kwargs: dict) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.embed_previous = nn.Embedding(VOCAB, D_MODEL)
        self.body = SequenceModel(
            layer=layer, d_model=D_MODEL, n_layers=2, input_dim=D_MODEL, output_dim=VOCAB, layer_kwargs=kwargs
        )

    def forward(self, x: Tensor) -> Tensor:
        previous = F.pad(x, (1, 0))[:, :-1]
        return self.body(self.embed(x) + self.embed_previous(previous))


def build(layer: str, kwargs: dict) -> ShiftRecall:
    """The MQAR model over ``layer``."""
    return ShiftRecall(layer, kwargs)


def state_elements(model: ShiftRecall, seq_len: int) -> int:
    """Floating-point elements of one block's state after ``seq_len`` tokens (integer counters left out)."""
    with torch.no_grad():
        x = torch.zeros(1, seq_len, D_MODEL)
        _, state = model.body.blocks[0].mixer(x)
    return sum(t.numel() for t in flatten_state(state) if t.is_floating_point())


def train(model: ShiftRecall, steps: int, batch: int, lr: float, seed: int) -> None:
    """AdamW on fresh MQAR sequences each step, cycling through the pair counts."""
    generator = torch.Generator().manual_seed(seed)
    batches = (generate_mqar(batch, VOCAB, pairs, SEQ_LEN, generator) for pairs in itertools.cycle(PAIRS))

    def loss_fn(data) -> torch.Tensor:
        logits = model(data.inputs)
        return F.cross_entropy(logits.flatten(0, 1), data.targets.flatten(), ignore_index=IGNORE_INDEX)

    train_adamw(model, batches, loss_fn, steps, lr, weight_decay=0.1)


@torch.no_grad()
def accuracy(model: ShiftRecall, data) -> float:
    """Fraction of query positions whose value is predicted right."""
    model.eval()
    hits, total = 0, 0
    for i in range(0, len(data.inputs), 256):
        targets = data.targets[i : i + 256]
        mask = targets != IGNORE_INDEX
        predicted = model(data.inputs[i : i + 256]).argmax(-1)
        hits += int((predicted[mask] == targets[mask]).sum())
        total += int(mask.sum())
    return hits / total


def _plot(path: Path, chosen: dict[str, list[dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (layer, _) in enumerate(ARMS):
        rows = chosen[layer]
        ax.plot(
            [r["pairs"] for r in rows],
            [r["test_acc"] for r in rows],
            marker="o",
            color=f"C{i}",
            label=f"{layer} (lr {rows[0]['lr']:g})",
        )
    ax.set_xticks(PAIRS)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("key-value pairs in the sequence")
    ax.set_ylabel("recall accuracy (query positions)")
    ax.set_title(f"MQAR, T = {SEQ_LEN}, vocab {VOCAB}, d = {D_MODEL}, linear states 1024/layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/mqar_ordering", quick_help="one learning rate, smaller test sets")
    parser.add_argument("--steps", type=int, default=400, help="training steps per run")
    parser.add_argument("--lrs", type=float, nargs="+", help="peak learning rates tried per arm (default 3e-3 1e-2)")
    parser.add_argument("--batch", type=int, default=256, help="training sequences per step")
    parser.add_argument("--arms", nargs="+", choices=[layer for layer, _ in ARMS], help="run only these arms")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = args.steps
    lrs = args.lrs or ([3e-3] if args.quick else [3e-3, 1e-2])
    arms = [(layer, kw) for layer, kw in ARMS if args.arms is None or layer in args.arms]
    num_eval = 256 if args.quick else 512
    val_sets = {p: generate_mqar(num_eval, VOCAB, p, SEQ_LEN, torch.Generator().manual_seed(1000 + p)) for p in PAIRS}
    test_sets = {p: generate_mqar(num_eval, VOCAB, p, SEQ_LEN, torch.Generator().manual_seed(2000 + p)) for p in PAIRS}
    print(f"MQAR: T {SEQ_LEN}, vocab {VOCAB}, pairs {PAIRS}, {steps} steps x batch {args.batch}, lrs {lrs}")

    rows, states = [], {}
    for layer, kwargs in arms:
        for lr in lrs:
            torch.manual_seed(0)
            model = build(layer, kwargs)
            states[layer] = state_elements(model, SEQ_LEN)
            start = time.process_time()
            train(model, steps, args.batch, lr, seed=0)
            seconds = time.process_time() - start
            for p in PAIRS:
                rows.append(
                    {
                        "arm": layer,
                        "lr": lr,
                        "pairs": p,
                        "val_acc": accuracy(model, val_sets[p]),
                        "test_acc": accuracy(model, test_sets[p]),
                        "cpu_seconds": seconds,
                        "state_elements": states[layer],
                    }
                )
            mine = rows[-len(PAIRS) :]
            accs = "  ".join(f"{r['pairs']}p {r['test_acc']:.3f}" for r in mine)
            print(f"  {layer:<17} lr {lr:g}: test {accs}  ({seconds:.0f} CPU s)", flush=True)

    columns = ["arm", "lr", "pairs", "val_acc", "test_acc", "cpu_seconds", "state_elements"]
    write_rows(args.out / "mqar.csv", rows, columns, digits=4, exact=("lr",))

    chosen, mean = {}, {}
    for layer, _ in arms:
        by_lr = {lr: [r for r in rows if r["arm"] == layer and r["lr"] == lr] for lr in lrs}
        best = max(lrs, key=lambda lr: sum(r["val_acc"] for r in by_lr[lr]))
        chosen[layer] = by_lr[best]
        mean[layer] = sum(r["test_acc"] for r in by_lr[best]) / len(PAIRS)
    if len(arms) == len(ARMS):
        _plot(args.out / "mqar.png", chosen)

    print(f"\nstate per layer (floating elements after T = {SEQ_LEN}):")
    for layer, _ in arms:
        note = " (KV cache: grows with T)" if layer == "attention" else ""
        print(f"  {layer:<17} {states[layer]:>6}{note}")
    print("\ntest accuracy at the lr chosen on validation")
    print(f"{'arm':<17} {'lr':>6} " + " ".join(f"{f'{p} pairs':>9}" for p in PAIRS) + f" {'mean':>7}")
    for layer, _ in arms:
        r = chosen[layer]
        print(
            f"{layer:<17} {r[0]['lr']:>6g} " + " ".join(f"{x['test_acc']:>9.3f}" for x in r) + f" {mean[layer]:>7.3f}"
        )

    if len(arms) < len(ARMS):
        print("\nnot every arm ran; no verdict and no claims written")
        return
    print(f"\nverdicts (pairwise, the higher arm must lead by more than {MARGIN:.1%})")
    order = [layer for layer, _ in ARMS]
    held = 0
    for low, high in itertools.combinations(order, 2):
        ok = mean[high] - mean[low] > MARGIN
        held += ok
        print(f"  {low} < {high}: {mean[low]:.3f} vs {mean[high]:.3f} -> {'held' if ok else 'NOT held'}")
    total = math.comb(len(order), 2)
    print(f"  {held} of {total} orderings hold")
    measured = (
        f"mean test recall over {len(PAIRS)} pair counts ({min(PAIRS)}-{max(PAIRS)} pairs, T {SEQ_LEN}), "
        f"{steps} steps x batch {args.batch}, best of lr {'/'.join(f'{lr:g}' for lr in lrs)}, linear states "
        f"{'/'.join(str(states[layer]) for layer in order[:3])} elements per layer: "
        + ", ".join(f"{layer} {mean[layer]:.1%}" for layer in order)
        + f"; {held} of {total} pairwise orderings hold"
    )
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="MQAR recall at equal state size orders linear attention < RetNet < GLA < softmax attention",
                measured=measured,
                reproduced=outcome(held, total),
                command=invoked_command(),
            )
        ],
    )
    print(f"\nwrote {args.out / 'mqar.csv'}, {args.out / 'mqar.png'}, {args.out / 'claims.csv'}")


if __name__ == "__main__":
    main()
