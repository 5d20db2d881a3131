"""Just Read Twice: the doubled sequence and its targets, the DataModule wrapper, and a fit through the engine."""

import pytest
import torch
from torch.utils.data import DataLoader

from recur_core.engine import SequenceTask, quiet_trainer, run_cli
from recur_core.tasks import MQARData
from recur_core.tasks.base import IGNORE_INDEX, SequenceDataset
from recur_core.techniques.jrt import ReadTwiceData, read_twice, read_twice_collate, read_twice_dataset


def test_read_twice_by_hand():
    inputs = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]])
    targets = torch.tensor([[-100, 1, -100, 2], [3, -100, -100, -100]])
    doubled, answers, lengths = read_twice(inputs, targets, torch.tensor([4, 2]))
    assert doubled.tolist() == [[5, 6, 7, 8, 5, 6, 7, 8], [5, 6, 5, 6, 0, 0, 0, 0]]
    assert answers.tolist() == [[-100] * 5 + [1, -100, 2], [-100, -100, 3] + [-100] * 5]
    assert lengths.tolist() == [8, 4]


def test_read_twice_matches_a_loop_on_mqar():
    data = MQARData(num_kv_pairs=6, num_queries=2, seq_len=20, num_train=8, num_val=1, num_test=1)
    base = data.dataset("train")
    twice = read_twice_dataset(base)
    for i in range(len(base)):
        item, doubled = base[i], twice[i]
        assert torch.equal(doubled["inputs"], torch.cat([item["inputs"], item["inputs"]]))
        expected = torch.cat([torch.full_like(item["targets"], IGNORE_INDEX), item["targets"]])
        assert torch.equal(doubled["targets"], expected)
    # the same answers are scored, once each
    assert (twice.targets != IGNORE_INDEX).sum() == (base.targets != IGNORE_INDEX).sum()


def test_collate_pads_variable_lengths():
    samples = [
        {"inputs": torch.tensor([4, 5, 6]), "targets": torch.tensor([-100, 9, 8])},
        {"inputs": torch.tensor([4]), "targets": torch.tensor([7])},
    ]
    batch = read_twice_collate(samples)
    assert batch["inputs"].tolist() == [[4, 5, 6, 4, 5, 6], [4, 4, 0, 0, 0, 0]]
    assert batch["targets"].tolist() == [[-100, -100, -100, -100, 9, 8], [-100, 7, -100, -100, -100, -100]]
    assert batch["lengths"].tolist() == [6, 2]
    assert next(iter(DataLoader(samples, batch_size=2, collate_fn=read_twice_collate)))["inputs"].shape == (2, 6)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="per-token targets"):
        read_twice(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long), torch.tensor([3, 3]))
    ids, labels = torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long)
    labels = SequenceDataset(ids, labels, torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="per-token targets"):
        read_twice_dataset(labels)
    from recur_core.tasks import ParityData

    with pytest.raises(ValueError, match="readout 'token'"):
        ReadTwiceData(ParityData())


def test_fit_through_the_engine(one_thread, tmp_path):
    mqar = MQARData(vocab_size=32, num_kv_pairs=4, num_queries=2, seq_len=12, num_train=64, batch_size=16)
    data = ReadTwiceData(mqar)
    torch.manual_seed(0)
    module = SequenceTask(layer="linear_attention", d_model=16, vocab_size=32, num_classes=32, readout="token")
    trainer = quiet_trainer(
        max_steps=3,
        limit_val_batches=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data)
    batch = next(iter(data.train_dataloader()))
    assert batch["inputs"].shape == (16, 24)
    assert (batch["targets"][:, :12] == IGNORE_INDEX).all() and (batch["targets"][:, 12:] != IGNORE_INDEX).any()
    assert trainer.global_step == 3


def test_recipe_nests_the_task(runs_dir):
    cli = run_cli("core", ["--config", "mqar/linear_attention_jrt"], run=False)
    assert isinstance(cli.datamodule, ReadTwiceData) and isinstance(cli.datamodule.data, MQARData)
    assert cli.datamodule.data.num_queries == 4
