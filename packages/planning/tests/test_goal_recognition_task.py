"""GoalRecognitionModule: sizes from the data, BCE training, recognition accuracy per level, baselines, metrics."""

import numpy as np
import pytest
import torch

from recur_core.engine import quiet_trainer
from recur_planning.data.embedded import BLOCKS_DOMAIN, embedded_template
from recur_planning.data.goal_recognition import BENCHMARK_DOMAINS, write_problem
from recur_planning.datamodules import GoalRecognitionData
from recur_planning.metrics import mean_per_level, random_pick_accuracy, recognition_accuracy
from recur_planning.models.grnet import GRNet
from recur_planning.task import GoalRecognitionModule


@pytest.fixture
def data(tmp_path) -> GoalRecognitionData:
    (tmp_path / "domain.pddl").write_text(BLOCKS_DOMAIN)
    (tmp_path / "template.pddl").write_text(embedded_template("blocks", num_objects=4))
    return GoalRecognitionData(
        domain_file=str(tmp_path / "domain.pddl"),
        template_file=str(tmp_path / "template.pddl"),
        goal_predicates=["on", "ontable", "clear"],
        train_goals=200,
        test_goals=10,
        candidates=4,
        plans_cache=str(tmp_path / "cache"),
        batch_size=32,
        max_len=12,
    )


def test_metrics_by_hand():
    assert mean_per_level([1, 0, 1, 1], [10, 10, 30, 100]) == {10: 0.5, 30: 1.0, 100: 1.0}
    scores = recognition_accuracy([True, False, True, True], [10, 10, 30, 100])
    assert scores == {"acc": 0.75, "acc_10": 0.5, "acc_30": 1.0, "acc_100": 1.0}
    np.testing.assert_allclose(random_pick_accuracy([1, 2, 1], [4, 4, 20]), [0.25, 0.5, 0.05])
    with pytest.raises(ValueError, match="at least one candidate"):
        random_pick_accuracy([1], [0])
    with pytest.raises(ValueError, match="no problems to score"):
        recognition_accuracy([], [])


def test_sizes_come_from_the_data_and_training_beats_chance(one_thread, data, tmp_path):
    torch.manual_seed(0)
    module = GoalRecognitionModule(
        model_kwargs={"embedding_dim": 32, "hidden_size": 32}, lr=0.01, baselines=["landmark"]
    )
    assert module.net is None
    trainer = quiet_trainer(max_epochs=15, default_root_dir=str(tmp_path / "run"))
    untrained = trainer.test(module, datamodule=data, verbose=False)[0]
    trainer.fit(module, datamodule=data)
    assert isinstance(module.net, GRNet)
    assert (module.hparams.num_actions, module.hparams.num_goal_facts, module.hparams.max_len) == (
        data.num_actions,
        data.num_goal_facts,
        12,
    )
    result = trainer.test(module, datamodule=data, verbose=False)[0]
    levels = (10, 30, 50, 70, 100)
    for name in ("test/acc", "test/acc_random", "test/seconds_per_problem", "test/acc_landmark"):
        assert name in result, name
    assert all(f"test/acc_{level}" in result and f"test/acc_landmark_{level}" in result for level in levels)
    assert result["test/acc_random"] == pytest.approx(0.25)
    # a 4-block world, 4 generated candidates per problem: the goal facts are learnt (the BCE on the true
    # goals falls well below the untrained model's) and the recognition beats a uniform pick
    assert result["test/loss"] < 0.5 * untrained["test/loss"], (untrained, result)
    assert result["test/acc"] > result["test/acc_random"] + 0.1, result
    assert result["test/acc_100"] >= result["test/acc_10"] - 0.2


def test_a_size_that_contradicts_the_data_is_one_line(data, tmp_path):
    data.setup("fit")
    module = GoalRecognitionModule(num_actions=data.num_actions + 1)
    trainer = quiet_trainer(max_epochs=1, default_root_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match=rf"model.num_actions = {data.num_actions + 1} but the data has num_actions"):
        trainer.fit(module, datamodule=data)


def test_bad_options():
    with pytest.raises(ValueError, match="unknown baseline"):
        GoalRecognitionModule(baselines=["oracle"])
    with pytest.raises(ValueError, match="baseline_time_limit must be positive"):
        GoalRecognitionModule(baseline_time_limit=0)
    # all sizes given: the net exists at once (a checkpoint loads without a DataModule)
    module = GoalRecognitionModule(num_actions=9, num_goal_facts=4, max_len=5)
    assert module(torch.tensor([[1, 2, 0]])).shape == (1, 4)


