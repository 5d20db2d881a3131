import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from recur_planning.data.embedded import BLOCKS_DOMAIN, embedded_template, write_embedded_benchmark
from recur_planning.data.goal_recognition import GoalRecognitionProblem, benchmark_problems, folder_problems
from recur_planning.data.pddl import GoalUnreachable, ground, solve, with_goal
from recur_planning.recognizers import (
    FactLandmarks,
    LandmarkRecognizer,
    PlanningRecognizer,
    Recognition,
    compile_observations,
    explained_actions,
)

NAV = """(define (domain nav) (:requirements :strips :typing) (:types place)
  (:predicates (at ?p - place) (adj ?a - place ?b - place))
  (:action move :parameters (?from - place ?to - place)
    :precondition (and (at ?from) (adj ?from ?to)) :effect (and (at ?to) (not (at ?from)))))
"""


def _template(start: str, edges: list[tuple[str, str]]) -> str:
    places = sorted({p for edge in edges for p in edge})
    adjacent = " ".join(f"(adj {a} {b}) (adj {b} {a})" for a, b in edges)
    return (
        f"(define (problem p) (:domain nav) (:objects {' '.join(places)} - place)\n"
        f"(:init (at {start}) {adjacent})\n(:goal (and\n<HYPOTHESIS>\n)))\n"
    )


# l2 - l1 - c - r1 - r2, starting in the middle.
CORRIDOR = _template("c", [("l2", "l1"), ("l1", "c"), ("c", "r1"), ("r1", "r2")])


def _problem(
    template: str, goals: list[set[str]], true: int, observations: list[str], name="tiny"
) -> GoalRecognitionProblem:
    hypotheses = tuple(frozenset(goal) for goal in goals)
    return GoalRecognitionProblem(
        name=name,
        domain=NAV,
        template=template,
        hypotheses=hypotheses,
        true_hypothesis=hypotheses[true],
        true_index=true,
        observations=tuple(observations),
        observability=100,
        noisy=False,
        path=Path(f"{name}.tar.bz2"),
    )


def _costs(template: str, goal: set[str], observations: list[str]) -> tuple[float, float]:
    grounded = ground(NAV, template)
    costs = []
    for task in compile_observations(with_goal(grounded, goal), observations):
        try:
            costs.append(len(solve(task, time_limit=20, search="astar", heuristic="hmax")))
        except GoalUnreachable:
            costs.append(math.inf)
    return tuple(costs)


def _embeds(actions: list[str], observations: list[str]) -> bool:
    rest = iter(actions)
    return all(observed in rest for observed in observations)


def test_planning_recognizer_gives_the_paper_posterior_on_a_corridor():
    problem = _problem(CORRIDOR, [{"(at l2)"}, {"(at r2)"}], 1, ["(move c r1)"])
    for beta in (1.0, 0.5):
        result = PlanningRecognizer(search="astar", heuristic="hmax", beta=beta).recognize(problem)
        # l2: 4 steps with the detour through r1, 2 without; r2: 2 steps, impossible without (move c r1).
        np.testing.assert_array_equal(result.costs, [[4, 2], [2, np.inf]])
        likelihood = np.array([1 / (1 + np.exp(2 * beta)), 1.0])
        np.testing.assert_allclose(result.scores, likelihood / likelihood.sum())
        assert result.chosen == 1 and not result.any_timed_out and result.seconds > 0


def test_the_order_of_the_observations_counts():
    assert _costs(CORRIDOR, {"(at l2)"}, ["(move c r1)", "(move r1 c)"]) == (4, 2)
    # Reversed: reach r1, go back (explains 1), go to r1 again (explains 2), then walk to l2.
    assert _costs(CORRIDOR, {"(at l2)"}, ["(move r1 c)", "(move c r1)"]) == (6, 2)


def test_plans_that_embed_the_observations_with_original_actions_are_not_plans_without_them():
    # Every way to l2 passes (move c l1): no plan for l2 avoids the observation (Ramirez & Geffner 2010),
    # although the plan "(move c l1) (move l1 l2)" never uses the explaining copy.
    assert _costs(CORRIDOR, {"(at l2)"}, ["(move c l1)"]) == (2, math.inf)
    assert _costs(CORRIDOR, {"(at r2)"}, ["(move c l1)"]) == (4, 2)


