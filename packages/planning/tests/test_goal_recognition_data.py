"""GoalRecognitionData: vocabularies from grounded templates, per-epoch observation draws, val/test items, bad input."""

from pathlib import Path

import numpy as np
import pytest
import torch

from recur_planning.data.goal_recognition import BENCHMARK_DOMAINS, write_problem
from recur_planning.data.pddl import ground
from recur_planning.datamodules import GoalRecognitionData

DOMAIN = """(define (domain blocks)
  (:requirements :strips)
  (:predicates (on ?x ?y) (ontable ?x) (clear ?x) (handempty) (holding ?x))
  (:action pick-up :parameters (?x)
    :precondition (and (clear ?x) (ontable ?x) (handempty))
    :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (holding ?x)))
  (:action put-down :parameters (?x)
    :precondition (holding ?x)
    :effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)))
  (:action stack :parameters (?x ?y)
    :precondition (and (holding ?x) (clear ?y))
    :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (on ?x ?y)))
  (:action unstack :parameters (?x ?y)
    :precondition (and (on ?x ?y) (clear ?x) (handempty))
    :effect (and (holding ?x) (clear ?y) (not (clear ?x)) (not (handempty)) (not (on ?x ?y)))))
"""
TEMPLATE = """(define (problem tiny) (:domain blocks)
  (:objects a b c d)
  (:init (handempty) (ontable a) (ontable b) (on c a) (clear c) (clear b) (ontable d) (clear d))
  (:goal (and <HYPOTHESIS>)))
"""


@pytest.fixture
def by_path(tmp_path: Path) -> GoalRecognitionData:
    (tmp_path / "domain.pddl").write_text(DOMAIN)
    (tmp_path / "template.pddl").write_text(TEMPLATE)
    return GoalRecognitionData(
        domain_file=str(tmp_path / "domain.pddl"),
        template_file=str(tmp_path / "template.pddl"),
        goal_predicates=["on", "ontable", "clear"],
        train_goals=30,
        test_goals=4,
        candidates=4,
        plans_cache=str(tmp_path / "cache"),
        batch_size=8,
        max_len=6,
    )


def test_vocabularies_come_from_the_grounded_template(by_path):
    by_path.setup("fit")
    grounded = ground(DOMAIN, TEMPLATE)
    assert by_path.actions == tuple(sorted(grounded.actions)) and by_path.num_actions == len(grounded.actions)
    # goal facts: the fluents of the goal predicates only (no holding, no handempty)
    assert by_path.goal_facts == tuple(f for f in sorted(grounded.facts) if not f.startswith(("(holding", "(hand")))
    assert by_path.num_goal_facts == len(by_path.goal_facts) and "(on a b)" in by_path.goal_facts


