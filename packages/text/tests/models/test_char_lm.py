"""The local character LM of the RecurrentGPT loop: the model contract over core layers, encoding, sampling."""

import pytest
import torch

from recur_core.registry import get_model, list_models
from recur_core.testing import check_model
from recur_text.models.char_lm import CHARS, UNKNOWN, CharLM, decode_ids, encode_text


@pytest.mark.parametrize("layer, kwargs", [("lstm", {}), ("deltanet", {"num_heads": 2}), ("gla", {"num_heads": 2})])
def test_char_lm_builds_from_the_registry_over_core_layers(layer, kwargs):
    assert "char_lm" in list_models("text")
    model = get_model("char_lm", layer=layer, d_model=16, n_layers=2, layer_kwargs=kwargs)
    check_model(model)
    (ids,) = model.example_input(3, 10)
    assert model(ids).shape == (3, 10, len(CHARS))


def test_encoding_maps_unknown_characters_and_round_trips():
    text = "Mia's kite is red.\n"
    assert decode_ids(encode_text(text)) == text
    ids = encode_text("é~x")
    assert ids.tolist() == [UNKNOWN, UNKNOWN, CHARS.index("x")]


def test_sampling_steps_agree_with_the_parallel_pass_and_stop_at_newline():
    torch.manual_seed(0)
    model = CharLM(layer="lstm", d_model=16, n_layers=1)
    greedy = model.sample("Mia has a", 12, temperature=0)
    # greedy text read back in one pass: each character is the argmax after the text before it
    ids = encode_text("Mia has a" + greedy)[None]
    logits = model(ids)[0, 8:-1]
    assert decode_ids(logits.argmax(-1)) == greedy
    assert "\n" not in model.sample("", 50, temperature=1.0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="temperature"):
        model.sample("x", 3, temperature=-1)
