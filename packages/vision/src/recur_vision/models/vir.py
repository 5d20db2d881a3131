r"""ViR, the vision retention network, and the same-size ViT it is compared with.

Hatamizadeh et al., "ViR: Towards Efficient Vision Retention Backbones", 2023,
https://arxiv.org/abs/2310.19731. The authors' release (``anom63931/ViR``, ``models/vir.py``, on timm)
defines what is followed here: a ViT whose attention is causal retention, so the class token is
appended *last* (the only token that has read every patch) and the whole network can run as a
recurrence over the tokens.

Per block (pre-norm, LayerScale :math:`\lambda` initialised to 1e-5):

.. math::
    x \leftarrow x + \lambda_1 \odot \mathrm{Ret}(\mathrm{LN}(x)), \qquad
    x \leftarrow x + \lambda_2 \odot \mathrm{MLP}(\mathrm{LN}(x))

with the core ``retention`` layer, ``variant="vir"`` (no GroupNorm, no gate, no softmax): per head,
:math:`S_n = \gamma_h S_{n-1} + k_n v_n^\top`, :math:`o_n = S_n^\top q_n / \sqrt{d_h}`, i.e.
:math:`O = (QK^\top \odot D)V / \sqrt{d_h}` with :math:`D_{nm} = \gamma_h^{n-m}` for :math:`n \ge m`.
The decays are the authors' :math:`\gamma_h = 1 - \exp(\mathrm{linspace}(\ln 1/32, \ln 1/512, H))`,
the variant's own (:func:`recur_core.layers.retention.retention_decays`; RetNet's are
:math:`1 - 2^{-5-h}`). The tokens are the patches in raster order plus learned position embeddings
(patches only), then the class token; with ``bidirectional`` the position-embedded patches are
followed by the same patches in reverse order.
The head reads the final LayerNorm of the last token (``pool="token"``); ``pool="avg"`` (the authors'
``global_pool="avg"``) appends no class token and reads the mean of the patch tokens' final LayerNorm.

Three forms compute the same logits (:data:`FORMS`):

- ``"parallel"``: every block over the whole sequence at once (training; the core layer computes it
  chunk by chunk inside, and ``layer_kwargs={"chunk_size": T}`` makes it one :math:`(QK^\top \odot D)V`);
- ``"chunkwise"``: ``chunk_size`` tokens at a time through *all* blocks, each block's retention state
  carried to the next chunk; the patches of a chunk are embedded when it is reached, so the blocks'
  memory is O(chunk_size x width + depth x state), flat in the token count (what grows with the image
  is the image itself and its position table, N x width numbers, fewer than the image's 3 P^2 N);
- ``"recurrent"``: one token at a time (``chunk_size`` = 1 through the layers' ``step``).

Sizes (:data:`SIZES`, width / depth / heads): S 384/12/6, B 768/12/12, L 1024/24/16, patch 16 or 14;
``mini`` (64/2/4) is for tests and CPUs. Another image size than the configured one resamples the
position table bicubically, as timm does.

The retention's q/k/v and output projections have biases, as the authors' ``qkv`` and ``proj`` (the core
layer's ``bias=True``; ``layer_kwargs={"bias": False}`` removes them).

``token_count_scale`` (off by default, not in the authors' code): on an image of N patch tokens where the
position table was learned for :math:`N_0`, each block's retention reading is scaled by :math:`N_0 / N`, i.e.
:math:`o_n = S_n^\top q_n N_0 / (N \sqrt{d_h})`. The plain retention sums its tokens with no normalisation,
so an image upscaled to 4x the tokens reads about 4x as much in the slow heads; the scale keeps the reading's
size. It changes nothing at the trained size (training), and every form keeps the same logits.

Deviations from the authors' code, on purpose: the authors' ``parallel`` form applies a
softmax after the decay mask, which breaks its equality with the other forms — here no form has one;
the authors' bidirectional mode concatenates the sequence and its reverse *after* appending the class
token, so their head reads the first patch — here the class token comes after both halves; the class
token is initialised with std 0.02, not the authors' 1e-6 (timm's, where a ViT adds a position of std
0.02 to it): with no position of its own, a 1e-6 token is all LayerNorm epsilon, its query is ~0, and
without the softmax (which spreads a zero query evenly over the tokens) it reads nothing from the
patches, so the patch path gets ~1e-7 gradients and the model stays at chance.

The baseline :class:`ViT` has the same patch embedding, widths, depth, heads and MLP, with the core
``attention`` layer built with ``causal=False`` (every token reads every token; biases as timm's ViT),
the class token first (as ViT/DeiT) with a position embedding of its own, and no LayerScale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur_core.layers.base import State
from recur_core.registry import build_layer, register_model

__all__ = [
    "FORMS",
    "POOLS",
    "SIZES",
    "Block",
    "PatchEmbedding",
    "ViR",
    "ViRConfig",
    "ViT",
    "ViTConfig",
    "resample_positions",
    "vir",
    "vit",
]

# (width, depth, heads)
SIZES = {"mini": (64, 2, 4), "S": (384, 12, 6), "B": (768, 12, 12), "L": (1024, 24, 16)}
FORMS = ("parallel", "chunkwise", "recurrent")
POOLS = ("token", "avg")


def resample_positions(table: Tensor, grid: tuple[int, int], new_grid: tuple[int, int]) -> Tensor:
    """A position table ``[1, gh*gw, D]`` for ``grid`` resampled bicubically to ``new_grid`` (as timm)."""
    if grid == new_grid:
        return table
    image = table.reshape(1, *grid, -1).permute(0, 3, 1, 2)
    image = F.interpolate(image, size=new_grid, mode="bicubic", align_corners=False)
    return image.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], -1)


# ---------------------------------------------------------------------------------------------
# building blocks


class PatchEmbedding(nn.Module):
    """Non-overlapping P x P patches, linearly embedded (a conv with kernel = stride = P), raster order.

    Shapes:
        images ``[B, C, H, W]`` (H, W multiples of P) -> ``[B, (H/P)(W/P), D]``.
    """

    def __init__(self, in_channels: int, width: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, width, patch_size, stride=patch_size)

    def forward(self, images: Tensor) -> Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)


class LayerScale(nn.Module):
    """A learned per-channel scale of a residual branch (Touvron et al., CaiT), initialised to ``value``."""

    def __init__(self, width: int, value: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((width,), value))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class Block(nn.Module):
    """A pre-norm block: ``x + ls1(mixer(LN(x)))``, then ``x + ls2(MLP(LN(x)))`` (GELU MLP).

    Args:
        mixer: a core sequence layer of width ``width``.
        width: D.
        mlp_ratio: hidden width of the MLP relative to D (4).
        layer_scale: initial LayerScale (``None``: no LayerScale).

    ``forward`` and ``step`` take ``mixer_scale`` (1: none), a scale of the mixer's reading (ViR's token-count scale).

    Shapes:
        x ``[B, T, D]`` -> ``[B, T, D]`` and the mixer's state; ``step``: x_t ``[B, D]``.
    """

    def __init__(self, mixer: nn.Module, width: int, mlp_ratio: float = 4.0, layer_scale: float | None = None):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))
        self.ls1 = LayerScale(width, layer_scale) if layer_scale is not None else nn.Identity()
        self.ls2 = LayerScale(width, layer_scale) if layer_scale is not None else nn.Identity()

    def forward(self, x: Tensor, state: State | None = None, mixer_scale: float = 1.0) -> tuple[Tensor, State]:
        mixed, state = self.mixer(self.norm1(x), state=state)
        x = x + self.ls1(self._scaled(mixed, mixer_scale))
        return x + self.ls2(self.mlp(self.norm2(x))), state

    def step(self, x_t: Tensor, state: State | None = None, mixer_scale: float = 1.0) -> tuple[Tensor, State]:
        mixed, state = self.mixer.step(self.norm1(x_t), state)
        x_t = x_t + self.ls1(self._scaled(mixed, mixer_scale))
        return x_t + self.ls2(self.mlp(self.norm2(x_t))), state

    def _scaled(self, mixed: Tensor, scale: float) -> Tensor:
        """The mixer's output with its reading scaled by ``scale`` (ViR's ``token_count_scale``): the plain
        retention's output ``W_o o + b_o`` is linear in its reading o, so this scales o and keeps the bias."""
        if scale == 1.0:
            return mixed
        bias = self.mixer.out.bias
        return mixed * scale if bias is None else bias + (mixed - bias) * scale


