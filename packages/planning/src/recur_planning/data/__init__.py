"""Data of recur_planning.

- :mod:`~recur_planning.data.pddl`: PDDL parsed, grounded and solved through pyperplan, with real time limits.
- :mod:`~recur_planning.data.plans`: GRNet's training data from a domain alone (random reachable goals, planned).
- :mod:`~recur_planning.data.goal_recognition`: the goal-plan-recognition benchmark's ``.tar.bz2`` problems.
- :mod:`~recur_planning.data.embedded`: the small STRIPS domains the package writes itself, in the benchmark layout.
- :mod:`~recur_planning.data.trajectories`: generated robot (gymnasium/MuJoCo) and pattern trajectories for PV-RNN.
"""

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch or pyperplan
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BENCHMARK_DOMAINS": "recur_planning.data.goal_recognition",
        "EMBEDDED_DOMAINS": "recur_planning.data.embedded",
        "GeneratedPlans": "recur_planning.data.plans",
        "GoalRecognitionProblem": "recur_planning.data.goal_recognition",
        "GoalUnreachable": "recur_planning.data.pddl",
        "GroundedDomain": "recur_planning.data.pddl",
        "PlanExample": "recur_planning.data.plans",
        "SearchTimeout": "recur_planning.data.pddl",
        "Trajectories": "recur_planning.data.trajectories",
        "TrajectoryDataset": "recur_planning.data.trajectories",
        "benchmark_levels": "recur_planning.data.goal_recognition",
        "benchmark_problems": "recur_planning.data.goal_recognition",
        "default_goal_predicates": "recur_planning.data.plans",
        "embedded_template": "recur_planning.data.embedded",
        "folder_problems": "recur_planning.data.goal_recognition",
        "generate_plans": "recur_planning.data.plans",
        "generate_trajectories": "recur_planning.data.trajectories",
        "goal_facts": "recur_planning.data.plans",
        "ground": "recur_planning.data.pddl",
        "normalize_atom": "recur_planning.data.pddl",
        "parse_hypothesis": "recur_planning.data.pddl",
        "read_problem": "recur_planning.data.goal_recognition",
        "sample_observations": "recur_planning.data.plans",
        "solve": "recur_planning.data.pddl",
        "solve_many": "recur_planning.data.pddl",
        "with_goal": "recur_planning.data.pddl",
        "write_embedded_benchmark": "recur_planning.data.embedded",
        "write_problem": "recur_planning.data.goal_recognition",
    },
)
