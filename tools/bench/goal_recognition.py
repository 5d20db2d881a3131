"""Seconds per goal-recognition problem: GRNet's inference against the planning- and landmark-based recognizers.

    RECUR_DATA=../shared/data .venv/bin/python tools/bench/goal_recognition.py                # ~2.5 min
    RECUR_DATA=../shared/data .venv/bin/python tools/bench/goal_recognition.py --domains logistics --levels 30 \\
        --problems 5 --planning-seconds 30
    .venv/bin/python tools/bench/goal_recognition.py --embedded                                # no data needed

GRNet's claim (Chiari et al., ICAPS 2023) is accuracy comparable to a model-based recognizer at a small
fraction of its time per problem. On the same seeded benchmark problems (``--problems`` per observability
level of each of ``--domains``; ``--embedded``: the package's own 5-block problems) this times

- ``planning``: :class:`recur_planning.recognizers.PlanningRecognizer` (Ramírez & Geffner 2010, pyperplan
  ``--search`` + ``--heuristic``, ``--planning-seconds`` per problem shared by its 2·H searches); its
  wall time per problem, accuracy, and the problems where some search ran out of time;
- ``landmark``: :class:`recur_planning.recognizers.LandmarkRecognizer` (Pereira et al. 2017, h_gc); its
  wall time per problem with the landmarks of each template computed once (``first`` gives the time of
  the first problem of a template, landmarks included), and accuracy;
- ``grnet``: :class:`recur_planning.models.grnet.GRNet` (embedding 64, LSTM 64, HAN attention; the vocabulary
  of the problem's grounded template) forward + candidate scoring, per problem at batch 1 and amortised
  over a batch of all the level's problems. The weights are as initialised, since the time does not depend
  on them: accuracy comes from training (``tools/repro/grnet.py``), so it is not reported here.

Printed per domain and level: accuracy and seconds per problem of each; ``results.csv`` under ``--out``.
One thread (``OMP_NUM_THREADS=1``), as on a shared CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from recur_core.repro import write_rows
from recur_planning.data.embedded import write_embedded_benchmark
from recur_planning.data.goal_recognition import GoalRecognitionProblem, benchmark_problems, folder_problems
from recur_planning.data.pddl import ground
from recur_planning.models.grnet import GRNet, score_hypotheses
from recur_planning.recognizers import LandmarkRecognizer, PlanningRecognizer


class GRNetTimer:
    """An untrained GRNet per template (its grounded actions and facts), timed on problems' observations."""

    def __init__(self) -> None:
        self.models: dict[str, tuple[GRNet, dict[str, int], dict[str, int]]] = {}

    def _model(self, problem: GoalRecognitionProblem) -> tuple[GRNet, dict[str, int], dict[str, int]]:
        if problem.template_key not in self.models:
            grounded = ground(problem.domain, problem.template)
            actions = {name: i + 1 for i, name in enumerate(grounded.actions)}
            facts = {fact: i for i, fact in enumerate(grounded.facts)}
            model = GRNet(num_actions=len(actions), num_goal_facts=len(facts), max_len=128).eval()
            self.models[problem.template_key] = (model, actions, facts)
        return self.models[problem.template_key]

    def inputs(self, problem: GoalRecognitionProblem) -> tuple[GRNet, list[int], list[list[int]]]:
        model, actions, facts = self._model(problem)
        ids = [actions[name] for name in problem.observations if name in actions][: model.max_len]
        hypotheses = [[facts.get(f, -1) for f in sorted(goal)] for goal in problem.hypotheses]
        return model, ids or [1], hypotheses

    @torch.no_grad()
    def seconds(self, problems: list[GoalRecognitionProblem]) -> tuple[float, float]:
        """(seconds per problem at batch 1, seconds per problem batched by template)."""
        prepared = [self.inputs(p) for p in problems]
        single = []
        for model, ids, hypotheses in prepared:
            start = time.perf_counter()
            probs = torch.sigmoid(model(torch.tensor([ids])))[0]
            int(score_hypotheses(probs, hypotheses).argmax())
            single.append(time.perf_counter() - start)
        start = time.perf_counter()
        groups: dict[int, list[tuple[list[int], list[list[int]]]]] = {}
        models = {}
        for model, ids, hypotheses in prepared:
            groups.setdefault(id(model), []).append((ids, hypotheses))
            models[id(model)] = model
        for key, items in groups.items():
            width = max(len(ids) for ids, _ in items)
            batch = torch.tensor([ids + [0] * (width - len(ids)) for ids, _ in items])
            probs = torch.sigmoid(models[key](batch))
            for row, (_, hypotheses) in enumerate(items):
                int(score_hypotheses(probs[row], hypotheses).argmax())
        batched = (time.perf_counter() - start) / len(prepared)
        return statistics.median(single), batched


