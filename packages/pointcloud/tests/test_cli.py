"""The recur-pointcloud console script: wired as the other members' are, with one-line errors.

Fitting and testing the recipes is tested with their tasks (test_detection.py, test_parsing.py).
"""

import sys
from importlib.metadata import entry_points

import pytest

from recur_core.engine import console_main
from recur_core.registry import installed_members


def test_console_script_and_member_are_wired(monkeypatch, capsys):
    [script] = entry_points(group="console_scripts", name="recur-pointcloud")
    assert script.value == "recur_pointcloud.cli:main"
    assert installed_members()["pointcloud"] == "recur_pointcloud"
    monkeypatch.setattr(sys, "argv", ["recur-pointcloud", "--help"])
    with pytest.raises(SystemExit) as exited:
        script.load()()
    assert exited.value.code == 0 and "{fit,validate,test,predict}" in capsys.readouterr().out


def test_an_unknown_recipe_is_one_line(capsys, runs_dir):
    with pytest.raises(SystemExit) as exited:
        console_main("pointcloud", ["fit", "--config", "lion/no_such_recipe"])
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and message.startswith("recur-pointcloud: error:") and "\n" not in message
    assert "lion/no_such_recipe" in message
