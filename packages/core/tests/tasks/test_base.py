"""The shared task pieces: datasets, collate, split seeds, distinct draws and the DataModule bases."""

import pytest
import torch

from recur_core.tasks import (
    IGNORE_INDEX,
    PAD_ID,
    FeatureSequenceDataset,
    NextSymbolDataset,
    NParityData,
    ParityData,
    SequenceDataset,
    check_length_range,
    collate,
    split_generator,
)
from recur_core.tasks.base import draw_distinct, single_threaded


def _ragged_dataset(per_token: bool) -> SequenceDataset:
    inputs = torch.tensor([[5, 6, 7], [8, 0, 0], [9, 4, 0]], dtype=torch.int8)
    lengths = torch.tensor([3, 1, 2])
    targets = torch.tensor([[1, 0, 1], [1, -100, -100], [0, 1, -100]]) if per_token else torch.tensor([1, 0, 1])
    return SequenceDataset(inputs, targets, lengths)


def test_items_drop_padding_and_are_int64():
    data = _ragged_dataset(per_token=True)
    item = data[2]
    assert item["inputs"].dtype == item["targets"].dtype == torch.long
    assert item["inputs"].tolist() == [9, 4]
    assert item["targets"].tolist() == [0, 1]
    assert _ragged_dataset(per_token=False)[1]["targets"].shape == ()


def test_collate_pads_to_the_longest_in_the_batch():
    data = _ragged_dataset(per_token=True)
    batch = collate([data[1], data[2]], pad_id=3)
    assert set(batch) == {"inputs", "targets", "lengths"}
    assert all(t.dtype == torch.long for t in batch.values())
    assert batch["inputs"].tolist() == [[8, 3], [9, 4]]
    assert batch["targets"].tolist() == [[1, IGNORE_INDEX], [0, 1]]
    assert batch["lengths"].tolist() == [1, 2]


def test_collate_stacks_sequence_labels():
    data = _ragged_dataset(per_token=False)
    batch = collate([data[i] for i in range(3)])
    assert batch["inputs"].shape == (3, 3)
    assert batch["inputs"][1].tolist() == [8, PAD_ID, PAD_ID]
    assert batch["targets"].tolist() == [1, 0, 1]
    assert batch["lengths"].tolist() == [3, 1, 2]


def _ids(*shape):
    return torch.zeros(*shape, dtype=torch.long)


@pytest.mark.parametrize(
    ("inputs", "targets", "lengths", "match"),
    [
        (torch.zeros(2, 3), _ids(2), _ids(2) + 1, "integer token ids"),
        (_ids(2, 3), _ids(2, 4), _ids(2) + 1, "targets must have shape"),
        (_ids(2, 3), torch.zeros(2), _ids(2) + 1, "class ids"),
        (_ids(2, 3), _ids(2), _ids(3) + 1, "lengths must have shape"),
        (_ids(2, 3), _ids(2), torch.tensor([1, 4]), "lengths must lie in"),
        (_ids(2, 3), _ids(2), torch.tensor([0, 1]), "lengths must lie in"),
    ],
)
def test_dataset_rejects_inconsistent_tensors(inputs, targets, lengths, match):
    with pytest.raises(ValueError, match=match):
        SequenceDataset(inputs, targets, lengths)


def test_split_generators_are_reproducible_and_independent():
    def draw(seed, split):
        return torch.rand(8, generator=split_generator(seed, split))

    assert torch.equal(draw(0, "train"), draw(0, "train"))
    assert not torch.equal(draw(0, "train"), draw(0, "val"))
    assert not torch.equal(draw(0, "val"), draw(1, "train"))
    assert not torch.equal(draw(0, "train"), draw(1, "train"))
    with pytest.raises(ValueError, match="non-negative"):
        split_generator(-1, "train")
    with pytest.raises(ValueError, match="split must be one of train, val, test, shuffle"):
        split_generator(0, "validation")


@pytest.mark.parametrize(
    ("lengths", "match"), [((5, 2), r"lo <= hi.*\(2, 5\)"), ((0, 4), "at least 1"), ((1, 2, 3), "pair")]
)
def test_check_length_range(lengths, match):
    assert check_length_range("train_lengths", (2, 5)) == (2, 5)
    with pytest.raises(ValueError, match=match):
        check_length_range("train_lengths", lengths)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_train": 0}, "num_train"),
        ({"num_val": 0}, "num_val"),
        ({"num_test": -1}, "num_test"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_workers": -1}, "num_workers"),
        ({"seed": -3}, "seed"),
    ],
)
def test_datamodule_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ParityData(**kwargs)


def test_setup_generates_only_the_splits_a_stage_needs():
    data = ParityData(num_train=32, num_val=16, num_test=8)
    data.setup("validate")
    assert set(data.datasets) == {"val"}
    data.setup("fit")
    assert set(data.datasets) == {"train", "val"}
    data.setup("test")
    assert len(data.datasets["test"]) == 8


