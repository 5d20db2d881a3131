"""recur_core.pytest_plugin: the shared fixtures, and nothing changed for a project that does not opt in."""

import os
import subprocess
import sys

import torch


def test_nan_empty_is_on_for_recur(request):
    assert request.config.getini("recur_nan_empty") is True
    assert torch.empty(4).isnan().all()
    assert torch.empty(4, dtype=torch.int64).dtype == torch.int64


def test_runs_dir_and_one_thread(runs_dir, one_thread, tmp_path):
    assert os.environ["RECUR_RUNS"] == str(runs_dir) == str(tmp_path / "runs")
    assert "RECUR_RUN_DIR" not in os.environ
    assert torch.get_num_threads() == 1


def test_another_project_keeps_plain_torch_empty(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_other.py").write_text(
        "import torch\n\n"
        "def test_empty_is_not_poisoned(request):\n"
        "    assert request.config.getini('recur_nan_empty') is False\n"
        "    assert torch.empty is torch._C._VariableFunctions.empty\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_other.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
