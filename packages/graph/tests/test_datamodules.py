import pytest
import torch

from recur_graph.data.snapshots import chronological_split
from recur_graph.datamodules import SBMData, TemporalGraphData


def _small(**options):
    return SBMData(num_nodes=30, num_snapshots=20, p_in=0.3, p_out=0.03, history=3, negatives=2, **options)


def test_splits_are_the_chronological_windows_made_once():
    data = _small()
    data.setup("fit")
    assert set(data.datasets) == {"train", "val"}
    expected = chronological_split(20, 3, "link_pred")
    for split in ("train", "val", "test"):
        assert data.dataset(split).targets == list(expected[split])
    assert data.dataset("train") is data.datasets["train"]
    # one-hot degrees as wide as the whole graph's largest degree, in every split
    assert {data.dataset(s).num_features for s in ("train", "val", "test")} == {data.num_features}


def test_only_link_prediction_training_samples_negatives():
    data = _small()
    assert "pairs" in data.dataset("train")[0] and "positives" in data.dataset("test")[0]


def test_eval_windows_cuts_validation_and_test_only():
    full, cut = _small(), _small(eval_windows=1)
    assert len(cut.dataset("val")) == len(cut.dataset("test")) == 1
    assert len(cut.dataset("train")) == len(full.dataset("train"))
    with pytest.raises(ValueError, match="eval_windows must be at least 1"):
        _small(eval_windows=0)


def test_each_batch_is_one_window():
    data = _small()
    batch = next(iter(data.train_dataloader()))
    assert batch["x"].shape == (3, 30) and batch["snapshot"].dim() == 0


@pytest.mark.parametrize("shuffle", [False, True])
def test_training_windows_keep_time_order_unless_shuffled(shuffle):
    data = _small(shuffle=shuffle)
    order = [int(batch["snapshot"]) for batch in data.train_dataloader()]
    assert sorted(order) == data.dataset("train").targets
    assert (order == sorted(order)) != shuffle


def test_options_are_checked():
    with pytest.raises(ValueError, match="SBMData supports task link_pred"):
        SBMData(task="edge_cls")
    with pytest.raises(ValueError, match="negatives must be at least 1"):
        SBMData(negatives=0)


def test_the_base_takes_its_options_by_keyword_only():
    class Fixed(TemporalGraphData):
        def load(self):
            return SBMData(num_nodes=10, num_snapshots=20).load()

    with pytest.raises(TypeError):
        Fixed("link_pred")
    data = Fixed(history=2, negatives=1)
    assert data.batch_size is None and data.history == 2
    assert isinstance(data.dataset("train")[0]["x"], torch.Tensor)
