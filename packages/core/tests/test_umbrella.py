import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recur_core import list_layers, list_models, recipes, umbrella
from recur_core.registry import installed_members
from recur_core.umbrella import main, scan_registrations


def test_static_scan_agrees_with_the_live_registries():
    members = installed_members()
    scanned_layers = sorted(n for p in members.values() for n in scan_registrations(p)["layer"])
    assert scanned_layers == list_layers()
    for member, package in members.items():
        assert scan_registrations(package)["model"] == list_models(member)


def test_recur_list_is_fast_and_complete():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "recur_core.umbrella", "list"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    for name in ("lstm", "gru", "elman", "leaky_rnn", "attention", "sequence_model", "parity/lstm", "mqar/gru"):
        assert name in out.stdout
    assert elapsed < 2.0, f"recur list took {elapsed:.2f} s"


def test_recur_list_imports_no_torch():
    code = "import sys; from recur_core.umbrella import main; main(['list']); assert 'torch' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _one_line_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recur: error: "), lines
    return lines[0].removeprefix("recur: error: ")


def test_a_usage_mistake_is_one_line(capsys):
    assert _one_line_error(capsys, ["lsit"]).startswith("argument command: invalid choice: 'lsit'")
    assert _one_line_error(capsys, ["list", "--long"]) == "unrecognized arguments: --long"


@pytest.mark.parametrize("command", [["list"], ["data", "list"], ["data", "verify"]])
def test_output_into_a_reader_that_stopped_stops_quietly(command):
    # the reader closes before `recur ...` writes: every write meets a closed pipe
    read_end, write_end = os.pipe()
    os.close(read_end)
    out = subprocess.run(
        [sys.executable, "-m", "recur_core.umbrella", *command], stdout=write_end, stderr=subprocess.PIPE, text=True
    )
    os.close(write_end)
    assert out.returncode == 0 and out.stderr == ""


def test_two_members_shipping_a_recipe_name_is_an_error(monkeypatch, capsys):
    monkeypatch.setattr(recipes, "installed_members", lambda: {"core": "recur_core", "extra": "recur_extra"})

    def same_recipe(package: str) -> dict[str, Path]:
        return {"parity/lstm": Path(f"/{package}/parity/lstm.yaml")}

    monkeypatch.setattr(recipes, "_member_recipes", same_recipe)
    message = _one_line_error(capsys, ["list"])
    assert message == (
        "recipe 'parity/lstm' is shipped by two members, core (/recur_core/parity/lstm.yaml) "
        "and extra (/recur_extra/parity/lstm.yaml); rename one of them"
    )


class _Demo:
    def __init__(self, name: str, ran: list[str]) -> None:
        self.name, self._ran = name, ran

    def load(self):
        return lambda: self._ran.append(self.name)


def test_recur_demo_runs_the_members_named_then_the_total_time(monkeypatch, capsys):
    ran: list[str] = []
    monkeypatch.setattr(umbrella, "entry_points", lambda group: [_Demo("graph", ran), _Demo("timeseries", ran)])
    main(["demo", "timeseries"])
    assert ran == ["timeseries"]
    main(["demo"])
    assert ran == ["timeseries", "graph", "timeseries"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "== recur demo: timeseries ==" and lines[2].startswith("== 1 demo(s) done in ")
    assert lines[-1].startswith("== 2 demo(s) done in ") and lines[-1].endswith(" s ==")


def test_an_unknown_demo_member_lists_the_valid_ones(monkeypatch, capsys):
    monkeypatch.setattr(umbrella, "entry_points", lambda group: [_Demo("graph", []), _Demo("timeseries", [])])
    assert _one_line_error(capsys, ["demo", "vision"]) == "no demo for 'vision'; members with a demo: graph, timeseries"
