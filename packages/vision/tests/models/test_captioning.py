"""LRCN's captioner: registry contract with core layers, the factored structure, teacher forcing, decoding, baseline."""

import itertools

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_vision.models.captioning import (
    EOS,
    LRCNCaptioner,
    NearestNeighbourCaptioner,
    SmallCNN,
    consensus_caption,
)

SMALL = {"vocab_size": 9, "d_model": 16, "feature_dim": 8, "encoder_kwargs": {"channels": (4, 8), "hidden": 8}}


def peaky(seed: int = 0, **options) -> LRCNCaptioner:
    """A small random captioner with confident, image-dependent word distributions (so decoding has choices)."""
    torch.manual_seed(seed)
    model = get_model("lrcn_captioner", **{**SMALL, **options}).eval()
    with torch.no_grad():
        model.predict.weight.mul_(40.0)
        model.static_in.weight.mul_(10.0)
    return model


def test_registered_with_the_papers_sizes():
    assert "lrcn_captioner" in list_models("vision")
    model = get_model("lrcn_captioner")
    assert isinstance(model, LRCNCaptioner) and isinstance(model.encoder, SmallCNN)
    assert model.predict.out_features == 8801 and model.embedding.embedding_dim == 1000
    assert model.layer1.layer_name == model.layer2.layer_name == "lstm" and model.layer2.d_model == 1000
    assert model.static_in.in_features == 1000 and model.embedding.weight.abs().max() <= 0.08


@pytest.mark.parametrize(("layer", "layer_kwargs"), [("lstm", None), ("gru", None), ("gla", {"num_heads": 2})])
def test_check_model_with_core_layers(layer, layer_kwargs):
    model = get_model("lrcn_captioner", layer=layer, layer_kwargs=layer_kwargs, **SMALL)
    assert model.layer1.layer_name == layer == model.layer2.layer_name
    check_model(model)
    images, input_ids, lengths = model.example_input(2)
    assert model(images, input_ids, lengths).shape == (2, 6, 9)


def test_torchvision_encoder_by_name_and_frozen_encoder():
    model = get_model("lrcn_captioner", encoder="resnet18", freeze_encoder=True, **{**SMALL, "encoder_kwargs": None})
    # LRCN's frame CNN lookup (lrcn.frame_cnn), then the linear fc8 to feature_dim
    assert model.encoder[0].fc.__class__.__name__ == "Identity" and model.encoder[1].out_features == 8
    assert not any(p.requires_grad for p in model.encoder.parameters())
    model.train()
    assert not model.encoder.training and model.layer1.training
    check_model(model)
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet_nine'.*'small'"):
        get_model("lrcn_captioner", encoder="resnet_nine")
    with pytest.raises(ValueError, match=r"are for encoder 'small'"):
        get_model("lrcn_captioner", encoder="caffenet", encoder_kwargs={"hidden": 8})


def test_small_cnn_flattens_a_grid_of_cells_into_fc6():
    cnn = SmallCNN(feature_dim=8, channels=(4, 8), hidden=8, grid=8)
    images = torch.rand(2, 3, 32, 32)
    assert cnn.features(images).shape == (2, 8, 8, 8) and cnn.fc6[1].in_features == 8 * 8 * 8
    assert cnn(images).shape == (2, 8)
    with pytest.raises(ValueError, match="grid must be at least 1"):
        SmallCNN(grid=0)
    strided = SmallCNN(feature_dim=8, channels=(4, 8), hidden=8, grid=8, stem_stride=2)
    assert strided.features[0].stride == (2, 2) and strided.features(images).shape == (2, 8, 8, 8)
    with pytest.raises(ValueError, match="stem_stride must be 1 or 2"):
        SmallCNN(stem_stride=3)


def test_small_cnn_global_max_gives_fc6_each_channels_maximum_over_the_grid():
    images = torch.rand(2, 3, 32, 32)
    plain = SmallCNN(feature_dim=8, channels=(4, 8), hidden=8, grid=8)
    pooled = SmallCNN(feature_dim=8, channels=(4, 8), hidden=8, grid=8, global_max=True)
    assert pooled.fc6[1].in_features == 8 * 8 * 8 + 8 and pooled(images).shape == (2, 8)
    # the option adds no parameter names, so earlier checkpoints still load (fc6's width aside)
    assert set(plain.state_dict()) == set(pooled.state_dict())
    # what fc6 reads: the flattened cells, then each channel's maximum over the grid
    seen = []
    pooled.fc6.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    pooled.eval()
    with torch.no_grad():
        pooled(images)
        cells = pooled.features(images)
    assert torch.equal(seen[0], torch.cat([cells.flatten(1), cells.amax(dim=(-2, -1))], dim=1))


def test_the_image_enters_only_the_second_layer_and_words_are_causal():
    model = peaky()
    seen = []
    model.layer1.register_forward_hook(lambda module, args, out: seen.append(out[0]))
    ids = torch.tensor([[EOS, 3, 4, 5, 6]])
    a = model.caption_logits(torch.randn(1, 8), ids)
    b = model.caption_logits(torch.randn(1, 8), ids)
    assert torch.equal(seen[0], seen[1]) and not torch.allclose(a, b)
    changed = ids.clone()
    changed[0, 3] = 2
    c = model.caption_logits(torch.zeros(1, 8), changed)
    d = model.caption_logits(torch.zeros(1, 8), ids)
    assert torch.allclose(c[:, :3], d[:, :3]) and not torch.allclose(c[:, 3:], d[:, 3:])


