"""The generated translation tasks: the grammar's reordering and agreement, copy/reverse, determinism."""

import pytest
import torch

from recur_text.data.translation import generate_copy_reverse, generate_grammar


def test_grammar_reorders_svo_to_sov_with_agreement():
    data = generate_grammar(400, seed=3, split="train")
    sources, targets = data.detokenize(data.src, "src"), data.detokenize(data.tgt)
    assert torch.equal((data.tgt != 0).sum(1), data.tgt_lengths) and torch.equal(
        (data.src != 0).sum(1), data.src_lengths
    )
    for source, target in zip(sources, targets):
        s, t = source.split(), target.split()
        # the subject agrees with the verb (the second word after the subject noun phrase)
        verb_index = next(i for i, w in enumerate(s) if w in ("sees", "see", "likes", "like", "follows", "follow",
                                                              "helps", "help", "finds", "find", "calls", "call",
                                                              "watches", "watch", "feeds", "feed"))  # fmt: skip
        subject_plural = s[verb_index - 1].endswith(("s", "children")) and s[verb_index - 1] != "boss"
        assert t[-1] == ("mu" if subject_plural else "mi")
        assert t[-3] == "o"  # the object marker before the verb
        assert len([w for w in t if w not in ("ta", "o", "mu", "mi")]) == len(s)


def test_grammar_monotone_baseline_has_the_right_words_in_the_wrong_order():
    data = generate_grammar(200, seed=0, split="test")
    baseline = data.detokenize(data.monotone(data.src, data.src_lengths))
    references = data.detokenize(data.tgt)
    assert sum(b == r for b, r in zip(baseline, references)) == 0
    for b, r in zip(baseline, references):
        assert sorted(b.split()) == sorted(w for w in r.split() if w != "o")


def test_copy_reverse_targets_and_lengths():
    data = generate_copy_reverse(50, seed=1, lengths=(3, 9), num_words=7, mode="reverse")
    for s, t in zip(data.detokenize(data.src, "src"), data.detokenize(data.tgt)):
        assert t.split() == s.split()[::-1] and 3 <= len(s.split()) <= 9
    copy = generate_copy_reverse(50, seed=1, lengths=(3, 9), num_words=7, mode="copy")
    assert copy.detokenize(copy.src, "src") == copy.detokenize(copy.tgt)
    assert copy.detokenize(copy.monotone(copy.src, copy.src_lengths)) == copy.detokenize(copy.tgt)


def test_generation_is_deterministic_and_splits_differ():
    a, b = generate_grammar(64, seed=5, split="val"), generate_grammar(64, seed=5, split="val")
    assert torch.equal(a.src, b.src) and torch.equal(a.tgt, b.tgt)
    assert not torch.equal(generate_grammar(64, seed=5, split="test").src[:, :5], a.src[:, :5])


def test_bad_generator_options_are_errors():
    with pytest.raises(ValueError, match="num_samples must be at least 1"):
        generate_grammar(0)
    with pytest.raises(ValueError, match="lengths must be an inclusive range"):
        generate_copy_reverse(4, lengths=(5, 2))
    with pytest.raises(ValueError, match="mode must be"):
        generate_copy_reverse(4, mode="shuffle")
    with pytest.raises(ValueError, match="split must be one of"):
        generate_grammar(4, split="dev")
