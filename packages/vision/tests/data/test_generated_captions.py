import json
from collections import Counter

import numpy as np
import pytest

from recur_vision.data.captions import Captions, Vocabulary, caption_splits, read_karpathy_json
from recur_vision.data.generated_captions import (
    COLOURS,
    SCENE_KINDS,
    SCENE_SHAPES,
    render_scene,
    scene_captions,
    scene_subsets,
    write_generated_captions,
)


def scenes(count, size=64, colours=7, shapes=4):
    return [render_scene(np.random.default_rng([9, i]), size, colours, shapes) for i in range(count)]


def test_deterministic_for_a_seed():
    a, scene_a = render_scene(np.random.default_rng(3))
    b, scene_b = render_scene(np.random.default_rng(3))
    assert np.array_equal(a, b) and scene_a == scene_b
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8


@pytest.mark.parametrize("colours, shapes", [(7, 4), (10, 5), (2, 1)])
def test_scenes_cover_every_colour_shape_count_and_relation_of_their_space(colours, shapes):
    drawn = scenes(300, colours=colours, shapes=shapes)
    kinds = Counter(scene["kind"] for _, scene in drawn)
    assert set(kinds) == set(SCENE_KINDS)
    objects = [o for _, scene in drawn for o in scene["objects"]]
    assert {o["colour"] for o in objects} == set(list(COLOURS)[:colours])
    assert {o["shape"] for o in objects} == set(SCENE_SHAPES[:shapes])
    assert {len(scene["objects"]) for _, scene in drawn if scene["kind"] == "count"} == {2, 3}


@pytest.mark.parametrize("colours, shapes", [(7, 4), (10, 5)])
def test_the_image_shows_what_the_captions_say(colours, shapes):
    for image, scene in scenes(120, colours=colours, shapes=shapes):
        objects = scene["objects"]
        captions = scene_captions(scene)
        assert len(captions) == 5
        for o in objects:
            # the pixel at each centre has the object's colour
            rgb = image[int(o["y"]), int(o["x"])].astype(np.float32) / 255
            assert np.abs(rgb - np.array(COLOURS[o["colour"]])).max() < 0.1, (scene, rgb)
            assert all(o["colour"] in c for c in captions) and all(o["shape"] in c for c in captions)
        if scene["kind"] == "left":
            a, b = objects
            assert b["x"] - a["x"] > 2 * a["radius"] and abs(b["y"] - a["y"]) < 0.5 * (b["x"] - a["x"])
            assert captions[0] == f"a {a['colour']} {a['shape']} left of a {b['colour']} {b['shape']}"
        if scene["kind"] == "above":
            a, b = objects
            assert b["y"] - a["y"] > 2 * a["radius"] and abs(b["x"] - a["x"]) < 0.5 * (b["y"] - a["y"])
            assert captions[2] == f"a {b['colour']} {b['shape']} below a {a['colour']} {a['shape']}"
        if scene["kind"] == "count":
            number = {2: "two", 3: "three"}[len(objects)]
            plural = "crosses" if objects[0]["shape"] == "cross" else f"{objects[0]['shape']}s"
            assert captions[0] == f"{number} {objects[0]['colour']} {plural}"
        if scene["kind"] in ("left", "above"):
            assert (objects[0]["colour"], objects[0]["shape"]) != (objects[1]["colour"], objects[1]["shape"])


def test_most_test_relations_are_combinations_no_training_scene_shows():
    # the split sizes of the recipe, fewer images: 400 train, 100 test scenes from the same distribution
    def combination(scene):
        return scene["kind"], tuple((o["colour"], o["shape"]) for o in scene["objects"])

    train = {combination(s) for _, s in scenes(400)}
    test = [combination(render_scene(np.random.default_rng([10, i]))[1]) for i in range(100)]
    relations = [c for c in test if c[0] in ("left", "above")]
    unseen = sum(c not in train for c in relations)
    assert len(relations) > 30 and unseen > 0.7 * len(relations)
    # while every single object of the test scenes is in some training scene
    seen_objects = {o for _, objects in train for o in objects}
    assert all(o in seen_objects for _, objects in test for o in objects)


