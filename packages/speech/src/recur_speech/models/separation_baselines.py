r"""The separation baseline: a Conv-TasNet temporal convolutional mask network.

Luo & Mesgarani, "Conv-TasNet: Surpassing Ideal Time-Frequency Magnitude Masking for Speech
Separation", IEEE/ACM TASLP 2019, https://arxiv.org/abs/1809.07454. The MossFormer2 paper's tables
compare against it; the MossFormer-only ablation is :func:`recur_speech.models.mossformer2.mossformer`.

The mask network (non-causal, as the paper's best model): global layer norm, a 1×1 convolution to the
bottleneck ``B``, then ``R`` repeats of ``X`` 1-D convolution blocks with dilations ``1, 2, ..., 2^{X-1}``,

.. math::
    h = \mathrm{gLN}(\mathrm{PReLU}(\mathrm{DWConv}_{P, d}(\mathrm{gLN}(\mathrm{PReLU}(W_1 x))))), \qquad
    x \leftarrow x + W_{res} h, \qquad \mathrm{skip} \mathrel{+}= W_{skip} h,

then PReLU on the summed skips, a 1×1 convolution to ``S · N`` channels and a sigmoid mask per source.

The encoder and decoder are MossFormer2's (:class:`~recur_speech.models.mossformer2.MaskingSeparator`:
kernel 16, stride 8, ReLU after the encoder; Conv-TasNet's best model has the same kernel and a linear
encoder), so the comparison changes the mask network only.

Sizes: ``size="small"`` (default, CPU: N = 64, B = 64, H = 96, P = 3, X = 4, R = 2, about the small
MossFormer2's parameter count) and ``size="paper"`` (N = 512, B = 128, H = 512, Sc = 128, P = 3, X = 8,
R = 3: the paper's model, 5.1 M parameters in the paper, 4.98 M here with MossFormer2's encoder and decoder).

Shapes:
    mixture [B, T] -> separated sources [B, S, T].
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core.registry import register_model
from recur_speech.models.mossformer2 import MaskingSeparator

__all__ = ["ConvTasNet", "TemporalBlock", "conv_tasnet"]


def global_layer_norm(channels: int) -> nn.GroupNorm:
    """gLN: one mean and variance over channels and time per example, a per-channel affine."""
    return nn.GroupNorm(1, channels, eps=1e-8)


class TemporalBlock(nn.Module):
    """One 1-D convolution block: ``[B, B_c, L] -> (residual [B, B_c, L], skip [B, Sc, L])``.

    Args:
        channels: bottleneck width B.
        hidden: H.
        skip: Sc.
        kernel_size: P (odd, padded to keep the length).
        dilation: d.
        residual: add ``W_res h`` to the input (the last block's residual output is never read: none).
    """

    def __init__(
        self, channels: int, hidden: int, skip: int, kernel_size: int, dilation: int, residual: bool = True
    ) -> None:
        super().__init__()
        padding = dilation * (kernel_size // 2)
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 1),
            nn.PReLU(),
            global_layer_norm(hidden),
            nn.Conv1d(hidden, hidden, kernel_size, dilation=dilation, padding=padding, groups=hidden),
            nn.PReLU(),
            global_layer_norm(hidden),
        )
        self.residual = nn.Conv1d(hidden, channels, 1) if residual else None
        self.skip = nn.Conv1d(hidden, skip, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(x)
        return (x if self.residual is None else x + self.residual(h)), self.skip(h)


_SIZES: dict[str, dict[str, int]] = {
    "small": dict(encoder_dim=64, bottleneck=64, hidden=96, skip=64, kernel=3, blocks=4, repeats=2),
    "paper": dict(encoder_dim=512, bottleneck=128, hidden=512, skip=128, kernel=3, blocks=8, repeats=3),
}


class ConvTasNet(MaskingSeparator):
    """Conv-TasNet's TCN mask network between MossFormer2's encoder and decoder (module docstring).

    Args:
        n_src: S.
        encoder_dim: N (encoder filters).
        bottleneck, hidden, skip: B, H, Sc.
        kernel: P.
        blocks, repeats: X, R.
        kernel_size: encoder/decoder kernel (16; stride 8).
    """

    def __init__(
        self,
        n_src: int = 2,
        encoder_dim: int = 64,
        bottleneck: int = 64,
        hidden: int = 96,
        skip: int = 64,
        kernel: int = 3,
        blocks: int = 4,
        repeats: int = 2,
        kernel_size: int = 16,
    ) -> None:
        super().__init__(encoder_dim, kernel_size)
        if n_src < 1 or blocks < 1 or repeats < 1 or kernel % 2 == 0:
            raise ValueError(
                f"need n_src, blocks, repeats >= 1 and an odd kernel, got {n_src}, {blocks}, {repeats}, {kernel}"
            )
        self.n_src = n_src
        self.input = nn.Sequential(global_layer_norm(encoder_dim), nn.Conv1d(encoder_dim, bottleneck, 1))
        dilations = [2**x for _ in range(repeats) for x in range(blocks)]
        self.blocks = nn.ModuleList(
            TemporalBlock(bottleneck, hidden, skip, kernel, d, residual=i < len(dilations) - 1)
            for i, d in enumerate(dilations)
        )
        self.output = nn.Sequential(nn.PReLU(), nn.Conv1d(skip, n_src * encoder_dim, 1))

    def masks(self, w: Tensor) -> Tensor:
        """``w`` [B, N, L] -> sigmoid masks [B, S, N, L]."""
        x = self.input(w)
        skips = 0
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        return torch.sigmoid(self.output(skips)).unflatten(1, (self.n_src, -1))


@register_model("conv_tasnet")
def conv_tasnet(size: Literal["small", "paper"] = "small", **overrides: Any) -> ConvTasNet:
    """Conv-TasNet's mask network in the ``small`` (CPU) or ``paper`` (4.98 M parameters; 5.1 M in the paper) size; any
    :class:`ConvTasNet` argument can be overridden."""
    if size not in _SIZES:
        raise ValueError(f"size must be one of {', '.join(_SIZES)}, got {size!r}")
    return ConvTasNet(**{**_SIZES[size], **overrides})
