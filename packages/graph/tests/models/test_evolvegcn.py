import pytest
import torch
import torch.nn.functional as F

from recur_core import get_model
from recur_graph.models.evolvegcn import EvolveGCN, EvolvingWeight, TopKSummary
from recur_graph.models.gcn import example_window


def naive_topk(h, present, scorer, k):
    """The official TopK, one snapshot at a time: [k, F] rows (not yet transposed)."""
    scores = h @ scorer / scorer.norm()
    scores = torch.where(present, scores, torch.full_like(scores, float("-inf")))
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))[:k]
    order = [i for i in order if present[i]]
    order += [order[-1]] * (k - len(order))
    return h[order] * torch.tanh(scores[order])[:, None]


def naive_adjacency(edge_index, weight, n):
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((edge_index[1], edge_index[0]), weight.double(), accumulate=True)
    a = a + torch.eye(n, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None]


def naive_evolvegcn(model, x, edge_index, edge_weight):
    """EvolveGCN with a GRU, snapshot by snapshot with dense matrices, as the official GRCU loop."""
    steps, nodes = x.shape[:2]
    h = x
    for layer in model.layers:
        rnn = layer.weight.layer.rnn
        cell = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        q = layer.weight.initial
        outputs = []
        for t in range(steps):
            block = (edge_index[0] // nodes) == t
            local = edge_index[:, block] - t * nodes
            present = torch.zeros(nodes, dtype=torch.bool)
            present[local.flatten()] = True
            if layer.summary is not None:
                z = naive_topk(h[t], present, layer.summary.scorer, q.shape[1])
                q = torch.gru_cell(z, q.T, *cell).T
            else:
                q = torch.gru_cell(q.T, q.T, *cell).T
            a_hat = naive_adjacency(local, edge_weight[block], nodes)
            outputs.append(F.leaky_relu(a_hat @ h[t] @ q, (1 / 8 + 1 / 3) / 2))  # RReLU in eval mode
        h = torch.stack(outputs)
    return h


def test_topk_summary_by_hand():
    topk = TopKSummary(features=2, k=3).double()
    with torch.no_grad():
        topk.scorer.copy_(torch.tensor([3.0, 4.0]))  # score = (3 h0 + 4 h1) / 5
    h = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0], [-1.0, 0.0]]], dtype=torch.float64)
    present = torch.tensor([[True, True, False, True]])
    out = topk(h, present)
    # node 2 is absent; order 1 (0.8), 0 (0.6), 3 (-0.6)
    expected = torch.stack(
        [
            h[0, 1] * torch.tanh(torch.tensor(0.8)),
            h[0, 0] * torch.tanh(torch.tensor(0.6)),
            h[0, 3] * torch.tanh(torch.tensor(-0.6)),
        ]
    ).double()
    torch.testing.assert_close(out[0], expected)


def test_topk_repeats_the_last_node_and_zeroes_empty_snapshots():
    topk = TopKSummary(features=2, k=3)
    h = torch.randn(2, 4, 2)
    present = torch.tensor([[False, True, False, False], [False] * 4])
    out = topk(h, present)
    assert torch.equal(out[0, 0], out[0, 1]) and torch.equal(out[0, 1], out[0, 2])
    assert torch.equal(out[1], torch.zeros(3, 2))


def test_topk_on_one_hot_ids_equals_the_dense_one_hot():
    topk = TopKSummary(features=5, k=2)
    ids = torch.tensor([[0, 4, 2, 2], [1, 1, 3, 0]])
    present = torch.tensor([[True, True, True, False], [True, False, True, True]])
    torch.testing.assert_close(topk(ids, present), topk(F.one_hot(ids, 5).float(), present))


@pytest.mark.parametrize("variant", ["evolvegcn_h", "evolvegcn_o"])
def test_model_equals_the_official_loop(variant):
    torch.manual_seed(0)
    model = get_model(variant, in_features=5, hidden_features=4, out_features=3).double().eval()
    x, edge_index, weight = example_window(4, 9, 5, seed=1)
    x = x.double()
    torch.testing.assert_close(model(x, edge_index, weight), naive_evolvegcn(model, x, edge_index, weight))


def test_weights_evolve_and_nothing_persists_between_calls():
    torch.manual_seed(0)
    model = get_model("evolvegcn_o").eval()  # eval: RReLU's slopes are random in training
    x, edge_index, weight = example_window(5, 12, 16)
    weights = model.layers[0].evolved_weights(x, None)
    assert all((weights[t] - weights[t + 1]).abs().max() > 1e-6 for t in range(4)), (
        "the weight must change per snapshot"
    )
    first = model(x, edge_index, weight)
    first.sum().backward()
    # a second window trains on its own graph: no "backward through the graph a second time"
    second = model(x, edge_index, weight)
    second.sum().backward()
    torch.testing.assert_close(first, second)


def test_h_variant_parallel_form_equals_stepping():
    torch.manual_seed(0)
    weight = EvolvingWeight(rows=6, cols=3, layer="lstm").double()
    inputs = torch.randn(5, 3, 6, dtype=torch.float64)
    state, stepped = weight.initial_state(), []
    for t in range(5):
        q, state = weight.layer.step(inputs[t], state)
        stepped.append(q.T)
    torch.testing.assert_close(weight.from_inputs(inputs), torch.stack(stepped))


def test_hidden_state_is_the_initial_weight():
    weight = EvolvingWeight(rows=4, cols=2, layer="lstm")
    h, c = weight.initial_state()
    assert torch.equal(h, weight.initial.T) and torch.equal(c, torch.zeros(2, 4))
    assert not EvolvingWeight(rows=4, cols=2, layer="attention", layer_kwargs={"num_heads": 2}).seeds_state


def test_one_hot_ids_give_the_same_embeddings_as_the_one_hot_matrix():
    torch.manual_seed(0)
    model = get_model("evolvegcn_h", in_features=7).eval()
    _, edge_index, weight = example_window(3, 12, 7)
    ids = torch.randint(7, (3, 12))
    torch.testing.assert_close(model(ids, edge_index, weight), model(F.one_hot(ids, 7).float(), edge_index, weight))


def test_config_and_kwargs_build_the_same_model():
    assert isinstance(EvolveGCN(in_features=3), EvolveGCN)
    assert "variant=o" in repr(EvolveGCN(in_features=3))