def test_written_in_the_karpathy_layout_and_read_back(tmp_path):
    folder = write_generated_captions(tmp_path / "shapes", train=120, val=10, test=10, size=48, seed=1)
    images = read_karpathy_json(folder / "dataset_coco.json")
    splits = caption_splits(images)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [120, 10, 10]
    assert images[0].path == folder / "images" / "train_00000.png"
    vocab = Vocabulary.from_images(splits["train"])
    # every template word is frequent enough for LRCN's count >= 5
    words = {t for image in images for c in image.captions for t in c}
    assert words <= set(vocab.words)
    data = Captions(splits["val"], vocab, items="images", image_size=(48, 48), resize=False)
    image, _, targets, refs = data[3]
    assert image.shape == (3, 48, 48) and len(refs) == 5
    assert vocab.decode(targets) == refs[0].split()
    # val image 3 is image 123 of the file: the first 120 are the training images
    raw = json.loads((folder / "dataset_coco.json").read_text())["images"][123]
    assert raw["sentences"][0]["raw"] == refs[0] and raw["split"] == "val" and raw["filename"] == "val_00123.png"


def test_same_seed_same_files_and_reuse(tmp_path):
    a = write_generated_captions(tmp_path / "a", train=6, val=2, test=2, size=32, seed=5)
    b = write_generated_captions(tmp_path / "b", train=6, val=2, test=2, size=32, seed=5)
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    stamp = (a / "dataset_coco.json").stat().st_mtime_ns
    write_generated_captions(tmp_path / "a", train=6, val=2, test=2, size=32, seed=5)
    assert (a / "dataset_coco.json").stat().st_mtime_ns == stamp


def test_bad_arguments(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "mine.txt").write_text("x")
    for call, match in [
        (lambda: write_generated_captions(tmp_path / "used", 2, 1, 1, 32), "is not empty"),
        (lambda: write_generated_captions(tmp_path / "z", train=0), "at least one image"),
        (lambda: render_scene(np.random.default_rng(0), size=16), "size must be >= 32"),
        (lambda: write_generated_captions(tmp_path / "z", colours=11), "colours must be 1..10 and shapes 1..5"),
        (lambda: render_scene(np.random.default_rng(0), shapes=0), "colours must be 1..10 and shapes 1..5"),
        (lambda: render_scene(np.random.default_rng(0), colours=1, shapes=1), "at least two objects"),
    ]:
        with pytest.raises(ValueError, match=match) as info:
            call()
        assert "\n" not in str(info.value)


def test_scene_subsets_split_the_test_images_by_kind_and_seen_combination(tmp_path):
    # 2 x 2 objects: 12 ordered pairs per relation, so 60 training scenes show some combinations and not all
    folder = write_generated_captions(tmp_path / "s", train=60, val=2, test=40, size=32, seed=2, colours=2, shapes=2)
    entries = json.loads((folder / "dataset_coco.json").read_text())["images"]

    def combination(scene):
        return scene["kind"], tuple((o["colour"], o["shape"]) for o in scene["objects"])

    trained = {combination(e["scene"]) for e in entries if e["split"] == "train"}
    test = [e["scene"] for e in entries if e["split"] == "test"]
    groups = scene_subsets(entries)
    assert sorted(i for kind in SCENE_KINDS for i in groups.get(kind, [])) == list(range(40))
    relations = [i for i, scene in enumerate(test) if scene["kind"] in ("left", "above")]
    assert groups["relation, seen"] == [i for i in relations if combination(test[i]) in trained]
    assert groups["relation, unseen"] == [i for i in relations if combination(test[i]) not in trained]
    assert all(groups.values())
