"""The planning tasks: goal recognition (GRNet) and latent predictive coding with error regression (PV-RNN)."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recur_core.engine import RecurModule, check_data_matches, sizes_from_data
from recur_core.registry import get_model
from recur_planning.metrics import (
    mean_per_level,
    online_prediction_mse,
    random_pick_accuracy,
    recognition_accuracy,
    repeat_last_predictions,
)
from recur_planning.models.baselines import VRNN, RNNPredictor
from recur_planning.models.grnet import choose_hypothesis, score_hypotheses
from recur_planning.models.pvrnn import PVRNN
from recur_planning.plots import plot_online_predictions
from recur_planning.streaming import stream_predictions

# --- goal recognition (GRNet) --------------------------------------------------------------------------------

# the recognizers of recur_planning.recognizers a test run can score beside the model
GOAL_RECOGNITION_BASELINES: tuple[str, ...] = ("planning", "landmark")


class GoalRecognitionModule(RecurModule):
    """Goal recognition trained as multi-label classification of the goal facts (GRNet, Chiari et al. 2023).

    The model (by registered name, default ``grnet``) maps a right-padded trace of action ids to one
    logit per goal fact, trained with binary cross-entropy against the multi-hot true goal. Recognition:
    each candidate goal scores the sum of its facts' probabilities and the argmax wins, ties broken at
    random (:func:`~recur_planning.models.grnet.score_hypotheses`,
    :func:`~recur_planning.models.grnet.choose_hypothesis`).

    Batches (:class:`~recur_planning.datamodules.GoalRecognitionData`) are dicts: ``actions`` [B, T] long,
    ``targets`` [B, F] float, and on val/test ``candidates`` (per item, candidate goals as fact-index
    lists), ``correct`` (per item, the indices of the candidates equal to the true goal), ``observability``
    [B] (percent) and, on test, ``problem`` [B] (index into the DataModule's ``test_problems``).

    Logged: ``train/loss``, ``val/loss``, ``val/acc`` (recognition accuracy on the generated candidate
    sets; the best checkpoint has the highest), and at test ``test/loss``, ``test/acc`` and
    ``test/acc_<obs%>`` per observability level, ``test/acc_random`` (and per level; the expected accuracy
    of a uniform pick among the candidates), ``test/seconds_per_problem`` (model forward + scoring,
    amortised over a batch). Each name in ``baselines`` runs that recognizer of
    :mod:`recur_planning.recognizers` on the same test problems: ``test/acc_<name>``,
    ``test/acc_<name>_<obs%>``, ``test/seconds_per_problem_<name>`` (and per level). The planning-based
    recognizer takes seconds per problem, so ``planning_limit_per_level`` can run it on a seeded subset of
    the test problems; the model's accuracy on that same subset is then ``test/acc_on_planning_subset``.

    Args:
        model: registered model name.
        num_actions, num_goal_facts, max_len: the model's vocabulary sizes and longest trace; None
            takes them from the DataModule at setup (so one recipe runs on any domain); a value that
            contradicts the data is a one-line error.
        model_kwargs: further arguments of the model (``embedding_dim``, ``hidden_size``, ``layer``, ...).
        baselines: recognizers to score at test: ``"planning"`` (Ramírez & Geffner 2010) and/or
            ``"landmark"`` (Pereira et al. 2017).
        baseline_time_limit: seconds per problem of the planning-based recognizer (shared by its 2·H searches).
        planning_limit_per_level: run the planning-based recognizer on at most this many test problems per
            observability level (a subset drawn with ``tie_seed``); None: on all of them.
        tie_seed: seeds the random tie breaks of every evaluation.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        model: str = "grnet",
        num_actions: int | None = None,
        num_goal_facts: int | None = None,
        max_len: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        baselines: list[str] | None = None,
        baseline_time_limit: float = 10.0,
        planning_limit_per_level: int | None = None,
        tie_seed: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        unknown = [name for name in baselines or () if name not in GOAL_RECOGNITION_BASELINES]
        if unknown:
            raise ValueError(
                f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(GOAL_RECOGNITION_BASELINES)}"
            )
        if baseline_time_limit <= 0:
            raise ValueError(f"baseline_time_limit must be positive seconds, got {baseline_time_limit}")
        if planning_limit_per_level is not None and planning_limit_per_level < 1:
            raise ValueError(
                f"planning_limit_per_level must be at least 1 (or null: all), got {planning_limit_per_level}"
            )
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        if None not in (num_actions, num_goal_facts, max_len):
            self._build()
        self._outputs: list[dict[str, Any]] = []

    def _build(self) -> None:
        hp = self.hparams
        self.net = get_model(
            hp.model,
            num_actions=hp.num_actions,
            num_goal_facts=hp.num_goal_facts,
            max_len=hp.max_len,
            **(hp.model_kwargs or {}),
        )

    def setup(self, stage: str) -> None:
        sizes_from_data(self, ("num_actions", "num_goal_facts", "max_len"))
        check_data_matches(self, ("num_actions", "num_goal_facts", "max_len"))
        if self.net is None:
            self._build()

    def forward(self, actions: Tensor) -> Tensor:
        return self.net(actions)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        logits = self(batch["actions"])
        loss = F.binary_cross_entropy_with_logits(logits, batch["targets"])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=logits.shape[0])
        return loss

    def _recognize(self, batch: dict[str, Any], rng: np.random.Generator) -> tuple[Tensor, list[bool], float]:
        """Loss, per-item correctness and the wall time of forward + scoring for one batch."""
        start = time.perf_counter()
        logits = self(batch["actions"])
        probs = torch.sigmoid(logits)
        chosen = [
            choose_hypothesis(score_hypotheses(p, candidates), rng) for p, candidates in zip(probs, batch["candidates"])
        ]
        seconds = time.perf_counter() - start
        correct = [c in right for c, right in zip(chosen, batch["correct"])]
        loss = F.binary_cross_entropy_with_logits(logits, batch["targets"])
        return loss, correct, seconds

    def on_validation_epoch_start(self) -> None:
        self._rng = np.random.default_rng(self.hparams.tie_seed)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss, correct, _ = self._recognize(batch, self._rng)
        size = len(correct)
        self.log("val/loss", loss, prog_bar=True, batch_size=size)
        self.log("val/acc", float(np.mean(correct)), prog_bar=True, batch_size=size)

    def on_test_epoch_start(self) -> None:
        self._rng = np.random.default_rng(self.hparams.tie_seed)
        self._outputs = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss, correct, seconds = self._recognize(batch, self._rng)
        size = len(correct)
        self.log("test/loss", loss, batch_size=size)
        self._outputs.append(
            {
                "correct": correct,
                "levels": batch["observability"].tolist(),
                "random": random_pick_accuracy(
                    [len(right) for right in batch["correct"]], [len(c) for c in batch["candidates"]]
                ).tolist(),
                "seconds": [seconds / size] * size,
                "problems": batch["problem"].tolist(),
            }
        )

    def on_test_epoch_end(self) -> None:
        keys = ("correct", "levels", "random", "seconds", "problems")
        # one tuple per test problem, every process's
        items = self.gather_from_ranks([item for out in self._outputs for item in zip(*(out[k] for k in keys))])
        if not items:
            return
        rows = dict(zip(keys, map(list, zip(*items))))
        levels = rows["levels"]
        scores = recognition_accuracy(rows["correct"], levels)
        scores["acc_random"] = float(np.mean(rows["random"]))
        scores.update({f"acc_random_{lvl}": v for lvl, v in mean_per_level(rows["random"], levels).items()})
        scores["seconds_per_problem"] = float(np.mean(rows["seconds"]))
        model_correct = dict(zip(rows["problems"], rows["correct"]))
        for name in self.hparams.baselines or ():
            scores.update(self._baseline_scores(name, model_correct))
        for name, value in scores.items():
            self.log(f"test/{name}", value)

    def _baseline_scores(self, name: str, model_correct: dict[int, bool]) -> dict[str, float]:
        """Run recognizer ``name`` on the DataModule's test problems: accuracy and seconds per problem, per level.

        ``model_correct`` maps a test problem's index to whether the model chose right (for the subset score).
        """
        from recur_planning.recognizers import LandmarkRecognizer, PlanningRecognizer

        data = self.trainer.datamodule
        problems = getattr(data, "test_problems", None)
        if not problems:
            raise ValueError(f"the baseline {name!r} needs the DataModule's test_problems; it has none")
        # the noisy archives' spurious observations may name no grounded action: left out, as for GRNet
        unknown = "skip" if getattr(data, "noisy", False) else "error"
        if name == "planning":
            recognizer = PlanningRecognizer(time_limit=self.hparams.baseline_time_limit, unknown_actions=unknown)
        else:
            recognizer = LandmarkRecognizer(unknown_actions=unknown)
        chosen = range(len(problems))
        limit = self.hparams.planning_limit_per_level
        if name == "planning" and limit is not None:
            chosen = _per_level_subset([p.observability for p in problems], limit, self.hparams.tie_seed)
        correct, seconds, levels = [], [], []
        for problem in (problems[i] for i in chosen):
            result = recognizer.recognize(problem)
            correct.append(problem.is_correct(result.chosen))
            seconds.append(result.seconds)
            levels.append(problem.observability)
        scores = {
            f"{key.replace('acc', f'acc_{name}', 1)}": v for key, v in recognition_accuracy(correct, levels).items()
        }
        scores[f"seconds_per_problem_{name}"] = float(np.mean(seconds))
        scores.update({f"seconds_per_problem_{name}_{lvl}": v for lvl, v in mean_per_level(seconds, levels).items()})
        if len(chosen) < len(problems):
            scores[f"acc_on_{name}_subset"] = float(np.mean([model_correct[i] for i in chosen]))
        return scores

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """The goal-fact probabilities [B, F]."""
        return torch.sigmoid(self(batch["actions"]))


