"""Training techniques from the papers, each usable with any registered layer or model through the engine."""

from recur_core.techniques.curriculum import Curriculum, MultiHeadLagTask, lag_targets
from recur_core.techniques.dynamics_metrics import (
    hellinger_spectrum_distance,
    prediction_error,
    state_space_divergence,
)
from recur_core.techniques.jrt import (
    ReadTwiceData,
    read_twice,
    read_twice_batch,
    read_twice_collate,
    read_twice_dataset,
)
from recur_core.techniques.state_collapse import (
    StateFix,
    StateFixCallback,
    StateFixed,
    apply_state_fix,
    fixed_linear_attn,
    fixed_linear_attn_step,
)
from recur_core.techniques.teacher_forcing import GTFTask

__all__ = [
    "Curriculum",
    "GTFTask",
    "MultiHeadLagTask",
    "ReadTwiceData",
    "StateFix",
    "StateFixCallback",
    "StateFixed",
    "apply_state_fix",
    "fixed_linear_attn",
    "fixed_linear_attn_step",
    "hellinger_spectrum_distance",
    "lag_targets",
    "prediction_error",
    "read_twice",
    "read_twice_batch",
    "read_twice_collate",
    "read_twice_dataset",
    "state_space_divergence",
]
