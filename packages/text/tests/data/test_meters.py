import csv
import zipfile

import pytest
import torch

from recur_text.data.alphabets import ARABIC, ENGLISH, clean_verses
from recur_text.data.encodings import token_indices
from recur_text.data.meters import (
    APCD_METERS,
    EMPTY_VERSE,
    EPD_METERS,
    MeterVerses,
    read_apcd_csv,
    read_epd_csv,
    read_metrec,
)

METREC_METERS = "saree kamel mutakareb mutadarak munsareh madeed mujtath ramal baseet khafeef taweel wafer hazaj rajaz"
APCD_HEADER = ["البيت", "الشطر الأيسر", "الشطر الأيمن", "البحر", "الشاعر"]
FIRST, SECOND = "قِفا نَبكِ مِن ذِكرى حَبيبٍ وَمَنزِلِ", "بِسِقطِ اللِوى بَينَ الدَخولِ فَحَومَلِ"


def round_trips(verses: MeterVerses) -> bool:
    """Cleaning a cleaned verse changes nothing, and its tokens spell it back."""
    text = verses.texts[0]
    tokens = verses.alphabet.tokens()
    again = clean_verses([text], verses.alphabet, diacritics=True).texts
    return again == [text] and "".join(tokens[i] for i in token_indices(text, verses.alphabet)) == text


# the real files


@pytest.mark.parametrize(
    ("split", "size", "first_counts"), [("train", 47_124, [4269, 4240, 4242]), ("test", 8_316, [731, 760, 758])]
)
def test_metrec_official_split(dataset_root, split, size, first_counts):
    folder = dataset_root("metrec", "baits.zip")
    verses = read_metrec(split, path=folder / "baits.zip")
    assert len(verses) == size and verses.meters == tuple(METREC_METERS.split())
    assert verses.counts().sum() == size and verses.counts()[:3].tolist() == first_counts
    assert verses.dropped["\u0640"] > 0 and not verses.mapped  # tatweel is outside the alphabet
    assert all(verses.texts) and round_trips(verses)


def test_metrec_with_diacritics_keeps_them(dataset_root):
    folder = dataset_root("metrec", "baits.zip")
    plain = read_metrec("test", path=folder / "baits.zip")
    marked = read_metrec("test", path=folder / "baits.zip", diacritics=True)
    assert any(set(text) & set(ARABIC.diacritics) for text in marked.texts)
    assert not any(set(text) & set(ARABIC.marks) for text in plain.texts)
    assert round_trips(marked) and torch.equal(plain.labels, marked.labels)
    # every cleaned verse encodes (a mark the cleaning let through would be an error here)
    for verses in (plain, marked):
        assert sum(len(token_indices(text, ARABIC)) for text in verses.texts) > 40 * len(verses)


def test_metrec_from_the_data_root(dataset_root, monkeypatch):
    folder = dataset_root("metrec", "baits.zip")
    monkeypatch.setenv("RECUR_DATA", str(folder.parent))
    assert len(read_metrec("test")) == 8_316


def test_apcd_balanced_sample(dataset_root):
    path = "Code/Arabic_Poetry/src/lib/full_sample_100.csv"
    verses = read_apcd_csv(dataset_root("apcd", path) / path)
    marked = read_apcd_csv(dataset_root("apcd", path) / path, diacritics=True)
    assert all(len(token_indices(text, ARABIC)) for text in marked.texts)
    # 100 verses per meter; one row (line 1509, mutadarik) has no verse
    assert len(verses) == 1_599 and verses.meters == APCD_METERS
    assert verses.counts().tolist() == [100] * 15 + [99] and verses.skipped == {EMPTY_VERSE: 1}
    assert round_trips(verses)


def test_apcd_scrapes_with_hemistich_columns(dataset_root):
    folder = dataset_root("apcd")
    mojtaz = read_apcd_csv(folder / "Arabic_Poetry_RNN/data/AlDewaan/Almojtaz.csv")
    assert len(mojtaz) == 2_085 and mojtaz.counts()[APCD_METERS.index("المجتث")] == 2_085
    # the reversed column order and the BOM of New_Peotry; the right hemistich is read first
    alfiyya = read_apcd_csv(folder / "Arabic_Poetry_RNN/data/New_Peotry/Alfyeet_Ibn_Malek_Alrejz.csv")
    assert len(alfiyya) == 987 and alfiyya.texts[0] == "كلامنا لفظ مفيد كاستقم واسم وفعل ثم حرف الكلم"
    assert alfiyya.mapped == {"\ufe7c": 6}
    assert round_trips(mojtaz) and round_trips(alfiyya)


def test_epd_files(dataset_root):
    folder = dataset_root("apcd")
    epd = read_epd_csv(folder / "English_Poetry_RNN/downsampled_iambic.csv")
    assert len(epd) == 17_743 and epd.meters == EPD_METERS and epd.counts().tolist() == [5550, 5418, 5378, 1397]
    assert epd.alphabet is ENGLISH and round_trips(epd)
    six = read_epd_csv(folder / "English_Poetry_RNN/data/english_dataset.csv", other_meters="skip")
    assert len(six) == 6_170 and six.skipped == {"pyrrhic": 740, "spondee": 195}
    with pytest.raises(ValueError, match="meter 'pyrrhic' is not one of the 4 EPD meters"):
        read_epd_csv(folder / "English_Poetry_RNN/data/english_dataset.csv")


# tiny files in the real formats


