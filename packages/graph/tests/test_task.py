import gzip

import lightning as L
import pytest
import torch

from recur_core import get_layer_class
from recur_core.engine import quiet_trainer
from recur_graph.datamodules import BitcoinData, EllipticData, SBMData
from recur_graph.task import TemporalGraphTask


def _trainer(epochs):
    return quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0)


def _chance_map(data):
    """AP of random scores is the share of true pairs: the mean over test snapshots of E_t / N²."""
    test = data.dataset("test")
    n = data.graph.num_nodes
    return sum(test[i]["positives"].shape[1] / n**2 for i in range(len(test))) / len(test)


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
    assert result["test/map"] > 1.2 * _chance_map(data), (result, _chance_map(data))
    assert 0 < result["test/mrr"] <= 1


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


def _signed_network(path):
    # 12 users rate each other over 12 snapshots of 1.2e6 s; users 0-2 are distrusted by everyone
    generator = torch.Generator().manual_seed(0)
    lines = []
    for t in range(12):
        for _ in range(30):
            a, b = torch.randint(12, (2,), generator=generator).tolist()
            if a != b:
                rating = -5 if b < 3 else 3
                lines.append(f"{a + 100},{b + 100},{rating},{1_300_000_000 + t * 1_200_000 + 7}")
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_edge_classification_reports_minority_f1(tmp_path):
    L.seed_everything(0)
    data = BitcoinData(path=str(_signed_network(tmp_path / "signed.csv.gz")), task="edge_cls", history=3)
    task = TemporalGraphTask(
        model="gcn_gru",
        task="edge_cls",
        hidden_features=8,
        out_features=8,
        head_hidden=8,
        class_weights=[0.8, 0.2],
        lr=0.02,
    )
    trainer = _trainer(3)
    trainer.fit(task, data)
    assert task.hparams.target_class == 0  # distrust is the minority
    result = trainer.test(task, data, verbose=False)[0]
    assert set(result) == {"test/loss", "test/f1", "test/ap"}
    assert 0 <= result["test/f1"] <= 1 and 0 < result["test/ap"] <= 1


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
