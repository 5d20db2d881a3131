"""Run every reproduction script and generate ``docs/results.md`` from the claims they wrote.

Each script in ``tools/repro/`` (all ``*.py`` here but this one) runs in its own process on one
thread, writes its CSVs, PNG and ``claims.csv`` (:mod:`recur_core.repro`) under ``--out/<script>/``,
and its output goes to ``log.txt`` beside them. The results page is then written from those
``claims.csv`` files alone: one row per claim with the paper, its claim, what recur measured, whether
the direction reproduced and the command. A script that fails or writes no claims is listed as such.

.. code-block:: bash

    .venv/bin/python tools/repro/run_all.py --quick             # every script's quick setting
    .venv/bin/python tools/repro/run_all.py --quick --jobs 2    # two at a time (timings in scripts suffer)
    .venv/bin/python tools/repro/run_all.py                     # full settings (each <= 10 min)
    .venv/bin/python tools/repro/run_all.py --only arnet dsf    # a subset; the page keeps the others' rows
    .venv/bin/python tools/repro/run_all.py --page-only         # regenerate the page from existing claims

A script run by hand (a ``claims.csv`` under ``--out/<script>/`` but no ``run.json``) is listed with its
claims, mode "by hand" and no wall time. A script with no ``claims.csv`` under ``--out`` (not run in this
checkout) keeps its rows — claims and
run record — from the page as it was, so a subset can be re-run on a fresh clone; its row in the
"Runs" table still says when and how it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from recur_core.repro import CLAIMS_FILE, read_claims

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUN_RECORD = "run.json"


def scripts(folder: Path = HERE) -> list[str]:
    """Names of the reproduction scripts in ``folder``, without ``.py``."""
    return sorted(p.stem for p in folder.glob("*.py") if p.stem != "run_all" and not p.stem.startswith("_"))


def run_script(name: str, out: Path, quick: bool, timeout: float, folder: Path = HERE) -> dict:
    """Run one script; return the record of the run (also written to ``out/run.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    claims = out / CLAIMS_FILE
    claims.unlink(missing_ok=True)
    command = [sys.executable, str(folder / f"{name}.py"), "--out", _from_root(out)] + (["--quick"] if quick else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    with (out / "log.txt").open("w") as log:
        try:
            status = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
            returncode = status.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    record = {
        "script": name,
        "mode": "quick" if quick else "full",
        "seconds": round(time.perf_counter() - start, 1),
        "returncode": returncode,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    (out / RUN_RECORD).write_text(json.dumps(record, indent=1))
    return record


def _from_root(path: Path | str) -> str:
    """``path`` relative to the repository root where it lies below it, so commands read the same anywhere."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# a claim row's last cell is the command that ran its script; a "Runs" row starts with the script
_CLAIM_ROW = re.compile(r"^\|.*\| `python tools/repro/(\w+)\.py[^`]*` \|$")
_RUN_ROW = re.compile(r"^\| `(\w+)\.py` \| (?:quick|full)[^|]* \|")


def previous_rows(page: Path) -> dict[str, tuple[list[str], str]]:
    """Each script's claim rows and "Runs" row on an existing results page (none if there is no page)."""
    if not page.is_file():
        return {}
    claims: dict[str, list[str]] = {}
    runs: dict[str, str] = {}
    for line in page.read_text().splitlines():
        if match := _RUN_ROW.match(line):
            runs[match.group(1)] = line
        elif (match := _CLAIM_ROW.match(line)) and "| no result:" not in line:
            claims.setdefault(match.group(1), []).append(line)
    return {name: (rows, runs[name]) for name, rows in claims.items() if name in runs}


def _by_hand(folder: Path) -> dict | None:
    """The record of a script run by hand (its claims.csv, no run.json): mode from its command, no wall time."""
    claims = folder / CLAIMS_FILE
    if not claims.is_file():
        return None
    quick = any("--quick" in claim.command for claim in read_claims(claims))
    finished = datetime.fromtimestamp(claims.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"mode": f"{'quick' if quick else 'full'}, by hand", "seconds": "—", "returncode": 0, "finished": finished}


def results_page(out: Path, folder: Path = HERE, previous: dict[str, tuple[list[str], str]] | None = None) -> str:
    """The Markdown of ``docs/results.md``, from every ``out/<script>/claims.csv`` and ``run.json``.

    A script that has neither under ``out`` takes its rows from ``previous`` (:func:`previous_rows`).
    """
    previous = previous or {}
    lines = [
        "# Reproduction results",
        "",
        "Generated by `python tools/repro/run_all.py` from the `claims.csv` each script in `tools/repro/`",
        "writes; nothing on this page is typed by hand. *Reproduced* says whether the direction of the",
        "paper's claim holds at CPU scale (yes / partly / no). Runs are on 2 CPU cores, one thread.",
        "",
        "| paper | claim | recur measured | reproduced | command |",
        "|---|---|---|---|---|",
    ]
    runs = []
    for name in scripts(folder):
        record_file = out / name / RUN_RECORD
        record = json.loads(record_file.read_text()) if record_file.is_file() else _by_hand(out / name)
        if record is None and name in previous:
            kept_claims, kept_run = previous[name]
            lines += kept_claims
            runs.append((name, kept_run))
            continue
        runs.append((name, record))
        claims = out / name / CLAIMS_FILE
        if claims.is_file() and record and record["returncode"] == 0:
            for claim in read_claims(claims):
                command = claim.command.replace(f"{ROOT}/", "")
                row = (claim.paper, claim.claim, claim.measured, f"**{claim.reproduced}**", f"`{command}`")
                lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        else:
            why = "not run yet" if record is None else f"failed (exit {record['returncode']}), see its log.txt"
            lines.append(f"| `{name}.py` | — | no result: {why} | — | `python tools/repro/{name}.py` |")
    lines += ["", "## Runs", "", "| script | mode | wall time (s) | finished |", "|---|---|---|---|"]
    for name, record in runs:
        if isinstance(record, str):
            lines.append(record)
        elif record:
            lines.append(f"| `{name}.py` | {record['mode']} | {record['seconds']} | {record['finished']} |")
        else:
            lines.append(f"| `{name}.py` | — | — | — |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="run each script with --quick")
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help=f"run only these; one of {scripts()}")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "repro", help="one folder per script under it")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "results.md", help="the results page to write")
    parser.add_argument("--page-only", action="store_true", help="do not run anything; regenerate the page")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a script is stopped")
    parser.add_argument("--jobs", type=int, default=1, help="scripts run at once (each on one thread)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or []) - set(scripts()))
    if unknown:
        parser.error(f"unknown script(s) {unknown}; the scripts are {scripts()}")
    if not args.page_only:

        def run(name: str) -> None:
            record = run_script(name, args.out / name, args.quick, args.timeout)
            state = "ok" if record["returncode"] == 0 else f"FAILED (exit {record['returncode']})"
            print(f"{name}: {state} in {record['seconds']} s; log {args.out / name / 'log.txt'}", flush=True)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(run, args.only or scripts()))
    args.page.parent.mkdir(parents=True, exist_ok=True)
    args.page.write_text(results_page(args.out, previous=previous_rows(args.page)))
    print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
