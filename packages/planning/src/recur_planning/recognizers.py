"""Planning-based goal recognizers, the baselines GRNet is compared with.

Both take a :class:`~recur_planning.data.goal_recognition.GoalRecognitionProblem` (a domain, an
initial state, candidate goals ``G`` and observed actions ``O = o_1 … o_m``) and score every
candidate; the chosen goal is the argmax, ties broken at random with a generator seeded by the
recognizer's ``seed`` and the problem's name (so the choice does not depend on the order problems
are seen in). PDDL is parsed and grounded by pyperplan through :mod:`recur_planning.data.pddl`.

**PlanningRecognizer** — Ramírez and Geffner (2010), "Probabilistic Plan Recognition Using
Off-the-Shelf Classical Planners", AAAI, https://ojs.aaai.org/index.php/AAAI/article/view/7745.
For each candidate goal G two costs are computed with a planner: ``c(G, O)``, the cost of the best
plan for G that embeds the observations in order, and ``c(G, ¬O)``, the cost of the best plan for G
that does not. With uniform priors and unit action costs

.. math::

    Δ(G, O) = c(G, ¬O) − c(G, O), \\qquad
    P(O | G) = \\frac{e^{-β c(G, O)}}{e^{-β c(G, O)} + e^{-β c(G, ¬O)}} = σ(β Δ), \\qquad
    P(G | O) ∝ P(O | G).

The paper compiles O into the domain with conditional effects ("an observed action, done when
the observations before it are explained, explains the next one"); pyperplan is STRIPS only, so
:func:`compile_observations` compiles them away on the grounded task: a counter of explained
observations (facts ``(obs-explained k)``, exactly one true), for every observation i a copy of
its operator that needs ``(obs-explained i-1)`` and moves the counter to i, and for every observed
action a fact ``(obs-free a)`` ("the next observation is not a") that the original operator now
needs — so executing the next observed action always explains it, and a plan reaches
``(obs-explained m)`` exactly when it embeds O. ¬O is the goal fact ``(obs-pending)``, true
initially and deleted by the copy that explains the last observation. (Keeping the original
operators unrestricted, as in Ramírez and Geffner 2009, would make every plan for G a plan for
G ∧ ¬O and Δ never positive.) Costs come from :func:`recur_planning.data.pddl.solve`: A* with an
admissible heuristic (``search="astar", heuristic="lmcut"``) gives the optimal costs the method
assumes; the default GBFS + h_FF is much faster and approximate, like the paper's satisficing
planner runs. The problem's ``time_limit`` is shared by its searches: each gets the time left
divided by the searches left (the c(G, O) searches first, keeping half the time for the others).
A search that times out is recorded in :attr:`Recognition.timed_out`; a c(G, O) that is unknown
counts as infinite (P(O | G) = 0, as for a goal no plan of which embeds O), an unknown c(G, ¬O) as
Δ = 0 (P(O | G) = 1/2: no evidence either way). pyperplan is pure Python, so this is slow: with 30 s
per problem, blocks-world (20-21 candidates) takes 15-30 s a problem and most problems have some search
out of time; logistics (10 candidates) 2-4 s unless its observations are long. A* + LM-cut is about as
fast as GBFS on blocks-world (and exact: at 30% observability the true goal then often ties with
others, as Ramírez and Geffner's method predicts) but far too slow on logistics's 2,748 operators.

**LandmarkRecognizer** — Pereira, Oren and Meneguzzi (2017), "Landmark-Based Heuristics for
Goal Recognition", AAAI, https://doi.org/10.1609/aaai.v31i1.11021 — goal completion

.. math::

    h_{gc}(G) = \\frac{1}{|G|} \\sum_{g ∈ G} \\frac{|AL_g|}{|L_g|},

where ``L_g`` are the fact landmarks of the sub-goal g as pyperplan's
``heuristics.landmarks.get_landmarks`` defines them for the goal ``{g}`` (every fact without which
g is unreachable in the delete relaxation, g included), computed for all sub-goals at once by
:class:`FactLandmarks` (equal to ``get_landmarks``, 10-100× faster), and ``AL_g ⊆ L_g`` those achieved:
true in the initial state, or a precondition or add effect of an observed action. pyperplan gives
no landmark orderings, so the paper's step that also marks an achieved landmark's predecessors is
left out. The paper returns every goal within a threshold θ of the best; here θ = 0 (the argmax).

Shapes: ``Recognition.scores [H]`` (H candidates), ``Recognition.costs [H, 2]`` (with, without O).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pyperplan.task import Operator, Task

from recur_planning.data.goal_recognition import GoalRecognitionProblem
from recur_planning.data.pddl import (
    GoalUnreachable,
    NegativePreconditionOperator,
    SearchTimeout,
    ground,
    solve,
    with_goal,
)

__all__ = [
    "FactLandmarks",
    "LandmarkRecognizer",
    "PlanningRecognizer",
    "Recognition",
    "compile_observations",
    "explained_actions",
]

_EXPLAINS = " [explains obs "


@dataclass
class Recognition:
    """A recognizer's answer for one problem.

    Attributes:
        scores: one per candidate, higher = more likely (``PlanningRecognizer``: P(G | O), summing
            to 1 unless every candidate is impossible; ``LandmarkRecognizer``: h_gc in [0, 1]).
        chosen: the argmax, random among ties.
        seconds: wall time of the recognition, grounding included.
        costs: ``[H, 2]`` plan costs with and without the observations (``PlanningRecognizer``
            only; ``inf`` for no plan or a timeout).
        timed_out: ``[H, 2]`` which of those searches ran out of time.
        skipped: observations left out because the grounded domain has no such action
            (``unknown_actions="skip"``, e.g. the noisy logistics archives' ``(drive-truck t p p c)``).
    """

    scores: np.ndarray
    chosen: int
    seconds: float
    costs: np.ndarray | None = None
    timed_out: np.ndarray | None = None
    skipped: int = 0

    @property
    def any_timed_out(self) -> bool:
        return bool(self.timed_out is not None and self.timed_out.any())


def _argmax_random_ties(scores: np.ndarray, seed: int, name: str) -> int:
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])


def _copy(op: Operator, name: str, preconditions, add_effects, del_effects) -> Operator:
    """``op`` with new name and effects, keeping the negative preconditions of P1's operators (dwr)."""
    negative = getattr(op, "negative_preconditions", None)
    if negative:
        return NegativePreconditionOperator(name, preconditions, add_effects, del_effects, negative)
    return Operator(name, preconditions, add_effects, del_effects)


def _observed_operators(task: Task, observations: Sequence[str], where: str) -> list[list[Operator]]:
    """Every version of each observed action (campus and kitchen define some actions twice)."""
    by_name: dict[str, list[Operator]] = {}
    for op in task.operators:
        by_name.setdefault(op.name, []).append(op)
    missing = [name for name in observations if name not in by_name]
    if missing:
        raise ValueError(
            f"{where}: observed action {missing[0]} is not an action of the grounded domain; "
            "check obs.dat against domain.pddl and template.pddl (objects, arity), or pass unknown_actions='skip'"
        )
    return [by_name[name] for name in observations]


def _usable_observations(grounded, problem: GoalRecognitionProblem, unknown_actions: str) -> tuple[str, ...]:
    """The problem's observations, checked against the grounded actions (or the unknown ones dropped)."""
    if unknown_actions == "skip":
        known = set(grounded.actions)
        return tuple(name for name in problem.observations if name in known)
    _observed_operators(grounded.task, problem.observations, str(problem.path))
    return problem.observations


def _check_unknown_actions(unknown_actions: str) -> str:
    if unknown_actions not in ("error", "skip"):
        raise ValueError(f"unknown_actions must be 'error' or 'skip', got {unknown_actions!r}")
    return unknown_actions


def compile_observations(task: Task, observations: Sequence[str]) -> tuple[Task, Task]:
    """Two STRIPS tasks whose plans are the plans for ``task``'s goal that do / do not embed ``observations``.

    See the module docstring for the compilation. Plans of either task use operator names of
    ``task`` plus copies named ``"<action> [explains obs i]"``; :func:`explained_actions` maps
    them back.

    Args:
        task: a grounded pyperplan task with the candidate goal (:func:`~recur_planning.data.pddl.with_goal`,
            which drops the goal's statically true facts).
        observations: observed operator names, in order (at least one).

    Returns:
        ``(with_o, without_o)``: goals ``G ∪ {(obs-explained m)}`` and ``G ∪ {(obs-pending)}``, G the task's goal.

    Raises:
        ValueError: no observations, or an observation that is not an operator of ``task``.
    """
    if not observations:
        raise ValueError("compile_observations needs at least one observation")
    observed = _observed_operators(task, observations, f"task {task.name}")
    m = len(observed)
    explained = [f"(obs-explained {k})" for k in range(m + 1)]
    pending = "(obs-pending)"
    names = [versions[0].name for versions in observed]
    distinct = sorted(set(names))
    free = {name: f"(obs-free {name})" for name in distinct}
    clash = (set(explained) | set(free.values()) | {pending}) & set(task.facts)
    if clash:
        raise ValueError(f"task {task.name} already has the fact {sorted(clash)[0]}, which the compilation needs")

    # Original operators; an observed action can run uncounted only while the next observation is another one.
    operators = [
        _copy(op, op.name, op.preconditions | {free[op.name]}, op.add_effects, op.del_effects)
        if op.name in free
        else op
        for op in task.operators
    ]
    for i, (name, versions) in enumerate(zip(names, observed, strict=True), start=1):
        following = names[i] if i < m else None
        add = {explained[i]}
        delete = {explained[i - 1]}
        if following != name:
            add.add(free[name])
            if following is not None:
                delete.add(free[following])
        if i == m:
            delete.add(pending)
        # one explaining copy per version of the action: whichever applies explains the observation
        operators.extend(
            _copy(
                op,
                f"{name}{_EXPLAINS}{i}]",
                op.preconditions | {explained[i - 1]},
                op.add_effects | add,
                op.del_effects | (delete - add),
            )
            for op in versions
        )
    facts = set(task.facts) | set(explained) | set(free.values()) | {pending}
    initial = set(task.initial_state) | {explained[0], pending} | {free[n] for n in distinct if n != names[0]}
    goal = frozenset(task.goals)
    with_o = Task(f"{task.name}+O", facts, frozenset(initial), goal | {explained[m]}, operators)
    without_o = Task(f"{task.name}+notO", facts, frozenset(initial), goal | {pending}, operators)
    return with_o, without_o


def explained_actions(plan: Sequence[str]) -> tuple[list[str], list[int]]:
    """A compiled task's plan as domain actions, and the positions of the copies that explained observations."""
    actions, positions = [], []
    for position, name in enumerate(plan):
        base, sep, _ = name.partition(_EXPLAINS)
        actions.append(base)
        if sep:
            positions.append(position)
    return actions, positions


def _log_likelihood(cost_with: float, cost_without: float, without_timed_out: bool, beta: float) -> float:
    """log P(O | G) = log σ(β (c(G,¬O) − c(G,O))); an infinite cost means no plan (or none found in time).

    A c(G, ¬O) search that ran out of time says nothing about Δ: it counts as Δ = 0 (P(O | G) = 1/2)
    rather than as "no plan avoids O" (P(O | G) = 1), which would favour the goals whose search was hardest.
    """
    if np.isinf(cost_with):
        return -np.inf
    if without_timed_out:
        return -float(np.log(2.0))
    if np.isinf(cost_without):
        return 0.0
    return -float(np.logaddexp(0.0, -beta * (cost_without - cost_with)))


class PlanningRecognizer:
    """Ramírez and Geffner (2010) goal recognition by plan-cost differences (see the module docstring).

    Args:
        time_limit: seconds per problem, shared by its 2·H searches (default 10).
        beta: the rationality constant β of P(O | G) = σ(β Δ) (default 1).
        search: ``"gbfs"`` (default, fast, approximate costs) or ``"astar"`` (optimal with an
            admissible heuristic).
        heuristic: ``"hff"`` (default), ``"lmcut"`` or ``"hmax"`` (the last two admissible).
        seed: seed of the tie-breaking.
        unknown_actions: ``"error"`` (default): an observation the grounded domain lacks is a
            ValueError; ``"skip"``: it is left out (noisy archives), counted in ``Recognition.skipped``.
    """

    def __init__(
        self,
        time_limit: float = 10.0,
        beta: float = 1.0,
        search: Literal["gbfs", "astar"] = "gbfs",
        heuristic: Literal["hff", "lmcut", "hmax"] = "hff",
        seed: int = 0,
        unknown_actions: Literal["error", "skip"] = "error",
    ) -> None:
        self.unknown_actions = _check_unknown_actions(unknown_actions)
        if time_limit <= 0 or beta <= 0:
            raise ValueError(f"time_limit and beta must be positive, got time_limit={time_limit}, beta={beta}")
        if search not in ("gbfs", "astar") or heuristic not in ("hff", "lmcut", "hmax"):
            raise ValueError(f"search must be gbfs/astar and heuristic hff/lmcut/hmax, got {search!r}, {heuristic!r}")
        self.time_limit, self.beta, self.search, self.heuristic, self.seed = time_limit, beta, search, heuristic, seed

    def _cost(self, task: Task, limit: float) -> tuple[float, bool]:
        if limit <= 0:
            return np.inf, True
        try:
            return float(len(solve(task, time_limit=limit, search=self.search, heuristic=self.heuristic))), False
        except SearchTimeout:
            return np.inf, True
        except GoalUnreachable:
            return np.inf, False

    def recognize(self, problem: GoalRecognitionProblem) -> Recognition:
        """Score every candidate by P(G | O); the searches share ``time_limit`` seconds."""
        start = time.perf_counter()
        deadline = start + self.time_limit
        grounded = ground(problem.domain, problem.template)
        observations = _usable_observations(grounded, problem, self.unknown_actions)
        skipped = len(problem.observations) - len(observations)
        distinct = list(dict.fromkeys(problem.hypotheses))
        costs = np.full((len(distinct), 2), np.inf)
        timed_out = np.zeros((len(distinct), 2), dtype=bool)
        if not observations:
            # Nothing observed that the domain knows: no evidence, every candidate alike.
            scores = np.full(len(problem.hypotheses), 1 / len(distinct))
            chosen = _argmax_random_ties(scores, self.seed, problem.name)
            return Recognition(scores=scores, chosen=chosen, seconds=time.perf_counter() - start, skipped=skipped)
        compiled = [compile_observations(with_goal(grounded, goal), observations) for goal in distinct]
        # First every c(G, O), keeping half the time for the c(G, ¬O) searches; a goal no plan of
        # which embeds O (or whose search ran out of time) has P(O | G) = 0 and needs no second search.
        for h, (with_o, _) in enumerate(compiled):
            share = (deadline - time.perf_counter()) / (2 * (len(distinct) - h))
            costs[h, 0], timed_out[h, 0] = self._cost(with_o, share)
        second = [h for h in range(len(distinct)) if np.isfinite(costs[h, 0])]
        for k, h in enumerate(second):
            share = (deadline - time.perf_counter()) / (len(second) - k)
            costs[h, 1], timed_out[h, 1] = self._cost(compiled[h][1], share)
        log_likelihood = np.array(
            [_log_likelihood(w, wo, late, self.beta) for (w, wo), late in zip(costs, timed_out[:, 1], strict=True)]
        )
        posterior = np.zeros(len(distinct))
        if np.isfinite(log_likelihood).any():
            posterior = np.exp(log_likelihood - log_likelihood.max())
            posterior /= posterior.sum()
        index = [distinct.index(goal) for goal in problem.hypotheses]
        scores = posterior[index]
        return Recognition(
            scores=scores,
            chosen=_argmax_random_ties(scores, self.seed, problem.name),
            seconds=time.perf_counter() - start,
            costs=costs[index],
            timed_out=timed_out[index],
            skipped=skipped,
        )


class FactLandmarks:
    """The fact landmarks of every single fact of a grounded task, computed for all facts at once.

    The definition of pyperplan's ``heuristics.landmarks.get_landmarks`` (the reference, compared
    with in the tests): for a goal ``{g}``, a fact ``f`` is a landmark when g is unreachable in the
    delete relaxation once the operators adding f are removed (so a fact true initially is one
    when every way to g also adds it, e.g. ``(handempty)`` for ``(on a b)``); g itself is one, and
    every fact is one when g is unreachable at all. pyperplan runs one relaxed exploration per (goal, fact), in
    Python; here one exploration per fact ``f`` (row ``f`` of ``reached [C + 1, F]``, the last row
    excluding nothing) serves every goal, each step vectorised over operators:

    .. math::

        \\text{app}_{f,o} = [\\textstyle\\sum_{p ∈ pre(o)} (1 - R_{f,p}) = 0] ∧ [f ∉ add(o)], \\qquad
        R_{f} ← R_{f} ∨ \\bigvee_{o:\\,\\text{app}_{f,o}} add(o)

    until nothing changes, so ``f`` is a landmark of ``g`` iff ``¬R_{f,g}``. Negative preconditions
    (P1's dwr operators) are ignored, which keeps it a relaxation. About 0.1 s for a logistics
    template (2,748 operators, 356 facts), where ``get_landmarks`` takes about 1.8 s per goal fact.
    """

    def __init__(self, task: Task) -> None:
        self.facts = sorted(task.facts)
        index = {fact: i for i, fact in enumerate(self.facts)}
        pre = np.zeros((len(task.operators), len(self.facts)), dtype=np.float32)
        add = np.zeros_like(pre)
        for o, op in enumerate(task.operators):
            pre[o, [index[f] for f in op.preconditions]] = 1
            add[o, [index[f] for f in op.add_effects]] = 1
        initial = np.zeros(len(self.facts), dtype=bool)
        initial[[index[f] for f in task.initial_state]] = True
        reached = np.tile(initial, (len(self.facts) + 1, 1))
        allowed = np.ones((len(self.facts) + 1, len(task.operators)), dtype=bool)
        allowed[:-1] = add.T == 0
        # Relaxed exploration to its fixpoint: each layer needs the previous one.
        while True:
            applicable = ((~reached).astype(np.float32) @ pre.T == 0) & allowed
            grown = reached | (applicable.astype(np.float32) @ add > 0)
            if np.array_equal(grown, reached):
                break
            reached = grown
        self.reached = reached
        self.index = index

    def __call__(self, fact: str) -> frozenset[str]:
        """The landmarks of reaching ``fact`` (``fact`` included)."""
        g = self.index.get(fact)
        if g is None or not self.reached[-1, g]:
            return frozenset(self.facts) | {fact}
        return frozenset({fact} | {self.facts[f] for f in np.flatnonzero(~self.reached[:-1, g])})


class LandmarkRecognizer:
    """Pereira, Oren and Meneguzzi (2017) goal completion h_gc over fact landmarks (see the module docstring).

    Landmarks are computed once per template (:class:`FactLandmarks`), so problems sharing a domain
    and initial state reuse them.

    Args:
        seed: seed of the tie-breaking.
        unknown_actions: ``"error"`` or ``"skip"``, as for :class:`PlanningRecognizer`.
    """

    def __init__(self, seed: int = 0, unknown_actions: Literal["error", "skip"] = "error") -> None:
        self.seed = seed
        self.unknown_actions = _check_unknown_actions(unknown_actions)
        self._landmarks: dict[str, FactLandmarks] = {}

    def landmarks(self, problem: GoalRecognitionProblem, fact: str) -> frozenset[str]:
        """The fact landmarks of reaching ``fact`` from the problem's initial state (``fact`` included)."""
        if problem.template_key not in self._landmarks:
            if len(self._landmarks) >= 64:
                self._landmarks.pop(next(iter(self._landmarks)))
            self._landmarks[problem.template_key] = FactLandmarks(ground(problem.domain, problem.template).task)
        return self._landmarks[problem.template_key](fact)

    def recognize(self, problem: GoalRecognitionProblem) -> Recognition:
        """Score every candidate by h_gc, the mean fraction of its sub-goals' landmarks achieved."""
        start = time.perf_counter()
        grounded = ground(problem.domain, problem.template)
        observations = _usable_observations(grounded, problem, self.unknown_actions)
        observed = [grounded.operator(name) for name in observations]
        achieved = set(grounded.task.initial_state) | grounded.static_facts
        for op in observed:
            achieved |= op.preconditions | op.add_effects
        completion = {}
        for g in set().union(*problem.hypotheses):
            # A statically true sub-goal is not a fluent of the grounded task: it is complete.
            landmarks = frozenset({g}) if g in grounded.static_facts else self.landmarks(problem, g)
            completion[g] = len(landmarks & achieved) / len(landmarks)
        scores = np.array([np.mean([completion[g] for g in goal]) for goal in problem.hypotheses])
        return Recognition(
            scores=scores,
            chosen=_argmax_random_ties(scores, self.seed, problem.name),
            seconds=time.perf_counter() - start,
            skipped=len(problem.observations) - len(observations),
        )
