import pytest

from recur_speech.data.vocab import CharVocabulary, SentencePieceVocabulary

TEXTS = ["THREE ONE FOUR", "ONE FIVE NINE", "TWO SIX FIVE", "THE DOG'S BALL"] * 10


def test_characters_round_trip_with_blank_last(tmp_path):
    vocab = CharVocabulary.build(TEXTS)
    assert vocab.symbols[0] == " " and vocab.blank == vocab.size - 1 == len(vocab.symbols)
    ids = vocab.encode("DOG'S ONE")
    assert vocab.decode([*ids, vocab.blank]) == "DOG'S ONE"
    assert CharVocabulary.load(vocab.save(tmp_path / "chars.json")).symbols == vocab.symbols
    with pytest.raises(ValueError, match="character 'Q' of 'QUIET' is not in the vocabulary"):
        vocab.encode("QUIET")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([vocab.size])


def test_bpe_trains_offline_and_round_trips(tmp_path):
    vocab = SentencePieceVocabulary.train(TEXTS, vocab_size=30)
    assert vocab.size == 31 and vocab.blank == 30
    ids = vocab.encode("THREE ONE")
    assert len(ids) < len("THREE ONE") and vocab.decode([*ids, vocab.blank]) == "THREE ONE"
    again = SentencePieceVocabulary.load(vocab.save(tmp_path / "bpe.model"))
    assert again.encode("FIVE NINE") == vocab.encode("FIVE NINE")
    with pytest.raises(ValueError, match="cannot train a 5000-piece bpe vocabulary"):
        SentencePieceVocabulary.train(TEXTS, vocab_size=5000)
    (tmp_path / "bad.model").write_bytes(b"xx")
    with pytest.raises(ValueError, match="not a sentencepiece model"):
        SentencePieceVocabulary.load(tmp_path / "bad.model")
