"""Analysis tools that look inside trained or untrained layers (no training code here)."""

from recur_core.analysis.dsf import (
    Mixing,
    apply_mixing,
    band_mass,
    decompose,
    mean_distance,
    mixing_matrix,
    plot_mixing,
    semiseparable_rank,
    supported_layers,
    verify,
)

__all__ = [
    "Mixing",
    "apply_mixing",
    "band_mass",
    "decompose",
    "mean_distance",
    "mixing_matrix",
    "plot_mixing",
    "semiseparable_rank",
    "supported_layers",
    "verify",
]
