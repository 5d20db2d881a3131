"""``recur demo vision``: each part on a tiny setting (its model beside its baselines, numbers finite and in
range; the parts that learn within seconds beat their baselines), and the whole demo (slow)."""

import math

import pytest
import torch

from recur_vision.demo import (
    PAIR,
    main,
    pair_splits,
    pair_videos,
    run_attack_demo,
    run_caption_demo,
    run_feature_demo,
    run_lane_demo,
    run_lrcn_demo,
    run_vir_demo,
    run_vqa_demo,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The generated scenes, roads and tiles go to a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _in_unit_range(scores, names):
    for name in names:
        value = scores[name]
        assert math.isfinite(value) and 0 <= value <= 1, (name, value)


def test_pair_videos_are_normalised_clips_of_both_classes_seeded():
    clips, labels = pair_videos(3, seed=0, frames=8, size=16)
    assert clips.shape == (6, 8, 3, 16, 16) and labels.tolist() == [0, 0, 0, 1, 1, 1]
    # ImageNet normalisation of [0, 1] pixels: within [-2.2, 2.7]
    assert clips.min() >= -2.2 and clips.max() <= 2.7 and clips.std() > 0.1
    assert torch.equal(clips, pair_videos(3, seed=0, frames=8, size=16)[0])
    assert not torch.equal(clips, pair_videos(3, seed=1, frames=8, size=16)[0])
    # a MoveRight video is a MoveLeft video played backwards: the same frames, here the very same videos reversed
    assert torch.equal(clips[3:], clips[:3].flip(1))
    splits = pair_splits(2, 1, frames=8, size=16)
    assert splits["train"][0].shape == (4, 8, 3, 16, 16) and splits["test"][0].shape == (2, 8, 3, 16, 16)
    with pytest.raises(ValueError, match="per_class"):
        pair_videos(0, seed=0)


def test_lrcn_demo_scores_lrcn_beside_the_single_frame_network(one_thread):
    results = run_lrcn_demo(pair_splits(4, 2, frames=8, size=16), epochs=1)
    assert set(results) == {"LRCN", "single frame"}
    for scores in results.values():
        _in_unit_range(scores, ("test/acc", "test/acc_frames_shuffled", "test/acc_majority"))
        assert scores["test/acc_chance"] == 1 / len(PAIR) and scores["fit_seconds"] > 0


def test_feature_demo_tslstm_reads_the_order_the_mean_pool_cannot(one_thread):
    results = run_feature_demo(pair_splits(60, 10), epochs=6, lr=3e-3)
    assert set(results) == {"TS-LSTM", "mean-pool"}
    tslstm, pooled = results["TS-LSTM"], results["mean-pool"]
    best_pool = max(pooled["test/acc"], tslstm["test/acc_mean_pool_probe"])
    # the mean-pool models see the same frames in both classes: about chance
    assert best_pool <= 0.75 and tslstm["test/acc"] > best_pool + 0.1, results


def test_caption_demo_then_the_attack_on_its_checkpoint(cache, tmp_path, one_thread):
    victim = tmp_path / "captioner.ckpt"
    captions = run_caption_demo(steps=3, shown=2, save_to=victim)
    scores = captions["scores"]
    for suffix in ("", "_beam", "_nn"):
        _in_unit_range(scores, (f"test/bleu4{suffix}",))
        assert math.isfinite(scores[f"test/cider{suffix}"]) and scores[f"test/cider{suffix}"] >= 0
    assert len(captions["samples"]) == 2
    for sample in captions["samples"]:
        assert sample["references"] and all(isinstance(sample[k], str) for k in ("greedy", "beam"))
    assert victim.is_file()

    attack = run_attack_demo(victim, epochs=1, epsilon=8 / 255)
    # the perturbation never leaves the epsilon ball (ℓ∞ in [0, 1] pixel units), nor does the noise baseline
    assert 0 < attack["test/linf"] <= 8 / 255 + 1e-6
    assert 4 / 255 < attack["test/linf_noise"] <= 8 / 255 + 1e-6
    for suffix in ("", "_noise", "_clean"):
        _in_unit_range(attack, (f"test/exact{suffix}",))
        assert math.isfinite(attack[f"test/mimic{suffix}"]) and attack[f"test/mimic{suffix}"] >= 0
        # keywords are target words the clean caption lacks: a barely trained victim may leave no pair any
        if attack["test/keyword1_pairs"] > 0:
            _in_unit_range(attack, (f"test/keyword1{suffix}",))
        else:
            assert math.isnan(attack[f"test/keyword1{suffix}"])
    # the clean caption never holds a keyword: its keyword rate is 0 by construction
    assert attack["test/keyword1_pairs"] == 0 or attack["test/keyword1_clean"] == 0


def test_lane_demo_scores_scnn_beside_the_network_without_message_passing(cache, one_thread):
    results = run_lane_demo(train_frames=4, test_frames=3, epochs=1)
    assert set(results) == {"SCNN", "no message passing"}
    for scores in results.values():
        _in_unit_range(scores, ("test/acc", "test/fp", "test/fn"))
        assert scores["fit_seconds"] > 0
    assert results["SCNN"].keys() == results["no message passing"].keys()


def test_vqa_demo_scores_rsvqa_beside_the_question_only_model_and_the_prior(cache, one_thread):
    results = run_vqa_demo(train_tiles=6, test_tiles=3, epochs=1)
    assert set(results) == {"RSVQA", "question only"}
    model = results["RSVQA"]
    types = [k for k in model if k.startswith("test/acc_") and f"{k}_question_prior" in model]
    assert len(types) >= 3, sorted(model)
    for scores in results.values():
        _in_unit_range(scores, ("test/oa", "test/aa", *types))
    # the question prior (each question's most frequent training answer) is far above a uniform guess
    _in_unit_range(model, ("test/oa_question_prior", "test/aa_question_prior"))
    assert model["test/oa_question_prior"] > 0.3


def test_vir_demo_scores_vir_beside_the_same_size_vit(one_thread):
    results = run_vir_demo(train_images=64, test_images=16, epochs=1)
    assert set(results) == {"ViR", "ViT"}
    for scores in results.values():
        _in_unit_range(scores, ("test/acc", "test/acc_32px", "test/acc_majority"))
        assert scores["test/acc_chance"] == pytest.approx(0.1) and scores["fit_seconds"] > 0


@pytest.mark.slow
def test_the_demo_prints_every_part_and_its_models_beat_their_baselines(cache, capsys):
    results = main()
    out = capsys.readouterr().out
    rows = ("LRCN ", "single frame ", "TS-LSTM ", "mean-pool probe ", "nearest neighbour ", "adversarial ")
    rows += ("SCNN ", "no message passing ", "RSVQA ", "question only ", "question prior ", "ViR ", "ViT ")
    for row in rows:
        assert f"\n{row}" in out, row
    assert out.count("beam k=3") >= 2
    lrcn, features = results["lrcn"], results["features"]
    # no single-frame model can tell the time-reversed pair apart; the recurrent head on features can
    assert abs(lrcn["single frame"]["test/acc"] - 0.5) <= 0.2
    assert features["TS-LSTM"]["test/acc"] > features["TS-LSTM"]["test/acc_mean_pool_probe"] + 0.1
    for part in ("lanes", "vqa", "vir"):
        for scores in results[part].values():
            assert all(math.isfinite(v) for v in scores.values()), (part, scores)
