"""The real planning datasets recur_planning reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets. Both are
git repositories with thousands of files and no release archive, so they are fetched by hand
(``git clone`` at the pinned commit into the data root); the listed files are the ones whose
presence tells a complete copy.
"""

from recur_core.data import DataArchive, DatasetSpec, register_dataset

__all__ = ["BENCHMARK_DOMAINS", "CLASSICAL_DOMAINS", "GOAL_PLAN_RECOGNITION"]

_GPR_COMMIT = "03bfe078e46935b98831648e6151c458c1caba84"
# the benchmark's domain folders (each also with a "-noisy" variant)
BENCHMARK_DOMAINS: tuple[str, ...] = (
    "blocks-world",
    "campus",
    "depots",
    "driverlog",
    "dwr",
    "easy-ipc-grid",
    "intrusion-detection",
    "kitchen",
    "logistics",
    "miconic",
    "rovers",
    "sokoban",
)

GOAL_PLAN_RECOGNITION = register_dataset(
    DatasetSpec(
        name="goal-plan-recognition",
        folder="goal-plan-recognition-dataset",
        archives=(
            DataArchive(
                url=None,
                sha256=None,
                size=None,
                members=("README.md", *(f"{d}/100" for d in BENCHMARK_DOMAINS)),
            ),
        ),
        description="goal-recognition problems on 12 classical planning domains (+ noisy variants): domain, "
        "template, candidate goals, hidden goal and observed actions at 10-100% observability, one .tar.bz2 each",
        homepage="https://github.com/pucrs-automated-planning/goal-plan-recognition-dataset",
        licence="BSD-3-Clause",
        citation="Pereira, Oren and Meneguzzi, Landmark-Based Heuristics for Goal Recognition, AAAI 2017",
        instructions="git clone https://github.com/pucrs-automated-planning/goal-plan-recognition-dataset "
        f"<data root>/goal-plan-recognition-dataset && git -C <data root>/goal-plan-recognition-dataset "
        f"checkout {_GPR_COMMIT}",
    )
)

_CLASSICAL_COMMIT = "4bd0b42d89ea02bd38af6f93cf20a0ab0cbda9d9"
_CLASSICAL_DOMAINS = ("blocks", "depot", "driverlog", "gripper", "logistics00", "logistics98", "miconic", "rovers")

CLASSICAL_DOMAINS = register_dataset(
    DatasetSpec(
        name="classical-domains",
        folder="classical-domains",
        archives=(
            DataArchive(
                url=None, sha256=None, size=None, members=tuple(f"{d}/domain.pddl" for d in _CLASSICAL_DOMAINS)
            ),
        ),
        description="IPC classical planning benchmarks in STRIPS PDDL: each domain's domain.pddl and its problems",
        homepage="https://github.com/AI-Planning/classical-domains",
        licence="none stated by the repository",
        citation="International Planning Competitions 1998-2002, collected by AI-Planning/classical-domains",
        instructions="copy the folders classical/<domain>/*.pddl of https://github.com/AI-Planning/classical-domains "
        f"(commit {_CLASSICAL_COMMIT}) to <data root>/classical-domains/<domain>/",
    )
)
