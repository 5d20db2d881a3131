"""Controlled caption generation by adversarial attack: a perturbation generator, a patch discriminator, the scores.

Aafaq, Akhtar, Liu, Shah & Mian, "Controlled Caption Generation for Images Through Adversarial Attacks",
arXiv 2021, https://arxiv.org/abs/2107.03050. No official code is public; the evaluation protocol is
Show-and-Fool's (Chen, Zhang, Chen, Yi & Hsieh, ACL 2018, https://arxiv.org/abs/1712.02051, code
``huanzhang12/ImageCaptioningAttack``).

The attack (the paper's abstract: a GAN crafts perturbations so that the captioner's *CNN features*
of the adversarial image mimic those of a target image; the recurrent language model, never
differentiated through, then emits the target's caption). A generator ``G`` maps an image ``x`` and
the victim's feature of the target image ``φ(x_t)`` to a bounded perturbation; a discriminator
``D`` tells clean images from adversarial ones. With ``x' = clamp(x + G(x, φ(x_t)), 0, 1)``:

.. math::
    \\mathcal{L}_G = \\lambda_f \\,\\overline{\\lVert \\varphi(x') - \\varphi(x_t) \\rVert^2}
        + \\lambda_{adv}\\, \\mathrm{BCE}(D(x'), 1)
        + \\lambda_n \\,\\overline{\\lVert G(x, \\varphi(x_t)) \\rVert^2}, \\qquad
    \\mathcal{L}_D = \\mathrm{BCE}(D(x), 1) + \\mathrm{BCE}(D(x'), 0)

``φ`` is the frozen victim's image feature that its recurrence reads
(:meth:`~recur_vision.models.captioning.LRCNCaptioner.encode`, LRCN's fc8); the bars are means over
the feature dimensions and pixels (so the λ do not depend on the sizes) and over the batch; BCE is
the non-saturating GAN loss on every patch logit of ``D``. ``G`` ends in ``ε · tanh``, so
``‖G(x, ·)‖∞ < ε`` in [0, 1] pixel units by construction, and clamping keeps ``x'`` an image.

[unverified] — the paper's code is not public, so these are this port's choices, not its values:
the architectures (below), ``ε`` (the recipe's 32/255 for the CPU-sized victim), the weights
``λf = 1``, ``λadv = 0.001``, ``λn = 1`` of the recipe, the squared norm of the perturbation term,
the non-saturating BCE form of the GAN loss and Adam (β1 = 0.5) for both networks.

Pieces, bottom-up:

- :class:`PerturbationGenerator` (``caption_attack_generator``): a U-Net-shaped conv encoder-decoder.
  Two stride-2 convolutions take ``x`` to a map of 1/4 the size; ``φ(x_t)`` is mapped linearly to a
  ``4 × 4`` map of channels, resized to that map and concatenated with it (so the generator can
  place the target's content in space, as the victim's 4 × 4 CNN map does); residual blocks; two
  transposed convolutions back to full size with the encoder's maps concatenated (skip links);
  a 3×3 convolution to RGB; ``ε · tanh``.
- :class:`PatchDiscriminator` (``caption_attack_discriminator``): a PatchGAN (Isola et al. 2017):
  stride-2 convolutions with LeakyReLU(0.2) to one realism logit per patch.
- The losses: :func:`mimic_loss`, :func:`perturbation_penalty`, :func:`gan_losses`.
- The Show-and-Fool scores: :func:`exact_success` (the output equals the target caption word for
  word), :func:`content_words`, :func:`draw_keywords` (K keywords drawn at random from the target
  caption's content words) and :func:`keyword_success` (every keyword appears in the output).

Shapes:
    images x, x_t [B, 3, H, W] in [0, 1] (H, W divisible by 4); target features φ(x_t) [B, feature_dim];
    perturbation G(x, φ) [B, 3, H, W]; discriminator logits [B, 1, H/8, W/8].
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.registry import register_model

__all__ = [
    "STOP_WORDS",
    "PatchDiscriminator",
    "PerturbationGenerator",
    "caption_attack_discriminator",
    "caption_attack_generator",
    "content_words",
    "draw_keywords",
    "exact_success",
    "gan_losses",
    "generator_gan_loss",
    "keyword_success",
    "mimic_loss",
    "perturbation_penalty",
]

# words never drawn as keywords: articles, prepositions, auxiliaries, punctuation and the unknown word
_ARTICLES_AND_PREPOSITIONS = ("a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "and", "or")
_OTHER_STOP_WORDS = ("is", "are", "it", "its", "this", "that", "there", "these", "those", ",", ".", "<unk>")
STOP_WORDS = frozenset((*_ARTICLES_AND_PREPOSITIONS, *_OTHER_STOP_WORDS))


def _check_images(images: Tensor, what: str = "images") -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{what} must be a float tensor [B, 3, H, W] in [0, 1], got {shape}")
    if images.shape[-2] % 4 or images.shape[-1] % 4 or min(images.shape[-2:]) < 16:
        raise ValueError(f"{what} must be at least 16x16 with sides divisible by 4, got {tuple(images.shape[-2:])}")


class _Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


def _conv(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2), nn.BatchNorm2d(cout), nn.ReLU())


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU())


class PerturbationGenerator(nn.Module):
    """``G(x, φ(x_t))``: a bounded perturbation of ``x`` that should make the victim read ``x_t`` (see the module).

    Args:
        feature_dim: width of the victim's feature φ (its ``feature_dim``).
        epsilon: the ℓ∞ bound in [0, 1] pixel units (e.g. 16/255).
        channels: widths of the full-, half- and quarter-size maps.
        residual_blocks: residual blocks at quarter size.
        condition_size: side of the map φ(x_t) is projected to before it is resized to quarter size.
        image_size: side of the square images :meth:`example_input` makes.

    Shapes:
        images [B, 3, H, W] in [0, 1], target_features [B, feature_dim] -> perturbation [B, 3, H, W], |·| < ε
    """

    def __init__(
        self,
        feature_dim: int = 1000,
        epsilon: float = 16 / 255,
        channels: tuple[int, int, int] = (32, 64, 128),
        residual_blocks: int = 2,
        condition_size: int = 4,
        image_size: int = 64,
    ) -> None:
        super().__init__()
        if not 0 < epsilon <= 1:
            raise ValueError(f"epsilon must be in (0, 1] (pixel units of [0, 1] images; 16/255 = 0.063), got {epsilon}")
        if len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"channels must be three positive widths (full, half, quarter size), got {channels}")
        if feature_dim < 1 or residual_blocks < 0 or condition_size < 1:
            raise ValueError(
                f"feature_dim and condition_size must be >= 1 and residual_blocks >= 0, got {feature_dim}, "
                f"{condition_size}, {residual_blocks}"
            )
        c1, c2, c3 = channels
        self.feature_dim, self.epsilon, self.image_size = feature_dim, float(epsilon), image_size
        self.condition_size = condition_size
        self.enc1 = _conv(3, c1, 3, 1)
        self.enc2 = _conv(c1, c2, 4, 2)
        self.enc3 = _conv(c2, c3, 4, 2)
        self.condition = nn.Linear(feature_dim, c3 * condition_size * condition_size)
        self.fuse = _conv(2 * c3, c3, 1, 1)
        self.middle = nn.Sequential(*[_Residual(c3) for _ in range(residual_blocks)])
        self.dec2 = _up(c3, c2)
        self.dec1 = _up(2 * c2, c1)
        self.out = nn.Conv2d(2 * c1, 3, 3, padding=1)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        """``(images [B, 3, S, S] in [0, 1], target_features [B, feature_dim])`` for the registry checks."""
        size = self.image_size
        return torch.rand(batch_size, 3, size, size), torch.randn(batch_size, self.feature_dim)

    def forward(self, images: Tensor, target_features: Tensor) -> Tensor:
        _check_images(images)
        if target_features.dim() != 2 or target_features.shape != (images.shape[0], self.feature_dim):
            raise ValueError(
                f"target_features must be [B={images.shape[0]}, feature_dim={self.feature_dim}] (the victim's "
                f"encode of the target images), got {tuple(target_features.shape)}"
            )
        h1 = self.enc1(images * 2 - 1)
        h2 = self.enc2(h1)
        h3 = self.enc3(h2)
        side = self.condition_size
        cond = self.condition(target_features).view(len(images), -1, side, side)
        cond = F.interpolate(cond, size=h3.shape[-2:], mode="bilinear", align_corners=False)
        h = self.middle(self.fuse(torch.cat([h3, cond], 1)))
        h = self.dec1(torch.cat([self.dec2(h), h2], 1))
        return self.epsilon * torch.tanh(self.out(torch.cat([h, h1], 1)))

    def attack(self, images: Tensor, target_features: Tensor) -> Tensor:
        """The adversarial images ``clamp(x + G(x, φ(x_t)), 0, 1)`` ``[B, 3, H, W]``."""
        return (images + self(images, target_features)).clamp(0.0, 1.0)


class PatchDiscriminator(nn.Module):
    """A PatchGAN discriminator: one realism logit per patch of an image in [0, 1].

    Args:
        channels: widths of the stride-2 convolutions (each halves the side).
        image_size: side of the square images :meth:`example_input` makes.

    Shapes:
        images [B, 3, H, W] -> logits [B, 1, H / 2^len(channels), W / 2^len(channels)]
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), image_size: int = 64) -> None:
        super().__init__()
        if not channels or min(channels) < 1:
            raise ValueError(f"channels must be one or more positive widths, got {channels}")
        layers: list[nn.Module] = []
        width = 3
        for i, out in enumerate(channels):
            layers.append(nn.Conv2d(width, out, 4, 2, 1))
            # no normalisation on the first layer, as PatchGAN
            if i:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            width = out
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.image_size = image_size

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """``(images [B, 3, S, S] in [0, 1],)`` for the registry checks."""
        return (torch.rand(batch_size, 3, self.image_size, self.image_size),)

    def forward(self, images: Tensor) -> Tensor:
        _check_images(images)
        return self.net(images * 2 - 1)


