"""The pure-PyTorch RNN-T loss: equal to the double-loop reference (float64) and to torchaudio's (values, gradients)."""

from __future__ import annotations

import pytest
import torch
import torchaudio.functional

from recur_core.testing import assert_op_matches_reference
from recur_speech.models.rnnt import rnnt_loss, rnnt_loss_reference, transducer_loss


def random_batch(blank: int, dtype=torch.float64, seed: int = 0, frames=(9, 6, 1, 4), labels=(5, 0, 2, 3)):
    """Logits [B, T, U + 1, V] and label ids with lengths varying within the batch (a row with no labels, one frame)."""
    generator = torch.Generator().manual_seed(seed)
    batch, vocab = len(frames), 6
    logits = 2 * torch.randn(batch, max(frames), max(labels) + 1, vocab, generator=generator, dtype=dtype)
    # label ids avoid the blank; padding past target_lengths is 0, as torchaudio's examples pad
    ids = [i for i in range(vocab) if i != blank % vocab]
    targets = torch.tensor(ids)[torch.randint(len(ids), (batch, max(labels)), generator=generator)]
    target_lengths = torch.tensor(labels)
    targets[torch.arange(max(labels)) >= target_lengths[:, None]] = 0
    return logits, targets, torch.tensor(frames), target_lengths


@pytest.mark.parametrize("blank", [0, -1, 3])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("fused", [True, False])
def test_vectorised_loss_equals_the_double_loop_in_float64(blank, reduction, fused):
    logits, targets, frames, labels = random_batch(blank)
    inputs = {"logits": logits, "targets": targets, "logit_lengths": frames, "target_lengths": labels}
    options = {"blank": blank, "reduction": reduction, "fused_log_softmax": fused}
    assert_op_matches_reference(
        lambda **kw: rnnt_loss(**kw, **options),
        lambda **kw: rnnt_loss_reference(**kw, **options),
        inputs,
        what=f"rnnt_loss (fused_log_softmax={fused})",
    )


def test_gradcheck_of_the_vectorised_loss():
    logits, targets, frames, labels = random_batch(0, frames=(4, 3), labels=(2, 1))
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: rnnt_loss(x, targets, frames, labels, blank=0), (logits,))


@pytest.mark.parametrize("blank", [0, -1])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("clamp", [-1.0, 0.05])
def test_equals_torchaudio_in_values_and_gradients(blank, reduction, fused, clamp):
    # torchaudio computes in float32 only: the same float32 inputs, ours in float64, to float32 accuracy.
    # fused_log_softmax=False takes the input as log-probabilities as it is; here unnormalised on purpose.
    logits, targets, frames, labels = random_batch(blank, dtype=torch.float32, seed=1)
    theirs_in = logits.clone().requires_grad_(True)
    ours_in = logits.double().requires_grad_(True)
    args = (targets, frames, labels)
    options = {"blank": blank, "clamp": clamp, "reduction": reduction, "fused_log_softmax": fused}
    theirs = torchaudio.functional.rnnt_loss(theirs_in, *(a.int() for a in args), **options)
    ours = rnnt_loss(ours_in, *args, **options)
    torch.testing.assert_close(ours.float(), theirs.detach(), rtol=1e-5, atol=1e-5)
    weights = torch.linspace(0.5, 1.5, ours.numel()).reshape(ours.shape)
    (theirs * weights).sum().backward()
    (ours * weights.double()).sum().backward()
    torch.testing.assert_close(ours_in.grad.float(), theirs_in.grad, rtol=1e-5, atol=1e-6)
    if clamp > 0:
        assert ours_in.grad.abs().max() <= clamp * weights.max() + 1e-12


def test_transducer_loss_backends_agree_and_trim_padding():
    logits, targets, frames, labels = random_batch(0, dtype=torch.float32, seed=2)
    # padding beyond the batch's longest sequence and label sequence: torchaudio refuses it, the wrapper trims it
    padded = torch.nn.functional.pad(logits, (0, 0, 0, 2, 0, 3), value=7.0)
    targets = torch.nn.functional.pad(targets, (0, 2))
    values = [transducer_loss(padded, targets, frames, labels, blank=0, backend=b) for b in ("torchaudio", "pytorch")]
    torch.testing.assert_close(values[0], values[1])
    torch.testing.assert_close(values[1], rnnt_loss(logits, targets[:, :5], frames, labels, blank=0))


def test_loss_is_minus_log_of_the_sum_over_alignments():
    # T = 2 frames, one label y: alignments (y, ∅, ∅) and (∅, y, ∅) (the last blank ends frame T - 1)
    logp = torch.randn(1, 2, 2, 3, dtype=torch.float64).log_softmax(-1)
    y = 2
    paths = [
        logp[0, 0, 0, y] + logp[0, 0, 1, 0] + logp[0, 1, 1, 0],
        logp[0, 0, 0, 0] + logp[0, 1, 0, y] + logp[0, 1, 1, 0],
    ]
    expected = -torch.logsumexp(torch.stack(paths), 0)
    got = rnnt_loss(logp, torch.tensor([[y]]), torch.tensor([2]), torch.tensor([1]), blank=0, fused_log_softmax=False)
    torch.testing.assert_close(got, expected)


def test_bad_input_is_one_line():
    logits, targets, frames, labels = random_batch(0)
    cases = {
        "contain the blank id 0": (logits, targets.masked_fill(targets > 0, 0), frames, labels, {}),
        "target_lengths must lie in 0..5": (logits, targets, frames, labels + 1, {}),
        "logit_lengths must lie in 1..T = 1..9": (logits, targets, frames - 1, labels, {}),
        r"logits must be a float tensor \[B, T, U \+ 1, V\]": (logits[0], targets, frames, labels, {}),
        "reduction must be": (logits, targets, frames, labels, {"reduction": "avg"}),
        "blank must be a symbol id": (logits, targets, frames, labels, {"blank": 6}),
        r"targets must be integer label ids \[B, U\]": (logits, targets.double(), frames, labels, {}),
        "outside 0..5": (logits, targets + 6 * (targets > 0), frames, labels, {"blank": 0}),
    }
    for message, (lg, tg, fr, lb, options) in cases.items():
        with pytest.raises(ValueError, match=message):
            rnnt_loss(lg, tg, fr, lb, **{"blank": 0, **options})
    with pytest.raises(ValueError, match="backend must be 'torchaudio' or 'pytorch'"):
        transducer_loss(logits, targets, frames, labels, blank=0, backend="warp")
