import lightning as L
import pytest
import torch

from recur_core import get_layer_class
from recur_core.engine import quiet_trainer
from recur_graph.datamodules import BitcoinData, EllipticData, SBMData
from recur_graph.metrics import rank_all_pairs
from recur_graph.task import TemporalGraphTask


def _trainer(epochs):
    return quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0)


def _chance_map(data):
    """AP of random scores is the share of true pairs: the mean over test snapshots of E_t / N²."""
    test = data.dataset("test")
    n = data.graph.num_nodes
    return sum(test[i]["positives"].shape[1] / n**2 for i in range(len(test))) / len(test)


def _random_mrr(data, draws=20):
    """MRR of uniformly random scores over all pairs, averaged over test snapshots and draws."""
    test, n = data.dataset("test"), data.graph.num_nodes
    generator = torch.Generator().manual_seed(0)
    values = [
        rank_all_pairs(lambda rows: torch.rand(len(rows), n, generator=generator), n, test[i]["positives"])[1]
        for i in range(len(test))
        for _ in range(draws)
    ]
    return sum(values) / len(values)


def test_evolvegcn_learns_link_prediction_above_chance():
    L.seed_everything(0)
    # community 0 shrinks by a node per snapshot, so degrees tell the communities apart more and more
    data = SBMData(num_nodes=60, num_snapshots=16, p_in=0.3, p_out=0.03, migrations=1, history=4, negatives=10)
    task = TemporalGraphTask(
        model="evolvegcn_o", hidden_features=16, out_features=16, head_hidden=32, class_weights=[0.15, 0.85], lr=0.01
    )
    trainer = _trainer(6)
    trainer.fit(task, data)
    result = trainer.test(task, data, verbose=False)[0]
    # measured: MAP 0.287 against 0.207, MRR 0.107 against a random ranking's; a blind model scores chance
    assert result["test/map"] > 1.3 * _chance_map(data), (result, _chance_map(data))
    assert result["test/mrr"] > 1.2 * _random_mrr(data), (result, _random_mrr(data))


def test_task_must_match_the_data():
    data = SBMData(num_nodes=30, num_snapshots=12, history=2)
    message = r"model\.task = 'edge_cls' but the data has task = 'link_pred'; set --model\.task link_pred"
    with pytest.raises(ValueError, match=message):
        _trainer(1).fit(TemporalGraphTask(task="edge_cls"), data)
    # also when the model is already built (a checkpoint, or in_features given)
    with pytest.raises(ValueError, match=message):
        _trainer(1).fit(TemporalGraphTask(task="edge_cls", in_features=5), data)


@pytest.mark.parametrize("model", ["evolvegcn_h", "evolvegcn_o", "gcn_gru"])
def test_layer_and_layer_kwargs_reach_the_model(model):
    task = TemporalGraphTask(
        model=model, in_features=6, hidden_features=4, out_features=4, layer="attention", layer_kwargs={"num_heads": 2}
    )
    layers = [m for m in task.net.modules() if isinstance(m, get_layer_class("attention"))]
    assert layers and all(m.num_heads == 2 for m in layers)
    default = TemporalGraphTask(model=model, in_features=5)
    assert any(isinstance(m, get_layer_class("gru")) for m in default.net.modules())


def test_static_gcn_takes_no_recurrence():
    assert TemporalGraphTask(model="static_gcn", in_features=5).net is not None
    with pytest.raises(TypeError, match="unexpected keyword argument 'layer'"):
        TemporalGraphTask(model="static_gcn", in_features=5, layer="gru")


def _write_ratings(path, ratings):
    """SNAP signed-network lines ``source,target,rating,time`` for (source, target, rating, snapshot) tuples."""
    lines = [f"{a},{b},{rating},{1_300_000_000 + t * 1_200_000 + 7}" for a, b, rating, t in ratings]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _scam_ratings(snapshots=14, users=14, raters=5):
    # each snapshot a scammer (user 0 or 1) gets -5 from `raters` users, and the others pair up and rate +3:
    # a distrust edge is the one whose endpoint has degree `raters`, which one-hot degrees show
    generator = torch.Generator().manual_seed(0)
    ratings = []
    for t in range(snapshots):
        others = (torch.randperm(users - 2, generator=generator) + 2).tolist()
        ratings += [(rater, t % 2, -5, t) for rater in others[:raters]]
        ratings += [(a, b, 3, t) for a, b in zip(others[::2], others[1::2])]
    return ratings


