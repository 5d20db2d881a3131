import numpy as np
import pytest
import torch

from recur_graph.data.snapshots import (
    TemporalGraph,
    WindowDataset,
    bucket_times,
    chronological_split,
    reputation_features,
    sample_negative_edges,
)


def _graph(symmetric=False, sign=None):
    # snapshot 0: 0->1 twice (weights 1 and 2), 1->2; snapshot 1: 2->3; snapshot 2: 0->3, 3->0; snapshot 3: 1->3
    return TemporalGraph.from_events(
        num_nodes=4,
        source_ids=np.array([0, 0, 1, 2, 0, 3, 1]),
        target_ids=np.array([1, 1, 2, 3, 3, 0, 3]),
        snapshot=np.array([0, 0, 0, 1, 2, 2, 3]),
        weight=np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
        sign=sign,
        symmetric=symmetric,
        source="toy",
    )


def test_bucket_times_counts_from_the_first_stamp():
    assert bucket_times(np.array([100.0, 101.9, 102.0, 105.5]), 2.0).tolist() == [0, 0, 1, 2]
    with pytest.raises(ValueError, match="positive"):
        bucket_times(np.array([1.0]), 0)


def test_events_merge_per_snapshot_and_sort_by_time():
    g = _graph()
    assert g.num_snapshots == 4
    assert g.offsets.tolist() == [0, 2, 3, 5, 6]
    assert g.edge_index[:, g.edges(0)].tolist() == [[0, 1], [1, 2]]
    assert g.edge_weight[g.edges(0)].tolist() == [3.0, 1.0]
    assert g.edge_label is None


def test_symmetric_graphs_get_both_directions_and_signs_vote():
    # 0->1 rated +, -, + within snapshot 0: majority trust; 1->2 rated - once: distrust
    g = TemporalGraph.from_events(
        3,
        np.array([0, 0, 1, 1]),
        np.array([1, 1, 0, 2]),
        np.array([0, 0, 0, 0]),
        sign=np.array([1, -1, 1, -1]),
        symmetric=True,
    )
    pairs = {tuple(p): (w, int(c)) for p, w, c in zip(g.edge_index.T.tolist(), g.edge_weight.tolist(), g.edge_label)}
    assert pairs == {(0, 1): (3.0, 1), (1, 0): (3.0, 1), (1, 2): (1.0, 0), (2, 1): (1.0, 0)}


def test_a_tie_of_signs_is_distrust():
    g = TemporalGraph.from_events(
        2, np.array([0, 0]), np.array([1, 1]), np.array([0, 0]), sign=np.array([1, -1]), symmetric=False
    )
    assert g.edge_label.tolist() == [0]


def test_reputation_features_count_only_earlier_snapshots():
    # classes: 0->1 trust (t0), 1->2 distrust (t0), 2->3 distrust (t1), 0->3 trust, 3->0 distrust (t2), 1->3 trust (t3)
    g = _graph(sign=np.array([1, 1, -1, -1, 1, -1, 1]))
    features = reputation_features(g)
    assert features.shape == (4, 4, 4)
    log1p = np.log1p
    # node 1 at t3: one edge now, one edge before (t0), which was distrust
    assert features[3, 1].tolist() == pytest.approx([log1p(1), log1p(1), log1p(1), 1.1 / 2])
    # node 0 at t3: no edge now, two trust edges before
    assert features[3, 0].tolist() == pytest.approx([0.0, log1p(2), 0.0, 0.1 / 3])
    # node 3 at t2: its distrust edge of t2 is not counted yet
    assert features[2, 3].tolist() == pytest.approx([log1p(1), 0.0, 0.0, 0.1])
    with pytest.raises(ValueError, match="edge classes"):
        reputation_features(_graph())


def test_out_degrees_count_distinct_neighbours():
    assert _graph().out_degrees().tolist() == [[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1], [0, 1, 0, 0]]


def test_ids_outside_the_node_range_are_rejected():
    with pytest.raises(ValueError, match=r"toy: node ids must lie in 0\.\.1"):
        TemporalGraph.from_events(2, np.array([0]), np.array([2]), np.array([0]), source="toy")


def test_split_follows_the_official_boundaries():
    # 50 snapshots (max time 49), 5 history steps: train 5..33, dev 34..38, test 39..48 for link
    # prediction (its labels come from t + 1 <= 49) and 39..49 otherwise
    splits = chronological_split(50, 6, "link_pred")
    assert splits == {"train": range(5, 34), "val": range(34, 39), "test": range(39, 49)}
    assert chronological_split(50, 6, "edge_cls")["test"] == range(39, 50)


def test_a_split_without_snapshots_is_explained():
    with pytest.raises(ValueError, match=r"bitcoin\.csv: 8 snapshots with history 5 leave no train snapshots"):
        chronological_split(8, 5, "link_pred", source="bitcoin.csv")
    with pytest.raises(
        ValueError, match=r"leave no train and no val snapshots \(train \(none\), val \(none\), test 6\.\.6\)"
    ):
        chronological_split(8, 7, "link_pred")
    with pytest.raises(ValueError, match="train_fraction"):
        chronological_split(50, 2, "link_pred", train_fraction=0.9, val_fraction=0.2)


