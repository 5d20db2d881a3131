import torch
import torch.nn.functional as F

from recur_core import get_model
from recur_graph.models.baselines import cumulative_edges
from recur_graph.models.gcn import example_window

SLOPE = (1 / 8 + 1 / 3) / 2  # RReLU in eval mode


def dense_adjacency(edge_index, weight, n):
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((edge_index[1], edge_index[0]), weight.double(), accumulate=True)
    a = a + torch.eye(n, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None]


def snapshot(edge_index, weight, t, nodes):
    block = (edge_index[0] // nodes) == t
    return edge_index[:, block] - t * nodes, weight[block]


def gcn(layers, a_hat, h):
    for layer in layers:
        h = F.leaky_relu(a_hat @ h @ layer.weight, SLOPE)
    return h


def test_cumulative_edges_copy_each_snapshot_forward():
    # 3 snapshots of 2 nodes: an edge in snapshot 0 and one in snapshot 2
    edge_index, weight = cumulative_edges(torch.tensor([[0, 4], [1, 5]]), torch.tensor([1.0, 2.0]), 3, 2)
    assert edge_index.tolist() == [[0, 2, 4, 4], [1, 3, 5, 5]]
    assert weight.tolist() == [1.0, 1.0, 1.0, 2.0]


def test_static_gcn_convolves_the_union_of_the_snapshots_so_far():
    model = get_model("static_gcn", in_features=4, hidden_features=3, out_features=2).double().eval()
    x, edge_index, weight = example_window(3, 7, 4, seed=2)
    x = x.double()
    out = model(x, edge_index, weight)
    for t in range(3):
        parts = [snapshot(edge_index, weight, s, 7) for s in range(t + 1)]
        union = torch.cat([p[0] for p in parts], 1), torch.cat([p[1] for p in parts])
        torch.testing.assert_close(out[t], gcn(model.layers, dense_adjacency(*union, 7), x[t]))


def test_gcn_gru_runs_a_gru_per_node_over_the_snapshot_embeddings():
    model = get_model("gcn_gru", in_features=4, hidden_features=3, out_features=2).double().eval()
    x, edge_index, weight = example_window(3, 7, 4, seed=3)
    x = x.double()
    embeddings = torch.stack(
        [gcn(model.layers, dense_adjacency(*snapshot(edge_index, weight, t, 7), 7), x[t]) for t in range(3)]
    )
    rnn = model.rnn.rnn
    h, expected = torch.zeros(7, 2, dtype=torch.float64), []
    for t in range(3):
        h = torch.gru_cell(embeddings[t], h, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        expected.append(h)
    torch.testing.assert_close(model(x, edge_index, weight), torch.stack(expected))
