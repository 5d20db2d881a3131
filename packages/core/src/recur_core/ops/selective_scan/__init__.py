"""Mamba's selective scan (S6): ``naive`` (the step loop with ``selective_scan_ref`` semantics, the
ground truth) and ``chunk`` (chunks scanned in log depth, recomputed in the backward pass)."""

from recur_core.ops.selective_scan.chunk import chunk_selective_scan
from recur_core.ops.selective_scan.naive import naive_selective_scan, selective_scan_discretize, selective_scan_step

__all__ = ["chunk_selective_scan", "naive_selective_scan", "selective_scan_discretize", "selective_scan_step"]
