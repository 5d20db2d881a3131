import subprocess
import sys

GOOD = """
import argparse
from pathlib import Path
from recur_core.repro import Claim, write_claims
parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path)
parser.add_argument("--quick", action="store_true")
args = parser.parse_args()
mode = "quick" if args.quick else "full"
write_claims(args.out, [Claim("Paper A", "x | y", f"measured {mode}", "partly", "python good.py")])
"""


def test_run_all_runs_scripts_and_writes_page_from_claims(tmp_path, repro_script):
    run_all = repro_script("run_all")
    repro = tmp_path / "repro"
    repro.mkdir()
    (repro / "good.py").write_text(GOOD)
    (repro / "broken.py").write_text("raise SystemExit(3)\n")
    (repro / "_shared.py").write_text("")
    (repro / "later.py").write_text("")
    assert run_all.scripts(repro) == ["broken", "good", "later"]

    out = tmp_path / "runs"
    assert run_all.run_script("good", out / "good", quick=True, timeout=60, folder=repro)["returncode"] == 0
    assert run_all.run_script("broken", out / "broken", quick=False, timeout=60, folder=repro)["returncode"] == 3

    page = run_all.results_page(out, folder=repro)
    assert "| Paper A | x \\| y | measured quick | **partly** | `python good.py` |" in page
    assert "no result: failed (exit 3)" in page
    assert "`later.py` | — | no result: not run yet" in page
    assert "| `good.py` | quick |" in page


def test_scripts_not_run_here_keep_their_rows_from_the_page(tmp_path, repro_script):
    """A subset re-run on a fresh clone: the other scripts' claims and run records come from the old page."""
    run_all = repro_script("run_all")
    repro = tmp_path / "repro"
    repro.mkdir()
    for name in ("good", "kept", "later"):
        (repro / f"{name}.py").write_text(GOOD)
    out = tmp_path / "runs"
    run_all.run_script("good", out / "good", quick=False, timeout=60, folder=repro)
    old = tmp_path / "results.md"
    old.write_text(
        "| paper | claim | recur measured | reproduced | command |\n|---|---|---|---|---|\n"
        "| Paper K | k claim | measured earlier | **yes** | `python tools/repro/kept.py --out runs/repro/kept` |\n"
        "| Paper G | stale | measured before | **no** | `python tools/repro/good.py --out runs/repro/good` |\n"
        "\n| script | mode | wall time (s) | finished |\n|---|---|---|---|\n"
        "| `kept.py` | full | 12.5 | 2026-11-28 02:40 UTC |\n"
        "| `good.py` | full | 3.0 | 2026-11-28 02:41 UTC |\n"
    )
    previous = run_all.previous_rows(old)
    assert sorted(previous) == ["good", "kept"]
    page = run_all.results_page(out, folder=repro, previous=previous)
    assert "| Paper K | k claim | measured earlier | **yes** |" in page
    assert "| `kept.py` | full | 12.5 | 2026-11-28 02:40 UTC |" in page
    # what ran here replaces the page's rows
    assert "measured full" in page and "measured before" not in page
    assert "`later.py` | — | no result: not run yet" in page


def test_a_script_run_by_hand_is_listed_with_its_claims_and_no_wall_time(tmp_path, repro_script):
    """claims.csv without run.json (the script was run directly): its claims, mode "by hand", no time."""
    run_all = repro_script("run_all")
    repro = tmp_path / "repro"
    repro.mkdir()
    (repro / "good.py").write_text(GOOD.replace("python good.py", "python tools/repro/good.py"))
    out = tmp_path / "runs"
    command = [sys.executable, str(repro / "good.py"), "--out", str(out / "good")]
    subprocess.run(command, check=True)
    page = run_all.results_page(out, folder=repro)
    assert "| Paper A | x \\| y | measured full | **partly** | `python tools/repro/good.py` |" in page
    assert "| `good.py` | full, by hand | — |" in page
    # the page keeps that row when it is regenerated without the claims
    (out / "good" / "claims.csv").unlink()
    page_file = tmp_path / "results.md"
    page_file.write_text(page)
    again = run_all.results_page(out, folder=repro, previous=run_all.previous_rows(page_file))
    assert "| `good.py` | full, by hand | — |" in again and "measured full" in again
