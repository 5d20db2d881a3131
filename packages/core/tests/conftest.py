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
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Run folders go to a temporary directory; the DDP folder hand-over variable starts unset."""
    monkeypatch.setenv("RECUR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("RECUR_RUN_DIR", raising=False)
    return tmp_path / "runs"


def pytest_configure(config):
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
