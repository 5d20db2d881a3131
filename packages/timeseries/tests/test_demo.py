import pytest

from recur_timeseries.demo import FORECASTERS, main, run_demo, run_forecast_demo


def test_run_demo_scores_both_models_on_both_series(tmp_path):
    results = run_demo(n_samples=200, ar_epochs=2, sunspots_epochs=2, out=tmp_path)
    assert set(results) == {"ar3_sparse", "sunspots"}
    for series, rows in results.items():
        assert set(rows) == {"AR-Net", "Classic-AR"}
        for scores in rows.values():
            assert scores["mse"] > 0 and scores["mae"] > 0 and scores["seconds"] >= 0
            assert (scores["stpe"] is None) == (series == "sunspots")
    assert {p.name for p in tmp_path.iterdir()} == {"arnet_ar3_sparse.png", "arnet_sunspots.png"}


def test_forecast_demo_trains_every_forecaster_past_repeat_last():
    results = run_forecast_demo(steps=60, n_train=1200)
    assert set(results) == {*FORECASTERS, "repeat-last", "seasonal naive", "least squares"}
    for name in FORECASTERS:
        assert results[name]["mse"] < 0.8 * results["repeat-last"]["mse"], (name, results)


@pytest.mark.slow
def test_demo_prints_the_table_and_writes_figures(runs_dir, capsys):
    main()
    out = capsys.readouterr().out
    for row in ("ar3_sparse   AR-Net", "ar3_sparse   Classic-AR", "sunspots     AR-Net", "sunspots     Classic-AR"):
        assert row in out
    for row in ("DLinear", "TPGN", "seq2seq GLA", "repeat-last", "least squares"):
        assert f"\n{row} " in out
    for name in ("arnet_ar3_sparse.png", "arnet_sunspots.png"):
        assert (runs_dir / "demo" / name).stat().st_size > 10_000
