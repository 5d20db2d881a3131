import pytest
import torch

from recur_text.data.alphabets import ARABIC, DAMMA, ENGLISH, FATHA, SUKUN, clean_verses
from recur_text.data.encodings import (
    ENCODINGS,
    binary,
    decode_binary,
    encode,
    encoding_width,
    one_hot,
    token_indices,
    two_hot,
)

VERSE = "إِمامُكَ الصُبحُ كَم يَشكو دُجىً وَوَجىً فَظاظَةُ الشَوكِ قَد تُفضي إِلى الرُطَبِ"


@pytest.fixture(scope="module")
def cleaned():
    [text] = clean_verses([VERSE], ARABIC, diacritics=True).texts
    return text


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_shapes(cleaned, encoding):
    encoders = {"one_hot": one_hot, "binary": binary, "two_hot": two_hot}
    symbols, _ = encode(cleaned, ARABIC)
    encoded = encoders[encoding](cleaned, ARABIC)
    assert encoded.shape == (len(symbols), encoding_width(encoding, ARABIC)) and encoded.dtype == torch.float32
    assert ((encoded == 0) | (encoded == 1)).all()
    assert encoded.any(-1).all(), "an all-zero row is kept for padding"


def test_positions_are_letters_with_their_diacritic(cleaned):
    symbols, diacritics = encode("بَ بْا", ARABIC)
    assert [ARABIC.symbols[i] for i in symbols] == ["ب", " ", "ب", "ا"]
    assert diacritics.tolist() == [1 + ARABIC.diacritics.index(FATHA), 0, 1 + ARABIC.diacritics.index(SUKUN), 0]
    assert len(encode(cleaned, ARABIC)[0]) == sum(c not in ARABIC.diacritics for c in cleaned)


def test_one_hot_columns_are_the_token_indices(cleaned):
    encoded = one_hot(cleaned, ARABIC)
    assert (encoded.sum(-1) == 1).all()
    assert torch.equal(encoded.argmax(-1), token_indices(cleaned, ARABIC))
    tokens = ARABIC.tokens()
    assert "".join(tokens[i] for i in token_indices(cleaned, ARABIC)) == cleaned


def test_binary_decodes_back_to_the_index(cleaned):
    assert torch.equal(decode_binary(binary(cleaned, ARABIC)), token_indices(cleaned, ARABIC))
    every_token = "".join(ARABIC.tokens())
    assert torch.equal(decode_binary(binary(every_token, ARABIC)), torch.arange(ARABIC.size))
    assert binary("b", ENGLISH).tolist() == [[0, 0, 0, 1, 1]]  # 'b' is token 2 -> 3 in 5 bits
    assert decode_binary(torch.zeros(2, 8)).tolist() == [-1, -1]


def test_two_hot_has_two_ones_exactly_where_a_letter_has_a_diacritic(cleaned):
    encoded = two_hot(cleaned, ARABIC)
    symbols, diacritics = encode(cleaned, ARABIC)
    assert torch.equal(encoded.sum(-1), 1.0 + (diacritics > 0).float())
    assert (diacritics > 0).any() and (diacritics == 0).any()
    assert torch.equal(encoded[:, : len(ARABIC.symbols)].argmax(-1), symbols)
    marked = diacritics > 0
    assert torch.equal(encoded[marked, len(ARABIC.symbols) :].argmax(-1) + 1, diacritics[marked])
    assert two_hot(f"ب{DAMMA}", ARABIC).nonzero()[:, 1].tolist() == [
        ARABIC.symbols.index("ب"),
        len(ARABIC.symbols) + ARABIC.diacritics.index(DAMMA),
    ]


def test_english_has_no_diacritic_block():
    assert two_hot("to be", ENGLISH).shape == (5, 28) and one_hot("to be", ENGLISH).shape == (5, 28)
    assert one_hot("", ENGLISH).shape == (0, 28)


def test_uncleaned_text_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"outside the english alphabet \('!'\); clean it with clean_verses"):
        one_hot("hark!", ENGLISH)
    with pytest.raises(ValueError, match="diacritic that follows no letter"):
        two_hot(f" {FATHA}", ARABIC)
    with pytest.raises(ValueError, match="diacritic that follows no letter"):
        binary(f"ب{FATHA}{DAMMA}", ARABIC)
    with pytest.raises(ValueError, match="encoding 'utf8' is not one of one_hot, binary, two_hot"):
        encoding_width("utf8", ARABIC)
