"""``recur demo text``: each part on a tiny setting (numbers in range, the baselines beside them, the memory files
on disk), the entry point, and the whole demo (slow)."""

import json
from importlib.metadata import entry_points

import pytest

from recur_text.demo import (
    PARTS,
    main,
    run_memory_demo,
    run_meters_demo,
    run_pointer_demo,
    run_protein_demo,
    run_seq2seq_demo,
    run_skipgram_demo,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The generated verses, proteins and docstring corpus go to a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_demo_is_registered():
    [demo] = entry_points(group="recur.demos", name="text")
    assert demo.value == "recur_text.demo:main" and demo.load() is main


def test_meters_part_scores_the_classifier_beside_the_majority_class(cache, tmp_path, one_thread):
    r = run_meters_demo(lines_per_meter=40, hidden_size=8, epochs=1, out=tmp_path)
    assert 0 <= r["accuracy"] <= 1 and 0 <= r["macro_accuracy"] <= 1 and 0 <= r["majority"] <= 1
    assert r["train_verses"] > r["test_verses"] > 0
    assert r["figure"] == tmp_path / "confusion_matrix.png" and r["figure"].is_file()


def test_seq2seq_part_scores_greedy_and_beam_beside_the_monotone_baseline(cache, one_thread):
    r = run_seq2seq_demo(num_train=64, num_test=8, d_model=16, epochs=1)
    for key in ("exact", "exact_beam", "exact_monotone"):
        assert 0 <= r[key] <= 1
    for key in ("bleu", "bleu_beam", "bleu_monotone"):
        assert 0 <= r[key] <= 100
    assert r["test_sentences"] == 8


def test_pointer_part_scores_hulls_beside_the_extreme_points_baseline(cache, one_thread):
    r = run_pointer_demo(sizes=(5, 6), num_train=64, num_test=8, d_model=16, epochs=1)
    for key in ("exact", "coverage", "exact_baseline", "coverage_baseline"):
        assert 0 <= r[key] <= 1, key
    # the extreme points lie on the hull: their polygon covers a good part of its area
    assert r["coverage_baseline"] > 0.3 and r["sizes"] == (5, 6)


def test_protein_part_reports_the_circuit_size_and_the_majority_class(cache, one_thread):
    r = run_protein_demo(num_sequences=60, epochs=1)
    assert 700 <= r["params"] <= 900
    assert 0 <= r["accuracy"] <= 1 and 0 <= r["auroc"] <= 1 and 0.5 <= r["majority"] <= 1
    assert r["train_sequences"] > r["test_sequences"] > 0


def test_skipgram_part_scores_the_planted_twins_beside_random_vectors(cache, one_thread):
    r = run_skipgram_demo(epochs=1, dim=8)
    assert r["pairs"] > 50 and r["vocabulary"] > 1000 and r["tokens"] > 100_000
    assert 0 < r["random_mrr"] < 0.05 and 0 < r["twin_mrr"] <= 1


def test_memory_part_recalls_with_the_long_term_memory_and_keeps_it_on_disk(tmp_path):
    r = run_memory_demo(facts=2, steps=(2, 4), out=tmp_path)
    assert set(r["recall"]) == {2, 4}
    # two steps after the facts they are still retrieved; the short-term memory alone has lost them
    assert r["recall"][2] == {"with": 1.0, "without": 0.0, "retrieved": 1.0}
    assert r["folder"] == tmp_path / "memory" and {"state.json", "embeddings.npz", "story.md"} <= set(r["files"])
    state = json.loads((r["folder"] / "state.json").read_text())
    assert len(state["long_memory"]) >= 2 + 4 - 1
    # a second run starts afresh in the same folder
    assert run_memory_demo(facts=2, steps=(2,), out=tmp_path)["recall"][2]["with"] == 1.0


@pytest.mark.slow
def test_the_demo_prints_every_part_and_beats_each_baseline(cache, runs_dir, capsys):
    results = main()
    out = capsys.readouterr().out
    assert set(results) == set(PARTS)
    for text in ("majority class", "monotone baseline", "extreme points", "random vectors", "short-term only"):
        assert text in out, text
    assert (runs_dir / "demo" / "text" / "confusion_matrix.png").is_file()
    assert (runs_dir / "demo" / "text" / "memory" / "state.json").is_file()
    assert results["meters"]["accuracy"] > results["meters"]["majority"] + 0.2
    assert results["seq2seq"]["bleu"] > results["seq2seq"]["bleu_monotone"]
    assert results["pointer"]["exact"] > results["pointer"]["exact_baseline"]
    assert results["proteins"]["accuracy"] > results["proteins"]["majority"]
    assert results["skipgram"]["twin_mrr"] > 5 * results["skipgram"]["random_mrr"]
    first = min(results["memory"]["recall"])
    assert results["memory"]["recall"][first]["with"] > results["memory"]["recall"][first]["without"]
