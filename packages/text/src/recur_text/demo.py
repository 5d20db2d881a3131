"""``recur demo text``: six short parts, each printing a model of ``recur_text`` beside its plain baseline.

Nothing is downloaded and no data root is read: the verses, sentences, point sets and proteins are generated
(the verses and proteins written once under the user cache, ``$XDG_CACHE_HOME/recur/generated``, in their real
on-disk layouts and read back by the package's readers), the word corpus is the docstrings of the running
Python's standard library (extracted once into the same cache). The parts train the package's own
LightningModules and DataModules with a Lightning Trainer, as the CLI does, made small enough for seconds each.
Outputs go to ``runs/demo/text/`` (``RECUR_RUNS`` moves ``runs``): the meters' ``confusion_matrix.png`` and the
RecurrentGPT memory folder ``memory/``.

1. **Poem meters** (Yousef et al. 2019, https://arxiv.org/abs/1905.05700;
   :class:`~recur_text.meters.MeterClassificationModule` on :class:`~recur_text.meters.MeterData`): the
   ``meters/english_generated`` recipe made small (:data:`METERS`): English lines of the 4 EPD meters from
   cmudict stress patterns, a one-layer BiGRU over one-hot characters with the papers' class weighting; test
   accuracy (overall and macro) beside the majority class.
2. **Seq2seq** (Sutskever et al. 2014, https://arxiv.org/abs/1409.3215;
   :class:`~recur_text.seq2seq_task.Seq2SeqModule`): the ``seq2seq/grammar`` task (SVO -> SOV with agreement)
   and model made small (:data:`SEQ2SEQ`), source reversed; BLEU and exact-sentence accuracy of greedy and
   beam-4 decoding beside the monotone word-by-word baseline.
3. **Pointer network** (Vinyals et al. 2015, https://arxiv.org/abs/1506.03134;
   :class:`~recur_text.pointer_task.PointerModule`): ``pointer/convex_hull`` on 5-10 points (:data:`POINTER`);
   exact hull sequences and area coverage of greedy decoding beside the extreme-points (Akl-Toussaint) polygon.
4. **QTN** (Kundu et al. 2024, https://arxiv.org/abs/2403.06890;
   :class:`~recur_text.protein_classification.ProteinTask`): ``qtn/rnn_circuit``'s circuit (794 parameters,
   simulated as exact state vectors) on generated cytoplasm/membrane proteins (:data:`PROTEINS`); accuracy and
   AUROC beside the majority class.
5. **Skip-gram** (Mikolov et al. 2013, as Lai 2016 compares it; :mod:`recur_text.models.word2vec`): 4 epochs,
   50 dimensions, on the standard library's docstrings with 100 planted twins (every second occurrence of a word
   renamed ``<word>_twin``, :func:`~recur_text.data.word_corpus.plant_twins`); the twin's mean reciprocal rank and
   top-10 rate among all words by cosine, beside random vectors of the same shape (:data:`SKIPGRAM`).
6. **RecurrentGPT** (Zhou et al. 2023, https://arxiv.org/abs/2305.13304;
   :class:`~recur_text.recurrent_gpt.RecurrentGPT`) with the scripted writer
   (:class:`~recur_text.generators.ScriptedGenerator`, which answers a query only from the text the loop hands
   it): 4 facts planted as the first plans, queried after 10 and 30 more steps with the long-term memory (top 2
   paragraphs retrieved by embedding similarity) and with the short-term memory only; the share of queries whose
   fact paragraph was retrieved beside it. The memory files (``state.json``, ``embeddings.npz``, ``story.md``,
   ``responses/``) stay under ``runs/demo/text/memory``.

``recur demo text`` took 49 s of wall time (the demo's own clock: 42 s; 43 s of CPU) from an empty cache (the verses,
proteins and docstring corpus written on the way), with no data root, from a folder outside the checkout, one torch
thread, on a 2-core machine another job kept busy (load average about 2); two earlier runs of the same sizes took
45 s. That run printed: meters accuracy 0.681 (macro 0.677) against 0.206 for the majority class; seq2seq BLEU 53.7
greedy and 57.1 with beam 4 (exact sentences 0.090 and 0.100) against 2.7 (exact 0) for the monotone baseline; the
pointer network's exact hulls 0.115 against 0.080 for the extreme points, but area coverage 0.635 against their
0.713 (300 steps are far from ``pointer/convex_hull``'s 6 epochs of 20,000 sets); the QTN accuracy 0.756 (AUROC 0.817)
against 0.644 for the majority class, at lr 0.03 (at the recipe's 0.01, and at 0.02 with batches of 16, 6 epochs
stayed at or under the majority class); skip-gram twin MRR 0.615 (top-10 0.720) against 0.002 (0.000) for random
vectors; RecurrentGPT recall 1.00 with the long-term memory against 0.00 without after 10 steps, but 0.25 against
0.00 after 30, when the hashed n-gram retrieval found the fact's paragraph for only 1 query of 4 (the distractor
paragraphs name the same people and things; ``tools/repro/recurrent_gpt.py`` measured the same fall over 32 probes).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import shutil
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import torch

from recur_core.engine import quiet_trainer

__all__ = [
    "METERS",
    "POINTER",
    "PROTEINS",
    "SEQ2SEQ",
    "main",
    "run_demo",
    "run_memory_demo",
    "run_meters_demo",
    "run_pointer_demo",
    "run_protein_demo",
    "run_seq2seq_demo",
    "run_skipgram_demo",
]

# part 1: generated English verses of the 4 EPD meters and meters/english_generated's BiGRU, made small
METERS = dict(lines_per_meter=400, hidden_size=32, n_layers=1, epochs=4)
# part 2: seq2seq/grammar's task and model, made small
SEQ2SEQ = dict(num_train=6400, num_test=200, d_model=96, n_layers=1, epochs=3)
# part 3: pointer/convex_hull on 5-10 points
POINTER = dict(sizes=(5, 10), num_train=6400, num_test=200, d_model=64, epochs=3)
# part 4: qtn/rnn_circuit (794 parameters) on the generated proteins
PROTEINS = dict(num_sequences=600, epochs=6, batch_size=32, lr=0.03)
# part 5: skip-gram on the standard library's docstrings
SKIPGRAM = dict(sources=("stdlib",), epochs=4, dim=50)
# part 6: RecurrentGPT with the scripted writer
MEMORY = dict(facts=4, steps=(10, 30))


def _quiet(function, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with what it prints swallowed (the task's own test table)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


def _fit_test(
    module: L.LightningModule, data: L.LightningDataModule, epochs: int, **options: Any
) -> tuple[dict, float]:
    """Fit ``module`` on ``data`` for ``epochs`` (no validation), then test; the test metrics and the fit seconds."""
    trainer = quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0, limit_val_batches=0, **options)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    result = _quiet(trainer.test, module, datamodule=data, verbose=False)[0]
    return {k: float(v) for k, v in result.items()}, seconds


def run_meters_demo(
    lines_per_meter: int = METERS["lines_per_meter"],
    hidden_size: int = METERS["hidden_size"],
    n_layers: int = METERS["n_layers"],
    epochs: int = METERS["epochs"],
    out: Path | None = None,
) -> dict[str, Any]:
    """A BiGRU meter classifier on generated English verses; test accuracy beside the majority class."""
    from recur_text.meters import MeterClassificationModule, MeterData

    L.seed_everything(0, verbose=False)
    data = MeterData("english_generated", lines_per_meter=lines_per_meter, batch_size=32)
    module = MeterClassificationModule(
        model_kwargs={"hidden_size": hidden_size, "n_layers": n_layers, "layer": "gru"}, lr=0.005
    )
    options = {} if out is None else {"default_root_dir": str(out)}
    metrics, seconds = _fit_test(module, data, epochs, **options)
    return {
        "accuracy": metrics["test/acc"],
        "macro_accuracy": metrics["test/acc_macro"],
        "majority": metrics["test/acc_majority"],
        "train_verses": len(data.dataset("train")),
        "test_verses": len(data.dataset("test")),
        "fit_seconds": seconds,
        "figure": None if out is None else out / "confusion_matrix.png",
    }


def run_seq2seq_demo(
    num_train: int = SEQ2SEQ["num_train"],
    num_test: int = SEQ2SEQ["num_test"],
    d_model: int = SEQ2SEQ["d_model"],
    n_layers: int = SEQ2SEQ["n_layers"],
    epochs: int = SEQ2SEQ["epochs"],
) -> dict[str, Any]:
    """Sutskever et al.'s encoder-decoder (source reversed) on the SVO->SOV grammar, beside the monotone baseline."""
    from recur_text.seq2seq_task import Seq2SeqModule, TranslationData

    L.seed_everything(0, verbose=False)
    data = TranslationData("grammar", num_train=num_train, num_val=1, num_test=num_test, batch_size=64)
    module = Seq2SeqModule(
        model_kwargs={"layer": "lstm", "d_model": d_model, "n_layers": n_layers, "reverse_source": True},
        beam_size=4,
        max_decode_len=32,
        lr=0.003,
        warmup_steps=30,
        scheduler="cosine",
    )
    metrics, seconds = _fit_test(module, data, epochs, gradient_clip_val=5.0)
    return {
        "bleu": metrics["test/bleu"],
        "exact": metrics["test/exact"],
        "bleu_beam": metrics["test/bleu_beam"],
        "exact_beam": metrics["test/exact_beam"],
        "bleu_monotone": metrics["test/bleu_monotone"],
        "exact_monotone": metrics["test/exact_monotone"],
        "train_sentences": num_train,
        "test_sentences": num_test,
        "fit_seconds": seconds,
    }


