import numpy as np
import pytest
import torch

from recur_speech.data.vocab import CharVocabulary
from recur_speech.datamodules import LengthBatches, SpeechRecognitionData

TINY = {"train-clean-100": 12, "dev-clean": 3, "test-clean": 3}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_length_batches_cover_every_item_once_and_follow_the_epoch():
    lengths = np.random.default_rng(0).integers(10, 500, 103)
    sampler = LengthBatches(lengths, batch_size=8, seed=3, shuffle=True, pool=4)
    first = sampler.batches(0)
    assert len(first) == len(sampler) and sorted(i for b in first for i in b) == list(range(103))
    # a pool of 4 batches is sorted by length: each batch spans a quarter of its pool's lengths or less
    assert np.mean([np.ptp(lengths[b]) for b in first]) < 0.5 * np.ptp(lengths)
    assert first == LengthBatches(lengths, 8, 3, True, 4).batches(0) and first != sampler.batches(1)
    sampler.set_epoch(1)
    assert list(sampler) == sampler.batches(1)
    fixed = LengthBatches(lengths, 8, 3, shuffle=False)
    assert fixed.batches(0) == fixed.batches(5) and len(fixed) == 13
    assert [lengths[b].max() for b in fixed.batches(0)] == sorted(
        (lengths[b].max() for b in fixed.batches(0)), reverse=True
    )


def test_espeak_digits_give_features_vocabulary_cmvn_and_padded_batches(cache):
    data = SpeechRecognitionData(utterances=TINY, batch_size=4)
    data.setup("fit")
    assert data.corpus_folder.is_relative_to(cache)
    vocab = data.vocabulary()
    assert isinstance(vocab, CharVocabulary) and set(vocab.symbols) <= set("ZEROONETWOTHREEFOURFIVESIXSEVENEIGHTNINE ")
    assert data.frequent_transcript() in data.transcripts("train").transcripts
    cmvn = data.cmvn()
    batch = next(iter(data.train_dataloader()))
    assert batch["features"].shape[0] == 4 and batch["features"].shape[2] == 80
    assert batch["lengths"].max() == batch["features"].shape[1] and len(batch["texts"]) == 4
    normalised = cmvn(data.dataset("train")[0]["features"])
    assert normalised.mean().abs() < 0.5 and torch.isfinite(normalised).all()
    bpe = SpeechRecognitionData(utterances=TINY, vocabulary="sentencepiece", vocab_size=20).vocabulary()
    assert bpe.size == 21 and bpe.decode(bpe.encode("ONE TWO")) == "ONE TWO"


def test_bad_options_are_one_line_errors(cache):
    with pytest.raises(ValueError, match="unknown dataset 'timit'"):
        SpeechRecognitionData(dataset="timit")
    with pytest.raises(ValueError, match=r"has splits .* not \['test-other'\]"):
        SpeechRecognitionData(test_split="test-other", utterances=TINY)
    with pytest.raises(ValueError, match="size of an espeak corpus"):
        SpeechRecognitionData(dataset="librispeech_sample", utterances=TINY)
    with pytest.raises(ValueError, match="unknown LibriSpeech split 'train'"):
        SpeechRecognitionData(dataset="librispeech", train_split="train")
