"""Every registered recur_text model is known here; those built on a recurrence take any core layer as it."""

import pytest

from recur_core import get_layer_class, get_model, list_models
from recur_core.testing import check_model

MODELS = list_models("text")
# the models whose recurrence is the argument ``layer`` (the QTN circuits and the MPS have none: they are the
# quantum and tensor-network comparisons)
RECURRENT = ["char_lm", "meter_birnn", "pointer_net", "protein_rnn", "rcnn", "seq2seq_translation"]


def test_the_paper_models_are_registered():
    assert set(MODELS) == set(RECURRENT) | {"protein_mps", "qtn_chain", "qtn_tree"}


# one head: the RCNN's default context is 50 wide, which GLA's four heads of half width do not divide
@pytest.mark.parametrize(("layer", "layer_kwargs"), [("gru", None), ("gla", {"num_heads": 1}), ("mamba", None)])
@pytest.mark.parametrize("name", RECURRENT)
def test_core_layers_are_the_recurrence(name, layer, layer_kwargs):
    model = get_model(name, layer=layer, layer_kwargs=layer_kwargs)
    assert any(isinstance(m, get_layer_class(layer)) for m in model.modules())
    check_model(model, batch_size=2)