def test_negative_edges_avoid_true_edges_self_loops_and_repeats():
    positives = torch.tensor([[0, 0, 1, 2, 3], [1, 2, 2, 3, 0]])
    generator = torch.Generator().manual_seed(0)
    candidates = torch.tensor([0, 1, 2, 3, 4, 5])
    negatives = sample_negative_edges(positives, 6, 12, candidates, generator)
    assert negatives.shape[1] == 12
    ids = (negatives[0] * 6 + negatives[1]).tolist()
    assert len(set(ids)) == len(ids)
    assert not set(ids) & set((positives[0] * 6 + positives[1]).tolist())
    assert (negatives[0] != negatives[1]).all()
    # smart sampling: sources come from the true edges' sources
    assert set(negatives[0].tolist()) <= {0, 1, 2, 3}


def test_negative_count_is_capped_as_the_official_code():
    # P = 3 true edges: at most P·(P-1) - P = 3 negatives
    positives = torch.tensor([[0, 1, 2], [1, 2, 0]])
    negatives = sample_negative_edges(positives, 10, 100, None, torch.Generator().manual_seed(0))
    assert negatives.shape[1] == 3


def test_window_items_batch_snapshots_block_diagonally():
    g = _graph()
    item = WindowDataset(g, [2], history=2, task="link_pred", negatives=1)[0]
    assert item["snapshot"].item() == 2
    assert item["x"].tolist() == [[0, 0, 1, 0], [1, 0, 0, 1]]  # out-degrees of snapshots 1 and 2
    # snapshot 1 (2->3) on nodes 0..3, snapshot 2 (0->3, 3->0) shifted to nodes 4..7
    assert item["edge_index"].tolist() == [[2, 4, 7], [3, 7, 4]]
    assert item["pairs"][:, :1].tolist() == [[1], [3]] and item["labels"].tolist()[:1] == [1]
    assert item["labels"].sum() == 1


def test_evaluation_windows_carry_only_the_true_edges():
    item = WindowDataset(_graph(), [2], history=2, task="link_pred")[0]
    assert item["positives"].tolist() == [[1], [3]]
    assert "pairs" not in item


def test_edge_and_node_classification_labels():
    g = _graph(sign=np.array([1, 1, -1, 1, 1, -1, 1]))
    item = WindowDataset(g, [0], history=1, task="edge_cls")[0]
    assert item["pairs"].tolist() == [[0, 1], [1, 2]] and item["labels"].tolist() == [1, 0]
    labelled = TemporalGraph(
        g.num_nodes,
        g.edge_index,
        g.edge_time,
        g.edge_weight,
        None,
        g.offsets,
        node_features=torch.eye(4),
        node_label=torch.tensor([1, 0, -1, 0]),
        node_time=torch.tensor([2, 2, 2, 1]),
    )
    item = WindowDataset(labelled, [2], history=2, task="node_cls", features="given")[0]
    assert item["nodes"].tolist() == [0, 1] and item["labels"].tolist() == [1, 0]
    assert item["x"].shape == (2, 4, 4)
    with pytest.raises(ValueError, match="edge classification needs edge classes"):
        WindowDataset(_graph(), [0], history=1, task="edge_cls")


def _pairs(dataset, key):
    return dataset[key]["pairs"]


def _random_graph(nodes=12, snapshots=5, events=20):
    rng = np.random.default_rng(0)
    ends = rng.integers(nodes, size=(2, snapshots * events))
    return TemporalGraph.from_events(nodes, ends[0], ends[1], np.repeat(np.arange(snapshots), events))


def test_negatives_are_a_function_of_seed_epoch_and_item():
    g = _random_graph()

    def build(seed=0):
        return WindowDataset(g, [1, 2, 3], history=2, task="link_pred", negatives=2, seed=seed)

    first, rebuilt = build(), build()
    later = _pairs(first, (3, 1))
    assert later.shape[1] > 20  # true edges and negatives
    # any reading order, and a rebuilt dataset (a resumed run, another worker): the same draws
    assert torch.equal(_pairs(first, (0, 0)), _pairs(first, 0))
    assert torch.equal(_pairs(rebuilt, (3, 1)), later) and torch.equal(_pairs(rebuilt, (0, 2)), _pairs(first, (0, 2)))
    # a new draw every epoch, per item and per seed
    assert len({tuple(_pairs(first, (epoch, 1)).flatten().tolist()) for epoch in range(4)}) == 4
    assert len({tuple(_pairs(build(seed), (0, 1)).flatten().tolist()) for seed in range(4)}) == 4


def test_uniform_negatives_reach_nodes_outside_the_window():
    # the window (snapshot 0) holds nodes 0..3; the true edges of snapshot 1 join any of 12 nodes
    rng = np.random.default_rng(0)
    source = np.concatenate([[0, 1, 2], rng.integers(12, size=20)])
    target = np.concatenate([[1, 2, 3], rng.integers(12, size=20)])
    g = TemporalGraph.from_events(12, source, target, np.repeat([0, 1], [3, 20]))
    smart = WindowDataset(g, [0], history=1, task="link_pred", negatives=5)[0]
    uniform = WindowDataset(g, [0], history=1, task="link_pred", negatives=5, smart_negatives=False)[0]
    assert set(smart["pairs"][1, smart["labels"] == 0].tolist()) <= {0, 1, 2, 3}
    assert set(uniform["pairs"][1, uniform["labels"] == 0].tolist()) - {0, 1, 2, 3}
