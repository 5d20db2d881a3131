import pytest

import recur_core
from recur_core import build_layer, get_model, list_layers, list_models, register_layer
from recur_core.layers import SequenceLayer


def test_foundation_layers_are_registered():
    assert {"lstm", "gru", "elman", "leaky_rnn", "attention", "bidirectional"} <= set(list_layers())


def test_unknown_layer_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown layer 'lsmt'; valid names: .*lstm"):
        build_layer("lsmt", d_model=8)


def test_unknown_model_and_member_list_valid_names():
    with pytest.raises(ValueError, match=r"unknown model 'nope'; valid names: .*sequence_model"):
        get_model("nope")
    with pytest.raises(ValueError, match=r"unknown member 'visoin'; valid names: .*core"):
        list_models("visoin")


def test_models_are_grouped_by_member():
    assert "sequence_model" in list_models("core")
    assert set(list_models("core")) <= set(list_models())


def test_get_model_builds_with_kwargs():
    model = get_model("sequence_model", layer="gru", vocab_size=5, output_dim=3, d_model=8, n_layers=1)
    assert model.config.layer == "gru"


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):

        @register_layer("lstm")
        class Impostor(SequenceLayer):
            def init_state(self, batch_size, device=None, dtype=None):
                return None

            def _forward(self, x, state, lengths):
                return x, state


def test_top_level_import_is_lazy():
    assert "build_layer" in dir(recur_core)
    with pytest.raises(AttributeError):
        recur_core.not_a_thing  # noqa: B018
