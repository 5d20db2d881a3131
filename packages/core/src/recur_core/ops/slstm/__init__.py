"""sLSTM recurrence: ``naive.py`` (the per-step cell under autograd) and ``fused.py`` (scripted loops
with a hand-derived backward)."""

from recur_core.ops.slstm.fused import fused_slstm
from recur_core.ops.slstm.naive import slstm_naive

__all__ = ["fused_slstm", "slstm_naive"]