def test_fit_and_test_on_the_real_benchmark(one_thread, dataset_root, tmp_path):
    root = dataset_root("goal-plan-recognition", "logistics/10").parent
    data = GoalRecognitionData(
        domain="logistics",
        root=str(root),
        train_goals=3,
        test_limit_per_level=1,
        plans_cache=str(tmp_path / "plans"),
        batch_size=8,
    )
    module = GoalRecognitionModule(model_kwargs={"embedding_dim": 16, "hidden_size": 16}, baselines=["landmark"])
    trainer = quiet_trainer(max_epochs=1, default_root_dir=str(tmp_path / "run"))
    trainer.fit(module, datamodule=data)
    assert len(data.plans()) == 7 and module.hparams.num_actions == data.num_actions > 300
    result = trainer.test(module, datamodule=data, verbose=False)[0]
    # one archive per level of the benchmark, scored by GRNet and by the landmark recognizer
    assert len(data.test_problems) == 5 and all(p.path.is_relative_to(root) for p in data.test_problems)
    assert (
        0.0 <= result["test/acc"] <= 1.0 and 0.0 < result["test/acc_random"] < 0.2 and "test/acc_landmark_10" in result
    )


def test_noisy_archives_are_scored_by_model_and_baseline(tmp_path):
    # a data root with one noisy blocks-world archive whose spurious observation names no grounded action
    folder = tmp_path / "goal-plan-recognition-dataset"
    folder.mkdir()
    (folder / "README.md").write_text("fake\n")
    for domain in BENCHMARK_DOMAINS:
        (folder / domain / "100").mkdir(parents=True)
    write_problem(
        folder / "blocks-world-noisy" / "25" / "p01_hyp-0_25_0.tar.bz2",
        BLOCKS_DOMAIN,
        embedded_template("blocks", num_objects=4),
        hypotheses=[["(on a b)"], ["(on b a)"]],
        true_hypothesis=["(on a b)"],
        observations=["(fly a b)", "(pick-up a)"],
    )
    data = GoalRecognitionData(domain="blocks-world", root=str(tmp_path), noisy=True, plans_cache=str(tmp_path / "c"))
    module = GoalRecognitionModule(baselines=["landmark"])
    result = quiet_trainer(default_root_dir=str(tmp_path / "run")).test(module, datamodule=data, verbose=False)[0]
    assert {"test/acc_25", "test/acc_landmark_25", "test/seconds_per_problem_landmark"} <= set(result)


def test_the_planning_recognizer_runs_on_a_seeded_subset_per_level(one_thread, data, tmp_path):
    module = GoalRecognitionModule(
        model_kwargs={"embedding_dim": 8, "hidden_size": 8},
        baselines=["planning", "landmark"],
        baseline_time_limit=2.0,
        planning_limit_per_level=1,
    )
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=1, default_root_dir=str(tmp_path / "run"))
    trainer.fit(module, datamodule=data)
    result = trainer.test(module, datamodule=data, verbose=False)[0]
    # 10 generated problems per level: the landmark recognizer scores all 50, the planning one 1 per level
    assert len(data.test_problems) == 50
    assert {f"test/acc_planning_{lvl}" for lvl in (10, 30, 50, 70, 100)} <= set(result)
    # GRNet's accuracy on those same 5 problems (logged as float32)
    assert min(abs(result["test/acc_on_planning_subset"] - k / 5) for k in range(6)) < 1e-6
    assert "test/acc_on_landmark_subset" not in result


def test_per_level_subsets_are_seeded_and_capped():
    from recur_planning.task import _per_level_subset

    levels = [10, 30, 10, 30, 10, 100]
    chosen = _per_level_subset(levels, 2, seed=0)
    assert chosen == sorted(chosen)
    # the seed picks which of level 10's three items are kept
    assert len({tuple(_per_level_subset(levels, 2, seed=s)) for s in range(10)}) > 1
    assert [levels[i] for i in chosen].count(10) == 2 and len(chosen) == 5
    with pytest.raises(ValueError, match="planning_limit_per_level must be at least 1"):
        GoalRecognitionModule(planning_limit_per_level=0)
