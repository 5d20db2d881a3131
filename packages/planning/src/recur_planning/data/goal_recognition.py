"""The goal-plan-recognition benchmark: one ``.tar.bz2`` goal-recognition problem per file, read in place.

Pereira, Oren and Meneguzzi (2017), "Landmark-Based Heuristics for Goal Recognition", AAAI,
https://doi.org/10.1609/aaai.v31i1.11021; data at
https://github.com/pucrs-automated-planning/goal-plan-recognition-dataset (six domains come from
Ramírez and Geffner 2009/2010). GRNet (Chiari et al., ICAPS 2023) is scored on these archives.

Layout under the data root::

    goal-plan-recognition-dataset/<domain>[-noisy]/<obs%>/<name>.tar.bz2

with ``<obs%>`` one of 10/30/50/70/100 (noisy variants: 25/50/75/100, each with two spurious
actions among the observations). Each archive holds five members (at its top level or under ``./``;
macOS ``._*`` copies are ignored):

- ``domain.pddl``: the STRIPS domain;
- ``template.pddl``: the problem (objects, initial state) whose goal is the line ``<HYPOTHESIS>``;
- ``hyps.dat``: one candidate goal per line, comma-separated ground atoms ``(ON D R),(CLEAR D)``;
- ``real_hyp.dat``: the hidden goal, one line in the same syntax, equal (as a set) to a candidate;
- ``obs.dat``: one observed ground action per line, ``(unstack r p)``.

Atoms and actions are normalized by :func:`recur_planning.data.pddl.normalize_atom` (lower case,
single spaces) so that they match pyperplan's grounded fact and operator names. Candidates are
kept as the benchmark lists them, duplicates included (some blocks-world and sokoban problems
list a goal twice): a recognition is right when the chosen candidate *equals* the true goal
(:meth:`GoalRecognitionProblem.is_correct`), not when its index does. No real archive has an empty
``obs.dat``, so one is an error; every real archive's real goal is among its candidates. Reading
all 7,639 archives takes about 5 s on one core (blocks-world's 1,076: about 1 s); :func:`read_problem`
caches parsed problems per process (keyed by path, size and mtime), so a second read is free.
:func:`folder_problems` reads any folder in this layout (e.g. the package's embedded problems).

Noisy archives may observe actions the grounded domain lacks (12 of logistics-noisy's 144 hold a
``(drive-truck t p p c)`` that the domain's ``(not (= ?from ?to))`` rules out); the reader keeps them,
and the recognizers take ``unknown_actions="skip"`` for them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from recur_core.data import dataset_dir
from recur_planning.data.catalogue import BENCHMARK_DOMAINS, GOAL_PLAN_RECOGNITION
from recur_planning.data.pddl import normalize_atom, parse_hypothesis

__all__ = [
    "ARCHIVE_MEMBERS",
    "BENCHMARK_DOMAINS",
    "DATASET",
    "GoalRecognitionProblem",
    "benchmark_levels",
    "benchmark_problems",
    "folder_problems",
    "read_problem",
    "write_problem",
]

DATASET = GOAL_PLAN_RECOGNITION.name
ARCHIVE_MEMBERS: tuple[str, ...] = ("domain.pddl", "template.pddl", "hyps.dat", "real_hyp.dat", "obs.dat")
_SUFFIX = ".tar.bz2"
# "..._hyp-0_10_0" (observability, run) and "..._hyp-3_full" (100%): the file name's fallback when the
# archive does not sit in an <obs%> folder.
_NAME_LEVEL = re.compile(r"_(\d{1,3})_\d+$")
_FIX = "re-fetch it from the dataset (git checkout in goal-plan-recognition-dataset) or delete it"


_COMMENT = re.compile(r";[^\n]*")
_PROBLEM_NAME = re.compile(r"\(\s*problem\s+[^\s()]+\s*\)")


def _canonical(pddl: str) -> str:
    """PDDL text without comments, case or spacing differences (PDDL is case-insensitive)."""
    text = _COMMENT.sub(" ", pddl).lower().replace("(", " ( ").replace(")", " ) ")
    return " ".join(text.split())


@dataclass(frozen=True)
class GoalRecognitionProblem:
    """One goal-recognition problem: a domain, an initial state, candidate goals and observed actions.

    Attributes:
        name: the archive's file name without ``.tar.bz2``.
        domain: ``domain.pddl`` text.
        template: ``template.pddl`` text (the goal is the placeholder ``<HYPOTHESIS>``).
        hypotheses: the candidate goals in file order, each a set of normalized atoms ``"(on d r)"``.
        true_hypothesis: the hidden goal.
        true_index: the first index of ``true_hypothesis`` in ``hypotheses``.
        observations: the observed ground actions in order, normalized (``"(unstack r p)"``).
        observability: percent of the plan observed (10/30/50/70/100; noisy 25/50/75/100).
        noisy: whether the observations include spurious actions (a ``-noisy`` domain folder).
        path: the archive.
        template_key: sha256 of the domain and template texts (comments, case, spacing and the
            problem's name left out), the same for every problem on one domain and initial state
            (GRNet trains one model per distinct template).
    """

    name: str
    domain: str
    template: str
    hypotheses: tuple[frozenset[str], ...]
    true_hypothesis: frozenset[str]
    true_index: int
    observations: tuple[str, ...]
    observability: int
    noisy: bool
    path: Path
    template_key: str = field(init=False)

    def __post_init__(self) -> None:
        text = _canonical(self.domain) + "\0" + _PROBLEM_NAME.sub("(problem)", _canonical(self.template))
        object.__setattr__(self, "template_key", hashlib.sha256(text.encode()).hexdigest())

    def is_correct(self, chosen: int) -> bool:
        """Whether candidate ``chosen`` is the true goal (equal as a set; duplicates count as right)."""
        return self.hypotheses[chosen] == self.true_hypothesis


def _member_texts(path: Path) -> dict[str, str]:
    """The five members' texts, checked present; every failure is one line naming the archive."""
    if not path.is_file():
        raise FileNotFoundError(f"goal-recognition archive not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the archive is empty (0 bytes); {_FIX}")
    texts: dict[str, str] = {}
    try:
        with tarfile.open(path, "r:bz2") as archive:
            for member in archive:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in ARCHIVE_MEMBERS and base not in texts:
                    texts[base] = archive.extractfile(member).read().decode("utf-8")
    except (tarfile.TarError, EOFError, OSError) as error:
        # bz2 raises OSError("Invalid data stream") / EOFError on a truncated stream; tarfile wraps the rest.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: not a readable .tar.bz2 archive ({reason}); {_FIX}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: a member is not UTF-8 text ({error.reason}); {_FIX}") from None
    missing = [name for name in ARCHIVE_MEMBERS if name not in texts]
    if missing:
        raise ValueError(
            f"{path}: missing member(s) {', '.join(missing)}; an archive holds {', '.join(ARCHIVE_MEMBERS)}"
        )
    return texts


def _level(path: Path) -> int:
    """Observability in percent from the ``<obs%>`` folder, else from the file name."""
    if path.parent.name.isdigit():
        return int(path.parent.name)
    stem = path.name.removesuffix(_SUFFIX)
    if stem.endswith("_full") or "_full_" in stem:
        return 100
    match = _NAME_LEVEL.search(stem)
    if match:
        return int(match.group(1))
    raise ValueError(
        f"{path}: cannot tell the observability; put the archive in a folder named by the percent (e.g. 30/)"
    )


def _parse(path: Path) -> GoalRecognitionProblem:
    texts = _member_texts(path)

    def lines(member: str) -> list[str]:
        found = [line.strip() for line in texts[member].splitlines() if line.strip()]
        if not found:
            raise ValueError(f"{path}: {member} is empty; {_FIX}")
        return found

    try:
        hypotheses = tuple(parse_hypothesis(line) for line in lines("hyps.dat"))
        real = lines("real_hyp.dat")
        if len(real) != 1:
            raise ValueError(f"real_hyp.dat has {len(real)} lines, expected 1")
        true_hypothesis = parse_hypothesis(real[0])
        observations = tuple(normalize_atom(line) for line in lines("obs.dat"))
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if true_hypothesis not in hypotheses:
        raise ValueError(
            f"{path}: the real goal {','.join(sorted(true_hypothesis))} is not among the {len(hypotheses)} "
            "candidates of hyps.dat; add it to hyps.dat or fix real_hyp.dat"
        )
    level = _level(path)
    noisy = path.parent.parent.name.endswith("-noisy") or "noisy" in path.name
    return GoalRecognitionProblem(
        name=path.name.removesuffix(_SUFFIX),
        # Problems of one domain share their domain and template texts: keep one copy of each.
        domain=sys.intern(texts["domain.pddl"]),
        template=sys.intern(texts["template.pddl"]),
        hypotheses=hypotheses,
        true_hypothesis=true_hypothesis,
        true_index=hypotheses.index(true_hypothesis),
        observations=observations,
        observability=level,
        noisy=noisy,
        path=path,
    )


@lru_cache(maxsize=16384)
def _parse_cached(path: str, size: int, mtime_ns: int) -> GoalRecognitionProblem:
    return _parse(Path(path))


def read_problem(path: str | os.PathLike) -> GoalRecognitionProblem:
    """Read one benchmark archive in place (nothing is extracted to disk).

    Parsed problems are cached per process by (path, size, mtime), so reading a domain twice is free.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: one line naming the archive and the fix, for an empty, truncated or non-bzip2
            archive, a missing member, an empty ``hyps.dat``/``real_hyp.dat``/``obs.dat``, a
            malformed atom, or a real goal that is not among the candidates.
    """
    path = Path(path).absolute()
    if not path.is_file():
        raise FileNotFoundError(f"goal-recognition archive not found: {path}")
    stat = path.stat()
    return _parse_cached(str(path), stat.st_size, stat.st_mtime_ns)


def _domain_folder(domain: str, root: str | os.PathLike | None, noisy: bool) -> Path:
    if domain not in BENCHMARK_DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(BENCHMARK_DOMAINS)}, got {domain!r}")
    folder = dataset_dir(DATASET, root) / (f"{domain}-noisy" if noisy else domain)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"benchmark folder {folder} is missing: re-fetch {DATASET} ('recur data list' says how)"
        )
    return folder


