"""recur's pytest plugin: the fixtures every member's tests share, registered through ``pytest11``.

Fixtures: ``runs_dir`` (run folders in a temporary directory), ``one_thread`` (one intra-op torch
thread), ``killed_fit`` (a fit stopped at a given step, for the resume tests), ``dataset_root`` (a
real dataset's folder, or a skip saying how to fetch it) and ``nan_empty`` (``torch.empty`` filled
with NaN, so reads of uninitialised memory show up).

Installing recur-core must not change other projects' tests, so what acts on every test is off
unless the ini file asks for it:

- ``recur_nan_empty = true``: ``nan_empty`` applies to every test;
- ``recur_data = <folder>`` (relative to the ini file): the data root for the tests when
  ``RECUR_DATA`` is unset, used when that folder exists (the workspace names the shared data folder
  beside the checkout, in development and CI).

torch is imported inside the fixtures that need it, so collecting torch-free tests stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from recur_core.data.catalogue import get_dataset
from recur_core.data.root import dataset_status, not_found_message


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "recur_nan_empty",
        type="bool",
        default=False,
        help="recur: fill torch.empty with NaN in every test, so reads of uninitialised memory show up",
    )
    parser.addini(
        "recur_data",
        type="string",
        default="",
        help="recur: data root for the tests when RECUR_DATA is unset, relative to the ini file (used if it exists)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # subprocesses the tests start (CLI runs) print as they go, so a timeout shows how far they got
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    configured = config.getini("recur_data")
    if configured and not os.environ.get("RECUR_DATA"):
        base = config.inipath.parent if config.inipath else config.rootpath
        root = (base / configured).resolve()
        if root.is_dir():
            os.environ["RECUR_DATA"] = str(root)


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run folders go to a temporary directory; the DDP folder hand-over variable starts unset."""
    monkeypatch.setenv("RECUR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("RECUR_RUN_DIR", raising=False)
    return tmp_path / "runs"


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run with one intra-op thread: for timing and small-model tests, two OpenMP threads on a
    shared 2-core machine mostly stall on each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def killed_fit(monkeypatch: pytest.MonkeyPatch) -> Callable[[type, int], AbstractContextManager[None]]:
    """``with killed_fit(ModuleClass, step): run_cli(...)``: the fit in the block dies (``RuntimeError("killed")``)
    as global step ``step`` of a ``ModuleClass`` starts, a process stopped mid-run for the resume tests; the
    block fails when the fit never gets there."""

    @contextmanager
    def killed(module_class: type, step: int) -> Iterator[None]:
        def crash(module, batch, batch_idx) -> None:
            if module.global_step == step:
                raise RuntimeError("killed")

        with monkeypatch.context() as patch:
            patch.setattr(module_class, "on_train_batch_start", crash, raising=False)
            with pytest.raises(RuntimeError, match="killed"):
                yield

    return killed


@pytest.fixture
def dataset_root() -> Callable[..., Path]:
    """``dataset_root("ett")``: the dataset's folder under the data root; skips the test when it is absent.

    Extra arguments name files the test needs (``dataset_root("ett", "ETTh1.csv")``): the test is
    skipped when one of them is missing, as the data root may hold only part of a dataset.
    """

    def find(name: str, *required: str) -> Path:
        spec = get_dataset(name)
        state, folder = dataset_status(name)
        absent = [path for path in required if not (folder / path).exists()]
        if state == "missing" or absent:
            pytest.skip(not_found_message(spec, absent[0] if absent else name, folder, spec.manual))
        return folder

    return find


@pytest.fixture
def nan_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fill torch.empty with NaN so that reads of uninitialised memory show up in outputs."""
    import torch

    original = torch.empty

    def nan_filled_empty(*args, **kwargs):
        out = original(*args, **kwargs)
        if out.is_floating_point():
            out.fill_(float("nan"))
        return out

    monkeypatch.setattr(torch, "empty", nan_filled_empty)


@pytest.fixture(autouse=True)
def _nan_empty_when_configured(request: pytest.FixtureRequest) -> None:
    """Apply ``nan_empty`` to every test when the ini option ``recur_nan_empty`` is true."""
    if request.config.getini("recur_nan_empty"):
        request.getfixturevalue("nan_empty")
