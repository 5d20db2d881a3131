import os
from pathlib import Path

import pytest
import torch

from recur_core.engine.callbacks import AtomicCheckpointIO, plot_metrics, read_metrics


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 1}, path)

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["last.ckpt"], "temporary file left behind"


def test_read_and_plot_metrics(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text(
        "epoch,step,train/loss_epoch,train/loss_step,val/loss\n0,9,1.0,,\n0,9,,,0.9\n1,19,0.5,,\n1,19,,0.4,0.6\n"
    )
    series = read_metrics(csv)
    assert series == {"train/loss": [(0, 1.0), (1, 0.5)], "val/loss": [(0, 0.9), (1, 0.6)]}
    plot_metrics(series, tmp_path / "m.png")
    assert Path(tmp_path / "m.png").stat().st_size > 1000
