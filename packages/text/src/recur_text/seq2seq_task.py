"""Sequence-to-sequence translation on the engine: the generated tasks' DataModule and the training module.

.. code-block:: bash

    recur-text fit --config seq2seq/grammar
    recur-text test --config seq2seq/grammar --ckpt_path last

Batches (:class:`TranslationData`) are dicts: ``src`` [B, S] ids, ``src_lengths`` [B], ``tgt_in`` [B, T]
(``[BOS] + y_1 .. y_{T-1}``), ``targets`` [B, T] (``y_1 .. y_T`` ending in EOS, -100 on padding),
``baseline`` [B, L] (the monotone word-by-word translation, EOS-terminated).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from recur_core.engine import RecurModule, SplitDataModule, check_data_matches, sizes_from_data
from recur_core.engine.datamodule import Split
from recur_core.registry import get_model
from recur_text.data.translation import (
    BOS,
    PAD,
    TranslationPairs,
    generate_copy_reverse,
    generate_grammar,
    monotone_translation,
)
from recur_text.seq2seq_metrics import corpus_bleu, exact_match, ids_to_text, per_length_accuracy

__all__ = ["Seq2SeqModule", "TranslationData"]

IGNORE_INDEX = -100


class TranslationData(SplitDataModule):
    """The generated translation tasks of :mod:`recur_text.data.translation`.

    Args:
        task: ``"grammar"`` (SVO -> SOV with agreement) or ``"copy_reverse"``.
        num_train, num_val, num_test: pairs per split (each drawn from its own stream of ``seed``).
        max_adjectives, pp_prob: the grammar's options.
        lengths: copy_reverse: inclusive source length range of train and val.
        test_lengths: copy_reverse: the test split's range (default: ``lengths``).
        num_words, mode: copy_reverse: vocabulary size, ``"reverse"`` or ``"copy"``.
        batch_size, num_workers, seed, shuffle: see :class:`~recur_core.engine.SplitDataModule`.
    """

    def __init__(
        self,
        task: Literal["grammar", "copy_reverse"] = "grammar",
        num_train: int = 20000,
        num_val: int = 500,
        num_test: int = 1000,
        max_adjectives: int = 2,
        pp_prob: float = 0.5,
        lengths: tuple[int, int] = (4, 16),
        test_lengths: tuple[int, int] | None = None,
        num_words: int = 20,
        mode: Literal["reverse", "copy"] = "reverse",
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, shuffle=shuffle)
        if task not in ("grammar", "copy_reverse"):
            raise ValueError(f"task must be 'grammar' or 'copy_reverse', got {task!r}")
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.task = task
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.options = {"max_adjectives": max_adjectives, "pp_prob": pp_prob}
        self.copy_options = {"num_words": num_words, "mode": mode}
        self.lengths = tuple(lengths)
        self.test_lengths = tuple(test_lengths) if test_lengths is not None else self.lengths
        # the vocabularies follow from the options alone: generate one pair to read them (and check the options)
        probe = self._generate("val", 1)
        self.src_vocab_size = len(probe.src_words)
        self.tgt_vocab_size = len(probe.tgt_words)

    def _generate(self, split: Split, size: int) -> TranslationPairs:
        if self.task == "grammar":
            return generate_grammar(size, self.seed, split, **self.options)
        lengths = self.test_lengths if split == "test" else self.lengths
        return generate_copy_reverse(size, self.seed, split, lengths=lengths, **self.copy_options)

    def make_dataset(self, split: Split) -> TranslationPairs:
        return self._generate(split, self.sizes[split])

    def collate_fn(self):
        lexicon = self._generate("val", 1).lexicon

        def collate(items: list[dict[str, Tensor]]) -> dict[str, Tensor]:
            src = pad_sequence([item["src"] for item in items], batch_first=True, padding_value=PAD)
            tgt = pad_sequence([item["tgt"] for item in items], batch_first=True, padding_value=PAD)
            src_lengths = torch.tensor([len(item["src"]) for item in items])
            tgt_in = torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], dim=1)
            return {
                "src": src,
                "src_lengths": src_lengths,
                "tgt_in": tgt_in,
                "targets": tgt.masked_fill(tgt == PAD, IGNORE_INDEX),
                "baseline": monotone_translation(src, src_lengths, lexicon),
            }

        return collate


class Seq2SeqModule(RecurModule):
    """Teacher-forced training of a registered encoder-decoder; greedy and beam decoding scored by BLEU.

    Logged: ``train/loss``, ``val/loss``, ``val/token_acc`` (teacher forcing), ``val/exact`` and
    ``val/bleu`` (greedy decoding; the best checkpoint has the highest ``val/exact``); at test
    ``test/bleu``, ``test/exact`` (greedy), ``test/bleu_beam``, ``test/exact_beam`` (beam of
    ``beam_size``, when > 1), ``test/exact_len_<S>`` (greedy, per source length), and the monotone
    baseline's ``test/bleu_monotone``, ``test/exact_monotone``.

    Args:
        model: registered model name (``seq2seq_translation``).
        src_vocab_size, tgt_vocab_size: None takes them from the DataModule.
        model_kwargs: the model's other arguments (``layer``, ``d_model``, ``n_layers``, ``reverse_source``, ...).
        beam_size, length_penalty: the test-time beam search.
        max_decode_len: longest decoded output (EOS included).
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/exact"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "seq2seq_translation",
        src_vocab_size: int | None = None,
        tgt_vocab_size: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        beam_size: int = 4,
        length_penalty: float = 0.0,
        max_decode_len: int = 40,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if max_decode_len < 1:
            raise ValueError(f"max_decode_len must be at least 1, got {max_decode_len}")
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        if src_vocab_size is not None and tgt_vocab_size is not None:
            self._build()
        self._outputs: list[tuple] = []

    def _build(self) -> None:
        hp = self.hparams
        self.net = get_model(
            hp.model, src_vocab_size=hp.src_vocab_size, tgt_vocab_size=hp.tgt_vocab_size, **(hp.model_kwargs or {})
        )

    def setup(self, stage: str) -> None:
        sizes_from_data(self, ("src_vocab_size", "tgt_vocab_size"))
        check_data_matches(self, ("src_vocab_size", "tgt_vocab_size"))
        if self.net is None:
            self._build()

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self.net(src, src_lengths, tgt_in)

    def _loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        logits = self(batch["src"], batch["src_lengths"], batch["tgt_in"])
        targets = batch["targets"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)
        scored = targets != IGNORE_INDEX
        token_acc = (logits.argmax(-1) == targets)[scored].float().mean()
        return loss, token_acc

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch["src"].shape[0])
        return loss

    def _decode(self, batch: dict[str, Tensor], method: str) -> list[str]:
        decoded = self.net.translate(
            batch["src"],
            batch["src_lengths"],
            method=method,
            beam_size=self.hparams.beam_size,
            length_penalty=self.hparams.length_penalty,
            max_len=self.hparams.max_decode_len,
        )
        return ids_to_text(decoded.tokens)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        size = batch["src"].shape[0]
        loss, token_acc = self._loss(batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=size)
        self.log("val/token_acc", token_acc, batch_size=size)
        references = ids_to_text(batch["targets"].clamp(min=PAD))
        self._outputs.extend(zip(self._decode(batch, "greedy"), references))

    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    def on_validation_epoch_end(self) -> None:
        items = self.gather_from_ranks(self._outputs)
        if not items:
            return
        hyps, refs = zip(*items)
        self.log("val/exact", exact_match(hyps, refs), prog_bar=True, sync_dist=False)
        self.log("val/bleu", corpus_bleu(hyps, refs), sync_dist=False)

    def on_test_epoch_start(self) -> None:
        self._outputs = []

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        size = batch["src"].shape[0]
        loss, token_acc = self._loss(batch)
        self.log("test/loss", loss, batch_size=size)
        self.log("test/token_acc", token_acc, batch_size=size)
        references = ids_to_text(batch["targets"].clamp(min=PAD))
        greedy = self._decode(batch, "greedy")
        beam = self._decode(batch, "beam") if self.hparams.beam_size > 1 else greedy
        baseline = ids_to_text(batch["baseline"])
        lengths = batch["src_lengths"].tolist()
        self._outputs.extend(zip(references, greedy, beam, baseline, lengths))

    def on_test_epoch_end(self) -> None:
        items = self.gather_from_ranks(self._outputs)
        if not items:
            return
        refs, greedy, beam, baseline, lengths = zip(*items)
        scores = {
            "bleu": corpus_bleu(greedy, refs),
            "exact": exact_match(greedy, refs),
            "bleu_monotone": corpus_bleu(baseline, refs),
            "exact_monotone": exact_match(baseline, refs),
        }
        if self.hparams.beam_size > 1:
            scores["bleu_beam"] = corpus_bleu(beam, refs)
            scores["exact_beam"] = exact_match(beam, refs)
        per_length = per_length_accuracy([g == r for g, r in zip(greedy, refs)], lengths)
        scores.update({f"exact_len_{length}": acc for length, acc in per_length.items()})
        for name, value in scores.items():
            self.log(f"test/{name}", value, sync_dist=False)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.net.translate(
            batch["src"],
            batch["src_lengths"],
            method="beam" if self.hparams.beam_size > 1 else "greedy",
            beam_size=self.hparams.beam_size,
            length_penalty=self.hparams.length_penalty,
            max_len=self.hparams.max_decode_len,
        ).tokens
