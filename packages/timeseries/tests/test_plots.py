import matplotlib.axes
import numpy as np
import pytest

from recur_timeseries.plots import plot_skill


def test_plot_skill_draws_one_minus_the_mse_ratio(tmp_path, monkeypatch):
    heights = []
    bar = matplotlib.axes.Axes.bar

    def recording_bar(self, x, height, *args, **kwargs):
        heights.append(np.asarray(height))
        return bar(self, x, height, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", recording_bar)
    mse = {"m1": [0.5, 2.0], "m2": [1.0, np.nan]}
    path = plot_skill(tmp_path / "fig" / "skill.png", ["a", "b"], mse, reference=[1.0, 4.0], title="t")
    assert path.stat().st_size > 5_000
    np.testing.assert_allclose(heights[0], [0.5, 0.5])
    assert heights[1][0] == pytest.approx(0.0) and np.isnan(heights[1][1])
