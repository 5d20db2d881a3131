"""RSVQA: a ResNet image branch and a recurrent question branch fused by an element-wise product.

Lobry, Marcos, Murray & Tuia, "RSVQA: Visual Question Answering for Remote Sensing Data", IEEE TGRS
58(12), 2020, https://arxiv.org/abs/2003.07333. Official code: ``syvlo/RSVQA`` ``VQA_model/models/model.py``.

.. math::
    v = \\tanh(W_v\\,\\mathrm{drop}(\\mathrm{flat}(\\mathrm{conv}_{1\\times1}(\\mathrm{ResNet}_{1..4}(x))))), \\qquad
    q = \\tanh(W_q\\,\\mathrm{drop}(h_{L}(\\mathrm{layer}(E\\,w_{1..L})))),

.. math::
    z = \\tanh(v \\odot q), \\qquad
    \\mathrm{logits} = W_2\\,\\mathrm{drop}(\\tanh(W_1\\,\\mathrm{drop}(z)))

- image branch: a torchvision ResNet up to ``layer4`` (no pooling), a trainable 1×1 conv to
  ``2048 / (S/32)²`` channels, flattened to 2048 (the official ``input_size``-dependent width:
  32 channels on LR's 256 px tiles, 8 on HR's 512 px); dropout 0.5 → Linear 2048→1200 → tanh;
- question branch: word embedding → a core recurrent layer (``layer``, GRU by default) → the
  output at each question's last valid word (its ``lengths``) → dropout 0.5 → Linear → 1200 → tanh;
- fusion: element-wise product → tanh → dropout 0.5 → Linear 1200→256 → tanh → dropout 0.5 →
  Linear 256→answers (the official code has the two fusion dropouts, which the paper does not
  list); the loss is the cross-entropy of the answer class.

Deliberate differences, each for a stated reason:

- The question branch replaces the official frozen skip-thoughts encoder (``BayesianUniSkip``,
  2400-d, pretrained on BookCorpus), which cannot be downloaded here, with a recurrent encoder
  trained from scratch (``question_dim`` wide; any registered core layer).
- The ResNet is built with ``weights=None`` (nothing is downloaded): the paper freezes an
  ImageNet ResNet-152. ``backbone_weights`` loads a torchvision state dict from a file, and then the
  backbone is frozen as in the paper; without weights it is trained (``freeze_backbone=None``, the
  default) or kept as frozen random features (``freeze_backbone=True``). ResNet-18 is the default
  for CPU (``backbone="resnet152"`` is the paper's); a frozen backbone keeps its batch-norm statistics.

Image branch option (issue 16): ``backbone="vir"`` replaces the ResNet by a vision retention
network (:func:`recur_vision.models.vir.vir`, options in ``backbone_kwargs``: ``size``, ``patch_size``,
...); its final LayerNorm of the class token (appended last, so it has read every patch) is the image
feature, ``width``-d instead of 2048, trained from scratch.

Several questions per image: ``forward(..., image_index=...)`` encodes each image once and gives
question ``i`` the feature of image ``image_index[i]`` (what the grouped batches of
:class:`recur_vision.vqa.RSVQAData` hold; the same logits as repeating the images, without the
repeated backbone passes).

Baselines (the known language bias of RSVQA): ``inputs="question"`` (question branch only) and
``inputs="image"`` (image branch only), each feeding its 1200-d feature straight to the same
classifier; the branch they do not use is not built and its input is ignored.

Shapes:
    images [B, 3, S, S] float (ImageNet-normalised); questions [B, L] int64 (EOS-padded);
    lengths [B] int64 (valid words, EOS included) or None (all L valid) -> logits [B, num_answers];
    with image_index [N] (the image of each question): images [M, 3, S, S], questions [N, L] -> [N, num_answers]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core.registry import build_layer, register_model

__all__ = [
    "RESNET_BACKBONES",
    "VISUAL_DIM",
    "ImageBranch",
    "QuestionBranch",
    "RSVQAConfig",
    "RSVQANet",
    "ViRBranch",
    "layer4_grid",
    "rsvqa",
    "rsvqa_image_only",
    "rsvqa_question_only",
]

VISUAL_DIM = 2048  # the flattened image feature (official VISUAL_OUT)
RESNET_BACKBONES = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048}
_STRIDE_TWO_STAGES = 5  # conv1, max-pool, layer2, layer3, layer4


def layer4_grid(size: int) -> int:
    """Side of the ResNet ``layer4`` map for an input side ``size``: five stride-2 stages, each ``ceil(n / 2)``."""
    for _ in range(_STRIDE_TWO_STAGES):
        size = (size + 1) // 2
    return size


class ImageBranch(nn.Module):
    """ResNet ``conv1..layer4`` → 1×1 conv to ``2048 / cells`` channels → flattened 2048-d feature.

    Args:
        backbone: a key of :data:`RESNET_BACKBONES`.
        image_size: the side S of the square input; the 1×1 conv's width is ``2048 / (grid²)``
            with grid = :func:`layer4_grid` (S / 32 for multiples of 32), so grid² must divide 2048.
        weights: a file holding a torchvision state dict of ``backbone`` (e.g. ImageNet weights saved
            elsewhere); None keeps the random initialisation.
        freeze: keep the ResNet fixed; None freezes it exactly when ``weights`` are given.

    Shapes:
        images [B, 3, S, S] -> features [B, 2048]
    """

    def __init__(
        self, backbone: str = "resnet18", image_size: int = 256, weights: str | None = None, freeze: bool | None = None
    ) -> None:
        super().__init__()
        import torchvision

        if backbone not in RESNET_BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; use one of {', '.join(RESNET_BACKBONES)}")
        grid = layer4_grid(image_size)
        if image_size < 32 or VISUAL_DIM % (grid * grid):
            raise ValueError(
                f"image_size {image_size} gives a {grid}x{grid} layer4 map and 2048 is not divisible by {grid * grid}; "
                "use a side whose map is 1, 2, 4, 8, ... cells wide (32, 64, 128, 256 as LR, 512 as HR)"
            )
        resnet = torchvision.models.get_model(backbone, weights=None)
        if weights is not None:
            _load_resnet_weights(resnet, weights, backbone)
        self.image_size = image_size
        self.grid = grid
        self.frozen = weights is not None if freeze is None else freeze
        # conv1, bn1, relu, maxpool, layer1..layer4: the official children()[0:8]
        self.resnet = nn.Sequential(*list(resnet.children())[:8])
        if self.frozen:
            self.resnet.requires_grad_(False)
        self.reduce = nn.Conv2d(RESNET_BACKBONES[backbone], VISUAL_DIM // (grid * grid), kernel_size=1)

    def train(self, mode: bool = True) -> ImageBranch:
        super().train(mode)
        if self.frozen:
            self.resnet.eval()
        return self

    def forward(self, images: Tensor) -> Tensor:
        if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a float tensor [B, 3, H, W] (RGB), got {shape}")
        if tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"images are {tuple(images.shape[-2:])} but the model was built for image_size={self.image_size} "
                "(the 1x1 conv's width depends on it); resize the tiles or set image_size"
            )
        return self.reduce(self.resnet(images)).flatten(1)


def _load_resnet_weights(resnet: nn.Module, path: str, backbone: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"backbone_weights {path} not found; give a file saved with torch.save(state_dict)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # any unreadable file (pickle, zip or I/O error) is the same one-line error
    except Exception as err:
        raise ValueError(f"backbone_weights {path} cannot be read ({type(err).__name__}); save a state_dict") from None
    if not isinstance(state, dict):
        raise ValueError(f"backbone_weights {path} holds a {type(state).__name__}, expected a state_dict")
    # the classifier is not used; a state dict without it is fine
    result = resnet.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("fc.")]
    if missing or result.unexpected_keys:
        wrong = (missing or result.unexpected_keys)[0]
        raise ValueError(
            f"backbone_weights {path} is not a torchvision {backbone} state_dict ({len(missing)} missing keys, "
            f"{len(result.unexpected_keys)} unexpected, e.g. {wrong!r}); set backbone to the file's network"
        )


class ViRBranch(nn.Module):
    """A ViR (:func:`recur_vision.models.vir.vir`, no classifier head used) → its class token's final LayerNorm.

    Args:
        image_size: the side S of the square input (a multiple of the patch size).
        options: :func:`~recur_vision.models.vir.vir`'s (``size``, ``patch_size``, ``bidirectional``, ...).

    Shapes:
        images [B, 3, S, S] -> features [B, width]
    """

    def __init__(self, image_size: int = 64, **options: Any) -> None:
        super().__init__()
        from recur_vision.models.vir import vir

        if "num_classes" in options or "image_size" in options:
            raise ValueError("backbone_kwargs for vir take no num_classes or image_size; set image_size on the model")
        self.vir = vir(num_classes=1, image_size=image_size, **options)
        # the classifier head is not part of the branch
        self.vir.head = nn.Identity()
        self.image_size = image_size
        self.frozen = False
        self.out_dim = self.vir.config.width

    def forward(self, images: Tensor) -> Tensor:
        if tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"images are {tuple(images.shape[-2:])} but the model was built for image_size={self.image_size}; "
                "resize the tiles or set image_size"
            )
        return self.vir.features(images)[:, -1]


class QuestionBranch(nn.Module):
    """Word embedding → a core sequence layer → the output at the last valid word (the question vector).

    Args:
        vocab_size: question words (EOS and ``<unk>`` included).
        dim: width of the embedding and of the layer.
        layer, layer_kwargs: the recurrence (any registered core layer).

    Shapes:
        questions [B, L] int64, lengths [B] or None -> [B, dim]
    """

    def __init__(self, vocab_size: int, dim: int, layer: str = "gru", layer_kwargs: dict | None = None) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, dim)
        self.layer = build_layer(layer, d_model=dim, **(layer_kwargs or {}))

    def forward(self, questions: Tensor, lengths: Tensor | None = None) -> Tensor:
        if not isinstance(questions, Tensor) or questions.dim() != 2 or questions.is_floating_point():
            shape = tuple(questions.shape) if isinstance(questions, Tensor) else type(questions).__name__
            raise ValueError(f"questions must be an integer tensor [B, L] of word ids, got {shape}")
        if questions.numel() and (int(questions.min()) < 0 or int(questions.max()) >= self.vocab_size):
            raise ValueError(
                f"questions hold ids in {int(questions.min())}..{int(questions.max())}, outside "
                f"0..{self.vocab_size - 1}; set vocab_size to the data's question vocabulary"
            )
        batch, steps = questions.shape
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=questions.device)
        outputs, _ = self.layer(self.embedding(questions), lengths=lengths)
        last = (lengths.to(questions.device).long() - 1).clamp(min=0)
        return outputs[torch.arange(batch, device=questions.device), last]


@dataclass
class RSVQAConfig:
    """Sizes and options of :class:`RSVQANet` (defaults: the paper's model, ResNet-18 for CPU)."""

    vocab_size: int = 1000  # question words; set from the data's question vocabulary
    num_answers: int = 101  # <EOS> + the 100 most frequent answers
    inputs: Literal["both", "question", "image"] = "both"  # "question" / "image": the single-modality baselines
    backbone: str = "resnet18"  # a ResNet of torchvision (the paper's is resnet152), or "vir"
    backbone_kwargs: dict | None = None  # for "vir": recur_vision.models.vir.vir's options (size, patch_size, ...)
    backbone_weights: str | None = None  # a torchvision state_dict file; nothing is downloaded
    freeze_backbone: bool | None = None  # None: frozen exactly when backbone_weights are given (the paper)
    image_size: int = 256  # LR 256, HR 512; sets the 1x1 conv's width
    question_dim: int = 1024  # the recurrent encoder's width (skip-thoughts: 2400)
    layer: str = "gru"  # the question encoder's recurrence
    layer_kwargs: dict | None = None
    fusion_dim: int = 1200  # each branch's output and the product's width
    hidden_dim: int = 256  # the classifier's hidden layer
    dropout: float = 0.5  # before each branch's Linear and each classifier Linear


class RSVQANet(nn.Module):
    """The RSVQA model or one of its single-modality baselines (see the module docstring).

    Args:
        config: an :class:`RSVQAConfig`; keyword arguments override its fields.

    Shapes:
        forward: images [B, 3, S, S], questions [B, L], lengths [B] or None -> logits [B, num_answers]
    """

    def __init__(self, config: RSVQAConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = RSVQAConfig(**{**(config.__dict__ if config else {}), **overrides})
        if config.inputs not in ("both", "question", "image"):
            raise ValueError(f"inputs must be 'both', 'question' or 'image', got {config.inputs!r}")
        if config.num_answers < 2:
            raise ValueError(f"num_answers must be at least 2 (EOS and an answer), got {config.num_answers}")
        if config.vocab_size < 3:
            raise ValueError(f"vocab_size must be at least 3 (EOS, <unk> and a word), got {config.vocab_size}")
        if not 0.0 <= config.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {config.dropout}")
        self.config = config
        self.dropout = nn.Dropout(config.dropout)
        self.image: ImageBranch | ViRBranch | None = None
        self.question: QuestionBranch | None = None
        if config.inputs in ("both", "image"):
            if config.backbone == "vir":
                if config.backbone_weights is not None or config.freeze_backbone:
                    raise ValueError("backbone 'vir' is trained from scratch; drop backbone_weights / freeze_backbone")
                self.image = ViRBranch(config.image_size, **(config.backbone_kwargs or {}))
                image_dim = self.image.out_dim
            else:
                if config.backbone_kwargs:
                    raise ValueError(f"backbone_kwargs are options of backbone 'vir', not of {config.backbone!r}")
                self.image = ImageBranch(
                    config.backbone, config.image_size, config.backbone_weights, config.freeze_backbone
                )
                image_dim = VISUAL_DIM
            self.image_proj = nn.Linear(image_dim, config.fusion_dim)
        if config.inputs in ("both", "question"):
            self.question = QuestionBranch(config.vocab_size, config.question_dim, config.layer, config.layer_kwargs)
            self.question_proj = nn.Linear(config.question_dim, config.fusion_dim)
        self.hidden = nn.Linear(config.fusion_dim, config.hidden_dim)
        self.classify = nn.Linear(config.hidden_dim, config.num_answers)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def num_answers(self) -> int:
        return self.config.num_answers

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor, Tensor]:
        """``(images [B, 3, S, S], questions [B, 7], lengths [B])`` for the registry checks."""
        size = self.config.image_size
        images = torch.randn(batch_size, 3, size, size)
        questions = torch.randint(2, self.vocab_size, (batch_size, 7))
        lengths = torch.full((batch_size,), 7, dtype=torch.long)
        lengths[-1] = 4
        # each question ends with EOS, and EOS pads after it
        questions[torch.arange(7) >= (lengths[:, None] - 1)] = 0
        return images, questions, lengths

    def encode_image(self, images: Tensor) -> Tensor:
        """``v = tanh(W_v drop(flat(conv(ResNet(x)))))`` ``[B, fusion_dim]``."""
        if self.image is None:
            raise ValueError("this model was built with inputs='question'; it has no image branch")
        return torch.tanh(self.image_proj(self.dropout(self.image(images))))

    def encode_question(self, questions: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``q = tanh(W_q drop(h_L))`` ``[B, fusion_dim]``."""
        if self.question is None:
            raise ValueError("this model was built with inputs='image'; it has no question branch")
        return torch.tanh(self.question_proj(self.dropout(self.question(questions, lengths))))

    def forward(
        self,
        images: Tensor | None,
        questions: Tensor | None,
        lengths: Tensor | None = None,
        image_index: Tensor | None = None,
    ) -> Tensor:
        """Answer logits ``[N, num_answers]``; a baseline never reads the input of the branch it lacks.

        ``image_index`` [N]: question ``i`` is about ``images[image_index[i]]`` (each image encoded once);
        None: question ``i`` is about ``images[i]``.
        """
        if self.config.inputs == "question":
            return self._classify(self.encode_question(questions, lengths))
        visual = self.encode_image(images)
        if image_index is not None:
            if image_index.dim() != 1 or (image_index.numel() and int(image_index.max()) >= len(visual)):
                raise ValueError(
                    f"image_index must be [N] ids of the {len(visual)} images, got {tuple(image_index.shape)}"
                )
            visual = visual[image_index]
        if self.config.inputs == "image":
            return self._classify(visual)
        return self._classify(torch.tanh(visual * self.encode_question(questions, lengths)))

    def _classify(self, fused: Tensor) -> Tensor:
        return self.classify(self.dropout(torch.tanh(self.hidden(self.dropout(fused)))))


@register_model("rsvqa")
def rsvqa(**options: Any) -> RSVQANet:
    """The RSVQA model (image and question branches, product fusion); options: :class:`RSVQAConfig`."""
    return RSVQANet(**options)


@register_model("rsvqa_question_only")
def rsvqa_question_only(**options: Any) -> RSVQANet:
    """The question-only baseline: RSVQA's question branch and classifier, no image."""
    return RSVQANet(**{**options, "inputs": "question"})


@register_model("rsvqa_image_only")
def rsvqa_image_only(**options: Any) -> RSVQANet:
    """The image-only baseline: RSVQA's image branch and classifier, no question."""
    return RSVQANet(**{**options, "inputs": "image"})
