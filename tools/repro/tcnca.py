"""TCNCA temporal mixing: dilated causal convolution vs MEGA's EMA as an FFT long convolution, as T grows.

Paper: Terzić, Hersche, Karunaratne, Benini, Sebastian, Rahimi, "TCNCA: Temporal Convolution Network
with Chunked Attention for Scalable Sequence Processing", 2023, https://arxiv.org/abs/2312.05605.

Claim checked: replacing MEGA's EMA (computed as an FFT convolution, O(T log T)) by a dilated
temporal convolution network (O(T)) makes the temporal mixing faster, and the gap grows with the
sequence length T.

Set-up: one ``tcnca`` layer (:class:`recur_core.layers.tcnca.TCNCA`) per variant at d = 64, B = 1,
random input; only the temporal mixing is timed (forward + backward of a squared-mean loss on its
output): ``temporal="dilated"`` runs the 4 dilated levels (kernel 3, dilations 1, 2, 4, 8, each
with its pointwise projection, as the layer does), ``temporal="ema_fft"`` runs the damped
multi-dimensional EMA (ema_dim 2) as one FFT convolution with its length-T kernel, including the
kernel and final-state computation the layer does. T = 1k, 4k, 16k (``--quick``: 1k, 4k), one
thread, medians over interleaved rounds (``tools/bench/_timing.py:median_times``).

Recall parity (second claim: TCNCA matches the MEGA-like model's accuracy): a plain loop trains
:class:`recur_core.models.SequenceModel` with 2 ``tcnca`` blocks (d = 64, chunk 32 so the whole
sequence is one attention chunk) for each temporal variant on MQAR
(:func:`recur_core.tasks.generate_mqar`: vocabulary 64, 4 key-value pairs, T = 32), AdamW lr 3e-3,
batch 32, clipping 1, the same steps (800, ``--quick`` 300) and data for both; accuracy on 512
test sequences at the query positions.

Verdicts: (1) dilated is faster than ema_fft at every T; (2) the ratio ema_fft / dilated is larger
at the largest T than at the smallest ("scales better"); (3) the dilated model's MQAR accuracy is
within 5 points of the ema_fft model's, or above it, and one of them reaches 50% (parity at chance
says nothing). Claim 1 is checked by (1)+(2), claim 2 by (3).

Outputs under ``--out`` (default ``runs/repro/tcnca``): ``timings.csv`` (T, variant, median
seconds), ``mqar.csv`` (variant, accuracy), ``tcnca.png``, ``claims.csv``; a table and the verdicts are printed.

.. code-block:: bash

    .venv/bin/python tools/repro/tcnca.py           # T = 1k, 4k, 16k, 800 MQAR steps: 146 s wall
    .venv/bin/python tools/repro/tcnca.py --quick   # T = 1k, 4k, 300 MQAR steps

Timing alone (before the MQAR part was added): full 17 s wall, ``--quick`` 11 s.

Measured (full, one thread, shared busy machine): dilated 14.2 / 44.5 / 162.6 ms, ema_fft
19.3 / 76.3 / 306.9 ms at T = 1k / 4k / 16k, ratio 1.36 / 1.72 / 1.89: dilated is faster at every
T and the gap grows with T ("yes"). ``--quick`` (T = 1k, 4k), ratio at 1k / 4k: 1.43 / 1.66 and
1.58 / 1.81 with 9 rounds ("yes"); two earlier runs with 5 rounds gave 1.40 / 1.78 and 1.70 / 1.71
(the latter "partly"), so check 2 at only two lengths is near the noise of the busy machine; the full
run's 16k point is the clearer one. The dilated timing includes its 4 pointwise projections.

Measured with the MQAR part (``--quick``, 61 s wall): ratio 1.70 / 1.69 at 1k / 4k (check 2 failed
this time, timing claim "partly"); MQAR accuracy dilated 99.1%, ema_fft 74.4% after 300 steps
(parity claim "yes"). Full (146 s wall): ratio 1.67 / 1.70 / 2.18 at 1k / 4k / 16k (dilated
11.5 / 41.9 / 175.2 ms, ema_fft 19.3 / 71.1 / 382.2 ms, "yes"); MQAR dilated 100.0%, ema_fft 99.8%
after 800 steps ("yes").
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import torch.nn.functional as F
from _timing import median_times

from recur_core import build_layer
from recur_core.models.sequence_model import SequenceModel
from recur_core.repro import Claim, invoked_command, outcome, repro_parser, train_adamw, write_claims, write_rows
from recur_core.tasks import generate_mqar

PAPER = "Terzić et al. 2023, TCNCA: Temporal Convolution Network with Chunked Attention"
VARIANTS = ("dilated", "ema_fft")
D_MODEL = 64


def temporal_fwd_bwd(layer, x: torch.Tensor):
    """A closure running forward + backward of ``layer``'s temporal mixing alone on ``x``."""
    temporal, _ = layer.init_state(x.shape[0], dtype=x.dtype)

    def run() -> None:
        layer.zero_grad(set_to_none=True)
        if layer.temporal == "dilated":
            u = x
            for level, state in zip(layer.levels, temporal):
                u, _ = level(u, state, None)
        else:
            u, _ = layer._ema(x, temporal, None)
        u.square().mean().backward()

    return run


