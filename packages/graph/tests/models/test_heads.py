import torch
import torch.nn.functional as F

from recur_graph.models.heads import EdgeClassifier, NodeClassifier, weighted_cross_entropy


def test_edge_classifier_is_an_mlp_on_concatenated_endpoints():
    head = EdgeClassifier(3, hidden=5)
    h = torch.randn(6, 3)
    pairs = torch.tensor([[0, 2, 5], [1, 2, 0]])
    w1 = torch.cat([head.source.weight, head.target.weight], 1)
    concat = torch.cat([h[pairs[0]], h[pairs[1]]], 1)
    expected = F.linear(torch.relu(F.linear(concat, w1, head.source.bias)), head.out.weight, head.out.bias)
    torch.testing.assert_close(head(h, pairs), expected)


def test_scoring_rows_scores_every_pair():
    head = EdgeClassifier(3, hidden=5)
    h = torch.randn(4, 3)
    rows = torch.tensor([2, 0])
    every = torch.cartesian_prod(rows, torch.arange(4)).T
    torch.testing.assert_close(head.score_rows(h, rows), head(h, every).view(2, 4, 2))


def test_weighted_cross_entropy_averages_over_examples():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    per_example = -torch.log_softmax(logits, 1)[torch.arange(3), labels]
    expected = (torch.tensor([0.2, 0.8, 0.8]) * per_example).mean()
    torch.testing.assert_close(weighted_cross_entropy(logits, labels, [0.2, 0.8]), expected)


def test_node_classifier_picks_the_requested_nodes():
    head = NodeClassifier(3, hidden=4)
    h = torch.randn(5, 3)
    torch.testing.assert_close(head(h, torch.tensor([4, 1])), head.mlp(h[[4, 1]]))


def test_class_probability_rows_is_the_softmax_of_the_logits():
    head = EdgeClassifier(3, hidden=5)
    h = torch.randn(4, 3)
    rows = torch.tensor([1, 3])
    probabilities = torch.softmax(head.score_rows(h, rows), -1)
    torch.testing.assert_close(head.class_probability_rows(h, rows), probabilities[..., 1])
    torch.testing.assert_close(head.class_probability_rows(h, rows, cls=0), probabilities[..., 0])
