"""RCNN: the model contract with several core layers, contexts that see only their own side, padding, errors."""

import pytest
import torch

from recur_core import get_model
from recur_core.testing import check_model
from recur_text.models.rcnn import RCNN

LAYERS = [
    ("elman", {}),
    ("lstm", {}),
    ("gru", {}),
    ("gla", {"num_heads": 2}),
    ("mamba", {}),
]


@pytest.mark.parametrize(("layer", "layer_kwargs"), LAYERS)
def test_check_model_with_core_layers(layer, layer_kwargs):
    model = get_model("rcnn", vocab_size=30, num_classes=4, context_dim=16, embed_dim=12, hidden_dim=20,
                      layer=layer, layer_kwargs=layer_kwargs)  # fmt: skip
    check_model(model, batch_size=3)
    assert model(*model.example_input(3)).shape == (3, 4)


def test_left_context_sees_only_earlier_words_and_right_only_later():
    torch.manual_seed(0)
    model = RCNN(vocab_size=20, num_classes=3, embed_dim=6, context_dim=5, hidden_dim=7, layer="gru").double()
    embedded = torch.randn(1, 8, 6, dtype=torch.float64, requires_grad=True)
    left, right = model.contexts(embedded, torch.tensor([8]))
    i = 4
    (grad_left,) = torch.autograd.grad(left[0, i].sum(), embedded)
    (grad_right,) = torch.autograd.grad(right[0, i].sum(), embedded)
    touched_left = grad_left[0].abs().sum(1) > 0
    touched_right = grad_right[0].abs().sum(1) > 0
    assert touched_left[:i].all() and not touched_left[i:].any()
    assert touched_right[i + 1 :].all() and not touched_right[: i + 1].any()
    # the first word's left context and the last word's right context are the learned boundary vectors
    torch.testing.assert_close(left[0, 0], model.first_left)
    torch.testing.assert_close(right[0, -1], model.last_right)


@pytest.mark.parametrize("layer", ["elman", "gla"])
def test_padding_does_not_change_a_row(layer):
    torch.manual_seed(0)
    kwargs = {"num_heads": 2} if layer == "gla" else {}
    model = RCNN(
        vocab_size=20, num_classes=3, embed_dim=6, context_dim=8, hidden_dim=7, layer=layer, layer_kwargs=kwargs
    )
    model = model.double().eval()
    tokens = torch.randint(1, 20, (1, 5))
    alone = model(tokens, torch.tensor([5]))
    padded = torch.cat([tokens, torch.randint(1, 20, (1, 4))], 1)
    batch = torch.cat([padded, torch.randint(1, 20, (1, 9))])
    together = model(batch, torch.tensor([5, 9]))
    torch.testing.assert_close(together[:1], alone)


def test_load_embeddings_and_errors():
    model = RCNN(vocab_size=10, num_classes=2, embed_dim=4)
    vectors = torch.arange(8.0).reshape(2, 4)
    model.load_embeddings(vectors, torch.tensor([3, 5]))
    assert torch.equal(model.embedding.weight[5].detach(), vectors[1])
    with pytest.raises(ValueError, match="embed_dim"):
        model.load_embeddings(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="tokens must be"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="must be causal"):
        RCNN(layer="bidirectional")
    with pytest.raises(ValueError, match="num_classes >= 2"):
        RCNN(num_classes=1)


def test_without_contexts_the_ablation_is_blind_to_word_order():
    torch.manual_seed(0)
    model = get_model("rcnn", vocab_size=20, num_classes=3, embed_dim=6, hidden_dim=7, contexts=False).eval()
    assert not any("layer" in name for name, _ in model.named_parameters())
    tokens = torch.randint(1, 20, (1, 9))
    shuffled = tokens[:, torch.randperm(9)]
    torch.testing.assert_close(model(shuffled), model(tokens))
    with pytest.raises(ValueError, match="contexts=False"):
        model.contexts(torch.zeros(1, 9, 6), torch.tensor([9]))
    # with its contexts the model sees the order
    ordered = RCNN(vocab_size=20, num_classes=3, embed_dim=6, context_dim=5, hidden_dim=7).eval()
    assert not torch.allclose(ordered(shuffled), ordered(tokens))
