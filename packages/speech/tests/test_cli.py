import sys
from importlib.metadata import entry_points

import pytest

from recur_core.registry import installed_members


def test_console_script_and_member_are_wired(monkeypatch, capsys):
    [script] = entry_points(group="console_scripts", name="recur-speech")
    assert script.value == "recur_speech.cli:main"
    assert installed_members()["speech"] == "recur_speech"
    monkeypatch.setattr(sys, "argv", ["recur-speech", "--help"])
    with pytest.raises(SystemExit) as exited:
        script.load()()
    assert exited.value.code == 0 and "{fit,validate,test,predict}" in capsys.readouterr().out