def mqar_accuracy(temporal: str, steps: int) -> float:
    """Query accuracy on fresh MQAR sequences of a 2-block tcnca model trained ``steps`` steps."""
    torch.manual_seed(0)
    vocab, pairs, seq_len = 64, 4, 32
    model = SequenceModel(
        layer="tcnca",
        d_model=D_MODEL,
        n_layers=2,
        vocab_size=vocab,
        output_dim=vocab,
        layer_kwargs={"temporal": temporal, "chunk_size": seq_len},
    )
    train = generate_mqar(32 * steps, vocab, pairs, seq_len, torch.Generator().manual_seed(1))

    def loss_fn(i: int) -> torch.Tensor:
        x, y = train.inputs[32 * i : 32 * (i + 1)].long(), train.targets[32 * i : 32 * (i + 1)]
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=-100)

    train_adamw(model, range(steps), loss_fn, steps, 3e-3, weight_decay=0.01, scheduler="constant")
    test = generate_mqar(512, vocab, pairs, seq_len, torch.Generator().manual_seed(2))
    with torch.no_grad():
        predictions = model(test.inputs.long()).argmax(-1)
    asked = test.targets != -100
    return (predictions[asked] == test.targets[asked]).float().mean().item()


def plot(rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for variant in VARIANTS:
        pts = [(r["T"], r["seconds"]) for r in rows if r["variant"] == variant]
        ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], marker="o", label=variant)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("fwd+bwd ms (1 thread)")
    ax.set_title("TCNCA temporal mixing")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/tcnca", quick_help="T = 1k, 4k only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lengths = (1024, 4096) if args.quick else (1024, 4096, 16384)
    repeats = 9
    layers = {v: build_layer("tcnca", D_MODEL, temporal=v) for v in VARIANTS}
    rows = []
    for steps in lengths:
        x = torch.randn(1, steps, D_MODEL)
        times = median_times({v: temporal_fwd_bwd(layers[v], x) for v in VARIANTS}, repeats)
        rows.extend({"T": steps, "variant": v, "seconds": times[v]} for v in VARIANTS)
    args.out.mkdir(parents=True, exist_ok=True)
    write_rows(args.out / "timings.csv", rows)
    plot(rows, args.out / "tcnca.png")

    by = {(r["T"], r["variant"]): r["seconds"] for r in rows}
    ratio = {t: by[(t, "ema_fft")] / by[(t, "dilated")] for t in lengths}
    print(f"{'T':>6} {'dilated ms':>11} {'ema_fft ms':>11} {'ratio':>6}")
    for t in lengths:
        print(f"{t:>6} {by[(t, 'dilated')] * 1e3:>11.2f} {by[(t, 'ema_fft')] * 1e3:>11.2f} {ratio[t]:>6.2f}")
    faster = all(r > 1 for r in ratio.values())
    scales = ratio[lengths[-1]] > ratio[lengths[0]]
    print(f"check 1 (dilated faster at every T): {faster}")
    print(f"check 2 (ratio grows with T): {scales}")
    measured = ", ".join(
        f"T={t}: dilated {by[(t, 'dilated')] * 1e3:.1f} ms, ema_fft {by[(t, 'ema_fft')] * 1e3:.1f} ms" for t in lengths
    )
    mqar = {v: mqar_accuracy(v, 300 if args.quick else 800) for v in VARIANTS}
    write_rows(args.out / "mqar.csv", [{"temporal": v, "accuracy": acc} for v, acc in mqar.items()])
    parity = mqar["dilated"] >= mqar["ema_fft"] - 0.05 and max(mqar.values()) >= 0.5
    print(f"MQAR accuracy: dilated {100 * mqar['dilated']:.1f}%, ema_fft {100 * mqar['ema_fft']:.1f}%")
    print(f"check 3 (a model reaches 50% and dilated is within 5 points of ema_fft or above): {parity}")
    write_claims(
        args.out,
        [
            Claim(
                paper=PAPER,
                claim="TCNCA (dilated TCN) is about as accurate as the MEGA-like EMA model",
                measured=f"MQAR (V=64, 4 pairs, T=32) query accuracy, same steps: dilated "
                f"{100 * mqar['dilated']:.1f}%, ema_fft {100 * mqar['ema_fft']:.1f}%",
                reproduced=outcome(int(parity), 1),
                command=invoked_command(),
            ),
            Claim(
                paper=PAPER,
                claim="the dilated TCN is faster than MEGA's EMA as an FFT convolution and scales better with T",
                measured=f"fwd+bwd of the temporal mixing, d={D_MODEL}, 1 thread: {measured}",
                reproduced=outcome(int(faster) + int(scales), 2),
                command=invoked_command(),
            ),
        ],
    )


if __name__ == "__main__":
    main()
