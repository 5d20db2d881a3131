"""The controlled caption attack's networks, losses and Show-and-Fool scores (recur_vision.models.caption_attack)."""

import random

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_vision.models.caption_attack import (
    PerturbationGenerator,
    content_words,
    draw_keywords,
    exact_success,
    gan_losses,
    generator_gan_loss,
    keyword_success,
    mimic_loss,
    perturbation_penalty,
)
from recur_vision.models.captioning import LRCNCaptioner

TINY_G = {"channels": (4, 8, 8), "residual_blocks": 1}


@pytest.mark.parametrize("name", ["caption_attack_generator", "caption_attack_discriminator"])
def test_registered_and_pass_the_model_contract(name, one_thread):
    assert name in list_models("vision")
    kwargs = {"feature_dim": 16, **TINY_G} if name == "caption_attack_generator" else {"channels": (4, 8)}
    check_model(get_model(name, **kwargs))


def test_the_perturbation_never_leaves_the_epsilon_ball(one_thread):
    torch.manual_seed(0)
    epsilon = 4 / 255
    generator = PerturbationGenerator(feature_dim=16, epsilon=epsilon, **TINY_G)
    # weights blown up so that tanh saturates: the bound must still hold
    with torch.no_grad():
        for p in generator.parameters():
            p.mul_(50)
    images = torch.cat([torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 32, 32), torch.rand(2, 3, 32, 32)])
    features = 100 * torch.randn(6, 16)
    for mode in (True, False):
        generator.train(mode)
        perturbation = generator(images, features)
        assert perturbation.abs().max() <= epsilon and perturbation.abs().max() > 0.9 * epsilon
        adversarial = generator.attack(images, features)
        assert adversarial.min() >= 0 and adversarial.max() <= 1
        assert (adversarial - images).abs().max() <= epsilon


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="epsilon must be in"):
        PerturbationGenerator(epsilon=8)
    generator = PerturbationGenerator(feature_dim=16, **TINY_G)
    with pytest.raises(ValueError, match="target_features must be"):
        generator(torch.rand(2, 3, 32, 32), torch.rand(2, 15))
    with pytest.raises(ValueError, match="divisible by 4"):
        generator(torch.rand(2, 3, 30, 30), torch.rand(2, 16))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        generator(torch.rand(2, 1, 32, 32), torch.rand(2, 16))


def test_the_mimic_loss_falls_on_a_tiny_frozen_victim(one_thread):
    torch.manual_seed(0)
    victim = LRCNCaptioner(
        vocab_size=10, d_model=8, feature_dim=8, encoder_kwargs={"channels": (4, 8), "hidden": 8, "dropout": 0.0}
    ).eval()
    victim.requires_grad_(False)
    generator = PerturbationGenerator(feature_dim=8, epsilon=16 / 255, **TINY_G)
    images, targets = torch.rand(8, 3, 32, 32), torch.rand(8, 3, 32, 32)
    target_features = victim.encode(targets)
    optimizer = torch.optim.Adam(generator.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = mimic_loss(victim.encode(generator.attack(images, target_features)), target_features)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    # the victim was not trained
    assert all(p.grad is None for p in victim.parameters())


def test_losses_on_hand_made_values():
    assert mimic_loss(torch.ones(2, 4), torch.zeros(2, 4)).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        mimic_loss(torch.ones(2, 4), torch.zeros(2, 5))
    assert perturbation_penalty(torch.full((1, 3, 2, 2), 0.5)).item() == pytest.approx(0.25)
    sure = torch.full((2, 1, 2, 2), 20.0)
    # a discriminator sure and right has ~0 loss; the generator fooling nobody has a large one
    assert gan_losses(sure, -sure).item() < 1e-6 and generator_gan_loss(-sure).item() > 19
    assert gan_losses(torch.zeros(1), torch.zeros(1)).item() == pytest.approx(2 * 0.6931, abs=1e-4)


def test_exact_success_is_word_for_word():
    outputs = ["a red circle", "a red  circle", "a red circle above a blue square", "two red circles"]
    targets = ["a red circle", "a red circle", "a red circle", ["two", "red", "circles"]]
    assert exact_success(outputs, targets) == [True, True, False, True]
    with pytest.raises(ValueError, match="one target per output"):
        exact_success(outputs, targets[:2])


def test_keywords_are_content_words_and_all_must_appear():
    caption = "a red circle to the left of a blue square"
    assert content_words(caption) == ["red", "circle", "left", "blue", "square"]
    assert content_words("there are two red circles , all red") == ["two", "red", "circles", "all"]
    rng = random.Random(0)
    drawn = draw_keywords(caption, 3, rng)
    assert len(set(drawn)) == 3 and set(drawn) <= set(content_words(caption))
    assert draw_keywords("a red circle", 3, rng) is None
    assert draw_keywords(caption, 2, random.Random(5)) == draw_keywords(caption, 2, random.Random(5))
    with pytest.raises(ValueError, match="k must be at least 1"):
        draw_keywords(caption, 0, rng)
    outputs = ["a blue square above a red circle", "a red triangle", "a red circle", "three red circles"]
    keywords = [("red", "square"), ("red", "circle"), None, ("circle",)]
    # all keywords anywhere in the output (order free); a partial match fails; whole words only
    assert keyword_success(outputs, keywords) == [True, False, None, False]


def test_keywords_never_come_from_the_clean_caption():
    # Show-and-Fool: a word the clean image's caption already has is no evidence of the attack
    target, clean = "a red square left of a blue circle", "a red circle above a green square"
    for seed in range(20):
        drawn = draw_keywords(target, 2, random.Random(seed), exclude=clean)
        assert drawn is not None and set(drawn) <= {"left", "blue"}
    assert draw_keywords(target, 3, random.Random(0), exclude=clean) is None
