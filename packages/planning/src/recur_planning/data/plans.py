"""Training plans generated from a PDDL domain alone, and the benchmark's observation sampling.

GRNet (Chiari, Gerevini, Percassi, Putelli, Serina and Olivato, *Goal Recognition as a Deep Learning
Task: the GRNet Approach*, ICAPS 2023, https://arxiv.org/abs/2302.02257) learns from plans of random
goals of the domain it will recognise goals in. Given ``domain.pddl`` and a problem template (objects +
initial state, as the benchmark's ``template.pddl``), :func:`generate_plans`

1. grounds them with pyperplan (:func:`recur_planning.data.pddl.ground`);
2. draws each goal by a random walk from the initial state: a length ``L ~ U{walk_length}``, then ``L``
   steps each applying an operator drawn uniformly among the applicable ones (stopping early at a dead
   end), then a subset of size ``k ~ U{goal_size}`` (capped by what is there) of the reached state's
   facts whose predicate is a goal predicate, leaving out facts already true initially -- so every goal
   is reachable and its plan is not empty. With ``goal_signatures`` (goals shaped like a benchmark's
   candidate goals, e.g. ``{clear: 1, ontable: 1, on: 3}`` for a blocks-world tower) a signature is drawn
   first (uniformly from the list, so a frequent signature is drawn more often), the walk goes on past
   ``L`` (up to ``4 * max(walk_length)`` steps) until its state holds enough facts of each predicate,
   and the goal takes that many facts of each predicate, grown one fact at a time from a random first
   fact, each next fact drawn among those sharing an object with the facts taken so far (any fact of a
   needed predicate when none does); up to 16 growths on each of up to 5 walks until one is connected:
   a tower in blocks-world, a stack in depots, any passengers in miconic. At least one fact must be
   false initially; ``stats`` counts the goals that could not be made connected (``disconnected``) and
   the walks that reached no such goal (``dead_walks``);
3. solves the goals with pyperplan (GBFS + hFF by default) in worker processes, each with its own time
   limit (:func:`recur_planning.data.pddl.solve_many`); timeouts are dropped and counted, duplicate goals
   are drawn again (up to ``max_rounds`` rounds);
4. caches the examples as JSON in ``cache_dir`` under a sha256 of the domain text, the template text and
   every option that changes the result (the number of workers and ``progress`` do not).

Goals are drawn in the parent process from one ``numpy`` generator seeded with ``seed`` and the plans are
returned in the order the goals were drawn, so the examples do not depend on ``workers``. Two caveats
that a wall clock brings: a goal whose search is close to ``time_limit`` may time out on a busier
machine, and pyperplan's heuristics break ties through Python's string hashing (see
:mod:`recur_planning.data.pddl`); the cache freezes one run's examples.

:func:`sample_observations` keeps ``ceil(fraction * len(plan))`` actions of a plan, chosen at random and
kept in plan order: that is the count the goal-plan-recognition benchmark's 10/30/50/70% observation
files hold (checked on 144 archives of six domains: ``ceil`` matches all, round-half-even 86).

Walk step (vectorised over operators): with the state as a boolean vector ``s`` over the fluent facts,
an operator ``o`` is applicable iff ``sum_{f in pre(o)} (1 - s_f) = 0`` and ``sum_{f in neg(o)} s_f = 0``
(one ``np.bincount`` over the precondition pairs each), and applying it sets ``s[del(o)] = 0`` then
``s[add(o)] = 1``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pyperplan.task import Task

from recur_planning.data.pddl import GroundedDomain, _text_and_label, ground, solve_many

__all__ = [
    "GeneratedPlans",
    "PlanExample",
    "default_goal_predicates",
    "generate_plans",
    "goal_facts",
    "sample_observations",
]

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
# shaped goals (goal_signatures): walks drawn per goal, and greedy growths tried per walk, to find a connected one
_SHAPE_WALKS, _SHAPE_TRIES = 5, 16


@dataclass(frozen=True)
class PlanExample:
    """A goal (normalized facts), a plan reaching it (operator names) and the id of its template."""

    goal: frozenset[str]
    plan: tuple[str, ...]
    template: str


class GeneratedPlans(list):
    """The examples :func:`generate_plans` returns (a ``list`` of :class:`PlanExample`) and how they came.

    ``stats``: ``goals`` (goals solved for), ``timeouts`` (dropped: no plan within the limit),
    ``duplicates`` (goals drawn again), ``dead_walks`` (walks that reached no new goal fact), ``rounds``;
    ``from_cache`` tells whether they were read back from the cache file ``cache_file``.
    """

    def __init__(self, examples=(), stats: dict | None = None, from_cache: bool = False, cache_file=None):
        super().__init__(examples)
        self.stats = dict(stats or {})
        self.from_cache = from_cache
        self.cache_file = cache_file


def _predicate(fact: str) -> str:
    return fact[1:-1].split()[0]


def default_goal_predicates(grounded: GroundedDomain) -> tuple[str, ...]:
    """Every predicate some grounded operator adds (sorted): the facts a goal can ask for."""
    return tuple(sorted({_predicate(f) for op in grounded.task.operators for f in op.add_effects}))


def goal_facts(grounded: GroundedDomain, goal_predicates: Sequence[str] | None = None) -> tuple[str, ...]:
    """The fluent facts (sorted) whose predicate is a goal predicate: GRNet's goal-fact vocabulary."""
    wanted = _check_predicates(grounded, goal_predicates)
    return tuple(f for f in grounded.facts if _predicate(f) in wanted)


