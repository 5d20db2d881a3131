import torch
import torch.nn.functional as F

from recur_graph.models.gcn import example_window, normalized_adjacency, present_nodes, project, propagate


def dense_normalized(edge_index, edge_weight, n):
    """D^-1/2 (A + I) D^-1/2 by hand; row i gathers messages into node i (A[target, source])."""
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((edge_index[1], edge_index[0]), edge_weight.double(), accumulate=True)
    a = a + torch.eye(n, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None]


def test_normalized_adjacency_matches_the_dense_formula():
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 3, 0]])  # with a self-loop at 3
    weight = torch.tensor([1.0, 1.0, 2.0, 2.0, 1.0, 0.5])
    adj = normalized_adjacency(edge_index, weight, 5)
    torch.testing.assert_close(adj.to_dense().double(), dense_normalized(edge_index, weight, 5), rtol=1e-6, atol=1e-7)


def test_one_hot_ids_project_like_their_one_hot_matrix():
    ids = torch.tensor([[0, 3, 1], [2, 2, 0]])
    weights = torch.randn(2, 4, 5)
    torch.testing.assert_close(project(ids, weights), F.one_hot(ids, 4).float() @ weights)
    torch.testing.assert_close(project(ids, weights[0]), F.one_hot(ids, 4).float() @ weights[0])


def test_shared_features_project_like_their_copies():
    features = torch.randn(6, 3)
    weights = torch.randn(4, 3, 2)
    expanded = features.expand(4, 6, 3)
    torch.testing.assert_close(project(expanded, weights), expanded.contiguous() @ weights)


def test_propagate_keeps_snapshots_apart():
    _, edge_index, weight = example_window(3, 6, 2)
    adj = normalized_adjacency(edge_index, weight, 18)
    h = torch.randn(3, 6, 4)
    out = propagate(adj, h)
    for t in range(3):
        block = (edge_index[0] // 6) == t
        local = normalized_adjacency(edge_index[:, block] - 6 * t, weight[block], 6)
        torch.testing.assert_close(out[t], propagate(local, h[t : t + 1])[0])


def test_present_nodes_marks_either_end():
    present = present_nodes(torch.tensor([[0, 4], [1, 5]]), 2, 3)
    assert present.tolist() == [[True, True, False], [False, True, True]]
