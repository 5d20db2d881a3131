r"""Speech-separation metrics: SI-SNR with permutation-invariant training, SI-SNRi, SDRi, PESQ and STOI.

**SI-SNR** (Le Roux et al., "SDR – half-baked or well done?", ICASSP 2019; the loss of Conv-TasNet and
MossFormer2): with zero-mean ``ŝ`` and ``s``,

.. math::
    s_{target} = \frac{\langle \hat s, s\rangle}{\|s\|^2} s, \qquad e = \hat s - s_{target}, \qquad
    \mathrm{SI\text{-}SNR}(\hat s, s) = 10 \log_{10} \frac{\|s_{target}\|^2}{\|e\|^2}.

**PIT** (Yu et al., ICASSP 2017): the estimates are matched to the references by the permutation
``π`` with the highest mean SI-SNR, ``max_π (1/S) Σ_i SI-SNR(ŝ_{π(i)}, s_i)``; every permutation is scored
at once from the ``[B, S, S]`` pairwise matrix (``S!`` permutations, a gather, no Python loop over them).
The MossFormer2 loss is its negative, averaged over the batch (ClearerVoice ``losses/loss.py``).

**SI-SNRi** = SI-SNR(ŝ_π, s) − SI-SNR(x, s) averaged over the sources, ``x`` the mixture; **SDRi** the same
with BSS-eval's SDR (``torchmetrics.functional.audio.signal_distortion_ratio``, a 512-tap distortion
filter), using the SI-SNR permutation. **PESQ** (narrow band at 8 kHz, wide band at 16 kHz) and
**STOI** through torchmetrics' wrappers of ``pesq`` and ``pystoi``.

The SI-SNR and PIT values equal ``torchmetrics``' ``scale_invariant_signal_noise_ratio`` and
``permutation_invariant_training`` (tested); they are written here to return the permutation too and to
take one ``eps`` where torchmetrics uses the dtype's.

Shapes: signals ``[..., T]``; batches of sources ``[B, S, T]``; mixtures ``[B, T]``.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor

from recur_core.tasks.base import single_threaded

__all__ = [
    "PITResult",
    "pairwise_si_snr",
    "pesq_stoi",
    "pit_si_snr",
    "pit_si_snr_loss",
    "reorder_sources",
    "sdr_improvement",
    "si_snr",
    "si_snr_improvement",
]

EPS = 1e-8


def si_snr(estimate: Tensor, target: Tensor, eps: float = EPS) -> Tensor:
    """SI-SNR in dB of ``estimate`` against ``target`` [..., T] (both made zero-mean) -> [...]."""
    if estimate.shape != target.shape:
        raise ValueError(f"estimate {tuple(estimate.shape)} and target {tuple(target.shape)} must have one shape")
    estimate = estimate - estimate.mean(-1, keepdim=True)
    target = target - target.mean(-1, keepdim=True)
    scale = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * target
    noise = estimate - projection
    return 10 * torch.log10((projection.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


def pairwise_si_snr(estimates: Tensor, targets: Tensor, eps: float = EPS) -> Tensor:
    """``[B, S, T]`` x ``[B, S, T]`` -> ``[B, S_est, S_ref]``: SI-SNR of every estimate against every reference."""
    if estimates.dim() != 3 or estimates.shape != targets.shape:
        raise ValueError(
            f"estimates and targets must both be [B, S, T], got {tuple(estimates.shape)} and {tuple(targets.shape)}"
        )
    return si_snr(*torch.broadcast_tensors(estimates[:, :, None], targets[:, None, :]), eps)


class PITResult(NamedTuple):
    """The best permutation's mean SI-SNR per mixture ``[B]`` and the permutation ``[B, S]``: reference
    ``i`` is matched with estimate ``permutation[b, i]``."""

    si_snr: Tensor
    permutation: Tensor


def pit_si_snr(estimates: Tensor, targets: Tensor, eps: float = EPS) -> PITResult:
    """Permutation-invariant SI-SNR of ``estimates`` against ``targets`` [B, S, T] (module docstring)."""
    pairwise = pairwise_si_snr(estimates, targets, eps)
    n_src = pairwise.shape[1]
    permutations = torch.tensor(list(itertools.permutations(range(n_src))), device=pairwise.device)
    # scores[b, p] = mean_i pairwise[b, perm_p[i], i]
    references = torch.arange(n_src, device=pairwise.device)
    scores = pairwise[:, permutations, references].mean(-1)
    best, index = scores.max(dim=-1)
    return PITResult(best, permutations[index])


def pit_si_snr_loss(estimates: Tensor, targets: Tensor, eps: float = EPS) -> Tensor:
    """The MossFormer2 training loss: the negative permutation-invariant SI-SNR, averaged over the batch."""
    return -pit_si_snr(estimates, targets, eps).si_snr.mean()


def reorder_sources(estimates: Tensor, permutation: Tensor) -> Tensor:
    """The estimates ``[B, S, T]`` in the references' order (``permutation`` from :func:`pit_si_snr`)."""
    return estimates.gather(1, permutation[..., None].expand_as(estimates))


