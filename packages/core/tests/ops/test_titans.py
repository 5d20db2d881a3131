"""Titans' chunked memory against its per-token reference (autograd gradients), and the one-token step.

fla-core's ``fla/ops/titans`` is not a reference here: its memory is a linear map with a LayerNorm and a
residual inside the loss (TTT-style, target v − k), a different update from the paper's MLP memory.
"""

import itertools

import pytest
import torch
import torch.nn.functional as F

from recur_core.ops.titans import chunk_titans, memory_grads, memory_mlp, naive_titans, titans_step
from recur_core.testing import assert_op_matches_reference, assert_states_close

# (η, θ, α) ranges: spread, and each gate at an end of [0, 1] (θ kept small enough that the memory's
# gradient descent stays bounded over 75 tokens, so the comparison is of numbers, not of overflows)
GATES = {
    "spread": ((0.0, 0.9), (0.0, 0.2), (0.0, 0.2)),
    "eta_one": ((1.0, 1.0), (0.0, 0.01), (0.0, 0.1)),
    "eta_zero": ((0.0, 0.0), (0.0, 0.3), (0.0, 0.1)),
    "alpha_one": ((0.0, 1.0), (0.0, 0.3), (1.0, 1.0)),
    "theta_zero": ((0.0, 1.0), (0.0, 0.0), (0.0, 1.0)),
    "near_one": ((0.999, 1.0), (0.0, 1e-3), (0.999, 1.0)),
}
NAMES = ("q", "k", "v", "eta", "theta", "alpha")


def make_inputs(seq_len, gates=GATES["spread"], chunk_size=4, depth=2, batch=2, heads=3, dim=4, hidden=6, seed=0):
    """Inputs and a mid-chunk initial state (chunk-start weights ≠ weights, momentum ≠ 0), flat for the checks."""
    g = torch.Generator().manual_seed(seed)
    dims = [dim] + [hidden] * (depth - 1) + [dim]

    def weights(scale=1.0):
        return [
            scale * torch.randn(batch, heads, o, i, generator=g, dtype=torch.float64) / i**0.5
            for i, o in itertools.pairwise(dims)
        ]

    inputs = {
        "q": F.normalize(torch.randn(batch, seq_len, heads, dim, generator=g, dtype=torch.float64), dim=-1),
        "k": F.normalize(torch.randn(batch, seq_len, heads, dim, generator=g, dtype=torch.float64), dim=-1),
        "v": torch.randn(batch, seq_len, heads, dim, generator=g, dtype=torch.float64),
    }
    for name, (lo, hi) in zip(("eta", "theta", "alpha"), gates):
        inputs[name] = lo + (hi - lo) * torch.rand(batch, seq_len, heads, generator=g, dtype=torch.float64)
    for group, scale in (("grad_weights", 1.0), ("weights", 1.0), ("momentum", 0.1)):
        inputs.update({f"{group}{i}": w for i, w in enumerate(weights(scale))})
    inputs["position"] = torch.randint(0, chunk_size, (batch,), generator=g)
    return inputs


def state_of(inputs):
    """The op's state ``(grad_weights, weights, momentum, position)`` from the flat inputs."""
    depth = sum(name.startswith("weights") for name in inputs)
    groups = tuple(tuple(inputs[f"{g}{i}"] for i in range(depth)) for g in ("grad_weights", "weights", "momentum"))
    return (*groups, inputs["position"])


def run(op, chunk_size, lengths=None, max_grad_norm=None, **inputs):
    args = (inputs[n] for n in NAMES)
    out, final = op(*args, state_of(inputs), chunk_size=chunk_size, lengths=lengths, max_grad_norm=max_grad_norm)
    return out, final[:3], final[3]


@pytest.mark.parametrize("seq_len", [63, 75])
@pytest.mark.parametrize("chunk_size", [1, 4, 16])
@pytest.mark.parametrize("gates", list(GATES), ids=list(GATES))
def test_chunk_matches_naive(seq_len, chunk_size, gates):
    inputs = make_inputs(seq_len, GATES[gates], chunk_size)
    assert_op_matches_reference(
        lambda **kw: run(chunk_titans, chunk_size, **kw)[:2],
        lambda **kw: run(naive_titans, chunk_size, **kw)[:2],
        inputs,
        what=f"chunk_titans (C={chunk_size}, {gates})",
    )


@pytest.mark.parametrize("depth", [1, 3])
def test_memory_depth(depth):
    inputs = make_inputs(21, chunk_size=8, depth=depth)
    assert_op_matches_reference(
        lambda **kw: run(chunk_titans, 8, **kw)[:2],
        lambda **kw: run(naive_titans, 8, **kw)[:2],
        inputs,
        what=f"depth {depth}",
    )


@pytest.mark.parametrize("chunk_size", [1, 8])
def test_gradient_clipping_matches_naive(chunk_size):
    # large values make most gradients exceed the norm, a few stay below it
    inputs = make_inputs(33, chunk_size=chunk_size)
    inputs["v"] = inputs["v"] * torch.linspace(0.01, 3.0, 33, dtype=torch.float64)[None, :, None, None]
    assert_op_matches_reference(
        lambda **kw: run(chunk_titans, chunk_size, max_grad_norm=0.5, **kw)[:2],
        lambda **kw: run(naive_titans, chunk_size, max_grad_norm=0.5, **kw)[:2],
        inputs,
        what=f"chunk_titans with clipping (C={chunk_size})",
    )