def _problems(args: argparse.Namespace, domain: str, level: int, folder: Path | None) -> list[GoalRecognitionProblem]:
    if folder is not None:
        return folder_problems(folder, observability=[level], limit_per_level=args.problems, seed=args.seed)
    return benchmark_problems(
        domain, root=args.root, observability=[level], noisy=args.noisy, limit_per_level=args.problems, seed=args.seed
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", nargs="+", default=["blocks-world", "logistics"])
    parser.add_argument("--levels", nargs="+", type=int, default=[30, 100])
    parser.add_argument("--problems", type=int, default=2, help="problems per observability level")
    parser.add_argument("--planning-seconds", type=float, default=20.0, help="time limit per problem")
    parser.add_argument("--search", default="gbfs", choices=["gbfs", "astar"])
    parser.add_argument("--heuristic", default="hff", choices=["hff", "lmcut", "hmax"])
    parser.add_argument("--no-planning", action="store_true", help="skip the planning-based recognizer")
    parser.add_argument("--noisy", action="store_true", help="the -noisy variants (unknown actions skipped)")
    parser.add_argument("--embedded", action="store_true", help="the package's own 5-block problems instead")
    parser.add_argument("--root", default=None, help="data root (default $RECUR_DATA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/goal_recognition"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    folder = None
    if args.embedded:
        folder = write_embedded_benchmark(Path(tempfile.mkdtemp()) / "blocks", num_problems=20, seed=args.seed)
        args.domains = ["embedded-blocks"]
    unknown = "skip" if args.noisy else "error"
    planning = PlanningRecognizer(
        args.planning_seconds, search=args.search, heuristic=args.heuristic, unknown_actions=unknown
    )
    landmark = LandmarkRecognizer(unknown_actions=unknown)
    grnet = GRNetTimer()
    rows = []
    print(f"{'domain':<16}{'obs%':>5}{'n':>4}  {'recognizer':<10}{'accuracy':>9}{'s/problem':>11}  notes")
    for domain in args.domains:
        for level in args.levels:
            problems = _problems(args, domain, level, folder)
            seen: set[str] = set()
            firsts, lm_seconds, lm_correct = [], [], []
            for problem in problems:
                result = landmark.recognize(problem)
                (lm_seconds if problem.template_key in seen else firsts).append(result.seconds)
                seen.add(problem.template_key)
                lm_correct.append(problem.is_correct(result.chosen))
            single, batched = grnet.seconds(problems)
            found = [
                ("landmark", np.mean(lm_correct), statistics.mean(lm_seconds or firsts), f"first {max(firsts):.3f} s"),
                ("grnet", float("nan"), single, f"batched {batched:.5f} s; untrained: time only"),
            ]
            if not args.no_planning:
                results = [planning.recognize(p) for p in problems]
                correct = [p.is_correct(r.chosen) for p, r in zip(problems, results, strict=True)]
                late = sum(r.any_timed_out for r in results)
                seconds = statistics.mean(r.seconds for r in results)
                found.insert(0, ("planning", np.mean(correct), seconds, f"{late}/{len(results)} with timeouts"))
            for name, accuracy, seconds, note in found:
                print(f"{domain:<16}{level:>5}{len(problems):>4}  {name:<10}{accuracy:>9.2f}{seconds:>11.4f}  {note}")
                rows.append(
                    {
                        "domain": domain,
                        "level": level,
                        "problems": len(problems),
                        "recognizer": name,
                        "accuracy": accuracy,
                        "seconds_per_problem": seconds,
                        "note": note,
                    }
                )
    print(f"results: {write_rows(args.out / 'results.csv', rows, digits=5)}")


if __name__ == "__main__":
    main()