@register_model("caption_attack_generator")
def caption_attack_generator(
    feature_dim: int = 1000,
    epsilon: float = 16 / 255,
    channels: tuple[int, int, int] = (32, 64, 128),
    residual_blocks: int = 2,
    condition_size: int = 4,
    image_size: int = 64,
) -> PerturbationGenerator:
    """Aafaq et al.'s perturbation generator (see :class:`PerturbationGenerator`); feature_dim 1000 = LRCN's fc8."""
    return PerturbationGenerator(feature_dim, epsilon, tuple(channels), residual_blocks, condition_size, image_size)


@register_model("caption_attack_discriminator")
def caption_attack_discriminator(channels: tuple[int, ...] = (32, 64, 128), image_size: int = 64) -> PatchDiscriminator:
    """The attack's realism discriminator (see :class:`PatchDiscriminator`)."""
    return PatchDiscriminator(tuple(channels), image_size)


# ----- losses ---------------------------------------------------------------------------------------


def mimic_loss(adversarial_features: Tensor, target_features: Tensor) -> Tensor:
    """``mean ‖φ(x') − φ(x_t)‖² / feature_dim`` over the batch: how far the victim's features are from the target's."""
    if adversarial_features.shape != target_features.shape:
        raise ValueError(
            f"features of the adversarial and target images differ in shape: {tuple(adversarial_features.shape)} "
            f"vs {tuple(target_features.shape)}"
        )
    return F.mse_loss(adversarial_features, target_features)


