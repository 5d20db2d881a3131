"""ViR against the same-size ViT on the rendered shapes and sklearn's digits: accuracy, memory at growing resolution.

Paper: Hatamizadeh, Ranzinger, Lan, Alvarez, Fidler & Kautz, "ViR: Towards Efficient Vision Retention
Backbones", 2023, https://arxiv.org/abs/2310.19731 (the authors' code: ``anom63931/ViR``).

Claims checked (paraphrased): (1) a retention backbone classifies about as well as a ViT of the same size;
(2) its recurrent / chunkwise form keeps the memory of high-resolution inference flat in the number of
tokens, where a ViT's attention over every token grows with it (quadratically with the T x T scores).

Set-up (CPU scale). Data and models: exactly the recipes ``vir/classify`` and ``vit/classify`` (their data,
model, optimiser and trainer options, read from the YAML files): the embedded rendered shapes
(:class:`recur_vision.classify.ImageData`, 10 classes: one of five shapes drawn once or twice, 64 x 64), ViR
and ViT of the ``mini`` size (width 64, depth 2, 4 heads, patch 8: 64 tokens). Each is trained by
:class:`recur_vision.classify.ImageClassificationModule` and tested with its final weights (no checkpoint
picked on the test set): accuracy on the test images at 64 px and upscaled to 128 px (256 tokens, the position
table resampled; ViR in its chunkwise form, 64 tokens per chunk, with the recipe's token-count scale of its
retention, the ViT through full attention), beside the majority class and chance. Claim 1 holds when ViR is
above the majority class by 0.2 and within 0.05 of the ViT or above it. The same comparison runs a second time on
the second embedded set, the recipes ``vir/digits`` and ``vit/digits`` (the same models and training on
scikit-learn's bundled digits: 1,257 train / 180 val / 360 test images, 8 x 8 upscaled to 64 x 64), its own
claim-1 row. Memory (the rendered shapes' sizes; it does not depend on the images): ``tools/bench/vir.py`` in a
fresh process (a process that has trained keeps freed memory resident, which hides small peaks) on the same
sizes (mini, patch 8, random weights: inference memory does not depend on them) classifies one image at sides
64 .. 512 (64 .. 4096 tokens) and measures the peak memory each call adds (the kernel's resident-set peak,
reset before each call, every large tensor its own mapping): ViR chunkwise (64 tokens per chunk), the ViT as
it runs (``scaled_dot_product_attention``, whose fused CPU kernel never holds the T x T scores) and the ViT
with the math kernel (the T x T scores materialised). Claim 2 holds when ViR's peak grows by less than 2x from
the smallest to the largest side while the T x T ViT's grows by more than the token count (64x); a peak below
1 MB (page-granular noise) counts as 1 MB.

Outputs under ``--out`` (default ``runs/repro/vir``): ``results.csv`` (both sets), ``memory.csv``, ``vir.png``,
``claims.csv``. The full run also writes ``docs/img/vision/vir.png`` and replaces the vir table in
``docs/vision.md``.

.. code-block:: bash

    .venv/bin/python tools/repro/vir.py          # both recipes on both sets, the memory sweep
    .venv/bin/python tools/repro/vir.py --quick  # 2 epochs (300 shapes), sides 64 and 128; docs untouched

Measured (2 shared cores, one thread), with the recipes' shared lr 1e-3 and ViR's token-count scale: the full
run took 433 s (shapes fits 152 s and 140 s, digits fits 48 s and 47 s; the shapes alone took 330 s before the
digits were added). Test accuracy ViR 0.314, ViT 0.328 (majority 0.102, chance 0.100);
upscaled to 128 px, ViR chunkwise 0.155 (0.108 without the token-count scale, the same training) and the ViT
0.280. Peak MB per image from 64 to 512 px: ViR chunkwise 0.2 -> 1.2, the ViT (fused kernel) 0.8 -> 12.9, the
ViT with the T x T scores 0.5 -> 583.2. Both claims hold at this seed, claim 1 only by the seed: the same
training and test at seed 1 (``seed_everything: 1``, this file's ``train`` and ``accuracies``) gave ViR 0.289
and the ViT 0.429 (128 px: 0.150 and 0.237), so over the two seeds ViR (0.302) sits 0.08 below the ViT (0.379).
The seed (initialisation and batch order; the images are the same) moves the ViT by 0.1 here; at the earlier lr
2e-3 the recipes gave ViR 0.287 / 0.292 and the ViT 0.346 / 0.361 (seeds 0 / 1). On the digits (the full run at
seed 0; seed 1 by this file's ``train`` and ``accuracies`` with ``seed_everything: 1``; majority 0.078): ViR
0.883 / 0.867, the ViT 0.906 / 0.908 (128 px: ViR 0.233 / 0.192, the ViT 0.328 / 0.322): both learn, ViR 0.03
behind on the mean, claim 1 holds at both seeds.
"""

