"""The RecurrentGPT loop: labelled-section parsing, retrieval, atomic on-disk memories, resume, editing, CLI."""

import json
import os
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from recur_text import recurrent_gpt as rgp
from recur_text.generators import ScriptedGenerator
from recur_text.recurrent_gpt import (
    HashedNgramEmbedder,
    MalformedOutput,
    RecurrentGPT,
    StepOutput,
    StoryState,
    WordVectorEmbedder,
    atomic_write,
    format_output,
    parse_output,
    retrieve,
)


def files(folder):
    """Every file under ``folder`` (relative path -> bytes), temporary files included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def new_loop(folder, generator=None, steps=0, top_k=2):
    loop = RecurrentGPT.create(
        folder, "Mia and her friends.", generator or ScriptedGenerator(), "Mia has a red kite.", top_k
    )
    loop.run(steps)
    return loop


# --- parsing -------------------------------------------------------------------------------------------------


def test_parse_reads_the_three_sections_and_round_trips_format():
    output = StepOutput("Mia has a red kite. She runs.", "Mia owns a red kite.", ("Go to the hill.", "Rain starts."))
    assert parse_output(format_output(output)) == output
    text = (
        "Sure!\n**Output Paragraph:**\nA paragraph.\n\n## Output Memory:\nRational: drop x.\nUpdated Memory: kept.\n"
        "Output Instruction:\nInstruction 1: one\ncontinued.\nInstruction 2: two\nInstruction 3: three\n"
    )
    parsed = parse_output(text)
    assert parsed.paragraph == "A paragraph." and parsed.short_memory == "kept."
    assert parsed.plans == ("one continued.", "two", "three")


@pytest.mark.parametrize(
    "text, message",
    [
        ("just prose, no sections", "no 'Output Paragraph:' section"),
        ("Output Paragraph: p\nOutput Instruction: i", "no 'Output Memory:' section"),
        ("Output Paragraph:\n\nOutput Memory: m\nOutput Instruction: i", "empty 'Output Paragraph:'"),
        ("Output Paragraph: p\nOutput Memory: Updated Memory:\nOutput Instruction: i", "empty 'Updated Memory:'"),
        (
            "Output Paragraph: p\nOutput Paragraph: q\nOutput Memory: m\nOutput Instruction: i",
            "two 'Output Paragraph:'",
        ),
    ],
)
def test_parse_errors_are_one_line(text, message):
    with pytest.raises(MalformedOutput, match=message) as err:
        parse_output(text)
    assert "\n" not in str(err.value)


# --- embeddings and retrieval --------------------------------------------------------------------------------


def test_hashed_embedder_is_deterministic_normalised_and_topical():
    embed = HashedNgramEmbedder(dim=256)
    texts = ["Mia has a red kite.", "Tom walks to the river.", "Mia's kite is", ""]
    vectors = embed(texts)
    assert vectors.shape == (4, 256) and vectors.dtype == torch.float32
    torch.testing.assert_close(vectors, HashedNgramEmbedder(dim=256)(texts))
    torch.testing.assert_close(vectors[:3].norm(dim=1), torch.ones(3))
    assert vectors[3].abs().sum() == 0
    # the query shares 'mia' and 'kite' with the fact, nothing with the filler
    assert vectors[2] @ vectors[0] > vectors[2] @ vectors[1]


def test_retrieval_orders_by_cosine_and_ties_by_position():
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
    index, scores = retrieve(torch.tensor([1.0, 0.0]), keys, 3)
    assert index.tolist() == [0, 2, 3]  # rows 0 and 2 tie at 1.0 (scale does not matter): earlier first
    torch.testing.assert_close(scores, torch.tensor([1.0, 1.0, 2**-0.5]))
    assert retrieve(torch.tensor([1.0, 0.0]), keys, 10)[0].tolist() == [0, 2, 3, 1, 4]
    assert retrieve(torch.tensor([1.0, 0.0]), keys, 0)[0].numel() == 0
    assert retrieve(torch.tensor([1.0, 0.0]), keys[:0], 2)[0].numel() == 0


def test_the_loop_retrieves_the_planted_fact_for_a_query(tmp_path):
    loop = new_loop(tmp_path / "s", steps=8)
    assert loop.state.long_memory[0].text.startswith("Mia has a red kite.")
    assert "red kite" not in loop.state.short_memory  # fell out of the short-term memory
    inputs = loop.step_input(plan="Mia's kite is")
    assert inputs.retrieved[0].startswith("Mia has a red kite.") and len(inputs.retrieved) == 2
    output, _ = loop.propose(plan="Mia's kite is")
    assert output.paragraph == "Mia's kite is red."
    # without the long-term memory, the scripted writer cannot know
    blind = new_loop(tmp_path / "blind", steps=8, top_k=0)
    assert blind.step_input(plan="Mia's kite is").retrieved == ()
    assert blind.propose(plan="Mia's kite is")[0].paragraph == "Mia's kite is unknown."


# --- on disk: atomic writes, resume ------------------------------------------------------------------------


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "a" / "f.json"
    atomic_write(path, "old")
    assert path.read_text() == "old"

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(rgp.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, "new")
    assert path.read_text() == "old" and [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_the_state_folder_is_readable_json_and_a_fresh_open_continues(tmp_path):
    folder = tmp_path / "s"
    loop = new_loop(folder, steps=3)
    state = json.loads((folder / "state.json").read_text())
    assert state["step"] == 3 and len(state["paragraphs"]) == 3 and len(state["long_memory"]) == 2
    assert (folder / "story.md").read_text().count("\n\n") >= 3
    assert sorted(p.name for p in (folder / "responses").iterdir()) == [f"step_000{i}.txt" for i in (1, 2, 3)]
    again = RecurrentGPT.open(folder, ScriptedGenerator())
    assert again.state == loop.state
    with pytest.raises(FileExistsError, match="already holds a generation"):
        new_loop(folder)


class FailAt:
    """The scripted writer, raising at its ``at``-th call (a crash in the middle of a step)."""

    def __init__(self, at):
        self.inner, self.calls, self.at = ScriptedGenerator(), 0, at

    def __call__(self, step):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt("killed mid-step")
        return self.inner(step)


def test_a_crash_mid_step_keeps_the_last_step_and_resuming_equals_an_unbroken_run(tmp_path):
    reference = new_loop(tmp_path / "ref", steps=7)
    folder = tmp_path / "s"
    loop = new_loop(folder, FailAt(5))
    with pytest.raises(KeyboardInterrupt):
        loop.run(7)
    assert json.loads((folder / "state.json").read_text())["step"] == 4
    before = files(folder)
    resumed = RecurrentGPT.open(folder, ScriptedGenerator())
    assert resumed.state.step == 4 and files(folder) == before
    resumed.run(3)
    assert resumed.state == reference.state
    assert files(folder) == files(tmp_path / "ref")


def test_a_crash_between_the_embeddings_and_the_state_loses_nothing(tmp_path, monkeypatch):
    reference = new_loop(tmp_path / "ref", steps=5)
    folder = tmp_path / "s"
    loop = new_loop(folder, steps=3)
    real = rgp.atomic_write

    def dies_at_state(path, data):
        if path.name == "state.json":
            raise KeyboardInterrupt("killed between the two writes")
        return real(path, data)

    monkeypatch.setattr(rgp, "atomic_write", dies_at_state)
    with pytest.raises(KeyboardInterrupt):
        loop.step()
    monkeypatch.setattr(rgp, "atomic_write", real)
    resumed = RecurrentGPT.open(folder, ScriptedGenerator())
    assert resumed.state.step == 3  # the embeddings cache got ahead; the state did not
    resumed.run(2)
    assert resumed.state == reference.state
    assert not [p for p in folder.rglob("*.tmp")]


def test_an_edited_memory_is_embedded_again(tmp_path):
    folder = tmp_path / "s"
    new_loop(folder, steps=6)
    state = json.loads((folder / "state.json").read_text())
    state["long_memory"][0]["text"] = "Mia has a blue kite."
    (folder / "state.json").write_text(json.dumps(state))
    loop = RecurrentGPT.open(folder, ScriptedGenerator())
    assert loop.propose(plan="Mia's kite is")[0].paragraph == "Mia's kite is blue."
    loop.step()
    loop.memory.vectors([e.text for e in loop.state.long_memory])
    reread = rgp.LongTermMemory(loop.embedder, folder / "embeddings.npz")
    assert set(reread._cache) == {rgp._digest(e.text) for e in loop.state.long_memory}


def test_an_embedding_cache_of_another_embedder_is_ignored(tmp_path):
    folder = tmp_path / "s"
    new_loop(folder, steps=4)
    loop = RecurrentGPT.open(folder, ScriptedGenerator(), embedder=HashedNgramEmbedder(dim=64))
    assert loop.memory._cache == {}
    assert len(loop.step_input(plan="Mia's kite is").retrieved) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: "{not json", "not valid JSON"),
        (lambda s: json.dumps({**s, "step": 9}), "step is 9 but 2 paragraphs"),
        (lambda s: json.dumps({k: v for k, v in s.items() if k != "plan"}), "missing plan"),
        (lambda s: json.dumps({**s, "colour": 1}), "unknown field"),
        (lambda s: json.dumps({**s, "long_memory": [{"text": "x"}]}), "long_memory must be"),
    ],
)
def test_a_broken_state_file_is_one_line(tmp_path, change, message):
    folder = tmp_path / "s"
    new_loop(folder, steps=2)
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(change(state))
    with pytest.raises(ValueError, match=message) as err:
        RecurrentGPT.open(folder, ScriptedGenerator())
    assert "\n" not in str(err.value)


# --- human in the loop ---------------------------------------------------------------------------------------


def test_the_edit_hook_changes_what_is_committed(tmp_path):
    seen = []

    def edit(output, state):
        seen.append(state.step)
        return replace(output, plans=("Tom has a green boat.", *output.plans))

    loop = RecurrentGPT.create(tmp_path / "s", "A story.", ScriptedGenerator(), "Mia has a red kite.", edit=edit)
    loop.run(2)
    assert seen == [0, 1]
    assert loop.state.paragraphs[1].startswith("Tom has a green boat.")
    with pytest.raises(ValueError, match="no paragraph or no plan"):
        RecurrentGPT.open(tmp_path / "s", ScriptedGenerator(), edit=lambda o, s: replace(o, plans=())).step()
    assert RecurrentGPT.open(tmp_path / "s", ScriptedGenerator()).state.step == 2


def test_cli_generate_resume_edit_and_show(tmp_path, capsys):
    folder = tmp_path / "s"
    args = ["generate", "--state", str(folder), "--backend", "scripted"]
    assert rgp.main([*args, "--premise", "Mia's day.", "--plan", "Mia has a red kite.", "--steps", "2"]) == 0
    assert rgp.main([*args, "--steps", "1"]) == 0
    assert json.loads((folder / "state.json").read_text())["step"] == 3
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import json, sys\np = sys.argv[1]\ns = json.load(open(p))\ns['plan'] = 'Tom has a blue hat.'\n"
        "json.dump(s, open(p, 'w'))\n"
    )
    assert rgp.main([*args, "--steps", "1", "--edit", "--editor", f"{sys.executable} {editor}"]) == 0
    assert rgp.main([*args, "--steps", "1"]) == 0
    state = json.loads((folder / "state.json").read_text())
    assert state["paragraphs"][4].startswith("Tom has a blue hat.") and not (folder / "state.edit.json").exists()
    assert rgp.main(["show", "--state", str(folder)]) == 0
    assert "step 5; long-term memory 4 entries" in capsys.readouterr().out


def test_cli_mistakes_are_one_line(tmp_path, capsys):
    cases = [
        (["generate", "--state", str(tmp_path / "none"), "--backend", "scripted"], "no generation there"),
        (["generate", "--state", str(tmp_path / "x"), "--premise", "p", "--backend", "openai"], "needs --base_url"),
        (["generate", "--state", str(tmp_path / "y"), "--premise", "p", "--backend", "local"], "needs --checkpoint"),
        (["generate", "--state", str(tmp_path / "z"), "--premise", " ", "--backend", "scripted"], "premise is empty"),
    ]
    for argv, message in cases:
        assert rgp.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("recur-text generate: error:") and message in err and "\n" not in err
    assert not os.path.exists(tmp_path / "x" / "state.json")


def test_state_round_trips_through_json():
    state = StoryState(
        premise="p", plan="q", step=1, paragraph="a", paragraphs=["a"], long_memory=[rgp.MemoryEntry(0, "z")]
    )
    assert StoryState.from_json(state.to_json()) == state


# --- the package's own word vectors as the long-term memory's embedding ------------------------------------


def word_vector_embedder(token_lists, dim=16):
    from recur_text.data.word_corpus import Vocabulary

    vocabulary = Vocabulary.build(token_lists, min_count=1)
    vectors = torch.randn(len(vocabulary), dim, generator=torch.Generator().manual_seed(0))
    return WordVectorEmbedder(vectors, vocabulary, label="test"), vocabulary


def test_word_vectors_embed_texts_by_their_rare_words():
    # "mia" is in every sentence (frequent), "kite" and "drum" once each (rare)
    embedder, vocabulary = word_vector_embedder([["mia", "kite"], ["mia", "drum"]] + [["mia", "runs"]] * 20)
    out = embedder(["Mia's kite.", "kite, Mia", "Mia's drum.", "nothing known here"])
    assert out.shape == (4, 16) and torch.allclose(out[:3].norm(dim=1), torch.ones(3))
    assert torch.allclose(out[0], out[1])  # the same words in another order and case
    assert out[3].abs().max() == 0  # no word of the vocabulary: the zero vector
    kite = embedder(["kite"])[0]
    assert kite @ out[0] > 0.99 and kite @ out[2] < 0.9  # "mia" weighs little beside the rare word
    with pytest.raises(ValueError, match="one row per vocabulary word"):
        WordVectorEmbedder(torch.zeros(3, 4), vocabulary, label="x")


def test_the_loop_runs_and_caches_with_word_vectors(tmp_path):
    embedder, _ = word_vector_embedder(
        [["mia", "has", "a", "red", "kite"], ["mia", "takes", "the", "kite", "to", "hill"]]
    )
    loop = RecurrentGPT.create(
        tmp_path / "s", "Mia and her friends.", ScriptedGenerator(), "Mia has a red kite.", 2, embedder=embedder
    )
    loop.run(4)
    assert loop.state.step == 4
    again = RecurrentGPT.open(tmp_path / "s", ScriptedGenerator(), embedder=embedder)
    again.run(1)
    assert again.state.step == 5 and again.step_input(plan="Mia's kite is").retrieved


def test_word_vectors_save_and_load_round_trip(tmp_path):
    embedder, _ = word_vector_embedder([["mia", "kite"], ["mia", "drum"], ["tom", "boat"]])
    path = embedder.save(tmp_path / "vectors.pt")
    again = WordVectorEmbedder.load(path)
    assert again.name == embedder.name and again.index == embedder.index
    texts = ["Mia's kite.", "Tom's boat", "nothing known"]
    assert torch.equal(again(texts), embedder(texts))
    with pytest.raises(FileNotFoundError, match=r"do not exist; write them with .*--vectors stories"):
        WordVectorEmbedder.load(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a word-vector file"):
        WordVectorEmbedder.load(tmp_path / "bad.pt")


def test_story_word_vectors_are_trained_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = WordVectorEmbedder.from_stories(dim=8, stories=40, epochs=1)
    assert "skipgram on 40 generated stories" in first.name and first.vectors.shape[1] == 8
    assert {"mia", "kite", "red"} <= set(first.index)
    (written,) = (tmp_path / "cache").rglob("vectors.pt")
    stamp = written.stat().st_mtime_ns
    again = WordVectorEmbedder.from_stories(dim=8, stories=40, epochs=1)
    assert written.stat().st_mtime_ns == stamp and torch.equal(again.vectors, first.vectors)


def test_cli_chooses_the_embedder(tmp_path, capsys):
    embedder, _ = word_vector_embedder([["mia", "has", "a", "red", "kite"], ["tom", "takes", "the", "boat"]])
    vectors = embedder.save(tmp_path / "vectors.pt")
    folder = tmp_path / "s"
    args = ["generate", "--state", str(folder), "--backend", "scripted"]
    word_vectors = ["--embedder", "word_vectors", "--vectors", str(vectors)]
    assert (
        rgp.main([*args, *word_vectors, "--premise", "Mia's day.", "--plan", "Mia has a red kite.", "--steps", "3"])
        == 0
    )
    with np.load(folder / "embeddings.npz") as cache:
        assert str(cache["embedder"]) == embedder.name
    # resumed with the default (hashed) embedder: the memory is embedded again under the new name
    assert rgp.main([*args, "--steps", "1"]) == 0
    with np.load(folder / "embeddings.npz") as cache:
        assert str(cache["embedder"]) == HashedNgramEmbedder().name
    capsys.readouterr()
    assert rgp.main([*args, "--embedder", "word_vectors", "--vectors", str(tmp_path / "none.pt"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("recur-text generate: error: word vectors") and "none.pt do not exist" in err
    assert "\n" not in err and json.loads((folder / "state.json").read_text())["step"] == 4