def test_compiled_costs_equal_brute_force_over_every_short_plan():
    edges = [("p1", "p2"), ("p2", "p3"), ("p3", "p4"), ("p4", "p1"), ("p1", "p5")]
    template = _template("p1", edges)
    neighbours = {
        p: sorted({b for a, b in edges if a == p} | {a for a, b in edges if b == p})
        for p in ("p1", "p2", "p3", "p4", "p5")
    }
    depth = 7
    runs = []  # (actions, end) of every action sequence up to `depth` steps from p1

    def extend(place, actions):
        runs.append((actions, place))
        if len(actions) < depth:
            for following in neighbours[place]:
                extend(following, [*actions, f"(move {place} {following})"])

    extend("p1", [])
    moves = sorted({f"(move {a} {b})" for a in neighbours for b in neighbours[a]})
    rng = np.random.default_rng(0)
    for _ in range(12):
        goal = f"(at p{rng.integers(1, 6)})"
        observations = [moves[i] for i in rng.integers(len(moves), size=rng.integers(1, 4))]
        embedding = [len(a) for a, end in runs if f"(at {end})" == goal and _embeds(a, observations)]
        avoiding = [len(a) for a, end in runs if f"(at {end})" == goal and not _embeds(a, observations)]
        for cost, brute in zip(_costs(template, {goal}, observations), (embedding, avoiding), strict=True):
            if brute:
                assert cost == min(brute), (goal, observations)
            else:
                assert cost > depth, (goal, observations)


def test_compiled_plans_embed_the_observations_in_order_on_blocks(tmp_path):
    folder = write_embedded_benchmark(tmp_path, num_objects=5, num_problems=6, num_hypotheses=3, observability=(30,))
    checked = {True: 0, False: 0}
    for problem in folder_problems(folder):
        grounded = ground(problem.domain, problem.template)
        goal = problem.true_hypothesis
        with_o, without_o = compile_observations(with_goal(grounded, goal), problem.observations)
        for task, embeds in ((with_o, True), (without_o, False)):
            try:
                actions, explained = explained_actions(solve(task, time_limit=20))
            except GoalUnreachable:
                # Every plan for the goal may need the observed actions (then only "without" can fail).
                assert not embeds
                continue
            state = grounded.initial_state
            for name in actions:
                assert grounded.operator(name).applicable(state)
                state = grounded.operator(name).apply(state)
            assert goal <= state
            assert _embeds(actions, list(problem.observations)) is embeds
            if embeds:
                assert [actions[i] for i in explained] == list(problem.observations)
            else:
                assert len(explained) < len(problem.observations)
            checked[embeds] += 1
    assert checked[True] == 6 and checked[False] >= 2


def test_searches_share_the_time_limit_and_timeouts_are_recorded():
    template = embedded_template("blocks", num_objects=12, seed=0)
    grounded = ground(BLOCKS_DOMAIN, template)
    first = next(op.name for op in grounded.task.operators if op.applicable(grounded.initial_state))
    letters = "abcdefghijkl"
    towers = [{f"(on {x} {y})" for x, y in itertools.pairwise(order)} for order in (letters, letters[::-1])]
    problem = GoalRecognitionProblem(
        name="hard",
        domain=BLOCKS_DOMAIN,
        template=template,
        hypotheses=(frozenset(towers[0]), frozenset(towers[1])),
        true_hypothesis=frozenset(towers[0]),
        true_index=0,
        observations=(first,),
        observability=100,
        noisy=False,
        path=Path("hard.tar.bz2"),
    )
    result = PlanningRecognizer(time_limit=0.5, search="astar", heuristic="lmcut").recognize(problem)
    assert result.any_timed_out and result.timed_out[:, 0].all()
    assert result.seconds < 3.0
    assert np.isinf(result.costs[:, 0]).all() and result.chosen in (0, 1)


def test_landmark_recognizer_goal_completion_on_a_corridor():
    problem = _problem(CORRIDOR, [{"(at l2)"}, {"(at r2)"}, {"(at r1)", "(at r2)"}], 1, ["(move c r1)"])
    recognizer = LandmarkRecognizer()
    assert recognizer.landmarks(problem, "(at r2)") == {"(at r1)", "(at r2)"}
    result = recognizer.recognize(problem)
    # l2: 0 of {l1, l2}; r2: 1 of {r1, r2}; {r1, r2}: mean of 1/1 and 1/2.
    np.testing.assert_allclose(result.scores, [0.0, 0.5, 0.75])
    assert result.chosen == 2 and isinstance(result, Recognition)


def test_ties_are_broken_at_random_but_repeatably():
    problem = _problem(CORRIDOR, [{"(at r2)"}, {"(at r2)"}, {"(at l2)"}], 0, ["(move c r1)"])
    chosen = {LandmarkRecognizer(seed=seed).recognize(problem).chosen for seed in range(16)}
    assert chosen == {0, 1}
    assert len({PlanningRecognizer(seed=3).recognize(problem).chosen for _ in range(3)}) == 1


