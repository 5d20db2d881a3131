"""Generated tiles: drawn from their object lists, questions answered from them, written for the real reader."""

import json
from collections import Counter, defaultdict

import numpy as np
import pytest

from recur_vision.data.generated_tiles import (
    BASE_OBJECTS,
    TileObject,
    render_tile,
    tile_questions,
    write_generated_rsvqa,
)
from recur_vision.data.rsvqa import question_tokens, read_rsvqa_image, read_rsvqa_split


def test_a_tile_is_drawn_from_its_object_list():
    pixels, objects, kind = render_tile(np.random.default_rng([0, 4]), size=64, metres_per_pixel=3.0)
    again, same, _ = render_tile(np.random.default_rng([0, 4]), size=64, metres_per_pixel=3.0)
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels, again) and objects == same and kind in ("urban", "rural")
    for obj in objects:
        x0, y0, x1, y1 = obj.bbox
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
        cells = obj.area_m2 / 9.0
        # the area is a whole number of the object's own pixels, inside its box
        assert cells == int(cells) and 1 <= cells <= (x1 - x0) * (y1 - y0)
        assert (obj.kind == "building") == (obj.shape in ("square", "rectangular", "circular"))


def test_what_the_list_says_is_what_the_image_shows():
    # water is the only blue thing drawn: tiles with a water area have blue pixels, the others none
    blue_with, blue_without = [], []
    for i in range(24):
        pixels, objects, _ = render_tile(np.random.default_rng([1, i]))
        rgb = pixels.astype(int)
        blue = int(((rgb[..., 2] > rgb[..., 0] + 40) & (rgb[..., 2] > rgb[..., 1] + 20)).sum())
        area = sum(o.area_m2 for o in objects if o.kind == "water area") / 9.0
        (blue_with if area else blue_without).append((blue, area))
    assert blue_with and blue_without
    assert all(blue >= 0.8 * area for blue, area in blue_with)
    assert all(blue <= 3 for blue, _ in blue_without)


def test_questions_are_answered_from_the_objects():
    objects = [
        TileObject("building", "residential", (2, 2, 6, 6), 144.0, "square"),
        TileObject("building", "commercial", (10, 2, 18, 6), 288.0, "rectangular"),
        TileObject("road", "", (0, 30, 64, 32), 1152.0),
        TileObject("land class", "forest", (40, 40, 60, 60), 2700.0),
    ]
    asked = tile_questions(
        np.random.default_rng(0), objects, 40, {"presence": 1, "comp": 1, "count": 1, "area": 1}, relation_probability=0
    )
    assert asked[0].question == "Is it a rural or an urban area?" and asked[0].answer == "rural"
    assert len({q.question.removesuffix("?").removesuffix(" in the image") for q in asked}) == len(asked)
    count = {"buildings": 2, "residential buildings": 1, "commercial buildings": 1, "roads": 1, "water areas": 0}
    count |= {"forests": 1, "farmlands": 0, "meadows": 0}
    area = {"buildings": 432, "residential buildings": 144, "commercial buildings": 288, "water areas": 0}
    area |= {"forests": 2700, "farmlands": 0, "meadows": 0}
    checked = Counter()
    for q in asked:
        text = q.question.removesuffix("?").removesuffix(" in the image")
        if text.startswith("How many ") and text.endswith(" are there") and text[9:-10] in count:
            assert q.answer == str(count[text[9:-10]]), q
            checked["count"] += 1
        elif text.startswith("Is there a ") and text[11:] + "s" in count:
            assert q.answer == ("yes" if count[text[11:] + "s"] else "no"), q
            checked["presence"] += 1
        elif text.startswith("What is the area covered by ") and text[28:] in area:
            assert q.answer == f"{area[text[28:]]}m2", q
            checked["area"] += 1
        elif text.startswith("Are there more ") and " than " in text:
            first, second = text[15:].split(" than ")
            if first in count and second in count:
                assert q.answer == ("yes" if count[first] > count[second] else "no"), q
                checked["comp"] += 1
    assert min(checked.values()) >= 1 and len(checked) == 4, checked