def run_pointer_demo(
    sizes: tuple[int, int] = POINTER["sizes"],
    num_train: int = POINTER["num_train"],
    num_test: int = POINTER["num_test"],
    d_model: int = POINTER["d_model"],
    epochs: int = POINTER["epochs"],
) -> dict[str, Any]:
    """A pointer network on planar convex hulls, beside the extreme-points (Akl-Toussaint) baseline."""
    from recur_text.pointer_task import PointerData, PointerModule

    L.seed_everything(0, verbose=False)
    data = PointerData("convex_hull", num_train=num_train, num_val=1, num_test=num_test, sizes=sizes, batch_size=64)
    module = PointerModule(
        "convex_hull",
        model_kwargs={"layer": "lstm", "d_model": d_model, "n_layers": 1},
        beam_size=1,
        lr=0.003,
        warmup_steps=30,
        scheduler="cosine",
    )
    metrics, seconds = _fit_test(module, data, epochs, gradient_clip_val=2.0)
    return {
        "exact": metrics["test/exact"],
        "coverage": metrics["test/coverage"],
        "exact_baseline": metrics["test/exact_baseline"],
        "coverage_baseline": metrics["test/coverage_baseline"],
        "sizes": tuple(sizes),
        "train_sets": num_train,
        "test_sets": num_test,
        "fit_seconds": seconds,
    }


