"""Causal linear attention with an optional decay (none, per head, per key): ``naive`` (the token
loop, ground truth), ``chunk`` (the training form) and ``parallel`` (the masked T × T form)."""

from recur_core.ops.linear_attn.chunk import chunk_linear_attn
from recur_core.ops.linear_attn.naive import linear_attn_step, naive_linear_attn
from recur_core.ops.linear_attn.parallel import parallel_linear_attn

__all__ = ["chunk_linear_attn", "linear_attn_step", "naive_linear_attn", "parallel_linear_attn"]
