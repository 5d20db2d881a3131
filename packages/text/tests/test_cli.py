"""The recur-text console script: wired as the other members' are, with one-line errors.

Each model family's own CLI tests (fit, exact resume, test from the checkpoint) sit beside its other tests.
"""

import sys
from importlib.metadata import entry_points

import pytest

from recur_core.engine import console_main
from recur_core.registry import installed_members


def test_console_script_and_member_are_wired(monkeypatch, capsys):
    [script] = entry_points(group="console_scripts", name="recur-text")
    assert script.value == "recur_text.cli:main"
    assert installed_members()["text"] == "recur_text"
    monkeypatch.setattr(sys, "argv", ["recur-text", "--help"])
    with pytest.raises(SystemExit) as exited:
        script.load()()
    assert exited.value.code == 0 and "{fit,validate,test,predict}" in capsys.readouterr().out


def test_an_unknown_recipe_is_one_line(capsys, runs_dir):
    with pytest.raises(SystemExit) as exited:
        console_main("text", ["fit", "--config", "meters/no_such_recipe"])
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and message.startswith("recur-text: error:") and "\n" not in message
    assert "meters/no_such_recipe" in message


def test_generate_and_show_go_to_recurrent_gpts_loop(monkeypatch, capsys, tmp_path):
    [script] = entry_points(group="console_scripts", name="recur-text")
    monkeypatch.setattr(sys, "argv", ["recur-text", "show", "--state", str(tmp_path / "no_story")])
    with pytest.raises(SystemExit) as exited:
        script.load()()
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and message.startswith("recur-text generate: error:") and "\n" not in message
    assert "no_story" in message