def _per_level_subset(levels: list[int], limit: int, seed: int) -> list[int]:
    """Indices of at most ``limit`` items per level, drawn at random with ``seed``, in their original order."""
    rng = np.random.default_rng(seed)
    kept = []
    for level in sorted(set(levels)):
        indices = [i for i, lvl in enumerate(levels) if lvl == level]
        kept.extend(rng.permutation(indices)[:limit].tolist())
    return sorted(kept)


# --- online prediction of behaviour trajectories (PV-RNN and its baselines) ---------------------------------

# models whose posterior lives in per-training-sequence parameters, sized by num_sequences x seq_len
_PER_SEQUENCE_MODELS = {"pvrnn": PVRNN}
# registered models this task trains (the import above registers them)
PREDICTIVE_MODELS = {"pvrnn": PVRNN, "rnn_predictor": RNNPredictor, "vrnn": VRNN}


class PredictiveCodingModule(RecurModule):
    """Learn sequences of behaviour primitives, then predict new ones online (PV-RNN, Ahmadi & Tani 2019).

    Training minimises the model's own objective (``net.training_loss(x, index)``): PV-RNN's negative
    ELBO with adaptive-vector posteriors picked by each training sequence's ``index``, the VRNN's ELBO,
    or the deterministic RNN's next-step MSE. Logged: ``train/loss``, ``train/rec``, ``train/kl``
    (weighted KL, latent models).

    Validation and test read sequences the model has not seen, online: after each observation x_t the
    model's online predictor (``net.online_predictor``: error regression over the last ``window`` steps
    with ``iterations`` Adam steps at ``er_lr`` for PV-RNN; filtering then a closed-loop rollout for the
    baselines) predicts x_{t+1..t+H}. Scored (:func:`~recur_planning.metrics.online_prediction_mse`)
    from step ``eval_start`` on: ``<stage>/pred_mse`` (the best checkpoint has the lowest
    ``val/pred_mse``), ``<stage>/pred_mse_repeat_last`` (x_t held for H steps) and
    ``<stage>/skill_repeat_last`` = 1 − MSE / MSE_repeat_last. Validation streams the first ``val_steps``
    steps of each sequence (error regression is the expensive part), test the whole sequence.
    Train the baselines with the same recipe and ``--model.model rnn_predictor`` or ``vrnn`` for the
    comparison on the same data.

    Args:
        model: ``"pvrnn"``, ``"rnn_predictor"`` or ``"vrnn"``.
        model_kwargs: the model's options (``d_sizes``, ``w``, ``layer``, ...).
        input_dim: D; None takes it from the DataModule.
        num_sequences, seq_len: PV-RNN's adaptive vectors (the training split's size and length); None
            takes them from the DataModule.
        horizon: H, steps predicted after each observation.
        eval_start: first step scored (the first window should be full: ``window`` - 1 or later).
        val_steps: steps streamed per validation sequence (None: all).
        window, iterations, er_lr, er_sample: error regression (PV-RNN): W, N, Adam's learning rate, and
            whether z is sampled while regressing (the derivative code's) or the means are used.
        seed: seeds error regression's noise.
        lr, weight_decay, warmup_steps, scheduler: see :class:`~recur_core.engine.RecurModule`.

    Shapes:
        batch ``{"inputs": [B, T, D], "index": [B], "labels": [B, T]}``.
    """

    monitor = "val/pred_mse"
    monitor_mode = "min"

    def __init__(
        self,
        model: str = "pvrnn",
        model_kwargs: dict[str, Any] | None = None,
        input_dim: int | None = None,
        num_sequences: int | None = None,
        seq_len: int | None = None,
        horizon: int = 10,
        eval_start: int = 10,
        val_steps: int | None = 40,
        window: int = 10,
        iterations: int = 50,
        er_lr: float = 0.09,
        er_sample: bool = False,
        seed: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        scheduler: Literal["constant", "cosine"] = "constant",
    ) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, scheduler=scheduler)
        if model not in PREDICTIVE_MODELS:
            raise ValueError(f"unknown model {model!r} for online prediction; valid: {', '.join(PREDICTIVE_MODELS)}")
        if min(horizon, window) < 1 or iterations < 0 or eval_start < 0 or er_lr <= 0:
            raise ValueError(
                f"need horizon, window >= 1, iterations, eval_start >= 0, er_lr > 0; got {horizon}, {window}, "
                f"{iterations}, {eval_start}, {er_lr}"
            )
        if val_steps is not None and val_steps <= eval_start + horizon:
            raise ValueError(
                f"val_steps {val_steps} leaves no step to score after eval_start {eval_start} with horizon {horizon}; "
                "raise --model.val_steps"
            )
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        if input_dim is not None and (model not in _PER_SEQUENCE_MODELS or None not in (num_sequences, seq_len)):
            self._build()

    def _build(self) -> None:
        options = {"input_dim": self.hparams.input_dim}
        if self.hparams.model in _PER_SEQUENCE_MODELS:
            options |= {"num_sequences": self.hparams.num_sequences, "seq_len": self.hparams.seq_len}
        self.net = get_model(self.hparams.model, **options, **(self.hparams.model_kwargs or {}))

    def setup(self, stage: str) -> None:
        names = ("input_dim", "num_sequences", "seq_len")
        sizes_from_data(self, names)
        # a PV-RNN checkpoint fits only a training split of its size; the others read any data
        check_data_matches(self, names if self.hparams.model in _PER_SEQUENCE_MODELS else ("input_dim",))
        if self.net is None:
            self._build()

    def online_predictor(self):
        """The model's streaming predictor with this task's horizon and error-regression options."""
        h = self.hparams
        return self.net.online_predictor(
            horizon=h.horizon, window=h.window, iterations=h.iterations, lr=h.er_lr, sample=h.er_sample, seed=h.seed
        )

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x = batch["inputs"]
        terms = self.net.training_loss(x, batch["index"])
        logged = {"on_step": False, "on_epoch": True, "batch_size": x.shape[0]}
        self.log("train/loss", terms["loss"], prog_bar=True, **logged)
        self.log("train/rec", terms["rec"], **logged)
        if "kl" in terms:
            self.log("train/kl", terms["kl"], **logged)
        return terms["loss"]

    def _online(self, sequences: Tensor, steps: int | None) -> Tensor:
        was_training = self.net.training
        self.net.eval()
        predictions = stream_predictions(self.online_predictor(), sequences, self.hparams.horizon, steps)
        self.net.train(was_training)
        return predictions

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        x = batch["inputs"]
        steps = self.hparams.val_steps if stage == "val" else None
        x = x if steps is None else x[:, :steps]
        start, horizon = self.hparams.eval_start, self.hparams.horizon
        mse = online_prediction_mse(self._online(x, None).cpu(), x.cpu(), start)
        baseline = online_prediction_mse(repeat_last_predictions(x.cpu(), horizon), x.cpu(), start)
        logged = {"on_step": False, "on_epoch": True, "batch_size": x.shape[0]}
        self.log(f"{stage}/pred_mse", mse, prog_bar=True, **logged)
        self.log(f"{stage}/pred_mse_repeat_last", baseline, **logged)
        self.log(f"{stage}/skill_repeat_last", 1.0 - mse / baseline, **logged)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Online predictions [B, T, H, D]: entry t predicts x_{t+1..t+H} after reading x_0..x_t."""
        return self._online(batch["inputs"], None)

    def on_fit_plots(self, run_dir) -> None:
        """``predictions.png``: online predictions of a validation sequence; PV-RNN's free generation beside."""
        data = getattr(self.trainer, "datamodule", None)
        values = getattr(data.dataset("val"), "values", None) if data is not None else None
        if values is None:
            return
        sequence = values[:1, : self.hparams.val_steps].to(self.device)
        predictions = self._online(sequence, None)[0].cpu().numpy()
        generated = None
        if isinstance(self.net, PVRNN):
            generator = torch.Generator(self.device).manual_seed(self.hparams.seed)
            generated = self.net.generate(values.shape[1], generator=generator)[0].cpu().numpy()
        plot_online_predictions(
            run_dir / "predictions.png",
            sequence[0].cpu().numpy(),
            {self.hparams.model: predictions},
            generated,
            title=f"{self.hparams.model}: online prediction (H = {self.hparams.horizon}) of a validation sequence",
        )