def test_beam_width_one_is_greedy():
    model = peaky()
    features = 3 * torch.randn(5, 8)
    greedy, beam = model.greedy(features), model.beam_search(features, beam_size=1)
    assert torch.equal(greedy.tokens, beam.tokens) and torch.allclose(greedy.log_prob, beam.log_prob)
    assert len({tuple(t) for t in greedy.tokens.tolist()}) > 1, "the test model should caption images differently"


@pytest.mark.parametrize(("beam_size", "alpha"), [(3, 0.0), (4, 0.7), (2, 1.0)])
def test_beam_score_is_the_models_log_probability_of_the_caption(beam_size, alpha):
    model = peaky(seed=1)
    features = 3 * torch.randn(4, 8)
    out = model.beam_search(features, beam_size=beam_size, length_penalty=alpha, max_steps=7)
    assert out.tokens.shape == (4, 7)
    torch.testing.assert_close(out.log_prob, model.log_prob(features, out.tokens), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(out.score, out.log_prob / out.lengths.float() ** alpha)


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_a_beam_wide_enough_is_exhaustive_search(alpha):
    model = peaky(seed=5, vocab_size=4, max_steps=3)
    features = 3 * torch.randn(4, 8, generator=torch.Generator().manual_seed(100))
    # every caption of at most 3 steps, enumerated: 0..3 words of 1..3, then EOS unless 3 words fill the steps
    candidates = [list(c) + [EOS] * (3 - len(c)) for n in range(4) for c in itertools.product([1, 2, 3], repeat=n)]
    tokens = torch.tensor(candidates)
    lengths = torch.tensor([min(len(c) - c.count(EOS) + 1, 3) for c in candidates]).float()
    log_probs = torch.stack([model.log_prob(f.expand(len(tokens), -1), tokens) for f in features])
    best = (log_probs / lengths**alpha).argmax(-1)
    # the case has teeth: greedy misses the most probable caption of some image, and α changes the best
    assert (model.greedy(features).log_prob < log_probs.max(-1).values - 1e-4).any()
    assert alpha == 0 or not torch.equal(best, log_probs.argmax(-1))
    # 40 captions; a width of 16 keeps every live one until the last step, whose ranking is the final one
    out = model.beam_search(features, beam_size=16, length_penalty=alpha)
    assert torch.equal(out.tokens, tokens[best])
    torch.testing.assert_close(out.log_prob, log_probs.gather(1, best[:, None])[:, 0], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(out.lengths.float(), lengths[best])


def test_beam_search_is_the_same_per_image_and_for_the_batch():
    model = peaky(seed=3)
    features = 3 * torch.randn(3, 8)
    batched = model.beam_search(features, beam_size=3)
    for i in range(3):
        alone = model.beam_search(features[i : i + 1], beam_size=3)
        assert torch.equal(alone.tokens[0], batched.tokens[i])


def test_captions_stop_at_eos_or_max_steps():
    model = peaky(seed=4)
    out = model.caption(torch.rand(6, 3, 64, 64), "beam", beam_size=2, max_steps=5)
    for row, length in zip(out.tokens.tolist(), out.lengths.tolist()):
        ended = EOS in row
        assert length == (row.index(EOS) + 1 if ended else 5)
        assert all(w == EOS for w in row[length:])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.encode(torch.rand(2, 1, 64, 64)), r"images must be a float tensor \[B, 3, H, W\].*RGB"),
        (lambda m: m.encode(torch.rand(2, 3, 8, 8)), "at least 16x16 pixels"),
        (lambda m: m.caption_logits(torch.rand(2, 8), torch.tensor([[0, 12]] * 2)), "outside 0..8; set vocab_size"),
        (lambda m: m.beam_search(torch.rand(2, 8), beam_size=0), "beam_size must be at least 1"),
        (lambda m: m.greedy(torch.rand(2, 5)), r"features must be \[B, feature_dim=8\]"),
        (lambda m: m.caption(torch.rand(1, 3, 64, 64), "sample"), "method must be 'greedy' or 'beam'"),
    ],
)
def test_bad_input_is_one_line(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call(peaky())
    assert "\n" not in str(err.value)


def test_consensus_caption_is_the_most_agreed_with():
    candidates = ["a red circle", "a blue square", "a red circle here", "one red circle"]
    assert consensus_caption(candidates) == "a red circle"
    assert consensus_caption(["only one"]) == "only one"
    with pytest.raises(ValueError, match="at least one candidate"):
        consensus_caption([])


def test_nearest_neighbour_returns_the_nearest_images_captions():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    captions = [["a red circle", "a red circle", "red circle"], ["two blue squares"], ["a green triangle"]]
    nearest = NearestNeighbourCaptioner(features, captions, k=1)
    assert nearest(torch.tensor([[2.0, 0.1], [0.1, 3.0], [1.0, 1.1]])) == [
        "a red circle",
        "two blue squares",
        "a green triangle",
    ]
    assert NearestNeighbourCaptioner(features, captions, k=2).neighbours(torch.tensor([[1.0, 0.2]])).tolist() == [
        [0, 2]
    ]
    with pytest.raises(ValueError, match=r"one row per training image \(2 caption lists\)"):
        NearestNeighbourCaptioner(features, captions[:2])
    with pytest.raises(ValueError, match=r"query features must be \[M, 2\]"):
        nearest(torch.rand(1, 3))


def test_visual_concepts_is_registered_and_scores_every_word():
    assert "visual_concepts" in list_models("vision")
    small = {"channels": [4, 8], "hidden": 8}
    model = get_model("visual_concepts", num_concepts=7, feature_dim=8, encoder_kwargs=small)
    check_model(model)
    assert model(torch.rand(3, 3, 64, 64)).shape == (3, 7)
    with pytest.raises(ValueError, match="RGB"):
        model(torch.rand(3, 1, 64, 64))
