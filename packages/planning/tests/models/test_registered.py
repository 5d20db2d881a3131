"""Every registered recur_planning model runs forward and backward; every one built on a recurrence with core layers."""

import inspect

import pytest

from recur_core import get_layer_class, get_model, list_layers, list_models
from recur_core.registry import _MODELS
from recur_core.testing import check_model

MODELS = list_models("planning")
# the models whose recurrence is the arguments layer / layer_kwargs
RECURRENT = [name for name in MODELS if "layer" in inspect.signature(_MODELS[name][1]).parameters]
# causal layers that step one token at a time and take vectors (not token ids)
CAUSAL_LAYERS = [n for n in list_layers() if get_layer_class(n).causal and not get_layer_class(n).token_inputs]


def test_the_paper_models_are_registered():
    assert set(MODELS) == {"grnet", "pvrnn", "rnn_predictor", "vrnn"}
    assert set(RECURRENT) == set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_model_runs_forward_and_backward_with_no_arguments(name):
    check_model(get_model(name), batch_size=3)


# one head: PV-RNN's default layers are 10 units wide
@pytest.mark.parametrize(("layer", "layer_kwargs"), [("lstm", None), ("gru", None), ("gla", {"num_heads": 1})])
@pytest.mark.parametrize("name", RECURRENT)
def test_core_layers_are_the_recurrence(name, layer, layer_kwargs):
    model = get_model(name, layer=layer, layer_kwargs=layer_kwargs)
    assert any(isinstance(m, get_layer_class(layer)) for m in model.modules())
    check_model(model, batch_size=3)


@pytest.mark.parametrize("layer", CAUSAL_LAYERS)
def test_grnet_takes_any_causal_core_layer(layer):
    check_model(get_model("grnet", num_actions=12, num_goal_facts=6, layer=layer), batch_size=2)
