"""recur_planning.data.pddl: atoms, grounding, compiled extras, errors with lines, solving with time limits."""

import itertools
import tarfile
import threading
import time
from pathlib import Path

import pytest

from recur_planning.data.pddl import (
    GoalUnreachable,
    NegativePreconditionOperator,
    SearchTimeout,
    ground,
    normalize_atom,
    parse_hypothesis,
    solve,
    solve_many,
    with_goal,
)

# 4-operator blocks world with :equality, as the benchmark's blocks-world domain
BLOCKS = """\
(define (domain BLOCKS)
  (:requirements :strips :typing :equality)
  (:types block)
  (:predicates (on ?x ?y - block) (ontable ?x - block) (clear ?x - block)
               (handempty) (holding ?x - block))
  (:action pick-up
    :parameters (?x - block)
    :precondition (and (clear ?x) (ontable ?x) (handempty))
    :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (holding ?x)))
  (:action put-down
    :parameters (?x - block)
    :precondition (holding ?x)
    :effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)))
  (:action stack
    :parameters (?x ?y - block)
    :precondition (and (holding ?x) (clear ?y) (not (= ?x ?y)))
    :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (on ?x ?y)))
  (:action unstack
    :parameters (?x ?y - block)
    :precondition (and (on ?x ?y) (clear ?x) (handempty) (not (= ?x ?y)))
    :effect (and (holding ?x) (clear ?y) (not (clear ?x)) (not (handempty)) (not (on ?x ?y)))))
"""

# the benchmark's template layout: goal placeholder inside (:goal (and ...)); upper case as in the files
TEMPLATE = """\
(define (problem blocks_words)
  (:domain blocks)
  (:objects A B C - block)
  (:init (HANDEMPTY) (CLEAR A) (ONTABLE A) (CLEAR B) (ON B C) (ONTABLE C))
  (:goal (and
<HYPOTHESIS>
)))
"""


def _blocks_problem(n: int) -> str:
    """n blocks in one tower b1 on b2 ... on bn; the goal is the reversed tower (n = 60: GBFS + hFF needs
    far more than a second, 40 takes ~3 s)."""
    names = [f"b{i}" for i in range(1, n + 1)]
    init = ["(handempty)", f"(clear {names[0]})", f"(ontable {names[-1]})"]
    init += [f"(on {a} {b})" for a, b in itertools.pairwise(names)]
    goal = [f"(on {b} {a})" for a, b in itertools.pairwise(names)]
    return (
        f"(define (problem tower{n}) (:domain blocks) (:objects {' '.join(names)} - block)\n"
        f"(:init {' '.join(init)})\n(:goal (and {' '.join(goal)})))\n"
    )


def _run(grounded, plan, state=None):
    state = grounded.initial_state if state is None else state
    for action in plan:
        state = grounded.operator(action, state).apply(state)
    return state


# ------------------------------------------------------------------------------------------- atoms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(ON D  R)", "(on d r)"),
        ("on d r", "(on d r)"),
        (" (HANDEMPTY) ", "(handempty)"),
        ("(STACK O W)", "(stack o w)"),
    ],
)
def test_normalize_atom(text, expected):
    assert normalize_atom(text) == expected


@pytest.mark.parametrize("text", ["", "()", "(on (a) b)", "  "])
def test_normalize_atom_rejects_non_atoms(text):
    with pytest.raises(ValueError, match="not a ground atom"):
        normalize_atom(text)


def test_parse_hypothesis():
    assert parse_hypothesis("(CLEAR D),(ONTABLE W),(ON D R)\n") == {"(clear d)", "(ontable w)", "(on d r)"}
    assert parse_hypothesis("(at tav), (breakfast)") == {"(at tav)", "(breakfast)"}
    for bad in ["", "clear d", "(clear d),junk"]:
        with pytest.raises(ValueError, match="not a hypothesis line"):
            parse_hypothesis(bad)


# -------------------------------------------------------------------------------------- grounding


