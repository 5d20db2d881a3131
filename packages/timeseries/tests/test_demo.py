import pytest

from recur_timeseries.demo import main


@pytest.mark.slow
def test_demo_prints_the_table_and_writes_figures(runs_dir, capsys):
    main()
    out = capsys.readouterr().out
    for row in ("ar3_sparse   AR-Net", "ar3_sparse   Classic-AR", "sunspots     AR-Net", "sunspots     Classic-AR"):
        assert row in out
    for name in ("arnet_ar3_sparse.png", "arnet_sunspots.png"):
        assert (runs_dir / "demo" / name).stat().st_size > 10_000