def test_edge_classification_learns_an_easy_signed_network(tmp_path):
    L.seed_everything(0)
    data = BitcoinData(path=_write_ratings(tmp_path / "scam.csv", _scam_ratings()), task="edge_cls", history=2)
    task = TemporalGraphTask(
        model="evolvegcn_o", task="edge_cls", hidden_features=8, out_features=8, head_hidden=16, lr=0.02
    )
    trainer = _trainer(15)
    trainer.fit(task, data)
    assert task.hparams.target_class == 0  # distrust is the minority: 5 of 11 edges per snapshot
    result = trainer.test(task, data, verbose=False)[0]
    # predicting distrust everywhere scores F1 = 2·(5/11) / (1 + 5/11) = 0.625
    assert result["test/f1"] > 0.9 and result["test/ap"] > 0.9, result


def _matching_ratings(snapshots=24, users=16, scammers=(0, 1, 2, 3)):
    # every snapshot the users pair up at random: every node has degree 1, so degrees say nothing,
    # and a pair is distrust when it holds a scammer, which only the ratings of earlier snapshots show
    generator = torch.Generator().manual_seed(0)
    ratings = []
    for t in range(snapshots):
        order = torch.randperm(users, generator=generator).tolist()
        ratings += [(a, b, -3 if {a, b} & set(scammers) else 2, t) for a, b in zip(order[::2], order[1::2])]
    return ratings


@pytest.mark.parametrize("features", ["degree", "reputation"])
def test_reputation_features_let_edge_classification_see_past_distrust(tmp_path, features):
    L.seed_everything(0)
    path = _write_ratings(tmp_path / "matching.csv", _matching_ratings())
    data = BitcoinData(path=path, task="edge_cls", history=2, features=features)
    task = TemporalGraphTask(
        model="evolvegcn_o", task="edge_cls", hidden_features=8, out_features=8, head_hidden=16, lr=0.02
    )
    trainer = _trainer(15)
    trainer.fit(task, data)
    result = trainer.test(task, data, verbose=False)[0]
    if features == "reputation":
        assert result["test/f1"] > 0.9 and result["test/f1"] > result["test/f1_input_blind"] + 0.2, result
    else:
        # one-hot degrees are the same for every node: distrust AP stays near its share (0.44)
        assert result["test/ap"] < 0.75, result


class _NodeIds(torch.nn.Module):
    """A stand-in graph model: node i's embedding is [i] in every snapshot."""

    def forward(self, x, edge_index, edge_weight=None):
        return torch.arange(x.shape[1], dtype=torch.float).expand(x.shape[0], -1)[..., None]


