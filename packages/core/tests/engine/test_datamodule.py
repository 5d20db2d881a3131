"""SplitDataModule: splits per stage, made once, and loaders that resume mid-epoch in order."""

import pytest
import torch
from torch.utils.data import TensorDataset

from recur_core.engine import EpochShuffle, RankShard, SplitDataModule


class Numbers(SplitDataModule):
    """Split ``s`` holds the integers ``0..n_s - 1`` (train 10, val 4, test 3); counts make_dataset calls."""

    def __init__(self, batch_size: int | None = 3, shuffle: bool = True, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, shuffle=shuffle, seed=seed)
        self.made: list[str] = []

    def make_dataset(self, split):
        self.made.append(split)
        return TensorDataset(torch.arange({"train": 10, "val": 4, "test": 3}[split]))


def _epochs(loader, epochs):
    return [[batch[0].tolist() for batch in loader] for _ in range(epochs)]


def test_stage_builds_its_splits_once():
    data = Numbers()
    data.setup("fit")
    assert data.made == ["train", "val"]
    data.setup("test")
    data.setup("fit")
    assert data.made == ["train", "val", "test"]


def test_only_training_is_shuffled_and_the_order_follows_the_seed():
    first, again, other = Numbers(seed=0), Numbers(seed=0), Numbers(seed=1)
    order = _epochs(first.train_dataloader(), 2)
    assert order == _epochs(again.train_dataloader(), 2)
    assert order != _epochs(other.train_dataloader(), 2)
    assert order[0] != order[1], "a new order every epoch"
    assert sorted(i for batch in order[0] for i in batch) == list(range(10))
    assert _epochs(first.val_dataloader(), 1) == [[[0, 1, 2], [3]]]
    assert _epochs(Numbers(shuffle=False).train_dataloader(), 1)[0][0] == [0, 1, 2]


@pytest.mark.parametrize("stop_after", [1, 3, 4, 5, 9])
def test_a_rebuilt_loader_resumes_exactly_across_epochs(stop_after):
    """Stopped after ``stop_after`` batches (an epoch has 4), a new loader given the saved state and
    the epoch (as Lightning does on resume) yields what the uninterrupted loader yields next."""
    uninterrupted = [batch for epoch in _epochs(Numbers().train_dataloader(), 3) for batch in epoch]
    loader = Numbers().train_dataloader()
    seen, state, epoch = [], None, 0
    while state is None:
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            seen.append(batch[0].tolist())
            if len(seen) == stop_after:
                state = loader.state_dict()
                break
        else:
            epoch += 1
    resumed = Numbers().train_dataloader()
    resumed.load_state_dict(state)
    rest = []
    while len(seen) + len(rest) < len(uninterrupted):
        resumed.sampler.set_epoch(epoch)
        rest += [batch[0].tolist() for batch in resumed]
        epoch += 1
    assert seen + rest == uninterrupted


def test_epoch_order_depends_only_on_seed_and_epoch():
    sampler = EpochShuffle(50, seed=3)
    assert sampler.order(2) == EpochShuffle(50, seed=3).order(2)
    assert sampler.order(2) != sampler.order(3)
    assert [list(sampler), list(sampler)] == [sampler.order(0), sampler.order(1)]
    sampler.set_epoch(7)
    assert list(sampler) == sampler.order(7)


def test_rank_shards_split_each_step_of_one_process_between_the_ranks():
    sampler = EpochShuffle(13, seed=1)
    shards = [RankShard(EpochShuffle(13, seed=1), rank, 2, even=True) for rank in range(2)]
    for shard in shards:
        shard.set_epoch(4)
    order, (even, odd) = sampler.order(4), [list(shard) for shard in shards]
    # one process with batch 4 reads order[0:4], order[4:8], ...; two with batch 2 read the same items per step
    per_step = [sorted(even[i : i + 2] + odd[i : i + 2]) for i in (0, 2, 4)]
    assert per_step == [sorted(order[i : i + 4]) for i in (0, 4, 8)]
    # training: every rank takes the same number of items (the last 13 mod 2 is dropped), none twice
    assert len(even) == len(odd) == len(shards[0]) == 6 and not set(even) & set(odd)
    # without set_epoch the shard moves on to the next epoch, as the order does alone
    assert list(shards[0]) == sampler.order(5)[0::2][:6]


def test_rank_shards_score_an_evaluation_split_once_without_padding():
    shards = [RankShard(range(7), rank, 3, even=False) for rank in range(3)]
    assert [list(shard) for shard in shards] == [[0, 3, 6], [1, 4], [2, 5]]
    assert [len(shard) for shard in shards] == [3, 2, 2]
    with pytest.raises(ValueError, match=r"rank must be in \[0, 3\)"):
        RankShard(range(7), 3, 3, even=False)
    with pytest.raises(ValueError, match=r"a split of 2 items .* cannot be shared by 3 processes"):
        RankShard(range(2), 0, 3, even=False)


def test_unbatched_items_pass_through():
    data = Numbers(batch_size=None)
    assert [int(item[0]) for item in data.val_dataloader()] == [0, 1, 2, 3]


@pytest.mark.parametrize(("option", "value"), [("batch_size", 0), ("seed", -1)])
def test_bad_options_say_what_is_allowed(option, value):
    with pytest.raises(ValueError, match=option):
        Numbers(**{option: value})


class Tagged(Numbers):
    epoch_indexed = True

    def make_dataset(self, split):
        return _EpochEcho() if split == "train" else super().make_dataset(split)


class _EpochEcho(torch.utils.data.Dataset):
    """Item ``(epoch, index)`` is ``[epoch, index]``: shows what the loader asked for."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, item):
        epoch, index = item
        return torch.tensor([epoch, index])


def test_an_epoch_indexed_training_set_is_asked_for_epoch_and_index():
    data = Tagged(batch_size=None, shuffle=False)
    loader = data.train_dataloader()
    for epoch in (0, 1, 4):
        loader.sampler.set_epoch(epoch)
        assert [item.tolist() for item in loader] == [[epoch, index] for index in range(5)]
    assert [int(item[0]) for item in data.val_dataloader()] == [0, 1, 2, 3]