def _check_predicates(grounded: GroundedDomain, goal_predicates: Sequence[str] | None) -> frozenset[str]:
    if goal_predicates is None:
        return frozenset(default_goal_predicates(grounded))
    wanted = frozenset(str(p).strip().lower() for p in goal_predicates)
    unknown = sorted(wanted - set(grounded.predicates))
    if unknown or not wanted:
        raise ValueError(
            f"goal_predicates: {', '.join(unknown) or 'none given'} is not a predicate of {grounded.domain_file}: "
            f"choose among {', '.join(sorted(grounded.predicates))}"
        )
    return wanted


def sample_observations(plan: Sequence[str], fraction: float, rng: np.random.Generator) -> list[str]:
    """``ceil(fraction * len(plan))`` actions of ``plan`` drawn without replacement, in plan order.

    ``fraction`` in (0, 1]; 1.0 keeps the whole plan. As the benchmark's partial observation files.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1] (e.g. 0.3 for 30% observability), got {fraction}")
    if len(plan) == 0:
        raise ValueError("cannot observe an empty plan: give a plan with at least one action")
    # round away float noise first: 0.3 * 20 is 6.000000000000001, the benchmark keeps 6
    count = max(1, math.ceil(round(fraction * len(plan), 9)))
    keep = np.sort(rng.choice(len(plan), size=count, replace=False))
    return [plan[i] for i in keep]


class _Walker:
    """Random walks over the grounded operators, vectorised over operators (see the module docstring)."""

    def __init__(self, grounded: GroundedDomain):
        task = grounded.task
        self.facts = grounded.facts
        index = {fact: i for i, fact in enumerate(self.facts)}
        operators = task.operators
        self.num_ops = len(operators)

        def pairs(sets):
            ops = [i for i, facts in enumerate(sets) for _ in facts]
            facts = [index[f] for facts in sets for f in sorted(facts)]
            return np.asarray(ops, dtype=np.int64), np.asarray(facts, dtype=np.int64)

        self.pre_op, self.pre_fact = pairs([op.preconditions for op in operators])
        self.neg_op, self.neg_fact = pairs(
            [getattr(op, "negative_preconditions", frozenset()) & index.keys() for op in operators]
        )
        self.adds = [np.asarray(sorted(index[f] for f in op.add_effects), dtype=np.int64) for op in operators]
        self.dels = [np.asarray(sorted(index[f] for f in op.del_effects), dtype=np.int64) for op in operators]
        self.initial = np.zeros(len(self.facts), dtype=bool)
        self.initial[[index[f] for f in task.initial_state]] = True

    def applicable(self, state: np.ndarray) -> np.ndarray:
        missing = np.bincount(self.pre_op, weights=~state[self.pre_fact], minlength=self.num_ops)
        forbidden = np.bincount(self.neg_op, weights=state[self.neg_fact], minlength=self.num_ops)
        return np.flatnonzero((missing == 0) & (forbidden == 0))

    def walk(self, length: int, rng: np.random.Generator, extra: int = 0, until=None) -> np.ndarray:
        """The state after ``length`` random steps, then up to ``extra`` more until ``until(state)`` holds."""
        state = self.initial.copy()
        # a true sequential dependency: each step's applicable operators depend on the previous state
        for step in range(length + extra):
            if step >= length and (until is None or until(state)):
                break
            ops = self.applicable(state)
            if len(ops) == 0:
                break
            op = ops[rng.integers(len(ops))]
            state[self.dels[op]] = False
            state[self.adds[op]] = True
        return state


def _signature_key(signature) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((str(p).strip().lower(), int(n)) for p, n in dict(signature).items() if int(n) > 0))


def _check_signatures(signatures, wanted: frozenset[str], where: str) -> list[tuple[tuple[str, int], ...]]:
    """``goal_signatures`` as sorted (predicate, count) tuples; a one-line ValueError for a bad one."""
    keys = []
    for signature in signatures:
        try:
            key = _signature_key(signature)
        except (TypeError, ValueError, AttributeError):
            raise ValueError(
                f"goal_signatures: {signature!r} is not a mapping predicate -> count, e.g. {{'on': 3, 'clear': 1}}"
            ) from None
        unknown = sorted({p for p, _ in key} - wanted)
        if not key or unknown:
            raise ValueError(
                f"goal_signatures: {signature!r} asks for {', '.join(unknown) or 'no fact'}, not a goal predicate "
                f"of {where}: use counts >= 1 of {', '.join(sorted(wanted))}"
            )
        keys.append(key)
    if not keys:
        raise ValueError("goal_signatures is empty: give at least one signature, or None for random goals")
    return keys


def _shaped_goal(state, signature, fact_predicates, fact_objects, initial, rng) -> tuple[np.ndarray, bool] | None:
    """Facts of ``state`` with ``signature``'s count of each predicate, grown through shared objects.

    Returns (fact indices, connected) or None when the state lacks the facts or every try was true initially.
    """
    need = dict(signature)
    pools = {p: np.flatnonzero(state & (fact_predicates == p)) for p in need}
    if any(len(pools[p]) < n for p, n in need.items()):
        return None
    fallback = None
    for _ in range(_SHAPE_TRIES):
        left = dict(need)
        first_pool = np.concatenate([pools[p] for p in sorted(left)])
        chosen = [int(first_pool[rng.integers(len(first_pool))])]
        left[fact_predicates[chosen[0]]] -= 1
        objects = set(fact_objects[chosen[0]])
        connected = True
        while sum(left.values()) > 0:
            pool = [int(i) for p in sorted(left) if left[p] > 0 for i in pools[p] if int(i) not in chosen]
            linked = [i for i in pool if objects.intersection(fact_objects[i])]
            if not linked:
                connected = False
            options = linked or pool
            pick = options[rng.integers(len(options))]
            chosen.append(pick)
            left[fact_predicates[pick]] -= 1
            objects.update(fact_objects[pick])
        goal = np.asarray(sorted(chosen), dtype=np.int64)
        if initial[goal].all():
            continue
        if connected:
            return goal, True
        fallback = fallback if fallback is not None else goal
    return None if fallback is None else (fallback, False)


def _check_range(name: str, value, low: int) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (min, max) of integers, got {value!r}") from None
    if not low <= lo <= hi:
        raise ValueError(f"{name} must be (min, max) with {low} <= min <= max, got {value!r}")
    return lo, hi


def generate_plans(
    domain: str | Path,
    template: str | Path,
    num_goals: int,
    seed: int = 0,
    goal_predicates: Sequence[str] | None = None,
    goal_size: tuple[int, int] = (2, 6),
    time_limit: float = 5.0,
    workers: int = 1,
    cache_dir: Path | str | None = None,
    progress: bool = True,
    walk_length: tuple[int, int] = (5, 30),
    search: Literal["gbfs", "astar"] = "gbfs",
    heuristic: Literal["hff", "lmcut", "hmax"] = "hff",
    template_id: str | None = None,
    max_rounds: int = 4,
    goal_signatures: Sequence[Mapping[str, int]] | None = None,
) -> GeneratedPlans:
    """Up to ``num_goals`` plans of random reachable goals of ``domain`` with ``template``.

    Args:
        domain, template: paths or PDDL text (see :func:`~recur_planning.data.pddl.ground`); a
            ``<HYPOTHESIS>`` placeholder in the template is ignored (goals are drawn here).
        num_goals: examples wanted; fewer come back when the domain has fewer distinct goals or goals
            time out (``stats`` says why).
        seed: seeds the goal draws; the result does not depend on ``workers``.
        goal_predicates: predicates goals are made of (default: every predicate an operator adds).
        goal_size: (min, max) facts per goal, capped by the facts the walk made true.
        time_limit: seconds per goal for the search; timeouts are dropped and counted.
        workers: processes solving the goals (fork).
        cache_dir: folder of the JSON cache (None: no cache).
        progress: a tqdm bar on stderr while solving.
        walk_length: (min, max) steps of the random walk that draws each goal.
        search, heuristic: pyperplan's search and heuristic (GBFS + hFF as GRNet's data generation).
        template_id: the ``template`` field of the examples (default: the template's path, or
            ``sha256:<12 hex digits>`` of its text).
        max_rounds: rounds of drawing goals again to replace duplicates and timeouts.
        goal_signatures: None (random subsets of ``goal_size`` facts), or the shapes goals take: a list of
            ``{predicate: count}`` (e.g. the signature of each of a benchmark's candidate goals; repeats
            weigh a shape), each goal drawn with one of them, its facts connected through shared objects
            where the reached state allows (see the module docstring); ``goal_size`` is then unused. When no
            walk reaches a state with any of the shapes, the goals are drawn as with None instead (a warning,
            and ``stats["shapes_unreached"]``), so a recipe with shapes runs on any domain.
    """
    if num_goals < 0:
        raise ValueError(f"num_goals must be >= 0, got {num_goals}")
    goal_lo, goal_hi = _check_range("goal_size", goal_size, 1)
    walk_lo, walk_hi = _check_range("walk_length", walk_length, 1)
    domain_text, _ = _text_and_label(domain, "domain")
    template_text, template_label = _text_and_label(template, "template")
    if template_id is None:
        is_text = template_label.startswith("<")
        template_id = "sha256:" + _sha256(template_text)[:12] if is_text else template_label
    grounded = ground(domain, template)
    wanted = _check_predicates(grounded, goal_predicates)
    signatures = None if goal_signatures is None else _check_signatures(goal_signatures, wanted, template_label)
    options = {
        "format": CACHE_FORMAT,
        "num_goals": int(num_goals),
        "seed": int(seed),
        "goal_predicates": sorted(wanted),
        "goal_size": [goal_lo, goal_hi],
        "walk_length": [walk_lo, walk_hi],
        "time_limit": float(time_limit),
        "search": search,
        "heuristic": heuristic,
        "template_id": template_id,
        "max_rounds": int(max_rounds),
    }
    if signatures is not None:
        # the multiset of shapes (its order does not change the draws' distribution but does change them)
        options["goal_signatures"] = [[list(pair) for pair in key] for key in signatures]
    key = _sha256(json.dumps({"domain": domain_text, "template": template_text, **options}, sort_keys=True))
    cache_file = Path(cache_dir) / f"plans-{key[:24]}.json" if cache_dir is not None else None
    if cache_file is not None and cache_file.is_file():
        cached = _read_cache(cache_file, key)
        if cached is not None:
            return cached

    examples, stats = _generate(
        grounded,
        num_goals,
        seed,
        wanted,
        (goal_lo, goal_hi),
        (walk_lo, walk_hi),
        options,
        workers,
        progress,
        signatures,
    )
    if num_goals > 0 and not examples and signatures is not None:
        # no reachable state had the candidates' shape (miconic's 9-10 served passengers): random goals instead
        logger.warning("no goal of the given shapes was reached from %s; drawing random goals", template_label)
        examples, stats = _generate(
            grounded, num_goals, seed, wanted, (goal_lo, goal_hi), (walk_lo, walk_hi), options, workers, progress, None
        )
        stats["shapes_unreached"] = 1
    plans = [PlanExample(goal, plan, template_id) for goal, plan in examples]
    if num_goals > 0 and not plans:
        raise ValueError(
            f"no plan could be generated from {template_label}: {stats['timeouts']} goals timed out and "
            f"{stats['dead_walks']} walks reached no goal fact; raise time_limit or change goal_predicates"
        )
    if len(plans) < num_goals:
        logger.warning("generated %d of %d plans from %s (%s)", len(plans), num_goals, template_label, stats)
    result = GeneratedPlans(plans, stats, from_cache=False, cache_file=cache_file)
    if cache_file is not None:
        _write_cache(cache_file, key, options, result)
    return result


def _generate(grounded, num_goals, seed, wanted, goal_size, walk_length, options, workers, progress, signatures):
    rng = np.random.default_rng(seed)
    walker = _Walker(grounded)
    candidates = np.array([_predicate(f) in wanted for f in grounded.facts], dtype=bool) & ~walker.initial
    fact_predicates = np.array([_predicate(f) if _predicate(f) in wanted else "" for f in grounded.facts])
    fact_objects = [tuple(f[1:-1].split()[1:]) for f in grounded.facts]
    task = grounded.task
    seen: set[frozenset[str]] = set()
    examples: list[tuple[frozenset[str], tuple[str, ...]]] = []
    stats = {"goals": 0, "timeouts": 0, "duplicates": 0, "dead_walks": 0, "rounds": 0}
    if signatures is not None:
        stats["disconnected"] = 0
    while len(examples) < num_goals and stats["rounds"] < options["max_rounds"]:
        stats["rounds"] += 1
        need = num_goals - len(examples)
        goals: list[frozenset[str]] = []
        # bounded: a small domain may have fewer distinct goals than asked for
        for _ in range(20 * need):
            if len(goals) == need:
                break
            length = int(rng.integers(walk_length[0], walk_length[1] + 1))
            if signatures is not None:
                signature = signatures[rng.integers(len(signatures))]

                def enough(state, signature=signature):
                    return all(np.count_nonzero(state & (fact_predicates == p)) >= n for p, n in signature)

                shaped = None
                # a few walks for a connected goal (e.g. a state with a tower of the signature's height)
                for _ in range(_SHAPE_WALKS):
                    state = walker.walk(length, rng, extra=4 * walk_length[1], until=enough)
                    found = _shaped_goal(state, signature, fact_predicates, fact_objects, walker.initial, rng)
                    shaped = found if found is not None and (shaped is None or found[1]) else shaped
                    if shaped is not None and shaped[1]:
                        break
                if shaped is None:
                    stats["dead_walks"] += 1
                    continue
                indices, connected = shaped
                goal = frozenset(grounded.facts[i] for i in indices)
            else:
                # walks on (up to 4x the longest walk) until some goal fact holds: miconic serves no one in 30 steps
                state = walker.walk(
                    length, rng, extra=4 * walk_length[1], until=lambda state: (state & candidates).any()
                )
                reached = np.flatnonzero(state & candidates)
                if len(reached) == 0:
                    stats["dead_walks"] += 1
                    continue
                size = min(int(rng.integers(goal_size[0], goal_size[1] + 1)), len(reached))
                goal = frozenset(grounded.facts[i] for i in rng.choice(reached, size=size, replace=False))
                connected = True
            if goal in seen:
                stats["duplicates"] += 1
                continue
            seen.add(goal)
            goals.append(goal)
            if signatures is not None and not connected:
                stats["disconnected"] += 1
        if not goals:
            break
        stats["goals"] += len(goals)
        tasks = [Task(task.name, task.facts, task.initial_state, goal, task.operators) for goal in goals]
        solved = solve_many(
            tasks,
            workers=workers,
            time_limit=options["time_limit"],
            search=options["search"],
            heuristic=options["heuristic"],
            progress=progress,
            desc=f"plans ({options['template_id']})",
        )
        for goal, plan in zip(goals, solved, strict=True):
            if plan is None:
                stats["timeouts"] += 1
            else:
                examples.append((goal, tuple(plan)))
    return examples, stats


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_cache(path: Path, key: str) -> GeneratedPlans | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            raise ValueError("key mismatch")
        examples = [PlanExample(frozenset(e["goal"]), tuple(e["plan"]), data["template"]) for e in data["examples"]]
        return GeneratedPlans(examples, data.get("stats"), from_cache=True, cache_file=path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"ignoring the unreadable plan cache {path} ({exc}); generating again", stacklevel=3)
        return None


def _write_cache(path: Path, key: str, options: dict, plans: GeneratedPlans) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "key": key,
        "template": options["template_id"],
        "options": options,
        "stats": plans.stats,
        "examples": [{"goal": sorted(e.goal), "plan": list(e.plan)} for e in plans],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)
