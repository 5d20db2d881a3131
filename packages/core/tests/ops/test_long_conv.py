"""Causal long convolution: the direct and FFT forms against the per-step loop in float64."""

import pytest
import torch

from recur_core.ops.long_conv import long_conv, long_conv_direct, long_conv_fft, long_conv_naive
from recur_core.testing import assert_op_matches_reference


def _inputs(steps, window, channels=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return dict(
        x=torch.randn(2, steps, channels, generator=generator, dtype=torch.float64),
        weight=torch.randn(channels, window, generator=generator, dtype=torch.float64),
        initial_state=torch.randn(2, window - 1, channels, generator=generator, dtype=torch.float64),
    )


@pytest.mark.parametrize("fast", [long_conv_direct, long_conv_fft], ids=["direct", "fft"])
@pytest.mark.parametrize("steps", [1, 63, 75])
@pytest.mark.parametrize("window", [1, 4, 100])
def test_fast_forms_match_the_loop(fast, steps, window):
    assert_op_matches_reference(fast, long_conv_naive, _inputs(steps, window), what=f"T={steps} K={window}")


def test_lengths_give_each_rows_last_valid_inputs():
    inputs = _inputs(20, 6)
    lengths = torch.tensor([20, 3])
    for method in ("direct", "fft"):
        _, state = long_conv(**inputs, lengths=lengths, method=method)
        _, short = long_conv_naive(inputs["x"][1:, :3], inputs["weight"], inputs["initial_state"][1:])
        torch.testing.assert_close(state[1:], short)


def test_fft_keeps_float32_accuracy_on_long_inputs():
    inputs = {k: v.float() for k, v in _inputs(3000, 512).items()}
    torch.testing.assert_close(long_conv_fft(**inputs)[0], long_conv_direct(**inputs)[0], rtol=1e-4, atol=1e-3)


def test_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        long_conv(**_inputs(4, 2), method="winograd")