def test_ground_blocks_text_is_hand_checkable():
    grounded = ground(BLOCKS, TEMPLATE)
    # pick-up/put-down: 3 each; stack/unstack: 3 * 2 ordered pairs of different blocks each (:equality)
    assert len(grounded.actions) == 18
    assert list(grounded.actions) == sorted(grounded.actions)
    assert "(stack a b)" in grounded.actions and "(stack a a)" not in grounded.actions
    # on: 6 pairs, ontable/clear/holding: 3 each, handempty: 1
    assert len(grounded.facts) == 16 and "(on a a)" not in grounded.facts
    assert grounded.initial_state == {"(handempty)", "(clear a)", "(ontable a)", "(clear b)", "(on b c)", "(ontable c)"}
    assert grounded.task.goals == frozenset()  # the placeholder became the empty (true) goal
    assert grounded.domain_file == "<domain text>" and grounded.problem_file == "<template text>"
    op = grounded.operator("(UNSTACK B  C)")
    assert op.preconditions == {"(on b c)", "(clear b)", "(handempty)"}
    assert op.add_effects == {"(holding b)", "(clear c)"}
    with pytest.raises(ValueError, match=r"action \(fly a\) is not a grounded action"):
        grounded.operator("(fly a)")


def test_ground_from_paths_and_with_goal(tmp_path):
    (tmp_path / "domain.pddl").write_text(BLOCKS)
    (tmp_path / "template.pddl").write_text(TEMPLATE)
    grounded = ground(tmp_path / "domain.pddl", str(tmp_path / "template.pddl"), goal=["(ON A B)", "on b c"])
    assert grounded.task.goals == {"(on a b)", "(on b c)"}
    assert grounded.problem_file == str(tmp_path / "template.pddl")
    task = with_goal(grounded, ["(clear c)"])
    assert task.goals == {"(clear c)"} and task.operators is grounded.task.operators
    with pytest.raises(FileNotFoundError, match="PDDL domain file not found"):
        ground(tmp_path / "missing.pddl", TEMPLATE)


def test_with_goal_rejects_unknown_predicates_objects_and_arity():
    grounded = ground(BLOCKS, TEMPLATE)
    with pytest.raises(ValueError, match=r"\(above a b\) names no predicate"):
        with_goal(grounded, ["(above a b)"])
    with pytest.raises(ValueError, match=r"\(on a z\) does not fit"):
        with_goal(grounded, ["(on a z)"])
    with pytest.raises(ValueError, match="takes 2 arguments"):
        with_goal(grounded, ["(on a)"])


NEGATIVE_AND_COSTS = """\
(define (domain rooms)
  (:requirements :strips :negative-preconditions :action-costs)
  (:predicates (at ?r) (locked ?r) (visited ?r) (adjacent ?a ?b))
  (:functions (total-cost) - number)
  (:action move
    :parameters (?from ?to)
    :precondition (and (at ?from) (adjacent ?from ?to) (not (locked ?to)))
    :effect (and (at ?to) (not (at ?from)) (increase (total-cost) 1)))
  (:action unlock
    :parameters (?r)
    :precondition (and (locked ?r))
    :effect (and (not (locked ?r)) (increase (total-cost) 1)))
  (:action visit
    :parameters (?r)
    :precondition (and (at ?r) (not (visited ?r)))
    :effect (and (visited ?r)))
  (:action visit
    :parameters (?r)
    :precondition (and (at ?r) (locked ?r))
    :effect (and (visited ?r))))
"""

ROOMS = """\
(define (problem three) (:domain rooms) (:objects r1 r2 r3)
  (:init (= (total-cost) 0) (at r1) (locked r3)
         (adjacent r1 r2) (adjacent r2 r1) (adjacent r2 r3) (adjacent r3 r2))
  (:goal (and <HYPOTHESIS>))
  (:metric minimize (total-cost)))
"""


def test_negative_preconditions_action_costs_and_repeated_action_names_are_compiled():
    grounded = ground(NEGATIVE_AND_COSTS, ROOMS)
    move = grounded.operator("(move r2 r3)")
    assert isinstance(move, NegativePreconditionOperator) and move.negative_preconditions == {"(locked r3)"}
    assert not move.applicable(frozenset({"(at r2)", "(locked r3)"}))
    assert move.applicable(frozenset({"(at r2)"}))
    # the static (adjacent ...) precondition was resolved at grounding: no (move r1 r3)
    assert "(move r1 r3)" not in grounded.actions
    # "visit" is defined twice: two operators of one name, picked by the state they apply in
    visits = [op for op in grounded.task.operators if op.name == "(visit r3)"]
    assert len(visits) == 2 and grounded.actions.count("(visit r3)") == 1
    assert grounded.operator("(visit r3)", {"(at r3)", "(locked r3)", "(visited r3)"}).preconditions >= {"(locked r3)"}
    plan = solve(with_goal(grounded, ["(at r3)"]), time_limit=5)
    assert plan.index("(unlock r3)") < plan.index("(move r2 r3)") and _run(grounded, plan) >= {"(at r3)"}


