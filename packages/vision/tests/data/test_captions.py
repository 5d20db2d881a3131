import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from recur_core.data import DatasetNotFoundError
from recur_vision.data.captions import (
    EOS,
    IGNORE_INDEX,
    UNK,
    Captions,
    Vocabulary,
    caption_splits,
    caption_streams,
    coco_karpathy_json,
    collate_captions,
    read_caption_image,
    read_karpathy_json,
)

SIZE = (24, 32)  # H, W


def write_image(path: Path, mode: str = "RGB", size=SIZE, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    bands = len(Image.new(mode, (1, 1)).getbands())
    array = np.full((size[0], size[1], bands), value, dtype=np.uint8).squeeze(-1 if bands == 1 else ())
    Image.fromarray(array, mode=mode if mode != "P" else None).save(path)
    return path


def entry(filepath, filename, split, captions, cocoid):
    return {
        "filepath": filepath,
        "filename": filename,
        "split": split,
        "cocoid": cocoid,
        "sentences": [{"tokens": c.split(), "raw": c.capitalize() + "."} for c in captions],
    }


def write_karpathy(root: Path, images=None) -> Path:
    """A dataset_coco.json in Karpathy's layout with its images under <root>/<filepath>/<filename>."""
    if images is None:
        images = [
            entry("train2014", "COCO_train2014_000000000009.jpg", "train", ["a dog on a bench", "A dog sits"], 9),
            entry("val2014", "COCO_val2014_000000000042.jpg", "restval", ["a cat on a mat", "two dogs run"], 42),
            entry("val2014", "COCO_val2014_000000000073.jpg", "val", ["a red bus"], 73),
            entry("val2014", "COCO_val2014_000000000074.jpg", "test", ["a dog and a zebra"], 74),
        ]
    for image in images:
        write_image(root / image["filepath"] / image["filename"])
    path = root / "dataset_coco.json"
    path.write_text(json.dumps({"images": images, "dataset": "coco"}))
    return path


def one_line_error(kind, call, match):
    with pytest.raises(kind, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_reads_the_karpathy_layout(tmp_path):
    images = read_karpathy_json(write_karpathy(tmp_path))
    assert [i.split for i in images] == ["train", "restval", "val", "test"]
    assert images[0].path == tmp_path / "train2014" / "COCO_train2014_000000000009.jpg"
    assert images[0].image_id == 9
    assert images[0].captions == (("a", "dog", "on", "a", "bench"), ("a", "dog", "sits"))  # lower-cased
    assert images[0].raw[0] == "A dog on a bench."
    splits = caption_splits(images)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    assert len(caption_splits(images, restval_as_train=False)["restval"]) == 1


def test_vocabulary_follows_lrcn():
    captions = [["dog"]] * 5 + [["cat"]] * 4 + [["ant", "bee"]] * 6
    vocab = Vocabulary.build(captions, min_count=5)
    # EOS 0, <unk> 1, then by decreasing count, ties alphabetical; cat (4 < 5) is out
    assert vocab.words == ("<EOS>", "<unk>", "ant", "bee", "dog")
    assert EOS == 0 and UNK == 1
    assert vocab.encode(["Dog", "cat", "bee"]) == [4, UNK, 3]
    assert vocab.decode([4, 3, EOS, 2]) == ["dog", "bee"]
    assert vocab.decode([4, EOS, 2], stop_at_eos=False) == ["dog", "<EOS>", "ant"]
    assert vocab.decode([2, IGNORE_INDEX]) == ["ant"]
    one_line_error(ValueError, lambda: vocab.decode([9]), "outside the vocabulary")


def test_vocabulary_round_trip(tmp_path):
    vocab = Vocabulary(["b", "a"])
    assert Vocabulary.load(vocab.save(tmp_path / "vocabulary.txt")) == vocab
    (tmp_path / "bad.txt").write_text("a\nb\n")
    one_line_error(ValueError, lambda: Vocabulary.load(tmp_path / "bad.txt"), "starts with")


def test_streams_shift_by_one_and_stop_at_20_steps():
    assert caption_streams([5, 6, 7]) == ([EOS, 5, 6, 7], [5, 6, 7, EOS])
    words19 = list(range(2, 21))
    inputs, targets = caption_streams(words19)
    assert len(inputs) == len(targets) == 20 and targets[-1] == EOS
    words25 = list(range(2, 27))
    inputs, targets = caption_streams(words25)
    # a long caption is cut to 20 steps and loses its EOS, as in the official code
    assert inputs == [EOS, *words25[:19]] and targets == words25[:20]


def test_dataset_items_and_batches(tmp_path):
    splits = caption_splits(read_karpathy_json(write_karpathy(tmp_path)))
    vocab = Vocabulary.from_images(splits["train"], min_count=1)
    data = Captions(splits["train"], vocab, image_size=SIZE, resize=False)
    assert len(data) == 4  # one item per (image, caption) pair
    image, inputs, targets, refs = data[0]
    assert image.shape == (3, *SIZE) and image.dtype == torch.float32
    assert torch.allclose(image, torch.full_like(image, 100 / 255))
    assert vocab.decode(inputs[1:]) == ["a", "dog", "on", "a", "bench"] and inputs[0] == EOS
    assert targets[-1] == EOS and targets[:-1].tolist() == inputs[1:].tolist()
    assert refs == ["a dog on a bench", "a dog sits"]
    batch = collate_captions([data[1], data[0]])
    assert batch["images"].shape == (2, 3, *SIZE) and batch["lengths"].tolist() == [4, 6]
    assert (
        batch["input_ids"][0, 4:].tolist() == [EOS, EOS] and batch["target_ids"][0, 4:].tolist() == [IGNORE_INDEX] * 2
    )
    # evaluation: one item per image, unknown words become <unk>
    test = Captions(splits["test"], vocab, items="images", image_size=(16, 16))
    assert len(test) == 1 and test[0][0].shape == (3, 16, 16)
    assert UNK in test[0][1].tolist()


def test_image_policy(tmp_path):
    grey = read_caption_image(write_image(tmp_path / "grey.png", "L"))
    assert grey.shape == (3, *SIZE) and torch.equal(grey[0], grey[2])
    palette = tmp_path / "palette.png"
    Image.new("RGB", (8, 6), (10, 20, 30)).convert("P").save(palette)
    assert read_caption_image(palette).shape == (3, 6, 8)
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(cmyk)
    assert read_caption_image(cmyk)[0].mean() > 0.9  # red
    one_line_error(ValueError, lambda: read_caption_image(write_image(tmp_path / "a.png", "RGBA")), "mode RGBA")
    transparent = tmp_path / "transparent.png"
    Image.new("RGB", (8, 6)).convert("P").save(transparent, transparency=0)
    one_line_error(ValueError, lambda: read_caption_image(transparent), "mode P")
    deep = tmp_path / "deep.png"
    Image.new("I;16", (8, 6), 4000).save(deep)
    one_line_error(ValueError, lambda: read_caption_image(deep), "mode I")
    wrong = write_image(tmp_path / "big.png", size=(30, 30))
    one_line_error(ValueError, lambda: read_caption_image(wrong, SIZE, resize=False), "is 30x30, expected 24x32")
    assert read_caption_image(wrong, SIZE).shape == (3, *SIZE)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    one_line_error(ValueError, lambda: read_caption_image(tmp_path / "junk.png"), "not an image")


def test_a_json_without_sentences(tmp_path):
    images = [{"filepath": "val2014", "filename": "x.jpg", "split": "val", "cocoid": 1}]
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"images": images}))
    one_line_error(ValueError, lambda: read_karpathy_json(path), r"image 0 \(x.jpg\) has no 'sentences'")
    images[0]["sentences"] = [{"raw": "a cat"}]
    path.write_text(json.dumps({"images": images}))
    one_line_error(ValueError, lambda: read_karpathy_json(path), "has no 'tokens'")
    images[0]["sentences"] = [{"tokens": ["a"]}]
    images[0]["split"] = "dev"
    path.write_text(json.dumps({"images": images}))
    one_line_error(ValueError, lambda: read_karpathy_json(path), "split 'dev'")
    path.write_text(json.dumps({"annotations": []}))
    one_line_error(ValueError, lambda: read_karpathy_json(path), "no 'images' list")
    path.write_text("{not json")
    one_line_error(ValueError, lambda: read_karpathy_json(path), "not a JSON file")
    one_line_error(FileNotFoundError, lambda: read_karpathy_json(tmp_path / "absent.json"), "not found")


def test_a_missing_image(tmp_path):
    path = write_karpathy(tmp_path)
    (tmp_path / "val2014" / "COCO_val2014_000000000073.jpg").unlink()
    images = caption_splits(read_karpathy_json(path))
    vocab = Vocabulary.from_images(images["train"], min_count=1)
    message = one_line_error(FileNotFoundError, lambda: Captions(images["val"], vocab), "1 image file")
    assert "COCO_val2014_000000000073.jpg" in message
    one_line_error(ValueError, lambda: Captions(images["train"], vocab, items="words"), "items must be")


def test_missing_dataset_says_how_to_get_it(tmp_path):
    message = one_line_error(DatasetNotFoundError, lambda: coco_karpathy_json(tmp_path), "dataset_coco.json")
    assert "caption_datasets.zip" in message


def test_the_real_karpathy_json_when_present(dataset_root):
    folder = dataset_root("coco-karpathy", "dataset_coco.json")
    splits = caption_splits(read_karpathy_json(folder / "dataset_coco.json"))
    assert len(splits["val"]) == 5000 and len(splits["test"]) == 5000
    assert all(image.split in ("train", "restval") for image in splits["train"])
