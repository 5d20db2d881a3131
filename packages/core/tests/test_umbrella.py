import subprocess
import sys
import time

from recur_core import list_layers, list_models
from recur_core.registry import installed_members
from recur_core.umbrella import scan_registrations


def test_static_scan_agrees_with_the_live_registries():
    members = installed_members()
    scanned_layers = sorted(n for p in members.values() for n in scan_registrations(p)["layer"])
    assert scanned_layers == list_layers()
    for member, package in members.items():
        assert scan_registrations(package)["model"] == list_models(member)


def test_recur_list_is_fast_and_complete():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "recur_core.umbrella", "list"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    for name in ("lstm", "gru", "elman", "leaky_rnn", "attention", "sequence_model", "parity/lstm", "mqar/gru"):
        assert name in out.stdout
    assert elapsed < 2.0, f"recur list took {elapsed:.2f} s"


def test_recur_list_imports_no_torch():
    code = "import sys; from recur_core.umbrella import main; main(['list']); assert 'torch' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