def benchmark_levels(domain: str, root: str | os.PathLike | None = None, noisy: bool = False) -> tuple[int, ...]:
    """The observability levels (percent) present for ``domain`` under the data root, ascending."""
    folder = _domain_folder(domain, root, noisy)
    return tuple(sorted(int(child.name) for child in folder.iterdir() if child.is_dir() and child.name.isdigit()))


def benchmark_problems(
    domain: str,
    root: str | os.PathLike | None = None,
    observability: Sequence[int] | None = None,
    noisy: bool = False,
    limit_per_level: int | None = None,
    seed: int = 0,
) -> list[GoalRecognitionProblem]:
    """The benchmark's problems of one domain, ordered by (observability, name).

    Args:
        domain: a folder name of :data:`BENCHMARK_DOMAINS` (``"blocks-world"``, ``"logistics"``, ...).
        root: the data root (default ``$RECUR_DATA``, then the user cache; see ``recur_core.data``).
        observability: levels to read (default: every level present).
        noisy: read the ``-noisy`` variant (levels 25/50/75/100).
        limit_per_level: keep at most this many problems per level, a seeded random subset.
        seed: seed of that subset.

    Raises:
        ValueError: unknown domain or observability level, or a bad ``limit_per_level``.
        DatasetNotFoundError / FileNotFoundError: the dataset or the domain's folder is absent.
    """
    folder = _domain_folder(domain, root, noisy)
    return folder_problems(folder, observability, limit_per_level, seed)