def perturbation_penalty(perturbation: Tensor) -> Tensor:
    """``mean ‖G‖² / (3HW)`` over the batch: the perturbation's energy per pixel value."""
    return perturbation.pow(2).mean()


def gan_losses(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's loss ``BCE(D(x), 1) + BCE(D(x'), 0)`` (pass ``fake_logits`` detached from G)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_gan_loss(fake_logits: Tensor) -> Tensor:
    """The generator's non-saturating GAN loss ``BCE(D(x'), 1)``."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


# ----- Show-and-Fool scores -------------------------------------------------------------------------


def _words(caption: str | Sequence[str]) -> list[str]:
    return caption.split() if isinstance(caption, str) else list(caption)


def exact_success(outputs: Sequence[str | Sequence[str]], targets: Sequence[str | Sequence[str]]) -> list[bool]:
    """Per pair, whether the output caption equals the target caption word for word (Show-and-Fool's targeted caption).

    Captions are strings of space-separated words or word lists; case and spacing are kept as given
    (:meth:`CaptioningModule.decode` gives lower-case words joined by single spaces).
    """
    if len(outputs) != len(targets):
        raise ValueError(f"give one target per output caption, got {len(outputs)} outputs and {len(targets)} targets")
    return [_words(o) == _words(t) for o, t in zip(outputs, targets)]


def content_words(caption: str | Sequence[str], stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """The distinct words of ``caption`` outside ``stop_words``, in their order of first appearance."""
    seen: list[str] = []
    for word in _words(caption):
        if word not in stop_words and word not in seen:
            seen.append(word)
    return seen


def draw_keywords(
    caption: str | Sequence[str], k: int, rng: random.Random, exclude: str | Sequence[str] = ()
) -> tuple[str, ...] | None:
    """``k`` distinct content words of ``caption`` drawn at random (Show-and-Fool's keywords); None if it has fewer.

    ``exclude``: the clean image's own caption; its words are never keywords (as Show-and-Fool's code), so
    an output that keeps the clean caption does not count as a success.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    excluded = set(_words(exclude))
    words = [word for word in content_words(caption) if word not in excluded]
    if len(words) < k:
        return None
    return tuple(rng.sample(words, k))


def keyword_success(
    outputs: Sequence[str | Sequence[str]], keywords: Sequence[Sequence[str] | None]
) -> list[bool | None]:
    """Per pair, whether *every* keyword appears among the output's words (None where the pair has no keywords)."""
    if len(outputs) != len(keywords):
        raise ValueError(f"give one keyword set per output caption, got {len(outputs)} and {len(keywords)}")
    results: list[bool | None] = []
    for output, words in zip(outputs, keywords):
        results.append(None if words is None else set(words) <= set(_words(output)))
    return results
