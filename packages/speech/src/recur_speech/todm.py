"""TODM training: an RNN-T supernet trained by the sandwich rule with in-place α-divergence distillation.

Shangguan et al., "TODM: Train Once Deploy Many", 2023, https://arxiv.org/abs/2309.01947; the sandwich rule and
the distillation loss as AlphaNet (Wang et al., ICML 2021, ``facebookresearch/AlphaNet``,
``configs/train_alphanet_models.yml``: 4 subnets per step). The supernet and the loss are in
:mod:`recur_speech.models.todm`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from recur_core.registry import get_model
from recur_speech.data.vocab import Vocabulary
from recur_speech.metrics import error_rates
from recur_speech.models.rnnt import transducer_loss
from recur_speech.models.todm import SubnetConfig, TODMSupernet, adaptive_alpha_divergence
from recur_speech.task import RNNTTask

__all__ = ["TODMTask"]


def _tag(config: SubnetConfig) -> str:
    return f"d{config.depth}_w{config.width}"


class TODMTask(RNNTTask):
    """Speech recognition with a TODM supernet (:class:`~recur_speech.models.todm.TODMSupernet`) on log-mel features.

    Each training step runs the sandwich rule over 2 + ``random_subnets`` subnets (AlphaNet: 4 in all) and
    sums their losses into one update of the shared weights:

    - the largest subnet (the supernet itself): the RNN-T loss;
    - the smallest and ``random_subnets`` subnets drawn uniformly from the search space: the RNN-T loss plus
      ``distill_weight`` × the in-place α-divergence from the detached largest subnet's joiner softmax over
      the (T, U) lattice (:func:`~recur_speech.models.todm.adaptive_alpha_divergence`: the larger of
      α = ``alpha_min`` and ``alpha_max`` per utterance, importance weights clipped at ``iw_clip``);
    - every subnet runs with its adaptive dropout (``min_dropout`` for the smallest up to the model's
      ``dropout`` for the largest, linear in the parameter count; TODM's schedule is unverified).

    The random draws come from a generator seeded by ``subnet_seed`` and the global step, so a resumed run
    draws the same subnets as an uninterrupted one. Features, CMVN, SpecAugment, the loss options and
    the scores are :class:`~recur_speech.task.RNNTTask`'s; validation and ``test/wer`` score the largest
    subnet. With ``eval_subnets`` (a list of ``[depth, width]``, or ``"all"``), ``test`` also exports each
    of those subnets (:meth:`~recur_speech.models.todm.TODMSupernet.export`) and logs its greedy
    ``test/wer_d<depth>_w<width>``, ``test/cer_...`` and parameter count ``test/params_...``, and writes
    ``subnets_test.json``. ``eval_subnets`` is a test-time choice, kept out of the checkpoint's hyperparameters.

    Args:
        depths: the encoder depths of the search space (default: ``n_layers`` only).
        widths: the encoder widths of the search space (default: ``d_model`` only).
        min_dropout: the smallest subnet's dropout.
        random_subnets: subnets drawn at random per step, besides the largest and the smallest.
        distill_weight: the weight of the distillation term.
        alpha_min, alpha_max: the α pair of the adaptive divergence (AlphaNet: −1 and +1).
        iw_clip: the importance-weight clip (AlphaNet: 5).
        subnet_seed: seeds the random subnet draws (with the global step).
        eval_subnets: the subnets ``test`` scores besides the largest.
        model: ``"todm"``.
        **kwargs: :class:`~recur_speech.task.RNNTTask`'s options.
    """

    def __init__(
        self,
        depths: list[int] | None = None,
        widths: list[int] | None = None,
        min_dropout: float = 0.0,
        random_subnets: int = 2,
        distill_weight: float = 1.0,
        alpha_min: float = -1.0,
        alpha_max: float = 1.0,
        iw_clip: float = 5.0,
        subnet_seed: int = 0,
        eval_subnets: list[tuple[int, int]] | Literal["all"] | None = None,
        model: str = "todm",
        **kwargs: Any,
    ) -> None:
        if model != "todm":
            raise ValueError(
                f"TODMTask trains the 'todm' supernet, got model={model!r}; for a plain RNN-T use RNNTTask"
            )
        if random_subnets < 0 or distill_weight < 0 or iw_clip <= 0:
            raise ValueError(
                f"random_subnets and distill_weight must be >= 0 and iw_clip > 0, "
                f"got {random_subnets}, {distill_weight}, {iw_clip}"
            )
        super().__init__(model=model, **kwargs)
        # a test option, kept out of the checkpoint: a test without it scores the largest subnet, whatever the fit had
        self.eval_subnet_choice = self.hparams.pop("eval_subnets")
        self._exported: dict[SubnetConfig, Any] = {}

    def build_net(self, vocabulary: Vocabulary) -> TODMSupernet:
        """The supernet for ``vocabulary`` from the hyperparameters."""
        hp = self.hparams
        return get_model(
            hp.model,
            input_dim=hp.input_dim,
            vocab_size=vocabulary.size,
            blank=vocabulary.blank,
            layer=hp.layer,
            layer_kwargs=hp.layer_kwargs,
            depths=hp.depths,
            widths=hp.widths,
            min_dropout=hp.min_dropout,
            **(hp.model_kwargs or {}),
        )

    # ----- training: the sandwich rule ---------------------------------------------------------------------

    def sandwich(self, step: int) -> list[SubnetConfig]:
        """The subnets trained at global step ``step``: largest, smallest, then the random draws."""
        generator = torch.Generator().manual_seed(self.hparams.subnet_seed * 1_000_003 + step)
        net = self.net
        return [net.largest, net.smallest, *(net.sample(generator) for _ in range(self.hparams.random_subnets))]

    def _rnnt_loss(self, logits: Tensor, enc_lengths: Tensor, batch: dict[str, Any]) -> Tensor:
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

    def compute_loss(self, batch: dict[str, Any]) -> Tensor:
        """Training: the sandwich rule's summed loss (class docstring); evaluation: the largest subnet's RNN-T loss."""
        if not self.training:
            return super().compute_loss(batch)
        hp = self.hparams
        inputs = (batch["features"], batch["lengths"], batch["targets"], batch["target_lengths"])
        # the first of the sandwich is the largest subnet: the supernet itself, the teacher
        others = self.sandwich(self.global_step)[1:]
        teacher, enc_lengths = self.net(*inputs)
        total = self._rnnt_loss(teacher, enc_lengths, batch)
        size = len(batch["lengths"])
        self.log("train/loss_largest", total, batch_size=size)
        distill_total = total.new_zeros(())
        for config in others:
            logits, _ = self.net.subnet(config)(*inputs)
            distill = adaptive_alpha_divergence(
                logits,
                teacher.detach(),
                enc_lengths,
                batch["target_lengths"],
                hp.alpha_min,
                hp.alpha_max,
                hp.iw_clip,
            ).mean()
            total = total + self._rnnt_loss(logits, enc_lengths, batch) + hp.distill_weight * distill
            distill_total = distill_total + distill.detach()
        if others:
            self.log("train/distill", distill_total / len(others), batch_size=size)
        return total

    # ----- test: the subnets ---------------------------------------------------------------------------------

    def eval_subnets(self) -> list[SubnetConfig]:
        """The subnets ``test`` scores besides the largest (``eval_subnets``), checked against the supernet."""
        chosen = self.eval_subnet_choice
        if chosen is None:
            return []
        if chosen == "all":
            return self.net.subnets()
        return [self.net.check(SubnetConfig(*map(int, pair))) for pair in chosen]

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._exported = {config: self.net.export(config) for config in self.eval_subnets()}

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        super()._evaluate(batch, stage)
        if stage != "test":
            return
        features = self.features(batch, augment=False)
        rows = self._outputs[-len(batch["texts"]) :]
        for config, model in self._exported.items():
            hypotheses = model.greedy(features, batch["lengths"], self.hparams.max_symbols)
            for row, hypothesis in zip(rows, self.decode([h.tokens for h in hypotheses])):
                row[f"greedy_{_tag(config)}"] = hypothesis

    def log_test(self, rows: list[dict[str, str]]) -> None:
        """The largest's rates (as an RNN-T), then each exported subnet's rates and parameter count
        (also written to ``subnets_test.json``)."""
        super().log_test(rows)
        references, scored = [row["reference"] for row in rows], []
        for config in self._exported:
            rates = error_rates(references, [row[f"greedy_{_tag(config)}"] for row in rows])
            parameters = self.net.parameter_count(config)
            for name, value in rates.items():
                self.log(f"test/{name}_{_tag(config)}", value)
            self.log(f"test/params_{_tag(config)}", float(parameters))
            scored.append({"depth": config.depth, "width": config.width, "parameters": parameters, **rates})
        if scored and self.trainer.is_global_zero:
            root = Path(self.trainer.default_root_dir)
            root.mkdir(parents=True, exist_ok=True)
            (root / "subnets_test.json").write_text(json.dumps(scored, indent=1) + "\n")

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self._exported = {}
