"""The embedded docstring corpus and the word-level helpers built on it."""

import numpy as np
import pytest

from recur_text.data.docstrings import (
    TOPIC_PACKAGES,
    docstring_corpus,
    extract_documents,
    swap_adjacent_words,
    tokenize,
)
from recur_text.data.word_corpus import (
    TWIN_SUFFIX,
    EncodedCorpus,
    Vocabulary,
    analogy_questions,
    choose_twin_words,
    plant_twins,
)


def test_tokenize_keeps_words_and_drops_doctest_lines():
    text = "Return the os.path_join2 of X.\n>>> join('a', 'b')\n... more\nIt doesn't fail."
    assert tokenize(text) == ["return", "the", "os", "path", "join", "of", "x", "it", "doesn't", "fail"]


def test_stdlib_corpus_is_deterministic_and_keeps_evaluation_text_out(tmp_path):
    corpus = docstring_corpus(("stdlib", "pydoc_topics"), folder=tmp_path / "c")
    again = docstring_corpus(("stdlib", "pydoc_topics"), folder=tmp_path / "c")
    assert corpus.labelled == again.labelled and corpus.classes == TOPIC_PACKAGES
    texts = [d.text for d in corpus.documents]
    assert len(set(texts)) == len(texts)
    sizes = {split: len(corpus.labelled[split]) for split in ("train", "val", "test")}
    assert sizes["train"] > 2000 and sizes["test"] > 500 and sizes["val"] > 250
    held = set(corpus.labelled["val"]) | set(corpus.labelled["test"])
    assert held.isdisjoint(corpus.embedding_documents())
    for split in ("train", "test"):
        for i, label in zip(corpus.labelled[split], corpus.labels[split]):
            document = corpus.documents[i]
            assert document.source == "stdlib" and document.package == corpus.classes[label]
            assert len(corpus.tokens[i]) >= 8
    assert any(d.source == "pydoc_topics" for d in corpus.documents)
    # every labelled class is in every split
    assert all(set(corpus.labels[s]) == set(range(len(TOPIC_PACKAGES))) for s in ("train", "val", "test"))


def test_module_names_and_bad_sources(tmp_path):
    topics = extract_documents("pydoc_topics")
    assert all(d.module == "topics" for d in topics) and len(topics) > 50
    with pytest.raises(ValueError, match="unknown corpus source 'wiki'"):
        extract_documents("wiki")
    with pytest.raises(ValueError, match="includes 'stdlib'"):
        docstring_corpus(("numpy",), folder=tmp_path / "x")


def test_vocabulary_and_encoding():
    sentences = [["b", "a", "b", "c"], ["a", "b", "z"], []]
    vocabulary = Vocabulary.build(sentences, 2)
    assert vocabulary.words == ("b", "a") and vocabulary.counts.tolist() == [3, 2]
    corpus = EncodedCorpus.encode(sentences, vocabulary, max_sentence=2)
    # pieces of at most 2 ids: [b a] [b] | [a b]; the empty list makes no sentence
    assert corpus.ids.tolist() == [0, 1, 0, 1, 0] and corpus.offsets.tolist() == [0, 2, 3, 5]
    assert corpus.documents.tolist() == [0, 0, 1] and corpus.document_ids.tolist() == [0, 0, 0, 1, 1]
    assert corpus.sentences() == [["b", "a"], ["b"], ["a", "b"]]
    with pytest.raises(ValueError, match="lower min_count"):
        Vocabulary.build(sentences, 10)


def test_twins_replace_every_second_occurrence():
    sentences = [["x", "y", "x"], ["x", "y", "y", "x"]]
    planted = plant_twins(sentences, ["x", "y"])
    t = TWIN_SUFFIX
    assert planted == [["x", "y", "x" + t], ["x", "y" + t, "y", "x" + t]]
    assert sentences[0] == ["x", "y", "x"]
    words = choose_twin_words([["aaa"] * 30 + ["bbb"] * 25 + ["ccc"] * 300], count=2, min_count=20, max_count=200)
    assert words == ["aaa", "bbb"]
    with pytest.raises(ValueError, match="ask for fewer twins"):
        choose_twin_words([["aaa"] * 30], count=2)


def test_analogy_questions_pair_inflections_of_the_vocabulary():
    words = ["return", "returns", "returned", "returning", "raise", "raises", "raised", "raising", "call", "calls"]
    vocabulary = Vocabulary(tuple(words), np.full(len(words), 50))
    questions = analogy_questions(vocabulary, min_count=20)
    relations = {q[0] for q in questions}
    assert relations == {"plural/3rd person -s", "past -ed", "gerund -ing"}
    assert ("past -ed", "return", "returned", "raise", "raised") in questions
    assert ("gerund -ing", "raise", "raising", "return", "returning") in questions
    plural = [q for q in questions if q[0] == "plural/3rd person -s"]
    assert len(plural) == 6  # 3 pairs, ordered pairs of distinct pairs


def test_swap_adjacent_words_moves_each_word_at_most_one_place_and_repeats():
    words = [f"w{i}" for i in range(40)]
    swapped = swap_adjacent_words(words, 0.1, "email.message:Message")
    assert swapped == swap_adjacent_words(words, 0.1, "email.message:Message")
    assert swapped != swap_adjacent_words(words, 0.1, "other:key") and sorted(swapped) == sorted(words)
    moved = [abs(swapped.index(w) - i) for i, w in enumerate(words)]
    assert max(moved) == 1 and sum(moved) == 2 * 4  # round(0.1 * 40) pairs, two words each
    # at least one pair, only between different neighbours; nothing to swap leaves the words as they are
    assert swap_adjacent_words(["a", "a", "b"], 0.01, "k") == ["a", "b", "a"]
    assert swap_adjacent_words(["a", "a", "a"], 0.5, "k") == ["a", "a", "a"]
    with pytest.raises(ValueError, match=r"rate must be in \(0, 0.5\]"):
        swap_adjacent_words(words, 0.0, "k")
