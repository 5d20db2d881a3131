"""The RSVQA reader on tiny files in the real layout: joins, binning, normalisation, vocabularies, errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from recur_core.data import DatasetNotFoundError
from recur_vision.data.rsvqa import (
    EOS,
    IGNORE_INDEX,
    MAX_QUESTION_LENGTH,
    UNK,
    AnswerVocabulary,
    QuestionVocabulary,
    RSVQADataset,
    bin_answer,
    build_vocabularies,
    collate_rsvqa,
    normalise_answer,
    question_tokens,
    read_rsvqa_image,
    read_rsvqa_split,
    rsvqa_split_files,
)

# (question id, image id, type, question, answer, question active)
QUESTIONS = [
    (0, 0, "rural_urban", "Is it a rural or an urban area?", "urban", True),
    (1, 0, "count", "How many buildings are there?", "42", True),
    (2, 0, "presence", "Is there a water area on the left of a road?", "yes", True),
    (3, 0, "count", "How many roads are there?", "0", False),
    (4, 1, "count", "What is the number of roads?", "7", True),
    (5, 1, "comp", "Are there more roads than buildings?", "no", True),
    (6, 2, "presence", "Is a road present?", "yes", True),
]


def _tile(path, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="TIFF")
    return pixels


def write_split(folder, prefix="LR", split="train", image_dir="Images_LR", questions=QUESTIONS, image_active=(1, 1, 0)):
    """The three JSON files of a split and one real .tif per image."""
    (folder / image_dir).mkdir(parents=True, exist_ok=True)
    images = [
        {"id": i, "active": bool(active), "questions_ids": [q[0] for q in questions if q[1] == i]}
        for i, active in enumerate(image_active)
    ]
    rows = [
        {"id": q, "img_id": img, "type": t, "question": text, "answers_ids": [q], "active": active}
        for q, img, t, text, _, active in questions
    ]
    answers = [{"id": q, "question_id": q, "answer": a, "active": active} for q, _, _, _, a, active in questions]
    for kind, content in (("images", images), ("questions", rows), ("answers", answers)):
        (folder / f"{prefix}_split_{split}_{kind}.json").write_text(json.dumps({kind: content}))
    return {i: _tile(folder / image_dir / f"{i}.tif", i) for i in range(len(image_active))}


def test_reads_only_active_rows_with_binned_answers(tmp_path):
    write_split(tmp_path)
    split = read_rsvqa_split("train", "lr", folder=tmp_path)
    # image 2 is inactive, question 3 is inactive
    assert [s.question_id for s in split.samples] == [0, 1, 2, 4, 5]
    assert [s.answer for s in split.samples] == ["urban", "between 10 and 100", "yes", "between 0 and 10", "no"]
    assert split.samples[1].raw_answer == "42" and split.samples[1].image_id == 0
    assert split.type_counts() == {"count": 2, "rural_urban": 1, "presence": 1, "comp": 1}
    assert split.image_folder == tmp_path / "Images_LR"


def test_hr_layout_keeps_counts_and_bins_areas(tmp_path):
    questions = [
        (0, 0, "count", "How many buildings are there?", "42", True),
        (1, 0, "area", "What is the area covered by buildings?", "1234m2", True),
    ]
    write_split(tmp_path, "USGS", "test_phili", "Data", questions, image_active=(1,))
    split = read_rsvqa_split("test_phili", "hr", folder=tmp_path)
    assert [s.answer for s in split.samples] == ["42", "more than 1000m2"]


@pytest.mark.parametrize(
    "token, bin_counts, expected",
    [
        ("0", True, "0"),
        ("1", True, "between 0 and 10"),
        ("10", True, "between 0 and 10"),
        ("11", True, "between 10 and 100"),
        ("100", True, "between 10 and 100"),
        ("101", True, "between 100 and 1000"),
        ("1000", True, "between 100 and 1000"),
        ("1001", True, "more than 1000"),
        ("1001", False, "1001"),
        ("0m2", False, "0m2"),
        ("7m2", False, "between 0m2 and 10m2"),
        ("55m2", True, "between 10m2 and 100m2"),
        ("1000m2", False, "between 100m2 and 1000m2"),
        ("1001m2", True, "more than 1000m2"),
        ("yes", True, "yes"),
    ],
)
def test_binning_follows_the_official_encoder(token, bin_counts, expected):
    assert bin_answer(token, bin_counts) == expected


def test_question_normalisation_and_encoding():
    assert question_tokens("Is there a Water area? ") == ["is", "there", "a", "water", "area"]
    assert question_tokens("Is it  rural.") == ["is", "it", "rural"]
    # only one final mark goes, as the official encoder
    assert question_tokens("Why??") == ["why?"]
    assert normalise_answer("Yes", True) == "yes"
    vocab = QuestionVocabulary.build(["Is there a road?", "Is there a water area?", "Is a road present?"])
    assert vocab.words[:2] == ("<EOS>", "<unk>")
    # counts: is 3, there 2, a 3, road 2 ...; ties keep first-seen order
    assert vocab.words[2:6] == ("is", "a", "there", "road")
    ids = vocab.encode("Is there a forest?")
    assert ids == [vocab.words.index("is"), vocab.words.index("there"), vocab.words.index("a"), UNK, EOS]
    assert vocab.decode(ids) == ["is", "there", "a", "<unk>"]
    long_ids = vocab.encode(" ".join(["road"] * 25) + "?")
    assert len(long_ids) == MAX_QUESTION_LENGTH and EOS not in long_ids
    assert len(vocab.encode(" ".join(["road"] * 18))) == 19


def test_answer_vocabulary_top_k_with_eos_at_zero():
    answers = ["yes"] * 3 + ["no"] * 3 + ["0"] * 2 + ["rural"]
    vocab = AnswerVocabulary.build(answers, max_answers=3)
    assert vocab.words == ("<EOS>", "yes", "no", "0")
    assert vocab.encode("no") == 2 and vocab.encode("rural") == IGNORE_INDEX
    assert vocab.decode(1) == "yes"


def test_vocabularies_come_from_the_training_split(tmp_path):
    write_split(tmp_path)
    questions, answers = build_vocabularies(read_rsvqa_split("train", folder=tmp_path))
    assert "between 10 and 100" in answers.words and "42" not in answers.words
    # the inactive question's words are not counted ("present" is only in image 2's question)
    assert "present" not in questions.words and "water" in questions.words


def test_dataset_items_and_collation(tmp_path):
    tiles = write_split(tmp_path)
    split = read_rsvqa_split("train", folder=tmp_path)
    questions, answers = build_vocabularies(split)
    data = RSVQADataset(split, questions, answers)
    item = data[1]
    assert item.image.shape == (3, 32, 32) and item.image.dtype == torch.float32
    expected = (
        torch.from_numpy(tiles[0]).permute(2, 0, 1).float() / 255 - torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    ) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    torch.testing.assert_close(item.image, expected)
    assert item.question.tolist() == questions.encode("How many buildings are there?")
    assert int(item.answer) == answers.encode("between 10 and 100") and item.type == "count"
    batch = collate_rsvqa([data[0], data[2]])
    assert batch.images.shape == (2, 3, 32, 32)
    assert batch.lengths.tolist() == [9, 12] and batch.questions.shape == (2, 12)
    assert (batch.questions[0, 9:] == EOS).all() and batch.types == ["rural_urban", "presence"]
    resized = RSVQADataset(split, questions, answers, image_size=64, mean=None, std=None)[0].image
    assert resized.shape == (3, 64, 64) and float(resized.min()) >= 0.0 and float(resized.max()) <= 1.0


def test_augmentation_is_seeded_and_spares_relational_questions(tmp_path):
    write_split(tmp_path)
    split = read_rsvqa_split("train", folder=tmp_path)
    questions, answers = build_vocabularies(split)
    plain = RSVQADataset(split, questions, answers, mean=None, std=None)
    augmented = RSVQADataset(split, questions, answers, mean=None, std=None, augment=True, seed=3)
    # question 2 says "left": never turned; the others are turned in some epoch, the same way every time
    assert all(torch.equal(augmented[(epoch, 2)].image, plain[2].image) for epoch in range(8))
    changed = [not torch.equal(augmented[(epoch, 1)].image, plain[1].image) for epoch in range(8)]
    assert any(changed)
    assert torch.equal(augmented[(5, 1)].image, augmented[(5, 1)].image)
    # a turn keeps the pixels, only moves them
    assert torch.equal(augmented[(0, 1)].image.flatten().sort()[0], plain[1].image.flatten().sort()[0])


def test_an_answer_of_no_question_is_a_one_line_error(tmp_path):
    write_split(tmp_path)
    path = tmp_path / "LR_split_train_answers.json"
    rows = json.loads(path.read_text())
    rows["answers"].append({"id": 99, "question_id": 1234, "answer": "yes", "active": True})
    path.write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=r"answer 99 belongs to question 1234, which no question") as err:
        read_rsvqa_split("train", folder=tmp_path)
    assert "\n" not in str(err.value)


def test_a_question_naming_a_missing_answer_is_an_error(tmp_path):
    write_split(tmp_path)
    path = tmp_path / "LR_split_train_questions.json"
    rows = json.loads(path.read_text())
    rows["questions"][1]["answers_ids"] = [77]
    path.write_text(json.dumps(rows))
    with pytest.raises(ValueError, match="question 1 names answer 77"):
        read_rsvqa_split("train", folder=tmp_path)


def test_bad_json_and_missing_keys_name_the_file(tmp_path):
    write_split(tmp_path)
    (tmp_path / "LR_split_train_images.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"LR_split_train_images\.json: not valid JSON"):
        read_rsvqa_split("train", folder=tmp_path)
    (tmp_path / "LR_split_train_images.json").write_text(json.dumps({"images": [{"id": 0, "active": True}]}))
    with pytest.raises(ValueError, match="images row 0 has no 'questions_ids'"):
        read_rsvqa_split("train", folder=tmp_path)


def test_an_unreadable_tif_names_the_file_and_the_fix(tmp_path):
    write_split(tmp_path)
    bad = tmp_path / "Images_LR" / "1.tif"
    bad.write_bytes(b"II*\x00 this is not a tiff")
    with pytest.raises(
        ValueError, match=r"cannot read RSVQA tile .*1\.tif .*unpack the rsvqa-lr images archive"
    ) as err:
        read_rsvqa_image(bad)
    assert "\n" not in str(err.value)
    split = read_rsvqa_split("train", folder=tmp_path)
    data = RSVQADataset(split, *build_vocabularies(split))
    with pytest.raises(ValueError, match=r"1\.tif"):
        data[3]
    (tmp_path / "Images_LR" / "0.tif").unlink()
    with pytest.raises(FileNotFoundError, match=r"0\.tif not found"):
        data[0]


def test_missing_split_files_name_the_layout_and_the_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"LR_split_val_images.json not found .*Images_LR/\{id\}.tif"):
        rsvqa_split_files("val", "lr", folder=tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"RSVQA LR .*RSVQA_LR.*zenodo.org/records/6344334") as err:
        read_rsvqa_split("test", "lr", root=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"valid splits: train, val, test$"):
        rsvqa_split_files("test_phili", "lr", folder=tmp_path)
    with pytest.raises(ValueError, match="unknown RSVQA variant"):
        rsvqa_split_files("train", "xl", folder=tmp_path)


def test_the_real_lr_test_split_when_present(dataset_root):
    folder = dataset_root("rsvqa-lr", "LR_split_test_questions.json", "Images_LR")
    split = read_rsvqa_split("test", "lr", root=folder.parent)
    assert set(split.type_counts()) == {"presence", "comp", "count", "rural_urban"}
    assert {s.answer for s in split.samples if s.type == "count"} <= {
        "0",
        "between 0 and 10",
        "between 10 and 100",
        "between 100 and 1000",
        "more than 1000",
    }
    assert read_rsvqa_image(split.image_folder / f"{split.samples[0].image_id}.tif").shape == (256, 256, 3)
