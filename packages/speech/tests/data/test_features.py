import math

import pytest
import torch
import torchaudio

from recur_speech.data.features import GlobalCMVN, LogMel, SpecAugment, compute_global_cmvn, piecewise_linear_log


def test_log_mel_is_the_recipe_feature():
    torch.manual_seed(0)
    wave = 0.1 * torch.randn(2, 3200)
    features = LogMel()(wave)
    assert features.shape == (2, 1 + 3200 // 160, 80) and LogMel().frames(3200) == 21
    power = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=80)(wave) * 32767.0**2
    expected = torch.where(power > math.e, power.clamp_min(math.e).log(), power / math.e).transpose(1, 2)
    torch.testing.assert_close(features, expected)


def test_piecewise_log_is_continuous_and_finite_at_zero():
    at_e = torch.tensor([math.e / 32767.0**2])
    below, above = piecewise_linear_log(at_e * (1 - 1e-6)), piecewise_linear_log(at_e * (1 + 1e-6))
    assert abs(float(below) - 1.0) < 1e-4 and abs(float(above) - 1.0) < 1e-4
    assert float(piecewise_linear_log(torch.zeros(1))) == 0.0


def test_global_cmvn_normalises_the_training_set(tmp_path):
    torch.manual_seed(0)
    items = [3.0 + 2.0 * torch.randn(n, 4) for n in (50, 70, 30)]
    cmvn = compute_global_cmvn(items)
    normalised = cmvn(torch.cat(items))
    torch.testing.assert_close(normalised.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(normalised.std(0, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
    again = GlobalCMVN.load(cmvn.save(tmp_path / "global_stats.json"))
    torch.testing.assert_close(again.invstddev, cmvn.invstddev)
    with pytest.raises(ValueError, match="5 bins; the CMVN statistics have 4"):
        cmvn(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="no features"):
        compute_global_cmvn([])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not CMVN statistics"):
        GlobalCMVN.load(tmp_path / "bad.json")


def test_spec_augment_masks_within_the_recipe_limits():
    torch.manual_seed(0)
    features = torch.randn(3, 200, 80) + 10.0
    augment = SpecAugment(freq_masks=1, time_masks=1, time_fraction=0.2, iid_masks=True)
    out = augment(features)
    zero = out == 0
    for b in range(3):
        masked_bins = zero[b].all(0).sum()
        masked_frames = zero[b].all(1).sum()
        assert masked_bins <= 27 and masked_frames <= 0.2 * 200
    assert zero.any()
    assert torch.equal(augment.eval()(features), features)
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        augment.train()(torch.zeros(80))
