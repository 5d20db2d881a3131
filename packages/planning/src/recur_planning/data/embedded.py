"""Goal-recognition problems the package writes itself, in the benchmark's layout (no data files needed).

A small STRIPS domain of this module (``blocks``: the 4-operator typed blocks world of the
benchmark's blocks-world; ``gripper``: a typed IPC-1998 gripper, one robot with two grippers
carrying balls between rooms), one problem template drawn from the seed (a random initial state of
``num_objects`` blocks or balls, its goal the benchmark's ``<HYPOTHESIS>`` placeholder), then
``num_problems`` recognition problems written by
:func:`recur_planning.data.goal_recognition.write_problem` under every observability level::

    <folder>/domain.pddl
    <folder>/template.pddl
    <folder>/<obs%>/embedded-<domain>_p<j>_hyp-<true index>_<obs%>_0.tar.bz2

so :func:`~recur_planning.data.goal_recognition.read_problem` (and
:func:`~recur_planning.data.goal_recognition.folder_problems`) read them like the real archives.

Problem ``j``: a pool of ``num_problems + num_hypotheses`` random reachable goals is drawn and
solved once by :func:`recur_planning.data.plans.generate_plans` (random walk from the initial
state, a subset of the reached facts, GBFS + h_FF with pyperplan); goal ``j`` is the true one and
``num_hypotheses - 1`` others drawn from the rest of the pool are the distractors, shuffled in with
it. As in the benchmark, problem ``j`` has the same candidates at every level and its observations
are drawn from the true goal's plan by :func:`recur_planning.data.plans.sample_observations` (a
generator seeded by ``(seed, j, level)``). Everything is a function of the seed; a folder already
written with the same options (``embedded.json``) is reused as it is.
"""

from __future__ import annotations

import itertools
import json
import os
import string
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recur_planning.data.goal_recognition import write_problem
from recur_planning.data.plans import generate_plans, sample_observations

__all__ = [
    "BLOCKS_DOMAIN",
    "EMBEDDED_DOMAINS",
    "GRIPPER_DOMAIN",
    "embedded_template",
    "write_embedded_benchmark",
]

EMBEDDED_DOMAINS: tuple[str, ...] = ("blocks", "gripper")

BLOCKS_DOMAIN = """\
;; 4-operator blocks world (typed STRIPS), as the goal-plan-recognition benchmark's blocks-world.
(define (domain blocks)
  (:requirements :strips :typing :equality)
  (:types block)
  (:predicates (on ?x - block ?y - block) (ontable ?x - block) (clear ?x - block) (handempty) (holding ?x - block))
  (:action pick-up
    :parameters (?x - block)
    :precondition (and (clear ?x) (ontable ?x) (handempty))
    :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (holding ?x)))
  (:action put-down
    :parameters (?x - block)
    :precondition (holding ?x)
    :effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)))
  (:action stack
    :parameters (?x - block ?y - block)
    :precondition (and (holding ?x) (clear ?y) (not (= ?x ?y)))
    :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (on ?x ?y)))
  (:action unstack
    :parameters (?x - block ?y - block)
    :precondition (and (on ?x ?y) (clear ?x) (handempty) (not (= ?x ?y)))
    :effect (and (holding ?x) (clear ?y) (not (clear ?x)) (not (handempty)) (not (on ?x ?y)))))
"""

GRIPPER_DOMAIN = """\
;; Gripper (IPC 1998), typed STRIPS: a robot with two grippers carries balls between rooms.
(define (domain gripper)
  (:requirements :strips :typing)
  (:types room ball gripper)
  (:predicates (at-robby ?r - room) (at ?b - ball ?r - room) (free ?g - gripper) (carry ?b - ball ?g - gripper))
  (:action move
    :parameters (?from - room ?to - room)
    :precondition (at-robby ?from)
    :effect (and (at-robby ?to) (not (at-robby ?from))))
  (:action pick
    :parameters (?b - ball ?r - room ?g - gripper)
    :precondition (and (at ?b ?r) (at-robby ?r) (free ?g))
    :effect (and (carry ?b ?g) (not (at ?b ?r)) (not (free ?g))))
  (:action drop
    :parameters (?b - ball ?r - room ?g - gripper)
    :precondition (and (carry ?b ?g) (at-robby ?r))
    :effect (and (at ?b ?r) (free ?g) (not (carry ?b ?g)))))
"""

_DOMAINS = {"blocks": BLOCKS_DOMAIN, "gripper": GRIPPER_DOMAIN}
# Goals are made of the facts the benchmark's hypotheses use.
_GOAL_PREDICATES = {"blocks": ("on", "ontable", "clear"), "gripper": ("at",)}
_ROOMS = ("rooma", "roomb", "roomc")
_MANIFEST = "embedded.json"


def _check_domain(domain: str) -> str:
    if domain not in EMBEDDED_DOMAINS:
        raise ValueError(f"embedded domain must be one of {', '.join(EMBEDDED_DOMAINS)}, got {domain!r}")
    return _DOMAINS[domain]


