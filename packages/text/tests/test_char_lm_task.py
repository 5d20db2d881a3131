"""The char LM's data (generated stories with planted facts) and its training by core's engine."""

import pytest
import torch

from recur_core.engine import quiet_trainer
from recur_text.char_lm_task import CharLMTask, CharWindows, StoryCharData
from recur_text.data.stories import COLOURS, generate_stories
from recur_text.models.char_lm import decode_ids


def test_stories_plant_facts_and_recall_them_later():
    stories = generate_stories(50, seed=3)
    assert generate_stories(50, seed=3) == stories and generate_stories(50, seed=4) != stories
    for story in stories:
        assert story.recall_spans
        for start, end in story.recall_spans:
            colour = story.text[start:end]
            assert colour in COLOURS
            name, obj = story.text[:start].split(".")[-1].split()[:2]
            fact = f"{name.removesuffix(chr(39) + 's')} has a {colour} {obj}."
            assert fact in story.text[:start]
    with pytest.raises(ValueError, match="count must be at least 1"):
        generate_stories(0)


def test_windows_number_the_recalled_words_inside_them():
    data = StoryCharData(train_stories=40, val_stories=10, test_stories=10, seq_len=64, batch_size=4)
    ids, _, words = data.stream("train")
    windows = data.make_dataset("train")
    assert isinstance(windows, CharWindows) and len(windows) == (len(ids) - 1) // 64
    found = []
    for item in windows:
        assert torch.equal(item["inputs"][1:], item["targets"][:-1])
        for k in range(1, int(item["recall"].max()) + 1):
            found.append(decode_ids(item["targets"][item["recall"] == k]))
    assert found and set(found) <= set(COLOURS) and len(found) <= len(words)
    base = data.baselines("test")
    assert 3.0 < base["bpc_unigram"] < 6.0 and 0.0 < base["recall_acc_prior"] < 0.5


def test_a_few_steps_of_training_lower_the_loss_and_test_logs_the_baselines():
    torch.manual_seed(0)
    data = StoryCharData(train_stories=200, val_stories=20, test_stories=40, seq_len=64, batch_size=16)
    task = CharLMTask(layer="gru", d_model=32, n_layers=1, lr=1e-2)
    trainer = quiet_trainer(max_steps=30, limit_val_batches=0)
    trainer.fit(task, datamodule=data)
    [result] = quiet_trainer().test(task, datamodule=data, verbose=False)
    assert result["test/bpc"] < 0.8 * result["test/bpc_unigram"]
    assert {"test/recall_acc", "test/recall_acc_prior", "test/acc"} <= set(result)
