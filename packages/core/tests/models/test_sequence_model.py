import pytest
import torch

from recur_core import list_layers
from recur_core.layers import SequenceLayer
from recur_core.models import SequenceModel, pool_sequence
from recur_core.registry import get_layer_class

CAUSAL = [n for n in list_layers() if get_layer_class(n).causal]


@pytest.mark.parametrize("readout, shape", [("token", (3, 7, 5)), ("last", (3, 5)), ("mean", (3, 5))])
def test_output_shapes(readout, shape):
    model = SequenceModel(layer="gru", vocab_size=11, output_dim=5, readout=readout, d_model=16, n_layers=2)
    assert model(torch.randint(0, 11, (3, 7))).shape == shape


def test_feature_inputs_and_regression_head():
    model = SequenceModel(layer="lstm", input_dim=4, output_dim=1, readout="mean", d_model=8)
    assert model(torch.randn(2, 9, 4)).shape == (2, 1)


@pytest.mark.parametrize("layer", list_layers())
def test_padding_does_not_change_pooled_outputs(layer):
    torch.manual_seed(0)
    model = SequenceModel(layer=layer, vocab_size=7, output_dim=3, readout="last", d_model=16).double().eval()
    x = torch.randint(1, 7, (2, 9))
    lengths = torch.tensor([9, 4])
    padded = x.clone()
    padded[1, 4:] = 0
    out = model(padded, lengths=lengths)
    torch.testing.assert_close(out[1], model(x[1:2, :4])[0])
    mean_model = SequenceModel(layer=layer, vocab_size=7, output_dim=3, readout="mean", d_model=16).double().eval()
    torch.testing.assert_close(mean_model(padded, lengths=lengths)[1], mean_model(x[1:2, :4])[0])


@pytest.mark.parametrize("layer", CAUSAL)
def test_step_matches_forward(layer):
    torch.manual_seed(0)
    model = SequenceModel(layer=layer, vocab_size=7, output_dim=3, d_model=16).double().eval()
    x = torch.randint(0, 7, (2, 6))
    full, states = model(x, return_state=True)
    state, outs = None, []
    for t in range(6):
        y, state = model.step(x[:, t], state)
        outs.append(y)
    torch.testing.assert_close(torch.stack(outs, 1), full)
    assert len(state) == len(states)


def test_pool_sequence_last_and_mean_respect_lengths():
    h = torch.arange(12.0).view(2, 3, 2)
    lengths = torch.tensor([3, 1])
    assert pool_sequence(h, lengths, "last").tolist() == [[4.0, 5.0], [6.0, 7.0]]
    assert pool_sequence(h, lengths, "mean").tolist() == [[2.0, 3.0], [6.0, 7.0]]


def test_bad_configuration_and_inputs_are_explained():
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceModel(layer="lstm")
    with pytest.raises(ValueError, match="readout"):
        SequenceModel(layer="lstm", vocab_size=3, readout="first")
    model = SequenceModel(layer="lstm", vocab_size=3)
    with pytest.raises(ValueError, match=r"token ids \[B, T\]"):
        model(torch.randn(2, 4, 3))


def test_layer_kwargs_reach_the_layer():
    model = SequenceModel(layer="attention", vocab_size=3, d_model=16, layer_kwargs={"num_heads": 8})
    mixer = model.blocks[0].mixer
    assert isinstance(mixer, SequenceLayer) and mixer.num_heads == 8
