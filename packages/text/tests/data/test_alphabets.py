import pytest

from recur_text.data.alphabets import (
    ARABIC,
    DAMMA,
    ENGLISH,
    FATHA,
    FATHATAN,
    KASRA,
    NOON,
    SHADDA,
    SUKUN,
    Alphabet,
    clean_verses,
    join_hemistichs,
)


def test_the_papers_alphabet_sizes():
    # Yousef et al.: 36 Arabic letters x (4 diacritics + none) + space = 181 one-hot columns in 8 bits;
    # 28 English symbols in 5 bits; two-hot 37 symbols + 4 diacritics = 41
    assert len(ARABIC.letters) == 36 and ARABIC.size == 181 and ARABIC.bits == 8
    assert len(ARABIC.symbols) + len(ARABIC.diacritics) == 41
    assert ENGLISH.size == 28 and ENGLISH.bits == 5
    assert len(ARABIC.tokens()) == ARABIC.size and len(set(ARABIC.tokens())) == ARABIC.size


def test_an_alphabet_with_a_repeated_character_is_an_error():
    with pytest.raises(ValueError, match="twice"):
        Alphabet(name="broken", letters="abca", plain=" ")


def test_stripping_removes_every_mark_and_keeps_the_letters():
    verse = "يا ضيفَ طيفٍ ما هَداهُ لمَضجَعي"
    [cleaned] = clean_verses([verse], ARABIC).texts
    assert cleaned == "يا ضيف طيف ما هداه لمضجعي"


def test_shadda_and_tanween_are_expanded_as_the_paper():
    b, d = "ب", "د"
    # a doubled letter becomes a silent copy then the voweled letter, in either mark order
    for written in (f"{d}{SHADDA}{DAMMA}", f"{d}{DAMMA}{SHADDA}"):
        assert clean_verses([written], ARABIC, diacritics=True).texts == [f"{d}{SUKUN}{d}{DAMMA}"]
    # nunation becomes the short vowel, then a noon with sukun
    assert clean_verses([f"{b}{FATHATAN}"], ARABIC, diacritics=True).texts == [f"{b}{FATHA}{NOON}{SUKUN}"]
    # a repeated shadda (the official code collapses them) counts once
    assert clean_verses([f"{b}{SHADDA}{SHADDA}{KASRA}"], ARABIC, diacritics=True).texts == [f"{b}{SUKUN}{b}{KASRA}"]
    # MetRec train writes "الضََّّراءُ" as shadda, fatha, shadda, fatha: one doubling, the extra fatha dropped
    doubled_twice = clean_verses([f"ض{SHADDA}{FATHA}{SHADDA}{FATHA}"], ARABIC, diacritics=True)
    assert doubled_twice.texts == [f"ض{SUKUN}ض{FATHA}"] and doubled_twice.dropped == {FATHA: 1}


def test_outside_characters_are_mapped_or_dropped_and_counted():
    verse = "  قفا\tنبك ، من ذكرى\u0640 حبيبٍ؟ ﹼ ک "
    cleaned = clean_verses([verse, "ٱلحمد"], ARABIC, diacritics=True)
    # the mapped shadda follows a space, so it has no letter to double: dropped as a stray mark
    assert cleaned.texts == [f"قفا نبك من ذكرى حبيب{KASRA}{NOON}{SUKUN} ك", "الحمد"]
    assert cleaned.dropped == {"،": 1, "\u0640": 1, "؟": 1, SHADDA: 1}
    assert cleaned.mapped == {"\ufe7c": 1, "\u06a9": 1, "\u0671": 1}


def test_stray_diacritics_are_dropped_and_counted():
    cleaned = clean_verses([f"{FATHA}ب{FATHA}{DAMMA} {KASRA}ا"], ARABIC, diacritics=True)
    assert cleaned.texts == [f"ب{FATHA} ا"]
    assert cleaned.dropped == {FATHA: 1, DAMMA: 1, KASRA: 1}


def test_the_error_policy_names_the_characters():
    with pytest.raises(ValueError, match=r"outside the english alphabet: '!' \(U\+0021\) x2") as raised:
        clean_verses(["Hark! hark!"], ENGLISH, policy="error")
    assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="policy 'keep'"):
        clean_verses(["a"], ENGLISH, policy="keep")


def test_english_is_lower_cased_and_apostrophes_mapped():
    cleaned = clean_verses(["The  Curfew’s toll, the knell!", ""], ENGLISH)
    assert cleaned.texts == ["the curfew's toll the knell", ""]
    assert cleaned.mapped == {"’": 1} and cleaned.dropped == {",": 1, "!": 1}


def test_no_verses_and_hemistichs():
    assert clean_verses([], ARABIC).texts == []
    assert join_hemistichs(" قفا نبك ", " من ذكرى ", " ") == "قفا نبك من ذكرى"
