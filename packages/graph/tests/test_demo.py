from recur_graph.demo import MODELS, run_demo


def test_demo_runs_end_to_end():
    results = run_demo(num_nodes=30, num_snapshots=10, epochs=1)
    assert set(results) == {"chance", *MODELS}
    assert all(0 <= r["test/map"] <= 1 for r in results.values())