def test_an_observation_the_domain_lacks_is_one_line_error():
    problem = _problem(CORRIDOR, [{"(at l2)"}, {"(at r2)"}], 1, ["(move c r1)", "(fly c r2)"])
    for recognizer in (PlanningRecognizer(), LandmarkRecognizer()):
        with pytest.raises(ValueError, match=r"tiny\.tar\.bz2: observed action \(fly c r2\) is not an action") as error:
            recognizer.recognize(problem)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="time_limit and beta must be positive"):
        PlanningRecognizer(time_limit=0)
    with pytest.raises(ValueError, match="search must be gbfs/astar"):
        PlanningRecognizer(search="bfs")


def test_recognizers_on_the_embedded_blocks_world(tmp_path):
    folder = write_embedded_benchmark(tmp_path, num_objects=5, num_problems=6, num_hypotheses=4, observability=(100,))
    problems = folder_problems(folder)
    for recognizer in (PlanningRecognizer(time_limit=20), LandmarkRecognizer()):
        results = [recognizer.recognize(p) for p in problems]
        accuracy = np.mean([p.is_correct(r.chosen) for p, r in zip(problems, results, strict=True)])
        assert accuracy >= 4 / 6, type(recognizer).__name__


def test_landmark_recognizer_on_real_blocks_world(dataset_root):
    dataset_root("goal-plan-recognition", "blocks-world/100")
    problems = benchmark_problems("blocks-world", observability=[100], limit_per_level=10, seed=0)
    recognizer = LandmarkRecognizer()
    accuracy = np.mean([p.is_correct(recognizer.recognize(p).chosen) for p in problems])
    assert accuracy >= 0.7


@pytest.mark.parametrize("domain", ["blocks", "gripper"])
def test_fact_landmarks_equal_pyperplans_get_landmarks(domain):
    from pyperplan.heuristics.landmarks import get_landmarks

    from recur_planning.data.embedded import GRIPPER_DOMAIN

    text = {"blocks": BLOCKS_DOMAIN, "gripper": GRIPPER_DOMAIN}[domain]
    grounded = ground(text, embedded_template(domain, num_objects=4, seed=1))
    landmarks = FactLandmarks(grounded.task)
    for fact in grounded.facts:
        assert landmarks(fact) == get_landmarks(with_goal(grounded, [fact])), fact
    corridor = ground(NAV, CORRIDOR)
    for fact in ("(at l2)", "(at c)"):
        assert FactLandmarks(corridor.task)(fact) == get_landmarks(with_goal(corridor, [fact]))
    # An unreachable goal (b -> a only): every fact is a landmark, as pyperplan says.
    one_way = ground(NAV, _template("a", [("a", "b")]).replace("(adj a b)", ""))
    assert FactLandmarks(one_way.task)("(at b)") == get_landmarks(with_goal(one_way, ["(at b)"])) == set(one_way.facts)


def test_unknown_actions_can_be_skipped_for_noisy_observations():
    problem = _problem(CORRIDOR, [{"(at l2)"}, {"(at r2)"}], 1, ["(move c c)", "(move c r1)"])
    for recognizer in (PlanningRecognizer(unknown_actions="skip"), LandmarkRecognizer(unknown_actions="skip")):
        result = recognizer.recognize(problem)
        assert result.chosen == 1 and result.skipped == 1
    nothing = _problem(CORRIDOR, [{"(at l2)"}, {"(at r2)"}], 1, ["(move c c)"])
    result = PlanningRecognizer(unknown_actions="skip").recognize(nothing)
    np.testing.assert_allclose(result.scores, [0.5, 0.5])
    assert result.skipped == 1 and result.costs is None
    with pytest.raises(ValueError, match="unknown_actions must be 'error' or 'skip'"):
        LandmarkRecognizer(unknown_actions="drop")


def test_planning_recognizer_on_real_logistics(dataset_root):
    dataset_root("goal-plan-recognition", "logistics/100")
    problems = [p for p in benchmark_problems("logistics", observability=[100]) if p.name.startswith("logistics_p01")]
    result = PlanningRecognizer(time_limit=15).recognize(problems[0])
    assert problems[0].is_correct(result.chosen) and result.seconds < 16
    assert np.isfinite(result.costs[problems[0].true_index]).all()


def test_every_version_of_an_action_defined_twice_can_explain_an_observation():
    # campus and kitchen define some actions twice; here only the first version of (act) applies
    from pyperplan.task import Operator, Task

    first = Operator("(act)", frozenset({"(p)"}), frozenset({"(g)"}), frozenset())
    second = Operator("(act)", frozenset({"(q)"}), frozenset({"(g)"}), frozenset())
    task = Task("twice", {"(p)", "(q)", "(g)"}, frozenset({"(p)"}), frozenset({"(g)"}), [first, second])
    with_o, without_o = compile_observations(task, ["(act)"])
    assert with_o.goals == {"(g)", "(obs-explained 1)"} and without_o.goals == {"(g)", "(obs-pending)"}
    plan = solve(with_o, time_limit=5)
    assert explained_actions(plan) == (["(act)"], [0])