def test_relations_and_attributes_follow_the_templates():
    rng = np.random.default_rng(5)
    _, objects, _ = render_tile(rng)
    asked = tile_questions(rng, objects, 300, relation_probability=0.5)
    texts = " ".join(q.question for q in asked)
    assert any(rel in texts for rel in ("at the top of", "on the right of", "at the bottom of", "on the left of"))
    nouns = {b for b in BASE_OBJECTS if b != "land class"} | {"forest", "farmland", "meadow"}
    for q in asked:
        assert q.question.endswith("?")
        assert q.type == "rural_urban" or any(noun in q.question for noun in nouns)


@pytest.fixture(scope="module")
def lr_set(tmp_path_factory):
    return write_generated_rsvqa(tmp_path_factory.mktemp("rsvqa") / "lr", train=60, val=6, test=30, seed=1)


def test_the_real_reader_reads_the_generated_layout(lr_set):
    train = read_rsvqa_split("train", "lr", folder=lr_set)
    assert (lr_set / "LR_split_test_answers.json").is_file() and (lr_set / "LR_objects.json").is_file()
    assert read_rsvqa_image(lr_set / "Images_LR" / "0.tif").shape == (64, 64, 3)
    counts = train.type_counts()
    total = sum(counts.values())
    # one rural/urban question per tile; the rest as the LR training split's 39 / 30 / 30
    assert counts["rural_urban"] == 60 and total == 60 * 20
    rest = total - counts["rural_urban"]
    for kind, share in (("presence", 0.39), ("comp", 0.30), ("count", 0.30)):
        assert abs(counts[kind] / rest - share) < 0.05, counts
    assert {s.answer for s in train.samples if s.type == "count"} <= {"0", "between 0 and 10", "between 10 and 100"}
    tiles = json.loads((lr_set / "LR_objects.json").read_text())["tiles"]
    assert len(tiles) == 96 and {t["kind"] for t in tiles} == {"urban", "rural"}


def test_answers_depend_on_the_image(lr_set):
    train = read_rsvqa_split("train", "lr", folder=lr_set)
    test = read_rsvqa_split("test", "lr", folder=lr_set)
    by_question, by_type = defaultdict(Counter), defaultdict(Counter)
    for s in train.samples:
        by_question[" ".join(question_tokens(s.question))][s.answer] += 1
        by_type[s.type][s.answer] += 1
    # the best guess from the question alone: its most frequent training answer
    right, total = Counter(), Counter()
    for s in test.samples:
        seen = by_question.get(" ".join(question_tokens(s.question)))
        guess = (seen or by_type[s.type]).most_common(1)[0][0]
        right[s.type] += guess == s.answer
        total[s.type] += 1
    blind = {kind: right[kind] / total[kind] for kind in total}
    assert all(accuracy < 0.85 for accuracy in blind.values()), blind
    assert sum(right.values()) / sum(total.values()) < 0.75, blind
    # the most frequent questions get different answers on different tiles
    frequent = sorted(by_question.values(), key=lambda c: -sum(c.values()))[:5]
    assert all(len(answers) >= 2 for answers in frequent)


def test_hr_layout_and_reuse(tmp_path):
    folder = write_generated_rsvqa(tmp_path / "hr", train=4, val=1, test=1, layout="hr", questions_per_tile=30)
    mtime = (folder / "USGS_split_train_questions.json").stat().st_mtime_ns
    assert write_generated_rsvqa(tmp_path / "hr", train=4, val=1, test=1, layout="hr", questions_per_tile=30) == folder
    assert (folder / "USGS_split_train_questions.json").stat().st_mtime_ns == mtime
    split = read_rsvqa_split("train", "hr", folder=folder)
    assert "rural_urban" not in split.type_counts() and "area" in split.type_counts()
    assert all(s.answer.endswith("m2") for s in split.samples if s.type == "area")
    assert (folder / "Data" / "5.tif").is_file()
    with pytest.raises(ValueError, match="not empty and was not written by write_generated_rsvqa"):
        write_generated_rsvqa(tmp_path / "hr", train=5, val=1, test=1, layout="hr")
    with pytest.raises(ValueError, match="layout must be 'lr' or 'hr'"):
        write_generated_rsvqa(tmp_path / "x", layout="mr")
    with pytest.raises(ValueError, match="type_weights"):
        tile_questions(np.random.default_rng(0), [], 3, {"colour": 1.0})
