"""Chunked causal softmax attention, all chunks at once through ``scaled_dot_product_attention``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["chunked_attention"]


def _run(q, k, v, keys, values, offset, chunk_size, lengths):
    # prepend the buffered tokens of the current chunk so that chunks start at multiples of C
    batch, steps, heads, dim = q.shape
    k_all = torch.cat([keys[:, :offset], k], dim=1)
    v_all = torch.cat([values[:, :offset], v], dim=1)
    q_all = torch.cat([q.new_zeros(batch, offset, heads, dim), q], dim=1)
    total = offset + steps
    chunks = -(-total // chunk_size)
    pad = chunks * chunk_size - total

    def blocks(x):
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        return x.view(batch, chunks, chunk_size, heads, dim).permute(0, 1, 3, 2, 4)

    o = F.scaled_dot_product_attention(blocks(q_all), blocks(k_all), blocks(v_all), is_causal=True)
    o = o.permute(0, 1, 3, 2, 4).reshape(batch, chunks * chunk_size, heads, dim)[:, offset:total]
    # the new state: the tokens of each row's last, unfinished chunk
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.long, device=q.device)
    ends = offset + lengths
    count = ends % chunk_size
    slots = torch.arange(chunk_size, device=q.device)
    index = (ends - count)[:, None] + slots
    keep = (slots[None] < count[:, None])[..., None, None]
    index = index.clamp(max=total - 1)[..., None, None].expand(-1, -1, heads, dim)
    new_keys = torch.where(keep, k_all.gather(1, index), torch.zeros((), dtype=k.dtype, device=k.device))
    new_values = torch.where(keep, v_all.gather(1, index), torch.zeros((), dtype=v.dtype, device=v.device))
    return o, new_keys, new_values, count


def chunked_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    initial_state: tuple[Tensor, Tensor, Tensor],
    chunk_size: int,
    lengths: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    """Same contract and result as :func:`~recur_core.ops.chunked_attention.naive.chunked_attention_naive`.

    O(T C) time and memory. Rows whose buffers hold different numbers of tokens (after a padded
    batch) run in one group per distinct count.
    """
    keys, values, count = initial_state
    offsets = count.unique().tolist()
    if len(offsets) == 1:
        o, new_keys, new_values, new_count = _run(q, k, v, keys, values, offsets[0], chunk_size, lengths)
        return o, (new_keys, new_values, new_count)
    o = torch.empty_like(q)
    new_keys, new_values, new_count = torch.empty_like(keys), torch.empty_like(values), torch.empty_like(count)
    for offset in offsets:
        rows = (count == offset).nonzero().squeeze(1)
        part = _run(
            q[rows],
            k[rows],
            v[rows],
            keys[rows],
            values[rows],
            offset,
            chunk_size,
            None if lengths is None else lengths[rows],
        )
        o[rows], new_keys[rows], new_values[rows], new_count[rows] = part
    return o, (new_keys, new_values, new_count)
