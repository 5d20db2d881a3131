import gzip

import pytest

from recur_graph.data.snap import load_bitcoin, read_signed_network

# 4 raters; snapshots of 1.2e6 s: rows 1-3 in snapshot 0, row 4 in snapshot 1
ROWS = "6,2,4,1289241911.72836\n6,5,-2,1289241941.53378\n2,6,1,1289243000\n5,2,10,1290500000\n"


def _write(path, text, gz=False):
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_gzipped_snap_file_without_header(tmp_path):
    g = read_signed_network(_write(tmp_path / "soc-sign-bitcoinotc.csv.gz", ROWS, gz=True))
    # ids 2, 5, 6 -> 0, 1, 2; both directions; 6<->2 has two ratings (+4 and +1) in snapshot 0
    assert g.num_nodes == 3 and g.num_snapshots == 2
    edges = {
        tuple(e): (w, int(c))
        for e, w, c in zip(
            g.edge_index[:, g.edges(0)].T.tolist(), g.edge_weight[g.edges(0)].tolist(), g.edge_label[g.edges(0)]
        )
    }
    assert edges == {(2, 0): (2.0, 1), (0, 2): (2.0, 1), (2, 1): (1.0, 0), (1, 2): (1.0, 0)}
    assert g.edge_index[:, g.edges(1)].tolist() == [[0, 1], [1, 0]]


def test_plain_file_with_a_header_line_reads_the_same(tmp_path):
    plain = read_signed_network(_write(tmp_path / "alpha.csv", "from,to,feature,time\n" + ROWS))
    packed = read_signed_network(_write(tmp_path / "otc.csv.gz", ROWS, gz=True))
    assert plain.edge_index.equal(packed.edge_index) and plain.edge_label.equal(packed.edge_label)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("6,2,4\n", r"line 1: expected 4 columns \(source,target,rating,time\), found 3"),
        (ROWS + "6,2,4,1289241911,7\n", r"line 5: expected 4 columns"),
        ("source,target,rating\n6,2,4\n", r"line 1: expected 4 columns"),
        (ROWS + "6,2,4,yesterday\n", r"line 5: time stamp 'yesterday' is not a number"),
        ("6,2,good,1289241911\n", r"line 1: rating 'good' is not a number"),
        ("6,2.5,4,1289241911\n", r"line 1: target node id '2.5' is not an integer"),
        ("-6,2,4,1289241911\n", r"line 1: source node id '-6' does not fit"),
        ("6,99999999999,4,1289241911\n", r"line 1: target node id '99999999999' does not fit"),
        ("from,to,feature,time\n", r"no data lines"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, text, message):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=message) as info:
        read_signed_network(path)
    assert str(path) in str(info.value)


def test_missing_file_says_what_it_should_hold(tmp_path):
    with pytest.raises(FileNotFoundError, match="columns source,target,rating,time"):
        read_signed_network(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("name", "file", "nodes", "snapshots"),
    [("otc", "soc-sign-bitcoinotc.csv.gz", 5881, 138), ("alpha", "soc-sign-bitcoinalpha.csv", 3783, 137)],
)
def test_real_bitcoin_networks(dataset_root, name, file, nodes, snapshots):
    g = load_bitcoin(name, dataset_root(f"bitcoin-{name}", file) / file)
    assert (g.num_nodes, g.num_snapshots) == (nodes, snapshots)
    # undirected: every edge also runs the other way, with the same weight and class
    forward = g.edge_time * nodes * nodes + g.edge_index[0] * nodes + g.edge_index[1]
    backward = g.edge_time * nodes * nodes + g.edge_index[1] * nodes + g.edge_index[0]
    assert forward.sort().values.equal(backward.sort().values)
    # distrust is the minority class (about 10% of the ratings)
    assert 0.05 < 1 - g.edge_label.float().mean() < 0.2
