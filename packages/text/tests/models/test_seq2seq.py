"""The encoder-decoder: the registry contract with several core layers, decoding consistent with teacher forcing."""

import pytest
import torch

from recur_core.registry import get_model
from recur_core.testing import check_model
from recur_text.data.translation import EOS
from recur_text.models.seq2seq import reverse_padded

LAYERS = ("lstm", "gru", "gla", "mamba", "attention")


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("residual", [False, True])
def test_check_model_with_core_layers(layer, residual):
    model = get_model(
        "seq2seq_translation", src_vocab_size=12, tgt_vocab_size=10, d_model=16, layer=layer, residual=residual
    )
    check_model(model)


@pytest.mark.parametrize("layer", ("lstm", "gla"))
def test_greedy_decoding_scores_what_teacher_forcing_scores_and_beam_one_is_greedy(layer):
    torch.manual_seed(0)
    model = get_model("seq2seq_translation", src_vocab_size=12, tgt_vocab_size=10, d_model=16, layer=layer).eval()
    src, lengths, _ = model.example_input(4)
    greedy = model.translate(src, lengths, max_len=6)
    beam_one = model.translate(src, lengths, method="beam", beam_size=1, max_len=6)
    assert torch.equal(greedy.tokens, beam_one.tokens)
    # the step-by-step decoder agrees with the parallel teacher-forced pass on the decoded sequences
    tokens = greedy.tokens.clone()
    steps = torch.arange(tokens.shape[1])
    tokens[steps[None] >= greedy.lengths[:, None]] = 0
    assert torch.allclose(model.sequence_log_prob(src, lengths, tokens), greedy.log_prob, atol=1e-4)
    beam = model.translate(src, lengths, method="beam", beam_size=5, max_len=6)
    assert (beam.log_prob >= greedy.log_prob - 1e-5).all()


def test_reverse_padded_reverses_within_each_length():
    x = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    assert reverse_padded(x, torch.tensor([3, 2])).tolist() == [[5, 4, 3, 0], [7, 6, 0, 0]]


def test_source_reversal_changes_only_the_read_order():
    torch.manual_seed(0)
    plain = get_model("seq2seq_translation", src_vocab_size=12, tgt_vocab_size=10, d_model=16, reverse_source=False)
    reversed_ = get_model("seq2seq_translation", src_vocab_size=12, tgt_vocab_size=10, d_model=16, reverse_source=True)
    reversed_.load_state_dict(plain.state_dict())
    src, lengths, tgt_in = plain.example_input(3)
    assert torch.allclose(plain(reverse_padded(src, lengths), lengths, tgt_in), reversed_(src, lengths, tgt_in))


def test_bad_model_options_are_one_line_errors():
    with pytest.raises(ValueError, match="src_vocab_size must exceed 3"):
        get_model("seq2seq_translation", src_vocab_size=3)
    with pytest.raises(ValueError, match="not causal"):
        get_model("seq2seq_translation", layer="bidirectional", layer_kwargs={"layer": "lstm"})
    model = get_model("seq2seq_translation", src_vocab_size=5, tgt_vocab_size=5, d_model=8)
    with pytest.raises(ValueError, match=r"outside 0\.\.4"):
        model(torch.tensor([[9]]), torch.tensor([1]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="method must be"):
        model.translate(torch.tensor([[3]]), torch.tensor([1]), method="sample")
    assert EOS == 2
