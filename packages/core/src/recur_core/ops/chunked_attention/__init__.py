"""Chunked causal softmax attention (MEGA, TCNCA): ``naive.py`` (token by token with a KV buffer)
beside ``chunk.py`` (every chunk at once)."""

from recur_core.ops.chunked_attention.chunk import chunked_attention
from recur_core.ops.chunked_attention.naive import chunked_attention_naive

__all__ = ["chunked_attention", "chunked_attention_naive"]
