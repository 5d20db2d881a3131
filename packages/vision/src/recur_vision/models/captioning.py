"""LRCN image captioning: a CNN encoder and the factored two-layer recurrent language model, with decoding.

Donahue, Hendricks, Guadarrama, Rohrbach, Venugopalan, Saenko & Darrell, "Long-term Recurrent
Convolutional Networks for Visual Recognition and Description", CVPR 2015 / TPAMI 2017,
https://arxiv.org/abs/1411.4389. Official Caffe code: ``BVLC/caffe`` ``examples/coco_caption/lrcn.prototxt``
(the ``factored`` + ``2-layer`` stages) and ``captioner.py`` (decoding).

The model, at step t of a caption (``w_0 = EOS``, the official code's start word):

.. math::
    e_t = E\\,w_{t}, \\qquad
    h^1_t = \\mathrm{layer}_1(e_t, h^1_{t-1}), \\qquad
    h^2_t = \\mathrm{layer}_2(A\\,h^1_t + S\\,\\varphi(x) + b, h^2_{t-1}), \\qquad
    p(w_{t+1} \\mid w_{\\le t}, x) = \\mathrm{softmax}(W h^2_t + c)

``φ(x)`` is the image feature (the official ``fc8``: CaffeNet's fc7 mapped linearly to 1000-d and
re-learned), a *static* input of the second layer only ("factored": the first layer models the
words alone). Reads bottom-up: the image encoders, the config, the captioner with teacher forcing,
greedy decoding, sampling and beam search, the builder, the visual-concept pre-training of the encoder, then the
nearest-neighbour baseline.

As the official code:

- word embedding without bias, uniform(±0.08) initialisation of embedding, recurrences' input maps
  and the prediction layer; no dropout between the recurrent layers;
- EOS = 0 starts every caption and ends it; at most ``max_steps = 20`` words are generated (a
  caption without EOS by then is cut there, as the training streams);
- the loss is the cross-entropy of every target word, padding (-1) ignored (the official
  ``loss_weight: 20`` only rescales SGD's step; recur trains with AdamW, where it has no effect);
- beam search keeps the ``k`` best partial captions by summed log-probability and stops when all
  ``k`` have ended (``captioner.py``); a finished caption's score includes its EOS.

Deliberate differences, each for a stated reason:

- The recurrences are any registered core layer (``layer``, LSTM by default, the paper's) of width
  ``d_model``; the embedding has the same width (the official 1000 and 1000). Caffe's LSTM adds its
  static input straight into the gates; a core layer takes one input vector, so the static feature
  enters through a linear map into that input (``A h¹ + S φ + b``), which every layer accepts.
- The default encoder is a small CNN for 64×64 images on CPU (``encoder="small"``): conv blocks, their
  map pooled to a ``grid × grid`` of cells and flattened into fc6 (so where an object is survives, as
  CaffeNet's 6×6 pool5 → fc6), then the linear ``fc8`` to ``feature_dim``, batch-normalised so that φ
  has unit scale from the first step (the CPU recipe: three blocks, the first a strided 5×5 conv as
  CaffeNet's conv1 is, and an 8×8 grid of 8-pixel cells).
  Any other name is a frame CNN of :mod:`recur_vision.models.lrcn` (one lookup for both models:
  ``"caffenet"``, the official conv1–pool5, or a torchvision classifier such as ``"resnet18"``),
  randomly initialised (nothing is downloaded here), then a linear map to ``feature_dim``: the
  official re-learned fc8.
  ``freeze_encoder`` keeps the CNN fixed (the official first stage trains with a frozen ImageNet
  CNN; a frozen *random* CNN is what is possible without weights).
- In place of ImageNet pre-training (no weights can be downloaded here), the CPU recipe pre-trains the
  same encoder on the training captions alone: :class:`VisualConcepts` learns which words and word
  pairs an image's captions use (Fang et al. 2015's visual concepts), and the captioner starts from
  that encoder and fine-tunes it (``CaptioningModule(init_from=...)``; recipes ``lrcn/visual_concepts``
  then ``lrcn/captioning``).
- ``static_init`` sets the initial range of the image's input map S (official: 0.08 like every
  weight); the CPU recipe starts it at 0.5, since with a CNN trained from scratch for minutes a weak
  image input leaves the captioner close to an image-blind language model for most of its budget.
- Beam search takes an optional length normalisation (``length_penalty`` α: candidates are ranked by
  ``log p / len^α``, len counting the EOS); α = 0, the default, is the official search.

Paper sizes: vocabulary 8,801 (COCO, count ≥ 5), embedding 1000, two LSTMs of 1000, fc8 1000 — the
builder's defaults. The default recipe (``lrcn/captioning``) scales them down for CPU.

Shapes:
    images [B, 3, H, W] float; input_ids [B, L] (``[EOS] + words``); lengths [B] (valid steps);
    features φ [B, feature_dim]; logits [B, L, vocab_size];
    decoding returns tokens [B, max_steps] (EOS after the caption's end) and log-probabilities [B].
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import State, map_state
from recur_core.registry import build_layer, register_model

__all__ = [
    "EOS",
    "CaptionerConfig",
    "Decoded",
    "LRCNCaptioner",
    "NearestNeighbourCaptioner",
    "SmallCNN",
    "VisualConcepts",
    "build_image_encoder",
    "consensus_caption",
    "lrcn_captioner",
    "visual_concepts",
]

EOS = 0
_INIT_RANGE = 0.08


class SmallCNN(nn.Module):
    """A small CaffeNet-shaped CNN for CPU: blocks of (conv 3×3, BN, ReLU, max-pool 2), a grid, fc6, fc8 (+ BN).

    The last block's map is average-pooled to ``grid × grid`` cells (an identity when it already has
    that size: 64×64 images after three blocks, 8×8) and flattened into fc6, as CaffeNet's pool5 map
    is: fc6 sees what is in each cell, so where things are is kept.

    Args:
        feature_dim: width of the output feature (the official fc8: 1000).
        channels: output channels of the conv blocks, one block each.
        hidden: width of fc6.
        dropout: dropout after fc6 (the official 0.5 after fc6 and fc7).
        feature_norm: batch-normalise the fc8 output, so φ has unit scale from the start (with a
            randomly initialised CNN, the raw fc8 output is small and the captioner learns to use it late).
        grid: side of the grid of cells flattened into fc6.
        stem_stride: 2 makes the first block a 5×5 conv of stride 2 without pooling (as CaffeNet's
            strided conv1; the same map size for less compute than a full-resolution conv and a pool).
        global_max: also give fc6 each cell channel's maximum over the grid: what is in the image
            wherever it is, learnt once for all positions (fc6 alone learns each object at each cell
            apart, from the few training images that have it there).

    Shapes:
        images [B, 3, H, W] (H, W ≥ 16) -> cells [B, C, grid, grid] (C = channels[-1])
        -> fc6 input [B, C·grid² (+ C with global_max)] -> features [B, feature_dim]
    """

    def __init__(
        self,
        feature_dim: int = 1000,
        channels: Sequence[int] = (32, 64, 64, 64),
        hidden: int = 256,
        dropout: float = 0.5,
        feature_norm: bool = True,
        grid: int = 4,
        stem_stride: int = 1,
        global_max: bool = False,
    ) -> None:
        super().__init__()
        if grid < 1:
            raise ValueError(f"grid must be at least 1 (cells per side flattened into fc6), got {grid}")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
        blocks, width = [], 3
        for index, out in enumerate(channels):
            if index == 0 and stem_stride == 2:
                # a strided first conv (as CaffeNet's conv1) in place of the first block's pooling
                blocks += [nn.Conv2d(width, out, 5, stride=2, padding=2), nn.BatchNorm2d(out), nn.ReLU()]
            else:
                blocks += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            width = out
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(grid))
        self.global_max = global_max
        inputs = width * grid * grid + (width if global_max else 0)
        self.fc6 = nn.Sequential(nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout))
        # batch norm's shift replaces fc8's bias
        self.fc8 = nn.Linear(hidden, feature_dim, bias=not feature_norm)
        self.norm = nn.BatchNorm1d(feature_dim) if feature_norm else nn.Identity()

    def forward(self, images: Tensor) -> Tensor:
        cells = self.features(images)
        x = cells.flatten(1)
        if self.global_max:
            x = torch.cat([x, cells.amax(dim=(-2, -1))], dim=1)
        return self.norm(self.fc8(self.fc6(x)))


def build_image_encoder(name: str, feature_dim: int, **kwargs: Any) -> nn.Module:
    """The image encoder ``name``: ``"small"`` (:class:`SmallCNN`) or a frame CNN of LRCN, then a linear fc8.

    Any other name is looked up by :func:`recur_vision.models.lrcn.frame_cnn` (``"caffenet"``, the
    official conv1-pool5, or a torchvision classifier, randomly initialised; nothing is downloaded)
    and followed by a linear map to ``feature_dim``: the role of the official re-learned fc8.
    ``kwargs`` go to :class:`SmallCNN`; the frame CNNs take none.
    """
    if name == "small":
        return SmallCNN(feature_dim, **kwargs)
    if kwargs:
        raise ValueError(f"encoder_kwargs {sorted(kwargs)} are for encoder 'small'; encoder {name!r} takes none")
    from recur_vision.models.lrcn import frame_cnn

    cnn, width = frame_cnn(name)
    return nn.Sequential(cnn, nn.Linear(width, feature_dim))


@dataclass
class CaptionerConfig:
    """Sizes of :class:`LRCNCaptioner` (defaults: the paper's COCO model)."""

    vocab_size: int = 8801  # COCO words seen >= 5 times, <unk> and EOS
    d_model: int = 1000  # embedding and both recurrent layers
    feature_dim: int = 1000  # the image feature φ (official fc8)
    layer: str = "lstm"  # the recurrence of both layers
    layer_kwargs: dict | None = None
    encoder: str = "small"  # 'small' (SmallCNN) or a frame CNN name of models/lrcn.py ('caffenet', 'resnet18', ...)
    encoder_kwargs: dict | None = None
    freeze_encoder: bool = False  # keep the CNN's weights fixed
    image_size: int = 64  # side of the square images example_input makes
    max_steps: int = 20  # longest generated caption, in words (EOS included)
    static_init: float = 0.08  # uniform(±) range of the image's input map S (the official 0.08 of every weight)
    dropout: float = 0.0  # on the embedding and before the prediction layer (none officially)


@dataclass
class Decoded:
    """Captions from :meth:`LRCNCaptioner.greedy` or :meth:`LRCNCaptioner.beam_search`.

    Attributes:
        tokens: ``[B, max_steps]`` word ids; the caption ends at its first EOS (EOS pads after it).
        log_prob: ``[B]`` the model's log-probability of each caption (its EOS included when it has one).
        score: ``[B]`` the score the search ranked by (``log_prob / len^α``; equal to ``log_prob`` for α = 0).
        lengths: ``[B]`` words per caption, EOS included when present.
    """

    tokens: Tensor
    log_prob: Tensor
    score: Tensor
    lengths: Tensor


def _caption_lengths(tokens: Tensor) -> Tensor:
    """Words up to and including the first EOS (all of them when there is none), per row of ``tokens`` [B, L]."""
    is_eos = tokens == EOS
    first = torch.where(is_eos.any(-1), is_eos.float().argmax(-1) + 1, torch.full_like(tokens[:, 0], tokens.shape[1]))
    return first


class LRCNCaptioner(nn.Module):
    """LRCN's factored two-layer captioner (see the module docstring for the model and its sources).

    Args:
        config: a :class:`CaptionerConfig`; keyword arguments override its fields.

    Shapes:
        forward: images [B, 3, H, W], input_ids [B, L], lengths [B] or None -> logits [B, L, vocab_size]
    """

    def __init__(self, config: CaptionerConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = CaptionerConfig(**{**(config.__dict__ if config else {}), **overrides})
        if config.vocab_size < 3:
            raise ValueError(f"vocab_size must be at least 3 (EOS, <unk> and a word), got {config.vocab_size}")
        if config.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {config.max_steps}")
        self.config = config
        d = config.d_model
        self.encoder = build_image_encoder(config.encoder, config.feature_dim, **(config.encoder_kwargs or {}))
        if config.freeze_encoder:
            self.encoder.requires_grad_(False)
        self.embedding = nn.Embedding(config.vocab_size, d)
        self.layer1 = build_layer(config.layer, d_model=d, **(config.layer_kwargs or {}))
        self.layer2 = build_layer(config.layer, d_model=d, **(config.layer_kwargs or {}))
        self.word_in = nn.Linear(d, d, bias=False)
        self.static_in = nn.Linear(config.feature_dim, d)
        self.dropout = nn.Dropout(config.dropout)
        self.predict = nn.Linear(d, config.vocab_size)
        for module in (self.embedding, self.word_in, self.predict):
            nn.init.uniform_(module.weight, -_INIT_RANGE, _INIT_RANGE)
        nn.init.uniform_(self.static_in.weight, -config.static_init, config.static_init)
        nn.init.zeros_(self.static_in.bias)
        nn.init.zeros_(self.predict.bias)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def train(self, mode: bool = True) -> LRCNCaptioner:
        super().train(mode)
        if self.config.freeze_encoder:
            # a frozen CNN keeps its batch-norm statistics and drops no units
            self.encoder.eval()
        return self

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor, Tensor]:
        """``(images [B, 3, S, S], input_ids [B, 6], lengths [B])`` for the registry checks."""
        size = self.config.image_size
        images = torch.rand(batch_size, 3, size, size)
        input_ids = torch.randint(2, self.vocab_size, (batch_size, 6))
        input_ids[:, 0] = EOS
        lengths = torch.full((batch_size,), 6, dtype=torch.long)
        lengths[-1] = 4
        return images, input_ids, lengths

    # ----- the parts ------------------------------------------------------------------------------

    def encode(self, images: Tensor) -> Tensor:
        """The image feature φ(x) ``[B, feature_dim]`` the second layer reads (the official fc8)."""
        if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a float tensor [B, 3, H, W] (RGB), got {shape}; convert them to RGB")
        if min(images.shape[-2:]) < 16:
            raise ValueError(f"images must be at least 16x16 pixels, got {tuple(images.shape[-2:])}; resize them")
        return self.encoder(images)

    def static_input(self, features: Tensor) -> Tensor:
        """``S φ + b`` ``[B, d_model]``: the image's contribution to every step of the second layer."""
        if features.dim() != 2 or features.shape[1] != self.config.feature_dim:
            expected = f"[B, feature_dim={self.config.feature_dim}]"
            raise ValueError(f"features must be {expected} (from encode), got {tuple(features.shape)}")
        return self.static_in(features)

    def _check_ids(self, ids: Tensor, what: str) -> None:
        if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"{what} must be an integer tensor [B, L], got {ids.dtype} {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(
                f"{what} hold ids in {int(ids.min())}..{int(ids.max())}, outside 0..{self.vocab_size - 1}; "
                "set vocab_size to the data's vocabulary"
            )

    def caption_logits(self, features: Tensor, input_ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Teacher forcing: logits ``[B, L, V]`` of the next word after each input word, given φ ``[B, F]``."""
        self._check_ids(input_ids, "input_ids")
        static = self.static_input(features)
        x = self.dropout(self.embedding(input_ids))
        h1, _ = self.layer1(x, lengths=lengths)
        h2, _ = self.layer2(self.word_in(h1) + static[:, None], lengths=lengths)
        return self.predict(self.dropout(h2))

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits ``[B, L, V]`` of the target stream, by teacher forcing on ``input_ids`` (``[EOS] + words``)."""
        return self.caption_logits(self.encode(images), input_ids, lengths)

    def log_prob(self, features: Tensor, tokens: Tensor) -> Tensor:
        """Log-probability ``[B]`` of captions ``tokens`` ``[B, L]`` (each up to its first EOS, included)."""
        self._check_ids(tokens, "tokens")
        inputs = torch.cat([torch.full_like(tokens[:, :1], EOS), tokens[:, :-1]], dim=1)
        lengths = _caption_lengths(tokens)
        logp = self.caption_logits(features, inputs, lengths).log_softmax(-1)
        picked = logp.gather(-1, tokens[..., None])[..., 0]
        valid = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]
        return (picked * valid).sum(-1)

    # ----- decoding -------------------------------------------------------------------------------

    def _step(self, words: Tensor, static: Tensor, states: tuple[State, State]) -> tuple[Tensor, tuple[State, State]]:
        """Log-probabilities ``[N, V]`` of the next word after ``words`` ``[N]``, and the new states."""
        h1, s1 = self.layer1.step(self.embedding(words), states[0])
        h2, s2 = self.layer2.step(self.word_in(h1) + static, states[1])
        return self.predict(h2).float().log_softmax(-1), (s1, s2)

    def _initial_states(self, n: int, like: Tensor) -> tuple[State, State]:
        return (
            self.layer1.init_state(n, device=like.device, dtype=like.dtype),
            self.layer2.init_state(n, device=like.device, dtype=like.dtype),
        )

    def _max_steps(self, max_steps: int | None) -> int:
        steps = self.config.max_steps if max_steps is None else max_steps
        if steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {steps}")
        return steps

    def _left_to_right(self, features: Tensor, steps: int, choose: Callable[[Tensor], Tensor]) -> Decoded:
        """One caption per image, a word at a time from EOS: ``choose`` picks the words ``[N]`` from the
        log-probabilities ``[N, V]``; a caption stops at EOS or after ``steps`` words."""
        static = self.static_input(features)
        batch = features.shape[0]
        states = self._initial_states(batch, static)
        words = torch.full((batch,), EOS, dtype=torch.long, device=features.device)
        tokens = torch.full((batch, steps), EOS, dtype=torch.long, device=features.device)
        log_prob = torch.zeros(batch, device=features.device)
        done = torch.zeros(batch, dtype=torch.bool, device=features.device)
        for t in range(steps):
            logp, states = self._step(words, static, states)
            words = choose(logp)
            log_prob = log_prob + logp.gather(-1, words[:, None])[:, 0].masked_fill(done, 0.0)
            words = words.masked_fill(done, EOS)
            tokens[:, t] = words
            done = done | (words == EOS)
            if bool(done.all()):
                break
        return Decoded(tokens, log_prob, log_prob.clone(), _caption_lengths(tokens))

    @torch.no_grad()
    def greedy(self, features: Tensor, max_steps: int | None = None) -> Decoded:
        """The most probable next word at every step, from EOS until EOS or ``max_steps`` words."""
        return self._left_to_right(features, self._max_steps(max_steps), lambda logp: logp.max(-1).indices)

    @torch.no_grad()
    def sample(self, features: Tensor, temperature: float = 1.0, max_steps: int | None = None) -> Decoded:
        """A caption per row of ``features`` drawn word by word from ``softmax(log p / temperature)`` (torch's
        global random generator), from EOS until EOS or ``max_steps`` words; ``log_prob`` is the model's own
        (temperature 1). Self-critical training draws its captions here."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        return self._left_to_right(
            features,
            self._max_steps(max_steps),
            lambda logp: torch.multinomial((logp / temperature).softmax(-1), 1)[:, 0],
        )

    @torch.no_grad()
    def beam_search(
        self, features: Tensor, beam_size: int = 3, length_penalty: float = 0.0, max_steps: int | None = None
    ) -> Decoded:
        """The best caption of a beam search of width ``beam_size``, run for all images and beams at once.

        Every step extends each of the ``k`` live captions by each word and keeps the ``k`` best of
        the ``k · V`` candidates by ``log p / len^α`` (``α = length_penalty``, len counting the EOS);
        a caption that has ended stays in the beam unchanged. The search stops when all ``k`` have
        ended or after ``max_steps`` words. With ``k = 1`` it is :meth:`greedy`.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0 (0: the official search), got {length_penalty}")
        steps = self._max_steps(max_steps)
        k, vocab = beam_size, self.vocab_size
        static = self.static_input(features)
        batch, device = features.shape[0], features.device
        # beams of an image are rows b*k .. b*k+k-1
        static = static.repeat_interleave(k, dim=0)
        states = self._initial_states(batch * k, static)
        words = torch.full((batch * k,), EOS, dtype=torch.long, device=device)
        tokens = torch.full((batch, k, steps), EOS, dtype=torch.long, device=device)
        log_prob = torch.zeros(batch, k, device=device)
        # only beam 0 is live at the start, so the first step does not pick k copies of one word
        log_prob[:, 1:] = float("-inf")
        lengths = torch.zeros(batch, k, dtype=torch.long, device=device)
        done = torch.zeros(batch, k, dtype=torch.bool, device=device)
        offsets = (torch.arange(batch, device=device) * k)[:, None]
        for t in range(steps):
            logp, states = self._step(words, static, states)
            logp = logp.view(batch, k, vocab)
            # an ended caption has one continuation, EOS again at no cost, and keeps its length
            ended = torch.full_like(logp, float("-inf"))
            ended[..., EOS] = 0.0
            logp = torch.where(done[..., None], ended, logp)
            total = (log_prob[..., None] + logp).view(batch, k * vocab)
            new_lengths = (lengths + (~done).long())[..., None].expand(batch, k, vocab).reshape(batch, k * vocab)
            ranked = total / new_lengths.float().pow(length_penalty) if length_penalty else total
            _, chosen = ranked.topk(k, dim=-1)
            parent, words_bk = chosen // vocab, chosen % vocab
            log_prob = total.gather(-1, chosen)
            lengths = new_lengths.gather(-1, chosen)
            was_done = done.gather(-1, parent)
            tokens = tokens.gather(1, parent[..., None].expand(batch, k, steps))
            tokens[:, :, t] = words_bk
            done = was_done | (words_bk == EOS)
            rows = (parent + offsets).view(-1)
            states = map_state(lambda s, rows=rows: s.index_select(0, rows), states)
            words = words_bk.view(-1)
            if bool(done.all()):
                break
        score = log_prob / lengths.float().pow(length_penalty) if length_penalty else log_prob
        best = score.argmax(-1)
        pick = best[:, None]
        return Decoded(
            tokens.gather(1, pick[..., None].expand(batch, 1, steps))[:, 0],
            log_prob.gather(1, pick)[:, 0],
            score.gather(1, pick)[:, 0],
            lengths.gather(1, pick)[:, 0],
        )

    @torch.no_grad()
    def caption(
        self,
        images: Tensor,
        method: Literal["greedy", "beam"] = "greedy",
        beam_size: int = 3,
        length_penalty: float = 0.0,
        max_steps: int | None = None,
    ) -> Decoded:
        """Captions of ``images`` ``[B, 3, H, W]``: :meth:`encode`, then :meth:`greedy` or :meth:`beam_search`."""
        features = self.encode(images)
        if method == "greedy":
            return self.greedy(features, max_steps)
        if method == "beam":
            return self.beam_search(features, beam_size, length_penalty, max_steps)
        raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")


