"""The meter classifier: the model contract with several core layers, padding, pooling, errors."""

import pytest
import torch

from recur_core.registry import get_model, list_models
from recur_core.testing import check_model
from recur_text.models.meters import MeterRNN, MeterRNNConfig, meter_birnn


def test_registered():
    assert "meter_birnn" in list_models("text")
    assert isinstance(get_model("meter_birnn", layer="gru"), MeterRNN)


@pytest.mark.parametrize("layer", ["lstm", "gru", "gla", "attention"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_check_model_with_core_layers(layer, bidirectional):
    model = meter_birnn(input_dim=41, num_classes=14, hidden_size=16, layer=layer, bidirectional=bidirectional)
    check_model(model, batch_size=3)
    verses, lengths = model.example_input(3)
    assert model(verses, lengths).shape == (3, 14)


@pytest.mark.parametrize("layer", ["lstm", "gla"])
def test_padding_does_not_change_a_verse(layer):
    torch.manual_seed(0)
    model = meter_birnn(input_dim=8, num_classes=4, hidden_size=16, n_layers=2, layer=layer).eval()
    verse = (torch.rand(1, 9, 8) < 0.3).float()
    alone = model(verse, torch.tensor([9]))
    padded = torch.cat([verse, torch.zeros(1, 6, 8)], dim=1)
    other = (torch.rand(1, 15, 8) < 0.3).float()
    batch = model(torch.cat([padded, other]), torch.tensor([9, 15]))
    torch.testing.assert_close(batch[0], alone[0], rtol=1e-5, atol=1e-5)


def test_pooling_reads_the_last_output_of_each_direction():
    """The backward direction's pooled output is its output after reading the whole verse backwards."""
    torch.manual_seed(0)
    model = meter_birnn(input_dim=5, num_classes=3, hidden_size=6, n_layers=1, layer="gru", dropout=0.0).eval()
    verse = torch.randn(1, 7, 5)
    h = model.embed(verse)
    forward, _ = model.layers[0].forward_layer(h)
    backward, _ = model.layers[0].backward_layer(h.flip(1))
    expected = model.classifier(torch.cat([forward[:, -1], backward[:, -1]], dim=-1))
    torch.testing.assert_close(model(verse), expected)


def test_bad_options_and_inputs_are_one_line():
    cases = [
        (lambda: meter_birnn(hidden=3), "meter_birnn has no option(s) hidden"),
        (lambda: MeterRNN(MeterRNNConfig(num_classes=1)), "num_classes must be at least 2"),
        (lambda: MeterRNN(MeterRNNConfig(dropout=1.0)), "dropout must lie in [0, 1)"),
        (lambda: meter_birnn(input_dim=28)(torch.zeros(2, 5, 41)), "D = input_dim = 28"),
        (lambda: meter_birnn(layer="nope"), "unknown layer 'nope'"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError) as error:
            build()
        text = str(error.value)
        assert message in text and "\n" not in text, text