from __future__ import annotations

import os

# one thread for torch and numpy's BLAS; set before numpy and torch load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import csv
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from recur_core.engine import quiet_trainer
from recur_core.recipes import list_recipes
from recur_core.repro import (
    Claim,
    invoked_command,
    outcome,
    replace_generated_table,
    repro_parser,
    write_claims,
    write_rows,
)
from recur_vision.classify import ImageClassificationModule, ImageData

PAPER = "Hatamizadeh et al. 2023, ViR: Towards Efficient Vision Retention Backbones"
ROOT = Path(__file__).resolve().parents[2]
MEMORY_CANDIDATES = ("vir chunkwise", "vit", "vit T×T")
# the recipe variant of each embedded image set
DATASETS = {"shapes": "classify", "digits": "digits"}


def _recipe(name: str) -> dict[str, Any]:
    return yaml.safe_load(list_recipes("vision")[name].read_text())


def train(recipe: dict[str, Any], data_options: dict[str, Any], epochs: int | None) -> tuple[Any, float]:
    """The recipe's module trained on ``data_options`` with its trainer options; the seconds it took."""
    torch.manual_seed(recipe.get("seed_everything", 0))
    module = ImageClassificationModule(**recipe["model"]["init_args"])
    trainer_options = dict(recipe["trainer"])
    if epochs is not None:
        trainer_options["max_epochs"] = epochs
    trainer = quiet_trainer(**trainer_options, num_sanity_val_steps=0, limit_val_batches=0)
    start = time.perf_counter()
    trainer.fit(module, datamodule=ImageData(**data_options))
    return module.eval(), time.perf_counter() - start


def accuracies(module: ImageClassificationModule, data: ImageData) -> dict[str, float]:
    """Test accuracy at the training size and at ``test_image_size`` (the module's high-resolution path)."""
    test = data.dataset("test")
    images = test.images.float() / 127.5 - 1.0
    correct = {"accuracy": 0, "accuracy_high_resolution": 0}
    with torch.no_grad():
        for i in range(0, len(test), 100):
            labels = test.labels[i : i + 100]
            correct["accuracy"] += int((module(images[i : i + 100]).argmax(-1) == labels).sum())
            high = module.high_resolution_logits(images[i : i + 100])
            correct["accuracy_high_resolution"] += int((high.argmax(-1) == labels).sum())
    return {name: count / len(test) for name, count in correct.items()}


def memory_rows(sides: list[int], patch: int, chunk: int, out: Path) -> list[dict[str, Any]]:
    """Peak MB of one image's classification per candidate and side, by ``tools/bench/vir.py`` in its own process."""
    table = out / "memory_bench.csv"
    command = [sys.executable, str(ROOT / "tools" / "bench" / "vir.py"), "--quick", "--model-size", "mini"]
    command += ["--patch", str(patch), "--chunk-size", str(chunk), "--forms", "chunkwise", "--csv", str(table)]
    subprocess.run([*command, "--sizes", *map(str, sides)], check=True)
    with table.open() as f:
        rows = [r for r in csv.DictReader(f) if r["model"] in MEMORY_CANDIDATES]
    return [
        {"side": int(r["side"]), "tokens": int(r["tokens"]), "model": r["model"], "peak_mb": float(r["peak_mb"])}
        for r in rows
    ]


