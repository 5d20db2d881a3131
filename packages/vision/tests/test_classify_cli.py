"""ImageData, ImageClassificationModule and the vir/classify, vit/classify recipes through the CLI."""

import numpy as np
import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_vision.classify import (
    DIGITS_SPLIT_SIZES,
    SHAPE_CLASSES,
    ImageClassificationModule,
    ImageData,
    render_shape_image,
)
from recur_vision.data.render import textured_background

RECIPES = ["vir/classify", "vit/classify"]
RECIPE_KINDS = ("classify", "digits")
TINY_DATA = ["--data.train_images", "24", "--data.val_images", "8", "--data.test_images", "8", "--data.batch_size", "8"]
FEW = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]


@pytest.mark.parametrize("recipe", [*RECIPES, "vir/digits", "vit/digits"])
def test_recipes_open_with_their_command(recipe):
    path = list_recipes("vision")[recipe]
    assert path.read_text().splitlines()[0] == f"# recur-vision fit --config {recipe}"


def test_vit_recipe_is_the_same_size_and_training_as_vir():
    vir, vit = (yaml.safe_load(list_recipes("vision")[name].read_text()) for name in RECIPES)
    assert vir["data"] == vit["data"] and vir["trainer"] == vit["trainer"]
    # the same size and patches; ViR's head reads the mean of the patch tokens (pool: avg), and at 128 px its
    # retention reading is scaled by the token count (test time only)
    vir_only = {"pool": "avg", "token_count_scale": True}
    assert {**vit["model"]["init_args"]["model_kwargs"], **vir_only} == vir["model"]["init_args"]["model_kwargs"]
    same = ("num_classes", "image_size", "test_image_size", "lr", "weight_decay", "warmup_steps", "scheduler")
    assert all(vir["model"]["init_args"][k] == vit["model"]["init_args"][k] for k in same)


@pytest.mark.parametrize("name", ["vir", "vit"])
def test_digits_recipe_is_the_classify_recipe_on_the_digits(name):
    classify, digits = (yaml.safe_load(list_recipes("vision")[f"{name}/{kind}"].read_text()) for kind in RECIPE_KINDS)
    assert {key: value for key, value in digits.items() if key != "data"} == {
        key: value for key, value in classify.items() if key != "data"
    }
    assert digits["data"]["init_args"] == {"dataset": "digits", "image_size": 64, "batch_size": 64}


def test_images_are_seeded_per_item_and_show_their_class():
    data = ImageData(train_images=6, val_images=2, test_images=3, render_size=16, image_size=32, seed=3)
    train = data.dataset("train")
    assert train.images.shape == (6, 3, 32, 32) and train.images.dtype == torch.uint8
    again = ImageData(train_images=4, val_images=1, test_images=1, render_size=16, image_size=32, seed=3)
    # item i depends on (seed, split, i) only, not on the split's size
    assert torch.equal(again.dataset("train").images, train.images[:4])
    other = ImageData(train_images=6, val_images=2, test_images=3, render_size=16, image_size=32, seed=4)
    assert not torch.equal(other.dataset("train").images, train.images)
    image, label = train[0]
    assert label == train.labels[0]
    assert image.shape == (3, 32, 32) and image.min() >= -1.0 and image.max() <= 1.0
    assert data.num_classes == 10 and SHAPE_CLASSES[0] == "1 circle" and SHAPE_CLASSES[9] == "2 plus"
    # the classes are balanced: every class appears in a few hundred draws
    many = ImageData(train_images=300, render_size=16, image_size=16).dataset("train")
    assert torch.bincount(many.labels, minlength=10).min() >= 15


def test_digits_are_a_fixed_seeded_split_of_sklearns_digits_upscaled():
    from sklearn.datasets import load_digits

    data = ImageData(dataset="digits", image_size=32, train_images=4000)
    splits = {name: data.dataset(name) for name in ("train", "val", "test")}
    assert DIGITS_SPLIT_SIZES == {"train": 1257, "val": 180, "test": 360}
    assert {name: len(split) for name, split in splits.items()} == DIGITS_SPLIT_SIZES
    assert data.num_classes == 10 and data.classes == tuple("0123456789")
    image, _ = splits["test"][0]
    assert image.shape == (3, 32, 32) and image.min() >= -1.0 and image.max() <= 1.0
    assert torch.equal(image[0], image[2])  # grey, repeated to three channels
    # the splits partition the 1,797 digits: every label count adds up, every class in every split
    counts = sum(torch.bincount(split.labels, minlength=10) for split in splits.values())
    assert counts.tolist() == np.bincount(load_digits().target).tolist()
    assert all(torch.bincount(split.labels, minlength=10).min() > 0 for split in splits.values())
    # as drawn (8 px), an image is its digit's pixels / 16, scaled to [-1, 1] as the shapes
    native = ImageData(dataset="digits", image_size=8).dataset("train")
    digits = load_digits()
    pixels = np.round(native.images[0, 0].numpy() / 255 * 16)
    match = np.flatnonzero((digits.images == pixels).all(axis=(1, 2)))
    assert len(match) >= 1 and native.labels[0] == digits.target[match[0]]
    # the same seed gives the same split; another seed another
    assert torch.equal(ImageData(dataset="digits", image_size=8).dataset("train").labels, native.labels)
    assert not torch.equal(ImageData(dataset="digits", image_size=8, seed=1).dataset("train").labels, native.labels)


