"""MQAR: layout, recall targets, distinct draws, seeding, generalization splits, errors, speed."""

import time

import pytest
import torch

from recur_core.tasks import IGNORE_INDEX, MQARData, generate_mqar, split_generator
from recur_core.tasks.mqar import FILLER_ID, KEY_OFFSET, _distinct_draws, mqar_key_count


def _check_sample(inputs, targets, vocab_size, num_kv_pairs, num_queries):
    """Recompute one sequence's targets from its context, and check the layout around them."""
    inputs, targets = inputs.tolist(), targets.tolist()
    num_keys = mqar_key_count(vocab_size)
    keys, values = inputs[0 : 2 * num_kv_pairs : 2], inputs[1 : 2 * num_kv_pairs : 2]
    assert all(KEY_OFFSET <= k < KEY_OFFSET + num_keys for k in keys)
    assert all(KEY_OFFSET + num_keys <= v < KEY_OFFSET + 2 * num_keys for v in values)
    assert len(set(keys)) == len(set(values)) == num_kv_pairs
    assert targets[: 2 * num_kv_pairs] == [IGNORE_INDEX] * (2 * num_kv_pairs)
    value_of = dict(zip(keys, values))
    asked = []
    for token, target in zip(inputs[2 * num_kv_pairs :], targets[2 * num_kv_pairs :]):
        if token == FILLER_ID:
            assert target == IGNORE_INDEX
        else:
            assert target == value_of[token]
            asked.append(token)
    assert len(asked) == len(set(asked)) == num_queries


@pytest.mark.parametrize(
    ("vocab_size", "num_kv_pairs", "seq_len", "num_queries"),
    [(20, 3, 10, None), (128, 8, 64, None), (128, 32, 160, 4), (41, 16, 40, 8), (4, 1, 3, 1)],
)
def test_every_query_target_is_the_value_paired_with_its_key(vocab_size, num_kv_pairs, seq_len, num_queries):
    data = generate_mqar(50, vocab_size, num_kv_pairs, seq_len, torch.Generator().manual_seed(0), num_queries)
    assert data.inputs.shape == data.targets.shape == (50, seq_len)
    assert (data.lengths == seq_len).all()
    for i in range(50):
        _check_sample(data.inputs[i], data.targets[i], vocab_size, num_kv_pairs, num_queries or num_kv_pairs)


def test_queries_come_in_random_order_at_random_positions():
    data = generate_mqar(500, 64, 4, 20, torch.Generator().manual_seed(1))
    query_positions = (data.inputs[:, 8:] != FILLER_ID).float().mean(0)
    assert (query_positions > 0.1).all(), "every query-section position should hold a query sometimes"
    first_asked = data.inputs[:, 8:][data.inputs[:, 8:] != FILLER_ID].view(500, 4)[:, 0]
    rank_in_context = (data.inputs[:, 0:8:2] == first_asked[:, None]).float().argmax(1)
    assert set(rank_in_context.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize(("count", "high"), [(2, 4), (3, 3), (5, 1000), (8, 20)])
def test_distinct_draws_are_distinct_in_range_and_uniform(count, high):
    draws = _distinct_draws(6000, count, high, torch.Generator().manual_seed(2))
    assert draws.shape == (6000, count)
    assert int(draws.min()) >= 0 and int(draws.max()) < high
    ordered = draws.sort(dim=1).values
    assert (ordered[:, 1:] != ordered[:, :-1]).all()
    # Each column is uniform over 0..high-1 (loose bound, one count per value).
    if high <= 20:
        counts = torch.bincount(draws[:, 0], minlength=high).float()
        assert (counts - 6000 / high).abs().max() < 6 * (6000 / high) ** 0.5


def test_same_seed_same_data_other_seed_other_data():
    def make(seed):
        return generate_mqar(64, 128, 8, 64, split_generator(seed, "train"))

    a, b, c = make(0), make(0), make(1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)


def test_ten_thousand_sequences_take_well_under_a_second():
    generator = torch.Generator().manual_seed(0)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        generate_mqar(10_000, 128, 8, 64, generator)
        best = min(best, time.perf_counter() - start)
    assert best < 0.5, f"10k MQAR sequences took {best:.2f} s"


def test_datamodule_attributes_and_batch():
    data = MQARData(vocab_size=64, num_kv_pairs=4, seq_len=24, num_train=100, batch_size=16)
    assert (data.vocab_size, data.num_classes, data.readout) == (64, 64, "token")
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["inputs"].shape == batch["targets"].shape == (16, 24)
    assert all(t.dtype == torch.long for t in batch.values())
    assert (batch["lengths"] == 24).all()
    for inputs, targets in zip(batch["inputs"], batch["targets"]):
        _check_sample(inputs, targets, 64, 4, 4)


def test_generalization_flags_change_test_and_validation():
    data = MQARData(vocab_size=80, num_kv_pairs=4, seq_len=16, test_num_kv_pairs=12, test_seq_len=40, num_train=20)
    data.setup()
    assert data.dataset("train").inputs.shape[1] == 16
    for split in ("val", "test"):
        split_data = data.dataset(split)
        assert split_data.inputs.shape[1] == 40
        _check_sample(split_data.inputs[0], split_data.targets[0], 80, 12, 12)
    in_distribution = MQARData(num_kv_pairs=4, seq_len=16, test_seq_len=40, val_on="train", num_val=10)
    in_distribution.setup("validate")
    assert in_distribution.dataset("val").inputs.shape[1] == 16


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vocab_size": 10, "num_kv_pairs": 8}, r"use vocab_size >= 18"),
        ({"num_kv_pairs": 8, "seq_len": 20}, r"use seq_len >= 24"),
        ({"num_kv_pairs": 8, "seq_len": 17, "num_queries": 2}, r"use seq_len >= 18"),
        ({"num_kv_pairs": 4, "num_queries": 5}, r"num_queries must lie in 1..num_kv_pairs = 1..4"),
        ({"num_kv_pairs": 4, "num_queries": 0}, "num_queries"),
        ({"num_kv_pairs": 0}, "num_kv_pairs must be at least 1"),
        ({"vocab_size": 20, "test_num_kv_pairs": 10}, r"test_num_kv_pairs=10; use vocab_size >= 22"),
        ({"seq_len": 64, "test_seq_len": 20}, r"test_seq_len=20 is too short.*use test_seq_len >= 24"),
        ({"val_on": "test_lengths"}, "val_on must be 'test' or 'train'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MQARData(**kwargs)
