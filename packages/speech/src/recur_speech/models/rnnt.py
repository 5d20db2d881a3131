r"""RNN-T: the transducer loss in pure PyTorch, the encoder-predictor-joiner model, greedy, beam and streaming decoding.

Graves, "Sequence Transduction with Recurrent Neural Networks", ICML 2012 workshop,
https://arxiv.org/abs/1211.3711 (the model, the loss and the beam search). The sizes and choices
follow torchaudio's Emformer RNN-T recipe (``pytorch/audio: examples/asr/emformer_rnnt``,
``torchaudio.models.emformer_rnnt_base``); the encoder layer is the TODM supernet's choice
(Shangguan et al., "TODM: Train Once Deploy Many", 2023, https://arxiv.org/abs/2309.01947), whose
MH-SSM encoder recur stands in for with a multi-head state-space core layer (``mamba2``).

The model. Features ``x`` (80-d log-mel) are stacked ``time_reduction`` frames at a time, then run
through the encoder (a stack of any core layer); the predictor (an LSTM) reads the labels emitted so
far, starting from the blank; the joiner combines both at every pair (t, u):

.. math::
    f_t = \mathrm{Enc}(x)_t, \qquad g_u = \mathrm{Pred}(\varnothing, y_1, \dots, y_u), \qquad
    z_{t,u} = W_o\, \mathrm{act}(W_f f_t + W_g g_u + b) + b_o, \qquad
    p(k \mid t, u) = \mathrm{softmax}(z_{t,u})_k

The loss is :math:`-\log p(y \mid x)`, summed over every alignment by the forward variable

.. math::
    \alpha_{t,u} = \mathrm{logaddexp}\big(\alpha_{t-1,u} + \log p(\varnothing \mid t-1, u),\;
    \alpha_{t,u-1} + \log p(y_u \mid t, u-1)\big), \qquad
    -\log p(y \mid x) = -\big(\alpha_{T-1,U} + \log p(\varnothing \mid T-1, U)\big)

with :math:`\alpha_{0,0} = 0`. :func:`rnnt_loss` computes it over the anti-diagonals ``t + u = n``
(every cell of a diagonal depends only on the previous diagonal, so there are ``T + U - 1`` vectorised
steps and no loop over both T and U); :func:`rnnt_loss_reference` is the plain double loop, the ground
truth; :func:`transducer_loss` picks torchaudio's fused C++ loss or the pure-PyTorch one.

As the Emformer recipe: time reduction ×4 by frame stacking, a linear map to the encoder width,
pre-norm residual blocks with a 4× feed-forward, a final LayerNorm; an LSTM predictor over an
embedding of the labels (blank first); a joiner that adds the two projections and applies ReLU then a
linear map to the vocabulary (blank included); ``RNNTLoss`` with ``reduction="sum"``, ``clamp=1``.

Deliberate differences, each for a stated reason:

- The encoder layers are any registered core layer (``layer``, ``mamba2`` by default: TODM's MH-SSM is
  a multi-head state-space layer with no public code; ``lssl``, ``lstm``, ``gla``, ``attention`` fit),
  in core's pre-norm residual block (:class:`recur_core.models.sequence_model.Block`) instead of
  Emformer's segment-wise attention; a causal layer is what gives streaming decoding through ``step``.
- The predictor is ``torch.nn.LSTM`` followed by one LayerNorm (torchaudio's uses its own LSTM cell
  with a LayerNorm inside each gate); the projections to the joiner width sit in the joiner.
- Sizes default to a CPU scale (``d_model=144``, 4 layers, joiner 256); the recipe's are 512, 20 layers,
  3 × 512 LSTM, joiner 1024, 4097 symbols.

Decoding. :meth:`RNNT.greedy` takes, frame by frame, the most probable symbol until it is the blank
(at most ``max_symbols`` labels per frame), for the whole batch at once. :meth:`RNNT.beam_search` is
the standard transducer beam (Graves 2012, §2.6, in the form of torchaudio's ``RNNTBeamSearch``): per
frame, the hypotheses of the last frame are extended symbol by symbol (the ``k`` best extensions at a
time); each extension's blank-ended form joins the frame's beam, where equal label sequences reached
by different alignments are merged by summing their probabilities; an extension is kept only while it
can still enter the beam (its score above the beam's k-th best), and the beam is cut to ``k`` at the
end of the frame. Without pruning its scores are the exact :math:`\log p(y \mid x)` (tested).
torchaudio ranks by ``score / (len + 1)``; recur by the score, or as torchaudio with ``length_norm``.

:class:`GreedyStream` runs greedy decoding on features as they arrive, through the encoder layers'
``step``: the same tokens as :meth:`RNNT.greedy` on the whole input (tested).

Shapes:
    features [B, T, input_dim]; lengths [B] (valid frames); targets [B, U] label ids (no blank);
    target_lengths [B]; encoder output [B, T // time_reduction, d_model];
    logits [B, T // time_reduction, U + 1, vocab_size].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import State
from recur_core.models.sequence_model import Block
from recur_core.registry import register_model

__all__ = [
    "RNNT",
    "GreedyStream",
    "Hypothesis",
    "Joiner",
    "Predictor",
    "RNNTConfig",
    "TransducerEncoder",
    "rnnt",
    "rnnt_loss",
    "rnnt_loss_reference",
    "stack_frames",
    "transducer_loss",
]

Reduction = Literal["none", "mean", "sum"]


# ----- the loss --------------------------------------------------------------------------------------


def _check_loss_inputs(
    logits: Tensor, targets: Tensor, logit_lengths: Tensor, target_lengths: Tensor, blank: int, reduction: str
) -> int:
    """Validate the RNN-T loss inputs (torchaudio's conventions); returns the blank as a non-negative id."""
    if not isinstance(logits, Tensor) or logits.dim() != 4 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor [B, T, U + 1, V] (the joiner output), got {shape}")
    batch, frames, labels, vocab = logits.shape
    if targets.dim() != 2 or targets.is_floating_point() or targets.shape[0] != batch:
        raise ValueError(
            f"targets must be integer label ids [B, U] = [{batch}, U], got {targets.dtype} {tuple(targets.shape)}"
        )
    for name, lengths in (("logit_lengths", logit_lengths), ("target_lengths", target_lengths)):
        if lengths.shape != (batch,) or lengths.is_floating_point():
            raise ValueError(
                f"{name} must be an integer tensor [B] = [{batch}], got {lengths.dtype} {tuple(lengths.shape)}"
            )
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if not -vocab <= blank < vocab:
        raise ValueError(f"blank must be a symbol id in -{vocab}..{vocab - 1} (V = {vocab}), got {blank}")
    blank = blank % vocab
    if batch == 0:
        return blank
    if int(logit_lengths.min()) < 1 or int(logit_lengths.max()) > frames:
        raise ValueError(
            f"logit_lengths must lie in 1..T = 1..{frames}, got {int(logit_lengths.min())}..{int(logit_lengths.max())}"
        )
    if int(target_lengths.min()) < 0 or int(target_lengths.max()) > min(labels - 1, targets.shape[1]):
        raise ValueError(
            f"target_lengths must lie in 0..{min(labels - 1, targets.shape[1])} (logits hold U + 1 = {labels} label "
            f"positions, targets {targets.shape[1]}), got {int(target_lengths.min())}..{int(target_lengths.max())}"
        )
    valid = torch.arange(targets.shape[1], device=targets.device) < target_lengths[:, None]
    used = targets[valid]
    if used.numel():
        low, high = int(used.min()), int(used.max())
        if low < 0 or high >= vocab:
            raise ValueError(f"targets hold ids in {low}..{high}, outside 0..{vocab - 1}; set vocab_size to the data's")
        if bool((used == blank).any()):
            raise ValueError(f"targets contain the blank id {blank}; the blank is no label: give blank its own id")
    return blank


def _log_likelihood(log_probs: Tensor, targets: Tensor, logit_lengths: Tensor, target_lengths: Tensor, blank: int):
    """``log p(y | x)`` [B] by the forward variable over anti-diagonals (see the module docstring)."""
    batch, frames, labels, _ = log_probs.shape
    n_labels = labels - 1
    targets = targets[:, :n_labels].long().clamp(min=0)
    if targets.shape[1] < n_labels:
        targets = F.pad(targets, (0, n_labels - targets.shape[1]))
    blank_lp = log_probs[..., blank]  # [B, T, U+1]
    index = targets[:, None, :, None].expand(batch, frames, n_labels, 1)
    emit_lp = log_probs[:, :, :n_labels].gather(-1, index)[..., 0]  # [B, T, U]: log p(y_{u+1} | t, u)
    # skew cell (t, u) to (n = t + u, u): diagonal n holds the cells t = n - u
    device = log_probs.device
    diagonals = frames + n_labels
    u = torch.arange(labels, device=device)
    t = torch.arange(diagonals, device=device)[:, None] - u
    inside = (t >= 0) & (t < frames)  # [N, U+1]
    t = t.clamp(0, frames - 1)
    blank_skew = blank_lp[:, t, u]  # [B, N, U+1]
    emit_skew = emit_lp[:, t[:, :n_labels], u[:n_labels]]  # [B, N, U]
    # a finite "minus infinity": logaddexp of two of them has a finite gradient (of two -inf: NaN)
    neg = torch.finfo(log_probs.dtype).min / 4
    alpha = torch.full((batch, labels), neg, dtype=log_probs.dtype, device=device)
    alpha[:, 0] = 0.0
    history = [alpha]
    for n in range(1, diagonals):
        # cell (t, u) on diagonal n comes from (t - 1, u) by a blank and from (t, u - 1) by label y_u
        from_blank = alpha + blank_skew[:, n - 1]
        from_label = F.pad(alpha[:, :-1] + emit_skew[:, n - 1], (1, 0), value=neg)
        alpha = torch.where(inside[n], torch.logaddexp(from_blank, from_label), neg)
        history.append(alpha)
    alphas = torch.stack(history, 1)  # [B, N, U+1]
    rows = torch.arange(batch, device=device)
    last_t, last_u = logit_lengths.long() - 1, target_lengths.long()
    return alphas[rows, last_t + last_u, last_u] + blank_lp[rows, last_t, last_u]


def _reduce(costs: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return costs.mean()
    return costs.sum() if reduction == "sum" else costs


class _ClampedGradient(torch.autograd.Function):
    """The per-sequence RNN-T costs whose gradient w.r.t. the logits is clamped to ±clamp, as torchaudio's."""

    @staticmethod
    def forward(ctx, logits, targets, logit_lengths, target_lengths, blank, clamp, fused_log_softmax):
        with torch.enable_grad():
            leaf = logits.detach().requires_grad_(True)
            log_probs = leaf.log_softmax(-1) if fused_log_softmax else leaf
            costs = -_log_likelihood(log_probs, targets, logit_lengths, target_lengths, blank)
            (grad,) = torch.autograd.grad(costs.sum(), leaf)
        ctx.save_for_backward(grad.clamp(-clamp, clamp))
        return costs.detach()

    @staticmethod
    def backward(ctx, grad_costs):
        (grad,) = ctx.saved_tensors
        return grad * grad_costs[:, None, None, None], None, None, None, None, None, None


def rnnt_loss(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = -1,
    clamp: float = -1.0,
    reduction: Reduction = "mean",
    fused_log_softmax: bool = True,
) -> Tensor:
    r"""The RNN-T loss :math:`-\log p(y \mid x)` in pure PyTorch, with ``torchaudio.functional.rnnt_loss``'s interface.

    The forward variable runs over the ``T + U - 1`` anti-diagonals of the (t, u) lattice, each one
    vectorised over the batch and u, in log space; gradients come from autograd. Equal to torchaudio's
    loss in values and gradients (tested), and to :func:`rnnt_loss_reference` in float64.

    Args:
        logits: the joiner output; with ``fused_log_softmax=False``, log-probabilities already
            (torchaudio's convention: it then uses the input as log p as it is, unnormalised or not).
        targets: label ids, zero-padded past ``target_lengths``; never the blank.
        logit_lengths: valid frames per sequence (1..T).
        target_lengths: labels per sequence (0..U).
        blank: the blank's id; negative counts from the end (``-1``: the last symbol).
        clamp: when positive, each sequence's gradient w.r.t. ``logits`` is clamped to ``[-clamp, clamp]``
            before the reduction scales it (torchaudio's ``clamp``; the Emformer recipe uses 1).
        reduction: ``"mean"`` over the batch (not normalised by length), ``"sum"`` or ``"none"``.
        fused_log_softmax: apply ``log_softmax`` over V here (default), or take ``logits`` as log p.

    Shapes:
        logits [B, T, U + 1, V]; targets [B, U]; logit_lengths [B]; target_lengths [B]
        -> [] (``"mean"``, ``"sum"``) or [B] (``"none"``).
    """
    blank = _check_loss_inputs(logits, targets, logit_lengths, target_lengths, blank, reduction)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    if clamp > 0:
        costs = _ClampedGradient.apply(
            logits, targets, logit_lengths, target_lengths, blank, float(clamp), fused_log_softmax
        )
        return _reduce(costs, reduction)
    log_probs = logits.log_softmax(-1) if fused_log_softmax else logits
    return _reduce(-_log_likelihood(log_probs, targets, logit_lengths, target_lengths, blank), reduction)


def rnnt_loss_reference(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = -1,
    reduction: Reduction = "mean",
    fused_log_softmax: bool = True,
) -> Tensor:
    """The RNN-T loss as the plain double loop over t and u of Graves (2012), eq. 16: the ground truth.

    Same arguments and shapes as :func:`rnnt_loss` (without ``clamp``); slow: for tests.
    """
    blank = _check_loss_inputs(logits, targets, logit_lengths, target_lengths, blank, reduction)
    log_probs = logits.log_softmax(-1) if fused_log_softmax else logits
    costs = []
    for b in range(logits.shape[0]):
        frames, labels = int(logit_lengths[b]), int(target_lengths[b])
        lp, y = log_probs[b], targets[b].long()
        alpha = [[None] * (labels + 1) for _ in range(frames)]
        for t in range(frames):
            for u in range(labels + 1):
                if t == 0 and u == 0:
                    alpha[t][u] = lp.new_zeros(())
                    continue
                terms = []
                if t > 0:
                    terms.append(alpha[t - 1][u] + lp[t - 1, u, blank])
                if u > 0:
                    terms.append(alpha[t][u - 1] + lp[t, u - 1, y[u - 1]])
                alpha[t][u] = torch.logsumexp(torch.stack(terms), 0)
        costs.append(-(alpha[frames - 1][labels] + lp[frames - 1, labels, blank]))
    return _reduce(torch.stack(costs), reduction)


def transducer_loss(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = -1,
    clamp: float = -1.0,
    reduction: Reduction = "mean",
    backend: Literal["torchaudio", "pytorch"] = "torchaudio",
) -> Tensor:
    """The RNN-T loss by ``torchaudio.functional.rnnt_loss`` (fused C++/CUDA, float32) or :func:`rnnt_loss`.

    Both take the same arguments; torchaudio's wants int32 ids and lengths and float32 or float16
    contiguous logits trimmed to the batch's longest sequence and label sequence, which this does. The
    pure-PyTorch backend takes any float dtype (float64 for checks) and stays when a torchaudio
    build lacks the loss (it was deprecated in 2.8 and restored by pytorch/audio#4147).

    Shapes: as :func:`rnnt_loss`.
    """
    if backend == "pytorch":
        return rnnt_loss(logits, targets, logit_lengths, target_lengths, blank, clamp, reduction)
    if backend != "torchaudio":
        raise ValueError(f"backend must be 'torchaudio' or 'pytorch', got {backend!r}")
    blank = _check_loss_inputs(logits, targets, logit_lengths, target_lengths, blank, reduction)
    import torchaudio.functional

    frames, labels = int(logit_lengths.max()), int(target_lengths.max())
    logits = logits[:, :frames, : labels + 1].contiguous()
    if logits.dtype not in (torch.float32, torch.float16):
        logits = logits.float()
    return torchaudio.functional.rnnt_loss(
        logits,
        targets[:, :labels].int().contiguous(),
        logit_lengths.int(),
        target_lengths.int(),
        blank=blank,
        clamp=clamp,
        reduction=reduction,
    )


# ----- the modules ----------------------------------------------------------------------------------


def stack_frames(features: Tensor, lengths: Tensor, stride: int) -> tuple[Tensor, Tensor]:
    """Time reduction by frame stacking: every ``stride`` consecutive frames become one, concatenated.

    A trailing group of fewer than ``stride`` frames is dropped (torchaudio's ``_TimeReduction``).

    Shapes:
        features [B, T, F], lengths [B] -> [B, T // stride, stride * F], lengths // stride.
    """
    batch, frames, width = features.shape
    kept = frames // stride
    stacked = features[:, : kept * stride].reshape(batch, kept, stride * width)
    return stacked, torch.div(lengths, stride, rounding_mode="floor")


class TransducerEncoder(nn.Module):
    """Frame stacking, a linear map to ``d_model``, ``n_layers`` pre-norm residual blocks of a core layer, LayerNorm.

    The blocks are core's :class:`~recur_core.models.sequence_model.Block`: ``x + layer(norm(x))``, then
    ``x + MLP(norm(x))`` (``mlp_ratio · d_model`` hidden units; 0 removes it).

    Shapes:
        forward: features [B, T, input_dim], lengths [B] -> [B, T // time_reduction, d_model], lengths [B];
        step: stacked frame [B, time_reduction · input_dim], states -> [B, d_model], states.
    """

    def __init__(
        self,
        input_dim: int,
        time_reduction: int,
        d_model: int,
        n_layers: int,
        layer: str,
        layer_kwargs: dict[str, Any] | None,
        mlp_ratio: float,
        dropout: float,
    ) -> None:
        super().__init__()
        self.time_reduction = time_reduction
        self.input_proj = nn.Linear(input_dim * time_reduction, d_model)
        self.blocks = nn.ModuleList(
            Block(layer, d_model, dict(layer_kwargs or {}), mlp_ratio, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    @property
    def causal(self) -> bool:
        """Whether every layer is causal, so that :meth:`step` exists."""
        return all(block.mixer.causal for block in self.blocks)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        stacked, lengths = stack_frames(features, lengths, self.time_reduction)
        h = self.input_proj(stacked)
        for block in self.blocks:
            h, _ = block(h, None, lengths)
        return self.norm(h), lengths

    def step(self, stacked: Tensor, states: list[State] | None) -> tuple[Tensor, list[State]]:
        h = self.input_proj(stacked)
        new_states = []
        for i, block in enumerate(self.blocks):
            h, s = block.step(h, None if states is None else states[i])
            new_states.append(s)
        return self.norm(h), new_states


class Predictor(nn.Module):
    """The prediction network: an embedding of the labels (the blank starts every sequence), an LSTM, LayerNorm.

    Shapes:
        forward: tokens [B, U + 1] (blank, y_1 .. y_U) -> [B, U + 1, dim];
        step: tokens [N], state (h, c) each [num_layers, N, dim] -> [N, dim], state.
    """

    def __init__(self, vocab_size: int, dim: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(dim, dim, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        self.norm = nn.LayerNorm(dim)

    def init_state(self, batch_size: int, device=None, dtype=None) -> tuple[Tensor, Tensor]:
        shape = (self.lstm.num_layers, batch_size, self.lstm.hidden_size)
        zeros = torch.zeros(shape, device=device, dtype=dtype)
        return zeros, zeros.clone()

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.lstm(self.dropout(self.embedding(tokens)))
        return self.norm(out)

    def step(self, tokens: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, state = self.lstm(self.dropout(self.embedding(tokens[:, None])), state)
        return self.norm(out[:, 0]), state


class Joiner(nn.Module):
    """``out(act(W_f f + W_g g + b))``: the joint network over every (frame, label position) pair.

    Shapes:
        forward: encoder [B, T, enc_dim], predictor [B, U + 1, pred_dim] -> logits [B, T, U + 1, vocab_size];
        joint: projected encoder [..., joiner_dim] + projected predictor [..., joiner_dim] -> [..., vocab_size].
    """

    def __init__(self, enc_dim: int, pred_dim: int, joiner_dim: int, vocab_size: int, activation: str) -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in acts:
            raise ValueError(f"joiner_activation must be 'relu' (torchaudio's) or 'tanh' (Graves'), got {activation!r}")
        self.enc_proj = nn.Linear(enc_dim, joiner_dim)
        # the encoder's projection carries the bias
        self.pred_proj = nn.Linear(pred_dim, joiner_dim, bias=False)
        self.act = acts[activation]()
        self.out = nn.Linear(joiner_dim, vocab_size)

    def joint(self, enc: Tensor, pred: Tensor) -> Tensor:
        return self.out(self.act(enc + pred))

    def forward(self, enc: Tensor, pred: Tensor) -> Tensor:
        return self.joint(self.enc_proj(enc)[:, :, None], self.pred_proj(pred)[:, None])


# ----- the model ------------------------------------------------------------------------------------


@dataclass
class RNNTConfig:
    """Sizes of :class:`RNNT` (defaults: a CPU scale; the Emformer recipe's in brackets)."""

    input_dim: int = 80  # features per frame: 80-d log-mel [80]
    vocab_size: int = 32  # output symbols, the blank included [4097]
    blank: int = 0  # the blank's id; it also starts the predictor's input
    time_reduction: int = 4  # frames stacked into one encoder step [4]
    layer: str = "mamba2"  # the encoder's core layer (TODM: MH-SSM) [Emformer]
    layer_kwargs: dict[str, Any] | None = None  # passed to the layer's constructor
    d_model: int = 144  # encoder width [512]
    n_layers: int = 4  # encoder blocks [20]
    mlp_ratio: float = 4.0  # feed-forward width / d_model in every block; 0 removes it [2048 / 512]
    dropout: float = 0.1  # in the encoder blocks and on the predictor's embedding [0.1]
    pred_dim: int = 256  # predictor embedding and LSTM width [512]
    pred_layers: int = 1  # predictor LSTM layers [3]
    joiner_dim: int = 256  # joiner width [1024]
    joiner_activation: str = "relu"  # 'relu' (torchaudio) or 'tanh' (Graves 2012)


@dataclass
class Hypothesis:
    """A decoded label sequence: ``tokens`` (no blanks) and ``score``, the log-probability the search ranked it by."""

    tokens: list[int]
    score: float


class RNNT(nn.Module):
    """The RNN-T transducer: encoder on any core layer, LSTM predictor, joiner (see the module docstring).

    Args:
        config: an :class:`RNNTConfig`; keyword arguments override its fields.

    Shapes:
        forward: features [B, T, input_dim], lengths [B], targets [B, U], target_lengths [B]
        -> logits [B, T // time_reduction, U + 1, vocab_size], encoder lengths [B].

    Attributes:
        vocabulary_parameters: the parameters with one row per output token (the predictor's embedding,
            the joiner's output layer), which a model for another vocabulary maps token by token.
    """

    vocabulary_parameters = ("predictor.embedding.weight", "joiner.out.weight", "joiner.out.bias")

    def __init__(self, config: RNNTConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = RNNTConfig(**{**(asdict(config) if config else {}), **overrides})
        for name in ("input_dim", "time_reduction", "d_model", "n_layers", "pred_dim", "pred_layers", "joiner_dim"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(config, name)}")
        if config.vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2 (the blank and a label), got {config.vocab_size}")
        if not 0 <= config.blank < config.vocab_size:
            raise ValueError(f"blank must be a symbol id in 0..{config.vocab_size - 1}, got {config.blank}")
        if not 0 <= config.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {config.dropout}")
        self.config = config
        self.encoder = TransducerEncoder(
            config.input_dim,
            config.time_reduction,
            config.d_model,
            config.n_layers,
            config.layer,
            config.layer_kwargs,
            config.mlp_ratio,
            config.dropout,
        )
        self.predictor = Predictor(config.vocab_size, config.pred_dim, config.pred_layers, config.dropout)
        self.joiner = Joiner(
            config.d_model, config.pred_dim, config.joiner_dim, config.vocab_size, config.joiner_activation
        )

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def blank(self) -> int:
        return self.config.blank

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(features [B, 24, input_dim], lengths [B], targets [B, 4], target_lengths [B])`` for the checks."""
        frames = 6 * self.config.time_reduction
        features = torch.randn(batch_size, frames, self.config.input_dim)
        lengths = torch.full((batch_size,), frames, dtype=torch.long)
        lengths[-1] = frames - self.config.time_reduction
        targets = torch.randint(0, self.vocab_size - 1, (batch_size, 4))
        targets = targets + (targets >= self.blank).long()
        target_lengths = torch.full((batch_size,), 4, dtype=torch.long)
        target_lengths[-1] = 2
        return features, lengths, targets, target_lengths

    # ----- training ---------------------------------------------------------------------------------

    def _check_features(self, features: Tensor, lengths: Tensor | None) -> Tensor:
        dim, stride = self.config.input_dim, self.config.time_reduction
        if not isinstance(features, Tensor) or features.dim() != 3 or features.shape[-1] != dim:
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
            raise ValueError(f"features must be [B, T, input_dim={dim}] (log-mel frames), got {shape}")
        batch, frames = features.shape[:2]
        if lengths is None:
            lengths = torch.full((batch,), frames, dtype=torch.long, device=features.device)
        lengths = torch.as_tensor(lengths, device=features.device)
        if lengths.shape != (batch,) or lengths.is_floating_point():
            raise ValueError(f"lengths must be an integer tensor [B] = [{batch}], got {tuple(lengths.shape)}")
        if batch and int(lengths.max()) > frames:
            raise ValueError(f"lengths must be at most T = {frames} frames, got {int(lengths.max())}")
        if batch and int(lengths.min()) < stride:
            raise ValueError(
                f"an utterance of {int(lengths.min())} frames is shorter than time_reduction = {stride}; "
                "drop it or lower time_reduction"
            )
        return lengths.long()

    def encode(self, features: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The encoder output ``[B, T // time_reduction, d_model]`` and its lengths ``[B]``."""
        return self.encoder(features, self._check_features(features, lengths))

    def forward(
        self, features: Tensor, lengths: Tensor | None, targets: Tensor, target_lengths: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The joiner's logits over every (frame, label position) pair, and the encoder lengths."""
        enc, enc_lengths = self.encode(features, lengths)
        if targets.dim() != 2 or targets.is_floating_point() or targets.shape[0] != features.shape[0]:
            raise ValueError(f"targets must be integer label ids [B, U], got {targets.dtype} {tuple(targets.shape)}")
        if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= self.vocab_size):
            raise ValueError(
                f"targets hold ids in {int(targets.min())}..{int(targets.max())}, outside 0..{self.vocab_size - 1}; "
                "set vocab_size to the data's vocabulary (padding included)"
            )
        start = torch.full_like(targets[:, :1], self.blank)
        pred = self.predictor(torch.cat([start, targets], 1))
        return self.joiner(enc, pred), enc_lengths

    def loss(
        self,
        features: Tensor,
        lengths: Tensor | None,
        targets: Tensor,
        target_lengths: Tensor,
        reduction: Reduction = "mean",
        clamp: float = -1.0,
        backend: Literal["torchaudio", "pytorch"] = "torchaudio",
    ) -> Tensor:
        """The RNN-T loss of ``targets`` given ``features`` (see :func:`transducer_loss`)."""
        logits, enc_lengths = self(features, lengths, targets, target_lengths)
        return transducer_loss(
            logits, targets, enc_lengths, target_lengths, self.blank, clamp, reduction, backend=backend
        )

    # ----- greedy decoding --------------------------------------------------------------------------

    def _start(self, batch: int, like: Tensor) -> _GreedyState:
        state = self.predictor.init_state(batch, device=like.device, dtype=like.dtype)
        start = torch.full((batch,), self.blank, dtype=torch.long, device=like.device)
        out, state = self.predictor.step(start, state)
        return _GreedyState(self.joiner.pred_proj(out), state, [[] for _ in range(batch)], like.new_zeros(batch))

    def _greedy_frame(self, enc_t: Tensor, active: Tensor, st: _GreedyState, max_symbols: int) -> None:
        """Decode one frame ``enc_t`` [B, joiner_dim] (projected) for the rows in ``active`` [B], in place."""
        emitting = active
        for emitted in range(max_symbols + 1):
            if not bool(emitting.any()):
                return
            logp = self.joiner.joint(enc_t, st.pred).log_softmax(-1)
            best = logp.argmax(-1)
            if emitted == max_symbols:
                # at the cap the frame ends as if by a blank
                best = torch.full_like(best, self.blank)
            st.score += torch.where(emitting, logp.gather(-1, best[:, None])[:, 0], 0.0)
            emitting = emitting & (best != self.blank)
            rows = emitting.nonzero()[:, 0]
            if not len(rows):
                return
            for r, token in zip(rows.tolist(), best[rows].tolist()):
                st.tokens[r].append(token)
            h, c = st.state
            out, (h_new, c_new) = self.predictor.step(best[rows], (h[:, rows], c[:, rows]))
            st.pred = st.pred.index_copy(0, rows, self.joiner.pred_proj(out))
            st.state = (h.index_copy(1, rows, h_new), c.index_copy(1, rows, c_new))

    def _check_max_symbols(self, max_symbols: int) -> None:
        if max_symbols < 1:
            raise ValueError(f"max_symbols (labels per frame) must be at least 1, got {max_symbols}")

    @torch.no_grad()
    def greedy(self, features: Tensor, lengths: Tensor | None = None, max_symbols: int = 10) -> list[Hypothesis]:
        """Batched greedy decoding: per frame, the most probable symbol until the blank, at most ``max_symbols`` labels.

        Returns one :class:`Hypothesis` per utterance; its score is the log-probability of the decoded
        alignment (labels and the blanks that end the frames).
        """
        self._check_max_symbols(max_symbols)
        enc, enc_lengths = self.encode(features, lengths)
        enc = self.joiner.enc_proj(enc)
        st = self._start(enc.shape[0], enc)
        for t in range(enc.shape[1]):
            self._greedy_frame(enc[:, t], t < enc_lengths, st, max_symbols)
        return st.hypotheses()

    def stream(self, batch_size: int = 1, max_symbols: int = 10) -> GreedyStream:
        """A :class:`GreedyStream` over this model (in its current mode; call ``eval()`` first)."""
        return GreedyStream(self, batch_size, max_symbols)

    @torch.no_grad()
    def streaming_greedy(
        self, features: Tensor, lengths: Tensor | None = None, chunk_frames: int = 16, max_symbols: int = 10
    ) -> list[Hypothesis]:
        """Greedy decoding of ``features`` fed ``chunk_frames`` frames at a time through a :class:`GreedyStream`."""
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
        lengths = self._check_features(features, lengths)
        stream = self.stream(features.shape[0], max_symbols)
        for start in range(0, features.shape[1], chunk_frames):
            chunk = features[:, start : start + chunk_frames]
            stream.accept(chunk, (lengths - start).clamp(0, chunk.shape[1]))
        return stream.hypotheses()

    # ----- beam search ------------------------------------------------------------------------------

    @torch.no_grad()
    def beam_search(
        self,
        features: Tensor,
        lengths: Tensor | None = None,
        beam_size: int = 4,
        max_symbols: int = 10,
        length_norm: bool = False,
    ) -> list[list[Hypothesis]]:
        """The standard RNN-T beam search of width ``beam_size`` (module docstring); each utterance's beam, best first.

        Scores are log-probabilities summed over the alignments the search kept; with a beam that prunes
        nothing they are :math:`\\log p(y \\mid x)` over alignments of at most ``max_symbols`` labels per
        frame. ``length_norm`` ranks by ``score / (len + 1)`` at the end of each frame and in the result
        (torchaudio's default ``hypo_sort_key``); by default the search ranks by the score itself.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        self._check_max_symbols(max_symbols)
        enc, enc_lengths = self.encode(features, lengths)
        enc = self.joiner.enc_proj(enc)
        return [
            self._beam_one(enc[b, : int(enc_lengths[b])], beam_size, max_symbols, length_norm)
            for b in range(enc.shape[0])
        ]

    def _beam_one(self, enc: Tensor, beam: int, max_symbols: int, length_norm: bool) -> list[Hypothesis]:
        """Beam search over one utterance's projected encoder output ``enc`` [T', joiner_dim]."""

        def rank(item: tuple[tuple[int, ...], float]) -> float:
            return -item[1] / (len(item[0]) + 1) if length_norm else -item[1]

        start = self._start(1, enc)
        # the predictor's (projected) output and LSTM state after each label sequence
        cache: dict[tuple[int, ...], tuple[Tensor, tuple[Tensor, Tensor]]] = {(): (start.pred[0], start.state)}
        frame_beam: dict[tuple[int, ...], float] = {(): 0.0}
        for t in range(enc.shape[0]):
            # A: the hypotheses to extend at this frame; B (frame_beam): those that end it with a blank
            expand, frame_beam = frame_beam, {}
            for emitted in range(max_symbols + 1):
                hyps = list(expand)
                scores = enc.new_tensor([expand[y] for y in hyps])
                pred = torch.stack([cache[y][0] for y in hyps])
                logp = self.joiner.joint(enc[t], pred).log_softmax(-1)  # [N, V]
                for y, s in zip(hyps, (scores + logp[:, self.blank]).tolist()):
                    # the same labels by another alignment: their probabilities add
                    frame_beam[y] = _logaddexp(frame_beam.get(y, -math.inf), s)
                if emitted == max_symbols:
                    break
                # an extension that cannot beat the beam's k-th best cannot enter it: blanks only lower scores
                floor = sorted(frame_beam.values(), reverse=True)[beam - 1] if len(frame_beam) >= beam else -math.inf
                cand = scores[:, None] + logp
                cand[:, self.blank] = -math.inf
                top, flat = cand.flatten().topk(min(beam, cand.numel()))
                keep = top > floor
                if not bool(keep.any()):
                    break
                vocab = logp.shape[1]
                expand = {(*hyps[i // vocab], i % vocab): s for i, s in zip(flat[keep].tolist(), top[keep].tolist())}
                self._extend_cache(cache, [y for y in expand if y not in cache])
            frame_beam = dict(sorted(frame_beam.items(), key=rank)[:beam])
        return [Hypothesis(list(y), s) for y, s in sorted(frame_beam.items(), key=rank)]

    def _extend_cache(self, cache: dict, new: list[tuple[int, ...]]) -> None:
        """Run the predictor one label further for each sequence in ``new`` from its parent's cached state."""
        if not new:
            return
        parents = [cache[y[:-1]][1] for y in new]
        h = torch.cat([p[0] for p in parents], 1)
        c = torch.cat([p[1] for p in parents], 1)
        tokens = torch.tensor([y[-1] for y in new], device=h.device)
        out, (h, c) = self.predictor.step(tokens, (h, c))
        pred = self.joiner.pred_proj(out)
        for i, y in enumerate(new):
            cache[y] = (pred[i], (h[:, i : i + 1], c[:, i : i + 1]))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())


def _logaddexp(a: float, b: float) -> float:
    high = max(a, b)
    if high == -math.inf:
        return high
    return high + math.log1p(math.exp(-abs(a - b)))


@dataclass
class _GreedyState:
    """Greedy decoding's running state: projected predictor output [B, J], LSTM state, labels and scores per row."""

    pred: Tensor
    state: tuple[Tensor, Tensor]
    tokens: list[list[int]]
    score: Tensor

    def hypotheses(self) -> list[Hypothesis]:
        return [Hypothesis(list(t), float(s)) for t, s in zip(self.tokens, self.score.tolist())]


class GreedyStream:
    """Streaming greedy decoding: feed feature chunks as they arrive; labels come out as soon as frames complete.

    Frames are buffered until ``time_reduction`` of them make an encoder step; each step runs every
    encoder layer's ``step`` (O(1) per frame for recurrent layers) and then greedy decoding of that
    frame, exactly as :meth:`RNNT.greedy` does it: on the same input the two give the same labels.
    Needs causal encoder layers.

    Args:
        model: an :class:`RNNT` (put it in ``eval()`` mode: dropout would make the stream random).
        batch_size: streams decoded side by side.
        max_symbols: at most this many labels per encoder frame.

    Shapes:
        accept: chunk [B, C, input_dim], lengths [B] (valid frames of each row in this chunk; a row
        whose chunk is cut short has ended) -> the labels each row emitted during this chunk.
    """

    def __init__(self, model: RNNT, batch_size: int = 1, max_symbols: int = 10) -> None:
        if not model.encoder.causal:
            names = sorted({b.mixer.layer_name for b in model.encoder.blocks if not b.mixer.causal})
            raise ValueError(
                f"streaming needs causal encoder layers, and {names} are not; decode offline with greedy()"
            )
        model._check_max_symbols(max_symbols)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.max_symbols = max_symbols
        param = next(model.parameters())
        self._buffer = param.new_zeros(batch_size, 0, model.config.input_dim)
        self._seen = torch.zeros(batch_size, dtype=torch.long, device=param.device)
        self._ended = torch.zeros(batch_size, dtype=torch.bool, device=param.device)
        self._frames = 0  # encoder steps taken
        self._states: list[State] | None = None
        self._decoder = model._start(batch_size, param)

    @property
    def tokens(self) -> list[list[int]]:
        """The labels decoded so far, per row."""
        return [list(t) for t in self._decoder.tokens]

    def hypotheses(self) -> list[Hypothesis]:
        """The labels so far and the log-probability of their alignment, per row."""
        return self._decoder.hypotheses()

    @torch.no_grad()
    def accept(self, chunk: Tensor, lengths: Tensor | None = None) -> list[list[int]]:
        """Take the next frames ``chunk`` [B, C, input_dim]; return the labels each row emitted meanwhile."""
        dim = self.model.config.input_dim
        if not isinstance(chunk, Tensor) or chunk.dim() != 3 or chunk.shape[0] != self.batch_size:
            shape = tuple(chunk.shape) if isinstance(chunk, Tensor) else type(chunk).__name__
            raise ValueError(f"chunk must be [B={self.batch_size}, C, input_dim={dim}], got {shape}")
        if chunk.shape[-1] != dim:
            raise ValueError(f"chunk must be [B={self.batch_size}, C, input_dim={dim}], got {tuple(chunk.shape)}")
        if lengths is None:
            lengths = torch.full((self.batch_size,), chunk.shape[1], dtype=torch.long, device=chunk.device)
        lengths = torch.as_tensor(lengths, device=chunk.device).long()
        if lengths.shape != (self.batch_size,) or int(lengths.min()) < 0 or int(lengths.max()) > chunk.shape[1]:
            raise ValueError(
                f"lengths must be [B={self.batch_size}] counts in 0..C={chunk.shape[1]}, got {lengths.tolist()}"
            )
        if bool((self._ended & (lengths > 0)).any()):
            raise ValueError("a row that has ended (a chunk shorter than C) got more frames; start a new stream")
        self._ended |= lengths < chunk.shape[1]
        self._seen += lengths
        before = [len(t) for t in self._decoder.tokens]
        stride = self.model.config.time_reduction
        frames = torch.cat([self._buffer, chunk.to(self._buffer.dtype)], 1)
        steps = frames.shape[1] // stride
        self._buffer = frames[:, steps * stride :]
        for i in range(steps):
            stacked = frames[:, i * stride : (i + 1) * stride].reshape(self.batch_size, stride * dim)
            enc_t, self._states = self.model.encoder.step(stacked, self._states)
            # an encoder frame counts when all of its input frames are valid (as stack_frames drops the rest)
            active = (self._frames + 1) * stride <= self._seen
            self.model._greedy_frame(self.model.joiner.enc_proj(enc_t), active, self._decoder, self.max_symbols)
            self._frames += 1
        return [t[n:] for t, n in zip(self._decoder.tokens, before)]


@register_model("rnnt")
def rnnt(**kwargs: Any) -> RNNT:
    """:class:`RNNT` at the CPU scale of :class:`RNNTConfig`; any field can be overridden."""
    return RNNT(**kwargs)
