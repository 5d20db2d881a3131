"""Causal long (per-channel) convolution: ``naive.py`` (a loop over steps) beside the direct and FFT forms."""

from recur_core.ops.long_conv.conv import FFT_MIN_KERNEL, FFT_MIN_STEPS, long_conv, long_conv_direct, long_conv_fft
from recur_core.ops.long_conv.naive import long_conv_naive

__all__ = ["FFT_MIN_KERNEL", "FFT_MIN_STEPS", "long_conv", "long_conv_direct", "long_conv_fft", "long_conv_naive"]
