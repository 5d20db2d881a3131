"""Softmax attention of one query over every prefix (Aaren): ``naive`` (the RNN form, ground truth)
and ``scan`` (the parallel prefix scan over the (m, u, w) merge)."""

from recur_core.ops.prefix_attention.naive import (
    empty_prefix_state,
    naive_prefix_attention,
    prefix_attention_inputs,
    prefix_attention_step,
)
from recur_core.ops.prefix_attention.scan import scan_prefix_attention

__all__ = [
    "empty_prefix_state",
    "naive_prefix_attention",
    "prefix_attention_inputs",
    "prefix_attention_step",
    "scan_prefix_attention",
]
