"""The pointer network: the registry contract with core layers, masking, decoding vs teacher forcing."""

import pytest
import torch

from recur_core.registry import get_model
from recur_core.testing import check_model

OPTIONS = ({}, {"fixed_length": True}, {"mask_chosen": False})


@pytest.mark.parametrize("layer", ("lstm", "gru", "gla", "mamba"))
@pytest.mark.parametrize("options", OPTIONS)
def test_check_model_with_core_layers(layer, options):
    check_model(get_model("pointer_net", d_model=16, layer=layer, **options))


@pytest.mark.parametrize("options", OPTIONS)
def test_decoding_agrees_with_teacher_forcing_and_beam_one_is_greedy(options):
    torch.manual_seed(0)
    model = get_model("pointer_net", d_model=16, **options).eval()
    points, lengths, _ = model.example_input(4, n=7)
    greedy = model.decode(points, lengths)
    assert torch.equal(greedy.tokens, model.decode(points, lengths, method="beam", beam_size=1).tokens)
    tokens = greedy.tokens.clone()
    tokens[torch.arange(tokens.shape[1])[None] >= greedy.lengths[:, None]] = -100
    logp = model(points, lengths, tokens).log_softmax(-1)
    picked = (logp.gather(-1, tokens.clamp(min=0)[..., None])[..., 0] * (tokens >= 0)).sum(1)
    assert torch.allclose(picked, greedy.log_prob, atol=1e-4)
    beam = model.decode(points, lengths, method="beam", beam_size=4)
    assert (beam.log_prob >= greedy.log_prob - 1e-5).all()


def test_permutation_masks_give_valid_tours_and_hulls():
    torch.manual_seed(1)
    points, lengths = torch.rand(6, 9, 2), torch.tensor([9, 8, 7, 6, 5, 4])
    tsp = get_model("pointer_net", d_model=16, fixed_length=True).eval()
    for method in ("greedy", "beam"):
        decoded = tsp.decode(points, lengths, method=method)
        for row, n in zip(decoded.tokens.tolist(), lengths.tolist()):
            assert sorted(row[:n]) == list(range(1, n + 1)) and row[n] == 0
    hull = get_model("pointer_net", d_model=16).eval().decode(points, lengths)
    for row, n in zip(hull.tokens.tolist(), lengths.tolist()):
        chosen = row[: row.index(0)]
        assert len(set(chosen)) == len(chosen) and all(1 <= i <= n for i in chosen)


def test_bad_pointer_options_are_errors():
    with pytest.raises(ValueError, match="fixed_length needs mask_chosen"):
        get_model("pointer_net", fixed_length=True, mask_chosen=False)
    model = get_model("pointer_net", d_model=8)
    with pytest.raises(ValueError, match="points must be float"):
        model.decode(torch.zeros(2, 5, 3), torch.tensor([5, 5]))
    with pytest.raises(ValueError, match="targets point at index 9"):
        model(torch.rand(1, 5, 2), torch.tensor([5]), torch.tensor([[9, 0]]))