def test_ground_real_benchmark_templates(dataset_root, tmp_path):
    root = dataset_root("goal-plan-recognition", "blocks-world/100")
    domains = ["blocks-world", "campus", "depots", "driverlog", "dwr", "easy-ipc-grid", "intrusion-detection"]
    domains += ["kitchen", "logistics", "miconic", "rovers"]
    for name in domains:
        archive = sorted((root / name / "100").glob("*.tar.bz2"))[0]
        folder = tmp_path / name
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        files = {p.name: p for p in folder.rglob("*") if p.is_file()}
        grounded = ground(files["domain.pddl"], files["template.pddl"])
        observations = [normalize_atom(line) for line in files["obs.dat"].read_text().splitlines() if line.strip()]
        assert set(observations) <= set(grounded.actions), name
        for line in files["hyps.dat"].read_text().splitlines():
            if line.strip():
                with_goal(grounded, parse_hypothesis(line))
        if name in ("blocks-world", "logistics", "driverlog", "dwr"):
            # the observed (full) plan is executable and reaches the real goal
            real = parse_hypothesis(files["real_hyp.dat"].read_text())
            assert _run(grounded, observations) >= with_goal(grounded, real).goals, name


def test_ground_classical_domains_and_solve(dataset_root):
    root = dataset_root("classical-domains", "blocks/domain.pddl")
    for folder in sorted(p for p in root.iterdir() if (p / "domain.pddl").is_file()):
        problem = sorted(p for p in folder.glob("*.pddl") if p.name != "domain.pddl")[0]
        grounded = ground(folder / "domain.pddl", problem)
        plan = solve(grounded.task, time_limit=10)
        assert _run(grounded, plan) >= grounded.task.goals, folder.name


# ---------------------------------------------------------------------------------- syntax errors


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("edit", "line_with", "message"),
    [
        # a precondition loses its ')': the :action section stays open until the next (:action
        (
            (
                "(not (= ?x ?y)))\n    :effect (and (not (holding ?x))",
                "(not (= ?x ?y))\n    :effect (and (not (holding ?x))",
            ),
            "(:action stack",
            "missing closing parenthesis",
        ),
        (("(holding ?x)\n    :effect", "(holdin ?x)\n    :effect"), "(holdin ?x)", "unknown predicate holdin"),
        (
            ("(:action put-down\n    :parameters (?x - block)", "(:action put-down\n    :parameters (x - block)"),
            "(x - block)",
            "variables must start with",
        ),
        (("(:predicates", "(:predicatez"), "(:predicatez", "unknown keyword in domain definition: predicatez"),
    ],
)
def test_syntax_errors_name_file_and_line(tmp_path, edit, line_with, message):
    text = BLOCKS.replace(*edit)
    assert text != BLOCKS
    path = tmp_path / "domain.pddl"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        ground(path, TEMPLATE)
    error = str(info.value)
    assert "\n" not in error and message in error
    assert error.startswith(f"{path}:{_line_of(text, line_with)}: ")


def test_syntax_errors_in_texts_and_templates():
    extra = BLOCKS.replace("(holding ?x - block))", "(holding ?x - block)))")
    with pytest.raises(ValueError, match=r"^<domain text>:5: the list opened on line 1 closes here"):
        ground(extra, TEMPLATE)
    bad_object = TEMPLATE.replace("(ON B C)", "(ON B D)")
    with pytest.raises(ValueError, match=r"^<template text>:4: Error: object d referenced"):
        ground(BLOCKS, bad_object)
    unclosed = TEMPLATE[: TEMPLATE.rindex(")")]
    with pytest.raises(ValueError, match=r"^<template text>:\d+: missing closing parenthesis"):
        ground(BLOCKS, unclosed)
    adl = BLOCKS.replace("(and (clear ?x) (ontable ?x) (handempty))", "(or (clear ?x) (ontable ?x))")
    with pytest.raises(ValueError, match=r"^<domain text>:8: .*need ADL"):
        ground(adl, TEMPLATE)


# ---------------------------------------------------------------------------------------- solving


def test_solve_gives_valid_plans_and_astar_is_optimal():
    grounded = ground(BLOCKS, TEMPLATE)
    task = with_goal(grounded, ["(on a b)", "(on b c)"])
    assert solve(task, search="astar", heuristic="lmcut") == ["(pick-up a)", "(stack a b)"]
    goal = ["(on c a)", "(on a b)"]
    plans = [solve(with_goal(grounded, goal), search=s, heuristic=h) for s, h in [("gbfs", "hff"), ("astar", "hmax")]]
    for plan in plans:
        assert _run(grounded, plan) >= {"(on c a)", "(on a b)"}
    # unstack b c, put-down b, pick-up a, stack a b, pick-up c, stack c a
    assert len(plans[1]) == 6
    assert solve(with_goal(grounded, ["(clear a)"])) == []
    with pytest.raises(ValueError, match="unknown heuristic 'hadd'"):
        solve(task, heuristic="hadd")


