import subprocess
import sys

import pytest

from recur_core.data import (
    DataArchive,
    DataFile,
    DatasetSpec,
    dataset_status,
    get_dataset,
    list_datasets,
    register_dataset,
    verify_dataset,
)
from recur_core.data.fetch import MISMATCH

INFO = dict(description="d", homepage="https://example.org", licence="CC0", citation="c")


def test_register_get_and_list(isolated_catalogue):
    entry = register_dataset(
        DatasetSpec(
            name="tiny",
            folder="Tiny",
            files=(DataFile("a.csv", None, None, None),),
            instructions="copy it by hand",
            **INFO,
        )
    )
    assert get_dataset("tiny") is entry
    assert "tiny" in list_datasets() and list_datasets() == sorted(list_datasets())


def test_a_name_registers_once(isolated_catalogue):
    first = DatasetSpec(name="tiny", folder="Tiny", files=(DataFile("a.csv", "https://x.org/a", None, None),), **INFO)
    register_dataset(first)
    with pytest.raises(ValueError, match="dataset 'tiny' is already registered"):
        register_dataset(first)


def test_unknown_name_lists_valid_names(isolated_catalogue):
    register_dataset(
        DatasetSpec(name="tiny", folder="Tiny", files=(DataFile("a", "https://x.org/a", None, None),), **INFO)
    )
    with pytest.raises(ValueError, match=r"unknown dataset 'Tiny'; valid names: .*\btiny\b"):
        get_dataset("Tiny")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DataFile("/etc/passwd", None, None, None), "must be a relative path"),
        (lambda: DataFile("../up.csv", None, None, None), "must be a relative path"),
        (lambda: DataFile("a.csv", None, "ABC", None), "is not 64 lower-case hex digits"),
        (lambda: DataFile("a.csv", None, None, None, compression="bz2"), "compression 'bz2' is not supported"),
        (lambda: DataArchive("https://x.org/a.zip", None, None, ()), "members must be a non-empty tuple"),
        (lambda: DatasetSpec(name="Tiny", folder="T", files=(DataFile("a", "u", None, None),), **INFO), "lower case"),
        (lambda: DatasetSpec(name="tiny", folder="T", **INFO), "neither files nor archives"),
        (
            lambda: DatasetSpec(name="tiny", folder="T", files=(DataFile("a", None, None, None),), **INFO),
            "needs instructions",
        ),
        (
            lambda: DatasetSpec(
                name="tiny", folder="T", files=(DataFile("a", "u", None, None), DataFile("a", "v", None, None)), **INFO
            ),
            "lists a path twice",
        ),
    ],
)
def test_bad_entries_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("name", list_datasets())
def test_registered_dataset_agrees_with_the_data_root(name):
    """Every installed entry is complete, and its checksums hold for the files under the data root."""
    spec = get_dataset(name)
    assert spec.description and spec.homepage.startswith("https://") and spec.licence and spec.citation
    assert spec.instructions or not spec.manual
    if dataset_status(name).state == "missing":
        pytest.skip(f"dataset {name!r} is not under the data root")
    assert [path for path, verdict in verify_dataset(name) if verdict == MISMATCH] == []


def test_the_catalogue_and_every_member_entry_need_no_torch():
    """``recur data list`` stays fast: the members' catalogue modules load without torch too."""
    code = (
        "import sys; import recur_core.data, recur_core.data.cli, recur_core.pytest_plugin; "
        "assert 'ett' in recur_core.data.list_datasets(); "
        "assert 'torch' not in sys.modules and 'lightning' not in sys.modules, 'torch or lightning imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
