"""Reusable conformance checks for the layer contract (see :mod:`recur_core.layers.base`).

``check_layer_contract(layer)`` is what the registry-driven test runs on every registered
layer; call it on your own layer before registering it. Each check raises
:class:`AssertionError` naming the broken property.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from recur_core.layers.base import SequenceLayer, State, flatten_state

__all__ = ["assert_op_matches_reference", "assert_states_close", "check_layer_contract", "check_model"]

_TOLERANCES = {torch.float64: (1e-6, 1e-8), torch.float32: (1e-4, 1e-5)}


def _close(actual: Tensor, expected: Tensor, what: str, dtype: torch.dtype) -> None:
    rtol, atol = _TOLERANCES[dtype]
    if actual.dtype == torch.bool:
        assert torch.equal(actual, expected), f"{what}: boolean tensors differ"
        return
    scale = expected.abs().max().item() if expected.numel() else 0.0
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol + rtol * scale, msg=lambda m: f"{what}: {m}")


def assert_states_close(actual: State, expected: State, what: str, dtype: torch.dtype = torch.float64) -> None:
    """Leaf-wise closeness of two states with the same structure and shapes."""
    a, e = flatten_state(actual), flatten_state(expected)
    assert len(a) == len(e), f"{what}: {len(a)} state tensors vs {len(e)}"
    for i, (x, y) in enumerate(zip(a, e)):
        assert x.shape == y.shape, f"{what}: state tensor {i} has shape {tuple(x.shape)}, expected {tuple(y.shape)}"
        _close(x, y, f"{what} (state tensor {i})", dtype)


def _same_shapes(a: State, b: State) -> bool:
    return [t.shape for t in flatten_state(a)] == [t.shape for t in flatten_state(b)]


def _check_shapes(layer: SequenceLayer, x: Tensor) -> tuple[Tensor, State]:
    y, state = layer(x)
    assert y.shape == x.shape, f"output shape {tuple(y.shape)} != input shape {tuple(x.shape)}"
    assert isinstance(state, (Tensor, tuple)), f"state must be a tensor or a tuple of tensors, got {type(state)}"
    assert all(isinstance(t, Tensor) for t in flatten_state(state)), "state holds something that is not a tensor"
    y0, state0 = layer(x, state=layer.init_state(x.shape[0], device=x.device, dtype=x.dtype))
    _close(y0, y, "state=None vs state=init_state() output", x.dtype)
    assert_states_close(state0, state, "state=None vs state=init_state() final state", x.dtype)
    return y, state


def _has_step(layer: SequenceLayer) -> bool:
    return layer.causal or layer.noncausal_prefix > 0


def _check_step(layer: SequenceLayer, x: Tensor, y: Tensor, state: State) -> None:
    # a layer with a non-causal prefix steps from the state forward() leaves after the prefix
    start = min(layer.noncausal_prefix, x.shape[1])
    s = layer(x[:, :start])[1] if start else None
    outputs = []
    for t in range(start, x.shape[1]):
        y_t, s = layer.step(x[:, t], s)
        assert y_t.shape == x[:, t].shape, f"step output shape {tuple(y_t.shape)}, expected {tuple(x[:, t].shape)}"
        outputs.append(y_t)
    if outputs:
        _close(torch.stack(outputs, 1), y[:, start:], f"step() outputs from t={start} vs forward()", x.dtype)
    assert_states_close(s, state, "step() final state vs forward()", x.dtype)


def _check_split(layer: SequenceLayer, x: Tensor, y: Tensor, state: State) -> None:
    cut = max(x.shape[1] // 3, layer.noncausal_prefix)
    if cut >= x.shape[1]:
        return
    y1, s1 = layer(x[:, :cut])
    y2, s2 = layer(x[:, cut:], state=s1)
    _close(torch.cat([y1, y2], 1), y, "split run (with state passing) vs whole run", x.dtype)
    assert_states_close(s2, state, "split run final state vs whole run", x.dtype)


def _check_causality(layer: SequenceLayer, x: Tensor) -> None:
    t0 = max(x.shape[1] // 2, layer.noncausal_prefix)
    if t0 >= x.shape[1]:
        return
    x = x.detach().clone().requires_grad_(True)
    y, _ = layer(x)
    (grad,) = torch.autograd.grad(y[:, t0].sum(), x)
    future = grad[:, t0 + 1 :].abs().max().item()
    assert future == 0.0, f"output at t={t0} depends on future inputs (gradient {future:.3g}); layer is not causal"
    assert grad[:, : t0 + 1].abs().max().item() > 0, f"output at t={t0} does not depend on inputs up to t={t0}"


def _check_lengths(layer: SequenceLayer, x: Tensor, generator: torch.Generator, draw) -> None:
    batch, seq_len, _ = x.shape
    lengths = torch.randint(1, seq_len + 1, (batch,), generator=generator)
    lengths[0], lengths[-1] = seq_len, max(1, seq_len // 2)
    pad = torch.arange(seq_len)[None, :, None] >= lengths[:, None, None]
    garbage = 100 * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    y, state = layer(torch.where(pad, garbage, x), lengths=lengths)
    x_next = draw(batch, 4)
    y_next = layer(x_next, state=state)[0] if _has_step(layer) else None
    for b in range(batch):
        n = int(lengths[b])
        y_b, s_b = layer(x[b : b + 1, :n])
        _close(y[b : b + 1, :n], y_b, f"lengths: row {b} (length {n}) vs its unpadded run", x.dtype)
        if not _has_step(layer):
            continue
        row_state = _select_row(state, b)
        if _same_shapes(row_state, s_b):
            assert_states_close(row_state, s_b, f"lengths: row {b} final state vs its unpadded run", x.dtype)
        cont = layer(x_next[b : b + 1], state=s_b)[0]
        _close(y_next[b : b + 1], cont, f"lengths: continuing row {b} from its padded-run state", x.dtype)


def _select_row(state: State, b: int) -> State:
    if isinstance(state, Tensor):
        return state[b : b + 1]
    return tuple(_select_row(s, b) for s in state)


def _check_gradients(layer: SequenceLayer, x: Tensor) -> None:
    layer.zero_grad(set_to_none=True)
    y, state = layer(x)
    loss = y.pow(2).mean() + sum(t.pow(2).mean() for t in flatten_state(state) if t.is_floating_point())
    loss.backward()
    for name, p in layer.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"no gradient reaches parameter {name!r}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient in parameter {name!r}"
        assert p.grad.abs().max() > 0, f"gradient of parameter {name!r} is identically zero"
    layer.zero_grad(set_to_none=True)


def _check_errors(layer: SequenceLayer, x: Tensor) -> None:
    batch, seq_len, width = x.shape
    cases = {
        "wrong input width": lambda: layer(torch.zeros(batch, seq_len, width + 1, dtype=x.dtype)),
        "2-D input to forward": lambda: layer(x[:, 0]),
        "lengths of 0": lambda: layer(x, lengths=torch.zeros(batch, dtype=torch.long)),
        "lengths above T": lambda: layer(x, lengths=torch.full((batch,), seq_len + 1)),
        "state for another batch size": lambda: layer(x, state=layer.init_state(batch + 1, dtype=x.dtype)),
    }
    if _has_step(layer):
        cases["3-D input to step"] = lambda: layer.step(x)
    for what, call in cases.items():
        try:
            call()
        except ValueError:
            continue
        raise AssertionError(f"{what} was accepted; expected a ValueError that names the expected shape")


def check_layer_contract(
    layer: SequenceLayer,
    batch_size: int = 3,
    seq_len: int = 11,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> None:
    """Check that ``layer`` honours the layer contract; raises AssertionError otherwise.

    Runs on a copy of ``layer`` cast to ``dtype`` (float64 to 1e-6 relative, float32 to 1e-4):
    output and state shapes; ``state=None`` ≡ ``init_state()``; for causal layers
    ``step`` ≡ ``forward``, split-with-state ≡ whole, and causality by gradient; right padding
    via ``lengths`` (valid outputs and final states equal the unpadded runs, and continuing
    from them agrees); gradients reach every trainable parameter; bad inputs raise ValueError.
    A layer with ``noncausal_prefix = M`` gets the causal checks from t = M on (``step`` from the
    state ``forward`` leaves after M tokens, the split at t ≥ M, causality at t ≥ M). A layer with
    ``token_inputs`` gets rows of a random 3-token embedding table as inputs, a random 3-token
    word per row repeated, so its n-grams recur.
    """
    if dtype not in _TOLERANCES:
        raise ValueError(f"dtype must be one of {list(_TOLERANCES)}, got {dtype}")
    layer = copy.deepcopy(layer).to(dtype).eval()
    generator = torch.Generator().manual_seed(seed)
    if layer.token_inputs:
        table = torch.randn(3, layer.d_model, generator=generator, dtype=dtype)

        def draw(batch: int, steps: int) -> Tensor:
            # random 3-token words, repeated: every n-gram with n <= 3 recurs from t = n + 2 on
            word = torch.randint(len(table), (batch, 3), generator=generator)
            return table[word.repeat(1, steps // 3 + 1)[:, :steps]]
    else:

        def draw(batch: int, steps: int) -> Tensor:
            return torch.randn(batch, steps, layer.d_model, generator=generator, dtype=dtype)

    x = draw(batch_size, seq_len)
    with torch.no_grad():
        y, state = _check_shapes(layer, x)
        if _has_step(layer):
            _check_step(layer, x, y, state)
            _check_split(layer, x, y, state)
        _check_lengths(layer, x, generator, draw)
    if _has_step(layer):
        _check_causality(layer, x)
    _check_gradients(layer, x)
    _check_errors(layer, x)


def check_model(model: torch.nn.Module, batch_size: int = 2) -> None:
    """Smoke contract for a registered model: ``model.example_input(batch_size)`` runs forward,
    gives finite outputs whose leading dimension is the batch, and every trainable parameter gets a gradient."""
    assert hasattr(model, "example_input"), f"{type(model).__name__} needs example_input(batch_size) for the checks"
    torch.manual_seed(0)
    inputs = model.example_input(batch_size)
    out = model(*inputs)
    tensors = flatten_state(out if isinstance(out, (Tensor, tuple)) else tuple(out.values()))
    for t in tensors:
        assert t.shape[0] == batch_size, f"output of shape {tuple(t.shape)} does not lead with the batch size"
        assert torch.isfinite(t).all(), "non-finite model output"
    sum(t.float().pow(2).mean() for t in tensors if t.is_floating_point()).backward()
    missing = [
        n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().max() == 0)
    ]
    assert not missing, f"no gradient reaches parameters {missing}"


def assert_op_matches_reference(fast, reference, inputs: dict[str, Tensor], seed: int = 0, what: str = "op") -> None:
    """Compare a fast op with its reference: every output and every input gradient.

    ``fast(**inputs)`` and ``reference(**inputs)`` return a tensor or a (nested) tuple of tensors
    (typically ``(output, final_state)``; ``None`` entries are skipped). The loss for gradients is
    a fixed random projection of all outputs, so every output element contributes. Tolerances
    follow the inputs' dtype (float64: 1e-6 relative).
    """
    generator = torch.Generator().manual_seed(seed)
    results, grads = [], []
    for fn in (fast, reference):
        leaves = {
            k: v.detach().clone().requires_grad_(v.is_floating_point()) if isinstance(v, Tensor) else v
            for k, v in inputs.items()
        }
        out = fn(**leaves)
        tensors = [t for t in flatten_state(_drop_none(out))]
        results.append(tensors)
        if not grads:
            weights = [torch.randn(t.shape, generator=generator, dtype=t.dtype) for t in tensors]
        loss = sum((t * w).sum() for t, w in zip(tensors, weights) if t.is_floating_point())
        differentiable = [v for v in leaves.values() if isinstance(v, Tensor) and v.requires_grad]
        grads.append(torch.autograd.grad(loss, differentiable, allow_unused=True))
    dtype = next(v.dtype for v in inputs.values() if isinstance(v, Tensor) and v.is_floating_point())
    assert len(results[0]) == len(results[1]), (
        f"{what}: {len(results[0])} outputs vs {len(results[1])} in the reference"
    )
    for i, (a, e) in enumerate(zip(*results)):
        assert a.shape == e.shape, f"{what}: output {i} has shape {tuple(a.shape)}, reference {tuple(e.shape)}"
        _close(a.detach(), e.detach(), f"{what}: output {i}", dtype)
    names = [k for k, v in inputs.items() if isinstance(v, Tensor) and v.is_floating_point()]
    for name, a, e in zip(names, *grads):
        if a is None and e is None:
            continue
        assert a is not None and e is not None, f"{what}: gradient of {name!r} missing on one side"
        _close(a, e, f"{what}: gradient of {name!r}", dtype)


def _drop_none(out):
    if isinstance(out, tuple):
        return tuple(_drop_none(o) for o in out if o is not None)
    return out