ONE_WAY = """\
(define (domain fork) (:predicates (start) (left) (right))
  (:action go-left :parameters () :precondition (start) :effect (and (left) (not (start))))
  (:action go-right :parameters () :precondition (start) :effect (and (right) (not (start)))))
"""


def test_unreachable_goals_raise_goal_unreachable():
    grounded = ground(BLOCKS, TEMPLATE)
    with pytest.raises(GoalUnreachable, match=r"goal \(on a a\) is unreachable"):
        solve(with_goal(grounded, ["(on a a)"]))
    # each fact is reachable alone, both together are not: the search has to exhaust the space
    fork = ground(ONE_WAY, "(define (problem p) (:domain fork) (:init (start)) (:goal (and (left) (right))))")
    with pytest.raises(GoalUnreachable, match="exhausted the state space"):
        solve(fork.task)
    assert solve_many([fork.task], workers=1) == [None]


def test_search_timeout_fires_on_time():
    grounded = ground(BLOCKS, _blocks_problem(60))
    for search, heuristic in [("gbfs", "hff"), ("astar", "lmcut")]:
        start = time.monotonic()
        with pytest.raises(SearchTimeout, match=r"within 0.2 s"):
            solve(grounded.task, time_limit=0.2, search=search, heuristic=heuristic)
        assert time.monotonic() - start < 1.0


def test_search_timeout_outside_the_main_thread():
    grounded = ground(BLOCKS, _blocks_problem(60))
    caught = {}

    def search():
        start = time.monotonic()
        try:
            solve(grounded.task, time_limit=0.2)
        except SearchTimeout:
            caught["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=search)
    thread.start()
    thread.join(timeout=10)
    assert caught and caught["seconds"] < 1.0


def test_search_timeout_on_a_large_classical_problem(dataset_root):
    root = dataset_root("classical-domains", "blocks/probBLOCKS-30-0.pddl")
    grounded = ground(root / "blocks" / "domain.pddl", root / "blocks" / "probBLOCKS-30-0.pddl")
    start = time.monotonic()
    with pytest.raises(SearchTimeout):
        solve(grounded.task, time_limit=0.2)
    assert time.monotonic() - start < 1.0


def test_solve_many_in_workers_keeps_order_and_limits():
    grounded = ground(BLOCKS, TEMPLATE)
    hard = ground(BLOCKS, _blocks_problem(60)).task
    goals = [["(on a b)"], ["(on c a)"], ["(holding b)"], ["(on b a)", "(on c b)"]]
    tasks = [with_goal(grounded, goal) for goal in goals]
    one = solve_many(tasks, workers=1)
    start = time.monotonic()
    two = solve_many([*tasks, hard], workers=2, time_limit=1.0)
    assert time.monotonic() - start < 6.0
    assert two == [*one, None]
    for goal, plan in zip(goals, one, strict=True):
        assert _run(grounded, plan) >= {normalize_atom(g) for g in goal}
    with pytest.raises(ValueError, match="workers must be >= 1"):
        solve_many(tasks, workers=0)


def test_ground_is_cached_per_text():
    start = time.monotonic()
    first = ground(BLOCKS, _blocks_problem(12))
    second = ground(BLOCKS, _blocks_problem(12), goal=["(on b1 b2)"])
    assert second.task.operators is first.task.operators
    assert time.monotonic() - start < 5.0


def test_package_data_paths_are_not_written(tmp_path):
    (tmp_path / "domain.pddl").write_text(BLOCKS)
    (tmp_path / "template.pddl").write_text(TEMPLATE)
    ground(tmp_path / "domain.pddl", tmp_path / "template.pddl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["domain.pddl", "template.pddl"]


@pytest.mark.slow
def test_ground_sokoban_template(dataset_root, tmp_path):
    root = dataset_root("goal-plan-recognition", "sokoban/100")
    archive = sorted((root / "sokoban" / "100").glob("*.tar.bz2"))[0]
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    files = {p.name: p for p in Path(tmp_path).rglob("*") if p.is_file()}
    grounded = ground(files["domain.pddl"], files["template.pddl"])
    assert len(grounded.task.operators) > 0
