"""``recur demo speech``: each part on a tiny corpus (numbers finite and in range, the stream decodes what offline
greedy decodes, the baselines are what they are by construction), and the whole demo (slow)."""

import math
from importlib.metadata import entry_points

import pytest

from recur_speech.demo import (
    main,
    recognition_data,
    run_recognition_demo,
    run_separation_demo,
    separation_data,
    stream_utterance,
    write_corpus,
    write_mixtures,
)

TINY = {"train-clean-100": 24, "dev-clean": 2, "test-clean": 4}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The generated corpus and mixtures go to a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RECUR_DATA", raising=False)
    return tmp_path / "cache"


def test_the_demo_is_registered_for_recur_demo():
    [demo] = entry_points(group="recur.demos", name="speech")
    assert demo.value == "recur_speech.demo:main"


def test_the_corpus_is_written_once_then_reused(cache):
    written = write_corpus(recognition_data(TINY))
    assert written["folder"].is_relative_to(cache) and not written["reused"]
    reused = write_corpus(recognition_data(TINY))
    assert reused["folder"] == written["folder"] and reused["reused"]


def test_recognition_then_streaming_on_a_tiny_corpus(cache, one_thread):
    data = recognition_data(TINY, batch_size=8)
    assert data.corpus_folder.is_relative_to(cache)
    module, scores = run_recognition_demo(data, epochs=1)
    for name in ("wer", "cer", "wer_beam", "cer_beam", "wer_frequent", "cer_frequent"):
        assert math.isfinite(scores[f"test/{name}"]) and scores[f"test/{name}"] >= 0, name
    # the blank decoder deletes every word and character
    assert scores["test/wer_blank"] == 1.0 and scores["test/cer_blank"] == 1.0
    assert scores["fit_seconds"] > 0 and not module.training

    stream = stream_utterance(module, data, index=1, chunk_frames=4)
    assert stream["reference"] == data.dataset("test")[1]["text"]
    # streaming greedy through the encoder's step decodes what offline greedy decodes
    assert stream["streamed"] == stream["offline"]
    heard = [seconds for seconds, _ in stream["partials"]]
    assert heard == sorted(heard) and all(0 < s <= stream["seconds"] + 1e-9 for s in heard)
    if stream["partials"]:
        assert stream["partials"][-1][1] == stream["streamed"]


def test_separation_scores_mossformer2_beside_its_ablation_on_dry_mixtures(cache, one_thread):
    data = separation_data(mixtures=(6, 2, 2), utterances=(16, 2, 4))
    written = write_mixtures(data)
    assert written["folder"].is_relative_to(cache) and not written["reused"]
    # the recipe's dry voices (no room), read back by the LibriMix reader the recipe uses
    assert not data.room and len(data.read_split("test")) == 2
    assert write_mixtures(separation_data(mixtures=(6, 2, 2), utterances=(16, 2, 4)))["reused"]
    results = run_separation_demo(data, epochs=1)
    assert set(results) == {"MossFormer2", "MossFormer only"}
    for scores in results.values():
        for name in ("test/si_snri", "test/si_snr", "test/sdri"):
            assert math.isfinite(scores[name]), (name, scores)
        assert scores["fit_seconds"] > 0


@pytest.mark.slow
def test_the_demo_prints_every_part_and_the_rnnt_beats_its_baselines(cache, capsys):
    results = main()
    out = capsys.readouterr().out
    rows = ("greedy ", "beam search k=4 ", "blank (deletes every word) ", "most frequent transcript ", "reference ")
    rows += ("streamed ", "MossFormer2 ", "MossFormer only ")
    for row in rows:
        assert f"\n{row}" in out, row
    assert "written in" in out and not results["corpus"]["reused"]
    assert not results["separation"]["mixtures"]["reused"]
    scores = results["recognition"]
    assert scores["test/wer"] < 0.5 * min(scores["test/wer_blank"], scores["test/wer_frequent"]), scores
    assert results["stream"]["streamed"] == results["stream"]["offline"]
