from pathlib import Path

import pytest


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Run folders go to a temporary directory; the DDP folder hand-over variable starts unset."""
    monkeypatch.setenv("RECUR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("RECUR_RUN_DIR", raising=False)
    return tmp_path / "runs"
