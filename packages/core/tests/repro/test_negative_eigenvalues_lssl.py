"""Helpers of tools/repro/{negative_eigenvalues,lssl_hippo}.py: the arms, the schedule, the data."""

import pytest
import torch

from recur_core.tasks.parity import generate_parity


@pytest.fixture(scope="module")
def eigen(repro_script):
    return repro_script("negative_eigenvalues")


def test_parity_arms_differ_only_in_the_eigenvalue_range(eigen):
    for layer in ("deltanet", "mamba"):
        pos, neg = (eigen.build(layer, flag, 16) for flag in (False, True))
        assert pos.blocks[0].mixer.allow_neg_eigval is False
        assert neg.blocks[0].mixer.allow_neg_eigval is True
        assert [p.shape for p in pos.parameters()] == [p.shape for p in neg.parameters()]
    assert {layer for _, layer, _ in eigen.ARMS} == set(eigen.LAYER_KWARGS)


def test_evaluate_scores_the_whole_string_parity_at_the_last_token(eigen, one_thread):
    torch.manual_seed(0)
    model = eigen.build("lstm", None, 8)
    train_set = generate_parity(16, eigen.TRAIN_LENGTHS, torch.Generator().manual_seed(0), running=True)
    test_set = generate_parity(64, eigen.TEST_LENGTHS, torch.Generator().manual_seed(1), running=True)
    whole = generate_parity(64, eigen.TEST_LENGTHS, torch.Generator().manual_seed(1))
    last = test_set.targets[torch.arange(64), test_set.lengths - 1]
    assert torch.equal(last, whole.targets.to(last.dtype))
    row = eigen.evaluate(model, train_set, test_set)
    buckets = {f"test_acc_{lo}_{hi}" for lo, hi in eigen.BUCKETS}
    assert set(row) == {"train_acc", "test_acc", "test_token_acc", *buckets}
    assert all(0.0 <= v <= 1.0 for v in row.values())
    assert eigen.BUCKETS[0][0] == eigen.TEST_LENGTHS[0] and eigen.BUCKETS[-1][1] == eigen.TEST_LENGTHS[1]


def test_sequential_digits_repeat_each_pixel_row_by_row(repro_script):
    lssl = repro_script("lssl_hippo")
    x, y = lssl.sequential_digits(2)
    assert x.shape == (1797, 256, 1) and y.shape == (1797,)
    assert x.min() >= 0.0 and x.max() <= 1.0
    image = x[0, :, 0].view(16, 16)
    torch.testing.assert_close(image[::2, ::2], image[1::2, 1::2])