def folder_problems(
    folder: str | os.PathLike,
    observability: Sequence[int] | None = None,
    limit_per_level: int | None = None,
    seed: int = 0,
) -> list[GoalRecognitionProblem]:
    """The problems of any folder in the benchmark layout (``<folder>/<obs%>/*.tar.bz2``), e.g. one
    :func:`recur_planning.data.embedded.write_embedded_benchmark` wrote; arguments as
    :func:`benchmark_problems`, ordered by (observability, name).
    """
    if limit_per_level is not None and limit_per_level < 1:
        raise ValueError(f"limit_per_level must be at least 1 (or None for all), got {limit_per_level}")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"goal-recognition folder not found: {folder}")
    present = tuple(sorted(int(child.name) for child in folder.iterdir() if child.is_dir() and child.name.isdigit()))
    levels = present if observability is None else tuple(int(level) for level in observability)
    unknown = [level for level in levels if level not in present]
    if unknown or not present:
        choose = ", ".join(map(str, present)) or "none: no <obs%>/ folder there"
        raise ValueError(f"observability {list(unknown)} not in {folder.name}: choose from {choose}")
    rng = np.random.default_rng(seed)
    problems: list[GoalRecognitionProblem] = []
    for level in sorted(set(levels)):
        paths = sorted((folder / str(level)).glob(f"*{_SUFFIX}"))
        if limit_per_level is not None and len(paths) > limit_per_level:
            keep = np.sort(rng.choice(len(paths), size=limit_per_level, replace=False))
            paths = [paths[i] for i in keep]
        problems.extend(read_problem(path) for path in paths)
    return problems


def _hypothesis_line(goal: Iterable[str]) -> str:
    atoms = sorted({normalize_atom(atom) for atom in goal})
    if not atoms:
        raise ValueError("a goal must hold at least one atom")
    return ",".join(atoms)


def write_problem(
    path: str | os.PathLike,
    domain: str,
    template: str,
    hypotheses: Sequence[Iterable[str]],
    true_hypothesis: Iterable[str],
    observations: Sequence[str],
) -> Path:
    """Write one problem as a benchmark archive (the five members at the top level), atomically.

    Atoms are written normalized and sorted within a goal; member times are 0, so equal inputs give
    byte-identical archives. Put the file in an ``<obs%>/`` folder for :func:`read_problem` to
    know its observability.

    Raises:
        ValueError: no candidates, an empty goal, no observations, a template without
            ``<HYPOTHESIS>``, or a true goal absent from the candidates.
    """
    path = Path(path)
    lines = [_hypothesis_line(goal) for goal in hypotheses]
    if not lines:
        raise ValueError(f"{path}: give at least one candidate goal")
    real = _hypothesis_line(true_hypothesis)
    if real not in lines:
        raise ValueError(f"{path}: the true goal {real} is not among the candidates")
    if not observations:
        raise ValueError(f"{path}: give at least one observed action")
    if "<HYPOTHESIS>" not in template:
        raise ValueError(f"{path}: the template must hold the goal placeholder <HYPOTHESIS>")
    members = {
        "domain.pddl": domain,
        "template.pddl": template,
        "hyps.dat": "\n".join(lines) + "\n",
        "real_hyp.dat": real + "\n",
        "obs.dat": "\n".join(normalize_atom(action) for action in observations) + "\n",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.part")
    try:
        with tarfile.open(partial, "w:bz2") as archive:
            for name in ARCHIVE_MEMBERS:
                data = members[name].encode("utf-8")
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                archive.addfile(info, io.BytesIO(data))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