def test_two_copies_cover_about_twice_the_pixels_of_one():
    # the image is the background drawn first from the same generator, then the shapes
    coverage = []
    for label in (0, 5):  # "1 circle", "2 circle"
        covered = []
        for i in range(20):
            plain = textured_background(np.random.default_rng([7, i]), 32, 32)
            drawn = render_shape_image(np.random.default_rng([7, i]), label, 32)
            covered.append(float((np.abs(drawn - plain).sum(-1) > 0.3).mean()))
        coverage.append(np.mean(covered))
    assert coverage[0] > 0.03 and 1.5 * coverage[0] < coverage[1] < 3 * coverage[0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_images": 0}, "every split needs at least one image"),
        ({"render_size": 8}, "need render_size >= 16"),
        ({"render_size": 32, "image_size": 16}, "image_size >= render_size"),
        ({"dataset": "digits", "image_size": 4}, r"image_size >= render_size \(8 for the digits\)"),
        ({"dataset": "mnist"}, "dataset must be 'shapes' or 'digits'"),
    ],
)
def test_bad_data_options_are_one_line(options, message):
    with pytest.raises(ValueError, match=message):
        ImageData(**options)


def test_bad_module_options_are_one_line():
    tiny = {"size": "mini", "patch_size": 8}
    with pytest.raises(ValueError, match=r"has no 'chunkwise' form .* set --model.test_form parallel"):
        ImageClassificationModule(model="vit", model_kwargs=tiny, test_form="chunkwise")
    with pytest.raises(ValueError, match="multiple of the patch size 8"):
        ImageClassificationModule(model="vir", model_kwargs=tiny, test_image_size=100)
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        ImageClassificationModule(chunk_size=0)


def test_high_resolution_forms_agree_on_the_upscaled_images():
    torch.manual_seed(0)
    # LayerScale 1, so that the retention moves the logits (at 1e-5 any form would agree)
    kwargs = {"size": "mini", "patch_size": 8, "layer_scale": 1.0}
    options = {"model_kwargs": kwargs, "image_size": 32, "test_image_size": 48}
    chunkwise = ImageClassificationModule(**options, test_form="chunkwise", chunk_size=5).eval()
    parallel = ImageClassificationModule(**options, test_form="parallel").eval()
    parallel.net.load_state_dict(chunkwise.net.state_dict())
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(
            chunkwise.high_resolution_logits(images), parallel.high_resolution_logits(images), atol=1e-5
        )


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_fits_then_tests_with_the_baselines_and_the_high_resolution_path(recipe, runs_dir, one_thread):
    fitted = run_cli("vision", ["fit", "--config", recipe, *FEW, *TINY_DATA])
    assert isinstance(fitted.model, ImageClassificationModule)
    checkpoint = fitted.run_dir / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file() and (fitted.run_dir / "metrics.csv").is_file()
    tested = run_cli("vision", ["test", "--config", recipe, *TINY_DATA, "--ckpt_path", str(checkpoint)])
    result = tested.trainer.callback_metrics
    for name in ("test/acc", "test/loss", "test/acc_majority", "test/acc_chance", "test/acc_128px"):
        assert name in result, name
    assert float(result["test/acc_chance"]) == pytest.approx(0.1)


def test_model_and_data_disagreeing_is_one_line(runs_dir, one_thread, capsys):
    with pytest.raises(SystemExit) as exit_:
        console_main("vision", ["fit", "--config", "vir/classify", *FEW, *TINY_DATA, "--data.image_size", "48"])
    assert exit_.value.code == 2
    assert "model.image_size = 64 but the data has image_size = 48" in capsys.readouterr().err