def run_protein_demo(
    num_sequences: int = PROTEINS["num_sequences"],
    epochs: int = PROTEINS["epochs"],
    batch_size: int = PROTEINS["batch_size"],
    lr: float = PROTEINS["lr"],
) -> dict[str, Any]:
    """qtn/rnn_circuit's quantum tensor network (794 parameters) on generated proteins, beside the majority class."""
    from recur_text.protein_classification import ProteinData, ProteinTask

    L.seed_everything(0, verbose=False)
    data = ProteinData(num_sequences=num_sequences, batch_size=batch_size)
    module = ProteinTask(
        "qtn_chain",
        model_kwargs={"wire_qubits": 3, "word_layers": 4, "block_layers": 12},
        lr=lr,
        warmup_steps=10,
        scheduler="cosine",
    )
    metrics, seconds = _fit_test(module, data, epochs, gradient_clip_val=1.0)
    return {
        "accuracy": metrics["test/acc"],
        "auroc": metrics["test/auroc"],
        "majority": metrics["test/acc_majority"],
        "params": int(metrics["test/params"]),
        "train_sequences": len(data.dataset("train")),
        "test_sequences": len(data.dataset("test")),
        "fit_seconds": seconds,
    }


def run_skipgram_demo(
    sources: tuple[str, ...] = SKIPGRAM["sources"], epochs: int = SKIPGRAM["epochs"], dim: int = SKIPGRAM["dim"]
) -> dict[str, Any]:
    """Skip-gram with negative sampling on the docstring corpus with planted twins; twin retrieval beside random
    vectors of the same shape."""
    from recur_text.data.docstrings import docstring_corpus
    from recur_text.data.word_corpus import EncodedCorpus, Vocabulary, choose_twin_words, plant_twins
    from recur_text.embedding_eval import twin_retrieval
    from recur_text.models.word2vec import Word2Vec, train_word2vec

    start = time.perf_counter()
    corpus = docstring_corpus(sources)
    documents = [corpus.tokens[i] for i in corpus.embedding_documents()]
    twins = choose_twin_words(documents)
    documents = plant_twins(documents, twins)
    vocabulary = Vocabulary.build(documents, 5)
    encoded = EncodedCorpus.encode(documents, vocabulary)
    corpus_seconds = time.perf_counter() - start
    model = Word2Vec(len(vocabulary), dim, "skipgram", seed=0)
    stats = train_word2vec(model, encoded, epochs=epochs, seed=0)
    scores = twin_retrieval(model.vectors(), vocabulary, twins)
    random_vectors = torch.randn(len(vocabulary), dim, generator=torch.Generator().manual_seed(0))
    chance = twin_retrieval(random_vectors, vocabulary, twins)
    return {
        "twin_mrr": scores["twin_mrr"],
        "twin_top10": scores["twin_top10"],
        "random_mrr": chance["twin_mrr"],
        "random_top10": chance["twin_top10"],
        "pairs": int(scores["twin_pairs"]),
        "tokens": sum(len(d) for d in documents),
        "vocabulary": len(vocabulary),
        "corpus_seconds": corpus_seconds,
        "train_seconds": stats["seconds"],
    }


