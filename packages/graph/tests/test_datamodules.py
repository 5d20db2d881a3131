import gzip

import pytest
import torch
import yaml

from recur_core.recipes import list_recipes
from recur_graph.data.snapshots import chronological_split
from recur_graph.datamodules import BitcoinData, EllipticData, SBMData, TemporalGraphData, UCIData


def _small(**options):
    return SBMData(num_nodes=30, num_snapshots=20, p_in=0.3, p_out=0.03, history=3, negatives=2, **options)


def test_splits_are_the_chronological_windows_made_once():
    data = _small()
    data.setup("fit")
    assert set(data.datasets) == {"train", "val"}
    expected = chronological_split(20, 3, "link_pred")
    for split in ("train", "val", "test"):
        assert data.dataset(split).targets == list(expected[split])
    assert data.dataset("train") is data.datasets["train"]
    # one-hot degrees as wide as the whole graph's largest degree, in every split
    assert {data.dataset(s).num_features for s in ("train", "val", "test")} == {data.num_features}


def test_only_link_prediction_training_samples_negatives():
    data = _small()
    assert "pairs" in data.dataset("train")[0] and "positives" in data.dataset("test")[0]


def test_eval_windows_cuts_validation_and_test_only():
    full, cut = _small(), _small(eval_windows=1)
    assert len(cut.dataset("val")) == len(cut.dataset("test")) == 1
    assert len(cut.dataset("train")) == len(full.dataset("train"))
    with pytest.raises(ValueError, match="eval_windows must be at least 1"):
        _small(eval_windows=0)


def test_each_batch_is_one_window():
    data = _small()
    batch = next(iter(data.train_dataloader()))
    assert batch["x"].shape == (3, 30) and batch["snapshot"].dim() == 0


@pytest.mark.parametrize("shuffle", [False, True])
def test_training_windows_keep_time_order_unless_shuffled(shuffle):
    data = _small(shuffle=shuffle)
    order = [int(batch["snapshot"]) for batch in data.train_dataloader()]
    assert sorted(order) == data.dataset("train").targets
    assert (order == sorted(order)) != shuffle


def test_options_are_checked():
    with pytest.raises(ValueError, match="SBMData supports task link_pred"):
        SBMData(task="edge_cls")
    with pytest.raises(ValueError, match="negatives must be at least 1"):
        SBMData(negatives=0)


def test_the_base_takes_its_options_by_keyword_only():
    class Fixed(TemporalGraphData):
        def load(self):
            return SBMData(num_nodes=10, num_snapshots=20).load()

    with pytest.raises(TypeError):
        Fixed("link_pred")
    data = Fixed(history=2, negatives=1)
    assert data.batch_size is None and data.history == 2
    assert isinstance(data.dataset("train")[0]["x"], torch.Tensor)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: BitcoinData(network="otc"), "bitcoin-otc"),
        (lambda: BitcoinData(network="alpha", task="edge_cls"), "bitcoin-alpha"),
        (lambda: UCIData(), "uci-messages"),
    ],
)
def test_a_missing_dataset_names_the_command_that_fetches_it(tmp_path, monkeypatch, make, name):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path))
    data = make()
    with pytest.raises(FileNotFoundError, match=f"recur data fetch {name}") as info:
        data.setup("fit")
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)
    assert not any(tmp_path.iterdir()), "nothing is written into the data root"


def test_missing_elliptic_says_how_to_download_it_by_hand(tmp_path, monkeypatch):
    # Kaggle needs an account, so the message gives the manual steps rather than recur data fetch
    monkeypatch.setenv("RECUR_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"download it by hand from https://www\.kaggle\.com/") as info:
        EllipticData().setup("fit")
    assert "elliptic_bitcoin_dataset" in str(info.value) and "\n" not in str(info.value)


def test_root_and_path_choose_where_the_file_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "elsewhere"))
    rows = [
        f"{a},{b},{1 if (a + b) % 3 else -1},{1_300_000_000 + t * 1_200_000}"
        for t in range(12)
        for a, b in [(1, 2), (2, 3), (3, 1), (t % 3 + 1, 4)]
    ]
    folder = tmp_path / "root" / "bitcoin-signed-networks"
    folder.mkdir(parents=True)
    (folder / "soc-sign-bitcoinotc.csv.gz").write_bytes(gzip.compress("\n".join(rows).encode()))
    from_root = BitcoinData(network="otc", root=str(tmp_path / "root"), history=2)
    assert from_root.dataset("train").graph.num_nodes == 4
    copy = tmp_path / "copy.csv.gz"
    # the copy has a fifth user
    copy.write_bytes(gzip.compress("\n".join([*rows, "4,5,1,1300000000"]).encode()))
    from_path = BitcoinData(network="otc", path=str(copy), history=2)
    assert from_path.dataset("train").graph.num_nodes == 5


def test_real_bitcoin_otc_under_the_data_root(dataset_root):
    data = BitcoinData(network="otc", root=str(dataset_root("bitcoin-otc").parent), eval_windows=1)
    assert data.graph is None
    assert data.dataset("test").graph.num_nodes == 5881 and len(data.dataset("test")) == 1


@pytest.mark.parametrize("workers", [0, 2])
def test_training_loader_draws_each_epochs_negatives_in_any_process(workers):
    data = _small(num_workers=workers, shuffle=True)
    loader = data.train_dataloader()
    train = data.dataset("train")
    for epoch in (0, 2):
        loader.sampler.set_epoch(epoch)
        order = loader.sampler.order(epoch)
        batches = list(loader)
        assert [int(b["snapshot"]) for b in batches] == [train.targets[i] for i in order]
        for batch, index in zip(batches, order):
            assert torch.equal(batch["pairs"], train[(epoch, index)]["pairs"])
    assert not torch.equal(train[(0, 0)]["pairs"], train[(2, 0)]["pairs"])


@pytest.mark.parametrize("family", ["evolvegcn", "static_gcn", "gcn_gru"])
def test_link_prediction_recipes_give_no_unseen_target_shortcut(tmp_path, family):
    # Most Bitcoin-OTC users are absent from a window, and some true edges of t + 1 reach them. Negatives
    # whose targets come only from the window's users would make "target unseen in the window" mark a true
    # edge: GCN-GRU learnt it and ranked every unseen user first on the all-pairs test (MRR below random).
    options = yaml.safe_load(list_recipes("graph")[f"{family}/bitcoin_otc_link_pred"].read_text())["data"]["init_args"]
    rng = torch.Generator().manual_seed(0)
    lines = []
    for t in range(20):
        # 10 of the 60 users are active in each snapshot, a different 10 every time
        users = torch.randperm(60, generator=rng)[:10].tolist()
        lines += [f"{a},{b},1,{1_300_000_000 + t * 1_200_000}" for a, b in zip(users[:5], users[5:])]
    (tmp_path / "otc.csv").write_text("\n".join(lines) + "\n")
    options.update(path=str(tmp_path / "otc.csv"), history=3, negatives=5)
    train = BitcoinData(**options).dataset("train")
    unseen = {0: 0, 1: 0}
    for index in range(len(train)):
        item = train[index]
        seen = torch.zeros(60, dtype=torch.bool)
        seen[item["edge_index"].flatten() % train.graph.num_nodes] = True
        for label in (0, 1):
            unseen[label] += int((~seen[item["pairs"][1, item["labels"] == label]]).sum())
    assert unseen[1] > 0 and unseen[0] > 0, unseen
