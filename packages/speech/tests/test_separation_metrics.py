"""SI-SNR, PIT, SI-SNRi, SDRi, PESQ and STOI against torchmetrics (and the pesq / pystoi wheels)."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.functional.audio import (
    perceptual_evaluation_speech_quality,
    permutation_invariant_training,
    scale_invariant_signal_noise_ratio,
    short_time_objective_intelligibility,
    signal_distortion_ratio,
)

from recur_speech.separation_metrics import (
    pesq_stoi,
    pit_si_snr,
    pit_si_snr_loss,
    reorder_sources,
    sdr_improvement,
    si_snr,
    si_snr_improvement,
)


def noisy_permuted(batch: int = 4, n_src: int = 3, length: int = 800, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randn(batch, n_src, length, generator=generator, dtype=torch.float64)
    order = torch.stack([torch.randperm(n_src, generator=generator) for _ in range(batch)])
    estimates = targets.gather(1, order[..., None].expand_as(targets))
    return estimates + 0.7 * torch.randn(estimates.shape, generator=generator, dtype=torch.float64), targets


def test_si_snr_equals_torchmetrics():
    estimates, targets = noisy_permuted()
    torch.testing.assert_close(si_snr(estimates, targets), scale_invariant_signal_noise_ratio(estimates, targets))


@pytest.mark.parametrize("n_src", [2, 3])
def test_pit_equals_torchmetrics_values_and_permutations(n_src):
    estimates, targets = noisy_permuted(n_src=n_src)
    best, permutation = permutation_invariant_training(
        estimates, targets, scale_invariant_signal_noise_ratio, mode="speaker-wise", eval_func="max"
    )
    result = pit_si_snr(estimates, targets)
    torch.testing.assert_close(result.si_snr, best)
    torch.testing.assert_close(result.permutation, permutation)
    # the reordered estimates are the noisy copies of each reference
    assert (si_snr(reorder_sources(estimates, result.permutation), targets) > 0).all()


def test_loss_is_negative_pit_and_differentiable():
    estimates, targets = noisy_permuted(n_src=2)
    estimates.requires_grad_(True)
    loss = pit_si_snr_loss(estimates, targets)
    torch.testing.assert_close(loss, -pit_si_snr(estimates, targets).si_snr.mean())
    loss.backward()
    assert torch.isfinite(estimates.grad).all() and estimates.grad.abs().sum() > 0


def test_improvements_are_zero_for_the_mixture_and_match_torchmetrics(one_thread):
    # one thread for torchmetrics' own SDR below: see the next test
    estimates, targets = noisy_permuted(n_src=2, length=2000)
    mixture = targets.sum(1)
    as_mixture = mixture[:, None].expand_as(targets)
    torch.testing.assert_close(si_snr_improvement(as_mixture, targets, mixture), torch.zeros(4, dtype=torch.float64))
    ordered = reorder_sources(estimates, pit_si_snr(estimates, targets).permutation)
    expected_si = (
        scale_invariant_signal_noise_ratio(ordered, targets) - scale_invariant_signal_noise_ratio(as_mixture, targets)
    ).mean(-1)
    torch.testing.assert_close(si_snr_improvement(estimates, targets, mixture), expected_si)
    expected_sdr = (signal_distortion_ratio(ordered, targets) - signal_distortion_ratio(as_mixture, targets)).mean(-1)
    torch.testing.assert_close(sdr_improvement(estimates, targets, mixture), expected_sdr)
    with pytest.raises(ValueError, match="mixture must be"):
        si_snr_improvement(estimates, targets, mixture[:, :10])


def test_sdr_improvement_does_not_hang_after_the_thread_count_is_set():
    # torch 2.14.1: once torch.set_num_threads(k >= 2) has run, MKL's batched LU on 512 x 512 systems (the SDR's)
    # prints "Parameter 6 was incorrect on entry to DLASWP" and hangs; sdr_improvement solves on one thread
    estimates, targets = noisy_permuted(n_src=2, length=2000)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        improvement = sdr_improvement(estimates, targets, targets.sum(1))
    finally:
        torch.set_num_threads(threads)
    assert torch.isfinite(improvement).all() and (improvement > 0).all()


@pytest.mark.filterwarnings("ignore:Not enough STFT frames")  # pystoi, on the 0.1-s signal PESQ refuses
def test_pesq_and_stoi_equal_torchmetrics_on_a_real_sample(dataset_root):
    from recur_speech.data.librimix import load_mixture, read_mossformer2_samples

    samples = dataset_root("libri2mix-samples", "MossFormer2_samples_Libri2Mix/item0_mix.wav")
    _, sources, rate = load_mixture(read_mossformer2_samples(samples / "MossFormer2_samples_Libri2Mix")[0])
    sources = sources[None, :, :16000]
    estimates = sources.flip(1) + 0.05 * torch.randn(sources.shape, generator=torch.Generator().manual_seed(0))
    quality, intelligibility = pesq_stoi(estimates, sources, rate)
    ordered = estimates.flip(1)
    torch.testing.assert_close(
        quality.float(), perceptual_evaluation_speech_quality(ordered, sources, rate, "nb").mean(-1, keepdim=True)
    )
    torch.testing.assert_close(
        intelligibility.float(), short_time_objective_intelligibility(ordered, sources, rate).float().mean(-1)
    )
    # too short for PESQ (< 0.25 s): NaN, not an exception
    assert torch.isnan(pesq_stoi(sources[..., :800], sources[..., :800], rate)[0]).all()
    with pytest.raises(ValueError, match="8000 or 16000"):
        pesq_stoi(sources, sources, 22050)