def run_memory_demo(
    facts: int = MEMORY["facts"], steps: tuple[int, ...] = MEMORY["steps"], out: Path | None = None
) -> dict[str, Any]:
    """RecurrentGPT's loop with the scripted writer: facts planted in the first steps, probed after ``steps``
    more, with the long-term memory (top 2 retrieved paragraphs) and without it (short-term memory only)."""
    import tempfile

    from recur_text.data.stories import COLOURS, NAMES, OBJECTS, fact_sentence, recall_prefix
    from recur_text.generators import ScriptedGenerator
    from recur_text.recurrent_gpt import RecurrentGPT

    rng = random.Random(0)
    planted = list(zip(rng.sample(NAMES, facts), rng.sample(OBJECTS, facts), rng.sample(COLOURS, facts)))
    folder = Path(tempfile.mkdtemp()) / "state" if out is None else out / "memory"
    if folder.exists():
        shutil.rmtree(folder)
    loop = RecurrentGPT.create(folder, "A long story about friends and their things.", ScriptedGenerator(), top_k=2)
    for fact in planted:
        loop.state = replace(loop.state, plan=fact_sentence(*fact))
        loop.step()
    recall: dict[int, dict[str, float]] = {}
    done = 0
    for n in steps:
        loop.run(n - done)
        done = n
        correct, hits = {2: 0, 0: 0}, 0
        for name, obj, colour in planted:
            query = recall_prefix(name, obj)
            for top_k in correct:
                loop.state = replace(loop.state, top_k=top_k)
                if top_k:
                    retrieved = loop.step_input(plan=query).retrieved
                    hits += any(fact_sentence(name, obj, colour) in text for text in retrieved)
                output, _ = loop.propose(plan=query)
                answer = output.paragraph[len(query) :].split()[:1]
                correct[top_k] += bool(answer) and answer[0].strip(".,") == colour
        loop.state = replace(loop.state, top_k=2)
        recall[n] = {"with": correct[2] / facts, "without": correct[0] / facts, "retrieved": hits / facts}
    return {
        "recall": recall,
        "facts": facts,
        "chance": 1 / len(COLOURS),
        "paragraphs": facts + steps[-1],
        "folder": folder,
        "files": sorted(p.name for p in folder.iterdir()),
    }


PARTS = ("meters", "seq2seq", "pointer", "proteins", "skipgram", "memory")