@register_model("lrcn_captioner")
def lrcn_captioner(
    vocab_size: int = 8801,
    d_model: int = 1000,
    feature_dim: int = 1000,
    layer: str = "lstm",
    layer_kwargs: dict | None = None,
    encoder: str = "small",
    encoder_kwargs: dict | None = None,
    freeze_encoder: bool = False,
    image_size: int = 64,
    max_steps: int = 20,
    dropout: float = 0.0,
    static_init: float = 0.08,
) -> LRCNCaptioner:
    """LRCN's factored 2-layer captioner; defaults are the paper's COCO sizes (see :class:`CaptionerConfig`)."""
    return LRCNCaptioner(
        CaptionerConfig(
            vocab_size=vocab_size,
            d_model=d_model,
            feature_dim=feature_dim,
            layer=layer,
            layer_kwargs=layer_kwargs,
            encoder=encoder,
            encoder_kwargs=encoder_kwargs,
            freeze_encoder=freeze_encoder,
            image_size=image_size,
            max_steps=max_steps,
            dropout=dropout,
            static_init=static_init,
        )
    )


# ----- stage one: the image encoder pre-trained on visual concepts --------------------------------------


class VisualConcepts(nn.Module):
    """The captioner's image encoder with a multi-label head: which concepts an image's captions use.

    Stage one of recur's two-stage captioning recipe, the stand-in for LRCN's ImageNet-pretrained
    CNN (nothing can be downloaded here): the encoder :func:`build_image_encoder` builds for the
    captioner (same ``encoder``, ``encoder_kwargs``, ``feature_dim``) is trained to tell, from the
    image alone, which concepts occur in its training captions: the vocabulary's words (the "visual
    concepts" of Fang et al., "From Captions to Visual Concepts and Back", CVPR 2015,
    https://arxiv.org/abs/1411.4952, there with multiple-instance learning over image regions; here a
    plain multi-label logistic output on the whole image) and, in recur, frequent pairs of adjacent
    words ("red circle"), which tie an attribute to its object. Only training captions are used, so
    the recipe applies to COCO as it is. The captioner then starts from this encoder
    (``CaptioningModule(init_from=...)``, which copies ``encoder``); the concepts themselves are
    chosen by :class:`~recur_vision.task.VisualConceptModule`.

    .. math::
        p(\\text{concept } c \\text{ in the captions of } x) = \\sigma(W\\,\\varphi(x) + b)_c

    trained with the binary cross-entropy of every concept.

    Args:
        num_concepts: C, the concepts scored.
        feature_dim, encoder, encoder_kwargs, image_size: as :class:`CaptionerConfig`.

    Shapes:
        images [B, 3, H, W] -> features φ [B, feature_dim] -> logits [B, num_concepts]
    """

    def __init__(
        self,
        num_concepts: int,
        feature_dim: int = 1000,
        encoder: str = "small",
        encoder_kwargs: dict | None = None,
        image_size: int = 64,
    ) -> None:
        super().__init__()
        if num_concepts < 1:
            raise ValueError(f"num_concepts must be at least 1 (words the head scores), got {num_concepts}")
        self.image_size = image_size
        self.encoder = build_image_encoder(encoder, feature_dim, **(encoder_kwargs or {}))
        self.head = nn.Linear(feature_dim, num_concepts)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """``(images [B, 3, S, S],)`` for the registry checks."""
        return (torch.rand(batch_size, 3, self.image_size, self.image_size),)

    def forward(self, images: Tensor) -> Tensor:
        """Logits ``[B, num_concepts]`` of each concept occurring in the image's captions."""
        if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a float tensor [B, 3, H, W] (RGB), got {shape}; convert them to RGB")
        return self.head(self.encoder(images))