def embedded_template(domain: str = "blocks", num_objects: int = 5, seed: int = 0) -> str:
    """A problem template of an embedded domain: a random initial state and the goal ``<HYPOTHESIS>``.

    ``blocks``: blocks ``a, b, …`` in random towers (a random permutation cut at random places).
    ``gripper``: balls ``ball1 …`` in random rooms of three, the robot in a random room, both grippers free.
    """
    _check_domain(domain)
    if not 2 <= num_objects <= 26:
        raise ValueError(f"num_objects must be between 2 and 26, got {num_objects}")
    rng = np.random.default_rng([seed, num_objects])
    if domain == "blocks":
        blocks = list(string.ascii_lowercase[:num_objects])
        order = [blocks[i] for i in rng.permutation(num_objects)]
        cuts = np.flatnonzero(rng.random(num_objects - 1) < 0.4) + 1
        init = ["(handempty)"]
        for tower in np.split(np.array(order), cuts):
            init += [f"(ontable {tower[0]})", f"(clear {tower[-1]})"]
            init += [f"(on {upper} {lower})" for lower, upper in itertools.pairwise(tower)]
        objects = f"{' '.join(blocks)} - block"
    else:
        balls = [f"ball{i + 1}" for i in range(num_objects)]
        init = [f"(at-robby {_ROOMS[rng.integers(len(_ROOMS))]})", "(free left)", "(free right)"]
        init += [f"(at {ball} {_ROOMS[rng.integers(len(_ROOMS))]})" for ball in balls]
        objects = f"{' '.join(_ROOMS)} - room {' '.join(balls)} - ball left right - gripper"
    facts = "\n    ".join(init)
    return (
        f"(define (problem {domain}-{num_objects}-{seed})\n  (:domain {domain})\n  (:objects {objects})\n"
        f"  (:init\n    {facts})\n  (:goal (and\n<HYPOTHESIS>\n)))\n"
    )


def write_embedded_benchmark(
    folder: str | os.PathLike,
    domain: str = "blocks",
    num_objects: int = 5,
    num_problems: int = 50,
    num_hypotheses: int = 6,
    observability: Sequence[int] = (10, 30, 50, 70, 100),
    seed: int = 0,
    goal_size: tuple[int, int] = (2, 5),
    time_limit: float = 5.0,
) -> Path:
    """Write an embedded domain, its template and recognition problems in the benchmark layout.

    Args:
        folder: where to write (created); a folder already holding this benchmark is reused.
        domain: one of :data:`EMBEDDED_DOMAINS`.
        num_objects: blocks (``blocks``) or balls (``gripper``), 2 to 26.
        num_problems: problems per observability level (the same problems at every level).
        num_hypotheses: candidate goals per problem, the true one included (at least 2).
        observability: levels in percent, each in 1..100.
        seed: seeds the template, the goals, the candidates and the observations.
        goal_size: (min, max) facts per goal.
        time_limit: seconds per goal for pyperplan's search.

    Returns:
        ``folder``.

    Raises:
        ValueError: a bad option, or a domain with too few distinct reachable goals for the
            candidates asked for (the message says which option to lower).
    """
    domain_text = _check_domain(domain)
    if num_problems < 1 or num_hypotheses < 2:
        raise ValueError(f"need num_problems >= 1 and num_hypotheses >= 2, got {num_problems}, {num_hypotheses}")
    levels = sorted({int(level) for level in observability})
    if not levels or not all(1 <= level <= 100 for level in levels):
        raise ValueError(f"observability must be percents in 1..100, got {list(observability)}")
    folder = Path(folder)
    options = {
        "domain": domain,
        "num_objects": num_objects,
        "num_problems": num_problems,
        "num_hypotheses": num_hypotheses,
        "observability": levels,
        "seed": seed,
        "goal_size": list(goal_size),
        "time_limit": time_limit,
    }
    manifest = folder / _MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()) == options:
        return folder
    template = embedded_template(domain, num_objects, seed)
    pool = generate_plans(
        domain_text,
        template,
        num_goals=num_problems + num_hypotheses,
        seed=seed,
        goal_predicates=_GOAL_PREDICATES[domain],
        goal_size=goal_size,
        time_limit=time_limit,
        progress=False,
    )
    if len(pool) < num_hypotheses:
        raise ValueError(
            f"the embedded {domain} domain with {num_objects} objects gave only {len(pool)} distinct goals "
            f"for {num_hypotheses} candidates per problem: raise num_objects or goal_size, or lower num_hypotheses"
        )
    folder.mkdir(parents=True, exist_ok=True)
    # Problems of an earlier call with other options would be read with these ones.
    manifest.unlink(missing_ok=True)
    for stale in folder.glob("*/embedded-*.tar.bz2"):
        stale.unlink()
        if not any(stale.parent.iterdir()):
            stale.parent.rmdir()
    (folder / "domain.pddl").write_text(domain_text)
    (folder / "template.pddl").write_text(template)
    for j in range(num_problems):
        rng = np.random.default_rng([seed, j])
        true = j % len(pool)
        others = [i for i in range(len(pool)) if i != true]
        chosen = [true, *rng.choice(others, size=num_hypotheses - 1, replace=False).tolist()]
        order = rng.permutation(num_hypotheses)
        hypotheses = [pool[chosen[i]].goal for i in order]
        true_index = int(np.flatnonzero(order == 0)[0])
        for level in levels:
            observations = sample_observations(pool[true].plan, level / 100, np.random.default_rng([seed, j, level]))
            write_problem(
                folder / str(level) / f"embedded-{domain}_p{j:03d}_hyp-{true_index}_{level}_0.tar.bz2",
                domain=domain_text,
                template=template,
                hypotheses=hypotheses,
                true_hypothesis=pool[true].goal,
                observations=observations,
            )
    manifest.write_text(json.dumps(options, indent=1) + "\n")
    return folder
