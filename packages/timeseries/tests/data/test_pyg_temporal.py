"""PyG-Temporal JSON readers (real files and tiny files in each layout), the diffusion generator and the splits."""

import json

import numpy as np
import pytest

from recur_core.data import DatasetNotFoundError
from recur_timeseries.data.graph_diffusion import generate_graph_diffusion
from recur_timeseries.data.pyg_temporal import (
    GraphSeries,
    graph_forecast_windows,
    load_pyg_temporal,
    read_chickenpox,
    read_england_covid,
    read_montevideo_bus,
    read_pedalme,
    read_pyg_temporal,
    read_twitter_tennis,
)

VALUES = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [0.0, 1.0, 0.5]]  # T = 4, N = 3
EDGES = [[0, 1], [1, 2], [2, 0]]


def layouts() -> dict[str, dict]:
    """One tiny, valid file per layout, all holding VALUES [4, 3] on the 3-cycle EDGES."""
    ids = [11, 12, 13]
    files = {
        "chickenpox.json": {"edges": EDGES, "node_ids": {"A": 0, "B": 1, "C": 2}, "FX": VALUES},
        "pedalme_london.json": {"edges": EDGES, "weights": [1.0, 0.5, 0.25], "X": VALUES},
        "montevideo_bus.json": {
            "directed": True,
            "multigraph": False,
            "graph": {},
            "nodes": [{"id": i, "y": [row[k] for row in VALUES], "X": {"y": [0] * 4}} for k, i in enumerate(ids)],
            "links": [{"source": ids[s], "target": ids[d], "weight": 2.0} for s, d in EDGES],
        },
        "england_covid.json": {
            "time_periods": 4,
            "edge_mapping": {
                "edge_index": {str(t): EDGES[: t + 1] if t < 3 else EDGES[:1] for t in range(4)},
                "edge_weight": {str(t): [1.0] * (t + 1 if t < 3 else 1) for t in range(4)},
            },
            "y": VALUES,
        },
        "twitter_tennis_rg17.json": {
            "time_periods": 4,
            "node_ids": {"a": 0, "b": 1, "c": 2},
            **{str(t): {"index": t, "edges": EDGES[:2], "weights": [1, 3], "y": VALUES[t], "X": []} for t in range(4)},
        },
    }
    return json.loads(json.dumps(files))  # a deep copy: a test may corrupt it


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("name", list(layouts()))
def test_every_layout_reads_into_the_same_table(tmp_path, name):
    series = read_pyg_temporal(write(tmp_path, name, layouts()[name]))
    assert isinstance(series, GraphSeries)
    np.testing.assert_array_equal(series.values, np.asarray(VALUES))
    assert series.edges.dtype == np.int64 and series.edges.shape[1] == 2
    assert series.edges.min() >= 0 and series.edges.max() < 3


def test_graph_metadata_is_kept(tmp_path):
    files = layouts()
    pox = read_chickenpox(write(tmp_path, "chickenpox.json", files["chickenpox.json"]))
    assert pox.node_names == ("A", "B", "C") and pox.edges.tolist() == EDGES and pox.weights is None
    # node-link: links name node ids, mapped to columns
    bus = read_montevideo_bus(write(tmp_path, "montevideo_bus.json", files["montevideo_bus.json"]))
    assert bus.edges.tolist() == EDGES and bus.weights.tolist() == [2.0] * 3 and bus.node_names == ("11", "12", "13")
    # dynamic graph: per-snapshot edges kept, the union's weights summed over snapshots
    covid = read_england_covid(write(tmp_path, "england_covid.json", files["england_covid.json"]))
    assert [len(e) for e in covid.snapshot_edges] == [1, 2, 3, 1]
    assert dict(zip(map(tuple, covid.edges.tolist()), covid.weights.tolist())) == {
        (0, 1): 4.0,
        (1, 2): 2.0,
        (2, 0): 1.0,
    }
    tennis = read_twitter_tennis(write(tmp_path, "t.json", files["twitter_tennis_rg17.json"]))
    assert tennis.adjacency()[0, 1] == 4.0 and tennis.adjacency()[1, 2] == 12.0
    pedal = read_pedalme(write(tmp_path, "pedalme_london.json", files["pedalme_london.json"]))
    assert pedal.adjacency()[1, 2] == 0.5


BAD = [
    ("chickenpox.json", lambda d: d.pop("FX"), "missing key 'FX'"),
    ("chickenpox.json", lambda d: d["FX"][2].pop(), "ragged"),
    ("chickenpox.json", lambda d: d["FX"][1].__setitem__(0, "x"), "not a number"),
    ("chickenpox.json", lambda d: d["edges"].append([0, 7]), "outside 0..2"),
    ("pedalme_london.json", lambda d: d["weights"].pop(), "2 weights for 3 edges"),
    ("montevideo_bus.json", lambda d: d["nodes"][1].pop("y"), r"missing key nodes\[1\]\.'y'"),
    ("montevideo_bus.json", lambda d: d["nodes"][2]["y"].append(1), "ragged"),
    ("montevideo_bus.json", lambda d: d["links"].append({"source": 11, "target": 99}), "not both node ids"),
    ("england_covid.json", lambda d: d.pop("y"), "missing key 'y'"),
    ("england_covid.json", lambda d: d["y"][3].append(1.0), "ragged"),
    (
        "england_covid.json",
        lambda d: d["edge_mapping"]["edge_index"].pop("2"),
        "missing key edge_mapping.edge_index.'2'",
    ),
    ("england_covid.json", lambda d: d.__setitem__("time_periods", 9), "'time_periods' is 9"),
    ("twitter_tennis_rg17.json", lambda d: d.pop("3"), "missing key '3'"),
    ("twitter_tennis_rg17.json", lambda d: d["1"]["y"].pop(), "ragged"),
]


