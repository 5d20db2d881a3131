"""Document classification on the embedded docstring corpus: the DataModule and the RCNN's LightningModule.

- :class:`DocstringTopicData`: the labelled set of :func:`recur_text.data.docstrings.docstring_corpus`
  (standard-library docstrings, its fixed 70/10/20 split) as padded id tensors, with one of two tasks:

  - ``task="topic"``: the top-level package a docstring comes from (12 classes). The topics are carried by
    keywords, so a bag of words does well on it (docs/text.md).
  - ``task="order"``: whether a docstring's words are in their written order (``written``) or have local
    word order broken (``swapped``: :func:`~recur_text.data.docstrings.swap_adjacent_words`, a share
    ``swap_rate`` of adjacent word pairs swapped). Every docstring (cut to ``max_tokens``) appears twice in
    its split, once each way, so the two classes hold the same bags of words: any order-blind classifier
    (unigram bag of words, the RCNN without its recurrent contexts) scores exactly 0.5. The label is
    carried by word order alone, the thing the RCNN's recurrent contexts are for.

  The vocabulary is built from the embedding corpus (every document but the labelled
  val and test ones), so it is the one the word embeddings of :mod:`recur_text.models.word2vec` are
  trained with; id 0 is padding, 1 stands for any word outside it. :meth:`DocstringTopicData.word_vectors`
  trains skip-gram vectors on that corpus once (cached), which the RCNN starts from, as the paper's does.
- :class:`DocumentClassificationModule`: cross-entropy training of a registered text classifier (``rcnn``);
  ``test`` logs ``test/acc`` beside ``test/acc_majority`` (the most frequent training class),
  ``test/acc_tfidf_lr`` (the bag-of-words baseline: TF-IDF of unigrams and bigrams + logistic regression,
  scikit-learn, fitted on the same training documents) and ``test/acc_tfidf_unigram_lr`` (unigrams only).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from recur_core.data.generated import generated_cache, write_once
from recur_core.engine import RecurModule, Split, SplitDataModule, check_data_matches
from recur_core.registry import get_model
from recur_text.data.docstrings import SOURCES, DocstringCorpus, docstring_corpus, swap_adjacent_words
from recur_text.data.word_corpus import EncodedCorpus, Vocabulary

__all__ = ["DocstringTopicData", "DocumentClassificationModule", "LabelledDocuments"]

PAD, UNKNOWN = 0, 1
TASKS = ("topic", "order")


class LabelledDocuments(Dataset):
    """``(tokens int64 [T], label)`` items; ``tokens`` are ids (0 padding, 1 unknown word, 2.. the vocabulary)."""

    def __init__(self, tokens: list[Tensor], labels: Tensor, texts: list[list[str]]) -> None:
        self.tokens, self.labels, self.texts = tokens, labels, texts

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.tokens[index], self.labels[index]


def _collate(items: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    tokens = [t for t, _ in items]
    return {
        "tokens": pad_sequence(tokens, batch_first=True, padding_value=PAD),
        "lengths": torch.tensor([len(t) for t in tokens], dtype=torch.long),
        "labels": torch.stack([label for _, label in items]),
    }


class DocstringTopicData(SplitDataModule):
    """Which standard-library package a docstring comes from, or whether its words are in written order
    (module docstring).

    Batches: ``{"tokens": [B, T] int64 (0 = padding), "lengths": [B], "labels": [B]}``.

    Args:
        sources: the corpus sources (:data:`~recur_text.data.docstrings.SOURCES`); they change the vocabulary,
            not the labelled set.
        min_count: a word of the embedding corpus joins the vocabulary from this many occurrences on.
        max_tokens: documents are cut to their first ``max_tokens`` tokens.
        min_label_tokens: shortest labelled docstring, in tokens.
        task: ``"topic"`` (12 packages) or ``"order"`` (``swapped`` / ``written``; module docstring).
        swap_rate: ``task="order"``: the share of adjacent word pairs swapped in a ``swapped`` docstring
            (at least one pair each); the swaps are fixed per docstring (seeded by its module and name).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.

    Attributes:
        vocab_size (len(vocabulary) + 2), num_classes, classes, vocabulary, corpus.
    """

    def __init__(
        self,
        sources: list[str] | None = None,
        min_count: int = 5,
        max_tokens: int = 200,
        min_label_tokens: int = 8,
        task: Literal["topic", "order"] = "topic",
        swap_rate: float = 0.1,
        *,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if not 0.0 < swap_rate <= 0.5:
            raise ValueError(f"swap_rate must be in (0, 0.5] (a share of adjacent word pairs), got {swap_rate}")
        self.corpus: DocstringCorpus = docstring_corpus(tuple(sources or SOURCES), min_label_tokens)
        self.vocabulary = Vocabulary.build(
            [self.corpus.tokens[i] for i in self.corpus.embedding_documents()], min_count
        )
        self.max_tokens, self.task, self.swap_rate = max_tokens, task, swap_rate
        self.classes = self.corpus.classes if task == "topic" else ("swapped", "written")
        self.num_classes = len(self.classes)
        self.vocab_size = len(self.vocabulary) + 2

    def encode(self, tokens: list[str]) -> Tensor:
        """Ids of ``tokens`` (cut to ``max_tokens``): 2.. for vocabulary words, 1 for the others."""
        index = self.vocabulary.index
        return torch.tensor([index.get(t, UNKNOWN - 2) + 2 for t in tokens[: self.max_tokens]], dtype=torch.long)

    def word_vectors(self, dim: int, epochs: int = 5, window: int = 5, seed: int = 0) -> Tensor:
        """Skip-gram vectors (:func:`~recur_text.models.word2vec.train_word2vec`, word2vec's defaults otherwise)
        of the embedding corpus, one row per token id (``[vocab_size, dim]``; rows 0 and 1, padding and
        unknown, are zero). Trained once and cached under the generated-data cache."""
        from recur_text.models.word2vec import Word2Vec, train_word2vec

        options = {
            "corpus": self.corpus.options["folder"],
            "words": len(self.vocabulary),
            "min_count": int(self.vocabulary.counts.min()),
            "dim": dim,
            "epochs": epochs,
            "window": window,
            "seed": seed,
        }
        key = hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
        folder = generated_cache() / f"text-docstring-skipgram-{key}"

        def write(tmp) -> None:
            documents = [self.corpus.tokens[i] for i in self.corpus.embedding_documents()]
            model = Word2Vec(len(self.vocabulary), dim, "skipgram", seed=seed)
            train_word2vec(
                model, EncodedCorpus.encode(documents, self.vocabulary), epochs=epochs, window=window, seed=seed
            )
            torch.save(torch.cat([torch.zeros(2, dim), model.vectors()]), tmp / "vectors.pt")

        folder = write_once(folder, options, "DocstringTopicData.word_vectors", write)
        return torch.load(folder / "vectors.pt")

    def make_dataset(self, split: Split) -> LabelledDocuments:
        if self.task == "order":
            return self._order_dataset(split)
        texts = self.corpus.split_tokens(split)
        labels = torch.tensor(self.corpus.labels[split], dtype=torch.long)
        return LabelledDocuments([self.encode(t) for t in texts], labels, texts)

    def _order_dataset(self, split: Split) -> LabelledDocuments:
        """Each docstring of ``split`` (cut to ``max_tokens``) written (label 1), then swapped (label 0)."""
        texts: list[list[str]] = []
        for i in self.corpus.labelled[split]:
            written = self.corpus.tokens[i][: self.max_tokens]
            document = self.corpus.documents[i]
            swapped = swap_adjacent_words(written, self.swap_rate, f"{document.module}:{document.name}")
            # a docstring with no two different neighbours cannot be swapped; it is left out
            if swapped != written:
                texts += [written, swapped]
        labels = torch.tensor([1, 0] * (len(texts) // 2), dtype=torch.long)
        return LabelledDocuments([self.encode(t) for t in texts], labels, texts)

    def collate_fn(self):
        return _collate


class DocumentClassificationModule(RecurModule):
    """Document classification with a registered text classifier (``rcnn``), cross-entropy on its logits.

    Logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc`` (picks the best checkpoint), ``test/loss``,
    ``test/acc``, and at test the baselines ``test/acc_majority`` and ``test/acc_tfidf_lr`` (module docstring).

    Args:
        model: registered model name (``rcnn``).
        model_kwargs: its own options (``{"layer": "lstm", "embed_dim": 50}``, ...).
        init_embeddings: ``"skipgram"`` starts the model's embedding from the data's skip-gram vectors
            (:meth:`DocstringTopicData.word_vectors`, ``embed_dim`` wide; the paper's choice), ``"random"`` not.
        vocab_size, num_classes: must equal the data's.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "rcnn",
        model_kwargs: dict[str, Any] | None = None,
        vocab_size: int = 100,
        num_classes: int = 2,
        init_embeddings: Literal["skipgram", "random"] = "skipgram",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if init_embeddings not in ("skipgram", "random"):
            raise ValueError(f"init_embeddings must be 'skipgram' or 'random', got {init_embeddings!r}")
        self.save_hyperparameters()
        self.net = get_model(model, vocab_size=vocab_size, num_classes=num_classes, **(model_kwargs or {}))

    def setup(self, stage: str) -> None:
        check_data_matches(self, ("vocab_size", "num_classes"))
        data = getattr(self.trainer, "datamodule", None)
        # before a checkpoint is restored (which then overwrites these weights when resuming)
        if stage == "fit" and self.hparams.init_embeddings == "skipgram" and isinstance(data, DocstringTopicData):
            embedding = self.net.embedding
            vectors = data.word_vectors(embedding.embedding_dim)
            self.net.load_embeddings(vectors[2:], torch.arange(2, len(vectors)))

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(tokens, lengths)

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self(batch["tokens"], batch["lengths"])
        labels = batch["labels"]
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean()
        logged = {"on_step": stage == "train", "on_epoch": True, "batch_size": len(labels)}
        self.log(f"{stage}/loss", loss, prog_bar=True, **logged)
        self.log(f"{stage}/acc", accuracy, prog_bar=True, **logged)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self(batch["tokens"], batch["lengths"]).argmax(-1)

    def on_test_epoch_end(self) -> None:
        from recur_text.embedding_eval import majority_accuracy, tfidf_accuracy

        data = self.trainer.datamodule
        if not isinstance(data, DocstringTopicData):
            return
        train, test = data.dataset("train"), data.dataset("test")
        train_labels, test_labels = train.labels.tolist(), test.labels.tolist()
        self.log("test/acc_majority", majority_accuracy(train_labels, test_labels))
        self.log("test/acc_tfidf_lr", tfidf_accuracy(train.texts, train_labels, test.texts, test_labels))
        unigrams = tfidf_accuracy(train.texts, train_labels, test.texts, test_labels, bigrams=False)
        self.log("test/acc_tfidf_unigram_lr", unigrams)