def test_training_items_redraw_their_observations_per_epoch(by_path):
    by_path.setup("fit")
    train = by_path.dataset("train")
    assert len(train) == len(train.traces) * 5  # five observability levels
    first = [train[(0, i)]["actions"] for i in range(len(train))]
    assert first == [train[(0, i)]["actions"] for i in range(len(train))]  # a pure function of (epoch, index)
    assert first != [train[(1, i)]["actions"] for i in range(len(train))]
    for index in range(0, len(train), 5):  # the 10% items of each plan: ceil(0.1 · length) actions, in plan order
        trace = train.traces[index // 5]
        item = train[(0, index)]["actions"]
        assert len(item) == min(6, int(np.ceil(0.1 * len(trace)))) and set(item) <= set(trace)
    full = train[(3, 4)]  # 100%: the whole plan, cut to max_len
    assert full["actions"] == train.traces[0][:6]
    goal = torch.zeros(by_path.num_goal_facts)
    assert torch.equal(full["targets"].bool(), train.targets[0].bool()) and full["targets"].sum() >= 1
    assert goal.shape == full["targets"].shape


def test_batches_are_right_padded_with_candidates(by_path):
    by_path.setup("fit")
    batch = next(iter(by_path.val_dataloader()))
    actions, lengths = batch["actions"], (batch["actions"] != 0).sum(1)
    assert actions.dtype == torch.long and actions.shape[1] == int(lengths.max())
    assert all((row[: int(n)] > 0).all() and (row[int(n) :] == 0).all() for row, n in zip(actions, lengths))
    for candidates, correct, target in zip(batch["candidates"], batch["correct"], batch["targets"]):
        assert 2 <= len(candidates) <= 4 and len(correct) == 1
        true_facts = sorted(int(i) for i in torch.nonzero(target).flatten())
        assert sorted(candidates[correct[0]]) == true_facts


def test_generated_test_problems_for_a_domain_by_path(by_path):
    by_path.setup("test")
    problems = by_path.test_problems
    assert {p.observability for p in problems} == {10, 30, 50, 70, 100}
    assert all(p.hypotheses[p.true_index] == p.true_hypothesis for p in problems)
    batch = next(iter(by_path.test_dataloader()))
    assert batch["problem"].tolist() == list(range(len(batch["problem"])))


def test_bad_options_are_one_line():
    with pytest.raises(ValueError, match=r"unknown domain 'nope'; choose 'embedded', .* one of blocks-world"):
        GoalRecognitionData(domain="nope")
    with pytest.raises(ValueError, match=r"give both --data\.domain_file and --data\.template_file"):
        GoalRecognitionData(domain_file="d.pddl")
    with pytest.raises(ValueError, match="noisy reads the benchmark's -noisy folders"):
        GoalRecognitionData(noisy=True)
    with pytest.raises(ValueError, match="val_fraction must lie in"):
        GoalRecognitionData(val_fraction=1.0)
    with pytest.raises(FileNotFoundError, match="PDDL file not found"):
        GoalRecognitionData(domain_file="/nonexistent/d.pddl", template_file="/nonexistent/t.pddl").setup("test")


def _fake_benchmark(root: Path, observations: list[str], folder_name: str = "blocks-world/10") -> Path:
    """A data root whose goal-plan-recognition-dataset holds one blocks-world archive (default at 10%)."""
    folder = root / "goal-plan-recognition-dataset"
    (folder / "README.md").parent.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text("fake\n")
    for name in BENCHMARK_DOMAINS:
        (folder / name / "100").mkdir(parents=True, exist_ok=True)
    return write_problem(
        folder / folder_name / "p01_hyp-0_10_0.tar.bz2",
        DOMAIN,
        TEMPLATE,
        hypotheses=[["(on a b)", "(clear a)"], ["(on b a)"], ["(on d c)", "(ontable c)"]],
        true_hypothesis=["(on a b)", "(clear a)"],
        observations=observations,
    )


def test_benchmark_archives_become_test_items(tmp_path):
    archive = _fake_benchmark(tmp_path, ["(unstack c a)", "(pick-up a)"])
    data = GoalRecognitionData(domain="blocks-world", root=str(tmp_path), observability=[10])
    data.setup("test")
    assert data.num_actions == len(ground(DOMAIN, TEMPLATE).actions)
    # goal predicates: those the candidates use (clear, on, ontable)
    assert {f.strip("()").split()[0] for f in data.goal_facts} == {"clear", "on", "ontable"}
    (item,) = [data.dataset("test")[0]]
    index = {action: i + 1 for i, action in enumerate(data.actions)}
    assert item["actions"] == [index["(unstack c a)"], index["(pick-up a)"]]
    assert item["correct"] == [0] and item["observability"] == 10 and data.test_problems[0].path == archive
    assert sorted(item["candidates"][1]) == [data.goal_facts.index("(on b a)")]


def test_benchmark_goal_shapes_follow_the_candidates(tmp_path):
    _fake_benchmark(tmp_path, ["(unstack c a)", "(pick-up a)"])
    options = {"domain": "blocks-world", "root": str(tmp_path), "observability": [10], "train_goals": 8}
    shaped = GoalRecognitionData(**options, goal_shapes="benchmark", plans_cache=str(tmp_path / "cache"))
    (plans,) = shaped.plans()
    # the candidates' shapes: {on: 1, clear: 1}, {on: 1}, {on: 1, ontable: 1}
    shapes = [{"clear": 1, "on": 1}, {"on": 1}, {"on": 1, "ontable": 1}]
    signatures = [
        {p: sum(f.startswith(f"({p} ") for f in plan.goal) for p in ("clear", "on", "ontable")} for plan in plans
    ]
    assert len(plans) >= 4 and all({k: v for k, v in s.items() if v} in shapes for s in signatures)
    random = GoalRecognitionData(**options, plans_cache=str(tmp_path / "cache"))
    (other,) = random.plans()
    assert other.cache_file != plans.cache_file and len(list((tmp_path / "cache").glob("plans-*.json"))) == 2
    with pytest.raises(ValueError, match=r"goal_shapes='benchmark' reads the shapes .* set --data\.goal_shapes random"):
        GoalRecognitionData(domain_file="d.pddl", template_file="t.pddl", goal_shapes="benchmark")
    with pytest.raises(ValueError, match="goal_shapes must be 'random' or 'benchmark'"):
        GoalRecognitionData(goal_shapes="towers")


def test_an_observation_outside_the_domain_is_one_line(tmp_path):
    archive = _fake_benchmark(tmp_path, ["(unstack c a)", "(fly a b)"])
    data = GoalRecognitionData(domain="blocks-world", root=str(tmp_path), observability=[10])
    with pytest.raises(
        ValueError, match=r"p01_hyp-0_10_0\.tar\.bz2: observed action \(fly a b\) is not an action"
    ) as err:
        data.setup("test")
    assert str(archive) in str(err.value) and "\n" not in str(err.value)


def test_noisy_observations_outside_the_domain_are_left_out(tmp_path):
    _fake_benchmark(tmp_path, ["(unstack c a)", "(fly a b)", "(pick-up b)"], folder_name="blocks-world-noisy/25")
    data = GoalRecognitionData(domain="blocks-world", root=str(tmp_path), noisy=True)
    data.setup("test")
    index = {action: i + 1 for i, action in enumerate(data.actions)}
    (item,) = list(data.dataset("test"))
    assert item["actions"] == [index["(unstack c a)"], index["(pick-up b)"]] and item["observability"] == 25


def test_the_real_benchmark_vocabulary(dataset_root):
    root = dataset_root("goal-plan-recognition", "blocks-world/10").parent
    data = GoalRecognitionData(domain="blocks-world", root=str(root), test_limit_per_level=3)
    data.setup("test")
    assert len(data.test_problems) == 15 and {p.observability for p in data.test_problems} == {10, 30, 50, 70, 100}
    assert data.num_actions > 100 and data.num_goal_facts > 50
    assert "(unstack r p)" in data.actions and "(on d r)" in data.goal_facts
    for item in data.dataset("test"):
        assert len(item["actions"]) >= 1 and item["correct"] and all(len(c) >= 1 for c in item["candidates"])
