r"""Training-free fixes of state collapse for scalar-decay recurrent layers (Mamba-2, RetNet).

Chen et al., "Stuffed Mamba: State Collapse and State Capacity of RNN-Based Long-Context Modeling",
2024, https://arxiv.org/abs/2410.07145. A head of a scalar-decay layer keeps

.. math::
    h_t = \alpha_t h_{t-1} + B_t x_t^\top, \qquad y_t = h_t^\top C_t, \qquad \alpha_t = e^{g_t} \in (0, 1]

and a state trained on short sequences may never have learnt to forget: past the training length
its norm and the loss explode ("state collapse"). The paper's three inference-time fixes, applied
to an already trained layer, each an option of :class:`StateFix`:

1. **Forget more, remember less**: :math:`B_t \leftarrow s\, B_t` (``b_scale``, e.g. 0.7) and
   :math:`\alpha_t \leftarrow \min(\alpha_t, \alpha_{max})` (``max_decay``, e.g. 0.99999).
2. **State normalisation**: per head, after every ``every`` tokens (counted from the start of the
   sequence), :math:`h \leftarrow h \cdot \tau / \lVert h \rVert` if :math:`\lVert h \rVert > \tau`
   (``state_norm`` = τ; the Frobenius norm of the head's state). The official snippet multiplies
   by :math:`\lVert h \rVert / \tau`; this is the division the paper's text describes.
3. **Sliding window by state difference**: the output reads the state of the last r tokens only,

   .. math::
       h^{(r)}_t = h_t - \Big(\prod_{s=t-r+1}^{t} \alpha_s\Big) h_{t-r}
                 = \sum_{j=t-r+1}^{t} \Big(\prod_{s=j+1}^{t} \alpha_s\Big) B_j x_j^\top,

   exact because α is a scalar per head (``window`` = r). Both terms come from the chunked op: the
   first is the plain output, the second the plain op run with the query of t moved to t − r and
   scaled by the decay product, so the fix stays vectorised over the sequence.

The layer's own code is untouched: :class:`StateFixed` wraps a built layer and, while it runs,
swaps the linear-attention op the layer calls (``chunk_linear_attn`` and ``linear_attn_step`` in
the layer's module) for the fixed one. :func:`apply_state_fix` wraps every supported layer inside
a model for the duration of a ``with`` block, and :class:`StateFixCallback` does so during a
Lightning test or validation run, so a recipe can evaluate a trained checkpoint with a fix.

.. code-block:: python

    fix = StateFix(state_norm=10.0, every=128)
    with apply_state_fix(model, fix):
        logits = model(tokens)  # every mamba2 / retention layer of the model runs fixed
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor, nn

from recur_core.layers.base import SequenceLayer, State, valid_mask
from recur_core.layers.mamba2 import Mamba2
from recur_core.layers.retention import Retention
from recur_core.ops.linear_attn import chunk_linear_attn, linear_attn_step

__all__ = [
    "SCALAR_DECAY_LAYERS",
    "StateFix",
    "StateFixCallback",
    "StateFixed",
    "apply_state_fix",
    "fixed_linear_attn",
    "fixed_linear_attn_step",
    "head_state_norm",
]

# The layers whose state is one scalar-decay linear-attention state per head, run through the ops above.
SCALAR_DECAY_LAYERS: tuple[type[SequenceLayer], ...] = (Mamba2, Retention)
_OP_NAMES = ("chunk_linear_attn", "linear_attn_step")


@dataclass(frozen=True)
class StateFix:
    """The options of the three fixes; the defaults change nothing.

    Args:
        state_norm: τ, the largest state norm per head allowed after every ``every`` tokens
            (default ``inf``: off).
        every: R, tokens between two normalisations, counted from the start of the sequence (default 128).
        b_scale: s, the factor of the input :math:`B_t` (Mamba-2's B, RetNet's key; default 1).
        max_decay: :math:`\\alpha_{max}` in (0, 1], the cap on the decay (default 1: off).
        window: r, how many most recent tokens the state holds (default ``None``: all). With a
            window, a layer runs whole sequences from their start only (no state passing, no step).
    """

    state_norm: float = math.inf
    every: int = 128
    b_scale: float = 1.0
    max_decay: float = 1.0
    window: int | None = None

    def __post_init__(self) -> None:
        if not self.state_norm > 0:
            raise ValueError(f"state_norm τ must be positive (inf = off), got {self.state_norm}")
        if self.every < 1:
            raise ValueError(f"every must be a positive number of tokens, got {self.every}")
        if not self.b_scale > 0:
            raise ValueError(f"b_scale must be positive (1 = off), got {self.b_scale}")
        if not 0 < self.max_decay <= 1:
            raise ValueError(f"max_decay must lie in (0, 1] (1 = off), got {self.max_decay}")
        if self.window is not None and self.window < 1:
            raise ValueError(f"window must be a positive number of tokens or None (off), got {self.window}")


def head_state_norm(state: Tensor) -> Tensor:
    """Frobenius norm of each head's state: ``[B, H, K, V] -> [B, H]``."""
    return state.flatten(-2).norm(dim=-1)


