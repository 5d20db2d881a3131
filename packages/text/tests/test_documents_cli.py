"""RCNN document classification through the CLI, and its DataModule on the embedded docstring corpus."""

import pytest
import torch

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_text.documents import DocstringTopicData, DocumentClassificationModule

RECIPE = "rcnn/docstrings_order"
# the topic task (12 packages) has no recipe of its own (the RCNN loses to the bag of words there; docs/text.md):
# tools/repro/embeddings.py runs it as the order recipe with these options
TOPIC = ["--data.init_args.task", "topic", "--model.init_args.num_classes", "12"]
TINY = [
    "--model.init_embeddings", "random", "--model.model_kwargs", '{"layer": "gru", "context_dim": 16}',
    "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2", "--trainer.max_epochs", "1",
]  # fmt: skip


@pytest.mark.parametrize(("options", "num_classes"), [([], 2), (TOPIC, 12)])
def test_recipe_instantiates_and_opens_with_its_command(runs_dir, options, num_classes):
    path = list_recipes("text")[RECIPE]
    assert path.read_text().splitlines()[0] == f"# recur-text fit --config {RECIPE}"
    cli = run_cli("text", ["--config", RECIPE, *options], run=False)
    assert isinstance(cli.model, DocumentClassificationModule) and isinstance(cli.datamodule, DocstringTopicData)
    assert cli.model.hparams.vocab_size == cli.datamodule.vocab_size
    assert cli.model.hparams.num_classes == cli.datamodule.num_classes == num_classes


def test_batches_are_padded_ids_with_lengths():
    data = DocstringTopicData(max_tokens=20, batch_size=4)
    batch = next(iter(data.loader("train")))
    tokens, lengths, labels = batch["tokens"], batch["lengths"], batch["labels"]
    assert tokens.shape[0] == 4 and tokens.shape[1] == lengths.max() <= 20 and labels.shape == (4,)
    assert (lengths >= 8).all() and (tokens[torch.arange(tokens.shape[1])[None] >= lengths[:, None]] == 0).all()
    assert int(tokens.max()) < data.vocab_size
    # a word outside the vocabulary is id 1; vocabulary words are 2..
    encoded = data.encode(["the", "zzzzqqq"])
    assert encoded[1] == 1 and encoded[0] == data.vocabulary.index["the"] + 2


# the topic task's run is the same code path (about 3 s): make test-slow
@pytest.mark.parametrize("options", [[], pytest.param(TOPIC, marks=pytest.mark.slow)])
def test_fit_then_test_prints_the_baselines(runs_dir, options):
    fit = run_cli("text", ["fit", "--config", RECIPE, *options, *TINY])
    last = fit.run_dir / "checkpoints" / "last.ckpt"
    assert last.is_file()
    test = ["test", "--config", RECIPE, *options, *TINY, "--trainer.limit_test_batches", "2", "--ckpt_path", str(last)]
    cli = run_cli("text", test)
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    assert {"test/acc", "test/acc_majority", "test/acc_tfidf_lr", "test/acc_tfidf_unigram_lr"} <= set(metrics)
    if options:
        assert 0.1 < metrics["test/acc_majority"] < 0.3 and metrics["test/acc_tfidf_lr"] > 0.7
    else:
        # both classes hold the same bags of words: unigrams are blind, bigrams see local order
        assert metrics["test/acc_majority"] == metrics["test/acc_tfidf_unigram_lr"] == 0.5
        assert metrics["test/acc_tfidf_lr"] > 0.6


def test_order_task_pairs_each_docstring_written_and_swapped():
    data = DocstringTopicData(task="order", max_tokens=30)
    assert data.classes == ("swapped", "written") and data.num_classes == 2
    test = data.dataset("test")
    assert len(test) == 2 * len(data.corpus.labelled["test"]) and test.labels[:4].tolist() == [1, 0, 1, 0]
    written, swapped = test.texts[0], test.texts[1]
    assert written == data.corpus.split_tokens("test")[0][:30] != swapped and sorted(written) == sorted(swapped)
    assert torch.equal(test.tokens[0], data.encode(written))


def test_bad_options_are_one_line_errors(runs_dir):
    with pytest.raises(ValueError, match="init_embeddings must be"):
        DocumentClassificationModule(init_embeddings="glove")
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        DocstringTopicData(max_tokens=0)
    with pytest.raises(ValueError, match="task must be one of topic, order"):
        DocstringTopicData(task="sentiment")
    with pytest.raises(ValueError, match=r"swap_rate must be in \(0, 0.5\]"):
        DocstringTopicData(task="order", swap_rate=0.9)
    cli = run_cli("text", ["--config", RECIPE, "--model.vocab_size", "50"], run=False)
    cli.trainer.datamodule = cli.datamodule
    cli.model.trainer = cli.trainer
    with pytest.raises(ValueError, match=r"model.vocab_size = 50 but the data has vocab_size"):
        cli.model.setup("fit")


@pytest.mark.slow
def test_skipgram_vectors_are_trained_once_and_cached(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = DocstringTopicData(sources=["stdlib"])
    vectors = data.word_vectors(8, epochs=1)
    assert vectors.shape == (data.vocab_size, 8) and vectors[:2].abs().sum() == 0
    assert torch.equal(data.word_vectors(8, epochs=1), vectors)
    assert len(list(tmp_path.glob("recur/generated/text-docstring-skipgram-*"))) == 1