def si_snr_improvement(estimates: Tensor, targets: Tensor, mixture: Tensor, eps: float = EPS) -> Tensor:
    """SI-SNRi per mixture ``[B]``: the PIT SI-SNR minus the mixture's SI-SNR, averaged over the sources."""
    if mixture.shape != (targets.shape[0], targets.shape[-1]):
        raise ValueError(f"mixture must be [B, T] = {[targets.shape[0], targets.shape[-1]]}, got {list(mixture.shape)}")
    separated = pit_si_snr(estimates, targets, eps).si_snr
    baseline = si_snr(mixture[:, None].expand_as(targets), targets, eps).mean(-1)
    return separated - baseline


def sdr_improvement(estimates: Tensor, targets: Tensor, mixture: Tensor) -> Tensor:
    """SDRi per mixture ``[B]`` (BSS-eval SDR with torchmetrics' 512-tap filter, in float64), the estimates
    matched to the references by the SI-SNR permutation."""
    from torchmetrics.functional.audio import signal_distortion_ratio

    # one intra-op thread: once torch.set_num_threads(k >= 2) has been called, torch 2.14.1's batched LU
    # (MKL, matrices from ~200 rows; SDR solves 512) fails with "Parameter 6 ... DLASWP" and then hangs
    sdr = single_threaded(signal_distortion_ratio)
    ordered = reorder_sources(estimates, pit_si_snr(estimates, targets).permutation).double()
    targets = targets.double()
    separated = sdr(ordered, targets).mean(-1)
    baseline = sdr(mixture.double()[:, None].expand_as(targets), targets).mean(-1)
    return (separated - baseline).to(estimates.dtype)


def pesq_stoi(estimates: Tensor, targets: Tensor, sample_rate: int) -> tuple[Tensor, Tensor]:
    """PESQ (``nb`` at 8 kHz, ``wb`` at 16 kHz) and STOI per mixture ``[B]`` of the PIT-ordered estimates,
    averaged over the sources, by ``pesq.pesq`` and ``pystoi.stoi``. A source PESQ cannot score (shorter
    than 0.25 s, or no speech found) gives NaN instead of an exception.

    Raises:
        ValueError: a sample rate other than 8000 or 16000 (PESQ's two rates).
    """
    import numpy as np
    from pesq import PesqError, pesq
    from pystoi import stoi

    if sample_rate not in (8000, 16000):
        raise ValueError(f"PESQ is defined at 8000 or 16000 Hz, got {sample_rate}; resample or turn PESQ off")
    ordered = reorder_sources(estimates, pit_si_snr(estimates, targets).permutation)
    ordered, targets = (t.detach().cpu().double().numpy() for t in (ordered, targets))
    mode = "nb" if sample_rate == 8000 else "wb"
    quality = np.full(targets.shape[:2], np.nan)
    intelligibility = np.full(targets.shape[:2], np.nan)
    for (b, i), reference in np.ndenumerate(targets[..., 0]):
        reference, degraded = targets[b, i], ordered[b, i]
        score = pesq(sample_rate, reference, degraded, mode, on_error=PesqError.RETURN_VALUES)
        # MOS-LQO lies in (0.999, 4.64); the error codes (PesqError.*) are negative integers
        quality[b, i] = score if score > 0 else np.nan
        intelligibility[b, i] = stoi(reference, degraded, sample_rate)
    return torch.from_numpy(quality.mean(-1)), torch.from_numpy(intelligibility.mean(-1))