@pytest.mark.parametrize(("name", "corrupt", "message"), BAD)
def test_bad_files_are_one_line_errors_naming_file_key_and_layout(tmp_path, name, corrupt, message):
    content = layouts()[name]
    corrupt(content)
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError, match=message) as error:
        read_pyg_temporal(path)
    text = str(error.value)
    assert "\n" not in text and str(path) in text and "expected the" in text and "layout" in text


def test_not_json_and_unknown_names(tmp_path):
    path = tmp_path / "chickenpox.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_pyg_temporal(path)
    with pytest.raises(ValueError, match="cannot tell the layout"):
        read_pyg_temporal(write(tmp_path, "other.json", {}))
    with pytest.raises(ValueError, match="valid names: chickenpox"):
        load_pyg_temporal("chickenpocks")


def test_a_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="recur data fetch pyg-temporal"):
        load_pyg_temporal("england_covid", root=str(tmp_path))


@pytest.mark.parametrize(
    ("dataset", "file", "shape", "edges"),
    [
        ("chickenpox", "chickenpox.json", (521, 20), 102),
        ("pedalme", "pedalme_london.json", (35, 15), 225),
        ("montevideo_bus", "montevideo_bus.json", (744, 675), 690),
        ("twitter_tennis_rg17", "twitter_tennis_rg17.json", (120, 1000), None),
        ("twitter_tennis_uo17", "twitter_tennis_uo17.json", (112, 1000), None),
    ],
)
def test_real_files_under_the_data_root(dataset_root, dataset, file, shape, edges):
    folder = dataset_root("pyg-temporal", file)
    series = load_pyg_temporal(dataset, root=str(folder.parent))
    assert series.values.shape == shape and np.isfinite(series.values).all()
    if edges is not None:
        assert len(series.edges) == edges
    else:  # dynamic mention graphs: one edge list per snapshot
        assert len(series.snapshot_edges) == shape[0] and len(series.edges) > 0
    if dataset == "chickenpox":  # the file stores each county z-scored
        np.testing.assert_allclose(series.values.mean(axis=0), 0, atol=1e-9)
        assert series.node_names[0] == "BACS"
    if dataset in ("montevideo_bus", "twitter_tennis_rg17"):  # counts
        assert series.values.min() == 0 and (series.values == np.round(series.values)).all()


def test_diffusion_is_nonnegative_seeded_and_spreads_along_the_graph():
    series = generate_graph_diffusion(num_nodes=12, steps=400, degree=2, sources=3, seed=1)
    assert series.values.shape == (400, 12) and (series.values >= 0).all() and series.edges.shape == (24, 2)
    assert (series.edges[:, 0] != series.edges[:, 1]).all()
    np.testing.assert_array_equal(
        series.values, generate_graph_diffusion(num_nodes=12, steps=400, degree=2, sources=3, seed=1).values
    )
    assert not np.array_equal(
        series.values, generate_graph_diffusion(num_nodes=12, steps=400, degree=2, sources=3, seed=2).values
    )
    # without diffusion an unforced node decays to (clipped) noise; with it, the season reaches every node
    still = generate_graph_diffusion(num_nodes=12, steps=400, degree=2, sources=3, diffusion=0.0, noise=0.0, seed=1)
    assert (still.values.std(axis=0) < 1e-9).sum() == 12 - 3
    assert (series.values.std(axis=0) > 1e-3).all()
    with pytest.raises(ValueError, match="degree"):
        generate_graph_diffusion(num_nodes=4, degree=4)


def test_forecast_windows_use_training_statistics_and_borrow_context():
    values = np.arange(200, dtype=float).reshape(100, 2) + 1
    series = GraphSeries("ramp", values, np.zeros((0, 2), dtype=np.int64))
    windows = graph_forecast_windows(series, input_len=6, horizon=2, splits=(0.6, 0.2, 0.2))
    train_max = values[:60].max(axis=0)
    np.testing.assert_allclose(windows["train"].values, values[:60] / train_max)
    # val starts input_len rows early, in the training scale (its values exceed 1: no leak of its own max)
    np.testing.assert_allclose(windows["val"].values, values[54:80] / train_max)
    assert windows["val"].values.max() > 1 and len(windows["test"]) == 20 - 2 + 1
    z = graph_forecast_windows(series, 6, 2, (0.6, 0.2, 0.2), normalization="zscore")["train"].values
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    with pytest.raises(ValueError, match="too few"):
        graph_forecast_windows(series, input_len=70, horizon=2)
    with pytest.raises(ValueError, match="normalization"):
        graph_forecast_windows(series, 6, 2, normalization="minmax")
