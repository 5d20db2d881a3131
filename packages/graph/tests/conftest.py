from pathlib import Path

import pytest
import torch

from recur_graph.data.paths import shared_data_dir


@pytest.fixture(autouse=True)
def _poison_empty(monkeypatch):
    """Fill torch.empty with NaN so that reads of uninitialised memory show up in outputs."""
    original = torch.empty

    def nan_empty(*args, **kwargs):
        out = original(*args, **kwargs)
        if out.is_floating_point():
            out.fill_(float("nan"))
        return out

    monkeypatch.setattr(torch, "empty", nan_empty)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Run folders go to a temporary directory; the DDP folder hand-over variable starts unset."""
    monkeypatch.setenv("RECUR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("RECUR_RUN_DIR", raising=False)
    return tmp_path / "runs"


@pytest.fixture
def shared_file():
    """Path of a file under the shared data folder; skips the test when it is absent."""

    def find(relative: str) -> Path:
        path = shared_data_dir() / relative
        if not path.exists():
            pytest.skip(f"shared data {relative} not found under {shared_data_dir()}")
        return path

    return find