@register_model("visual_concepts")
def visual_concepts(
    num_concepts: int = 8799,
    feature_dim: int = 1000,
    encoder: str = "small",
    encoder_kwargs: dict | None = None,
    image_size: int = 64,
) -> VisualConcepts:
    """The visual-concept classifier of :class:`VisualConcepts`; defaults: COCO's 8,799 words (no pairs), fc8 1000."""
    return VisualConcepts(num_concepts, feature_dim, encoder, encoder_kwargs, image_size)


# ----- the nearest-neighbour baseline ------------------------------------------------------------------


def _ngrams(words: Sequence[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _smoothed_bleu(candidate: list[Counter], length: int, reference: list[Counter], ref_length: int) -> float:
    """Sentence BLEU-4 of one candidate against one reference, add-one smoothing for n > 1 (Lin & Och 2004)."""
    log_precision = 0.0
    for n, (mine, theirs) in enumerate(zip(candidate, reference), start=1):
        total = max(length - n + 1, 0)
        matched = sum((mine & theirs).values())
        if n == 1:
            if matched == 0:
                return 0.0
            log_precision += math.log(matched / total)
        else:
            log_precision += math.log((matched + 1) / (total + 1))
    brevity = min(0.0, 1.0 - ref_length / max(length, 1))
    return math.exp(log_precision / 4 + brevity)


def consensus_caption(candidates: Sequence[str]) -> str:
    """The candidate with the highest mean similarity to the others (Devlin et al. 2015's consensus caption).

    The similarity is sentence BLEU-4 with add-one smoothing for n > 1; ties go to the earlier
    candidate. One candidate is returned as it is.
    """
    if not candidates:
        raise ValueError("consensus_caption needs at least one candidate caption")
    if len(candidates) == 1:
        return candidates[0]
    words = [c.split() for c in candidates]
    grams = [[_ngrams(w, n) for n in range(1, 5)] for w in words]
    best, best_score = 0, -1.0
    for i, (gi, wi) in enumerate(zip(grams, words)):
        score = sum(_smoothed_bleu(gi, len(wi), gj, len(wj)) for j, (gj, wj) in enumerate(zip(grams, words)) if j != i)
        if score > best_score:
            best, best_score = i, score
    return candidates[best]


class NearestNeighbourCaptioner:
    """The nearest-neighbour caption baseline (Devlin et al. 2015, https://arxiv.org/abs/1505.04467).

    An image gets a training caption: the ``k`` training images whose features are nearest by cosine
    similarity give their captions, and the consensus of those (:func:`consensus_caption`) is
    returned. With the captioner's own encoder features φ it asks whether generating beats
    retrieving with the same visual features. Devlin et al. use fc7 features and k = 90 on COCO.

    Args:
        features: ``[N, F]`` features of the training images.
        captions: per training image, its reference captions (space-joined tokens).
        k: neighbours whose captions are candidates.
    """

    def __init__(self, features: Tensor, captions: Sequence[Sequence[str]], k: int = 1) -> None:
        if features.dim() != 2 or features.shape[0] != len(captions) or features.shape[0] == 0:
            raise ValueError(
                f"features must be [N, F] with one row per training image ({len(captions)} caption lists), "
                f"got {tuple(features.shape)}"
            )
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.features = F.normalize(features.detach().float(), dim=-1)
        self.captions = [list(c) for c in captions]
        self.k = min(k, len(self.captions))

    def neighbours(self, features: Tensor) -> Tensor:
        """Indices ``[M, k]`` of the training images nearest each query ``[M, F]``, nearest first."""
        if features.dim() != 2 or features.shape[1] != self.features.shape[1]:
            raise ValueError(f"query features must be [M, {self.features.shape[1]}], got {tuple(features.shape)}")
        similarity = F.normalize(features.detach().float(), dim=-1) @ self.features.T
        return similarity.topk(self.k, dim=-1).indices

    def __call__(self, features: Tensor) -> list[str]:
        """One caption per query image."""
        return [
            consensus_caption([c for i in row for c in self.captions[i]]) for row in self.neighbours(features).tolist()
        ]
