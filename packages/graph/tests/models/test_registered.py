"""Every registered recur_graph model runs on a tiny window; every recurrent one with any causal core layer."""

from dataclasses import fields

import pytest

from recur_core import get_layer_class, get_model, list_layers, list_models
from recur_core.testing import check_model

MODELS = list_models("graph")
# the models whose recurrence is the arguments layer / layer_kwargs
RECURRENT = [name for name in MODELS if "layer" in {f.name for f in fields(get_model(name).config)}]
# token_inputs layers (ngram_head) match exact token repeats, which graph embeddings never have
CAUSAL_LAYERS = [n for n in list_layers() if get_layer_class(n).causal and not get_layer_class(n).token_inputs]


def test_the_paper_models_are_registered():
    assert set(MODELS) == {"evolvegcn_h", "evolvegcn_o", "static_gcn", "gcn_gru"}
    assert set(RECURRENT) == {"evolvegcn_h", "evolvegcn_o", "gcn_gru"}
    assert {"gru", "lstm"} <= set(CAUSAL_LAYERS)


@pytest.mark.parametrize("name", MODELS)
def test_model_runs_forward_and_backward(name):
    check_model(get_model(name, in_features=8, hidden_features=8, out_features=4), batch_size=3)


@pytest.mark.parametrize("layer", CAUSAL_LAYERS)
@pytest.mark.parametrize("name", RECURRENT)
def test_any_causal_core_layer_is_the_recurrence(name, layer):
    model = get_model(name, in_features=8, hidden_features=8, out_features=8, layer=layer)
    assert any(isinstance(m, get_layer_class(layer)) for m in model.modules())
    check_model(model, batch_size=3)


@pytest.mark.parametrize("name", RECURRENT)
def test_non_causal_layers_are_refused(name):
    with pytest.raises(ValueError, match="not causal"):
        get_model(name, in_features=8, layer="bidirectional", layer_kwargs={"layer": "gru"})
