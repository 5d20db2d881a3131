import importlib

import pytest

from recur_core.data import get_dataset, list_datasets


@pytest.mark.parametrize("name", ["metrec", "apcd"])
def test_registered_with_provenance(name):
    assert name in list_datasets()
    spec = get_dataset(name)
    assert spec.citation and spec.licence and spec.homepage.startswith("https://")
    assert not spec.manual and spec.size_complete
    assert all(f.url.startswith("https://raw.githubusercontent.com/") and f.sha256 for f in spec.files)


def test_layout_matches_the_readers():
    assert get_dataset("metrec").paths == ("baits.zip",)
    paths = get_dataset("apcd").paths
    assert "Code/Arabic_Poetry/src/lib/full_sample_100.csv" in paths
    assert "English_Poetry_RNN/downsampled_iambic.csv" in paths
    assert len(paths) == 12


@pytest.mark.parametrize("name", ["metrec", "apcd"])
def test_the_shared_files_are_the_catalogued_ones(name, dataset_root):
    folder = dataset_root(name)
    for item in get_dataset(name).files:
        assert (folder / item.path).stat().st_size == item.size, item.path


def test_every_lazy_export_resolves():
    data = importlib.import_module("recur_text.data")
    for name in data.__all__:
        assert getattr(data, name) is not None, name
