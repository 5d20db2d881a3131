"""Training tasks of recur_speech: LightningModules that wrap the plain models of :mod:`recur_speech.models`.

- :class:`RNNTTask`: speech recognition with an RNN-T transducer (Graves 2012) on
  :class:`~recur_speech.datamodules.SpeechRecognitionData`, as torchaudio's Emformer RNN-T recipe trains
  it (global CMVN, SpecAugment, the RNN-T loss with its gradient clamped to ±1), scored by WER and CER.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

import recur_speech.models  # noqa: F401  (registers the models)
from recur_core.engine import RecurModule, read_checkpoint
from recur_core.registry import get_model
from recur_speech.data.features import GlobalCMVN, SpecAugment
from recur_speech.data.vocab import (
    CharVocabulary,
    Vocabulary,
    output_tokens,
    vocabulary_from_state,
    vocabulary_state,
)
from recur_speech.metrics import error_rates
from recur_speech.models.rnnt import transducer_loss

__all__ = ["RNNTTask", "resolve_loss_backend"]


def resolve_loss_backend(backend: Literal["auto", "torchaudio", "pytorch"]) -> Literal["torchaudio", "pytorch"]:
    """``"auto"`` -> ``"torchaudio"`` when this torchaudio has ``functional.rnnt_loss``, else ``"pytorch"``.

    torchaudio's loss was deprecated in 2.8 and restored by pytorch/audio#4147; the pure-PyTorch
    :func:`~recur_speech.models.rnnt.rnnt_loss` computes the same values and gradients (tested).
    """
    if backend not in ("auto", "torchaudio", "pytorch"):
        raise ValueError(f"loss_backend must be 'auto', 'torchaudio' or 'pytorch', got {backend!r}")
    if backend != "auto":
        return backend
    import torchaudio.functional

    return "torchaudio" if hasattr(torchaudio.functional, "rnnt_loss") else "pytorch"


class RNNTTask(RecurModule):
    """Speech recognition with an RNN-T (:class:`~recur_speech.models.rnnt.RNNT`) on log-mel features.

    Training, as torchaudio's Emformer RNN-T LibriSpeech recipe: the features are normalised by global
    CMVN statistics of the training set, masked by SpecAugment (training only), and the loss is the RNN-T
    loss :math:`-\\log p(y \\mid x)` averaged over the batch, its gradient w.r.t. the joiner's logits
    clamped to ``±clamp`` (the recipe: 1). ``loss_backend`` is the one switch between torchaudio's fused
    loss (``"torchaudio"``) and recur's pure-PyTorch one (``"pytorch"``); ``"auto"`` takes torchaudio's
    where this torchaudio has it.

    The output vocabulary (characters or BPE pieces of the training transcripts), the CMVN statistics
    and the most frequent training transcript come from the DataModule when a fit starts and are saved
    in every checkpoint (``vocabulary`` and ``frequent_transcript`` entries, the ``cmvn`` buffers); the
    network is built once the vocabulary is known, so ``test --ckpt_path`` rebuilds the checkpoint's
    model and vocabulary whatever data it scores. A fit also writes ``global_stats.json`` (the
    recipe's CMVN file) and the vocabulary into the run folder.

    Scores (``jiwer``, corpus-level, :mod:`recur_speech.metrics`):

    - ``val/wer`` (the checkpoint monitor), ``val/cer``: greedy decoding;
    - ``test/wer``, ``test/cer``: greedy; ``test/wer_beam``, ``test/cer_beam``: beam search of width
      ``beam_size``;
    - baselines beside them: ``test/wer_blank`` (the decoder that emits only blanks: every word
      deleted, WER 1 by construction, computed like the others) and ``test/wer_frequent`` (every
      utterance transcribed as the most frequent training transcript), with their CERs;

    and ``test`` writes ``transcripts_test.json`` (id, reference, greedy and beam hypotheses) into the
    run folder. ``val/loss`` and ``test/loss`` are logged where the vocabulary covers the transcripts.

    Subclasses (a supernet, distillation) override :meth:`build_net` and :meth:`compute_loss`.

    Args:
        model: a registered transducer (``rnnt``).
        layer: the encoder's core layer (``lstm`` for CPU; ``mamba2``, ``gla``, ``attention``, any registered).
        layer_kwargs: passed to the layer.
        model_kwargs: the model's other options (``d_model``, ``n_layers``, ``time_reduction``, ``pred_dim``,
            ``joiner_dim``, ``dropout``...; see :class:`~recur_speech.models.rnnt.RNNTConfig`).
        input_dim: feature bins; must equal the data's ``n_mels``.
        loss_backend: ``"auto"``, ``"torchaudio"`` or ``"pytorch"`` (see above).
        clamp: the loss's gradient clamp (≤ 0: none).
        spec_augment: mask the training features (:class:`~recur_speech.data.features.SpecAugment`).
        freq_masks, freq_width, time_masks, time_width, time_fraction: SpecAugment's masks (the recipe's:
            2 of up to 27 bins, 2 of up to 100 frames and at most 0.2 of the utterance).
        beam_size: width of the test's beam search.
        max_symbols: at most this many labels per encoder frame when decoding.
        init_from: fine-tune: a recur-speech RNN-T checkpoint whose weights the fit starts from
            (:meth:`initialise_from`); the vocabulary, CMVN statistics and frequent transcript still come
            from this fit's data.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/wer"
    monitor_mode = "min"

    def __init__(
        self,
        model: str = "rnnt",
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        model_kwargs: dict[str, Any] | None = None,
        input_dim: int = 80,
        loss_backend: Literal["auto", "torchaudio", "pytorch"] = "auto",
        clamp: float = 1.0,
        spec_augment: bool = True,
        freq_masks: int = 2,
        freq_width: int = 27,
        time_masks: int = 2,
        time_width: int = 100,
        time_fraction: float = 0.2,
        beam_size: int = 4,
        max_symbols: int = 10,
        init_from: str | None = None,
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if beam_size < 1 or max_symbols < 1 or input_dim < 1:
            raise ValueError(
                f"beam_size, max_symbols and input_dim must be >= 1, got {beam_size}, {max_symbols}, {input_dim}"
            )
        self.save_hyperparameters()
        self.loss_backend = resolve_loss_backend(loss_backend)
        self.augment = SpecAugment(freq_masks, freq_width, time_masks, time_width, time_fraction)
        self.cmvn = GlobalCMVN(torch.zeros(input_dim), torch.ones(input_dim))
        self.net: nn.Module | None = None
        self.vocabulary: Vocabulary | None = None
        self.frequent_transcript: str | None = None
        self._outputs: list[dict[str, str]] = []

    # ----- the network, built once the vocabulary is known -----------------------------------------------

    def build_net(self, vocabulary: Vocabulary) -> nn.Module:
        """The transducer for ``vocabulary`` (its size and blank id) from the hyperparameters."""
        hp = self.hparams
        return get_model(
            hp.model,
            input_dim=hp.input_dim,
            vocab_size=vocabulary.size,
            blank=vocabulary.blank,
            layer=hp.layer,
            layer_kwargs=hp.layer_kwargs,
            **(hp.model_kwargs or {}),
        )

    def _set_vocabulary(self, vocabulary: Vocabulary) -> None:
        same = self.vocabulary is not None and vocabulary_state(self.vocabulary) == vocabulary_state(vocabulary)
        if self.net is None or not same:
            self.net = self.build_net(vocabulary)
        self.vocabulary = vocabulary

    def _from_data(self) -> None:
        """Take the vocabulary, CMVN statistics and frequent transcript from the DataModule's training split."""
        data = self._data()
        self._set_vocabulary(data.vocabulary())
        if self.hparams.init_from:
            self.initialise_from(self.hparams.init_from)
        cmvn = data.cmvn()
        self.cmvn.mean.copy_(cmvn.mean)
        self.cmvn.invstddev.copy_(cmvn.invstddev)
        self.frequent_transcript = data.frequent_transcript()

    def initialise_from(self, path: str | Path) -> dict[str, int]:
        """Copy another RNN-T checkpoint's weights into this network, which may have another vocabulary.

        Every tensor but the per-token ones is copied as it is (shapes must agree: the same model options).
        The per-token rows (``vocabulary_parameters``: the predictor's embedding, the joiner's output) are
        copied for each token both vocabularies have, the blank included; the other rows keep their fresh
        initialisation. Returns how many output tokens were carried over and how many are new.
        """
        checkpoint = read_checkpoint(path, "--model.init_from")
        if "vocabulary" not in checkpoint:
            raise ValueError(f"--model.init_from {path}: not an RNN-T checkpoint of recur-speech (no vocabulary)")
        old_tokens = output_tokens(vocabulary_from_state(checkpoint["vocabulary"]))
        tokens = output_tokens(self.vocabulary)
        position = {token: i for i, token in enumerate(old_tokens)}
        shared = [(i, position[token]) for i, token in enumerate(tokens) if token in position]
        new_rows, old_rows = (torch.tensor(ids) for ids in zip(*shared))
        old = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
        state = self.net.state_dict()
        for name, value in state.items():
            if name not in old:
                raise ValueError(f"--model.init_from {path}: the checkpoint's network has no {name}; same model?")
            if name in self.net.vocabulary_parameters:
                value[new_rows] = old[name][old_rows].to(value.dtype)
            elif old[name].shape != value.shape:
                raise ValueError(
                    f"--model.init_from {path}: {name} is {list(old[name].shape)} there and {list(value.shape)} "
                    "here; fine-tune with the checkpoint's model options (--model.layer, --model.model_kwargs)"
                )
            else:
                value.copy_(old[name])
        self.net.load_state_dict(state)
        return {"carried": len(shared), "new": len(tokens) - len(shared)}

    def _data(self):
        from recur_speech.datamodules import SpeechRecognitionData

        data = getattr(self.trainer, "datamodule", None)
        if not isinstance(data, SpeechRecognitionData):
            raise ValueError("RNNTTask needs a SpeechRecognitionData (data.class_path recur_speech.datamodules...)")
        if data.n_mels != self.hparams.input_dim:
            raise ValueError(
                f"model.input_dim = {self.hparams.input_dim} but the data has n_mels = {data.n_mels}; "
                f"set --model.input_dim {data.n_mels} (or --data.n_mels {self.hparams.input_dim})"
            )
        return data

    def configure_model(self) -> None:
        # a fit learns from its data; validate/test and load_from_checkpoint (no trainer) build the network from
        # the checkpoint (on_load_checkpoint)
        if self.net is None and self._trainer is not None and self.trainer.state.fn == "fit":
            self._from_data()

    def _check_lengths(self, split: str) -> None:
        stride = self.net.config.time_reduction if hasattr(self.net, "config") else 1
        shortest = self._data().shortest(split)
        if shortest < stride:
            raise ValueError(
                f"the {split} split has an utterance of {shortest} frames, shorter than time_reduction = {stride}; "
                "remove it or lower --model.model_kwargs.time_reduction"
            )

    def _ready(self, split: str) -> None:
        if self.net is None:
            # no checkpoint: an untrained network on the data's vocabulary
            self._from_data()
            self.to(self.device)
        self._check_lengths(split)

    def on_fit_start(self) -> None:
        self._check_lengths("train")
        root = Path(self.trainer.default_root_dir)
        if self.trainer.is_global_zero:
            GlobalCMVN(self.cmvn.mean.cpu(), self.cmvn.invstddev.cpu()).save(root / "global_stats.json")
            self.vocabulary.save(
                root / ("vocabulary.json" if isinstance(self.vocabulary, CharVocabulary) else "bpe.model")
            )

    def on_validation_start(self) -> None:
        self._ready("val")

    def on_test_start(self) -> None:
        self._ready("test")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["vocabulary"] = vocabulary_state(self.vocabulary)
        checkpoint["frequent_transcript"] = self.frequent_transcript

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "vocabulary" not in checkpoint:
            raise ValueError("not an RNN-T checkpoint of recur-speech (it holds no vocabulary); pass one from rnnt/...")
        self._set_vocabulary(vocabulary_from_state(checkpoint["vocabulary"]))
        self.frequent_transcript = checkpoint["frequent_transcript"]

    # ----- batches ---------------------------------------------------------------------------------------

    def features(self, batch: dict[str, Any], augment: bool) -> Tensor:
        """The features ``[B, T, input_dim]`` normalised by CMVN (padding kept at 0), masked when ``augment``."""
        features, lengths = batch["features"], batch["lengths"]
        valid = torch.arange(features.shape[1], device=features.device) < lengths[:, None]
        features = self.cmvn(features) * valid[..., None]
        return self.augment(features) if augment else features

    def encodable(self, texts: list[str]) -> bool:
        """Whether the vocabulary spells every text (a character vocabulary lacks unseen characters)."""
        symbols = getattr(self.vocabulary, "symbols", None)
        return symbols is None or all(set(text) <= set(symbols) for text in texts)

    def targets(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """Label ids ``[B, U]`` (0-padded) and their lengths ``[B]`` of ``texts``."""
        ids = [self.vocabulary.encode(text) for text in texts]
        lengths = torch.tensor([len(i) for i in ids], dtype=torch.long, device=self.device)
        targets = torch.zeros(len(ids), max(1, int(lengths.max())), dtype=torch.long, device=self.device)
        for row, i in enumerate(ids):
            targets[row, : len(i)] = torch.tensor(i, dtype=torch.long)
        return targets, lengths

    def compute_loss(self, batch: dict[str, Any]) -> Tensor:
        """The RNN-T loss of a batch with ``features`` (normalised), ``lengths``, ``targets``, ``target_lengths``."""
        logits, enc_lengths = self.net(batch["features"], batch["lengths"], batch["targets"], batch["target_lengths"])
        return transducer_loss(
            logits,
            batch["targets"],
            enc_lengths,
            batch["target_lengths"],
            self.net.blank,
            self.hparams.clamp,
            "mean",
            backend=self.loss_backend,
        )

    def _loss(self, batch: dict[str, Any], stage: str) -> Tensor:
        targets, target_lengths = self.targets(batch["texts"])
        prepared = {
            "features": self.features(batch, augment=stage == "train" and self.hparams.spec_augment),
            "lengths": batch["lengths"],
            "targets": targets,
            "target_lengths": target_lengths,
        }
        loss = self.compute_loss(prepared)
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, batch_size=len(batch["texts"]))
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._loss(batch, "train")

    def decode(self, tokens: list[list[int]]) -> list[str]:
        """Texts of label sequences (whitespace-normalised)."""
        return [" ".join(self.vocabulary.decode(t).split()) for t in tokens]

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        if self.encodable(batch["texts"]):
            self._loss(batch, stage)
        features = self.features(batch, augment=False)
        greedy = self.net.greedy(features, batch["lengths"], self.hparams.max_symbols)
        rows = [
            {"id": i, "reference": ref, "greedy": hyp}
            for i, ref, hyp in zip(batch["ids"], batch["texts"], self.decode([h.tokens for h in greedy]))
        ]
        if stage == "test":
            beams = self.net.beam_search(features, batch["lengths"], self.hparams.beam_size, self.hparams.max_symbols)
            for row, hyp in zip(rows, self.decode([beam[0].tokens for beam in beams])):
                row["beam"] = hyp
        self._outputs.extend(rows)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    def on_test_epoch_start(self) -> None:
        self._outputs = []

    def _log_rates(self, stage: str, references: list[str], hypotheses: list[str], suffix: str = "") -> None:
        for name, value in error_rates(references, hypotheses).items():
            self.log(f"{stage}/{name}{suffix}", value, prog_bar=not suffix)

    def on_validation_epoch_end(self) -> None:
        rows = self.gather_from_ranks(self._outputs)
        if rows and not self.trainer.sanity_checking:
            self._log_rates("val", [row["reference"] for row in rows], [row["greedy"] for row in rows])
        self._outputs = []

    def on_test_epoch_end(self) -> None:
        rows = self.gather_from_ranks(self._outputs)
        self._outputs = []
        if rows:
            self.log_test(rows)

    def log_test(self, rows: list[dict[str, str]]) -> None:
        """Log the test split's rates from its rows (every process's, gathered) and write ``transcripts_test.json``."""
        references, count = [row["reference"] for row in rows], len(rows)
        self._log_rates("test", references, [row["greedy"] for row in rows])
        self._log_rates("test", references, [row["beam"] for row in rows], "_beam")
        self._log_rates("test", references, [""] * count, "_blank")
        self._log_rates("test", references, [self.frequent_transcript] * count, "_frequent")
        if self.trainer.is_global_zero:
            root = Path(self.trainer.default_root_dir)
            root.mkdir(parents=True, exist_ok=True)
            (root / "transcripts_test.json").write_text(json.dumps(rows, indent=1) + "\n")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[str]:
        """The beam search's best transcript of each utterance of the batch."""
        beams = self.net.beam_search(
            self.features(batch, augment=False), batch["lengths"], self.hparams.beam_size, self.hparams.max_symbols
        )
        return self.decode([beam[0].tokens for beam in beams])
