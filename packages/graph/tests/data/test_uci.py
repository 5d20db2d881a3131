import pytest

from recur_graph.data.uci import load_uci, read_uci_messages

# SNAP CollegeMsg: SRC DST UNIXTS; the 2.2-day snapshots put the last message in snapshot 1
SNAP_ROWS = "1 2 1082040961\n1 3 1082155839\n2 3 1082155839\n3 1 1082300000\n"
KONECT_ROWS = "% sym unweighted\n% 4 3 3\n1 2 1 1082040961\n1 3 1 1082155839\n2 3 1 1082155839\n3 1 1 1082300000\n"


def test_snap_collegemsg_layout(tmp_path):
    path = tmp_path / "CollegeMsg.txt"
    path.write_text(SNAP_ROWS)
    g = read_uci_messages(path)
    assert g.num_nodes == 3 and g.num_snapshots == 2
    assert g.edge_index[:, g.edges(0)].tolist() == [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    # 3 -> 1 in snapshot 1, plus its reverse; a repeated message adds to the weight
    assert g.edge_index[:, g.edges(1)].tolist() == [[0, 2], [2, 0]]


def test_konect_layout_reads_the_same(tmp_path):
    snap, konect = tmp_path / "CollegeMsg.txt", tmp_path / "out.opsahl-ucsocial"
    snap.write_text(SNAP_ROWS)
    konect.write_text(KONECT_ROWS)
    a, b = read_uci_messages(snap), read_uci_messages(konect)
    assert a.edge_index.equal(b.edge_index) and a.edge_weight.equal(b.edge_weight)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SNAP_ROWS + "1 2\n", r"line 5: expected 3 columns \(source target time\), found 2"),
        ("1 2 1082040961\n2 1 noon\n", r"line 2: time stamp 'noon' is not a number"),
        ("0 2 1082040961\n", r"line 1: source node id '0' does not fit: ids must lie in 1\.\."),
        ("1 x 1082040961\n", r"line 1: target 'x' is not a number"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "CollegeMsg.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_uci_messages(path)
    assert str(path) in str(info.value)


def test_real_collegemsg(dataset_root):
    g = load_uci(dataset_root("uci-messages", "CollegeMsg.txt") / "CollegeMsg.txt")
    assert (g.num_nodes, g.num_snapshots) == (1899, 89)
    assert g.edge_weight.sum() == 2 * 59835  # every message, both directions
