"""recur_planning.data.plans: random reachable goals, their plans, the cache, observation sampling."""

import json
import tarfile

import numpy as np
import pytest

from recur_planning.data.embedded import BLOCKS_DOMAIN as BLOCKS
from recur_planning.data.pddl import ground, normalize_atom
from recur_planning.data.plans import (
    GeneratedPlans,
    PlanExample,
    default_goal_predicates,
    generate_plans,
    goal_facts,
    sample_observations,
)

TEMPLATE = """\
(define (problem five) (:domain blocks) (:objects A B C D E - block)
  (:init (HANDEMPTY) (CLEAR A) (ONTABLE A) (CLEAR B) (ON B C) (ON C D) (ONTABLE D) (CLEAR E) (ONTABLE E))
  (:goal (and
<HYPOTHESIS>
)))
"""

# a gripper with one ball and two rooms: only a handful of distinct goals exist
GRIPPER = """\
(define (domain gripper) (:predicates (room ?r) (ball ?b) (at-robby ?r) (at ?b ?r) (free) (carry ?b))
  (:action move :parameters (?from ?to) :precondition (and (room ?from) (room ?to) (at-robby ?from))
    :effect (and (at-robby ?to) (not (at-robby ?from))))
  (:action pick :parameters (?b ?r) :precondition (and (ball ?b) (room ?r) (at ?b ?r) (at-robby ?r) (free))
    :effect (and (carry ?b) (not (at ?b ?r)) (not (free))))
  (:action drop :parameters (?b ?r) :precondition (and (ball ?b) (room ?r) (carry ?b) (at-robby ?r))
    :effect (and (at ?b ?r) (free) (not (carry ?b)))))
"""
GRIPPER_PROBLEM = """\
(define (problem one) (:domain gripper) (:objects ra rb b1)
  (:init (room ra) (room rb) (ball b1) (at-robby ra) (at b1 ra) (free)) (:goal (and <HYPOTHESIS>)))
"""


def _valid(grounded, example: PlanExample) -> bool:
    state = grounded.initial_state
    for action in example.plan:
        state = grounded.operator(action, state).apply(state)
    return example.goal <= state


def test_generate_plans_gives_valid_plans_of_reachable_goals():
    grounded = ground(BLOCKS, TEMPLATE)
    examples = generate_plans(BLOCKS, TEMPLATE, num_goals=12, seed=0, goal_size=(1, 3), progress=False)
    assert isinstance(examples, GeneratedPlans) and len(examples) == 12
    assert len({e.goal for e in examples}) == 12
    vocabulary = set(goal_facts(grounded))
    for example in examples:
        assert _valid(grounded, example)
        assert 1 <= len(example.goal) <= 3 and example.goal <= vocabulary
        # facts already true initially are never asked for, so every plan does something
        assert not example.goal & grounded.initial_state and len(example.plan) >= 1
        assert example.template.startswith("sha256:") and len(example.template) == 19
    assert examples.stats["goals"] == 12 + examples.stats["timeouts"] and not examples.from_cache


def test_goal_predicates_restrict_the_goals():
    grounded = ground(BLOCKS, TEMPLATE)
    assert default_goal_predicates(grounded) == ("clear", "handempty", "holding", "on", "ontable")
    examples = generate_plans(BLOCKS, TEMPLATE, 6, seed=1, goal_predicates=["ON"], progress=False)
    assert all(fact.startswith("(on ") for e in examples for fact in e.goal)
    assert goal_facts(grounded, ["on"]) == tuple(f for f in grounded.facts if f.startswith("(on "))
    with pytest.raises(ValueError, match="goal_predicates: above is not a predicate"):
        generate_plans(BLOCKS, TEMPLATE, 6, goal_predicates=["on", "above"], progress=False)


@pytest.mark.parametrize(
    ("option", "value"), [("goal_size", (0, 2)), ("goal_size", (3, 2)), ("walk_length", (5,)), ("num_goals", -1)]
)
def test_bad_options_are_one_line_errors(option, value):
    kwargs = {"num_goals": 3, option: value}
    with pytest.raises(ValueError, match=option):
        generate_plans(BLOCKS, TEMPLATE, progress=False, **kwargs)


def test_same_seed_same_plans_whatever_the_workers():
    one = generate_plans(BLOCKS, TEMPLATE, 10, seed=3, workers=1, progress=False)
    two = generate_plans(BLOCKS, TEMPLATE, 10, seed=3, workers=2, progress=False)
    assert one == two
    other = generate_plans(BLOCKS, TEMPLATE, 10, seed=4, workers=1, progress=False)
    assert [e.goal for e in other] != [e.goal for e in one]


