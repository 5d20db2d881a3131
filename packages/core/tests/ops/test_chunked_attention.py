"""Chunked attention: every chunk at once against the token-by-token loop with its KV buffer, in float64."""

import pytest
import torch

from recur_core.ops.chunked_attention import chunked_attention, chunked_attention_naive
from recur_core.testing import assert_op_matches_reference


def _inputs(steps, counts, chunk_size=8, heads=2, dim=4, lengths=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    batch = len(counts)
    count = torch.tensor(counts)
    filled = (torch.arange(chunk_size)[None] < count[:, None])[..., None, None]
    keys, values = (
        torch.randn(batch, chunk_size, heads, dim, generator=generator, dtype=torch.float64) * filled for _ in range(2)
    )
    q, k, v = (torch.randn(batch, steps, heads, dim, generator=generator, dtype=torch.float64) for _ in range(3))
    return dict(q=q, k=k, v=v, initial_state=(keys, values, count), chunk_size=chunk_size, lengths=lengths)


def _float_parts(op):
    # the reference check takes float outputs; the int64 count is compared on its own
    def run(**inputs):
        o, (keys, values, _) = op(**inputs)
        return o, keys, values

    return run


@pytest.mark.parametrize("steps", [1, 63, 75])
@pytest.mark.parametrize("counts", [[0, 0], [3, 3], [0, 5, 7]], ids=["empty", "same-offset", "mixed-offsets"])
def test_chunk_form_matches_the_loop(steps, counts):
    inputs = _inputs(steps, counts)
    assert_op_matches_reference(_float_parts(chunked_attention), _float_parts(chunked_attention_naive), inputs)
    torch.testing.assert_close(chunked_attention(**inputs)[1][2], chunked_attention_naive(**inputs)[1][2])


def test_padded_steps_leave_the_buffer_unchanged():
    inputs = _inputs(30, [2, 2, 6], lengths=torch.tensor([30, 5, 14]))
    fast, slow = chunked_attention(**inputs), chunked_attention_naive(**inputs)
    for a, b in zip(fast[1], slow[1]):
        torch.testing.assert_close(a, b)
    assert fast[1][2].tolist() == [(2 + 30) % 8, (2 + 5) % 8, (6 + 14) % 8]


def test_no_attention_across_chunk_boundaries():
    inputs = {k: v.requires_grad_() if k in "qkv" else v for k, v in _inputs(24, [0]).items()}
    o, _ = chunked_attention(**inputs)
    (grad,) = torch.autograd.grad(o[0, 17].sum(), inputs["v"])
    reached = grad[0].abs().sum((-1, -2)) > 0
    assert reached[16:18].all() and not reached[:16].any() and not reached[18:].any()