def _init_weights(model: nn.Module) -> None:
    # timm's ViT initialisation, which the authors' ViR keeps: truncated normal (0.02) linear weights
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


# ---------------------------------------------------------------------------------------------
# configs


@dataclass
class PatchBackboneConfig:
    """What ViR and its ViT share; the defaults are ViR-S/16 (ViT-S/16) on 224 x 224 images."""

    num_classes: int = 1000
    image_size: tuple[int, int] = (224, 224)  # (H, W) the position table is learned for
    patch_size: int = 16  # 16 or 14 in the paper
    in_channels: int = 3
    width: int = 384  # S 384, B 768, L 1024
    depth: int = 12  # S 12, B 12, L 24
    num_heads: int = 6  # S 6, B 12, L 16
    mlp_ratio: float = 4.0

    def grid(self) -> tuple[int, int]:
        height, width = self.image_size
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch_size = {self.patch_size}")
        return height // self.patch_size, width // self.patch_size


@dataclass
class ViRConfig(PatchBackboneConfig):
    layer_scale: float | None = 1e-5  # LayerScale's initial value (None: off)
    bidirectional: bool = False  # follow the patches with the same patches reversed
    layer: str = "retention"  # the token mixer: any causal core layer
    layer_kwargs: dict | None = None  # for "retention", merged over variant="vir", rotary=False, expand_v=1, bias=True
    pool: str = "token"  # "token": the class token, appended last; "avg": the mean of the patch tokens
    token_count_scale: bool = False  # scale the retention reading by N0 / N at another token count (not the authors')


