"""Pointer networks through the CLI: the recipes instantiate; fit, resume, test with the heuristic baselines."""

import numpy as np
import pytest

from recur_core.engine import run_cli
from recur_core.recipes import list_recipes
from recur_text.pointer_metrics import extreme_points_hull, fan_triangulation, hull_coverage, triangle_coverage
from recur_text.pointer_task import PointerData, PointerModule, score_pointer_sequences

RECIPES = ("pointer/convex_hull", "pointer/tsp", "pointer/delaunay")
TINY = [
    "--data.num_train", "48", "--data.num_val", "8", "--data.num_test", "8", "--data.batch_size", "16",
    "--model.model_kwargs", '{"layer": "gru", "d_model": 16}', "--model.beam_size", "2",
]  # fmt: skip


def test_recipes_instantiate_and_open_with_their_command(runs_dir):
    recipes = list_recipes("text")
    for name in RECIPES:
        assert recipes[name].read_text().splitlines()[0] == f"# recur-text fit --config {name}"
        cli = run_cli("text", ["--config", name], run=False)
        assert isinstance(cli.model, PointerModule) and isinstance(cli.datamodule, PointerData)


@pytest.mark.parametrize("task", ["tsp", "convex_hull"])
def test_fit_resume_then_test_prints_the_baseline(runs_dir, task):
    recipe = f"pointer/{task}"
    fit = run_cli("text", ["fit", "--config", recipe, *TINY, "--trainer.max_epochs", "1"])
    resumed = run_cli("text", ["fit", "--config", recipe, *TINY, "--trainer.max_epochs", "2", "--ckpt_path", "last"])
    assert resumed.run_dir == fit.run_dir and resumed.trainer.current_epoch == 2
    last = fit.run_dir / "checkpoints" / "last.ckpt"
    cli = run_cli("text", ["test", "--config", recipe, *TINY, "--ckpt_path", str(last)])
    metrics = set(cli.trainer.callback_metrics)
    expected = {"ratio", "ratio_baseline", "valid"} if task == "tsp" else {"coverage", "coverage_baseline"}
    assert {f"test/{k}" for k in expected | {"exact", "exact_beam", "exact_baseline"}} <= metrics
    if task == "tsp":
        assert float(cli.trainer.callback_metrics["test/valid"]) == 1.0


def test_scores_of_the_label_itself_are_perfect():
    data = PointerData(task="convex_hull", num_train=1, num_val=1, num_test=6, sizes=(6, 9))
    test = data.dataset("test")
    batch = data.collate_fn()([test[i] for i in range(len(test))])
    rows = score_pointer_sequences("convex_hull", batch["points"], batch["lengths"], batch["targets"], batch["targets"])
    assert all(r["exact"] == 1.0 and r["coverage"] == pytest.approx(1.0) for r in rows)
    assert all(r["coverage_baseline"] <= 1.0 + 1e-9 for r in rows)


def test_baseline_heuristics_on_a_diamond():
    diamond = np.array([[0.5, 0.0], [1.0, 0.5], [0.5, 1.0], [0.0, 0.5], [0.5, 0.5]])
    hull = extreme_points_hull(diamond)
    assert hull == [1, 2, 3, 4] and hull_coverage(diamond, hull, [1, 2, 3, 4]) == pytest.approx(1.0)
    assert hull_coverage(diamond, [1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.5)
    assert fan_triangulation([1, 2, 3, 4]) == [1, 2, 3, 1, 3, 4]
    assert triangle_coverage([1, 2, 3, 1, 3, 4], [1, 2, 5, 2, 3, 5, 3, 4, 5, 1, 4, 5]) == 0.0


def test_a_task_mismatch_is_a_one_line_error(runs_dir):
    cli = run_cli("text", ["--config", "pointer/tsp", "--data.task", "convex_hull"], run=False)
    cli.trainer.datamodule = cli.datamodule
    cli.model.trainer = cli.trainer
    with pytest.raises(ValueError, match=r"model\.task = 'tsp' but the data has task = 'convex_hull'"):
        cli.model.setup("fit")