def test_cache_round_trip(tmp_path):
    first = generate_plans(BLOCKS, TEMPLATE, 8, seed=0, cache_dir=tmp_path, progress=False)
    files = list(tmp_path.glob("plans-*.json"))
    assert len(files) == 1 and first.cache_file == files[0] and not first.from_cache
    data = json.loads(files[0].read_text())
    assert len(data["examples"]) == 8 and data["options"]["seed"] == 0
    again = generate_plans(BLOCKS, TEMPLATE, 8, seed=0, cache_dir=tmp_path, workers=2, progress=False)
    assert again.from_cache and again == first and again.stats == first.stats
    # any option that changes the result is part of the key
    generate_plans(BLOCKS, TEMPLATE, 8, seed=0, time_limit=4.0, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("plans-*.json"))) == 2
    # a damaged cache file is regenerated with a warning
    files[0].write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable plan cache"):
        regenerated = generate_plans(BLOCKS, TEMPLATE, 8, seed=0, cache_dir=tmp_path, progress=False)
    assert regenerated == first and json.loads(files[0].read_text())["examples"] == data["examples"]


TOWERS = [{"clear": 1, "ontable": 1, "on": 2}, {"clear": 1, "ontable": 1, "on": 1}]


def _signature(goal) -> dict[str, int]:
    counts: dict[str, int] = {}
    for fact in goal:
        counts[fact[1:-1].split()[0]] = counts.get(fact[1:-1].split()[0], 0) + 1
    return counts


def _is_tower(goal) -> bool:
    """One stack: ``clear`` on top, ``on`` links chaining down to the ``ontable`` block."""
    (top,) = [f.split()[1].rstrip(")") for f in goal if f.startswith("(clear")]
    (bottom,) = [f.split()[1].rstrip(")") for f in goal if f.startswith("(ontable")]
    below = dict(f[1:-1].split()[1:] for f in goal if f.startswith("(on "))
    block, seen = top, 0
    while block in below:
        block, seen = below[block], seen + 1
    return block == bottom and seen == len(below)


def test_goal_signatures_shape_the_goals():
    grounded = ground(BLOCKS, TEMPLATE)
    examples = generate_plans(BLOCKS, TEMPLATE, 10, seed=0, goal_signatures=TOWERS, progress=False)
    signatures = [_signature(e.goal) for e in examples]
    assert len(examples) == 10 and all(s in TOWERS for s in signatures) and {s["on"] for s in signatures} == {1, 2}
    # connected through shared objects: a goal is one tower unless no walk reached a tower of its height
    # (counted); none is already true initially
    assert examples.stats["disconnected"] <= 3
    assert sum(_is_tower(e.goal) for e in examples) == 10 - examples.stats["disconnected"]
    assert all(not e.goal <= grounded.initial_state and _valid(grounded, e) for e in examples)
    # a shape no tower has (three blocks clear, one on another) is still drawn, unconnected, and counted
    loose = generate_plans(BLOCKS, TEMPLATE, 3, seed=0, goal_signatures=[{"clear": 3, "on": 1}], progress=False)
    assert all(_signature(e.goal) == {"clear": 3, "on": 1} for e in loose) and loose.stats["disconnected"] == 3


def test_goal_signatures_are_seeded_and_checked():
    one = generate_plans(BLOCKS, TEMPLATE, 6, seed=5, goal_signatures=TOWERS, progress=False)
    assert one == generate_plans(BLOCKS, TEMPLATE, 6, seed=5, goal_signatures=TOWERS, workers=2, progress=False)
    other = generate_plans(BLOCKS, TEMPLATE, 6, seed=6, goal_signatures=TOWERS, progress=False)
    assert [e.goal for e in other] != [e.goal for e in one]
    with pytest.raises(ValueError, match=r"goal_signatures: .* asks for holding, not a goal predicate"):
        generate_plans(BLOCKS, TEMPLATE, 2, goal_predicates=["on"], goal_signatures=[{"holding": 1}], progress=False)
    with pytest.raises(ValueError, match="goal_signatures is empty"):
        generate_plans(BLOCKS, TEMPLATE, 2, goal_signatures=[], progress=False)
    with pytest.raises(ValueError, match=r"goal_signatures: .* asks for no fact"):
        generate_plans(BLOCKS, TEMPLATE, 2, goal_signatures=[{"on": 0}], progress=False)


