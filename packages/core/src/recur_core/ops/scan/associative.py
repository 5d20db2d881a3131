r"""Inclusive scan under any associative operator, in log depth, differentiable by autograd.

For elements :math:`x_0, \dots, x_{T-1}` and an associative :math:`\oplus` it returns every prefix
:math:`x_0 \oplus \dots \oplus x_t`. The recursion is the odd–even (Ladner–Fischer) scan: combine
neighbours pairwise, scan the T/2 pair results, then fill in the even positions with one more
combine. Work O(T), depth O(log T). Pairs are split with ``unflatten`` + ``unbind`` and rejoined
with ``stack``, whose backward passes are single copies, so autograd stays O(T) as well.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["associative_scan"]

Elems = tuple[Tensor, ...]


def associative_scan(combine: Callable[[Elems, Elems], Elems], elems: Elems, dim: int = 1) -> Elems:
    """All inclusive prefixes of ``elems`` along ``dim`` under ``combine``.

    Args:
        combine: ``combine(earlier, later)`` -> combined, each a tuple of tensors shaped like
            ``elems`` with any length along ``dim``; must be associative and act elementwise
            along ``dim`` (broadcasting over the other dims is up to it).
        elems: tuple of tensors with the same size along ``dim``.
        dim: the scanned dimension (default 1).

    Returns:
        A tuple like ``elems``: entry t along ``dim`` is the combination of entries 0..t.
    """
    dim = dim % elems[0].dim()
    length = elems[0].shape[dim]
    if length < 2:
        return elems
    half = length // 2
    pairs = [x.narrow(dim, 0, 2 * half).unflatten(dim, (half, 2)).unbind(dim + 1) for x in elems]
    early = tuple(p[0] for p in pairs)
    late = tuple(p[1] for p in pairs)
    # prefixes that end at the odd positions 1, 3, 5, ...
    odd = associative_scan(combine, combine(early, late), dim)
    # even positions 2, 4, ... extend the odd prefix just before them; position 0 is itself
    filled = combine(tuple(o.narrow(dim, 0, half - 1) for o in odd), tuple(e.narrow(dim, 1, half - 1) for e in early))
    even = tuple(torch.cat([e.narrow(dim, 0, 1), f], dim) for e, f in zip(early, filled))
    out = tuple(torch.stack([e, o], dim + 1).flatten(dim, dim + 1) for e, o in zip(even, odd))
    if length % 2:
        last = combine(
            tuple(o.narrow(dim, half - 1, 1) for o in odd), tuple(x.narrow(dim, length - 1, 1) for x in elems)
        )
        out = tuple(torch.cat([o, t], dim) for o, t in zip(out, last))
    return out