def _normalize_rows(state: Tensor, tau: float, rows: Tensor) -> Tensor:
    """h ← h·τ/‖h‖ for the heads with ‖h‖ > τ, in the rows where ``rows`` [B] is True."""
    factor = (tau / head_state_norm(state)).clamp(max=1.0)
    factor = torch.where(rows[:, None], factor, torch.ones_like(factor))
    return state * factor[..., None, None]


def _check_decay(g: Tensor | None) -> None:
    if g is None or g.dim() != 3:
        shape = None if g is None else tuple(g.shape)
        raise ValueError(
            f"state-collapse fixes need a scalar log-decay per head g [B, T, H], got {shape}; "
            f"they apply to {', '.join(cls.__name__ for cls in SCALAR_DECAY_LAYERS)}"
        )


def _inputs(k: Tensor, g: Tensor, fix: StateFix, valid: Tensor | None) -> tuple[Tensor, Tensor]:
    """Fix 1 on the op inputs: scaled keys, capped decays (padded steps keep g = 0, no decay)."""
    if fix.b_scale != 1.0:
        k = k * fix.b_scale
    if fix.max_decay < 1.0:
        capped = g.clamp(max=math.log(fix.max_decay))
        g = capped if valid is None else torch.where(valid, capped, g)
    return k, g


def fixed_linear_attn(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    fix: StateFix,
    scale: float | None = None,
    initial_state: Tensor | None = None,
    chunk_size: int | None = None,
    positions: Tensor | None = None,
    lengths: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Scalar-decay causal linear attention with the fixes of ``fix``, chunked and vectorised.

    Normalisation splits the sequence at the tokens after which a row's position (``positions``
    [B], the tokens each row has read before this call, plus t + 1) is a multiple of R, and runs
    :func:`~recur_core.ops.linear_attn.chunk_linear_attn` on each segment with the state passed
    on. The window runs the op twice (see the module docstring); it needs a fresh start
    (``initial_state`` zero) for the first r outputs to be the window's.

    Args:
        q, k, v, g: as :func:`~recur_core.ops.linear_attn.chunk_linear_attn`, g one value per head.
        fix: the fixes.
        scale, initial_state, chunk_size: as :func:`~recur_core.ops.linear_attn.chunk_linear_attn`.
        positions: tokens read per row before this call (default 0), for where normalisation falls.
        lengths: valid tokens per row (right padding, default all T): padded steps neither
            decay nor count.

    Shapes:
        q, k [B, T, H, K]; v [B, T, H, V]; g [B, T, H] -> output [B, T, H, V] and the final state
        [B, H, K, V] (with a window: the state of the last r positions of the call).
    """
    _check_decay(g)
    batch, seq_len = q.shape[:2]
    valid = None if lengths is None else valid_mask(lengths, seq_len)
    k, g = _inputs(k, g, fix, None if valid is None else valid[..., None])
    if fix.window is not None:
        return _windowed(q, k, v, g, fix.window, scale, initial_state, chunk_size)
    if math.isinf(fix.state_norm):
        return chunk_linear_attn(q, k, v, g, scale=scale, initial_state=initial_state, chunk_size=chunk_size)
    positions = torch.zeros(batch, dtype=torch.long, device=q.device) if positions is None else positions
    hits = (positions[:, None] + torch.arange(1, seq_len + 1, device=q.device)) % fix.every == 0
    if valid is not None:
        hits = hits & valid
    ends = hits.any(0).nonzero().flatten().tolist()
    if not ends or ends[-1] != seq_len - 1:
        ends.append(seq_len - 1)
    state, outputs, start = initial_state, [], 0
    for end in ends:
        part = slice(start, end + 1)
        out, state = chunk_linear_attn(
            q[:, part], k[:, part], v[:, part], g[:, part], scale=scale, initial_state=state, chunk_size=chunk_size
        )
        state = _normalize_rows(state, fix.state_norm, hits[:, end])
        outputs.append(out)
        start = end + 1
    return torch.cat(outputs, 1), state


def _windowed(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    window: int,
    scale: float | None,
    initial_state: Tensor | None,
    chunk_size: int | None,
) -> tuple[Tensor, Tensor]:
    """Outputs of :math:`h_t - (\\prod_{s=t-r+1}^{t} \\alpha_s) h_{t-r}` and the window's final state."""
    seq_len = q.shape[1]
    out, state = chunk_linear_attn(q, k, v, g, scale=scale, initial_state=initial_state, chunk_size=chunk_size)
    if window >= seq_len:
        return out, state
    # ∏ α over (t - r, t] as a difference of cumulative log-decays, in float64
    cum = g.double().cumsum(1)
    decay = (cum[:, window:] - cum[:, :-window]).exp()
    moved = q[:, window:] * decay[..., None].to(q.dtype)
    early = slice(0, seq_len - window)
    past, _ = chunk_linear_attn(
        moved, k[:, early], v[:, early], g[:, early], scale=scale, initial_state=initial_state, chunk_size=chunk_size
    )
    out = torch.cat([out[:, :window], out[:, window:] - past], 1)
    late = slice(seq_len - window, seq_len)
    _, state = chunk_linear_attn(q[:, late], k[:, late], v[:, late], g[:, late], scale=scale, chunk_size=chunk_size)
    return out, state