def test_clipping_bounds_each_update():
    inputs = make_inputs(1, chunk_size=1, depth=1)
    inputs["v"] = 100 * inputs["v"]
    inputs["eta"] = torch.zeros_like(inputs["eta"])
    _, (_, _, momentum), _ = run(chunk_titans, 1, max_grad_norm=0.5, **inputs)
    # S_1 = −θ ∇ with ‖∇‖ clipped to 0.5
    norms = momentum[0].flatten(-2).norm(dim=-1)
    torch.testing.assert_close(norms, 0.5 * inputs["theta"][:, 0])


def test_closed_form_gradient_is_autograd():
    inputs = make_inputs(5, depth=3)
    weights = [inputs[f"weights{i}"].requires_grad_() for i in range(3)]
    k, v = inputs["k"].transpose(1, 2), inputs["v"].transpose(1, 2)
    loss = (memory_mlp(tuple(weights), k) - v).pow(2).sum()
    expected = torch.autograd.grad(loss, weights)
    deltas, xs = memory_grads(tuple(weights), k, v)
    for e, d, x in zip(expected, deltas, xs):
        torch.testing.assert_close(d.transpose(-1, -2) @ x, e)


@pytest.mark.parametrize("chunk_size", [1, 3, 16])
@pytest.mark.parametrize("max_grad_norm", [None, 0.3], ids=["plain", "clipped"])
def test_step_matches_chunk_form(chunk_size, max_grad_norm):
    inputs = make_inputs(40, chunk_size=chunk_size)
    out, weights, position = run(chunk_titans, chunk_size, max_grad_norm=max_grad_norm, **inputs)
    state, outputs = state_of(inputs), []
    for t in range(40):
        o_t, state = titans_step(*(inputs[n][:, t] for n in NAMES), state, chunk_size, max_grad_norm=max_grad_norm)
        outputs.append(o_t)
    torch.testing.assert_close(torch.stack(outputs, 1), out)
    assert_states_close(state[:3], weights, "step vs chunk final state")
    assert torch.equal(state[3], position)


@pytest.mark.parametrize("cut", [1, 5, 16, 30])
def test_split_with_state_passing_equals_whole(cut):
    inputs = make_inputs(45, chunk_size=8)
    out, weights, position = run(chunk_titans, 8, **inputs)
    first = {n: t[:, :cut] if n in NAMES else t for n, t in inputs.items()}
    out1, w1, p1 = run(chunk_titans, 8, **first)
    second = {n: inputs[n][:, cut:] for n in NAMES}
    out2, final = chunk_titans(*second.values(), (*w1, p1), chunk_size=8)
    torch.testing.assert_close(torch.cat([out1, out2], 1), out)
    assert_states_close(final[:3], weights, "split vs whole final state")
    assert torch.equal(final[3], position)


def test_lengths_stop_each_row_at_its_last_token():
    inputs = make_inputs(30, chunk_size=8)
    lengths = torch.tensor([30, 11])
    out, weights, position = run(chunk_titans, 8, lengths=lengths, **inputs)
    ref_out, ref_weights, ref_position = run(naive_titans, 8, lengths=lengths, **inputs)
    torch.testing.assert_close(out[1, :11], ref_out[1, :11])
    torch.testing.assert_close(out[0], ref_out[0])
    assert_states_close(weights, ref_weights, "lengths: chunk vs naive final state")
    assert position.tolist() == ref_position.tolist()
    row = {n: t[1:, :11] if n in NAMES else t[1:] for n, t in inputs.items()}
    _, row_weights, row_position = run(chunk_titans, 8, **row)
    assert_states_close(tuple(tuple(w[1:] for w in g) for g in weights), row_weights, "padded row vs its own run")
    assert position[1] == row_position[0] == (int(inputs["position"][1]) + 11) % 8


def test_chunk_size_one_is_the_per_token_rule():
    # with C = 1 the gradient of token t is taken at W_{t-1}: two tokens by hand
    inputs = make_inputs(2, chunk_size=1, depth=1)
    inputs["grad_weights0"] = inputs["weights0"]
    out, weights, _ = run(chunk_titans, 1, **inputs)
    w, s = inputs["weights0"], inputs["momentum0"]
    for t in range(2):
        k, v, q = (inputs[n][:, t, :, :, None] for n in ("k", "v", "q"))
        eta, theta, alpha = (inputs[n][:, t, :, None, None] for n in ("eta", "theta", "alpha"))
        s = eta * s - theta * 2 * (w @ k - v) @ k.transpose(-1, -2)
        w = (1 - alpha) * w + s
        torch.testing.assert_close(out[:, t], (w @ q)[..., 0])
    torch.testing.assert_close(weights[1][0], w)


def test_rejects_a_position_outside_the_chunk():
    inputs = make_inputs(5, chunk_size=8)
    with pytest.raises(ValueError, match=r"position must lie in 0\.\.chunk_size-1"):
        run(chunk_titans, 2, **{**inputs, "position": torch.tensor([0, 5])})
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        run(chunk_titans, 0, **inputs)
