"""The chunked linear-recurrence scan and the generic associative scan against step-by-step references,
and against fla-core's HGRN recurrence (the same elementwise recurrence with a = exp(g))."""

import pytest
import torch

from recur_core.ops.scan import associative_scan, blelloch_scan_, chunk_linear_recurrence, naive_linear_recurrence
from recur_core.testing import assert_op_matches_reference

# transitions a_t: mixed signs (negative eigenvalues), near 0, near ±1, and exact zeros
GATES = {
    "signed": lambda g, shape: torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1,
    "near_0": lambda g, shape: (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * 1e-3,
    "near_1": lambda g, shape: 1 - torch.rand(shape, generator=g, dtype=torch.float64) * 1e-3,
    "near_minus_1": lambda g, shape: -1 + torch.rand(shape, generator=g, dtype=torch.float64) * 1e-3,
    "zeros": lambda g, shape: torch.rand(shape, generator=g, dtype=torch.float64).round() * 0.9,
}


def make_inputs(seq_len, gates="signed", state=True, trailing=(3, 2), seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (2, seq_len, *trailing)
    inputs = {"a": GATES[gates](gen, shape), "b": torch.randn(shape, generator=gen, dtype=torch.float64)}
    if state:
        inputs["initial_state"] = torch.randn(2, *trailing, generator=gen, dtype=torch.float64)
    return inputs


@pytest.mark.parametrize("seq_len", [1, 63, 75])
@pytest.mark.parametrize("gates", list(GATES))
def test_chunk_matches_naive(seq_len, gates):
    assert_op_matches_reference(
        lambda **kw: chunk_linear_recurrence(**kw, chunk_size=16),
        naive_linear_recurrence,
        make_inputs(seq_len, gates),
        what=f"chunk_linear_recurrence T={seq_len} {gates}",
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 512])
def test_chunk_sizes_and_no_state(chunk_size):
    # 1 is raised to 2 and 7 rounds down to 4 (powers of two); 512 > T is one padded chunk
    inputs = make_inputs(75, state=False, trailing=(4,))
    assert_op_matches_reference(
        lambda **kw: chunk_linear_recurrence(**kw, chunk_size=chunk_size), naive_linear_recurrence, inputs
    )


def test_long_sequence_recurses_over_chunk_totals():
    # 9 × 8 × 8 steps with chunks of 8: the carry is itself scanned in chunks, twice
    inputs = make_inputs(600, trailing=(2,))
    assert_op_matches_reference(
        lambda **kw: chunk_linear_recurrence(**kw, chunk_size=8), naive_linear_recurrence, inputs
    )


def test_half_precision_inputs_are_computed_in_float32():
    inputs = {k: v.to(torch.bfloat16) for k, v in make_inputs(63).items()}
    h, final = chunk_linear_recurrence(**inputs)
    h_ref, final_ref = naive_linear_recurrence(**{k: v.float() for k, v in inputs.items()})
    assert h.dtype == torch.bfloat16 and final.dtype == torch.float32
    torch.testing.assert_close(final, final_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h.float(), h_ref, rtol=1e-2, atol=1e-2)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="share one shape"):
        chunk_linear_recurrence(torch.rand(2, 5, 3), torch.rand(2, 5, 4))


@pytest.mark.parametrize("reverse", [False, True])
def test_blelloch_scan_in_place(reverse):
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(16, 3, 2, generator=gen, dtype=torch.float64) * 2 - 1
    b = torch.randn(16, 3, 2, generator=gen, dtype=torch.float64)
    order = (lambda x: x.flip(0)) if reverse else (lambda x: x)
    h_ref, _ = naive_linear_recurrence(order(a).movedim(0, 1), order(b).movedim(0, 1))
    products = torch.cumprod(order(a), 0)
    a_work, b_work = a.clone(), b.clone()
    blelloch_scan_(a_work, b_work, reverse=reverse)
    torch.testing.assert_close(order(b_work), h_ref.movedim(1, 0))
    torch.testing.assert_close(order(a_work), products)
    with pytest.raises(ValueError, match="power-of-two"):
        blelloch_scan_(a[:6].clone(), b[:6].clone())


def _matmul(early, late):
    return (early[0] @ late[0],)


@pytest.mark.parametrize("length", [1, 2, 5, 63, 64, 75])
def test_associative_scan_of_sums_products_and_matrices(length):
    gen = torch.Generator().manual_seed(length)
    x = torch.randn(3, length, 4, generator=gen, dtype=torch.float64)
    (sums,) = associative_scan(lambda e, l: (e[0] + l[0],), (x,), dim=1)
    torch.testing.assert_close(sums, x.cumsum(1))
    (maxima,) = associative_scan(lambda e, l: (torch.maximum(e[0], l[0]),), (x,), dim=-2)
    torch.testing.assert_close(maxima, x.cummax(1).values)
    # a non-commutative operator: ordered products of 2 × 2 matrices, along dim 0
    mats = torch.eye(2, dtype=torch.float64) + 0.3 * torch.randn(length, 3, 2, 2, generator=gen, dtype=torch.float64)
    (prods,) = associative_scan(_matmul, (mats,), dim=0)
    expected, acc = [], None
    for m in mats:
        acc = m if acc is None else acc @ m
        expected.append(acc)
    torch.testing.assert_close(prods, torch.stack(expected))


def test_associative_scan_is_differentiable():
    inputs = make_inputs(75, state=False)

    def as_scan(a, b):
        _, h = associative_scan(lambda e, l: (l[0] * e[0], l[0] * e[1] + l[1]), (a, b), dim=1)
        return h

    assert_op_matches_reference(as_scan, lambda a, b: naive_linear_recurrence(a, b)[0], inputs)


@pytest.fixture(scope="module")
def fla_hgrn():
    """fla-core's pure-torch HGRN reference (imported once: importing fla takes seconds)."""
    return pytest.importorskip("fla.ops.hgrn.naive")


@pytest.mark.parametrize("seq_len", [63, 75])
def test_matches_fla_hgrn_recurrence(seq_len, fla_hgrn):
    naive_hgrn = fla_hgrn.naive_recurrent_hgrn
    gen = torch.Generator().manual_seed(seq_len)
    x = torch.randn(2, seq_len, 16, generator=gen)
    g = -torch.rand(2, seq_len, 16, generator=gen) * 3
    h0 = torch.randn(2, 16, generator=gen)
    expected, expected_final = naive_hgrn(x, g, initial_state=h0, output_final_state=True)
    h, final = chunk_linear_recurrence(g.exp(), x, initial_state=h0, chunk_size=16)
    torch.testing.assert_close(h, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(final, expected_final, rtol=1e-5, atol=1e-5)
