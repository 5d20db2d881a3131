import os
from pathlib import Path

import pytest
import torch


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
def one_thread():
    """Run with one intra-op thread: for timing and small-model tests, two OpenMP threads on a
    shared 2-core machine mostly stall on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Run folders go to a temporary directory; the DDP folder hand-over variable starts unset."""
    monkeypatch.setenv("RECUR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("RECUR_RUN_DIR", raising=False)
    return tmp_path / "runs"


def pytest_configure(config):
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
