import numpy as np
import pytest

from recur_graph.data.sbm import DynamicSBM, generate_sbm, generated_sbm_graph, read_sbm_csv, write_sbm_csv

SMALL = DynamicSBM(num_nodes=40, num_snapshots=6, num_communities=2, p_in=0.3, p_out=0.02, migrations=2, seed=3)


def test_generator_is_seeded_and_undirected():
    edges = generate_sbm(SMALL)
    assert np.array_equal(edges, generate_sbm(SMALL))
    assert not np.array_equal(edges, generate_sbm(DynamicSBM(**{**SMALL.__dict__, "seed": 4})))
    forward = {tuple(r) for r in edges[:, [0, 1, 3]].tolist()}
    assert forward == {(b, a, t) for a, b, t in forward}
    assert set(edges[:, 3].tolist()) == set(range(6)) and (edges[:, 2] == 1).all()


def test_communities_are_denser_inside():
    params = DynamicSBM(num_nodes=200, num_snapshots=2, p_in=0.1, p_out=0.01, migrations=0, seed=0)
    edges = generate_sbm(params)
    per_snapshot = len(edges) / 2 / 2  # undirected edges per snapshot
    # about 2 * C(100, 2) * 0.1 + 100 * 100 * 0.01 = 1090
    assert 950 < per_snapshot < 1250


def test_csv_round_trip_equals_the_generated_graph(tmp_path):
    path = write_sbm_csv(tmp_path / "sbm.csv", generate_sbm(SMALL))
    assert path.read_text().splitlines()[0] == "source,target,weight,time"
    read, generated = read_sbm_csv(path), generated_sbm_graph(SMALL)
    for name in ("edge_index", "edge_time", "edge_weight", "offsets"):
        assert getattr(read, name).equal(getattr(generated, name)), name


def test_negative_weights_count_as_zero_as_in_the_official_loader(tmp_path):
    path = tmp_path / "sbm.csv"
    path.write_text("source,target,weight,time\n0,1,5,0\n1,0,-1,0\n")
    assert read_sbm_csv(path).edge_weight.tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source,target,time\n0,1,0\n", r"line 1: expected 4 columns \(source,target,weight,time\), found 3"),
        ("source,target,weight,time\n0,1,1\n", r"line 2: expected 4 columns"),
        ("source,target,weight,time\n0,1,1,t3\n", r"line 2: time stamp 't3' is not a number"),
        ("source,target,weight,time\n0,1.5,1,3\n", r"line 2: target node id '1.5' is not an integer"),
        ("source,target,weight,time\n0,-1,1,3\n", r"line 2: target node id '-1' does not fit"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "sbm.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_sbm_csv(path)
    assert str(path) in str(info.value)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="probabilities"):
        DynamicSBM(p_in=1.5)
