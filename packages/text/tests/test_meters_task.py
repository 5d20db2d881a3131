"""The poem-meter DataModule and task pieces: batch encoding, splits, the loss weights, the figure, errors."""

import csv

import pytest
import torch

from recur_text.data.alphabets import ARABIC, ENGLISH
from recur_text.data.encodings import ENCODERS, token_indices
from recur_text.data.meters import read_apcd_csv
from recur_text.meters import (
    EncodedVerses,
    MeterData,
    encoding_table,
    imbalance_weights,
    meter_labels,
    plot_confusion,
)

APCD_SAMPLE = "Code/Arabic_Poetry/src/lib/full_sample_100.csv"


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    # one generated corpus for the tests of this module
    folder = tmp_path_factory.getbasetemp() / "meters-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.mark.parametrize("encoding", ["one_hot", "binary", "two_hot"])
def test_a_batch_holds_what_the_encoders_give(dataset_root, encoding):
    folder = dataset_root("apcd", APCD_SAMPLE)
    verses = read_apcd_csv(folder / APCD_SAMPLE, diacritics=True)
    data = EncodedVerses(verses, encoding)
    items = [data[i] for i in (0, 7, 500, 1500)]
    batch = data.collate(items)
    assert batch["inputs"].shape[0] == 4 and batch["targets"].tolist() == [label for _, label in items]
    for row, index in enumerate((0, 7, 500, 1500)):
        expected = ENCODERS[encoding](verses.texts[index], ARABIC)
        length = int(batch["lengths"][row])
        assert length == len(expected)
        torch.testing.assert_close(batch["inputs"][row, :length], expected, rtol=0, atol=0)
        assert not batch["inputs"][row, length:].any()


@pytest.mark.parametrize("encoding", ["one_hot", "binary", "two_hot"])
def test_the_english_table_matches_the_encoders(encoding):
    text = "the hermit's son"
    table = encoding_table(encoding, ENGLISH)
    torch.testing.assert_close(table[token_indices(text, ENGLISH) + 1], ENCODERS[encoding](text, ENGLISH))


def test_imbalance_weights_as_the_paper():
    weights = imbalance_weights(torch.tensor([100, 50, 0, 25]))
    inverse = torch.tensor([1 / 100, 1 / 50, 0.0, 1 / 25])
    torch.testing.assert_close(weights, inverse / inverse.sum())
    with pytest.raises(ValueError, match="holds no verse"):
        imbalance_weights(torch.zeros(3))


def test_generated_splits_are_disjoint_and_limited(cache):
    data = MeterData(lines_per_meter=40, train_limit=50, seed=2)
    sizes = {split: len(data.dataset(split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 50, "val": 16, "test": 16}
    assert data.input_dim == 28 and data.num_classes == 4
    assert data.verses("train").meters == ("iambic", "trochaic", "anapaestic", "dactylic")
    assert next(iter(data.loader("train")))["inputs"].shape[-1] == 28


def test_metrec_uses_the_official_test_split(dataset_root):
    dataset_root("metrec", "baits.zip")
    data = MeterData("metrec", encoding="two_hot", diacritics=True, train_limit=100, test_limit=30)
    assert len(data.dataset("val")) == 4712 and len(data.dataset("train")) == 100
    assert len(data.dataset("test")) == 30 and data.input_dim == 41 and data.num_classes == 14


def test_confusion_figure_and_meter_labels(tmp_path):
    labels = meter_labels(("الطويل", "المتدارك", "saree"))
    assert labels == ["tawil", "mutadarik", "saree"]
    path = tmp_path / "confusion.png"
    plot_confusion(torch.tensor([[5, 1, 0], [0, 3, 3], [0, 0, 0]]), labels, path, "3 meters")
    assert path.stat().st_size > 1000


def _csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_bad_options_and_files_are_one_line(tmp_path, cache):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    verses = [["the hermit cries", "iambic"]] * 5
    unknown = _csv(tmp_path / "unknown.csv", ["Verse", "Meter"], [["he goes", "spondee"]])
    few = _csv(tmp_path / "few.csv", ["Verse", "Meter"], verses[:2])
    cases = [
        (lambda: MeterData("poems"), "unknown dataset 'poems'"),
        (lambda: MeterData(encoding="three_hot"), "unknown encoding 'three_hot'"),
        (lambda: MeterData(diacritics=True), "diacritics applies to the Arabic datasets"),
        (lambda: MeterData(files=["a.csv"]), "files applies to the epd and apcd datasets"),
        (lambda: MeterData(val_fraction=0.7), "val_fraction must lie in (0, 0.5)"),
        (lambda: MeterData(train_limit=0), "train_limit must be a positive number"),
        (lambda: MeterData("epd", files=[str(empty)]).dataset("train"), "is an empty CSV"),
        (lambda: MeterData("epd", files=[unknown]).dataset("train"), "meter 'spondee' is not one of the 4 EPD"),
        (lambda: MeterData("epd", files=[few]).dataset("train"), "2 verses are too few to split"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value) and "\n" not in str(error.value), str(error.value)