def fixed_linear_attn_step(
    q_t: Tensor,
    k_t: Tensor,
    v_t: Tensor,
    g_t: Tensor,
    state: Tensor,
    scale: float,
    fix: StateFix,
    positions: Tensor,
) -> tuple[Tensor, Tensor]:
    """One token of :func:`fixed_linear_attn` (no window); ``positions`` [B] counts the tokens read before it.

    Shapes:
        q_t, k_t [B, H, K]; v_t [B, H, V]; g_t [B, H]; state [B, H, K, V] -> o_t [B, H, V] and the new state.
    """
    if fix.window is not None:
        raise ValueError("the window fix runs whole sequences (forward from the start); it has no step")
    if g_t is None or g_t.dim() != 2:
        raise ValueError("state-collapse fixes need a scalar log-decay per head g_t [B, H]")
    k_t, g_t = _inputs(k_t, g_t, fix, None)
    out, state = linear_attn_step(q_t, k_t, v_t, g_t, state, scale)
    if not math.isinf(fix.state_norm):
        state = _normalize_rows(state, fix.state_norm, (positions + 1) % fix.every == 0)
    return out, state


@contextmanager
def _swapped(layer: SequenceLayer, replacements: dict[str, Callable]) -> Iterator[None]:
    """Replace the ops ``layer``'s module calls by name while the block runs, then restore them."""
    module = sys.modules[type(layer).__module__]
    originals = {}
    for name, fn in replacements.items():
        if not hasattr(module, name):
            raise RuntimeError(
                f"{module.__name__} no longer calls {name}; update recur_core.techniques.state_collapse to its op"
            )
        originals[name] = getattr(module, name)
        setattr(module, name, fn)
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


