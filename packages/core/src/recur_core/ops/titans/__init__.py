"""Titans' neural long-term memory (Behrouz et al., 2024): ``naive`` per-token loop and the ``chunk`` form."""

from recur_core.ops.titans.chunk import chunk_titans, memory_grads, titans_step
from recur_core.ops.titans.naive import MemoryState, check_memory_state, memory_mlp, naive_titans

__all__ = [
    "MemoryState",
    "check_memory_state",
    "chunk_titans",
    "memory_grads",
    "memory_mlp",
    "naive_titans",
    "titans_step",
]
