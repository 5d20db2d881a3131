import numpy as np
import pytest
import torch

from recur_core.data import DatasetNotFoundError
from recur_core.engine import quiet_trainer
from recur_timeseries.data import PAPER_SPARSE_AR3
from recur_timeseries.datamodules import ARProcessData, ETTData, SunspotsData
from recur_timeseries.task import ARNetModule


def test_ar_process_splits_are_independent_and_seeded():
    data = ARProcessData(n_train=50, n_val=30, n_test=20, p=5, seed=1)
    data.setup()
    train, val, test = (data.dataset(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (50, 30, 20)
    assert not torch.allclose(train.lags[:20], val.lags[:20])
    again = ARProcessData(n_train=50, n_val=30, n_test=20, p=5, seed=1)
    torch.testing.assert_close(again.dataset("val").lags, val.lags)
    np.testing.assert_array_equal(data.true_coefficients, PAPER_SPARSE_AR3)
    lags, targets = next(iter(data.train_dataloader()))
    assert lags.shape == (50, 5) and targets.shape == (50, 1)


def test_training_order_is_reshuffled_per_epoch_and_repeatable():
    def first_batch(epoch: int) -> torch.Tensor:
        loader = ARProcessData(n_train=40, n_val=8, n_test=8, p=3, batch_size=40, seed=2).train_dataloader()
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))[0]

    torch.testing.assert_close(first_batch(1), first_batch(1))
    assert not torch.equal(first_batch(0), first_batch(1))


def test_sunspots_data_batches():
    data = SunspotsData(p=9, n_forecasts=2, batch_size=16)
    data.setup("fit")
    lags, targets = next(iter(data.val_dataloader()))
    assert lags.shape == (16, 9) and targets.shape == (16, 2)
    assert data.true_coefficients is None


def test_bad_options_are_explained():
    with pytest.raises(ValueError, match="p and n_forecasts must be at least 1, got p=0"):
        SunspotsData(p=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        ARProcessData(batch_size=0)


def test_ett_data_fits_on_a_small_file_under_the_data_root(tmp_path):
    dates = np.datetime64("2016-07-01T00") + np.arange(120) * np.timedelta64(1, "h")
    rng = np.random.default_rng(0)
    rows = [",".join(["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"])]
    for date, values in zip(dates, rng.normal(size=(120, 7))):
        rows.append(str(date).replace("T", " ") + ":00:00," + ",".join(f"{v:.4f}" for v in values))
    (tmp_path / "ETT-small").mkdir()
    (tmp_path / "ETT-small" / "ETTh2.csv").write_text("\n".join(rows) + "\n")
    data = ETTData(dataset="ETTh2", root=str(tmp_path), splits=(80, 20, 20), p=6, batch_size=32)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(ARNetModule(p=6), datamodule=data)
    assert len(data.dataset("train")) == 74 and len(data.dataset("val")) == 20
    assert torch.isfinite(trainer.callback_metrics["val/mse"])


def test_missing_ett_dataset_is_one_line_saying_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RECUR_DATA", str(tmp_path))
    expected = f"dataset 'ETTh1' not found under {tmp_path / 'ETT-small'}: run 'recur data fetch ett' or set RECUR_DATA"
    with pytest.raises(DatasetNotFoundError) as error:
        ETTData().setup("fit")
    assert str(error.value) == expected
    assert list(tmp_path.iterdir()) == []


def test_unknown_ett_dataset_lists_the_four():
    with pytest.raises(ValueError, match=r"dataset must be one of ETTh1, ETTh2, ETTm1, ETTm2, got 'ETTh3'"):
        ETTData(dataset="ETTh3")


@pytest.mark.parametrize(("dataset", "rows"), [("ETTh1", (8640, 2880, 2880)), ("ETTm1", (34560, 11520, 11520))])
def test_real_ett_has_the_standard_split_sizes(dataset_root, dataset, rows):
    root = dataset_root("ett", f"{dataset}.csv").parent
    data = ETTData(dataset=dataset, root=str(root), p=24)
    data.setup()
    # train windows start after p rows; val and test borrow the p rows before them
    sizes = tuple(len(data.dataset(split)) for split in ("train", "val", "test"))
    assert sizes == (rows[0] - 24, rows[1], rows[2])