def run_demo(out: Path | None = None, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    """The chosen parts of :data:`PARTS`, each ``{name: results}``; figures and memory files under ``out``."""
    runners = {
        "meters": lambda: run_meters_demo(out=out),
        "seq2seq": run_seq2seq_demo,
        "pointer": run_pointer_demo,
        "proteins": run_protein_demo,
        "skipgram": run_skipgram_demo,
        "memory": lambda: run_memory_demo(out=out),
    }
    results = {}
    for part in parts:
        results[part] = runners[part]()
        PRINTERS[part](results[part])
    return results


def _print_meters(r: dict[str, Any]) -> None:
    print(
        f"1. Poem meters: BiGRU on generated English verses (4 meters, {r['train_verses']} train, "
        f"{r['test_verses']} test, fit {r['fit_seconds']:.0f} s)"
    )
    print(f"   accuracy {r['accuracy']:.3f} (macro {r['macro_accuracy']:.3f}) | majority class {r['majority']:.3f}")
    if r["figure"] is not None:
        print(f"   figure: {r['figure']}")


def _print_seq2seq(r: dict[str, Any]) -> None:
    print(
        f"\n2. Seq2seq: LSTM encoder-decoder, source reversed, on the SVO->SOV grammar ({r['train_sentences']} "
        f"train sentences, fit {r['fit_seconds']:.0f} s; {r['test_sentences']} test)"
    )
    print(f"   {'':<22} {'BLEU':>6} {'exact':>6}")
    for label, key in (("greedy", ""), ("beam 4", "_beam"), ("monotone baseline", "_monotone")):
        print(f"   {label:<22} {r['bleu' + key]:>6.1f} {r['exact' + key]:>6.3f}")


def _print_pointer(r: dict[str, Any]) -> None:
    lo, hi = r["sizes"]
    print(
        f"\n3. Pointer network: convex hulls of {lo}-{hi} points ({r['train_sets']} train sets, fit "
        f"{r['fit_seconds']:.0f} s; {r['test_sets']} test)"
    )
    print(f"   {'':<32} {'exact':>6} {'area':>6}")
    print(f"   {'pointer network (greedy)':<32} {r['exact']:>6.3f} {r['coverage']:>6.3f}")
    print(f"   {'extreme points (Akl-Toussaint)':<32} {r['exact_baseline']:>6.3f} {r['coverage_baseline']:>6.3f}")


def _print_proteins(r: dict[str, Any]) -> None:
    print(
        f"\n4. QTN: RNN-inspired quantum circuit ({r['params']} parameters) on generated proteins "
        f"({r['train_sequences']} train, {r['test_sequences']} test, fit {r['fit_seconds']:.0f} s)"
    )
    print(f"   accuracy {r['accuracy']:.3f} (AUROC {r['auroc']:.3f}) | majority class {r['majority']:.3f}")


def _print_skipgram(r: dict[str, Any]) -> None:
    print(
        f"\n5. Skip-gram: {r['tokens']} tokens of standard-library docstrings, {r['vocabulary']} words "
        f"(corpus {r['corpus_seconds']:.0f} s, training {r['train_seconds']:.0f} s)"
    )
    print(
        f"   planted twins ({r['pairs']} pairs): MRR {r['twin_mrr']:.3f}, top-10 {r['twin_top10']:.3f} | "
        f"random vectors MRR {r['random_mrr']:.3f}, top-10 {r['random_top10']:.3f}"
    )


def _print_memory(r: dict[str, Any]) -> None:
    print(f"\n6. RecurrentGPT loop, scripted writer: {r['facts']} facts planted in the first steps, then queried")
    for n, recall in r["recall"].items():
        print(
            f"   after {n:>3} more steps: recall with long-term memory {recall['with']:.2f} | "
            f"short-term only {recall['without']:.2f} (chance {r['chance']:.2f}); the fact's paragraph "
            f"retrieved for {recall['retrieved']:.2f} of the queries"
        )
    print(f"   memory on disk: {r['folder']} ({', '.join(r['files'])})")


PRINTERS = {
    "meters": _print_meters,
    "seq2seq": _print_seq2seq,
    "pointer": _print_pointer,
    "proteins": _print_proteins,
    "skipgram": _print_skipgram,
    "memory": _print_memory,
}


def main() -> dict[str, Any]:
    """Run every part, printing each one's scores as it ends; returns :func:`run_demo`'s results."""
    out = Path(os.environ.get("RECUR_RUNS", "runs")) / "demo" / "text"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(lightning|torchdata)\.")
        results = run_demo(out)
    print(f"\n(demo: {time.perf_counter() - start:.0f} s)")
    return results