def test_goal_signatures_are_part_of_the_cache_key(tmp_path):
    random = generate_plans(BLOCKS, TEMPLATE, 4, seed=0, cache_dir=tmp_path, progress=False)
    shaped = generate_plans(BLOCKS, TEMPLATE, 4, seed=0, goal_signatures=TOWERS, cache_dir=tmp_path, progress=False)
    towers = generate_plans(BLOCKS, TEMPLATE, 4, seed=0, goal_signatures=TOWERS[:1], cache_dir=tmp_path, progress=False)
    assert len({random.cache_file, shaped.cache_file, towers.cache_file}) == 3
    assert not shaped.from_cache and not towers.from_cache and shaped != random
    again = generate_plans(BLOCKS, TEMPLATE, 4, seed=0, goal_signatures=TOWERS, cache_dir=tmp_path, progress=False)
    assert again.from_cache and again == shaped


def test_small_domains_return_the_goals_there_are():
    examples = generate_plans(GRIPPER, GRIPPER_PROBLEM, 50, seed=0, goal_size=(1, 2), max_rounds=2, progress=False)
    # reachable fluent goal facts not true initially: at-robby rb, at b1 rb, carry b1 (+ pairs of them that co-occur)
    assert 3 <= len(examples) < 50 and examples.stats["duplicates"] > 0
    assert {"(carry b1)"} in {e.goal for e in examples}


def test_progress_bar_goes_to_stderr(capsys):
    generate_plans(GRIPPER, GRIPPER_PROBLEM, 2, seed=0, progress=True, template_id="gripper-one")
    assert "plans (gripper-one)" in capsys.readouterr().err
    generate_plans(GRIPPER, GRIPPER_PROBLEM, 2, seed=0, progress=False)
    assert capsys.readouterr().err == ""


def test_generate_from_a_benchmark_template(dataset_root, tmp_path):
    root = dataset_root("goal-plan-recognition", "blocks-world/100")
    archive = sorted((root / "blocks-world" / "100").glob("*.tar.bz2"))[0]
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    files = {p.name: p for p in tmp_path.rglob("*.pddl")}
    examples = generate_plans(
        files["domain.pddl"], files["template.pddl"], 5, goal_predicates=["on", "ontable", "clear"], progress=False
    )
    grounded = ground(files["domain.pddl"], files["template.pddl"])
    assert len(examples) == 5 and all(_valid(grounded, e) for e in examples)
    assert examples[0].template == str(files["template.pddl"])
    assert list(tmp_path.rglob("plans-*.json")) == []


# ------------------------------------------------------------------------------ observation sampling


@pytest.mark.parametrize(
    ("length", "counts"),
    # the benchmark's files: 20 actions -> 2/6/10/14, 15 -> 2/5/8/11, 13 -> 2/4/7/10 (ceil, not round)
    [(20, [2, 6, 10, 14, 20]), (15, [2, 5, 8, 11, 15]), (13, [2, 4, 7, 10, 13]), (10, [1, 3, 5, 7, 10]), (1, [1] * 5)],
)
def test_sample_observations_counts_as_the_benchmark(length, counts):
    plan = [f"(a{i})" for i in range(length)]
    rng = np.random.default_rng(0)
    for fraction, count in zip([0.1, 0.3, 0.5, 0.7, 1.0], counts, strict=True):
        observed = sample_observations(plan, fraction, rng)
        assert len(observed) == count
        positions = [plan.index(action) for action in observed]
        assert positions == sorted(set(positions))  # distinct, in plan order


def test_sample_observations_is_seeded_and_checks_its_input():
    plan = [normalize_atom(f"(move r{i} r{i + 1})") for i in range(30)]
    assert sample_observations(plan, 1.0, np.random.default_rng(0)) == plan
    first = sample_observations(plan, 0.3, np.random.default_rng(5))
    assert first == sample_observations(plan, 0.3, np.random.default_rng(5))
    assert first != sample_observations(plan, 0.3, np.random.default_rng(6))
    for fraction in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
            sample_observations(plan, fraction, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty plan"):
        sample_observations([], 0.5, np.random.default_rng(0))


def test_shapes_no_state_reaches_fall_back_to_random_goals(caplog):
    # the hand holds one block at a time: no reachable state has two holding facts
    examples = generate_plans(BLOCKS, TEMPLATE, 4, seed=0, goal_signatures=[{"holding": 2}], progress=False)
    assert len(examples) == 4 and examples.stats["shapes_unreached"] == 1
    # exactly the goals drawn without shapes
    assert examples == generate_plans(BLOCKS, TEMPLATE, 4, seed=0, progress=False)
    assert "drawing random goals" in caplog.text


def test_walks_go_on_until_a_goal_fact_holds():
    # one step from the initial state only lifts a block: a new (on x y) needs at least two
    examples = generate_plans(BLOCKS, TEMPLATE, 3, seed=0, goal_predicates=["on"], walk_length=(1, 1), progress=False)
    assert len(examples) == 3 and all(len(e.plan) >= 2 for e in examples)
