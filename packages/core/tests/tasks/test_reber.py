"""Embedded Reber grammar: strings parse, legal sets, the long dependency, length conditioning, errors, speed."""

import time
from collections import Counter

import pytest
import torch

from recur_core.tasks import IGNORE_INDEX, ReberData, generate_reber, greedy_accuracy, split_generator

SYMBOLS = "BTPSXVE"
# The inner Reber grammar, written out again: state -> {symbol: next state}; "end" closes it.
INNER = {
    0: {"B": 1},
    1: {"T": 2, "P": 3},
    2: {"S": 2, "X": 4},
    3: {"T": 3, "V": 5},
    4: {"X": 3, "S": 6},
    5: {"P": 4, "V": 6},
    6: {"E": "end"},
}


def _legal_sets(text):
    """The grammar's legal next symbols after each prefix of an embedded Reber string (and checks it parses)."""
    assert text[0] == "B" and text[1] in "TP" and text[-2] == text[1] and text[-1] == "E"
    # After B: T or P; after that: the inner string's B.
    sets = [{"T", "P"}, {"B"}]
    state = 0
    for symbol in text[2:-2]:
        assert symbol in INNER[state], f"{text}: {symbol} cannot follow state {state}"
        state = INNER[state][symbol]
        sets.append({text[1]} if state == "end" else set(INNER[state]))
    assert state == "end"
    return [*sets, {"E"}, set()]


def _text(inputs, length):
    return "".join(SYMBOLS[int(t) - 1] for t in inputs[:length])


def test_strings_parse_and_legal_masks_match_the_grammar():
    data = generate_reber(300, (9, 30), torch.Generator().manual_seed(0))
    for i in range(300):
        length = int(data.lengths[i])
        text = _text(data.inputs[i], length)
        assert len(text) == length
        legal = data[i]["legal"].tolist()
        expected = _legal_sets(text)
        assert len(expected) == length
        for t in range(length):
            assert {SYMBOLS[v - 1] for v in range(1, 8) if legal[t][v]} == expected[t], (text, t)
            assert not legal[t][0]
        targets = data.targets[i].tolist()
        assert targets[: length - 1] == data.inputs[i, 1:length].tolist()
        assert all(t == IGNORE_INDEX for t in targets[length - 1 :])


def test_the_symbol_before_the_end_repeats_the_second():
    data = generate_reber(500, (9, 40), torch.Generator().manual_seed(1))
    second = data.inputs[:, 1]
    before_end = data.inputs[torch.arange(500), data.lengths - 2]
    assert torch.equal(second, before_end)
    assert 0.4 < (second == 2).float().mean().item() < 0.6


def test_lengths_are_uniform_and_strings_follow_the_grammars_own_distribution():
    data = generate_reber(12_000, (9, 12), torch.Generator().manual_seed(2))
    assert set(data.lengths.tolist()) == {9, 10, 11, 12}
    # Length 10: B T|P <BTSXSE | BPVPSE | BPTVVE> T|P E, each inner string 1/16 under the grammar's
    # own choices, so all six strings are equally likely given the length.
    tens = Counter(_text(data.inputs[i], 10) for i in (data.lengths == 10).nonzero().flatten().tolist())
    assert len(tens) == 6
    assert max(tens.values()) < 1.25 * min(tens.values()), tens


def test_long_test_strings_are_grammatical():
    data = generate_reber(20, (150, 200), torch.Generator().manual_seed(3))
    for i in range(20):
        length = int(data.lengths[i])
        assert 150 <= length <= 200
        _legal_sets(_text(data.inputs[i], length))


def test_same_seed_same_data_other_seed_other_data():
    def make(seed):
        return generate_reber(64, (9, 30), split_generator(seed, "train"))

    a, b, c = make(0), make(0), make(1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)


def test_ten_thousand_strings_take_well_under_a_few_seconds():
    generator = torch.Generator().manual_seed(0)
    # A second try only if the first was slow: the machine may be busy with other work.
    for _ in range(2):
        start = time.perf_counter()
        generate_reber(10_000, (20, 60), generator)
        elapsed = time.perf_counter() - start
        if elapsed < 2.0:
            break
    assert elapsed < 2.0, f"10k strings of length 20-60 took {elapsed:.2f} s"


def test_datamodule_batch_and_the_legal_masks_score_a_perfect_predictor():
    data = ReberData(num_train=64, num_val=32, batch_size=16)
    assert (data.vocab_size, data.num_classes, data.readout) == (8, 8, "token")
    assert (data.train_lengths, data.test_lengths) == ((9, 20), (20, 60))
    data.setup("fit")
    batch = next(iter(data.val_dataloader()))
    assert batch["legal"].shape == (*batch["inputs"].shape, 8)
    assert int(batch["lengths"].min()) >= 20
    # Predicting the observed next symbol is always legal.
    observed = torch.nn.functional.one_hot(batch["targets"].clamp(min=0), 8).float()
    assert greedy_accuracy(observed, batch["legal"]) == 1.0
    assert (batch["legal"].any(-1) == (batch["targets"] != IGNORE_INDEX)).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"train_lengths": (5, 20)},
            r"at least 9 \(the shortest embedded Reber string, BTBTXSETE\).*use e.g. \(9, 20\)",
        ),
        ({"test_lengths": (8, 30)}, "test_lengths lower bound must be at least 9"),
        ({"train_lengths": (20, 10)}, r"train_lengths must be in order.*\(10, 20\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReberData(**kwargs)