class _TableHead(torch.nn.Module):
    """A stand-in head: pair (u, v) has class-1 probability table[u, v] (class 0: 1 - table[u, v])."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table)

    def forward(self, h, pairs):
        p = self.table[h[pairs[0], 0].long(), h[pairs[1], 0].long()]
        return torch.stack([(1 - p).log(), p.log()], -1)

    def class_probability_rows(self, h, rows):
        return self.table[h[rows, 0].long()][:, h[:, 0].long()]


def _scored_by_table(task, table):
    task.net, task.head = _NodeIds(), _TableHead(table)
    return task


def test_link_prediction_map_and_mrr_equal_hand_worked_values(tmp_path):
    # 11 snapshots, history 1: the test windows end at snapshots 8 and 9 and predict 9 and 10
    edges = [(0, 1, t) for t in range(9)] + [(0, 1, 9), (2, 0, 9), (1, 2, 10)]
    path = tmp_path / "sbm.csv"
    path.write_text("source,target,weight,time\n" + "".join(f"{a},{b},1,{t}\n" for a, b, t in edges))
    data = SBMData(path=str(path), history=1, val_fraction=0.15, negatives=1)
    table = [[0.1, 0.9, 0.4], [0.8, 0.2, 0.6], [0.3, 0.7, 0.5]]
    task = _scored_by_table(TemporalGraphTask(in_features=3), table)
    result = _trainer(1).test(task, data, verbose=False)[0]
    # snapshot 9: (0,1) ranks 1st of all 9 pairs, (2,0) 7th: AP (1 + 2/7) / 2; its row ranks are 1 and 3
    # snapshot 10: (1,2) ranks 4th: AP 1/4; 2nd in its row. Both snapshots score 9 pairs: a plain mean.
    assert result["test/map"] == pytest.approx((9 / 14 + 1 / 4) / 2)
    assert result["test/mrr"] == pytest.approx(((1 + 1 / 3) / 2 + 1 / 2) / 2)


def test_edge_classification_f1_and_ap_equal_hand_worked_values(tmp_path):
    # training snapshots hold trust only; the test snapshots are 8 ({0,1} trust, {2,3} distrust),
    # 9 ({0,2} distrust, {1,3} trust) and 10 ({0,3} trust), each edge in both directions
    ratings = [(0, 1, 3, t) for t in range(8)] + [(0, 2, -1, 7)]
    ratings += [(0, 1, 3, 8), (2, 3, -2, 8), (0, 2, -5, 9), (1, 3, 1, 9), (0, 3, 4, 10)]
    data = BitcoinData(
        path=_write_ratings(tmp_path / "signed.csv", ratings), task="edge_cls", history=1, val_fraction=0.15
    )
    distrust = [[0.5, 0.2, 0.9, 0.7], [0.6, 0.5, 0.5, 0.1], [0.9, 0.5, 0.5, 0.8], [0.7, 0.1, 0.4, 0.5]]
    table = [[1 - p for p in row] for row in distrust]
    task = _scored_by_table(TemporalGraphTask(task="edge_cls", in_features=3), table)
    result = _trainer(1).test(task, data, verbose=False)[0]
    assert task.hparams.target_class == 0
    # argmax calls distrust where p > 0.5: snapshot 8 tp (2,3), fp (1,0), fn (3,2); 9 tp (0,2), (2,0);
    # 10 fp (0,3), (3,0). Counts over the split: 3 tp, 3 fp, 1 fn -> F1 6/10 (per-snapshot mean: 0.5)
    assert result["test/f1"] == pytest.approx(0.6)
    # distrust AP per snapshot: 8: (1 + 2/3) / 2, 9: 1, 10: 0 (no distrust); weighted by 4, 4, 2 edges
    assert result["test/ap"] == pytest.approx((4 * 5 / 6 + 4 * 1 + 2 * 0) / 10)
    # distrust everywhere: 4 tp, 6 fp, 0 fn -> precision 0.4, recall 1, F1 4/7
    assert result["test/f1_input_blind"] == pytest.approx(4 / 7)


def test_node_classification_on_elliptic_files(tmp_path):
    features, classes, edges = [], ["txId,class"], ["txId1,txId2"]
    for i in range(40):
        step = i // 5 + 1
        features.append(f"{1000 + i},{step},{i % 3},{(i * 7) % 5}")
        classes.append(f"{1000 + i},{'1' if i % 5 == 0 else '2' if i % 5 < 4 else 'unknown'}")
        if i % 5:
            edges.append(f"{1000 + i - 1},{1000 + i}")
    for name, rows in (("features", features), ("classes", classes), ("edgelist", edges)):
        (tmp_path / f"elliptic_txs_{name}.csv").write_text("\n".join(rows) + "\n")
    data = EllipticData(path=str(tmp_path), history=2, train_fraction=0.5, val_fraction=0.2)
    task = TemporalGraphTask(model="static_gcn", task="node_cls", hidden_features=4, out_features=4, head_hidden=4)
    trainer = _trainer(2)
    trainer.fit(task, data)
    assert task.hparams.target_class == 1 and task.hparams.in_features == 2
    assert "test/f1" in trainer.test(task, data, verbose=False)[0]
