"""The claims a reproduction script checks, in the one file format ``tools/repro/run_all.py`` reads.

Every script under ``tools/repro/`` ends by calling :func:`write_claims` with one :class:`Claim` per
claim of its paper. ``run_all.py`` runs the scripts, reads each ``claims.csv`` back with
:func:`read_claims` and generates ``docs/results.md`` from them, so that page holds only what a script
measured.

.. code-block:: python

    write_claims(
        out,
        [
            Claim(
                paper="Grazzi et al. 2025, Unlocking State-Tracking in Linear RNNs",
                claim="parity: eigenvalues in [0, 1] stay at chance, [-1, 1] reach ~100%",
                measured="deltanet [0,1] 51%, [-1,1] 99% at lengths 40-256",
                reproduced="yes",
                command="python tools/repro/negative_eigenvalues.py",
            )
        ],
    )
"""

from __future__ import annotations

import csv
import shlex
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = ["CLAIMS_FILE", "OUTCOMES", "Claim", "invoked_command", "outcome", "read_claims", "write_claims"]

CLAIMS_FILE = "claims.csv"
OUTCOMES = ("yes", "partly", "no")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and what recur measured for it.

    Args:
        paper: authors, year and title, short.
        claim: the paper's claim in one sentence, with its numbers where it gives them.
        measured: what the script measured, with numbers.
        reproduced: ``"yes"`` (the direction holds), ``"partly"`` or ``"no"``.
        command: the exact command that produced ``measured``.
    """

    paper: str
    claim: str
    measured: str
    reproduced: str
    command: str

    def __post_init__(self) -> None:
        if self.reproduced not in OUTCOMES:
            raise ValueError(f"reproduced must be one of {OUTCOMES}, got {self.reproduced!r}")
        for field in fields(self):
            if not getattr(self, field.name).strip():
                raise ValueError(f"Claim.{field.name} is empty; every field is shown on the results page")


def invoked_command() -> str:
    """The command line that started this script, as a user would type it from the repository root."""
    script = Path(sys.argv[0])
    if script.is_absolute() and script.is_relative_to(Path.cwd()):
        script = script.relative_to(Path.cwd())
    return shlex.join(["python", str(script), *sys.argv[1:]])


def outcome(held: int, total: int) -> str:
    """``"yes"`` when all ``total`` checks held, ``"no"`` when none did, else ``"partly"``."""
    if total <= 0:
        raise ValueError(f"outcome needs at least one check, got total={total}")
    return "yes" if held == total else "no" if held == 0 else "partly"


def write_claims(out_dir: str | Path, claims: list[Claim]) -> Path:
    """Write ``claims`` to ``out_dir/claims.csv`` (replacing it) and return the path."""
    if not claims:
        raise ValueError("write_claims needs at least one Claim")
    path = Path(out_dir) / CLAIMS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.tmp")
    with partial.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[field.name for field in fields(Claim)])
        writer.writeheader()
        writer.writerows(asdict(claim) for claim in claims)
    partial.replace(path)
    return path


def read_claims(path: str | Path) -> list[Claim]:
    """Read a ``claims.csv`` written by :func:`write_claims`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no claims file at {path}; the repro script writes it when it finishes")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [field.name for field in fields(Claim)]
    if rows and sorted(rows[0]) != sorted(expected):
        raise ValueError(f"{path}: columns {sorted(rows[0])}, expected {expected}")
    return [Claim(**row) for row in rows]
