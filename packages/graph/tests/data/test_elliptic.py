import pytest
import torch

from recur_graph.data.elliptic import read_elliptic

FEATURES = "230425980,1,-0.17,0.5\n5530458,1,0.3,-1.2\n232022460,1,1.0,0.0\n232438397,2,0.2,0.1\n"
CLASSES = "txId,class\n230425980,unknown\n5530458,1\n232022460,2\n232438397,2\n"
EDGES = "txId1,txId2\n230425980,5530458\n5530458,232022460\n"


def _folder(tmp_path, features=FEATURES, classes=CLASSES, edges=EDGES):
    for name, text in (("features", features), ("classes", classes), ("edgelist", edges)):
        (tmp_path / f"elliptic_txs_{name}.csv").write_text(text)
    return tmp_path


def test_kaggle_csvs(tmp_path):
    g = read_elliptic(_folder(tmp_path))
    assert g.num_nodes == 4 and g.num_snapshots == 2
    assert g.node_time.tolist() == [0, 0, 0, 1]
    assert g.node_label.tolist() == [-1, 1, 0, 0]  # unknown, illicit, licit, licit
    expected = torch.tensor([[-0.17, 0.5], [0.3, -1.2], [1.0, 0.0], [0.2, 0.1]])
    torch.testing.assert_close(g.node_features, expected)
    assert g.edge_index[:, g.edges(0)].tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert g.edges(1) == slice(4, 4)


@pytest.mark.parametrize(
    ("part", "text", "message"),
    [
        ("classes", "txId,label\n", r"elliptic_txs_classes\.csv, line 1: expected the header txId,class"),
        ("classes", CLASSES + "5530458,3\n", r"elliptic_txs_classes\.csv, line 6: class '3' is not 1, 2 or unknown"),
        ("classes", CLASSES + "77,1\n", r"elliptic_txs_classes\.csv, line 6: transaction 77 is not in"),
        ("edgelist", EDGES + "230425980,232438397\n", r"elliptic_txs_edgelist\.csv, line 4: .* different time steps"),
        ("edgelist", EDGES + "230425980,-4\n", r"elliptic_txs_edgelist\.csv, line 4: transaction id '-4' does not fit"),
        ("edgelist", EDGES + "230425980\n", r"elliptic_txs_edgelist\.csv, line 4: expected 2 columns"),
        ("features", FEATURES + "99,x,0.1,0.2\n", r"elliptic_txs_features\.csv, line 5: time step 'x' is not a number"),
        ("features", FEATURES + "99,1,0.1,nan?\n", r"line 5: feature \(column 4\) 'nan\?' is not a number"),
        ("features", FEATURES + "99,1,0.1\n", r"elliptic_txs_features\.csv, line 5: expected 4 columns"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, part, text, message):
    _folder(tmp_path, **{"edges" if part == "edgelist" else part: text})
    with pytest.raises(ValueError, match=message):
        read_elliptic(tmp_path)


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"elliptic_txs_features\.csv, elliptic_txs_classes\.csv"):
        read_elliptic(tmp_path)
