import math

import pytest
import torch

from recur_vision.demo import (
    PAIR,
    main,
    pair_videos,
    run_attack_demo,
    run_caption_demo,
    run_feature_demo,
    run_lrcn_demo,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The generated caption scenes go to a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_pair_videos_are_normalised_clips_of_both_classes_seeded():
    clips, labels = pair_videos(3, seed=0, frames=8, size=16)
    assert clips.shape == (6, 8, 3, 16, 16) and labels.tolist() == [0, 0, 0, 1, 1, 1]
    # ImageNet normalisation of [0, 1] pixels: within [-2.2, 2.7]
    assert clips.min() >= -2.2 and clips.max() <= 2.7 and clips.std() > 0.1
    assert torch.equal(clips, pair_videos(3, seed=0, frames=8, size=16)[0])
    assert not torch.equal(clips, pair_videos(3, seed=1, frames=8, size=16)[0])
    with pytest.raises(ValueError, match="per_class"):
        pair_videos(0, seed=0)


def test_lrcn_demo_scores_lrcn_beside_the_single_frame_network(one_thread):
    results = run_lrcn_demo(train_per_class=2, test_per_class=2, epochs=1)
    assert set(results) == {"LRCN", "single frame"}
    for scores in results.values():
        assert 0 <= scores["test/acc"] <= 1 and scores["test/acc_chance"] == 1 / len(PAIR)
        assert scores["test/acc_majority"] == 0.5 and scores["fit_seconds"] > 0


def test_feature_demo_tslstm_reads_the_order_the_mean_pool_cannot(one_thread):
    results = run_feature_demo(train_per_class=60, test_per_class=10, epochs=6, lr=3e-3)
    assert set(results) == {"TS-LSTM", "mean-pool"}
    tslstm, pooled = results["TS-LSTM"], results["mean-pool"]
    best_pool = max(pooled["test/acc"], tslstm["test/acc_mean_pool_probe"])
    assert tslstm["test/acc"] > best_pool + 0.1, results


def test_caption_demo_then_the_attack_on_its_checkpoint(cache, tmp_path, one_thread):
    victim = tmp_path / "captioner.ckpt"
    captions = run_caption_demo(steps=3, shown=2, save_to=victim)
    scores = captions["scores"]
    for suffix in ("", "_beam", "_nn"):
        assert scores[f"test/bleu4{suffix}"] >= 0 and scores[f"test/cider{suffix}"] >= 0
    assert len(captions["samples"]) == 2
    for sample in captions["samples"]:
        assert sample["references"] and all(isinstance(sample[k], str) for k in ("greedy", "beam"))
    assert victim.is_file()

    attack = run_attack_demo(victim, epochs=1, epsilon=8 / 255)
    # the perturbation never leaves the epsilon ball (ℓ∞ in [0, 1] pixel units), nor does the noise baseline
    assert 0 < attack["test/linf"] <= 8 / 255 + 1e-6
    assert 4 / 255 < attack["test/linf_noise"] <= 8 / 255 + 1e-6
    for suffix in ("", "_noise", "_clean"):
        assert 0 <= attack[f"test/exact{suffix}"] <= 1
        # keywords are target words the clean caption lacks: a barely trained victim may leave no pair any
        if attack["test/keyword1_pairs"] > 0:
            assert 0 <= attack[f"test/keyword1{suffix}"] <= 1
        else:
            assert math.isnan(attack[f"test/keyword1{suffix}"])
    # the clean caption never holds a keyword: its keyword rate is 0 by construction
    assert attack["test/keyword1_pairs"] == 0 or attack["test/keyword1_clean"] == 0


@pytest.mark.slow
def test_demo_prints_every_part(cache, capsys):
    main()
    out = capsys.readouterr().out
    for row in ("LRCN ", "single frame ", "TS-LSTM ", "mean-pool probe ", "nearest neighbour ", "adversarial "):
        assert f"\n{row}" in out, row
    assert out.count("beam k=3") >= 2
