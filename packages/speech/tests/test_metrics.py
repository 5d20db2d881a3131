import pytest

from recur_speech.metrics import character_error_rate, error_rates, word_error_rate


def test_wer_and_cer_match_a_hand_worked_alignment():
    # "ONE TWO THREE" -> "ONE TOO THREE FOUR": 1 substitution + 1 insertion over 3 words;
    # "FIVE SIX" -> "": 2 deletions over 2 words. Corpus WER = (1 + 1 + 2) / (3 + 2) = 0.8
    references = ["ONE TWO THREE", "FIVE  SIX"]
    hypotheses = ["ONE TOO THREE FOUR", ""]
    assert word_error_rate(references, hypotheses) == pytest.approx(4 / 5)
    # characters: "TWO" -> "TOO" is 1 substitution, " FOUR" 5 insertions; "FIVE SIX" 8 deletions; 13 + 8 characters
    assert character_error_rate(references, hypotheses) == pytest.approx((1 + 5 + 8) / (13 + 8))
    assert error_rates(["A B"], ["A B"]) == {"wer": 0.0, "cer": 0.0}


def test_error_rates_refuse_bad_inputs():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        word_error_rate(["A", "B"], ["A"])
    with pytest.raises(ValueError, match="reference transcript is empty"):
        character_error_rate(["A", " "], ["A", ""])
    with pytest.raises(ValueError, match="no utterances"):
        word_error_rate([], [])
