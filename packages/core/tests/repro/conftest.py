import importlib.util
from pathlib import Path

import pytest

REPRO = Path(__file__).resolve().parents[4] / "tools" / "repro"


def _load(name: str):
    """The module of ``tools/repro/<name>.py`` (the scripts are not an importable package)."""
    spec = importlib.util.spec_from_file_location(name, REPRO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def repro_script():
    """Load a reproduction script by name: ``repro_script("lssl_hippo")``."""
    return _load