@dataclass
class ViTConfig(PatchBackboneConfig):
    layer_scale: float | None = None  # ViT/DeiT have none


def _grid_of(images: Tensor, config: PatchBackboneConfig, model: str) -> tuple[int, int]:
    patch = config.patch_size
    if (
        not isinstance(images, Tensor)
        or images.dim() != 4
        or images.shape[1] != config.in_channels
        or images.shape[2] % patch
        or images.shape[3] % patch
        or images.shape[2] == 0
        or images.shape[3] == 0
    ):
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(
            f"{model} expects images [B, {config.in_channels}, H, W] with H and W positive multiples of "
            f"patch_size = {patch}, got {shape}; resize or pad them"
        )
    return images.shape[2] // patch, images.shape[3] // patch


# ---------------------------------------------------------------------------------------------
# the models


class ViR(nn.Module):
    """The vision retention network (module docstring): image classifier reading the last token.

    Shapes:
        images ``[B, C, H, W]`` (H, W multiples of the patch size; other sizes than ``image_size``
        resample the position table) -> logits ``[B, num_classes]`` (``num_classes=0``: no head, the
        pooled features ``[B, D]``).
    """

    def __init__(self, config: ViRConfig) -> None:
        super().__init__()
        self.config = config
        self.grid = config.grid()
        width = config.width
        self.patch_embed = PatchEmbedding(config.in_channels, width, config.patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid[0] * self.grid[1], width) * 0.02)
        # std 0.02, as the ViT's class token with its position (module docstring: not the authors' 1e-6)
        if config.pool not in POOLS:
            raise ValueError(f"unknown pool {config.pool!r}; valid: {', '.join(POOLS)}")
        self.cls_token = nn.Parameter(torch.randn(1, 1, width) * 0.02) if config.pool == "token" else None
        self.blocks = nn.ModuleList(
            Block(self._mixer(config), width, config.mlp_ratio, config.layer_scale) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(width, eps=1e-6)
        # num_classes = 0: no head, a backbone (as timm); the logits are then the pooled features
        self.head = nn.Linear(width, config.num_classes) if config.num_classes else nn.Identity()
        _init_weights(self)

    @staticmethod
    def _mixer(config: ViRConfig) -> nn.Module:
        kwargs = dict(config.layer_kwargs or {})
        if config.layer == "retention":
            authors = {"num_heads": config.num_heads, "variant": "vir", "rotary": False, "expand_v": 1.0, "bias": True}
            kwargs = {**authors, **kwargs}
        mixer = build_layer(config.layer, d_model=config.width, **kwargs)
        if not mixer.causal:
            raise ValueError(f"ViR needs a causal layer (its class token comes last); {config.layer!r} is not causal")
        if config.token_count_scale and (config.layer != "retention" or mixer.variant != "vir"):
            raise ValueError(
                "token_count_scale scales the plain retention's reading: it needs layer='retention', variant 'vir'"
            )
        return mixer

    def _mixer_scale(self, grid: tuple[int, int]) -> float:
        """N0 / N with ``token_count_scale`` (module docstring), else 1."""
        if not self.config.token_count_scale:
            return 1.0
        return self.grid[0] * self.grid[1] / (grid[0] * grid[1])

    def forward(self, images: Tensor, form: str = "parallel", chunk_size: int = 64) -> Tensor:
        """Logits from the class token (or the mean token), computed in ``form`` (:data:`FORMS`); all three agree."""
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; valid: {', '.join(FORMS)}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of tokens, got {chunk_size}")
        grid = _grid_of(images, self.config, "ViR")
        if form == "parallel":
            return self.head(self.pooled_features(images))
        positions = resample_positions(self.pos_embed, self.grid, grid)
        total = self._num_patch_tokens(grid)
        step = form == "recurrent"
        size = 1 if step else chunk_size
        states: list[State | None] = [None] * len(self.blocks)
        summed = 0.0  # pool="avg": the running sum of the patch tokens' final LayerNorm
        scale = self._mixer_scale(grid)
        for start in range(0, total, size):
            tokens = self._tokens(images, start, min(start + size, total), grid, positions)
            out, states = self._advance(tokens, states, step, scale)
            if self.cls_token is None:
                summed = summed + self.norm(out).sum(1)
        if self.cls_token is None:
            return self.head(summed / total)
        last, _ = self._advance(self.cls_token.expand(images.shape[0], -1, -1), states, step, scale)
        return self.head(self.norm(last[:, -1]))

    def features(self, images: Tensor) -> Tensor:
        """The final LayerNorm of every token in the parallel form: patches (then their reverse), class token last.

        Shapes:
            images ``[B, C, H, W]`` -> ``[B, N + 1, D]`` (``[B, 2N + 1, D]`` when bidirectional), N = (H/P)(W/P);
            with ``pool="avg"`` no class token: ``[B, N, D]`` (``[B, 2N, D]``).
        """
        grid = _grid_of(images, self.config, "ViR")
        positions = resample_positions(self.pos_embed, self.grid, grid)
        tokens = self._tokens(images, 0, self._num_patch_tokens(grid), grid, positions)
        x = tokens if self.cls_token is None else torch.cat([tokens, self.cls_token.expand(len(images), -1, -1)], 1)
        scale = self._mixer_scale(grid)
        for block in self.blocks:
            x, _ = block(x, mixer_scale=scale)
        return self.norm(x)

    def pooled_features(self, images: Tensor) -> Tensor:
        """What the head reads (parallel form): the class token's final LayerNorm, or with ``pool="avg"`` the
        mean of the patch tokens'. ``[B, C, H, W]`` -> ``[B, D]``."""
        features = self.features(images)
        return features[:, -1] if self.cls_token is not None else features.mean(1)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Images ``[batch_size, in_channels, *image_size]``."""
        return (torch.randn(batch_size, self.config.in_channels, *self.config.image_size),)

    def _num_patch_tokens(self, grid: tuple[int, int]) -> int:
        return grid[0] * grid[1] * (2 if self.config.bidirectional else 1)

    def _advance(self, x: Tensor, states: list[State | None], step: bool, scale: float) -> tuple[Tensor, list[State]]:
        """Run ``x`` [B, T, D] through every block from ``states``; ``step``: token by token (T = 1); ``scale``:
        the retention reading's (:meth:`_mixer_scale`)."""
        new_states = []
        for block, state in zip(self.blocks, states):
            if step:
                y, state = block.step(x[:, 0], state, scale)
                x = y[:, None]
            else:
                x, state = block(x, state, scale)
            new_states.append(state)
        return x, new_states

    def _tokens(self, images: Tensor, start: int, stop: int, grid: tuple[int, int], positions: Tensor) -> Tensor:
        """Tokens ``start..stop-1`` of the patch sequence (patches, then reversed patches when bidirectional)."""
        count = grid[0] * grid[1]
        parts = []
        if start < count:
            parts.append(self._patches(images, start, min(stop, count), grid, positions))
        if stop > count:
            # token t >= N is patch 2N - 1 - t
            parts.append(
                self._patches(images, 2 * count - stop, 2 * count - max(start, count), grid, positions).flip(1)
            )
        return torch.cat(parts, 1) if len(parts) > 1 else parts[0]

    def _patches(self, images: Tensor, low: int, high: int, grid: tuple[int, int], positions: Tensor) -> Tensor:
        """Embedded patches ``low..high-1`` (raster order) with their positions; embeds only their patch rows."""
        patch, columns = self.config.patch_size, grid[1]
        first_row, end_row = low // columns, (high - 1) // columns + 1
        rows = self.patch_embed(images[:, :, first_row * patch : end_row * patch])
        offset = first_row * columns
        return rows[:, low - offset : high - offset] + positions[:, low:high]


class ViT(nn.Module):
    """The same-size ViT baseline (module docstring): class token first, full attention.

    Shapes:
        images ``[B, C, H, W]`` -> logits ``[B, num_classes]``.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.grid = config.grid()
        width = config.width
        self.patch_embed = PatchEmbedding(config.in_channels, width, config.patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid[0] * self.grid[1], width) * 0.02)
        self.cls_pos_embed = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.cls_token = nn.Parameter(torch.randn(1, 1, width) * 1e-6)
        self.blocks = nn.ModuleList(
            Block(self._mixer(config), width, config.mlp_ratio, config.layer_scale) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, config.num_classes)
        _init_weights(self)

    @staticmethod
    def _mixer(config: ViTConfig) -> nn.Module:
        # timm's ViT attention: q/k/v/out biases, learned positions instead of rotary ones
        return build_layer(
            "attention", d_model=config.width, num_heads=config.num_heads, rope=False, bias=True, causal=False
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images)[:, 0])

    def features(self, images: Tensor) -> Tensor:
        """The final LayerNorm of every token: class token first, then the patches. ``[B, N + 1, D]``."""
        grid = _grid_of(images, self.config, "ViT")
        tokens = self.patch_embed(images) + resample_positions(self.pos_embed, self.grid, grid)
        x = torch.cat([(self.cls_token + self.cls_pos_embed).expand(images.shape[0], -1, -1), tokens], 1)
        for block in self.blocks:
            x, _ = block(x)
        return self.norm(x)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Images ``[batch_size, in_channels, *image_size]``."""
        return (torch.randn(batch_size, self.config.in_channels, *self.config.image_size),)


# ---------------------------------------------------------------------------------------------
# builders


def _size(size: str) -> tuple[int, int, int]:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; valid: {', '.join(SIZES)}")
    return SIZES[size]


def _pair(image_size: int | tuple[int, int]) -> tuple[int, int]:
    return (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)


@register_model("vir")
def vir(
    num_classes: int = 10,
    size: str = "mini",
    patch_size: int = 16,
    image_size: int | tuple[int, int] = 64,
    in_channels: int = 3,
    bidirectional: bool = False,
    mlp_ratio: float = 4.0,
    layer_scale: float | None = 1e-5,
    layer: str = "retention",
    layer_kwargs: dict | None = None,
    pool: str = "token",
    token_count_scale: bool = False,
) -> ViR:
    """ViR (:class:`ViR`) of a named size (:data:`SIZES`); ``vir(1000, "S", 16, 224)`` is ViR-S/16."""
    width, depth, heads = _size(size)
    return ViR(
        ViRConfig(
            num_classes,
            _pair(image_size),
            patch_size,
            in_channels,
            width,
            depth,
            heads,
            mlp_ratio,
            layer_scale,
            bidirectional,
            layer,
            layer_kwargs,
            pool,
            token_count_scale,
        )
    )


@register_model("vit")
def vit(
    num_classes: int = 10,
    size: str = "mini",
    patch_size: int = 16,
    image_size: int | tuple[int, int] = 64,
    in_channels: int = 3,
    mlp_ratio: float = 4.0,
    layer_scale: float | None = None,
) -> ViT:
    """The same-size ViT baseline (:class:`ViT`); ``vit(1000, "S", 16, 224)`` is ViT-S/16 (DeiT-S)."""
    width, depth, heads = _size(size)
    return ViT(
        ViTConfig(num_classes, _pair(image_size), patch_size, in_channels, width, depth, heads, mlp_ratio, layer_scale)
    )
