"""Training the local character LM of the RecurrentGPT loop with core's engine.

:class:`StoryCharData` cuts the generated stories (:mod:`recur_text.data.stories`; one story per line,
train/val/test drawn from different seeds) into windows of ``seq_len + 1`` characters; :class:`CharLMTask`
trains a registered character LM (``char_lm``: any core layer) on next-character cross-entropy.

Logged: ``loss`` (nats per character), ``bpc`` (bits per character), ``acc`` (next character), and
``recall_acc``: the fraction of recalled colour words (``Mia's kite is red.``) whose every character the
model predicts (argmax, teacher-forced) — a colour can only be known from the fact planted earlier in the
line. ``test`` also logs the baselines beside them: ``test/bpc_unigram`` (the training characters'
frequencies) and ``test/recall_acc_prior`` (always the commonest training colour).

.. code-block:: bash

    recur-text fit --config char_lm/stories
    recur-text fit --config char_lm/stories --model.layer gla --model.layer_kwargs '{num_heads: 4}'
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from recur_core.engine import RecurModule, Split, SplitDataModule
from recur_core.registry import get_model
from recur_text.data.stories import generate_stories
from recur_text.models.char_lm import CHARS, encode_text

__all__ = ["CharLMTask", "CharWindows", "StoryCharData"]


class CharWindows(Dataset):
    """Non-overlapping windows of a character stream.

    Item ``i``: ``{"inputs": [T], "targets": [T], "recall": [T]}``; ``recall`` numbers the recalled colour
    words lying wholly inside the targets (1, 2, ... per window; 0 elsewhere).
    """

    def __init__(self, ids: Tensor, recall: Tensor, seq_len: int) -> None:
        if len(ids) < seq_len + 1:
            raise ValueError(f"the text has {len(ids)} characters, fewer than seq_len + 1 = {seq_len + 1}")
        self.ids, self.recall, self.seq_len = ids, recall, seq_len

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.seq_len

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        start = index * self.seq_len
        window = self.ids[start : start + self.seq_len + 1]
        word = self.recall[start + 1 : start + self.seq_len + 1]
        # a word cut by the window's edges is not scored
        cut = {int(word[0]), int(word[-1])} - {0}
        numbered = torch.zeros_like(word)
        ids = [w for w in torch.unique(word).tolist() if w and w not in cut]
        for k, w in enumerate(ids, 1):
            numbered[word == w] = k
        return {"inputs": window[:-1], "targets": window[1:], "recall": numbered}


def _stream(count: int, seed: int, max_facts: int, max_gap: int) -> tuple[Tensor, Tensor, list[str]]:
    stories = generate_stories(count, seed, max_facts, max_gap)
    text = "\n".join(s.text for s in stories) + "\n"
    recall = torch.zeros(len(text), dtype=torch.long)
    offset, words, number = 0, [], 1
    for story in stories:
        for start, end in story.recall_spans:
            recall[offset + start : offset + end] = number
            words.append(story.text[start:end])
            number += 1
        offset += len(story.text) + 1
    return encode_text(text), recall, words


class StoryCharData(SplitDataModule):
    """Generated stories as character windows (the embedded default; no file, no download).

    Args:
        train_stories, val_stories, test_stories: stories per split (seeds ``seed``, ``seed + 1``, ``seed + 2``).
        seq_len: characters per window.
        max_facts: facts planted per story (1..4).
        max_gap: sentences between a fact and its recall (0..max_gap).
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    def __init__(
        self,
        train_stories: int = 6000,
        val_stories: int = 300,
        test_stories: int = 600,
        seq_len: int = 256,
        max_facts: int = 3,
        max_gap: int = 4,
        *,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if seq_len < 2:
            raise ValueError(f"seq_len must be at least 2, got {seq_len}")
        self.counts = {"train": train_stories, "val": val_stories, "test": test_stories}
        self.seq_len, self.max_facts, self.max_gap = seq_len, max_facts, max_gap
        self.vocab_size = len(CHARS)
        self._streams: dict[str, tuple[Tensor, Tensor, list[str]]] = {}

    def stream(self, split: Split) -> tuple[Tensor, Tensor, list[str]]:
        """``(ids [N], recall word numbers [N], recalled words)`` of the whole ``split``."""
        if split not in self._streams:
            offset = {"train": 0, "val": 1, "test": 2}[split]
            self._streams[split] = _stream(self.counts[split], self.seed + offset, self.max_facts, self.max_gap)
        return self._streams[split]

    def make_dataset(self, split: Split) -> Dataset:
        ids, recall, _ = self.stream(split)
        return CharWindows(ids, recall, self.seq_len)

    def baselines(self, split: Split = "test") -> dict[str, float]:
        """The unigram model's bits per character on ``split`` and the commonest-colour guess's recall accuracy."""
        train_ids, _, train_words = self.stream("train")
        counts = torch.bincount(train_ids, minlength=self.vocab_size).double() + 1.0
        log_p = (counts / counts.sum()).log2()
        ids, _, words = self.stream(split)
        commonest = Counter(train_words).most_common(1)[0][0]
        return {
            "bpc_unigram": float(-log_p[ids].mean()),
            "recall_acc_prior": sum(w == commonest for w in words) / max(1, len(words)),
        }


class CharLMTask(RecurModule):
    """Next-character language modelling with a registered character LM (``char_lm``).

    Consumes :class:`StoryCharData` batches. ``--model.layer`` swaps the recurrence for any core layer.

    Args:
        model: the registered LM's name.
        layer: the recurrence (any causal core layer).
        d_model, n_layers, mlp_ratio, dropout, layer_kwargs: see :class:`~recur_text.models.char_lm.CharLM`.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/loss"
    monitor_mode = "min"

    def __init__(
        self,
        model: str = "char_lm",
        layer: str = "deltanet",
        d_model: int = 128,
        n_layers: int = 2,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        layer_kwargs: dict[str, Any] | None = None,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        self.save_hyperparameters()
        self.net = get_model(
            model,
            layer=layer,
            d_model=d_model,
            n_layers=n_layers,
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            layer_kwargs=layer_kwargs,
        )

    def forward(self, ids: Tensor) -> Tensor:
        return self.net(ids)

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self(batch["inputs"])
        targets = batch["targets"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        correct = logits.argmax(-1) == targets
        logged = {"on_step": stage == "train", "on_epoch": True, "sync_dist": True}
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=targets.numel(), **logged)
        self.log(f"{stage}/bpc", loss / math.log(2), batch_size=targets.numel(), **logged)
        self.log(f"{stage}/acc", correct.float().mean(), batch_size=targets.numel(), **logged)
        words = batch["recall"]
        if stage != "train" and bool((words > 0).any()):
            # a word is right when every one of its characters is: the minimum over its positions
            slots = words.shape[1] + 1
            key = (torch.arange(words.shape[0], device=words.device)[:, None] * slots + words).reshape(-1)
            right = torch.ones(words.shape[0] * slots, device=words.device)
            right = right.scatter_reduce(0, key, correct.reshape(-1).float(), "amin", include_self=True)
            present = torch.zeros_like(right).scatter(0, key, 1.0).bool()
            present = present.reshape(words.shape[0], slots)
            present[:, 0] = False
            scored = right.reshape(words.shape[0], slots)[present]
            self.log(f"{stage}/recall_acc", scored.mean(), batch_size=int(scored.numel()), **logged)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        data = getattr(self.trainer, "datamodule", None)
        if isinstance(data, StoryCharData):
            for name, value in data.baselines("test").items():
                self.log(f"test/{name}", value)
