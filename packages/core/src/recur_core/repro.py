"""What the scripts under ``tools/repro/`` share: their claims, their CSV tables, their options, a training loop.

Every script under ``tools/repro/`` ends by calling :func:`write_claims` with one :class:`Claim` per
claim of its paper. ``run_all.py`` runs the scripts, reads each ``claims.csv`` back with
:func:`read_claims` and generates ``docs/results.md`` from them, so that page holds only what a script
measured. The scripts write their measurements with :func:`write_rows`, take ``--out`` and ``--quick``
from :func:`repro_parser`, and those whose training is plain AdamW steps (warm-up and cosine decay, or
a constant learning rate) call :func:`train_adamw` (over :func:`shuffled_batches` for epochs of a fixed set).

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

import argparse
import csv
import shlex
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch

from recur_core.schedules import warmup_cosine

__all__ = [
    "CLAIMS_FILE",
    "OUTCOMES",
    "Claim",
    "invoked_command",
    "outcome",
    "read_claims",
    "replace_generated_table",
    "repro_parser",
    "shuffled_batches",
    "train_adamw",
    "write_claims",
    "write_rows",
]

Batch = TypeVar("Batch")

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


def write_rows(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    digits: int | None = None,
    exact: Collection[str] = (),
) -> Path:
    """Write ``rows`` as a CSV table with a header line (replacing ``path``) and return the path.

    Args:
        path: the CSV file; its folder is created.
        rows: one mapping per line; values are written as :class:`csv.writer` writes them.
        columns: the columns, in order; keys of a row outside them are left out, a column a row lacks
            is left empty. Default: the keys of the first row, in its order.
        digits: float values are rounded to this many decimals (``round(v, digits)``); default none.
        exact: columns whose floats are never rounded (a learning rate of ``3e-5`` is not ``0.0``).
    """
    if not rows:
        raise ValueError(f"write_rows needs at least one row for {path}")
    columns = list(rows[0]) if columns is None else list(columns)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def written(key: str, value: Any) -> Any:
        if digits is not None and isinstance(value, float) and key not in exact:
            return round(value, digits)
        return value

    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows({key: written(key, row[key]) for key in columns if key in row} for row in rows)
    return path


def repro_parser(
    doc: str, out_default: str | Path, quick_help: str, out_help: str = "output folder"
) -> argparse.ArgumentParser:
    """The command line every reproduction script starts from: ``--out`` (a folder) and ``--quick``.

    Args:
        doc: the script's docstring; its first paragraph is the ``--help`` description.
        out_default: the default of ``--out``, ``runs/repro/<script>``.
        quick_help: what ``--quick`` makes smaller, as ``--help`` shows it.
        out_help: the help of ``--out``.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(out_default), help=out_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def shuffled_batches(num: int, batch: int, epochs: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Indices into ``num`` examples, ``batch`` at a time (the last of an epoch shorter), for ``epochs``
    epochs, each a fresh permutation drawn from ``generator``; ``epochs * ceil(num / batch)`` batches."""
    for _ in range(epochs):
        perm = torch.randperm(num, generator=generator)
        for i in range(0, num, batch):
            yield perm[i : i + batch]


def train_adamw(
    model: torch.nn.Module,
    batches: Iterable[Batch],
    loss_fn: Callable[[Batch], torch.Tensor],
    steps: int,
    lr: float,
    weight_decay: float,
    clip: float | None = 1.0,
    scheduler: Literal["cosine", "constant"] = "cosine",
) -> None:
    """Train ``model`` for ``steps`` AdamW steps, one per batch.

    Each step sets the learning rate (``"cosine"``: ``lr * warmup_cosine(step, max(1, steps // 10), steps)``,
    10% linear warm-up then cosine decay; ``"constant"``: ``lr`` throughout), takes the next of ``batches``
    (only ``steps`` of them are drawn), computes ``loss_fn(batch)``, back-propagates, clips the gradient
    norm at ``clip`` (``None``: no clipping) and steps. The model is left in training mode.
    """
    if scheduler not in ("cosine", "constant"):
        raise ValueError(f"scheduler must be 'cosine' or 'constant', got {scheduler!r}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 10)
    model.train()
    for step, batch in zip(range(steps), batches):
        if scheduler == "cosine":
            for group in opt.param_groups:
                group["lr"] = lr * warmup_cosine(step, warmup, steps)
        loss = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()


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


def replace_generated_table(path: str | Path, script: str, table: str, tool: str = "repro") -> None:
    """Put ``table`` between the markers of ``tools/<tool>/<script>.py``'s generated block in the page ``path``.

    The block is ``<!-- <script> table: generated by tools/repro/<script>.py, do not edit -->`` …
    ``<!-- end of <script> table -->`` for a reproduction (``tool="repro"``), and
    ``<!-- <script> bench: generated by tools/bench/<script>.py, do not edit -->`` …
    ``<!-- end of <script> bench -->`` for a benchmark (``tool="bench"``); what lies between them is
    replaced, the rest of the page kept.

    Raises:
        ValueError: the page has no such block (it names the two marker lines to add).
    """
    if tool not in ("repro", "bench"):
        raise ValueError(f"tool must be 'repro' or 'bench', got {tool!r}")
    path = Path(path)
    kind = "table" if tool == "repro" else "bench"
    begin = f"<!-- {script} {kind}: generated by tools/{tool}/{script}.py, do not edit -->"
    end = f"<!-- end of {script} {kind} -->"
    text = path.read_text()
    if begin not in text or end not in text.split(begin, 1)[1]:
        raise ValueError(f"{path} has no '{begin}' ... '{end}' block for the table; add the two lines where it goes")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{begin}\n{table}{end}{tail}")