class StateFixed(SequenceLayer):
    """A trained scalar-decay layer run with the state-collapse fixes of a :class:`StateFix`; no retraining.

    Paper: Chen et al., Stuffed Mamba, https://arxiv.org/abs/2410.07145; the fixes and their
    equations are in :mod:`recur_core.techniques.state_collapse`. The wrapper shares the layer's
    parameters; its state adds a token counter to the layer's, so that normalisation falls every
    R tokens of the sequence across state passing and ``step``. Without a window, ``forward`` with
    state passing and ``step`` reproduce a whole-sequence ``forward``.

    Args:
        layer: a built :class:`~recur_core.layers.Mamba2` or :class:`~recur_core.layers.Retention`.
        fix: the fixes.

    Shapes:
        x [B, T, D] -> y [B, T, D]; state (the layer's state, position [B] int64).
    """

    def __init__(self, layer: SequenceLayer, fix: StateFix) -> None:
        if not isinstance(layer, SCALAR_DECAY_LAYERS):
            names = ", ".join(cls.__name__ for cls in SCALAR_DECAY_LAYERS)
            raise ValueError(f"state-collapse fixes need a scalar-decay layer ({names}), got {type(layer).__name__}")
        super().__init__(layer.d_model)
        self.layer = layer
        self.fix = fix
        self.layer_name = layer.layer_name

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        positions = torch.zeros(batch_size, dtype=torch.long, device=device)
        return self.layer.init_state(batch_size, device, dtype), positions

    def _forward(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        inner, positions = state
        if self.fix.window is not None and bool((positions > 0).any()):
            raise ValueError("the window fix runs whole sequences from their start: call forward with state=None")

        def op(q, k, v, g=None, scale=None, initial_state=None, normalize=False, eps=1e-6, chunk_size=None, **_):
            if normalize:
                raise ValueError("state-collapse fixes do not apply to normalised linear attention")
            return fixed_linear_attn(q, k, v, g, self.fix, scale, initial_state, chunk_size, positions, lengths)

        with _swapped(self.layer, {"chunk_linear_attn": op}):
            y, inner = self.layer._forward(x, inner, lengths)
        return y, (inner, positions + (x.shape[1] if lengths is None else lengths))

    def _step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        inner, positions = state

        def op(q_t, k_t, v_t, g_t, s, scale, normalize=False, eps=1e-6):
            return fixed_linear_attn_step(q_t, k_t, v_t, g_t, s, scale, self.fix, positions)

        with _swapped(self.layer, {"linear_attn_step": op}):
            y, inner = self.layer._step(x_t, inner)
        return y, (inner, positions + 1)


@contextmanager
def apply_state_fix(model: nn.Module, fix: StateFix) -> Iterator[list[StateFixed]]:
    """Wrap every scalar-decay layer inside ``model`` in a :class:`StateFixed` for the ``with`` block.

    Yields the wrappers; on exit the original layers are back in place. A model without a
    supported layer is an error, since the fix would silently do nothing.
    """
    targets = [
        (parent, name, child)
        for parent in model.modules()
        if not isinstance(parent, StateFixed)
        for name, child in parent.named_children()
        if isinstance(child, SCALAR_DECAY_LAYERS)
    ]
    if not targets:
        names = ", ".join(cls.__name__ for cls in SCALAR_DECAY_LAYERS)
        raise ValueError(f"{type(model).__name__} holds no scalar-decay layer ({names}) to fix")
    wrappers = []
    for parent, name, child in targets:
        wrapper = StateFixed(child, fix)
        setattr(parent, name, wrapper)
        wrappers.append(wrapper)
    try:
        yield wrappers
    finally:
        for parent, name, child in targets:
            setattr(parent, name, child)


class StateFixCallback(L.Callback):
    """Runs a Lightning evaluation with the state-collapse fixes on every scalar-decay layer of the model.

    Paper: Chen et al., Stuffed Mamba, https://arxiv.org/abs/2410.07145. Training is unchanged:
    the fix is applied at the start of the chosen stages and removed at their end, so a recipe can
    add it under ``trainer: callbacks:`` to test a trained model past its training length.

    Args:
        state_norm, every, b_scale, max_decay, window: see :class:`StateFix`.
        stages: which evaluations run fixed: any of ``"test"``, ``"validate"``, ``"predict"``
            (default ``("test",)``).
    """

    _STAGES = ("test", "validate", "predict")

    def __init__(
        self,
        state_norm: float = math.inf,
        every: int = 128,
        b_scale: float = 1.0,
        max_decay: float = 1.0,
        window: int | None = None,
        stages: tuple[str, ...] = ("test",),
    ) -> None:
        unknown = set(stages) - set(self._STAGES)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; valid: {', '.join(self._STAGES)}")
        self.fix = StateFix(state_norm, every, b_scale, max_decay, window)
        self.stages = tuple(stages)
        self._active: ExitStack | None = None

    def _start(self, stage: str, module: L.LightningModule) -> None:
        if stage in self.stages and self._active is None:
            self._active = ExitStack()
            self._active.enter_context(apply_state_fix(module, self.fix))

    def _end(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active = None

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start("test", pl_module)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._end()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start("validate", pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._end()

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start("predict", pl_module)

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._end()
