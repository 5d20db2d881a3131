"""TODM: the subnets of one supernet against individually trained RNN-T models of the same sizes.

Paper: Shangguan, Li, Nagaraja, Wang, Wu, Chandra, et al., "TODM: Train Once Deploy Many. Efficient
Supernet-Based RNN-T Compression for On-Device ASR Models", 2023, https://arxiv.org/abs/2309.01947 (no public
code); the sandwich rule and the α-divergence as AlphaNet (``facebookresearch/AlphaNet``).

Claim checked (paraphrased): one supernet trained once yields subnets whose WER matches or beats that of
individually trained (and tuned) models of the same sizes (up to 3 % relative better on LibriSpeech), at about
the cost of one training job.

Set-up (CPU scale). Data, features, loss and optimiser: the recipe ``todm/espeak_digits`` (the espeak-ng digit
strings, 2000 training and 200 test utterances; LSTM encoder; 10 epochs; AdamW 2e-3 with warm-up and cosine
decay). The supernet (depth 1-2 × width 64/96/128, sandwich rule with 4 subnets a step, α-divergence,
adaptive dropout) is trained once; three of its subnets, (depth, width) = (1, 64), (2, 96) and (2, 128) (the
largest), are exported and scored. The same three sizes are each trained alone as a plain RNN-T
(``RNNTTask``, the recipe's options, dropout 0.1 as the supernet's largest) for the same number of epochs.
Every model is scored by greedy WER on the 200 test utterances with its final weights; one seed; the
individual models are not tuned further. The claim holds for a size when the subnet's WER is at most the
individual model's plus 0.5 points (about 3 of the 620 test words: below this test set's resolution); the
cost half holds when the supernet's wall time is below the three individual jobs' together. Both wall times
are reported (single thread).

Outputs under ``--out`` (default ``runs/repro/todm``): ``results.csv`` (one row per model), ``claims.csv``.

.. code-block:: bash

    .venv/bin/python tools/repro/todm.py          # the recipe's 10 epochs
    .venv/bin/python tools/repro/todm.py --quick  # 2 epochs
"""

from __future__ import annotations

import os

# one thread for torch and numpy's BLAS; set before numpy and torch load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import inspect
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from recur_core.engine import quiet_trainer
from recur_core.recipes import list_recipes
from recur_core.repro import Claim, invoked_command, repro_parser, write_claims, write_rows
from recur_speech.datamodules import SpeechRecognitionData
from recur_speech.task import RNNTTask
from recur_speech.todm import TODMTask

PAPER = "Shangguan et al. 2023, TODM"
SIZES = [(1, 64), (2, 96), (2, 128)]
MARGIN = 0.005  # WER points (as a fraction) within which a subnet "matches" its individual model


def fit_and_test(module: RNNTTask, data: dict[str, Any], epochs: int, folder: Path, seed: int) -> tuple[dict, float]:
    """Train ``module`` for ``epochs`` (no validation), test its final weights; the test metrics and the fit time."""
    trainer = quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=folder)
    torch.manual_seed(seed)
    start = time.perf_counter()
    trainer.fit(module, datamodule=SpeechRecognitionData(**data))
    seconds = time.perf_counter() - start
    tester = quiet_trainer(default_root_dir=folder)
    tester.test(module, datamodule=SpeechRecognitionData(**data), verbose=False)
    metrics = {k.removeprefix("test/"): float(v) for k, v in tester.callback_metrics.items() if k.startswith("test/")}
    return metrics, seconds


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/todm", "2 epochs per model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = yaml.safe_load(list_recipes("speech")["todm/espeak_digits"].read_text())
    options = dict(recipe["model"]["init_args"])
    data = dict(recipe["data"]["init_args"])
    seed = recipe["seed_everything"]
    epochs = 2 if args.quick else recipe["trainer"]["max_epochs"]
    start = time.perf_counter()
    SpeechRecognitionData(**data).setup("fit")  # write the espeak-ng corpus once
    print(f"espeak-ng corpus ready ({time.perf_counter() - start:.0f} s)", flush=True)

    torch.manual_seed(seed)
    supernet = TODMTask(**options, eval_subnets=[list(size) for size in SIZES])
    metrics, supernet_seconds = fit_and_test(supernet, data, epochs, args.out / "supernet", seed)
    rows = []
    for depth, width in SIZES:
        tag = f"d{depth}_w{width}"
        rows.append(
            {
                "model": f"subnet {tag}",
                "depth": depth,
                "width": width,
                "parameters": int(metrics[f"params_{tag}"]),
                "wer": metrics[f"wer_{tag}"],
                "cer": metrics[f"cer_{tag}"],
                "fit_seconds": supernet_seconds,
            }
        )
        print(rows[-1], flush=True)
    baselines = {"wer_blank": metrics["wer_blank"], "wer_frequent": metrics["wer_frequent"]}
    print(f"supernet: {supernet_seconds:.0f} s; baselines {baselines}", flush=True)

    # the recipe's options without the supernet's own (search space, distillation, dropout range)
    supernet_only = set(inspect.signature(TODMTask).parameters) - set(inspect.signature(RNNTTask).parameters)
    individual_options = {k: v for k, v in options.items() if k not in supernet_only}
    for depth, width in SIZES:
        torch.manual_seed(seed)
        model_kwargs = {**options["model_kwargs"], "n_layers": depth, "d_model": width}
        module = RNNTTask(**{**individual_options, "model": "rnnt", "model_kwargs": model_kwargs})
        scores, seconds = fit_and_test(module, data, epochs, args.out / f"individual_d{depth}_w{width}", seed)
        parameters = sum(p.numel() for p in module.net.parameters())
        row = {"model": f"individual d{depth}_w{width}", "depth": depth, "width": width, "parameters": parameters}
        rows.append({**row, "wer": scores["wer"], "cer": scores["cer"], "fit_seconds": seconds})
        print(rows[-1], flush=True)
    write_rows(args.out / "results.csv", rows, digits=4)

    subnets, individuals = rows[: len(SIZES)], rows[len(SIZES) :]
    matched = [s["wer"] <= i["wer"] + MARGIN for s, i in zip(subnets, individuals)]
    individual_seconds = sum(i["fit_seconds"] for i in individuals)
    each = ", ".join(f"{i['fit_seconds']:.0f}" for i in individuals)
    cheaper = supernet_seconds < individual_seconds
    pairs = "; ".join(
        f"({s['depth']}, {s['width']}) {s['parameters'] / 1e3:.0f} k params: subnet WER {100 * s['wer']:.2f} % vs "
        f"individual {100 * i['wer']:.2f} %"
        for s, i in zip(subnets, individuals)
    )
    measured = (
        f"{pairs}; blank decoder {100 * baselines['wer_blank']:.0f} %, most frequent transcript "
        f"{100 * baselines['wer_frequent']:.1f} %; wall time: supernet {supernet_seconds:.0f} s, the 3 individual "
        f"jobs {individual_seconds:.0f} s ({each} s) "
        f"({data.get('dataset')}, {epochs} epochs each, one seed, one thread, 200 test utterances, greedy)"
    )
    held = sum(matched) + (len(SIZES) if cheaper else 0)
    reproduced = "yes" if all(matched) and cheaper else "no" if held == 0 else "partly"
    claims = [
        Claim(
            paper=PAPER,
            claim="subnets of one supernet trained once match or beat individually trained RNN-T models of the "
            "same sizes (up to 3 % relative WER), at about one training job's cost",
            measured=measured,
            reproduced=reproduced,
            command=invoked_command(),
        )
    ]
    print(f"claims: {write_claims(args.out, claims)}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
