"""GRNet: the registry contract with two core layers, padding invariance, the HAN attention and the goal scores."""

import numpy as np
import pytest
import torch

from recur_core import get_model
from recur_core.testing import check_model
from recur_planning.models.grnet import GRNet, HANAttention, choose_hypothesis, score_hypotheses


def test_registered_and_builds_with_no_arguments():
    model = get_model("grnet")
    assert isinstance(model, GRNet)
    (actions,) = model.example_input(3)
    assert actions.dtype == torch.long and (actions[:, 0] > 0).all()
    assert model(actions).shape == (3, 32)


@pytest.mark.parametrize(("layer", "layer_kwargs"), [("lstm", None), ("gla", {"num_heads": 2}), ("gru", None)])
def test_check_model_with_core_layers(one_thread, layer, layer_kwargs):
    model = GRNet(
        num_actions=20,
        num_goal_facts=7,
        embedding_dim=8,
        hidden_size=16,
        max_len=12,
        layer=layer,
        layer_kwargs=layer_kwargs,
    )
    check_model(model, batch_size=3)


@pytest.mark.parametrize("layer", ["lstm", "gla"])
def test_more_padding_gives_the_same_logits(one_thread, layer):
    torch.manual_seed(0)
    model = GRNet(num_actions=30, num_goal_facts=5, hidden_size=16, embedding_dim=16, max_len=20, layer=layer).eval()
    trace = torch.tensor([[4, 9, 1, 30, 2]])
    short = model(trace)
    for extra in (1, 7, 15):
        padded = torch.cat([trace, torch.zeros(1, extra, dtype=torch.long)], dim=1)
        torch.testing.assert_close(model(padded), short)
    # a batch mixing lengths: each row as if alone
    batch = torch.tensor([[4, 9, 1, 30, 2, 0, 0], [5, 0, 0, 0, 0, 0, 0]])
    torch.testing.assert_close(model(batch)[0:1], short)
    torch.testing.assert_close(model(batch)[1:2], model(torch.tensor([[5]])))
    # and the padding really is ignored: a different action in its place changes the answer
    assert not torch.allclose(model(torch.tensor([[4, 9, 1, 30, 2, 3]])), short)


def test_han_attention_by_hand():
    attention = HANAttention(d_model=2, max_len=4)
    with torch.no_grad():
        attention.weight.copy_(torch.tensor([1.0, 0.0]))
        attention.bias.copy_(torch.tensor([0.0, 0.5, 0.0, 9.0]))
    h = torch.tensor([[[1.0, 2.0], [0.0, 4.0], [3.0, 3.0]]])
    mask = torch.tensor([[True, True, False]])
    context, weights = attention(h, mask)
    e = torch.exp(torch.tanh(torch.tensor([1.0, 0.5])))
    expected = e / (e.sum() + 1e-7)
    torch.testing.assert_close(weights, torch.tensor([[expected[0], expected[1], 0.0]]))
    torch.testing.assert_close(context, (expected[:, None] * h[0, :2]).sum(0, keepdim=True))
    # nothing observed: a zero context, not a NaN
    context, weights = attention(h, torch.zeros(1, 3, dtype=torch.bool))
    assert torch.equal(context, torch.zeros(1, 2)) and torch.equal(weights, torch.zeros(1, 3))


def test_scores_are_sums_of_fact_probabilities():
    probs = torch.tensor([0.9, 0.1, 0.5, 0.2])
    scores = score_hypotheses(probs, [[0, 2], [1], [3, -1], []])
    torch.testing.assert_close(scores, torch.tensor([1.4, 0.1, 0.2, 0.0]))
    batched = score_hypotheses(torch.stack([probs, 1 - probs]), [[0, 2], [1]])
    torch.testing.assert_close(batched, torch.tensor([[1.4, 0.1], [0.6, 0.9]]))
    with pytest.raises(ValueError, match="fact index 4 but there are 4 facts"):
        score_hypotheses(probs, [[4]])


def test_ties_are_broken_at_random_and_reproducibly():
    scores = np.array([0.5, 2.0, 2.0, 1.0, 2.0])
    picks = [choose_hypothesis(scores, np.random.default_rng(seed)) for seed in range(60)]
    assert set(picks) == {1, 2, 4}
    assert picks == [choose_hypothesis(scores, np.random.default_rng(seed)) for seed in range(60)]
    assert choose_hypothesis(torch.tensor([0.1, 0.3, 0.2]), np.random.default_rng(0)) == 1


def test_bad_input_is_one_line():
    model = GRNet(num_actions=10, num_goal_facts=3, max_len=4)
    with pytest.raises(ValueError, match=r"padding .* at the end"):
        model(torch.tensor([[1, 0, 2]]))
    with pytest.raises(ValueError, match=r"0\.\.10 \(num_actions\)"):
        model(torch.tensor([[11]]))
    with pytest.raises(ValueError, match="max_len is 4"):
        model(torch.tensor([[1, 2, 3, 4, 5]]))
    # padding beyond max_len is fine: it is dropped
    assert model(torch.tensor([[1, 2, 0, 0, 0, 0, 0]])).shape == (1, 3)
    with pytest.raises(ValueError, match="at least 1"):
        GRNet(num_goal_facts=0)