def test_split_contents_do_not_depend_on_other_splits_sizes():
    small = ParityData(num_train=10, num_val=20, seed=4)
    large = ParityData(num_train=500, num_val=20, seed=4)
    small.setup("fit")
    large.setup("fit")
    assert torch.equal(small.dataset("val").inputs, large.dataset("val").inputs)


def test_training_order_is_seeded():
    def first_batch(seed):
        data = ParityData(num_train=64, batch_size=16, seed=seed)
        data.setup("fit")
        return next(iter(data.train_dataloader()))["inputs"]

    assert torch.equal(first_batch(0), first_batch(0))
    assert not torch.equal(first_batch(0), first_batch(1))


def test_check_length_range_minimum_names_the_reason_and_a_fix():
    assert check_length_range("train_lengths", (9, 20), minimum=9) == (9, 20)
    with pytest.raises(
        ValueError, match=r"at least 9 \(shortest string\), got train_lengths=\(5, 20\); use e.g. \(9, 20\)"
    ):
        check_length_range("train_lengths", (5, 20), minimum=9, why="shortest string")


def test_collate_pads_extra_per_position_keys_with_false():
    inputs = torch.tensor([[3, 4, 5], [6, 0, 0]])
    targets = torch.tensor([[4, 5, -100], [-100, -100, -100]])
    legal_table = torch.tensor([[[False, True], [True, False]]]).expand(2, 2, 2)
    data = NextSymbolDataset(inputs, targets, torch.tensor([3, 1]), torch.tensor([[0, 1, 0], [1, 0, 0]]), legal_table)
    item = data[0]
    assert item["legal"].tolist() == [[False, True], [True, False], [False, True]]
    batch = collate([data[1], data[0]])
    assert batch["legal"].shape == (2, 3, 2) and batch["legal"].dtype == torch.bool
    assert batch["legal"][0].tolist() == [[True, False], [False, False], [False, False]]
    assert batch["targets"][0].tolist() == [-100, -100, -100]


def test_next_symbol_dataset_rejects_mismatched_tables():
    inputs, targets, lengths = torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long), torch.ones(2)
    with pytest.raises(ValueError, match="states must have the shape of inputs"):
        NextSymbolDataset(inputs, targets, lengths, torch.zeros(2, 4), torch.zeros(2, 1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="legal_table must be bool"):
        NextSymbolDataset(inputs, targets, lengths, torch.zeros(2, 3), torch.zeros(2, 1, 3))


def test_feature_dataset_items_and_batches():
    inputs = torch.arange(12.0).reshape(2, 3, 2)
    data = FeatureSequenceDataset(inputs, torch.tensor([1.5, 2.5]), torch.tensor([3, 2]))
    assert data[1]["inputs"].tolist() == [[6.0, 7.0], [8.0, 9.0]]
    batch = collate([data[1], data[0]])
    assert batch["inputs"].shape == (2, 3, 2) and batch["inputs"].dtype == torch.float32
    assert batch["inputs"][0, 2].tolist() == [0.0, 0.0]
    assert batch["targets"].tolist() == [2.5, 1.5] and batch["lengths"].tolist() == [2, 3]
    with pytest.raises(ValueError, match="float features"):
        FeatureSequenceDataset(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="targets must be float"):
        FeatureSequenceDataset(torch.zeros(2, 3, 1), torch.zeros(2, dtype=torch.long), torch.ones(2))


@pytest.mark.parametrize(("count", "low", "high"), [(3, 5, 9), (4, 4, 4), (2, 100, 300), (6, 6, 40)])
def test_draw_distinct_respects_each_rows_bound(count, low, high):
    bounds = torch.randint(low, high + 1, (2000,), generator=torch.Generator().manual_seed(0))
    draws = draw_distinct(bounds, count, torch.Generator().manual_seed(1))
    assert draws.shape == (2000, count)
    assert (draws >= 0).all() and (draws < bounds[:, None]).all()
    ordered = draws.sort(dim=1).values
    assert (ordered[:, 1:] != ordered[:, :-1]).all()
    # Every value the tightest rows allow shows up in them.
    if low < 10:
        assert set(draws[bounds == low].flatten().tolist()) == set(range(low))


def test_single_threaded_restores_the_thread_count():
    threads = torch.get_num_threads()
    inside = single_threaded(torch.get_num_threads)()
    assert inside == 1 and torch.get_num_threads() == threads


def test_length_range_datamodule_splits():
    data = NParityData(n=2, train_lengths=(5, 6), test_lengths=(7, 9))
    assert [data.split_lengths(s) for s in ("train", "val", "test")] == [(5, 6), (7, 9), (7, 9)]
    with pytest.raises(ValueError, match="val_on must be 'test_lengths' or 'train_lengths'"):
        NParityData(val_on="test")
