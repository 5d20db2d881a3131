"""Training techniques from the papers, each usable with any registered layer or model through the engine."""

from recur_core.techniques.state_collapse import (
    StateFix,
    StateFixCallback,
    StateFixed,
    apply_state_fix,
    fixed_linear_attn,
    fixed_linear_attn_step,
)

__all__ = [
    "StateFix",
    "StateFixCallback",
    "StateFixed",
    "apply_state_fix",
    "fixed_linear_attn",
    "fixed_linear_attn_step",
]
