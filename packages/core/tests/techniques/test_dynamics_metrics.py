import math

import pytest
import torch

from recur_core.techniques.dynamics_metrics import (
    gaussian_smooth,
    hellinger_spectrum_distance,
    power_spectrum,
    prediction_error,
    state_space_divergence,
    state_space_histogram,
)


def _lorenz_like(seed: int, length: int = 600) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64)
    phase = torch.rand(3, generator=g, dtype=torch.float64) * 6
    return torch.stack([torch.sin(0.07 * t + phase[0]), torch.cos(0.05 * t + phase[1]), torch.sin(0.3 * t)], -1)


def test_dstsp_identical_is_zero():
    x = _lorenz_like(0)
    assert state_space_divergence(x, x).item() == pytest.approx(0.0, abs=1e-12)
    # the order of the points does not matter, only where they are
    assert state_space_divergence(x, x.flip(0)).item() == pytest.approx(0.0, abs=1e-12)


def test_dstsp_by_hand_on_two_points_vs_one():
    # 1-D: the true trajectory sits half at 0, half at 1; the generated one sits at 0.5 only
    n, eps, bins = 100, 1e-5, 30
    true = torch.tensor([0.0, 1.0]).repeat(n // 2)[:, None]
    generated = torch.full((n, 1), 0.5)
    z = n + eps * bins
    p_occupied = (n / 2 + eps) / z
    expected = 2 * p_occupied * math.log((n / 2 + eps) / eps) + eps / z * math.log(eps / (n + eps))
    assert state_space_divergence(true, generated, n_bins=bins, smoothing=eps).item() == pytest.approx(expected)
    # disjoint occupation is near the largest value, log(1 + n / eps)
    assert expected > 0.95 * math.log(1 + n / eps)


def test_dstsp_drops_points_outside_and_nonfinite():
    true = torch.tensor([[0.0], [1.0]]).repeat(10, 1)
    outside = torch.tensor([[50.0], [float("nan")], [-1e300]])
    # nothing inside: the generated histogram is empty and q is uniform
    uniform = state_space_divergence(true, outside, n_bins=4)
    p = (torch.tensor([10.0, 0, 0, 10]) + 1e-5) / (20 + 4e-5)
    assert uniform.item() == pytest.approx((p * (p / 0.25).log()).sum().item())


def test_histogram_bins_by_hand():
    x = torch.tensor([[0.1, 0.1], [0.6, 0.1], [0.6, 0.9], [0.6, 0.9], [1.5, 0.5]])
    h = state_space_histogram(x, torch.zeros(2), torch.ones(2), n_bins=2)
    assert h.tolist() == [1.0, 0.0, 1.0, 2.0]  # cells (0,0), (0,1), (1,0), (1,1); the last point is outside


def test_dstsp_batched_pools_points_and_checks_size():
    x = _lorenz_like(1)
    assert state_space_divergence(x.reshape(3, 200, 3), x).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="fewer bins"):
        state_space_divergence(torch.randn(100, 8), torch.randn(100, 8))
    with pytest.raises(ValueError, match="generated has 2"):
        state_space_divergence(torch.randn(100, 3), torch.randn(100, 2))


def test_gaussian_smooth_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = torch.randn(2, 3, 57, dtype=torch.float64)
    for sigma in (0.7, 3.0, 20.0):  # 20: the kernel is wider than the signal, mirrored more than once
        expected = ndimage.gaussian_filter1d(x.numpy(), sigma, axis=-1, mode="reflect")
        torch.testing.assert_close(gaussian_smooth(x, sigma), torch.from_numpy(expected))


def test_hellinger_identical_zero_disjoint_one():
    t = torch.arange(4000, dtype=torch.float64)
    low = torch.sin(2 * math.pi * 50 / 4000 * t)[:, None]
    high = torch.sin(2 * math.pi * 1500 / 4000 * t)[:, None]
    assert hellinger_spectrum_distance(low, low).item() == pytest.approx(0.0, abs=1e-12)
    assert hellinger_spectrum_distance(low, high).item() == pytest.approx(1.0, abs=1e-6)
    # amplitude and offset do not matter (each dimension is z-scored)
    assert hellinger_spectrum_distance(low, 3 * low + 2).item() == pytest.approx(0.0, abs=1e-12)
    # averaged over dimensions: one equal, one disjoint -> 1/2
    both = hellinger_spectrum_distance(torch.cat([low, low], -1), torch.cat([low, high], -1))
    assert both.item() == pytest.approx(0.5, abs=1e-6)
    # a diverged (NaN) generated dimension counts as 1
    assert hellinger_spectrum_distance(low, torch.full_like(low, float("nan"))).item() == 1.0


def test_power_spectrum_is_normalised():
    spectra = power_spectrum(torch.randn(2, 100, 3))
    assert spectra.shape == (2, 3, 51)
    torch.testing.assert_close(spectra.sum(-1), torch.ones(2, 3, dtype=torch.float64))


def test_prediction_error_by_hand():
    ramp = torch.arange(30, dtype=torch.float64)[:, None].repeat(1, 2)
    # the true model of a ramp is exact; persistence misses by n at every start
    assert prediction_error(lambda x0, n: x0 + n, ramp, steps=5).item() == 0.0
    assert prediction_error(lambda x0, n: x0, ramp, steps=5).item() == 25.0
    assert prediction_error(lambda x0, n: x0, ramp.reshape(3, 10, 2), steps=2).item() == 4.0
    with pytest.raises(ValueError, match="steps must be in"):
        prediction_error(lambda x0, n: x0, ramp, steps=30)
    with pytest.raises(ValueError, match="forecast must return"):
        prediction_error(lambda x0, n: x0[:, :1], ramp, steps=2)
