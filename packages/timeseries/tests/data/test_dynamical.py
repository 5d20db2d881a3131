import numpy as np
import pytest
import torch

from recur_core.tasks.base import split_generator
from recur_timeseries.data.dynamical import (
    TrajectoryWindows,
    delay_embed,
    ett_trajectories,
    generated_trajectories,
    lorenz96,
    lorenz96_field,
)
from recur_timeseries.datamodules import ReconstructionData


def test_lorenz96_field_by_hand():
    # dx_i = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F, indices on a ring of 5
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    # i=0: (x1 - x3) x4 - x0 + 8 = (2 - 4) * 5 - 1 + 8 = -3
    # i=1: (x2 - x4) x0 - x1 + 8 = (3 - 5) * 1 - 2 + 8 = 4
    # i=2: (x3 - x0) x1 - x2 + 8 = (4 - 1) * 2 - 3 + 8 = 11
    # i=3: (x4 - x1) x2 - x3 + 8 = (5 - 2) * 3 - 4 + 8 = 13
    # i=4: (x0 - x2) x3 - x4 + 8 = (1 - 3) * 4 - 5 + 8 = -5
    expected = torch.tensor([-3.0, 4.0, 11.0, 13.0, -5.0], dtype=torch.float64)
    torch.testing.assert_close(lorenz96_field(x, 8.0), expected)
    # the fixed point x_i = F
    torch.testing.assert_close(lorenz96_field(torch.full((7,), 8.0), 8.0), torch.zeros(7))
    # batched: the field acts on the last dimension only
    batch = torch.stack([x, 2 * x])
    torch.testing.assert_close(lorenz96_field(batch)[1], lorenz96_field(2 * x))


def test_lorenz96_shapes_determinism_and_chaos():
    a = lorenz96(2, 300, split_generator(0, "train"), n=10, burn_in=200)
    b = lorenz96(2, 300, split_generator(0, "train"), n=10, burn_in=200)
    assert a.shape == (2, 300, 10) and a.dtype == torch.float64
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, lorenz96(2, 300, split_generator(1, "train"), n=10, burn_in=200))
    # F = 8 is chaotic: the state wanders well away from the fixed point x_i = 8 and stays bounded
    assert a.std() > 2 and a.abs().max() < 30
    with pytest.raises(ValueError, match="at least 4 variables"):
        lorenz96(1, 10, split_generator(0, "train"), n=3)


@pytest.mark.parametrize(("system", "dims"), [("lorenz63", 3), ("lorenz96", 6)])
def test_generated_trajectories_are_standardised_noisy_for_training_and_seeded(system, dims):
    series = generated_trajectories(system, train_len=3000, eval_len=800, noise=0.1, n=6, seed=3)
    assert series.train.shape == (3000, dims) and series.val.shape == series.test.shape == (800, dims)
    assert len(series.names) == dims
    # z-scored with the clean training statistics: noise of 0.1 std adds ~0.005 to the variance
    torch.testing.assert_close(series.train.mean(0), torch.zeros(dims), atol=0.02, rtol=0)
    torch.testing.assert_close(series.train.std(0), torch.ones(dims), atol=0.02, rtol=0)
    clean = generated_trajectories(system, train_len=3000, eval_len=800, noise=0.0, n=6, seed=3)
    noise = series.train - clean.train
    assert 0.09 < float(noise.std()) < 0.11
    # held-out trajectories are clean and differ from the training one
    torch.testing.assert_close(series.test, clean.test)
    assert not torch.allclose(series.val, series.test)
    again = generated_trajectories(system, train_len=3000, eval_len=800, noise=0.1, n=6, seed=3)
    torch.testing.assert_close(again.train, series.train)


def test_delay_embedding_by_hand():
    series = np.arange(10.0)
    embedded = delay_embed(series, dim=3, delay=2)
    # row t is (s_{t+4}, s_{t+2}, s_t)
    assert embedded.shape == (6, 3)
    np.testing.assert_array_equal(embedded[0], [4.0, 2.0, 0.0])
    np.testing.assert_array_equal(embedded[-1], [9.0, 7.0, 5.0])
    np.testing.assert_array_equal(delay_embed(series, 1, 5)[:, 0], series)
    with pytest.raises(ValueError, match="too short"):
        delay_embed(series, dim=4, delay=5)


def test_windows_are_views_of_the_trajectory():
    trajectory = torch.arange(40.0).reshape(20, 2)
    windows = TrajectoryWindows(trajectory, seq_len=5, stride=3)
    assert len(windows) == 6
    torch.testing.assert_close(windows[2]["inputs"], trajectory[6:11])
    with pytest.raises(ValueError, match=r"seq_len 30 is longer than the training trajectory \(20 points\)"):
        TrajectoryWindows(trajectory, seq_len=30)


def test_datamodule_splits_and_channels():
    data = ReconstructionData("lorenz96", seq_len=50, stride=10, train_len=1000, eval_len=300, lorenz96_n=8)
    assert data.channels == 8
    data.setup()
    batch = next(iter(data.train_dataloader()))["inputs"]
    assert batch.shape == (16, 50, 8)
    assert len(data.dataset("train")) == (1000 - 50) // 10 + 1
    assert data.dataset("test").trajectories.shape == (1, 300, 8)
    assert ReconstructionData("ETTh1", embedding_dim=3).channels == 3


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match=r"dataset must be one of lorenz63, lorenz96, ETTh1.*got 'lorenz'") as err:
        ReconstructionData("lorenz")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"seq_len 500 is longer than the training trajectory \(train_len 400\)"):
        ReconstructionData(seq_len=500, train_len=400)
    with pytest.raises(ValueError, match="embedding_dim and embedding_delay must be at least 1"):
        ReconstructionData("ETTh1", embedding_dim=0)


def test_ett_ot_read_and_embedded(dataset_root):
    path = dataset_root("ett", "ETTh1.csv") / "ETTh1.csv"
    series = ett_trajectories(path, embedding_dim=3, embedding_delay=6)
    # the standard hourly splits, each kept whole (val and test borrow the embedding's 12 rows)
    assert series.train.shape == (8640 - 12, 3)
    assert series.val.shape == series.test.shape == (2880, 3)
    assert series.names == ("OT", "OT(t-6)", "OT(t-12)")
    # the columns are the same z-scored series, shifted by the delay
    torch.testing.assert_close(series.train[6:, 1], series.train[:-6, 0])
    assert abs(float(series.train[:, 0].mean())) < 0.01
    data = ReconstructionData("ETTh1", seq_len=100, embedding_dim=3, embedding_delay=6)
    data.setup()
    assert data.dataset("test").trajectories.shape == (1, 2880, 3)


def test_ett_seq_len_longer_than_the_series(tmp_path):
    frame = "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n" + "".join(
        f"2016-07-01 {h:02d}:00:00,1,1,1,1,1,1,{np.sin(h):.4f}\n" for h in range(24)
    )
    (tmp_path / "ETT-small").mkdir()
    (tmp_path / "ETT-small" / "ETTh1.csv").write_text(frame)
    series = ett_trajectories(tmp_path / "ETT-small" / "ETTh1.csv", splits=(12, 6, 6))
    assert series.train.shape == (12, 1)
    with pytest.raises(ValueError, match=r"seq_len 50 is longer than the training trajectory \(12 points\)"):
        TrajectoryWindows(series.train, seq_len=50)