def _plot(
    path: Path, results: list[dict[str, Any]], memory: list[dict[str, Any]], floors: dict[str, dict[str, float]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    x = torch.arange(len(results)).float()
    left.bar(x - 0.2, [r["accuracy"] for r in results], 0.4, label="64 px")
    left.bar(x + 0.2, [r["accuracy_high_resolution"] for r in results], 0.4, label="128 px (upscaled)")
    for i, dataset in enumerate(floors):
        at = [float(x[j]) for j, r in enumerate(results) if r["dataset"] == dataset]
        label = "majority class" if i == 0 else None
        left.hlines(floors[dataset]["majority"], at[0] - 0.45, at[-1] + 0.45, ls="--", color="grey", lw=1, label=label)
    left.axhline(0.1, ls=":", color="black", lw=1, label="chance")
    left.set_xticks(x.tolist(), [f"{r['model']}\n{r['dataset']}" for r in results])
    left.set_ylabel("test accuracy")
    left.set_ylim(0, 1)
    left.legend(fontsize=7)
    left.set_title("10 classes: rendered shapes, sklearn digits", fontsize=9)
    for name in MEMORY_CANDIDATES:
        points = [r for r in memory if r["model"] == name]
        right.plot([r["tokens"] for r in points], [max(r["peak_mb"], 0.1) for r in points], "o-", label=name)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("tokens per image")
    right.set_ylabel("peak MB added by one image")
    right.legend(fontsize=7)
    right.set_title("inference memory at growing resolution", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(results: list[dict[str, Any]], memory: list[dict[str, Any]], floors: dict[str, dict[str, float]]) -> str:
    lines = ["| set | model | test accuracy 64 px | 128 px (upscaled) | fit (s) |", "|---|---|---|---|---|"]
    for dataset, floor in floors.items():
        for r in results:
            if r["dataset"] == dataset:
                lines.append(
                    f"| {dataset} | {r['model']} | {r['accuracy']:.3f} | {r['accuracy_high_resolution']:.3f} "
                    f"| {r['fit_seconds']:.0f} |"
                )
        lines.append(f"| {dataset} | majority class | {floor['majority']:.3f} | | |")
        lines.append(f"| {dataset} | chance | {floor['chance']:.3f} | | |")
    sides = sorted({r["side"] for r in memory})
    peak = {(r["model"], r["side"]): r["peak_mb"] for r in memory}
    tokens = {r["side"]: r["tokens"] for r in memory}
    lines += ["", "| peak MB per image | " + " | ".join(f"{s} px ({tokens[s]} tokens)" for s in sides) + " |"]
    lines.append("|---|" + "---|" * len(sides))
    for name in MEMORY_CANDIDATES:
        lines.append(f"| {name} | " + " | ".join(f"{peak[name, s]:.1f}" for s in sides) + " |")
    return "\n".join(lines) + "\n"


def compare(dataset: str, quick: bool) -> tuple[list[dict[str, Any]], dict[str, float], str]:
    """Both recipes of ``dataset`` trained and tested: their rows, the majority and chance floors, the setting."""
    recipes = {name: _recipe(f"{name}/{DATASETS[dataset]}") for name in ("vir", "vit")}
    data_options = dict(recipes["vir"]["data"]["init_args"])
    epochs = 2 if quick else None
    if quick and dataset == "shapes":
        data_options.update(train_images=300, val_images=50, test_images=200)
    data = ImageData(**data_options)
    train_labels, test_labels = data.dataset("train").labels, data.dataset("test").labels
    floors = {
        "majority": float((test_labels == torch.bincount(train_labels).argmax()).double().mean()),
        "chance": 1 / data.num_classes,
    }
    results = []
    for name, recipe in recipes.items():
        module, seconds = train(recipe, data_options, epochs)
        results.append({"dataset": dataset, "model": name, **accuracies(module, data), "fit_seconds": seconds})
        print(f"{dataset} {name}: {results[-1]}", flush=True)
    setting = (
        f"{dataset}, {len(train_labels)} training / {len(test_labels)} test images, "
        f"{'2 epochs' if quick else 'the recipes’ epochs'}, mini size, patch 8, one seed"
    )
    return results, floors, setting


def accuracy_claim(results: list[dict[str, Any]], floors: dict[str, float], setting: str) -> Claim:
    """Claim 1 on one set: ViR above the majority class by 0.2 and within 0.05 of the ViT or above it."""
    by = {r["model"]: r for r in results}
    close = by["vir"]["accuracy"] >= by["vit"]["accuracy"] - 0.05
    learned = by["vir"]["accuracy"] >= floors["majority"] + 0.2
    return Claim(
        paper=PAPER,
        claim=f"a retention backbone (ViR) is about as accurate as a same-size ViT ({results[0]['dataset']})",
        measured=(
            f"test accuracy ViR {by['vir']['accuracy']:.3f}, ViT {by['vit']['accuracy']:.3f}; at 128 px "
            f"(ViR chunkwise) {by['vir']['accuracy_high_resolution']:.3f} vs "
            f"{by['vit']['accuracy_high_resolution']:.3f}; majority {floors['majority']:.3f}, "
            f"chance {floors['chance']:.3f} ({setting})"
        ),
        reproduced=outcome(int(close) + int(learned), 2),
        command=invoked_command(),
    )


def main() -> None:
    parser = repro_parser(__doc__, "runs/repro/vir", "2 epochs (300 training shapes), memory at 64 and 128 px")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    results, floors, claims = [], {}, []
    for dataset in DATASETS:
        rows, floors[dataset], setting = compare(dataset, args.quick)
        results += rows
        claims.append(accuracy_claim(rows, floors[dataset], setting))
    out = args.out
    sides = [64, 128] if args.quick else [64, 128, 256, 512]
    model = _recipe("vir/classify")["model"]["init_args"]
    memory = memory_rows(sides, model["model_kwargs"]["patch_size"], model["chunk_size"], out)
    write_rows(out / "results.csv", results, digits=4)
    write_rows(out / "memory.csv", memory, digits=2)
    _plot(out / "vir.png", results, memory, floors)
    peak = {(r["model"], r["side"]): r["peak_mb"] for r in memory}
    low, high = sides[0], sides[-1]
    # below a megabyte a page-granular peak is noise: it counts as 1 MB
    growth = {name: peak[name, high] / max(peak[name, low], 1.0) for name in MEMORY_CANDIDATES}
    token_ratio = (high / low) ** 2
    claims.append(
        Claim(
            paper=PAPER,
            claim="ViR's chunkwise form keeps high-resolution memory flat in the tokens; a ViT's grows (quadratically)",
            measured=(
                f"peak MB per image from {low} to {high} px ({int(token_ratio)}x the tokens): "
                + ", ".join(f"{name} {peak[name, low]:.1f} -> {peak[name, high]:.1f}" for name in MEMORY_CANDIDATES)
                + " (vit: fused attention kernel; vit T×T: the scores materialised)"
            ),
            reproduced=outcome(int(growth["vir chunkwise"] < 2) + int(growth["vit T×T"] > token_ratio), 2),
            command=invoked_command(),
        )
    )
    print(f"claims: {write_claims(out, claims)}")
    if not args.quick:
        figure = ROOT / "docs" / "img" / "vision" / "vir.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        _plot(figure, results, memory, floors)
        replace_generated_table(ROOT / "docs" / "vision.md", "vir", _table(results, memory, floors))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
