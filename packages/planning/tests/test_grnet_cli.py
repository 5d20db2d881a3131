"""CLI runs of the GRNet recipes: fit the embedded default for a few steps, test its checkpoint, bad input."""

import csv
from pathlib import Path

import pytest
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_planning.data.embedded import BLOCKS_DOMAIN, embedded_template
from recur_planning.data.goal_recognition import BENCHMARK_DOMAINS, write_problem
from recur_planning.datamodules import GoalRecognitionData
from recur_planning.task import GoalRecognitionModule

SMALL = ["--data.train_goals", "40", "--data.test_limit_per_level", "3", "--data.batch_size", "16"]
RECIPES = ("default", "blocks_world", "logistics", "driverlog", "depots", "rovers", "miconic")


def test_fit_the_default_recipe_then_test_its_checkpoint(runs_dir, one_thread):
    cli = run_cli(
        "planning",
        ["fit", "--config", "grnet/default", "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "3", *SMALL],
    )
    assert isinstance(cli.model, GoalRecognitionModule) and isinstance(cli.datamodule, GoalRecognitionData)
    run = cli.run_dir
    assert run.is_relative_to(runs_dir) and "grnet" in run.parts and "default" in run.parts
    for name in ("config.yaml", "metrics.csv", "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    # the embedded benchmark and the generated plans are cached in the run folder
    assert any((run / "plans").glob("embedded-blocks-*")) and any((run / "plans").glob("*.json"))
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {r["epoch"] for r in rows if r.get("val/acc")} == {"0", "1"}
    # the sizes the data gave the model travel in the checkpoint
    restored = GoalRecognitionModule.load_from_checkpoint(run / "checkpoints" / "best.ckpt")
    assert restored.hparams.num_actions == cli.datamodule.num_actions and restored.net is not None
    best = str(run / "checkpoints" / "best.ckpt")
    tested = run_cli("planning", ["test", "--config", "grnet/default", "--ckpt_path", best, *SMALL])
    result = tested.trainer.callback_metrics
    for name in ("test/acc", "test/acc_random", "test/seconds_per_problem", "test/acc_landmark"):
        assert name in result, name
    for level in (10, 30, 50, 70, 100):
        assert f"test/acc_{level}" in result and f"test/seconds_per_problem_landmark_{level}" in result


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_builds_and_names_its_command(runs_dir, name):
    path = list_recipes("planning")[f"grnet/{name}"]
    assert path.read_text().splitlines()[0] == f"# recur-planning fit --config grnet/{name}"
    config = yaml.safe_load(path.read_text())
    domain = config["data"]["init_args"]["domain"]
    assert domain == "embedded" if name == "default" else domain in BENCHMARK_DOMAINS
    # instantiating reads no data: a recipe builds on a fresh clone
    cli = run_cli("planning", ["--config", f"grnet/{name}"], run=False)
    assert isinstance(cli.model, GoalRecognitionModule) and cli.model.net is None
    assert cli.datamodule.domain == domain


def _fake_benchmark(root: Path, observations: list[str]) -> None:
    """A data root with one blocks-world archive at 10% observability."""
    folder = root / "goal-plan-recognition-dataset"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("fake\n")
    for domain in BENCHMARK_DOMAINS:
        (folder / domain / "100").mkdir(parents=True)
    write_problem(
        folder / "blocks-world" / "10" / "p01_hyp-0_10_0.tar.bz2",
        BLOCKS_DOMAIN,
        embedded_template("blocks", num_objects=4),
        hypotheses=[["(on a b)"], ["(on b a)"]],
        true_hypothesis=["(on a b)"],
        observations=observations,
    )


def test_bad_input_from_the_cli_is_one_line(runs_dir, capsys, tmp_path):
    _fake_benchmark(tmp_path, ["(pick-up a)", "(fly a b)"])
    # the domain's requirements list lost its closing parenthesis (line 3)
    broken, template = tmp_path / "broken.pddl", tmp_path / "template.pddl"
    broken.write_text(BLOCKS_DOMAIN.replace(":equality)", ":equality", 1))
    template.write_text(embedded_template("blocks", 3))
    cases = [
        (["fit", "--data.domain", "nope"], "unknown domain 'nope'"),
        (
            ["test", "--data.domain", "blocks-world", "--data.root", str(tmp_path), "--data.observability", "[10]"],
            "p01_hyp-0_10_0.tar.bz2: observed action (fly a b) is not an action of domain 'blocks-world'",
        ),
        (["fit", "--model.baselines", "[oracle]"], "unknown baseline(s) oracle"),
        (
            ["fit", "--data.domain_file", str(broken), "--data.template_file", str(template)],
            f"{broken}:3: missing closing parenthesis",
        ),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exited:
            console_main("planning", [args[0], "--config", "grnet/default", *args[1:]])
        assert exited.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
