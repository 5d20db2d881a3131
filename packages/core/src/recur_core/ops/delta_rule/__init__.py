"""The delta rule (Schlag et al., 2021; Yang et al., 2024): ``naive`` per-token loop and the exact ``chunk`` form."""

from recur_core.ops.delta_rule.chunk import chunk_delta_rule
from recur_core.ops.delta_rule.naive import delta_rule_step, naive_delta_rule

__all__ = ["chunk_delta_rule", "delta_rule_step", "naive_delta_rule"]
