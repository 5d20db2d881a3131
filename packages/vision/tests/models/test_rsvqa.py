"""RSVQA's model and baselines: sizes from the input, lengths, which inputs each reads, frozen weights; AA / OA."""

import pytest
import torch
import torchvision

from recur_core import get_layer_class, get_model
from recur_core.testing import check_model
from recur_vision.models.rsvqa import QuestionBranch, RSVQANet, layer4_grid
from recur_vision.vqa_metrics import vqa_scores

SMALL = {"image_size": 64, "question_dim": 32, "vocab_size": 20, "num_answers": 9}


@pytest.mark.parametrize("layer", ["gru", "lstm"])
@pytest.mark.parametrize("name", ["rsvqa", "rsvqa_question_only", "rsvqa_image_only"])
def test_registered_models_pass_the_contract(name, layer, one_thread):
    model = get_model(name, layer=layer, **SMALL)
    check_model(model)
    assert model(*model.example_input(3)).shape == (3, 9)
    if name != "rsvqa_image_only":
        assert any(isinstance(m, get_layer_class(layer)) for m in model.modules())


@pytest.mark.parametrize(
    "size, backbone, grid, width",
    [(32, "resnet18", 1, 2048), (64, "resnet18", 2, 512), (256, "resnet152", 8, 32), (512, "resnet18", 16, 8)],
)
def test_the_1x1_conv_flattens_to_2048(size, backbone, grid, width):
    assert layer4_grid(size) == grid
    with torch.device("meta"):
        model = RSVQANet(image_size=size, backbone=backbone, inputs="image")
    assert model.image.reduce.in_channels == (2048 if backbone == "resnet152" else 512)
    assert model.image.reduce.out_channels == width
    if size == 64:
        features = RSVQANet(image_size=size, backbone=backbone, inputs="image").image(torch.zeros(2, 3, 64, 64))
        assert features.shape == (2, 2048)


def test_sizes_that_do_not_flatten_to_2048_are_refused():
    with pytest.raises(ValueError, match="image_size 224 gives a 7x7 layer4 map"):
        RSVQANet(image_size=224)
    model = RSVQANet(**SMALL).eval()
    images, questions, lengths = model.example_input(2)
    with pytest.raises(ValueError, match="built for image_size=64"):
        model(torch.zeros(2, 3, 96, 96), questions, lengths)
    with pytest.raises(ValueError, match="set vocab_size"):
        model(images, questions + 20, lengths)
    with pytest.raises(ValueError, match="unknown backbone"):
        RSVQANet(backbone="vgg16")


def test_the_question_encoder_reads_the_last_valid_word(one_thread):
    torch.manual_seed(0)
    branch = QuestionBranch(vocab_size=30, dim=16).eval()
    questions = torch.randint(1, 30, (3, 9))
    lengths = torch.tensor([9, 4, 1])
    padded = branch(questions, lengths)
    for row, n in enumerate(lengths.tolist()):
        alone = branch(questions[row : row + 1, :n])
        torch.testing.assert_close(padded[row : row + 1], alone)
    # the words after the end do not matter, the ones before do
    changed = questions.clone()
    changed[1, 4:] = 0
    torch.testing.assert_close(branch(changed, lengths), padded)
    changed[1, 2] = (changed[1, 2] + 1) % 30
    assert not torch.allclose(branch(changed, lengths)[1], padded[1])


def test_each_baseline_ignores_the_other_input(one_thread):
    torch.manual_seed(0)
    images, questions, lengths = RSVQANet(**SMALL).example_input(2)
    other_images, other_questions = torch.randn_like(images), torch.randint(2, 20, questions.shape)
    question_only = RSVQANet(inputs="question", **SMALL).eval()
    assert question_only.image is None
    out = question_only(images, questions, lengths)
    torch.testing.assert_close(question_only(other_images, questions, lengths), out)
    torch.testing.assert_close(question_only(None, questions, lengths), out)
    assert not torch.allclose(question_only(images, other_questions, lengths), out)
    image_only = RSVQANet(inputs="image", **SMALL).eval()
    assert image_only.question is None
    out = image_only(images, questions, lengths)
    torch.testing.assert_close(image_only(images, other_questions, None), out)
    assert not torch.allclose(image_only(other_images, questions, lengths), out)
    both = RSVQANet(**SMALL).eval()
    out = both(images, questions, lengths)
    assert not torch.allclose(both(other_images, questions, lengths), out)
    assert not torch.allclose(both(images, other_questions, lengths), out)


def test_the_paper_sizes_and_dropouts():
    model = RSVQANet(**SMALL)
    assert model.image_proj.in_features == 2048 and model.image_proj.out_features == 1200
    assert model.question_proj.out_features == 1200
    assert (model.hidden.in_features, model.hidden.out_features, model.classify.out_features) == (1200, 256, 9)
    assert model.dropout.p == 0.5


def test_given_weights_are_loaded_and_frozen(tmp_path, one_thread):
    torch.manual_seed(1)
    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model = RSVQANet(backbone_weights=str(path), **SMALL)
    assert model.image.frozen and not any(p.requires_grad for p in model.image.resnet.parameters())
    torch.testing.assert_close(model.image.resnet[0].weight, source.conv1.weight)
    model.train()
    assert not model.image.resnet.training and model.image.reduce.training
    check_model(model)
    assert not RSVQANet(backbone_weights=str(path), freeze_backbone=False, **SMALL).image.frozen
    with pytest.raises(ValueError, match="not a torchvision resnet34 state_dict"):
        RSVQANet(backbone="resnet34", backbone_weights=str(path), **SMALL)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot be read"):
        RSVQANet(backbone_weights=str(tmp_path / "junk.pth"), **SMALL)
    with pytest.raises(FileNotFoundError, match=r"absent\.pth not found"):
        RSVQANet(backbone_weights=str(tmp_path / "absent.pth"), **SMALL)


def test_without_weights_the_backbone_trains_unless_frozen_on_purpose():
    assert not RSVQANet(**SMALL).image.frozen
    # fixed random features
    frozen = RSVQANet(freeze_backbone=True, **SMALL)
    assert frozen.image.frozen and not any(p.requires_grad for p in frozen.image.resnet.parameters())
    assert all(p.requires_grad for p in frozen.image.reduce.parameters())


def test_aa_and_oa_on_a_hand_worked_case():
    predictions = [1, 2, 2, 0, 3, 3]
    targets = [1, 1, 1, 0, 3, -100]
    types = ["presence", "presence", "presence", "count", "rural_urban", "rural_urban"]
    scores = vqa_scores(predictions, targets, types)
    # presence 1/3, count 1/1, rural_urban 1/2 (the unknown answer is never right)
    assert scores.per_type == pytest.approx({"presence": 1 / 3, "count": 1.0, "rural_urban": 0.5})
    assert scores.aa == pytest.approx((1 / 3 + 1 + 0.5) / 3) and scores.oa == pytest.approx(3 / 6)
    assert scores.counts == {"presence": 3, "count": 1, "rural_urban": 2}
    logits = torch.nn.functional.one_hot(torch.tensor(predictions), 5).float()
    assert vqa_scores(logits, torch.tensor(targets), types) == scores
    assert scores.as_dict("test/")["test/acc_count"] == 1.0
    with pytest.raises(ValueError, match="same N questions"):
        vqa_scores(predictions, targets[:-1], types)