def write_metrec(path, lines, labels=METREC_METERS):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("final_baits/", "")
        archive.writestr("final_baits/labels.txt", labels.replace(" ", "\n"))
        archive.writestr("final_baits/train.txt", "\ufeff" + "\n".join(lines) + "\n")
        archive.writestr("final_baits/test.txt", "")
    return path


def write_csv(path, header, rows, bom=False):
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_tiny_metrec_zip(tmp_path):
    path = write_metrec(tmp_path / "baits.zip", [f"10 {FIRST} # {SECOND}", "", "13 يا ليلُ الصبُّ"])
    verses = read_metrec("train", path=path, hemistich_separator=" ")
    assert verses.labels.tolist() == [10, 13] and verses.meters[10] == "taweel"
    assert verses.texts[0] == clean_verses([f"{FIRST} {SECOND}"], ARABIC).texts[0]
    verses.encoding = "two_hot"
    encoded, label = verses[0]
    assert encoded.shape == (len(verses.texts[0]), 41) and label == 10


def test_tiny_apcd_and_epd_csvs(tmp_path):
    scrape = write_csv(
        tmp_path / "scrape.csv", APCD_HEADER, [[f"{FIRST} {SECOND}", SECOND, FIRST, "الطويل", "امرؤ القيس"]]
    )
    verses = read_apcd_csv(scrape, diacritics=True)
    assert verses.labels.tolist() == [0] and verses.texts == clean_verses([f"{FIRST} {SECOND}"], ARABIC, True).texts
    sample = write_csv(
        tmp_path / "sample.csv", ["", "Bayt_Text", "Bahr"], [[0, FIRST, "الكامل"], [1, SECOND, "المتدارك"]]
    )
    assert read_apcd_csv(sample).labels.tolist() == [4, 15]
    old = write_csv(
        tmp_path / "dataset.csv", ["Poem_Line", "Mater"], [["The Curfew tolls", "Iambic"], ["Go", "Dactyl"]]
    )
    assert read_epd_csv(old).labels.tolist() == [0, 3]


# one-line errors


def assert_one_line(raised):
    assert "\n" not in str(raised.value)


def test_an_empty_csv(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    header_only = write_csv(tmp_path / "header.csv", ["", "Verse", "Meter"], [])
    for path in (tmp_path / "empty.csv", header_only):
        with pytest.raises(ValueError, match="is an empty CSV") as raised:
            read_epd_csv(path)
        assert_one_line(raised)


def test_an_unknown_meter_label(tmp_path):
    path = write_csv(tmp_path / "a.csv", ["Bayt_Text", "Bahr"], [[FIRST, "الطويل"], [SECOND, "الدوبيت"]])
    with pytest.raises(ValueError, match=r"a.csv line 3: meter 'الدوبيت' is not one of the 16 APCD meters") as raised:
        read_apcd_csv(path)
    assert_one_line(raised)
    assert read_apcd_csv(path, other_meters="skip").skipped == {"الدوبيت": 1}
    only_other = write_csv(tmp_path / "b.csv", ["Verse", "Meter"], [["go", "spondee"]])
    with pytest.raises(ValueError, match="has no verse of the 4 meters"):
        read_epd_csv(only_other, other_meters="skip")
    for label in ("14", "x"):
        zipped = write_metrec(tmp_path / f"baits{label}.zip", [f"{label} {FIRST} # {SECOND}"])
        with pytest.raises(ValueError, match=f"line 1: label '{label}' is not a meter index 0-13") as raised:
            read_metrec("train", path=zipped)
        assert_one_line(raised)


def test_a_missing_column(tmp_path):
    path = write_csv(tmp_path / "a.csv", ["Bayt_Text", "meter"], [[FIRST, "الطويل"]])
    with pytest.raises(ValueError, match=r"has no meter column \(البحر or Bahr\); its header is Bayt_Text, meter"):
        read_apcd_csv(path)
    path = write_csv(tmp_path / "b.csv", ["Line", "Meter"], [["go", "iambic"]])
    with pytest.raises(ValueError, match=r"has no verse column \(Verse or Poem_Line\)"):
        read_epd_csv(path)


def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="recur data fetch apcd") as raised:
        read_apcd_csv(tmp_path / "missing.csv")
    assert_one_line(raised)
    with pytest.raises(FileNotFoundError, match=r"MetRec zip .* not found"):
        read_metrec("test", path=tmp_path / "baits.zip")
    with pytest.raises(FileNotFoundError, match=r"dataset 'metrec' not found under .*recur data fetch metrec"):
        read_metrec("test", root=tmp_path)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("final_baits/labels.txt", "taweel")
    with pytest.raises(FileNotFoundError, match=r"has no final_baits/test\.txt"):
        read_metrec("test", path=tmp_path / "other.zip")


def test_wrong_options_and_formats(tmp_path):
    (tmp_path / "baits.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="is not a zip file"):
        read_metrec("train", path=tmp_path / "baits.zip")
    with pytest.raises(ValueError, match="MetRec split 'valid'"):
        read_metrec("valid", path=tmp_path / "baits.zip")
    with pytest.raises(ValueError, match="hemistich separator '#' holds characters outside the arabic alphabet"):
        read_apcd_csv(tmp_path / "any.csv", hemistich_separator="#")
    with pytest.raises(ValueError, match="holds no verses"):
        read_metrec("test", path=write_metrec(tmp_path / "b.zip", ["1 a # b"]))
    with pytest.raises(ValueError, match="encoding 'ascii'"):
        MeterVerses(["a"], torch.tensor([0]), EPD_METERS, ENGLISH, encoding="ascii")
